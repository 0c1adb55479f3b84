#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole trace in memory as dense page ids (numbered in order of first appearance), 4 bytes
/// and 1 bit per access: what `compare`, `mrc` and OPT replay need, since they read the trace
/// many times or backwards.
public final class DenseTrace: @unchecked Sendable {
    public let name: String
    public let format: TraceFormat
    public private(set) var ids: [UInt32] = []
    /// One bit per access: a write.
    public private(set) var writeBits: [UInt64] = []
    public private(set) var distinct = 0
    public private(set) var stats = ReaderStats()
    /// The original key (page number or object id) of each dense id.
    public private(set) var keys: [UInt64] = []

    /// Reads the whole trace.
    public init(reader: any TraceReader, progress: Progress? = nil) throws {
        self.name = reader.name
        self.format = reader.format
        let mapper = IDMapper()
        let batch = AccessBatch()
        var bits: UInt64 = 0
        var n = 0
        while try reader.read(into: batch) {
            for i in 0..<batch.count {
                let before = mapper.count
                let id = mapper.map(batch.keys[i])
                if mapper.count != before { self.keys.append(batch.keys[i]) }
                self.ids.append(id)
                bits |= UInt64(batch.writes[i]) << UInt64(n & 63)
                n += 1
                if n & 63 == 0 {
                    self.writeBits.append(bits)
                    bits = 0
                }
            }
            if mapper.count > Int(Int32.max) {
                throw TraceError(
                    file: reader.name, line: 0, column: 0, message: "more than 2^31 distinct pages")
            }
            progress?.update(n, input: reader.position)
        }
        if n & 63 != 0 { self.writeBits.append(bits) }
        self.distinct = mapper.count
        self.stats = reader.stats
    }

    /// A trace of the given page ids (tests, generators).
    public init(name: String, pages: [UInt64], writes: [Bool]? = nil) {
        self.name = name
        self.format = .txt
        let mapper = IDMapper()
        for (i, p) in pages.enumerated() {
            let before = mapper.count
            self.ids.append(mapper.map(p))
            if mapper.count != before { self.keys.append(p) }
            if i & 63 == 0 { self.writeBits.append(0) }
            if writes?[i] == true { self.writeBits[i >> 6] |= 1 << UInt64(i & 63) }
        }
        self.distinct = mapper.count
        self.stats.lines = pages.count
    }

    public var count: Int { self.ids.count }

    /// How many accesses are writes.
    public var writes: Int { self.writeBits.reduce(0) { $0 + $1.nonzeroBitCount } }

    @inline(__always) public func isWrite(_ i: Int) -> Bool {
        self.writeBits[i >> 6] >> UInt64(i & 63) & 1 != 0
    }

    /// For each access, the position of the next access to the same page, or `UInt32.max`.
    public func nextUse() -> [UInt32] {
        var next = [UInt32](repeating: .max, count: self.ids.count)
        var last = [UInt32](repeating: .max, count: self.distinct)
        self.ids.withUnsafeBufferPointer { ids in
            next.withUnsafeMutableBufferPointer { next in
                last.withUnsafeMutableBufferPointer { last in
                    var i = ids.count - 1
                    while i >= 0 {
                        let id = Int(ids[i])
                        next[i] = last[id]
                        last[id] = UInt32(truncatingIfNeeded: i)
                        i -= 1
                    }
                }
            }
        }
        return next
    }
}

/// What a replay counted.
public struct ReplayCounts: Sendable, Equatable {
    public var accesses = 0
    public var hits = 0
    public var evictions = 0
    public var dirtyEvictions = 0
    public var misses: Int { self.accesses - self.hits }
    public var missRatio: Double { self.accesses == 0 ? 0 : Double(self.misses) / Double(self.accesses) }
    public init() {}
}

/// Runs `policy` over a dense trace. `next` (OPT) gives each access's next use. Reports to
/// `progress` every 2^20 accesses (`advance`, so parallel runs can share one), and to
/// `timeline` at the end of each of its windows.
func runDense<P: ReplacementPolicy>(
    _ policy: P, _ trace: DenseTrace, next: [UInt32]?, progress: Progress? = nil,
    timeline: MissTimeline? = nil
) -> ReplayCounts {
    var counts = ReplayCounts()
    policy.reserve(trace.distinct)
    var hits = 0
    let block = 1 << 20
    trace.ids.withUnsafeBufferPointer { ids in
        trace.writeBits.withUnsafeBufferPointer { bits in
            var from = 0
            while from < ids.count {
                let to = min(timeline.map { $0.nextEnd } ?? from + block, from + block, ids.count)
                if let next {
                    next.withUnsafeBufferPointer { next in
                        for i in from..<to {
                            if i &+ lookAhead < ids.count {
                                policy.prefetch(Int32(bitPattern: ids[i &+ lookAhead]))
                            }
                            let w = bits[i >> 6] >> UInt64(i & 63) & 1 != 0
                            let n = next[i]
                            let hit = policy.access(
                                Int32(bitPattern: ids[i]), write: w, next: n == .max ? Int64.max : Int64(n))
                            hits &+= hit ? 1 : 0
                        }
                    }
                } else {
                    for i in from..<to {
                        if i &+ lookAhead < ids.count {
                            policy.prefetch(Int32(bitPattern: ids[i &+ lookAhead]))
                        }
                        let w = bits[i >> 6] >> UInt64(i & 63) & 1 != 0
                        let hit = policy.access(Int32(bitPattern: ids[i]), write: w, next: 0)
                        hits &+= hit ? 1 : 0
                    }
                }
                progress?.advance(by: to - from)
                if let timeline, to == timeline.nextEnd || to == ids.count {
                    timeline.record(accesses: to, hits: hits, stats: policy.stats)
                }
                from = to
            }
        }
    }
    counts.accesses = trace.count
    counts.hits = hits
    counts.evictions = policy.stats.evictions
    counts.dirtyEvictions = policy.stats.dirtyEvictions
    return counts
}

