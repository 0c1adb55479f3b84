import CPrefetch
import Dispatch
import Synchronization

/// LRU stack distances of a trace: for each access, the number of distinct pages touched since
/// the previous access to the same page, counting itself (Mattson et al. 1970). LRU with c
/// frames hits exactly the accesses whose distance is at most c, so one pass gives LRU's misses
/// at every size.
public struct StackDistances: Sendable, Equatable {
    /// First accesses (misses at every size).
    public var cold = 0
    /// `counts[d]`: accesses with distance d (index 0 unused).
    public var counts: [Int] = [0]
    /// Accesses in the trace.
    public var accesses = 0

    /// Misses with `frames` frames.
    public func misses(frames: Int) -> Int {
        var m = self.cold
        if frames + 1 < self.counts.count {
            for d in (frames + 1)..<self.counts.count { m += self.counts[d] }
        }
        return m
    }

    /// Misses at every size 0…distinct (index = frames).
    public func missCurve() -> [Int] {
        var curve = [Int](repeating: 0, count: self.counts.count)
        var suffix = 0
        for c in stride(from: self.counts.count - 1, through: 0, by: -1) {
            curve[c] = self.cold + suffix
            suffix += self.counts[c]
        }
        return curve
    }
}

/// Counts live markers by time position: each page has a marker at the position of its last
/// access; an access's stack distance is 1 + the markers after its page's previous one.
///
/// The markers are a bitmap; a Fenwick tree over blocks of 64 positions counts them by block, so
/// a distance is one prefix sum over the blocks (a tree of M/32 entries, small enough to stay in
/// the CPU's caches) plus a popcount. The block the clock is in is not in the tree until the
/// clock leaves it (nothing asks for it there). When the positions run out the live markers are
/// renumbered 0, 1, … in time order, keeping everything about twice the number of distinct pages:
/// O(log M) per access and O(M) memory, whatever the trace length.
struct StackDistanceCounter {
    var bits: [UInt64]
    /// Fenwick tree (1-based) of marker counts per block of 64 positions.
    var tree: [Int32]
    /// The page whose marker is at each position (for renumbering).
    var owner: [Int32]
    /// Each page's marker position, or -1.
    var last: [Int32]
    var capacity: Int
    var cursor = 0
    var live = 0

    init(distinct: Int) {
        self.capacity = Self.roundUp(max(4096, 2 * distinct))
        self.bits = [UInt64](repeating: 0, count: self.capacity / 64)
        self.tree = [Int32](repeating: 0, count: self.capacity / 64 + 1)
        self.owner = [Int32](repeating: -1, count: self.capacity)
        self.last = [Int32](repeating: -1, count: max(distinct, 1))
    }

    static func roundUp(_ n: Int) -> Int { (n + 63) & ~63 }

    /// The distance of an access to `id` (1-based), or 0 for a first access.
    @inline(__always) mutating func access(_ id: Int) -> Int {
        if id >= self.last.count {
            self.last.append(contentsOf: repeatElement(-1, count: id + 1 - self.last.count))
        }
        if self.cursor == self.capacity { self.compact() }
        let p = Int(self.last[id])
        var distance = 0
        let cursorBlock = self.cursor >> 6
        if p >= 0 {
            let block = p >> 6
            let bit = UInt64(p & 63)
            let word = self.bits[block]
            // Markers at positions ≤ p.
            let below = word & ((2 << bit) &- 1)
            let atOrBefore = self.prefix(block - 1) + below.nonzeroBitCount
            distance = self.live - atOrBefore + 1
            self.bits[block] = word & ~(1 << bit)
            if block != cursorBlock { self.add(block, -1) }
            self.live -= 1
        }
        self.bits[cursorBlock] |= 1 << UInt64(self.cursor & 63)
        self.owner[self.cursor] = Int32(truncatingIfNeeded: id)
        self.last[id] = Int32(truncatingIfNeeded: self.cursor)
        self.live += 1
        self.cursor += 1
        if self.cursor & 63 == 0 {
            // Leaving the block: it joins the tree.
            self.add(cursorBlock, Int32(self.bits[cursorBlock].nonzeroBitCount))
        }
        return distance
    }

    /// Starts loading `id`'s marker position (ids not seen yet are ignored).
    @inline(__always) func prefetch(_ id: Int) {
        self.last.withUnsafeBufferPointer { last in
            if id < last.count { vmsim_prefetch(last.baseAddress! + id) }
        }
    }

