import Foundation
import Testing
import VMCore
import VMPhys
import VMTrace
import VMTypes

@testable import VMSim

/// The repository's `examples/traces` directory.
let traceExamples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples/traces")

func bootForReplay(memory: UInt64, swap: UInt64 = 0) throws -> Kernel {
    var config = MachineConfig()
    config.memory = memory
    config.swap = swap
    return try Kernel(config: config)
}

@Suite struct KernelReplayTests {
    /// A trace of reads only maps the shared zero page for every page (no RSS); replayed with
    /// `firstTouchWrites`, each page's first access is a store that allocates a frame, and the
    /// later reads are as the trace says.
    @Test func firstTouchWritesGiveTheProcessItsPages() throws {
        let pages = (0..<300).map { UInt64($0 % 150) + 0x10000 }
        let trace = DenseTrace(name: "reads", pages: pages)
        #expect(trace.writes == 0)
        func rss(_ kernel: Kernel, _ r: KernelReplayResult) -> String {
            let status = ProcFS.status(kernel, kernel.tasks[r.pid]!)
            return String(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? "")
        }
        let k1 = try bootForReplay(memory: 64 << 20)
        let reads = try KernelReplay.run(kernel: k1, trace: trace, traceShift: 12, maps: nil)
        #expect(reads.minorFaults == 150 && reads.stores == 0 && reads.firstTouchStores == 0)
        #expect(rss(k1, reads) == "VmRSS:\t       0 kB")
        let k2 = try bootForReplay(memory: 64 << 20)
        let stores = try KernelReplay.run(
            kernel: k2, trace: trace, traceShift: 12, maps: nil, firstTouchWrites: true)
        #expect(stores.minorFaults == 150 && stores.stores == 150 && stores.firstTouchStores == 150)
        #expect(rss(k2, stores) == "VmRSS:\t     600 kB")
    }

    func touchTrace(instructions: Bool) throws -> DenseTrace {
        var options = TraceOptions()
        options.instructions = instructions
        let reader = try openTrace(
            traceExamples.appendingPathComponent("touch.lackey").path, options: options)
        return try DenseTrace(reader: reader)
    }

