import VMCore
import VMPaging
import VMPhys
import VMTrace
import VMTypes

/// How a kernel-mode replay ended.
public enum ReplayOutcome: Sendable, Equatable {
    case completed
    /// Killed by a signal at the access with this (0-based) index.
    case signal(SignalInfo, access: Int)
    case outOfMemory(access: Int)
}

/// What a kernel-mode replay measured (over the replay only: counters are reset once the
/// process is set up).
public struct KernelReplayResult: Sendable {
    public var accesses = 0
    public var performed = 0
    public var outcome = ReplayOutcome.completed
    public var pid = 0
    public var areas: [(start: UInt64, end: UInt64, name: String)] = []
    /// Added to every trace address (synthetic traces whose pages start near 0).
    public var relocation: UInt64 = 0
    public var minorFaults = 0
    public var majorFaults = 0
    public var tlb = TLBStats()
    public var pswpin: UInt64 = 0
    public var pswpout: UInt64 = 0
    public var pgscan: UInt64 = 0
    public var pgsteal: UInt64 = 0
    public var simulatedNanoseconds: UInt64 = 0
    /// Accesses replayed as stores: the trace's writes, and with `firstTouchWrites` each page's
    /// first access.
    public var stores = 0
    /// First accesses to a page that were reads in the trace and replayed as stores.
    public var firstTouchStores = 0
    /// The replacement policy that chose reclaim's anonymous victims (nil: the kernel's LRU).
    public var policy: PolicyKind?
    /// The frames the policy was sized for (what the process can hold at most).
    public var policyFrames = 0
    /// Victims the policy named, and those reclaim could not take.
    public var policyVictims = 0
    public var policyVictimsSkipped = 0
    /// The memory cgroup the process ran in (`--cgroup-max`, `--cgroup-high`), if any.
    public var cgroup: KernelReplayCgroup?
}

/// The memory cgroup a kernel-mode replay runs its process in: `memory.max` and `memory.high`
/// in bytes (nil: `max`), as `systemd-run -p MemoryMax=… -p MemoryHigh=…` or a container
/// runtime would set them.
public struct ReplayCgroupLimits: Sendable, Equatable {
    public var max: UInt64?
    public var high: UInt64?
    public init(max: UInt64?, high: UInt64?) {
        self.max = max
        self.high = high
    }
}

/// The replay's cgroup after the run: its files as the kernel prints them (bytes) and the
/// `memory.stat` reclaim counters.
public struct KernelReplayCgroup: Sendable, Encodable, Equatable {
    public var path: String
    /// `memory.max`, `memory.high` (nil: `max`).
    public var max: UInt64?
    public var high: UInt64?
    public var current: UInt64
    public var peak: UInt64
    public var swapCurrent: UInt64
    /// `memory.events`: low, high, max, oom, oom_kill, oom_group_kill.
    public var events: [String: Int]
    /// `memory.stat` pgscan, pgsteal (all reclaim of the cgroup's lists), pgfault, pgmajfault.
    public var pgscan: Int
    public var pgsteal: Int
    public var pgfault: Int
    public var pgmajfault: Int
    /// Simulated nanoseconds the task slept for being over `memory.high`.
    public var throttledNanoseconds: UInt64

    init(_ kernel: Kernel, _ g: MemCgroup) {
        let page = kernel.phys.pageSize
        self.path = g.path
        self.max = g.memory.max == Int.max ? nil : UInt64(g.memory.max) * page
        self.high = g.memory.high == Int.max ? nil : UInt64(g.memory.high) * page
        self.current = UInt64(g.memory.usage) * page
        self.peak = UInt64(g.memory.peak) * page
        self.swapCurrent = UInt64(g.swap.usage) * page
        var events: [String: Int] = [:]
        for e in MemcgEvent.memoryEvents { events[e.name] = g.events[e.rawValue] }
        self.events = events
        let stat = Dictionary(kernel.memcgStat(g), uniquingKeysWith: { a, _ in a })
        self.pgscan = stat["pgscan"] ?? 0
        self.pgsteal = stat["pgsteal"] ?? 0
        self.pgfault = stat["pgfault"] ?? 0
        self.pgmajfault = stat["pgmajfault"] ?? 0
        self.throttledNanoseconds = g.throttledNanos
    }
}

