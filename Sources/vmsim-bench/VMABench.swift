import Foundation
import VMCore
import VMSim

/// The VMA-scaling check of issue 11: a process makes `n` one-page anonymous mappings whose
/// protections alternate (read-write, read-only), so no two neighbours merge, touches each
/// (a write fault, or a read that maps the zero page), reads its `/proc/PID/maps`, changes the
/// protection of every other area (splitting nothing, merging nothing), and unmaps them all.
/// Every step is one operation per VMA, so the time per VMA must stay flat, or grow no faster
/// than log n, as n goes from 1,000 to 64,000 (below `vm.max_map_count`, 65,530).
extension Bench {
    /// One run for `n` VMAs; returns the seconds each phase took.
    func vmaRun(_ n: Int) -> [String: Double] {
        let kernel = boot(1 << 30)
        guard let task = try? kernel.spawn(name: "vmas") else { fatalError("spawn failed") }
        let page = kernel.phys.pageSize
        var times: [String: Double] = [:]
        var starts: [UInt64] = []
        starts.reserveCapacity(n)
        let clock = ContinuousClock()
        func timed(_ phase: String, _ body: () -> Void) {
            let elapsed = clock.measure(body)
            times[phase] =
                Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        timed("mmap") {
            for i in 0..<n {
                let request = MapRequest(
                    length: page, protection: i % 2 == 0 ? [.read, .write] : [.read], shared: false)
                guard let start = try? kernel.mmap(task, request) else { fatalError("mmap \(i) failed") }
                starts.append(start)
            }
        }
        precondition(task.mm!.mapCount >= n, "vmsim-bench: the mappings merged")
        timed("touch") {
            for (i, start) in starts.enumerated() {
                let result = kernel.userAccess(
                    task, address: start, access: i % 2 == 0 ? .write : .read, value: 1)
                guard case .ok = result else { fatalError("touch \(i) failed: \(result)") }
            }
        }
        timed("maps") {
            let maps = ProcFS.maps(kernel, task)
            precondition(maps.utf8.count > n * 40, "vmsim-bench: /proc/PID/maps is short")
        }
        timed("mprotect") {
            for (i, start) in starts.enumerated() where i % 2 == 1 {
                guard
                    (try? kernel.mprotect(task, address: start, length: page, protection: [.read, .exec]))
                        != nil
                else { fatalError("mprotect \(i) failed") }
            }
        }
        timed("munmap") {
            for (i, start) in starts.enumerated() {
                guard (try? kernel.munmap(task, address: start, length: page)) != nil else {
                    fatalError("munmap \(i) failed")
                }
            }
        }
        return times
    }

    func vmaScaling() {
        let phases = ["mmap", "touch", "maps", "mprotect", "munmap"]
        print("VMA scaling: n one-page mappings of alternating protection (median of 3 runs)")
        print(
            "n".padding(toLength: 8, withPad: " ", startingAt: 0)
                + phases.map { $0.padding(toLength: 11, withPad: " ", startingAt: 0) }.joined()
                + "total       µs per VMA   / (log2 n)")
        for base in [1000, 8000, 64000] {
            let n = min(64000, self.n(base))
            let runs = (0..<3).map { _ in self.vmaRun(n) }
            var line = "\(n)".padding(toLength: 8, withPad: " ", startingAt: 0)
            var total = 0.0
            for phase in phases {
                let median = runs.map { $0[phase]! }.sorted()[1]
                total += median
                line += String(format: "%.3f s", median).padding(toLength: 11, withPad: " ", startingAt: 0)
            }
            let perVMA = total / Double(n) * 1e6
            line += String(format: "%.3f s", total).padding(toLength: 12, withPad: " ", startingAt: 0)
            line += String(format: "%8.2f     %8.3f", perVMA, perVMA / log2(Double(n)))
            print(line)
        }
    }
}