    /// `touch.c` writes every 64-byte line of a 64-page array and reads every page back twice:
    /// the replay faults once per page it touches — the 64 array pages, plus the one page of
    /// code when instruction fetches are replayed — all minor (demand-zero), never again.
    @Test func aRealProgramFaultsOncePerPage() throws {
        let withCode = try KernelReplay.run(
            kernel: try bootForReplay(memory: 64 << 20), trace: try touchTrace(instructions: true),
            traceShift: 12,
            maps: nil)
        #expect(withCode.outcome == .completed)
        #expect(withCode.minorFaults == 65 && withCode.majorFaults == 0)
        #expect(withCode.areas.count == 1)  // code at 0x401000 and the array at 0x403000: < 1 MiB apart
        // Each faulting access misses the TLB twice (before and after the fault); the rest hit.
        #expect(withCode.tlb.misses >= 2 * 65 && withCode.tlb.misses < 2 * 65 + 10)
        #expect(withCode.pswpout == 0 && withCode.pgscan == 0)

        let text = try String(contentsOf: traceExamples.appendingPathComponent("touch.maps"), encoding: .utf8)
        let maps = try MapsEntry.parse(text, file: "touch.maps")
        let data = try KernelReplay.run(
            kernel: try bootForReplay(memory: 64 << 20), trace: try touchTrace(instructions: false),
            traceShift: 12, maps: maps)
        #expect(data.outcome == .completed)
        #expect(data.minorFaults == 64 && data.majorFaults == 0)
        #expect(
            data.areas.map(\.name) == [
                "/usr/local/bin/touch", "/usr/local/bin/touch", "/usr/local/bin/touch", "", "[stack]",
            ])
        // 64 pages × 8 stores, then 2 × 64 loads.
        #expect(data.performed == 64 * 64 + 2 * 64)
    }

    /// A loop over 40 MiB on a 32 MiB machine with swap (about 4500 pages free for the
    /// process): under the kernel's LRU every page of passes 2 and 3 comes back from swap; a
    /// policy plugged into reclaim changes that — MRU keeps part of the loop resident, and OPT
    /// (whose victim on a loop is MRU's) reads back as little — and the kernel's books stay
    /// straight.
    @Test func aPolicyChoosesReclaimsVictims() throws {
        let pages = 10240
        var trace: [UInt64] = []
        var writes: [Bool] = []
        for pass in 0..<3 {
            for p in 0..<pages {
                trace.append(UInt64(0x10000 + p))
                writes.append(pass == 0)
            }
        }
        let dense = DenseTrace(name: "loop", pages: trace, writes: writes)
        var swapIns: [PolicyKind: UInt64] = [:]
        for kind in [PolicyKind.linux, .lru, .mru, .opt] {
            let kernel = try bootForReplay(memory: 32 << 20, swap: 128 << 20)
            let r = try KernelReplay.run(
                kernel: kernel, trace: dense, traceShift: 12, maps: nil, policy: kind)
            #expect(r.outcome == .completed, "\(kind)")
            // Pass 1 writes every page: all go to swap once.
            #expect(r.pswpout >= UInt64(pages) - 4500, "\(kind)")
            let problems = kernel.checkInvariants(deep: true)
            #expect(problems.isEmpty, "\(kind): \(problems.prefix(3))")
            if kind == .linux {
                #expect(r.policy == nil && r.policyVictims == 0)
            } else {
                #expect(r.policy == kind && r.policyFrames > 3000 && r.policyFrames < 8192)
                // Roughly one victim per page brought in beyond the frames.
                #expect(r.policyVictims > 2 * pages - r.policyFrames)
            }
            swapIns[kind] = r.pswpin
        }
        let lru = swapIns[.lru]!
        let mru = swapIns[.mru]!
        let opt = swapIns[.opt]!
        let linux = swapIns[.linux]!
        #expect(lru >= UInt64(2 * pages * 95 / 100))
        #expect(linux >= UInt64(2 * pages * 95 / 100))
        #expect(mru < lru * 85 / 100)
        #expect(opt <= mru + UInt64(pages / 50))
    }

    /// An access the process cannot make — beyond user space, beyond the CPU's address width, or
    /// a page number with no 64-bit address once moved up — ends the replay with SIGSEGV at that
    /// access, as the real process would end; nothing traps, and the areas built for the other
    /// pages stop at the top of user space.
    @Test(arguments: [
        // (pages of 4 KiB, architecture, the index of the access that faults, its address, why)
        ([0x400, 0xfffffffffffff], "x86_64", 1, UInt64(0xffff_ffff_ffff_f000), "SEGV_MAPERR"),
        ([0x400, 0x7ffffffff], "x86_64", 1, UInt64(0x7fff_ffff_f000), "SEGV_MAPERR"),
        ([1, 0xfffffffffffff], "x86_64", 1, UInt64(0), "moved up by 0x10000000, is beyond the 64-bit"),
        ([0x400, 1 << 63], "x86_64", 1, UInt64(0), "is beyond the 64-bit address space"),
        ([0x400, 0x7ffffffff], "i386", 1, UInt64(0), "is beyond the 32-bit address space"),
    ])
    func accessesOutsideTheAddressSpaceAreASegfault(
        pages: [UInt64], arch: String, access: Int, address: UInt64, why: String
    ) throws {
        var config = MachineConfig()
        config.memory = 32 << 20
        config.architecture = Architecture.named(arch)!
        let kernel = try Kernel(config: config)
        let trace = DenseTrace(name: "edge", pages: pages + [0x400], writes: [true, true, true])
        let r = try KernelReplay.run(kernel: kernel, trace: trace, traceShift: 12, maps: nil)
        guard case .signal(let info, let index) = r.outcome else {
            Issue.record("\(pages): \(r.outcome)")
            return
        }
        let reason = info.description
        #expect(info.signal == .sigsegv && info.address == address && index == access, "\(reason)")
        #expect(reason.contains(why), "\(reason)")
        #expect(r.performed == access)
        #expect(r.areas.allSatisfy { $0.end <= kernel.architecture.userTop })
        #expect(kernel.checkInvariants(deep: true).isEmpty)
    }
}