/// How far ahead the replay loops touch a page's policy state, so its cache miss overlaps the
/// work on the accesses before it (16 was best of 4…64 on the benchmark's Zipf trace).
let lookAhead = 16
/// How far ahead the map phase touches a key's slot in the id table (192 was best of 32…512).
let mapAhead = 192

/// Runs `policy` over a streamed trace, a batch at a time: first every key of the batch is
/// mapped to its dense id (independent lookups the CPU overlaps), then the policy runs over the
/// ids, touching the state of the page `lookAhead` accesses ahead.
func runStream<P: ReplacementPolicy>(
    _ policy: P, _ reader: any TraceReader, mapper: IDMapper, progress: Progress?,
    timeline: MissTimeline? = nil
) throws -> ReplayCounts {
    var counts = ReplayCounts()
    let batch = AccessBatch()
    let ids = UnsafeMutablePointer<Int32>.allocate(capacity: batch.capacity + lookAhead)
    ids.initialize(repeating: 0, count: batch.capacity + lookAhead)
    defer { ids.deallocate() }
    var reserved = 0
    var hits = 0
    var accesses = 0
    while try reader.read(into: batch) {
        let n = batch.count
        let keys = batch.keys
        for i in 0..<n {
            if i &+ mapAhead < n { mapper.prefetch(keys[i &+ mapAhead]) }
            ids[i] = Int32(truncatingIfNeeded: mapper.map(keys[i]))
        }
        for i in n..<(n + lookAhead) { ids[i] = 0 }
        if mapper.count > reserved {
            if mapper.count > Int(Int32.max) {
                throw TraceError(
                    file: reader.name, line: 0, column: 0, message: "more than 2^31 distinct pages")
            }
            reserved = max(4096, reserved * 2, mapper.count)
            policy.reserve(reserved)
        }
        let writes = batch.writes
        // Chunks of the batch that end where the timeline's windows end (one chunk without one).
        var from = 0
        while from < n {
            let to = timeline.map { min(n, from + $0.nextEnd - accesses) } ?? n
            if batch.hasNext {
                let nexts = batch.next
                for i in from..<to {
                    policy.prefetch(ids[i &+ lookAhead])
                    hits &+= policy.access(ids[i], write: writes[i] != 0, next: nexts[i]) ? 1 : 0
                }
            } else {
                for i in from..<to {
                    policy.prefetch(ids[i &+ lookAhead])
                    hits &+= policy.access(ids[i], write: writes[i] != 0, next: 0) ? 1 : 0
                }
            }
            accesses += to - from
            from = to
            if let timeline, accesses == timeline.nextEnd {
                timeline.record(accesses: accesses, hits: hits, stats: policy.stats)
            }
        }
        progress?.update(accesses, input: reader.position)
    }
    timeline?.record(accesses: accesses, hits: hits, stats: policy.stats)
    counts.accesses = accesses
    counts.hits = hits
    counts.evictions = policy.stats.evictions
    counts.dirtyEvictions = policy.stats.dirtyEvictions
    return counts
}