/// The trace a kernel-mode replay runs: what a first pass found (the pages for the areas, the
/// number of accesses) and how to read it a second time, as the replay goes.
///
/// A trace in a regular file is streamed twice (`streamed`): the survey's pass keeps only the
/// distinct pages, and the replay's pass parses on a second thread a few batches ahead
/// (`ReadAheadReader`), so memory stays constant whatever the trace's length. A trace that
/// cannot be read twice (standard input, a pipe) is held in memory (`inMemory`, 4 bytes per
/// access), and so is any trace OPT replays (it needs each access's next use before the first).
public struct KernelReplayTrace {
    public let survey: TraceSurvey
    let dense: DenseTrace?
    let reopen: (() throws -> any TraceReader)?

    /// A trace held in memory.
    public init(_ dense: DenseTrace) {
        self.survey = TraceSurvey(dense)
        self.dense = dense
        self.reopen = nil
    }

    /// A trace surveyed already (`TraceSurvey.read`), read again by `reopen` for the replay.
    public init(survey: TraceSurvey, reopen: @escaping () throws -> any TraceReader) {
        self.survey = survey
        self.dense = nil
        self.reopen = reopen
    }

    /// Whether the accesses are held in memory.
    public var isInMemory: Bool { self.dense != nil }

    /// A reader for the replay's pass.
    func reader() throws -> any TraceReader {
        if let dense { return DenseTraceReader(dense) }
        return ReadAheadReader(try self.reopen!())
    }

    /// The trace in memory (read again if it was streamed).
    func inMemory() throws -> KernelReplayTrace {
        if self.dense != nil { return self }
        return KernelReplayTrace(try DenseTrace(reader: try self.reopen!()))
    }
}

/// Drives a process in the simulated kernel with a trace: every access is a user-mode load or
/// store through the MMU (TLB, page walk), faults are handled by the kernel (demand paging,
/// swap-in), and memory pressure runs reclaim and kswapd, as for any program in a scenario.
///
/// The process starts from a fresh exec whose image is unmapped again, so its address space
/// holds only the trace's areas: those of a `/proc/PID/maps` file captured with the trace, or
/// else one private read-write anonymous area per group of touched pages (pages less than 1 MiB
/// apart share an area). Instruction fetches are replayed as reads (the trace formats do not
/// say which pages are code). Traces whose pages start below `mmap_min_addr` (synthetic ones:
/// page numbers from 0) are moved up by 256 MiB, and the report says so.
///
/// With a `policy` (anything but `linux`), that policy sees every access the process makes
/// and chooses which anonymous pages reclaim takes (see `ReclaimVictimSource`): the kernel still
/// decides when to reclaim and how much — watermarks, kswapd, direct reclaim — and the policy
/// decides what. It is sized for the most pages the process can hold: the free pages once the
/// process is set up, less the zones' min watermarks (allocations stop there). OPT learns each
/// access's next use from a pass over the trace held in memory (the one case a streamed trace
/// is read into memory, 8 bytes per access).
///
/// With `cgroup` limits the process runs in the memory cgroup `/replay` with that `memory.max`
/// and `memory.high` (Memcontrol.swift): its pages are charged there, over `memory.max` it
/// reclaims its own pages (and is OOM-killed inside the cgroup when nothing is left), over
/// `memory.high` it is throttled — on a machine that may have far more RAM; a policy is then
/// sized for the smaller of the free pages and `memory.max`.
///
/// With a `timeline`, the process's RSS, free memory, the LRU lists, swap and the fault and
/// reclaim counters are sampled every `timeline.interval` accesses (as `run --timeline` does).
///
/// `firstTouchWrites` replays the first access to each page as a store whatever the trace says:
/// traces without writes (libCacheSim's txt and oracleGeneral carry none) would otherwise map
/// every page to the shared zero page (`do_anonymous_page()`'s read path, mm/memory.c), so the
/// process would have no RSS and reclaim nothing to do.
public enum KernelReplay {
    /// Pages closer than this share one area.
    public static let mergeGap: UInt64 = 1 << 20

    /// The address of trace key `key` (a page number of `1 << shift` bytes) moved up by
    /// `relocation`, or nil when it has none below 2^`bits` (64 on x86-64, whose registers hold
    /// any such address; 32 on i386) — a page number of a `--page-numbers` or txt trace, or an
    /// address of a 64-bit program replayed on i386, can be anything up to 2^64 − 1.
    @inline(__always) static func address(
        ofKey key: UInt64, shift: UInt64, relocation: UInt64, bits: Int = 64
    ) -> UInt64? {
        guard key <= UInt64.max >> shift else { return nil }
        let (address, overflow) = (key << shift).addingReportingOverflow(relocation)
        guard !overflow, bits >= 64 || address >> UInt64(bits) == 0 else { return nil }
        return address
    }

