/// What a replay counted.
public struct ReplayCounts: Sendable, Equatable {
    /// Accesses replayed.
    public var accesses = 0
    /// Accesses that found their page resident.
    public var hits = 0
    /// Pages evicted.
    public var evictions = 0
    /// Evicted pages written since they were loaded.
    public var dirtyEvictions = 0
    /// Accesses that missed.
    public var misses: Int { self.accesses - self.hits }
    /// Misses per access (0 for an empty trace).
    public var missRatio: Double { self.accesses == 0 ? 0 : Double(self.misses) / Double(self.accesses) }
    /// No accesses yet.
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