    /// Markers in blocks 0…b (0 for b < 0).
    @inline(__always) func prefix(_ b: Int) -> Int {
        var s = 0
        var i = b + 1
        self.tree.withUnsafeBufferPointer { t in
            while i > 0 {
                s &+= Int(t[i])
                i &= i - 1
            }
        }
        return s
    }

    @inline(__always) mutating func add(_ b: Int, _ v: Int32) {
        var i = b + 1
        let n = self.tree.count - 1
        self.tree.withUnsafeMutableBufferPointer { t in
            while i <= n {
                t[i] &+= v
                i += i & -i
            }
        }
    }

    /// Renumbers the live markers 0, 1, … in time order and rebuilds the bitmap and the tree.
    mutating func compact() {
        var newOwner: [Int32] = []
        newOwner.reserveCapacity(self.live)
        for (w, word) in self.bits.enumerated() where word != 0 {
            var x = word
            while x != 0 {
                let p = w * 64 + x.trailingZeroBitCount
                x &= x - 1
                let id = self.owner[p]
                self.last[Int(id)] = Int32(newOwner.count)
                newOwner.append(id)
            }
        }
        let live = newOwner.count
        self.capacity = Self.roundUp(max(4096, 2 * live, self.last.count))
        self.owner = newOwner + [Int32](repeating: -1, count: self.capacity - live)
        self.bits = [UInt64](repeating: 0, count: self.capacity / 64)
        for w in 0..<(live / 64) { self.bits[w] = ~0 }
        if live % 64 != 0 { self.bits[live / 64] = (1 << UInt64(live % 64)) - 1 }
        // The tree holds every block before the clock's.
        let n = self.capacity / 64
        self.tree = [Int32](repeating: 0, count: n + 1)
        let full = live / 64
        self.tree.withUnsafeMutableBufferPointer { t in
            for i in 1...n {
                if i <= full { t[i] &+= 64 }
                let j = i + (i & -i)
                if j <= n { t[j] &+= t[i] }
            }
        }
        self.cursor = live
    }
}

/// Exact LRU stack distances in one pass.
public func lruStackDistances(_ trace: DenseTrace, progress: Progress? = nil) -> StackDistances {
    var result = StackDistances()
    result.counts = [Int](repeating: 0, count: trace.distinct + 1)
    var counter = StackDistanceCounter(distinct: trace.distinct)
    var cold = 0
    progress?.setTotal(trace.count)
    result.counts.withUnsafeMutableBufferPointer { counts in
        trace.ids.withUnsafeBufferPointer { ids in
            for i in 0..<ids.count {
                let d = counter.access(Int(ids[i]))
                if d == 0 { cold += 1 } else { counts[d] += 1 }
                if i & 0xFFFFF == 0 { progress?.update(i) }
            }
        }
    }
    result.cold = cold
    result.accesses = trace.count
    return result
}

/// SHARDS (Waldspurger et al., FAST 2015), fixed rate with the `adj` correction: only pages
/// whose hash falls below `rate` × 2^24 are tracked; their stack distances among sampled pages,
/// divided by the rate, estimate the true ones; and the difference between the expected number
/// of sampled accesses (N × rate) and the actual number is credited to the smallest distance,
/// which makes the estimate's denominator N × rate.
public struct ShardsEstimate: Sendable {
    /// The sampling rate.
    public var rate: Double
    /// Accesses sampled.
    public var sampledAccesses = 0
    /// Distinct pages sampled.
    public var sampledPages = 0
    /// Accesses the rate predicts (SHARDS-adj's correction).
    public var expectedAccesses = 0.0
    /// Sampled first accesses.
    public var cold = 0
    /// Sampled distances scaled by 1/rate: (estimated distance, count), by distance.
    public var scaled: [(distance: Int, count: Int)] = [] {
        didSet {
            self.beyond = [Int](repeating: 0, count: self.scaled.count + 1)
            for k in stride(from: self.scaled.count - 1, through: 0, by: -1) {
                self.beyond[k] = self.beyond[k + 1] + self.scaled[k].count
            }
        }
    }
    /// `beyond[k]`: the sampled accesses at `scaled[k...]`.
    var beyond: [Int] = [0]

