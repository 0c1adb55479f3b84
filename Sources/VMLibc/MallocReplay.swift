/// How an allocation trace is replayed.
public struct MallocReplayOptions: Sendable {
    /// `glibc`, or a teaching allocator: `freelist:first`, `freelist:best`, `freelist:worst`,
    /// `freelist:next`.
    public var allocator = "glibc"
    /// Whether the replayed program writes every byte it allocates (as a program using its memory
    /// would), so RSS counts its data; by default only the allocator's own accesses touch pages.
    public var writeAllocations = false
    /// A timeline sample every this many calls (0: none).
    public var timelineEvery = 0
    /// The most disagreements kept for the report.
    public var keepDisagreements = 20
    public init() {}
}

/// One point of a replay's timeline.
public struct MallocTimelinePoint: Sendable, Equatable {
    /// Calls replayed so far.
    public var call: Int
    /// The model's heap (break minus initial break) and the real process's, when traced.
    public var heap: UInt64
    public var realHeap: UInt64?
    public var mmapped: UInt64
    public var live: UInt64
    /// Resident pages of the replayed process.
    public var residentPages: Int
}

/// A step where the model and the real process differed.
public struct MallocDisagreement: Sendable, Equatable {
    public var line: Int
    /// What differed: `brk`, `mmap`, `pointer`.
    public var what: String
    public var real: UInt64
    public var model: UInt64
}

/// What a replay found.
public struct MallocReplayReport: Sendable {
    public var allocator: String
    /// Calls replayed, by kind.
    public var calls = 0
    public var mallocs = 0
    public var callocs = 0
    public var reallocs = 0
    public var memaligns = 0
    public var frees = 0
    /// Calls skipped: made by other threads (other arenas, not modelled), freeing or
    /// reallocating a pointer the trace never returned, or failed in the real process.
    public var skipped = 0
    /// Calls that returned NULL in the model but not in the real process.
    public var modelFailures = 0
    /// The model's system calls and sizes.
    public var stats = AllocatorStats()
    /// Peak and final heap (break minus initial break) and resident pages.
    public var peakHeap: UInt64 = 0
    public var finalHeap: UInt64 = 0
    public var peakResidentPages = 0
    public var finalResidentPages = 0
    public var minorFaults = 0
    /// Heap plus mapped bytes over live bytes at the peak of live bytes and at the end.
    public var overheadAtPeak: Double = 0
    public var finalOverhead: Double = 0
    /// The real process's peak and final heap and its mmapped results (shim traces).
    public var realPeakHeap: UInt64?
    public var realFinalHeap: UInt64?
    public var realMmaps = 0

    // Agreement with the real process (shim traces, glibc model).
    /// Steps compared (those carrying the real break).
    public var comparedSteps = 0
    /// Steps after which the model's heap size equals the real one.
    public var brkAgreeingSteps = 0
    /// The largest and the mean absolute difference of heap sizes over the compared steps.
    public var maxHeapDifference: UInt64 = 0
    public var meanHeapDifference: Double = 0
    /// Results whose mmapped-or-not decision was compared, and how many agreed.
    public var mmapCompared = 0
    public var mmapAgreeing = 0
    /// Heap pointers compared (relative to each heap's start), and how many were equal.
    public var pointersCompared = 0
    public var pointersEqual = 0
    public var disagreements: [MallocDisagreement] = []
    public var timeline: [MallocTimelinePoint] = []

    /// The fraction of compared steps whose heap size agreed (1 when nothing was compared).
    public var brkAgreement: Double {
        self.comparedSteps == 0 ? 1 : Double(self.brkAgreeingSteps) / Double(self.comparedSteps)
    }
    public var mmapAgreement: Double {
        self.mmapCompared == 0 ? 1 : Double(self.mmapAgreeing) / Double(self.mmapCompared)
    }
    public var pointerAgreement: Double {
        self.pointersCompared == 0 ? 1 : Double(self.pointersEqual) / Double(self.pointersCompared)
    }

