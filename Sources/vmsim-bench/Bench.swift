import ArgumentParser
import Foundation
import VMCore
import VMPhys
import VMTypes

/// Measures one workload: runs it `repeats` times and keeps the best rate.
struct Measurement {
    var name: String
    var operations: Int
    var seconds: Double
    var unit: String
    var rate: Double { Double(self.operations) / self.seconds }

    var line: String {
        let millions = self.rate / 1e6
        return self.name.padding(toLength: 44, withPad: " ", startingAt: 0)
            + String(
                format: "%10.2f M %@/s   (%d in %.3f s)", millions, self.unit, self.operations, self.seconds)
    }
}

func measure(_ name: String, unit: String, repeats: Int = 3, _ body: () -> Int) -> Measurement {
    var best: Measurement?
    for _ in 0..<repeats {
        let clock = ContinuousClock()
        var ops = 0
        let elapsed = clock.measure { ops = body() }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let m = Measurement(name: name, operations: ops, seconds: seconds, unit: unit)
        if best == nil || m.rate > best!.rate { best = m }
    }
    return best!
}

func boot(_ memory: UInt64, arch: Architecture = .x86_64) -> Kernel {
    var config = MachineConfig()
    config.memory = memory
    config.architecture = arch
    do {
        return try Kernel(config: config)
    } catch {
        fatalError("vmsim-bench: cannot boot: \(error)")
    }
}

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmsim-bench",
        abstract: "Measure vmsim's hot paths. Prints one line per workload with its rate.")

    @Argument(help: "Workloads to run: phys (default: all).")
    var suites: [String] = []

    @Option(help: "Scale factor for operation counts (1 = the numbers in BENCHMARKS.md).")
    var scale: Double = 1

    func run() throws {
        let all = ["phys"]
        let chosen = self.suites.isEmpty ? all : self.suites
        for suite in chosen where !all.contains(suite) {
            throw ValidationError("unknown workload '\(suite)' (expected \(all.joined(separator: ", ")))")
        }
        print(
            "vmsim-bench: \(ProcessInfo.processInfo.activeProcessorCount) CPUs, \(ProcessInfo.processInfo.operatingSystemVersionString)"
        )
        for suite in chosen {
            switch suite {
            case "phys": self.phys()
            default: break
            }
        }
    }

    func n(_ base: Int) -> Int { max(1, Int(Double(base) * self.scale)) }

    func phys() {
        let kernel = boot(1 << 30)
        let phys = kernel.phys
        let pairs = self.n(50_000_000)
        print(
            measure("buddy: order-0 alloc+free pairs", unit: "pairs") {
                for _ in 0..<pairs {
                    let pfn = phys.allocPages(.kernel, order: 0)!
                    phys.freePages(pfn, order: 0)
                }
                return pairs
            }.line)
        // Mixed orders: a working set of 4096 blocks of random order 0…4, replaced at random.
        let mixed = self.n(5_000_000)
        var rng = SeededGenerator(seed: 1)
        var live: [(PFN, Int)] = []
        for _ in 0..<4096 {
            let order = Int(rng.below(5))
            live.append((phys.allocPages(.kernel, order: order)!, order))
        }
        print(
            measure("buddy: mixed-order (0…4) alloc+free pairs", unit: "pairs") {
                for _ in 0..<mixed {
                    let slot = Int(rng.below(UInt64(live.count)))
                    phys.freePages(live[slot].0, order: live[slot].1)
                    let order = Int(rng.below(5))
                    live[slot] = (phys.allocPages(.kernel, order: order)!, order)
                }
                return mixed
            }.line)
        let objects = self.n(10_000_000)
        let cache = phys.kmallocCache(for: 64)!
        var held: [UInt64] = []
        for _ in 0..<1000 { held.append(phys.kmemCacheAlloc(cache)!) }
        print(
            measure("slab: kmalloc-64 alloc+free pairs", unit: "pairs") {
                for i in 0..<objects {
                    let slot = i % held.count
                    phys.kmemCacheFree(cache, held[slot])
                    held[slot] = phys.kmemCacheAlloc(cache)!
                }
                return objects
            }.line)
    }
}