    /// The estimated miss ratio with `frames` frames (O(log n)); `adjusted: false` divides by the
    /// sampled accesses instead (plain fixed-rate SHARDS).
    public func missRatio(frames: Int, adjusted: Bool = true) -> Double {
        let denominator = adjusted ? self.expectedAccesses : Double(self.sampledAccesses)
        guard denominator > 0 else { return 0 }
        // scaled is sorted by distance: binary search the first beyond `frames`.
        var lo = 0
        var hi = self.scaled.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if self.scaled[mid].distance <= frames { lo = mid + 1 } else { hi = mid }
        }
        let m = self.cold + self.beyond[lo]
        return min(1, max(0, Double(m) / denominator))
    }
}

/// SHARDS's spatial hash of a key.
@inline(__always) func shardsHash(_ key: UInt64) -> UInt64 {
    var z = key &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return (z ^ (z >> 31)) & 0xFF_FFFF
}

/// SHARDS over a dense trace (pages are hashed by their original keys).
public func shards(_ trace: DenseTrace, rate: Double) -> ShardsEstimate {
    var est = ShardsEstimate(rate: rate)
    let threshold = UInt64(max(0, min(1, rate)) * Double(1 << 24))
    // Sampled pages get their own dense ids.
    var sampledID = [Int32](repeating: -1, count: trace.distinct)
    var nextID = 0
    for (id, key) in trace.keys.enumerated() where shardsHash(key) < threshold {
        sampledID[id] = Int32(nextID)
        nextID += 1
    }
    est.sampledPages = nextID
    var counter = StackDistanceCounter(distinct: nextID)
    var byDistance: [Int: Int] = [:]
    trace.ids.withUnsafeBufferPointer { ids in
        for i in 0..<ids.count {
            let s = sampledID[Int(ids[i])]
            if s < 0 { continue }
            est.sampledAccesses += 1
            let d = counter.access(Int(s))
            if d == 0 {
                est.cold += 1
            } else {
                byDistance[Int((Double(d) / rate).rounded()), default: 0] += 1
            }
        }
    }
    est.scaled = byDistance.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    est.expectedAccesses = Double(trace.count) * rate
    return est
}

/// The exact LRU curve (and a SHARDS estimate) of a streamed trace.
public struct StreamedCurves: Sendable {
    /// The exact LRU stack distances.
    public var distances: StackDistances
    /// The SHARDS estimate, if asked for.
    public var shards: ShardsEstimate?
    /// Distinct pages.
    public var distinct: Int
    public var stats: ReaderStats
}

/// Exact LRU stack distances, and the SHARDS estimate at `shardsRate` if given, in one pass over
/// a streamed trace: memory is O(distinct pages) whatever the trace's length (the trace is never
/// held). Gives exactly what `lruStackDistances` and `shards` give on the trace in memory.
public func streamedCurves(reader: any TraceReader, shardsRate: Double?, progress: Progress? = nil) throws
    -> StreamedCurves
{
    let mapper = IDMapper()
    var counter = StackDistanceCounter(distinct: 4096)
    var counts = [Int](repeating: 0, count: 4097)
    var cold = 0
    let rate = shardsRate ?? 0
    let threshold = UInt64(max(0, min(1, rate)) * Double(1 << 24))
    let sampled = IDMapper()
    var sampledCounter = StackDistanceCounter(distinct: 1024)
    var est = ShardsEstimate(rate: rate)
    var byDistance: [Int: Int] = [:]
    let batch = AccessBatch()
    // A batch's keys are mapped first (independent lookups that overlap), then counted.
    let ids = UnsafeMutablePointer<Int32>.allocate(capacity: batch.capacity)
    defer { ids.deallocate() }
    var n = 0
    while try reader.read(into: batch) {
        let keys = batch.keys
        let count = batch.count
        for i in 0..<count {
            if i &+ mapAhead < count { mapper.prefetch(keys[i &+ mapAhead]) }
            ids[i] = Int32(truncatingIfNeeded: mapper.map(keys[i]))
        }
        for i in 0..<count {
            if i &+ lookAhead < count { counter.prefetch(Int(ids[i &+ lookAhead])) }
            let key = keys[i]
            let d = counter.access(Int(ids[i]))
            if d == 0 {
                cold += 1
            } else {
                if d >= counts.count {
                    counts += [Int](repeating: 0, count: max(d + 1, 2 * counts.count) - counts.count)
                }
                counts[d] += 1
            }
            if shardsRate != nil && shardsHash(key) < threshold {
                est.sampledAccesses += 1
                let sd = sampledCounter.access(Int(sampled.map(key)))
                if sd == 0 {
                    est.cold += 1
                } else {
                    byDistance[Int((Double(sd) / rate).rounded()), default: 0] += 1
                }
            }
        }
        n += batch.count
        if mapper.count > Int(Int32.max) {
            throw TraceError(file: reader.name, line: 0, column: 0, message: "more than 2^31 distinct pages")
        }
        progress?.update(n, input: reader.position)
    }
    var distances = StackDistances()
    let size = mapper.count + 1
    if counts.count > size {
        counts.removeLast(counts.count - size)
    } else {
        counts += [Int](repeating: 0, count: size - counts.count)
    }
    distances.counts = counts
    distances.cold = cold
    distances.accesses = n
    var result = StreamedCurves(
        distances: distances, shards: nil, distinct: mapper.count, stats: reader.stats)
    if shardsRate != nil {
        est.sampledPages = sampled.count
        est.scaled = byDistance.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        est.expectedAccesses = Double(n) * rate
        result.shards = est
    }
    return result
}