    /// Sets the process up and replays `trace` (its keys are page numbers of `1 << traceShift`
    /// bytes).
    public static func run(
        kernel: Kernel, trace: DenseTrace, traceShift: Int, maps: [MapsEntry]?, name: String = "trace",
        policy policyKind: PolicyKind? = nil, options: PolicyOptions = PolicyOptions(),
        firstTouchWrites: Bool = false, progress: Progress? = nil, timeline: Timeline? = nil,
        cgroup limits: ReplayCgroupLimits? = nil
    ) throws -> KernelReplayResult {
        try Self.run(
            kernel: kernel, trace: KernelReplayTrace(trace), traceShift: traceShift, maps: maps, name: name,
            policy: policyKind, options: options, firstTouchWrites: firstTouchWrites, progress: progress,
            timeline: timeline, cgroup: limits)
    }

    /// Sets the process up and replays `trace`, streamed or from memory (its keys are page
    /// numbers of `1 << traceShift` bytes).
    public static func run(
        kernel: Kernel, trace input: KernelReplayTrace, traceShift: Int, maps: [MapsEntry]?,
        name: String = "trace",
        policy policyKind: PolicyKind? = nil, options: PolicyOptions = PolicyOptions(),
        firstTouchWrites: Bool = false, progress: Progress? = nil, timeline: Timeline? = nil,
        cgroup limits: ReplayCgroupLimits? = nil
    ) throws -> KernelReplayResult {
        let trace = input.survey
        if let policyKind, policyKind != .linux, kernel.lruGenEnabled {
            throw TraceError(
                file: trace.name, line: 0, column: 0,
                message:
                    "--policy \(policyKind.rawValue) chooses victims on the classic LRU lists; with --reclaim mglru the kernel's generations choose them (drop --policy, or use --reclaim classic)"
            )
        }
        var result = KernelReplayResult()
        result.accesses = trace.count
        progress?.setTotal(trace.count)
        let task: Task
        var group: MemCgroup?
        do {
            if let limits {
                let g = try kernel.memcgCreate("/replay")
                let page = kernel.phys.pageSize
                let pages = { (bytes: UInt64?) in
                    bytes.map { Int(min($0 / page, UInt64(Int.max))) } ?? Int.max
                }
                kernel.memcgWrite(g, .max, pages: pages(limits.max))
                kernel.memcgWrite(g, .high, pages: pages(limits.high))
                group = g
            }
            task = try kernel.spawn(name: name, memcg: group)
        } catch {
            throw TraceError(
                file: trace.name, line: 0, column: 0, message: "cannot start the process: \(error)")
        }
        result.pid = task.pid
        let page = kernel.phys.pageSize
        let userTop = kernel.architecture.userTop
        // Empty the image's address space.
        do { try kernel.munmap(task, address: 0, length: userTop & ~(page - 1)) } catch {
            throw TraceError(
                file: trace.name, line: 0, column: 0, message: "cannot clear the address space: \(error)")
        }
        var areas:
            [(
                start: UInt64, end: UInt64, read: Bool, write: Bool, exec: Bool, shared: Bool, name: String,
                line: Int
            )] = []
        let shift = UInt64(traceShift)
        let span = UInt64(1) << shift
        let bits = kernel.architecture.is64Bit ? 64 : kernel.architecture.paging.addressBits
        if let maps {
            for m in maps {
                // A maps file describes user space in whole pages above mmap_min_addr; anything
                // else cannot be mapped (checked here, before the kernel's own arithmetic sees it).
                func refuse(_ why: String) -> TraceError {
                    TraceError(
                        file: m.file, line: m.line, column: 1,
                        message: "cannot map \(hex(m.start))-\(hex(m.end)): \(why)")
                }
                guard m.start & (page - 1) == 0 && m.end & (page - 1) == 0 else {
                    throw refuse("not page-aligned (\(ByteSize.format(page)) pages)")
                }
                guard m.end <= userTop else {
                    throw refuse("beyond the user address space (which ends at \(hex(userTop)))")
                }
                guard m.start >= Kernel.mmapMinAddr else {
                    throw refuse("below mmap_min_addr (\(hex(Kernel.mmapMinAddr)))")
                }
                areas.append((m.start, m.end, m.read, m.write, m.exec, m.shared, m.name, m.line))
            }
        } else {
            let keys = trace.keys.sorted()
            if let lowest = keys.first, let a = Self.address(ofKey: lowest, shift: shift, relocation: 0),
                a < Kernel.mmapMinAddr
            {
                result.relocation = 256 << 20
            }
            var current: (start: UInt64, end: UInt64)?
            for key in keys {
                // Beyond user space (or beyond 64 bits): no area; those accesses fault.
                guard
                    let address = Self.address(
                        ofKey: key, shift: shift, relocation: result.relocation, bits: bits),
                    address < userTop, userTop - address >= span
                else { continue }
                let start = address & ~(page - 1)
                let last = address + span - 1  // ≤ userTop − 1: no overflow, nor in the round-up
                let end = (last | (page - 1)) + 1
                if let c = current, start <= c.end + Self.mergeGap {
                    current = (c.start, max(c.end, end))
                } else {
                    if let c = current { areas.append((c.start, c.end, true, true, false, false, "", 0)) }
                    current = (start, end)
                }
            }
            if let c = current { areas.append((c.start, c.end, true, true, false, false, "", 0)) }
        }
        for a in areas {
            var request = MapRequest(
                length: a.end - a.start,
                protection: Protection(rawValue: (a.read ? 1 : 0) | (a.write ? 2 : 0) | (a.exec ? 4 : 0)),
                shared: a.shared)
            request.address = a.start
            request.fixed = true
            request.noReserve = true
            if !a.name.isEmpty { request.name = a.name }
            do {
                _ = try kernel.mmap(task, request)
            } catch {
                let entry = maps?.first { $0.line == a.line }
                throw TraceError(
                    file: entry?.file ?? trace.name, line: entry?.line ?? 0, column: entry == nil ? 0 : 1,
                    message: "cannot map \(hex(a.start))-\(hex(a.end)) for the trace: \(error)")
            }
            result.areas.append((a.start, a.end, a.name))
        }
        let relocation = result.relocation
        // OPT needs each access's next use before the first: the trace in memory.
        let needsFuture = policyKind.map { $0 != .linux && $0.needsFuture } ?? false
        let loop = ReplayLoop(
            kernel: kernel, task: task, name: name, trace: needsFuture ? try input.inMemory() : input,
            shift: shift, relocation: relocation,
            bits: bits,
            span: span, firstTouchWrites: firstTouchWrites, progress: progress, timeline: timeline)
        let counts: ReplayLoop.Counts
        var victims: PolicyVictims?
        if let policyKind, policyKind != .linux, let mm = task.mm {
            let minimum = kernel.phys.zones.reduce(0) { $0 + $1.minWatermark }
            var frames = max(1, kernel.phys.freePages - minimum)
            if let g = group, g.memory.max != Int.max {
                frames = max(1, min(frames, g.memory.max - g.memory.usage))
            }
            result.policy = policyKind
            result.policyFrames = frames
            let run = try withPolicy(
                policyKind, frames: frames, options: options,
                PolicyReplayLoop(loop: loop, mm: mm, nextUse: needsFuture ? loop.trace.dense!.nextUse() : []))
            counts = run.counts
            victims = run.victims
        } else {
            counts = try loop.run(LRUPolicy?.none, nextUse: [])
        }
        result.outcome = counts.outcome
        result.performed = counts.performed
        result.stores = counts.stores
        result.firstTouchStores = counts.firstTouchStores
        result.minorFaults = task.minorFaults
        result.majorFaults = task.majorFaults
        result.tlb = kernel.mmu.tlb.stats
        let phys = kernel.phys
        result.pswpin = phys.events(.pswpin)
        result.pswpout = phys.events(.pswpout)
        result.pgscan = phys.events(.pgscanKswapd) + phys.events(.pgscanDirect)
        result.pgsteal = phys.events(.pgstealKswapd) + phys.events(.pgstealDirect)
        result.simulatedNanoseconds = kernel.now - counts.startTime
        result.policyVictims = victims?.named ?? 0
        result.policyVictimsSkipped = kernel.reclaim.victimsSkipped - counts.skippedBefore
        if let group { result.cgroup = KernelReplayCgroup(kernel, group) }
        return result
    }
}