/// `replay --kernel --cgroup-max/--cgroup-high`: the process runs in a memory cgroup on a
/// machine with far more RAM than the limit.
@Suite struct KernelReplayCgroupTests {
    /// 3 passes over 2,048 pages (8 MiB) written, on 256 MiB of RAM with 64 MiB of swap: without
    /// a cgroup nothing is reclaimed; in a 4 MiB cgroup the process reclaims (swaps out) its own
    /// pages, every later pass brings its pages back from swap, and memory.current never passes
    /// 4 MiB.
    @Test func aReplayInACgroupReclaimsItsOwnPagesUnderTheLimit() throws {
        let pages = (0..<3).flatMap { _ in (0..<2048).map { UInt64($0) + 0x10000 } }
        let trace = DenseTrace(name: "loop", pages: pages, writes: Array(repeating: true, count: pages.count))
        let free = try KernelReplay.run(
            kernel: try bootForReplay(memory: 256 << 20, swap: 64 << 20), trace: trace, traceShift: 12,
            maps: nil)
        #expect(
            free.outcome == .completed && free.majorFaults == 0 && free.pgsteal == 0 && free.cgroup == nil)
        let k = try bootForReplay(memory: 256 << 20, swap: 64 << 20)
        let limited = try KernelReplay.run(
            kernel: k, trace: trace, traceShift: 12, maps: nil,
            cgroup: ReplayCgroupLimits(max: 4 << 20, high: nil))
        #expect(limited.outcome == .completed)
        let g = try #require(limited.cgroup)
        #expect(g.path == "/replay" && g.max == 4 << 20 && g.high == nil)
        #expect(g.peak <= 4 << 20 && g.current <= 4 << 20)
        #expect(g.events["max"]! > 0 && g.events["oom_kill"] == 0)
        #expect(g.pgsteal > 0 && g.pgsteal <= g.pgscan)
        // Passes 2 and 3 find nothing resident (LRU order is the loop's order): every page comes
        // back from swap, most by a major fault (swap readahead brings some in ahead of use).
        #expect(
            limited.majorFaults > 1024 && limited.pswpin >= 2 * 2048,
            "\(limited.majorFaults) \(limited.pswpin)")
        #expect(g.pgmajfault == limited.majorFaults)
        #expect(k.checkInvariants(deep: false).isEmpty)
        let report = KernelReplayReport(
            trace: "loop", format: .lackey, policy: .linux, memoryBytes: 256 << 20, distinctPages: 2048,
            result: limited)
        #expect(report.json().contains("\"cgroup\":{\"current\":"))
        #expect(
            !KernelReplayReport(
                trace: "loop", format: .lackey, policy: .linux, memoryBytes: 256 << 20, distinctPages: 2048,
                result: free
            ).json().contains("cgroup"))
    }

    /// Without swap the anonymous pages cannot go anywhere: the OOM killer runs inside the
    /// cgroup and the replay ends killed; under memory.high alone it is throttled and completes.
    @Test func noSwapOOMsInsideTheCgroupHighOnlyThrottles() throws {
        let pages = (0..<2048).map { UInt64($0) + 0x10000 }
        let trace = DenseTrace(name: "fill", pages: pages, writes: Array(repeating: true, count: pages.count))
        let killed = try KernelReplay.run(
            kernel: try bootForReplay(memory: 256 << 20), trace: trace, traceShift: 12, maps: nil,
            cgroup: ReplayCgroupLimits(max: 4 << 20, high: nil))
        guard case .outOfMemory = killed.outcome else {
            Issue.record("expected an OOM kill, got \(killed.outcome)")
            return
        }
        #expect(killed.cgroup?.events["oom_kill"] == 1)
        let throttled = try KernelReplay.run(
            kernel: try bootForReplay(memory: 256 << 20), trace: trace, traceShift: 12, maps: nil,
            cgroup: ReplayCgroupLimits(max: nil, high: 4 << 20))
        #expect(throttled.outcome == .completed)
        let g = try #require(throttled.cgroup)
        #expect(g.events["high"]! > 0 && g.throttledNanoseconds > 0 && g.events["oom_kill"] == 0)
        #expect(throttled.simulatedNanoseconds >= g.throttledNanoseconds)
    }
}