// MARK: - Policies × sizes

/// One cell of a comparison.
public struct CompareCell: Sendable, Equatable {
    /// The policy.
    public var policy: PolicyKind
    /// Its frames.
    public var frames: Int
    /// What it counted.
    public var counts: ReplayCounts
}

/// Runs every policy at every size over `trace`, in parallel on all cores (each cell its own
/// policy; the trace is shared read-only). Cells come back in policies-major order. `progress`
/// counts simulated accesses, of cells × accesses in all.
public func compare(
    _ trace: DenseTrace, policies: [PolicyKind], sizes: [Int], options: PolicyOptions = PolicyOptions(),
    progress: Progress? = nil
) -> [CompareCell] {
    let next = policies.contains(.opt) ? trace.nextUse() : nil
    let jobs = policies.flatMap { p in sizes.map { (p, $0) } }
    progress?.setTotal(jobs.count * trace.count)
    let results = Mutex<[CompareCell?]>([CompareCell?](repeating: nil, count: jobs.count))
    DispatchQueue.concurrentPerform(iterations: jobs.count) { j in
        let (policy, frames) = jobs[j]
        let counts = simulate(
            policy, frames: frames, trace: trace, next: next, options: options, progress: progress)
        results.withLock { $0[j] = CompareCell(policy: policy, frames: frames, counts: counts) }
    }
    return results.withLock { $0.map { $0! } }
}

/// Parses sizes like `64,1%,10%,0.5`: plain integers are frames (1 … `PolicyKind.maxFrames`,
/// 2^40: more can make no difference to a trace of at most 2^31 pages); `N%` and fractions
/// below 1 are shares of the trace's distinct pages (at least one frame).
public func parseSizes(_ text: String, distinct: Int) throws -> [Int] {
    var sizes: [Int] = []
    for raw in text.split(separator: ",") {
        let token = raw.trimmingSpaces()
        if token.hasSuffix("%") {
            guard let v = Double(token.dropLast()), v > 0, v <= 100 else {
                throw TraceError(
                    file: "--frames", line: 0, column: 0,
                    message: "bad size '\(token)': expected N% with 0 < N ≤ 100")
            }
            sizes.append(max(1, Int(Double(distinct) * v / 100)))
        } else if token.contains(".") {
            guard let v = Double(token), v > 0, v <= 1 else {
                throw TraceError(
                    file: "--frames", line: 0, column: 0,
                    message: "bad size '\(token)': expected a fraction in (0, 1]")
            }
            sizes.append(max(1, Int(Double(distinct) * v)))
        } else {
            guard let v = Int(token), v > 0, v <= PolicyKind.maxFrames else {
                throw TraceError(
                    file: "--frames", line: 0, column: 0,
                    message:
                        "bad size '\(token)': expected a frame count 1…\(PolicyKind.maxFrames) (2^40), N% or a fraction"
                )
            }
            sizes.append(v)
        }
    }
    if sizes.isEmpty { throw TraceError(file: "--frames", line: 0, column: 0, message: "no sizes given") }
    return sizes
}

/// Whether sizes need the distinct-page count.
public func sizesAreRelative(_ text: String) -> Bool { text.contains("%") || text.contains(".") }

extension Substring {
    /// The string without leading and trailing spaces.
    func trimmingSpaces() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