/// Simulates `kind` with `frames` frames over a dense trace.
public func simulate(
    _ kind: PolicyKind, frames: Int, trace: DenseTrace, next: [UInt32]? = nil,
    options: PolicyOptions = PolicyOptions(), progress: Progress? = nil, timeline: MissTimeline? = nil
) -> ReplayCounts {
    let f = max(frames, 1)
    switch kind {
    case .fifo:
        return runDense(
            FIFOPolicy(frames: f, options: options), trace, next: nil, progress: progress, timeline: timeline)
    case .lru:
        return runDense(
            LRUPolicy(frames: f, options: options), trace, next: nil, progress: progress, timeline: timeline)
    case .mru:
        return runDense(
            MRUPolicy(frames: f, options: options), trace, next: nil, progress: progress, timeline: timeline)
    case .lfu:
        return runDense(
            LFUPolicy(frames: f, options: options), trace, next: nil, progress: progress, timeline: timeline)
    case .clock, .secondChance:
        return runDense(
            ClockPolicy(frames: f, options: options), trace, next: nil, progress: progress, timeline: timeline
        )
    case .clock2:
        return runDense(
            ClockPolicy(frames: f, bits: 2, initialFrequency: 0), trace, next: nil, progress: progress,
            timeline: timeline)
    case .arc:
        return runDense(
            ARCPolicy(frames: f, options: options), trace, next: nil, progress: progress, timeline: timeline)
    case .twoq:
        return runDense(
            TwoQPolicy(frames: f, options: options), trace, next: nil, progress: progress, timeline: timeline)
    case .lirs:
        return runDense(
            LIRSPolicy(frames: f, options: options), trace, next: nil, progress: progress, timeline: timeline)
    case .clockpro:
        return runDense(
            ClockProPolicy(frames: f, options: options), trace, next: nil, progress: progress,
            timeline: timeline)
    case .s3fifo:
        return runDense(
            S3FIFOPolicy(frames: f, options: options), trace, next: nil, progress: progress,
            timeline: timeline)
    case .sieve:
        return runDense(
            SievePolicy(frames: f, options: options), trace, next: nil, progress: progress, timeline: timeline
        )
    case .opt:
        return runDense(
            OPTPolicy(frames: f, options: options), trace, next: next ?? trace.nextUse(), progress: progress,
            timeline: timeline)
    case .random:
        return runDense(
            RandomPolicy(frames: f, options: options), trace, next: nil, progress: progress,
            timeline: timeline)
    case .linux:
        return runDense(
            LinuxLRUPolicy(frames: f, options: options), trace, next: nil, progress: progress,
            timeline: timeline)
    }
}

/// Simulates `kind` with `frames` frames over a streamed trace (constant memory apart from the
/// per-page state). OPT needs each access's next use: oracleGeneral traces carry it; for the
/// other formats the trace is read into memory first.
public func simulate(
    _ kind: PolicyKind, frames: Int, reader: any TraceReader, options: PolicyOptions = PolicyOptions(),
    progress: Progress? = nil, timeline: MissTimeline? = nil
) throws -> (ReplayCounts, distinct: Int) {
    let f = max(frames, 1)
    let mapper = IDMapper()
    let counts: ReplayCounts
    switch kind {
    case .fifo:
        counts = try runStream(
            FIFOPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .lru:
        counts = try runStream(
            LRUPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .mru:
        counts = try runStream(
            MRUPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .lfu:
        counts = try runStream(
            LFUPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .clock, .secondChance:
        counts = try runStream(
            ClockPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .clock2:
        counts = try runStream(
            ClockPolicy(frames: f, bits: 2, initialFrequency: 0), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .arc:
        counts = try runStream(
            ARCPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .twoq:
        counts = try runStream(
            TwoQPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .lirs:
        counts = try runStream(
            LIRSPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .clockpro:
        counts = try runStream(
            ClockProPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .s3fifo:
        counts = try runStream(
            S3FIFOPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .sieve:
        counts = try runStream(
            SievePolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .opt:
        if reader.format == .oracleGeneral {
            counts = try runStream(
                OPTPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
                timeline: timeline)
        } else {
            let trace = try DenseTrace(reader: reader, progress: progress)
            progress?.finish()
            let simulating = progress.map {
                Progress(label: $0.label + " (opt)", total: trace.count, enabled: $0.enabled)
            }
            let counts = simulate(
                .opt, frames: f, trace: trace, options: options, progress: simulating, timeline: timeline)
            simulating?.finish()
            return (counts, trace.distinct)
        }
    case .random:
        counts = try runStream(
            RandomPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    case .linux:
        counts = try runStream(
            LinuxLRUPolicy(frames: f, options: options), reader, mapper: mapper, progress: progress,
            timeline: timeline)
    }
    return (counts, mapper.count)
}

/// Writes to file descriptor 2.
public func writeStderr(_ text: String) {
    var t = text
    t.withUTF8 { b in
        var off = 0
        while off < b.count {
            let n = write(2, b.baseAddress! + off, b.count - off)
            if n <= 0 { break }
            off += n
        }
    }
}

/// Seconds on the monotonic clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// `v` with exactly `digits` decimals, rounded half away from zero; deterministic and free of
/// locale.
public func fixed(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return v.isNaN ? "nan" : (v < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(v) * scale).rounded(.toNearestOrAwayFromZero)
    guard scaled < 9.0e18 else { return "\(v)" }
    let n = UInt64(scaled)
    let negative = v < 0 && n != 0
    let intPart = n / UInt64(scale)
    let frac = n % UInt64(scale)
    var s = (negative ? "-" : "") + String(intPart)
    if digits > 0 { s += "." + String(frac).leftPadded(digits) }
    return s
}