    /// The report as text.
    public var text: String {
        func pct(_ x: Double) -> String {
            let t = Int((x * 1000).rounded())
            return "\(t / 10).\(t % 10)%"
        }
        var lines = [
            "allocator \(self.allocator): \(self.calls) calls (\(self.mallocs) malloc, \(self.callocs) calloc, "
                + "\(self.reallocs) realloc, \(self.memaligns) memalign, \(self.frees) free), \(self.skipped) skipped",
            "system calls: \(self.stats.brkCalls) brk, \(self.stats.mmapCalls) mmap, \(self.stats.munmapCalls) munmap, "
                + "\(self.stats.mremapCalls) mremap, \(self.stats.madviseCalls) madvise",
            "heap: peak \(self.peakHeap) B, final \(self.finalHeap) B; mmapped: peak \(self.stats.peakMmappedBytes) B; "
                + "live: peak \(self.stats.peakLiveBytes) B, final \(self.stats.liveBytes) B",
            "RSS: peak \(self.peakResidentPages) pages, final \(self.finalResidentPages) pages, \(self.minorFaults) faults",
            "overhead (heap + mmapped) / live: \(String(format2: self.overheadAtPeak)) at peak, "
                + "\(String(format2: self.finalOverhead)) at the end",
        ]
        if let peak = self.realPeakHeap, let fin = self.realFinalHeap {
            lines.append(
                "real process: heap peak \(peak) B, final \(fin) B, \(self.realMmaps) mmapped results")
            lines.append(
                "agreement: heap size after \(pct(self.brkAgreement)) of \(self.comparedSteps) calls "
                    + "(max difference \(self.maxHeapDifference) B, mean \(String(format2: self.meanHeapDifference)) B); "
                    + "mmap decisions \(pct(self.mmapAgreement)) of \(self.mmapCompared); "
                    + "heap pointers \(pct(self.pointerAgreement)) of \(self.pointersCompared)")
        }
        for d in self.disagreements.prefix(5) {
            lines.append(
                "  line \(d.line): \(d.what) real 0x\(String(d.real, radix: 16)) model 0x\(String(d.model, radix: 16))"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    /// Two decimals, without Foundation.
    init(format2 x: Double) {
        let t = Int((x * 100).rounded())
        let frac = t % 100
        self = "\(t / 100).\(frac < 10 ? "0" : "")\(frac)"
    }
}

/// Replays an allocation trace through an allocator model in a fresh simulated process (an
/// `InMemorySystem`, or the `system` given), and compares the model's heap with the real one
/// at every step the trace recorded it.
///
/// Real pointers are mapped to the model's; a free or realloc of a pointer the trace never
/// returned (allocated before tracing started, or in another thread) and every call of another
/// thread are skipped and counted. For shim traces the heap size (break minus the initial break)
/// after each call, the mmapped-or-not decision of each result, and each heap pointer's offset
/// from the heap start are compared with the real process's.
public func replayMallocTrace<M: ReplayMemory>(
    _ reader: AllocationTraceReader, options: MallocReplayOptions = MallocReplayOptions(), system: M
) throws -> MallocReplayReport {
    if options.allocator == "glibc" {
        return try replayLoop(reader, GlibcMalloc(system: system), options, system)
    } else if let f = FreeListAllocator(name: options.allocator, system: system) {
        return try replayLoop(reader, f, options, system)
    }
    throw AllocationTraceError(
        file: reader.name, line: 0, column: 0, message: "unknown allocator '\(options.allocator)'")
}

/// `replayMallocTrace` in a fresh in-memory process.
public func replayMallocTrace(
    _ reader: AllocationTraceReader, options: MallocReplayOptions = MallocReplayOptions()
) throws -> MallocReplayReport {
    try replayMallocTrace(reader, options: options, system: InMemorySystem())
}

/// A process's memory as a replay sees it: the allocator's `MallocSystem`, plus the program's
/// own stores and what the replay reports (break, resident pages, faults). `InMemorySystem` is
/// one; a process of the simulated kernel is another.
public protocol ReplayMemory: MallocSystem {
    /// The break before the first allocation.
    var startBrk: UInt64 { get }
    /// The break now.
    var currentBrk: UInt64 { get }
    var residentPages: Int { get }
    var peakResidentPages: Int { get }
    var minorFaults: Int { get }
    /// The program writing (or reading) its allocation `[address, address + length)`. False if
    /// the process died.
    @discardableResult
    func touchByProgram(_ address: UInt64, length: UInt64, write: Bool) -> Bool
}

extension InMemorySystem: ReplayMemory {}

/// The replay, specialised for each allocator type.
func replayLoop<A: UserAllocator, M: ReplayMemory>(
    _ reader: AllocationTraceReader, _ allocator: A, _ options: MallocReplayOptions, _ system: M
) throws -> MallocReplayReport {
    let glibc = allocator as? GlibcMalloc
    var report = MallocReplayReport(allocator: allocator.name)
    var map = PointerMap()
    let brk0 = system.startBrk
    var realBrk0: UInt64?
    var sumDiff: Double = 0
    var overheadAtPeak = 0.0
    var peakLive: UInt64 = 0

    func disagree(_ e: AllocationEvent, _ what: String, _ real: UInt64, _ model: UInt64) {
        if report.disagreements.count < options.keepDisagreements {
            report.disagreements.append(
                MallocDisagreement(line: e.line, what: what, real: real, model: model))
        }
    }

    while let e = try reader.next() {
        if realBrk0 == nil { realBrk0 = reader.stats.initialBreak ?? e.brk }
        if e.otherThread {
            report.skipped += 1
            continue
        }
        var modelResult: UInt64? = nil
        var produces = true
        do {
            switch e.call {
            case .malloc(let n):
                report.mallocs += 1
                modelResult = try allocator.malloc(n)
            case .calloc(let c, let n):
                report.callocs += 1
                modelResult = try allocator.calloc(c, n)
            case .realloc(let p, let n):
                report.reallocs += 1
                if p == 0 {
                    modelResult = try allocator.realloc(nil, n)
                } else if let q = map.find(p) {
                    if e.result == 0 && n != 0 {
                        // The real realloc failed and kept the block.
                        report.skipped += 1
                        produces = false
                    } else {
                        map.remove(p)
                        modelResult = try allocator.realloc(q, n)
                        if n == 0 { produces = false }
                    }
                } else {
                    report.skipped += 1
                    produces = false
                }
            case .memalign(let a, let n):
                report.memaligns += 1
                modelResult = try allocator.memalign(a, n)
            case .posixMemalign(let a, let n):
                report.memaligns += 1
                modelResult = try allocator.posixMemalign(a, n).get()
            case .free(let p):
                report.frees += 1
                produces = false
                if p != 0 {
                    if let q = map.find(p) {
                        map.remove(p)
                        try allocator.free(q)
                    } else {
                        report.skipped += 1
                    }
                }
            }
        } catch let error as MallocAbort {
            throw AllocationTraceError(
                file: reader.name, line: e.line, column: 1, message: "the replayed program died: \(error)")
        } catch {
            modelResult = nil
        }
        report.calls += 1
        if produces {
            if e.result != 0 {
                if let q = modelResult {
                    map.insert(e.result, q)
                    if options.writeAllocations {
                        let n = allocator.usableSize(q)
                        if n > 0 { system.touchByProgram(q, length: n, write: true) }
                    }
                } else {
                    report.modelFailures += 1
                }
            }
        }

        let heap = system.currentBrk - brk0
        report.peakHeap = max(report.peakHeap, heap)
        let liveNow = allocator.stats.liveBytes
        if liveNow > peakLive {
            peakLive = liveNow
            overheadAtPeak = allocator.stats.overhead
        }
        var realHeap: UInt64?
        if let b = e.brk, let r0 = realBrk0, b >= r0 {
            let rh = b - r0
            realHeap = rh
            report.realPeakHeap = max(report.realPeakHeap ?? 0, rh)
            report.realFinalHeap = rh
            report.comparedSteps += 1
            let diff = rh > heap ? rh - heap : heap - rh
            if diff == 0 {
                report.brkAgreeingSteps += 1
            } else {
                disagree(e, "brk", rh, heap)
            }
            report.maxHeapDifference = max(report.maxHeapDifference, diff)
            sumDiff += Double(diff)
        }
        if produces, let mm = e.mmapped, e.result != 0 {
            if mm { report.realMmaps += 1 }
            if let q = modelResult, let g = glibc {
                report.mmapCompared += 1
                let modelMapped = g.lastResultMapped
                if modelMapped == mm {
                    report.mmapAgreeing += 1
                } else {
                    disagree(e, "mmap", mm ? 1 : 0, modelMapped ? 1 : 0)
                }
                if !mm && !modelMapped, let r0 = realBrk0 {
                    report.pointersCompared += 1
                    if e.result &- r0 == q &- brk0 {
                        report.pointersEqual += 1
                    } else {
                        disagree(e, "pointer", e.result &- r0, q &- brk0)
                    }
                }
            }
        }
        if options.timelineEvery > 0 && report.calls % options.timelineEvery == 0 {
            report.timeline.append(
                MallocTimelinePoint(
                    call: report.calls, heap: heap, realHeap: realHeap, mmapped: allocator.stats.mmappedBytes,
                    live: liveNow, residentPages: system.residentPages))
        }
    }
    report.stats = allocator.stats
    report.finalHeap = system.currentBrk - brk0
    report.peakResidentPages = system.peakResidentPages
    report.finalResidentPages = system.residentPages
    report.minorFaults = system.minorFaults
    report.overheadAtPeak = overheadAtPeak
    report.finalOverhead = report.stats.overhead
    report.meanHeapDifference = report.comparedSteps == 0 ? 0 : sumDiff / Double(report.comparedSteps)
    return report
}

/// Real pointer → model pointer: open addressing with linear probing and backward-shift
/// deletion, as `ChunkStore`'s index (Swift's `Dictionary` hashes with SipHash, several times
/// slower for this).
struct PointerMap {
    /// Key and value interleaved, so a probe touches one cache line.
    var slots = RawArray<UInt64>(repeating: 0, count: 2 << 12)
    var mask = (1 << 12) - 1
    var count = 0

    @inline(__always) func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: ((key >> 4) &* 0x9E37_79B9_7F4A_7C15) >> 20) & self.mask
    }

    @inline(__always) func find(_ key: UInt64) -> UInt64? {
        var s = self.slot(key)
        while true {
            let k = self.slots[2 * s]
            if k == key { return self.slots[2 * s + 1] }
            if k == 0 { return nil }
            s = (s + 1) & self.mask
        }
    }

    /// Sets `key`'s value (a real pointer returned again replaces its old mapping).
    mutating func insert(_ key: UInt64, _ value: UInt64) {
        if (self.count + 1) * 2 > self.mask + 1 { self.grow() }
        var s = self.slot(key)
        while self.slots[2 * s] != 0 && self.slots[2 * s] != key { s = (s + 1) & self.mask }
        if self.slots[2 * s] == 0 { self.count += 1 }
        self.slots[2 * s] = key
        self.slots[2 * s + 1] = value
    }

    mutating func remove(_ key: UInt64) {
        var s = self.slot(key)
        while self.slots[2 * s] != key {
            if self.slots[2 * s] == 0 { return }
            s = (s + 1) & self.mask
        }
        var hole = s
        var j = s
        while true {
            j = (j + 1) & self.mask
            let k = self.slots[2 * j]
            if k == 0 { break }
            let home = self.slot(k)
            let between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !between {
                self.slots[2 * hole] = k
                self.slots[2 * hole + 1] = self.slots[2 * j + 1]
                hole = j
            }
        }
        self.slots[2 * hole] = 0
        self.count -= 1
    }

    mutating func grow() {
        let old = self.slots
        let capacity = (self.mask + 1) * 2
        self.slots = RawArray(repeating: 0, count: 2 * capacity)
        self.mask = capacity - 1
        self.count = 0
        for i in 0..<(old.count / 2) where old[2 * i] != 0 { self.insert(old[2 * i], old[2 * i + 1]) }
    }
}
