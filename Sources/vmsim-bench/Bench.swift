import ArgumentParser
import Foundation
import VMCore
import VMPaging
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
        let label = self.name.padding(toLength: 44, withPad: " ", startingAt: 0)
        let tail = String(format: "   (%d in %.3f s)", self.operations, self.seconds)
        if self.rate < 10_000 {
            // Slow workloads (a fork of a 1 GiB address space) read better as time per operation.
            let millis = self.seconds * 1e3 / Double(self.operations)
            return label + String(format: "%10.2f ms per %@ (%.0f/s)", millis, self.unit, self.rate) + tail
        }
        return label + String(format: "%10.2f M %@/s", self.rate / 1e6, self.unit) + tail
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

    @Argument(
        help:
            "Workloads to run: phys, paging, proc, thp, vmas, files, reclaim, malloc, trace, serve, kernel-replay (default: all)."
    )
    var suites: [String] = []

    @Option(
        name: .customLong("trace-dir"),
        help: "Where the trace suite keeps its generated traces (default: a temporary directory).")
    var traceDir: String?

    @Option(
        name: .customLong("trace-repeats"), help: "Runs per trace measurement; the best counts (default 2).")
    var traceRepeats: Int = 2

    @Option(
        name: .customLong("policies"), help: "Trace suite: only these policies (comma-separated).",
        transform: { $0.split(separator: ",").map(String.init) })
    var tracePolicies: [String] = []

    @Option(
        name: .customLong("kernel-trace"),
        help: "kernel-replay: a real program's lackey trace to replay with `vmsim replay --kernel`.")
    var kernelTrace: String?

    @Option(help: "Scale factor for operation counts (1 = the numbers in BENCHMARKS.md).")
    var scale: Double = 1

    func run() throws {
        let all = [
            "phys", "paging", "proc", "thp", "vmas", "files", "reclaim", "malloc", "trace", "serve",
            "kernel-replay",
        ]
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
            case "paging": self.paging()
            case "proc": self.proc()
            case "thp": self.thpBench()
            case "vmas": self.vmaScaling()
            case "files": self.files()
            case "reclaim": self.reclaimBench()
            case "malloc": try self.mallocBench()
            case "trace": try self.traceSuite()
            case "serve": try self.serveBench()
            case "kernel-replay": try self.kernelReplayBench()
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

    func paging() {
        let kernel = boot(1 << 30)
        let arena = kernel.pageTables
        var tables = 0
        let root = arena.allocRoot(
            sharingKernelHalfOf: kernel.kernelRoot, userTop: kernel.architecture.userTop, tables: &tables)!
        let frame = kernel.phys.allocPages(.highUserMovable, order: 0)!
        // Hot: 32 pages, always in the first-level TLB.
        let hotBase: UInt64 = 0x7f00_0000_0000
        for i in UInt64(0)..<32 {
            arena.setPTE(
                root: root, va: hotBase + i << 12, PTE(pfn: frame, flags: [.present, .user, .writable]),
                tables: &tables)
        }
        kernel.mmu.loadCR3(root, pcid: 1)
        let hot = self.n(300_000_000)
        print(
            measure("mmu: TLB-hit translations (user read)", unit: "translations") {
                var sum: UInt64 = 0
                for i in 0..<hot {
                    sum &+= kernel.mmu.access(hotBase &+ UInt64(i & 31) << 12, .read, .user)
                }
                precondition(sum != 0)
                return hot
            }.line)
        // Cold: 16 Ki distinct pages (64 MiB) visited in a cycle, far more than the 1536 + 64
        // entries the TLB holds, so every access misses both levels and walks all four levels.
        let coldBase: UInt64 = 0x5500_0000_0000
        let pages = 1 << 14
        for i in 0..<pages {
            arena.setPTE(
                root: root, va: coldBase + UInt64(i) << 12,
                PTE(pfn: frame, flags: [.present, .user, .writable]), tables: &tables)
        }
        let cold = self.n(30_000_000)
        let before = kernel.mmu.tlb.stats
        print(
            measure("mmu: TLB-miss translations (4-level walk)", unit: "walks") {
                var sum: UInt64 = 0
                for i in 0..<cold {
                    // A stride of 4097 pages spreads consecutive accesses over sets and tables.
                    let page = UInt64((i &* 4097) & (pages - 1))
                    sum &+= kernel.mmu.access(coldBase &+ page << 12, .read, .user)
                }
                precondition(sum != 0)
                return cold
            }.line)
        let after = kernel.mmu.tlb.stats
        let walked = Double(after.walks - before.walks) / Double(after.lookups - before.lookups)
        print("    (\(String(format: "%.4f", walked * 100))% of these translations walked)")
        // The walker alone: the same 4-level walks (setting Accessed), without TLB lookup or fill.
        let rules = kernel.mmu.rules
        let features = kernel.mmu.features
        let rootTable = arena.slot(of: root)
        print(
            measure("walker: 4-level page walks, no TLB", unit: "walks") {
                var sum: UInt64 = 0
                var observer = NoWalkObserver()
                for i in 0..<cold {
                    let page = UInt64((i &* 4097) & (pages - 1))
                    let r = pageWalk(
                        arena, rules: rules, features: features, rootTable: rootTable,
                        address: coldBase &+ page << 12,
                        access: .read, mode: .user, setAccessedDirty: true, observer: &observer)
                    sum &+= r.physAddr
                }
                precondition(sum != 0)
                return cold
            }.line)
        // A large working set: 256 Ki pages (1 GiB), whose leaf tables (2 MiB) no longer fit in
        // the host's caches.
        let bigBase: UInt64 = 0x6600_0000_0000
        let bigPages = 1 << 18
        for i in 0..<bigPages {
            arena.setPTE(
                root: root, va: bigBase + UInt64(i) << 12,
                PTE(pfn: frame, flags: [.present, .user, .writable]), tables: &tables)
        }
        print(
            measure("mmu: TLB-miss translations, 1 GiB of pages", unit: "walks") {
                var sum: UInt64 = 0
                for i in 0..<cold {
                    sum &+= kernel.mmu.access(
                        bigBase &+ UInt64((i &* 4097) & (bigPages - 1)) << 12, .read, .user)
                }
                precondition(sum != 0)
                return cold
            }.line)
    }

    func proc() {
        let kernel = boot(4 << 30)
        let pageSize = kernel.phys.pageSize
        let heapBytes: UInt64 = UInt64(self.n(1 << 30))
        let pages = Int(heapBytes / pageSize)
        guard let task = try? kernel.spawn(name: "bench") else { fatalError("spawn failed") }
        print(
            measure("faults: anonymous first-touch writes", unit: "faults") {
                guard
                    let start = try? kernel.mmap(
                        task, MapRequest(length: heapBytes, protection: [.read, .write], shared: false))
                else {
                    fatalError("mmap failed")
                }
                for i in 0..<pages {
                    _ = kernel.userAccess(
                        task, address: start + UInt64(i) * pageSize, access: .write, value: UInt64(i))
                }
                try? kernel.munmap(task, address: start, length: heapBytes)
                return pages
            }.line)
        // Copy-on-write: a child writes every page of a 256 MiB area its parent filled.
        let cowBytes = heapBytes / 4
        let cowPages = Int(cowBytes / pageSize)
        guard
            let area = try? kernel.mmap(
                task, MapRequest(length: cowBytes, protection: [.read, .write], shared: false))
        else {
            fatalError("mmap failed")
        }
        for i in 0..<cowPages {
            _ = kernel.userAccess(task, address: area + UInt64(i) * pageSize, access: .write, value: 1)
        }
        print(
            measure("faults: copy-on-write after fork", unit: "faults") {
                guard let child = try? kernel.fork(task) else { fatalError("fork failed") }
                for i in 0..<cowPages {
                    _ = kernel.userAccess(
                        child, address: area + UInt64(i) * pageSize, access: .write, value: 2)
                }
                kernel.exitTask(child, reason: .exited(code: 0))
                kernel.wait(task)
                return cowPages
            }.line)
        try? kernel.munmap(task, address: area, length: cowBytes)
        // fork + exit of a process whose 1 GiB heap is touched.
        _ = kernel.brk(task, to: task.mm!.startBrk + heapBytes)
        let heap = task.mm!.startBrk
        for i in 0..<pages {
            _ = kernel.userAccess(task, address: heap + UInt64(i) * pageSize, access: .write, value: 3)
        }
        let forks = max(1, self.n(20))
        print(
            measure("fork + exit + wait, 1 GiB touched heap", unit: "fork", repeats: 1) {
                for _ in 0..<forks {
                    guard let child = try? kernel.fork(task) else { fatalError("fork failed") }
                    kernel.exitTask(child, reason: .exited(code: 0))
                    kernel.wait(task)
                }
                return forks
            }.line)
    }

    func files() {
        var config = MachineConfig()
        config.memory = 4 << 30
        config.disk = .nvme
        let kernel: Kernel
        do { kernel = try Kernel(config: config) } catch { fatalError("boot failed: \(error)") }
        let pageSize = kernel.phys.pageSize
        let fileBytes = UInt64(self.n(1 << 30))
        let pages = Int(fileBytes / pageSize)
        guard (try? kernel.installFile("/bench/data", size: fileBytes, cached: true)) != nil,
            let task = try? kernel.spawn(name: "bench"), let fd = try? kernel.open(task, "/bench/data")
        else { fatalError("setup failed") }
        // read(2) of a cached file, 1 MiB per call: filemap_read() batches, mark_accessed, copies.
        print(
            measure("page cache: read(2) of cached pages, 1 MiB", unit: "pages") {
                var offset: UInt64 = 0
                var words = 0
                while offset < fileBytes {
                    words += (try? kernel.read(task, fd: fd, offset: offset, length: 1 << 20))?.count ?? 0
                    offset += 1 << 20
                }
                precondition(words == pages)
                return pages
            }.line)
        // Read faults on a shared mapping of the cached file: one fault maps 16 pages.
        print(
            measure("faults: file reads with fault-around", unit: "faults") {
                guard
                    let start = try? kernel.mmap(
                        task,
                        MapRequest(
                            length: fileBytes, protection: [.read], shared: true,
                            backing: .file(fd: fd, offset: 0)))
                else { fatalError("mmap failed") }
                let before = task.minorFaults
                for i in 0..<pages {
                    _ = kernel.userAccess(task, address: start + UInt64(i) * pageSize, access: .read)
                }
                let faults = task.minorFaults - before
                precondition(faults == (pages + 15) / 16)
                try? kernel.munmap(task, address: start, length: fileBytes)
                return faults
            }.line)
        // write(2) into the page cache (a fresh file each round, nvme disk, default dirty limits).
        var round = 0
        print(
            measure("page cache: write(2) of new pages, 1 MiB", unit: "pages") {
                round += 1
                guard let out = try? kernel.open(task, "/bench/out\(round)", create: true) else {
                    fatalError("open failed")
                }
                let writeBytes = fileBytes / 4
                var offset: UInt64 = 0
                while offset < writeBytes {
                    _ = try? kernel.write(task, fd: out, offset: offset, length: 1 << 20, value: 7)
                    offset += 1 << 20
                }
                kernel.sync()
                try? kernel.close(task, fd: out)
                try? kernel.unlink("/bench/out\(round)")
                return Int(writeBytes / pageSize)
            }.line)
    }

    func reclaimBench() {
        func machine(mglru: Bool = false, memory: UInt64 = 1 << 30) -> Kernel {
            var config = MachineConfig()
            config.memory = memory
            config.disk = .nvme
            config.swap = 4 << 30
            config.lruGen = mglru
            do { return try Kernel(config: config) } catch { fatalError("boot failed: \(error)") }
        }
        let pageSize: UInt64 = 4096
        let bytes = UInt64(self.n(2 << 30))
        let pages = Int(bytes / pageSize)
        // Steady pressure: one pass writing 2 GiB of anonymous memory on a 1 GiB machine — with the
        // classic lists and with the multi-generational LRU, and inside a 512 MiB memory cgroup on
        // a 4 GiB machine (memory.max reclaim, try_to_free_mem_cgroup_pages()) with each.
        var kernel = machine()
        for (mglru, cgroup) in [(false, false), (true, false), (false, true), (true, true)] {
            let name =
                mglru || cgroup
                ? "reclaim (\(mglru ? "mglru" : "classic")\(cgroup ? ", 512 MiB cgroup on 4 GiB" : "")): pages reclaimed writing 2 GiB"
                : "reclaim: pages reclaimed writing 2 GiB on 1 GiB"
            var k = machine(mglru: mglru, memory: cgroup ? 4 << 30 : 1 << 30)
            print(
                measure(name, unit: "pages", repeats: 1) {
                    k = machine(mglru: mglru, memory: cgroup ? 4 << 30 : 1 << 30)
                    var group: MemCgroup?
                    if cgroup {
                        guard let g = try? k.memcgCreate("/bench") else { fatalError("setup failed") }
                        _ = k.memcgWrite(g, .max, pages: Int((512 << 20) / pageSize))
                        group = g
                    }
                    guard let task = try? k.spawn(name: "hog", memcg: group),
                        let start = try? k.mmap(
                            task, MapRequest(length: bytes, protection: [.read, .write], shared: false))
                    else { fatalError("setup failed") }
                    for i in 0..<pages {
                        _ = k.userAccess(
                            task, address: start + UInt64(i) * pageSize, access: .write, value: UInt64(i))
                    }
                    return Int(k.phys.events(.pgstealKswapd) + k.phys.events(.pgstealDirect))
                }.line)
            print(
                "    simulated time \(Double(k.now) / 1e9) s, pswpout \(k.phys.events(.pswpout)), kswapd scanned/stole \(k.phys.events(.pgscanKswapd))/\(k.phys.events(.pgstealKswapd)), direct \(k.phys.events(.pgscanDirect))/\(k.phys.events(.pgstealDirect)), refill \(k.phys.events(.pgrefill)), allocstall \(k.phys.events(.allocstallMovable)), kswapd runs \(k.reclaim.kswapdRuns), generations made \(k.lruvecs.reduce(0) { $0 + $1.gen.agings })"
            )
            if !mglru && !cgroup { kernel = k }
        }
        // The whole scenario: write 2 GiB, then read it all back twice (every page a swap-in or a hit).
        print(
            measure("scenario: 2 GiB working set, 1 GiB RAM, 3 passes", unit: "accesses", repeats: 1) {
                kernel = machine()
                guard let task = try? kernel.spawn(name: "ws"),
                    let start = try? kernel.mmap(
                        task, MapRequest(length: bytes, protection: [.read, .write], shared: false))
                else { fatalError("setup failed") }
                for i in 0..<pages {
                    _ = kernel.userAccess(
                        task, address: start + UInt64(i) * pageSize, access: .write, value: UInt64(i))
                }
                for _ in 0..<2 {
                    for i in 0..<pages {
                        let v = kernel.userAccess(task, address: start + UInt64(i) * pageSize, access: .read)
                            .value
                        precondition(v == UInt64(i), "page \(i) lost its data")
                    }
                }
                return pages * 3
            }.line)
        print(
            "    simulated time \(Double(kernel.now) / 1e9) s, major faults \(kernel.phys.events(.pgmajfault)), pswpin \(kernel.phys.events(.pswpin)), pswpout \(kernel.phys.events(.pswpout))"
        )
    }
}
