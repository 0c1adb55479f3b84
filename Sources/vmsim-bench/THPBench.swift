import Foundation
import VMCore
import VMPhys
import VMTypes

extension Bench {
    /// Anonymous fault throughput with transparent huge pages (MADV_HUGEPAGE: one fault maps 512
    /// pages) against 4 KiB pages: a 1 GiB private anonymous area written page by page, then
    /// unmapped; the rate is pages mapped per second (the writes after each fault are TLB hits).
    func thpBench() {
        let kernel = boot(4 << 30)
        let pageSize = kernel.phys.pageSize
        let bytes = UInt64(self.n(1 << 30)) & ~((2 << 20) - 1)
        let pages = Int(bytes / pageSize)
        guard let task = try? kernel.spawn(name: "bench") else { fatalError("spawn failed") }
        for huge in [false, true] {
            let name =
                huge
                ? "faults: anonymous writes, MADV_HUGEPAGE (2 MiB)" : "faults: anonymous writes, 4 KiB pages"
            var faults = 0
            let m = measure(name, unit: "pages") {
                guard
                    let start = try? kernel.mmap(
                        task,
                        MapRequest(length: max(bytes, 2 << 20), protection: [.read, .write], shared: false))
                else { fatalError("mmap failed") }
                if huge { try? kernel.madvise(task, address: start, length: bytes, advice: .hugepage) }
                let before = task.minorFaults
                for i in 0..<pages {
                    _ = kernel.userAccess(
                        task, address: start + UInt64(i) * pageSize, access: .write, value: 1)
                }
                faults = task.minorFaults - before
                try? kernel.munmap(task, address: start, length: bytes)
                return pages
            }
            print(m.line + "  (\(faults) faults)")
        }
    }
}
