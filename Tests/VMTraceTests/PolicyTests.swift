import Testing
import VMTypes

@testable import VMTrace

/// A random page trace from a seed: a mix of uniform, skewed, looping and bursty stretches over a
/// small universe, so tiny caches, ghosts and reuse all get exercised.
func randomTrace(seed: UInt64, length: Int? = nil, universe: Int? = nil) -> [UInt64] {
    var rng = SeededGenerator(seed: seed)
    let n = length ?? Int(50 + rng.below(550))
    let pages = universe ?? Int(3 + rng.below(60))
    var trace: [UInt64] = []
    while trace.count < n {
        let run = Int(5 + rng.below(40))
        switch rng.below(4) {
        case 0:
            for _ in 0..<run { trace.append(rng.below(UInt64(pages))) }
        case 1:
            // Skewed: squares favour small pages.
            for _ in 0..<run {
                let u = rng.below(UInt64(pages))
                trace.append(u * u / UInt64(pages))
            }
        case 2:
            let start = rng.below(UInt64(pages))
            let width = 1 + rng.below(UInt64(max(1, pages / 2)))
            for i in 0..<run { trace.append((start + UInt64(i) % width) % UInt64(pages)) }
        default:
            let p = rng.below(UInt64(pages))
            for _ in 0..<(run / 4) { trace.append(p) }
        }
    }
    return Array(trace.prefix(n))
}

/// Hits and misses of an optimized policy, as "H"/"m" per access.
func hitString(_ kind: PolicyKind, frames: Int, trace: [UInt64], writes: [Bool]? = nil) -> String {
    let dense = DenseTrace(name: "t", pages: trace, writes: writes)
    let next = dense.nextUse()
    let policy = makePolicy(kind, frames: frames)
    policy.reserve(dense.distinct)
    var s = ""
    for i in 0..<dense.count {
        let n = next[i] == .max ? Int64.max : Int64(next[i])
        s += policy.access(Int32(dense.ids[i]), write: dense.isWrite(i), next: n) ? "H" : "m"
    }
    return s
}

/// Hits and misses of a reference policy.
func referenceHitString(_ get: (UInt64, Int64) -> Bool, trace: [UInt64]) -> String {
    let dense = DenseTrace(name: "t", pages: trace)
    let next = dense.nextUse()
    var s = ""
    for i in 0..<trace.count {
        s += get(trace[i], next[i] == .max ? Int64.max : Int64(next[i])) ? "H" : "m"
    }
    return s
}

/// A reference for `kind` with `frames`, or nil when there is none.
func reference(_ kind: PolicyKind, frames c: Int) -> ((UInt64, Int64) -> Bool)? {
    switch kind {
    case .fifo:
        let r = RefFIFO(capacity: c)
        return { r.get($0, next: $1) }
    case .lru:
        let r = RefLRU(capacity: c)
        return { r.get($0, next: $1) }
    case .lfu:
        let r = RefLFU(capacity: c)
        return { r.get($0, next: $1) }
    case .clock, .secondChance:
        let r = RefClock(capacity: c)
        return { r.get($0, next: $1) }
    case .clock2:
        let r = RefClock(capacity: c, bits: 2)
        return { r.get($0, next: $1) }
    case .sieve:
        let r = RefSieve(capacity: c)
        return { r.get($0, next: $1) }
    case .arc:
        let r = RefARC(capacity: c)
        return { r.get($0, next: $1) }
    case .twoq:
        let r = RefTwoQ(capacity: c)
        return { r.get($0, next: $1) }
    case .lirs:
        let r = RefLIRS(capacity: c)
        return { r.get($0, next: $1) }
    case .s3fifo:
        let r = RefS3FIFO(capacity: c)
        return { r.get($0, next: $1) }
    case .opt:
        let r = RefBelady(capacity: c)
        return { r.get($0, next: $1) }
    case .mru:
        let r = BruteMRU(capacity: c)
        return { r.get($0, next: $1) }
    case .linux:
        let r = BruteLinuxLRU(capacity: c)
        return { r.get($0, next: $1) }
    case .clockpro:
        let r = BruteClockPro(capacity: c)
        return { r.get($0, next: $1) }
    case .mglru:
        let r = BruteMGLRU(capacity: c)
        return { r.get($0, next: $1) }
    case .random: return nil
    }
}

/// Sizes that cover the tiny-cache rules (2Q below 4, S3-FIFO below 10 and 20, LIRS at 1).
let testSizes = [1, 2, 3, 4, 5, 7, 9, 10, 11, 19, 20, 21, 25, 33, 48, 64]

@Suite struct PolicyTests {
    /// Every policy with a reference gives the reference's hit/miss sequence exactly, on random
    /// traces at every interesting size: the libCacheSim ports (FIFO, LRU, LFU, CLOCK 1- and
    /// 2-bit, SIEVE, ARC, 2Q, LIRS, S3-FIFO, Belady) against naive line-by-line ports of its C
    /// code, the others (MRU, Linux, MGLRU, CLOCK-Pro) against brute-force versions of their rules.
    @Test(arguments: PolicyKind.allCases.filter { $0 != .random })
    func matchesItsReferenceOnRandomTraces(_ kind: PolicyKind) {
        for seed in 1...40 as ClosedRange<UInt64> {
            let trace = randomTrace(seed: seed &* 7919 &+ UInt64(kind.hashValue & 0))
            for frames in testSizes {
                guard let ref = reference(kind, frames: frames) else { continue }
                let expected = referenceHitString(ref, trace: trace)
                let got = hitString(kind, frames: frames, trace: trace)
                if got != expected {
                    let at =
                        zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1
                    Issue.record(
                        "\(kind.rawValue), \(frames) frames, seed \(seed): first difference at access \(at) of \(trace.count)"
                    )
                    return
                }
            }
        }
    }

    /// Belady's anomaly: FIFO faults more with 4 frames than with 3 on 1,2,3,4,1,2,5,1,2,3,4,5;
    /// LRU (a stack algorithm) and OPT do not.
    @Test func beladysAnomalyShowsInFIFOOnly() {
        let trace: [UInt64] = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5]
        func misses(_ kind: PolicyKind, _ frames: Int) -> Int {
            simulate(kind, frames: frames, trace: DenseTrace(name: "b", pages: trace)).misses
        }
        #expect(misses(.fifo, 3) == 9)
        #expect(misses(.fifo, 4) == 10)
        #expect(misses(.lru, 3) == 10)
        #expect(misses(.lru, 4) == 8)
        #expect(misses(.opt, 3) == 7)
        #expect(misses(.opt, 4) == 6)
    }

    /// The textbook reference string 7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1 with 3 frames:
    /// OPT 9, LRU 12, FIFO 15 page faults (Silberschatz, Operating System Concepts, ch. 10).
    @Test func textbookReferenceStringFaultCounts() {
        let trace: [UInt64] = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]
        let dense = DenseTrace(name: "s", pages: trace)
        #expect(simulate(.opt, frames: 3, trace: dense).misses == 9)
        #expect(simulate(.lru, frames: 3, trace: dense).misses == 12)
        #expect(simulate(.fifo, frames: 3, trace: dense).misses == 15)
    }

    /// libCacheSim's tiny-cache rules: 2Q caches nothing below 4 frames, S3-FIFO below 20 and
    /// LIRS with 1 frame — every access misses.
    @Test func tinyCachesMissEverythingWhereLibCacheSimDoes() {
        let trace = randomTrace(seed: 99, length: 400, universe: 5)
        let dense = DenseTrace(name: "t", pages: trace)
        for c in 1...3 { #expect(simulate(.twoq, frames: c, trace: dense).hits == 0) }
        #expect(simulate(.twoq, frames: 4, trace: dense).hits > 0)
        for c in [1, 9, 10, 19] { #expect(simulate(.s3fifo, frames: c, trace: dense).hits == 0) }
        #expect(simulate(.lirs, frames: 1, trace: dense).hits == 0)
        #expect(simulate(.lirs, frames: 2, trace: dense).hits > 0)
        let wide = DenseTrace(name: "w", pages: randomTrace(seed: 5, length: 2000, universe: 30))
        #expect(simulate(.s3fifo, frames: 20, trace: wide).hits > 0)
    }

    /// OPT misses no more than any other policy (LIRS aside: libCacheSim's LIRS can hold more
    /// pages than it has frames, see its doc comment), and LRU's misses never grow with more
    /// frames (the inclusion property).
    @Test func optIsALowerBoundAndLRUIsAStackAlgorithm() {
        for seed in 1...25 as ClosedRange<UInt64> {
            let dense = DenseTrace(name: "t", pages: randomTrace(seed: seed))
            var previousLRU = Int.max
            for frames in 1...20 {
                let opt = simulate(.opt, frames: frames, trace: dense).misses
                for kind in PolicyKind.allCases where kind != .opt && kind != .lirs {
                    #expect(simulate(kind, frames: frames, trace: dense).misses >= opt, "\(kind) \(frames)")
                }
                let lru = simulate(.lru, frames: frames, trace: dense).misses
                #expect(lru <= previousLRU)
                previousLRU = lru
            }
        }
    }

    /// Evictions and dirty evictions add up: each miss into full frames evicts one page, and a
    /// page written while resident is dirty when it goes.
    @Test(arguments: [
        PolicyKind.fifo, .lru, .clock, .sieve, .arc, .opt, .lfu, .random, .linux, .mru, .clockpro, .mglru,
    ])
    func evictionsFollowMissesAndWrites(_ kind: PolicyKind) {
        let trace = randomTrace(seed: 3, length: 3000, universe: 40)
        var rng = SeededGenerator(seed: 11)
        let writes = trace.map { _ in rng.below(3) == 0 }
        let dense = DenseTrace(name: "t", pages: trace, writes: writes)
        let frames = 10
        let counts = simulate(kind, frames: frames, trace: dense)
        #expect(counts.evictions == counts.misses - frames)
        #expect(counts.dirtyEvictions > 0 && counts.dirtyEvictions < counts.evictions)
        // A read-only trace evicts nothing dirty.
        #expect(
            simulate(kind, frames: frames, trace: DenseTrace(name: "r", pages: trace)).dirtyEvictions == 0)
    }

    /// Random replacement is seeded: the same seed repeats exactly, another seed differs, and on
    /// a uniform trace its miss ratio is about 1 − frames/pages.
    @Test func randomIsSeededAndBehavesLikeRandom() {
        var rng = SeededGenerator(seed: 4)
        let trace = (0..<40_000).map { _ in rng.below(200) }
        let dense = DenseTrace(name: "u", pages: trace)
        var a = PolicyOptions()
        a.seed = 7
        var b = PolicyOptions()
        b.seed = 8
        let first = simulate(.random, frames: 50, trace: dense, options: a)
        #expect(simulate(.random, frames: 50, trace: dense, options: a) == first)
        #expect(simulate(.random, frames: 50, trace: dense, options: b) != first)
        #expect(abs(first.missRatio - 0.75) < 0.02)
    }

    /// Streaming replay (ids mapped on the way, oracleGeneral next-use times for OPT) counts
    /// exactly what the in-memory replay counts.
    @Test(arguments: PolicyKind.allCases)
    func streamingAndInMemoryReplayAgree(_ kind: PolicyKind) throws {
        let trace = randomTrace(seed: 21, length: 5000, universe: 300).map { $0 * 7 + 100 }
        var bytes: [UInt8] = []
        let dense = DenseTrace(name: "t", pages: trace)
        let next = dense.nextUse()
        for (i, page) in trace.enumerated() {
            withUnsafeBytes(of: UInt32(i).littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: page.littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(4096).littleEndian) { bytes.append(contentsOf: $0) }
            let n: Int64 = next[i] == .max ? -1 : Int64(next[i]) + 1
            withUnsafeBytes(of: n.littleEndian) { bytes.append(contentsOf: $0) }
        }
        var options = TraceOptions()
        options.format = .oracleGeneral
        let reader = try openTrace(bytes: bytes, name: "t.oracleGeneral", options: options)
        let (streamed, distinct) = try simulate(kind, frames: 37, reader: reader)
        #expect(distinct == dense.distinct)
        #expect(streamed == simulate(kind, frames: 37, trace: dense))
    }
}

// MARK: - Brute-force references for the policies libCacheSim does not define (or vmsim changes)

/// MRU: on a miss into full frames the most recently used resident page goes.
final class BruteMRU {
    let capacity: Int
    var pages: [UInt64] = []  // most recent first
    init(capacity: Int) { self.capacity = capacity }
    func get(_ id: UInt64, next: Int64) -> Bool {
        if let i = self.pages.firstIndex(of: id) {
            self.pages.remove(at: i)
            self.pages.insert(id, at: 0)
            return true
        }
        if self.pages.count >= self.capacity { self.pages.removeFirst() }
        self.pages.insert(id, at: 0)
        return false
    }
}

/// Linux's two lists as the doc comment of `LinuxLRUPolicy` states them, with arrays.
final class BruteLinuxLRU {
    struct Page {
        var id: UInt64
        var young: Bool
        var referenced: Bool
    }
    let capacity: Int
    var active: [Page] = []  // head first
    var inactive: [Page] = []
    let ratio: Int
    init(capacity: Int) {
        self.capacity = capacity
        let gb = capacity >> 18
        self.ratio = gb > 0 ? Int(Double(10 * gb).squareRoot()) : 1
    }
    func get(_ id: UInt64, next: Int64) -> Bool {
        if let i = self.active.firstIndex(where: { $0.id == id }) {
            self.active[i].young = true
            return true
        }
        if let i = self.inactive.firstIndex(where: { $0.id == id }) {
            self.inactive[i].young = true
            return true
        }
        if self.active.count + self.inactive.count >= self.capacity {
            while true {
                if self.inactive.isEmpty || self.inactive.count * self.ratio < self.active.count {
                    var moved = 0
                    while moved < 32, var p = self.active.popLast() {
                        p.young = false
                        self.inactive.insert(p, at: 0)
                        moved += 1
                    }
                }
                var p = self.inactive.removeLast()
                if p.young {
                    p.young = false
                    if p.referenced {
                        self.active.insert(p, at: 0)
                    } else {
                        p.referenced = true
                        self.inactive.insert(p, at: 0)
                    }
                    continue
                }
                break
            }
        }
        self.inactive.insert(Page(id: id, young: true, referenced: false), at: 0)
        return false
    }
}

/// MGLRU as the doc comment of `MGLRUPolicy` states it, with arrays: lists keyed by the full
/// sequence number (not `seq % 4`), pages by their own dense ids.
final class BruteMGLRU {
    struct Page {
        var seq: Int
        var young = true
        var referenced = false
        var workingset = false
    }
    let capacity: Int
    var ids: [UInt64: Int] = [:]
    var pages: [Int: Page] = [:]
    var lists: [Int: [Int]] = [:]  // seq -> ids, head first
    var minSeq = 0
    var maxSeq = 3
    init(capacity: Int) { self.capacity = capacity }

    func get(_ key: UInt64, next: Int64) -> Bool {
        let id = self.ids[key] ?? self.ids.count
        self.ids[key] = id
        if self.pages[id] != nil {
            self.pages[id]!.young = true
            return true
        }
        if self.pages.count >= self.capacity { self.reclaim() }
        self.put(id, Page(seq: max(self.maxSeq - 1, self.minSeq)))
        return false
    }

    func put(_ id: Int, _ p: Page) {
        self.pages[id] = p
        self.lists[p.seq, default: []].insert(id, at: 0)
    }

    /// A young page seen by a walk: first PG_referenced, then promotion to max_seq.
    func seen(_ p: inout Page) {
        p.young = false
        if !p.referenced && !p.workingset {
            p.referenced = true
        } else {
            p.seq = self.maxSeq
            p.referenced = false
            p.workingset = true
        }
    }

    func incMin() {
        while self.minSeq + 2 <= self.maxSeq && (self.lists[self.minSeq] ?? []).isEmpty { self.minSeq += 1 }
    }

    func age() {
        for id in self.pages.keys where self.pages[id]!.young { self.seen(&self.pages[id]!) }
        self.maxSeq += 1
    }

    func reclaim() {
        var below = self.pages.count < 4096
        while true {
            let alive = self.maxSeq - self.minSeq + 1
            if below && alive < 4 {
                self.age()
                continue
            }
            if !below && alive <= 2 {
                below = true
                continue
            }
            guard let id = self.lists[self.minSeq]?.popLast() else {
                self.incMin()
                continue
            }
            var p = self.pages[id]!
            if p.seq != self.minSeq {
                self.lists[p.seq, default: []].insert(id, at: 0)
                continue
            }
            self.pages[id] = nil
            self.incMin()
            if !p.young { return }
            p.young = false
            let block = id / 512 * 512
            let low = min(max(id - 32, block), block + 512 - 64)
            for n in low..<(low + 64) where self.pages[n]?.young == true { self.seen(&self.pages[n]!) }
            if !p.referenced && !p.workingset {
                p.seq = max(self.maxSeq - 1, self.minSeq)
                p.referenced = p.seq != self.minSeq
            } else {
                p.seq = self.maxSeq
                p.referenced = false
                p.workingset = true
            }
            self.put(id, p)
        }
    }
}

/// CLOCK-Pro as dgryski/go-clockpro runs it: a list with index-tracked hands (its
/// `hand_idx_*`/`hand_pos_*` arithmetic), ported literally to an array.
final class BruteClockPro {
    enum Kind { case test, cold, hot }
    struct Entry {
        var id: UInt64
        var kind: Kind
        var ref: Bool
    }
    let memMax: Int
    var memCold: Int
    var meta: [Entry] = []
    var hot = 0
    var cold = 0
    var test = 0
    var countHot = 0
    var countCold = 0
    var countTest = 0
    var hotRunning = false

    init(capacity: Int) {
        self.memMax = capacity
        self.memCold = capacity
    }

    func get(_ id: UInt64, next: Int64) -> Bool {
        if let i = self.meta.firstIndex(where: { $0.id == id }) {
            if self.meta[i].kind != .test {
                self.meta[i].ref = true
                return true
            }
            if self.memCold < self.memMax { self.memCold += 1 }
            self.countTest -= 1
            self.delete(i)
            self.add(Entry(id: id, kind: .hot, ref: false))
            self.countHot += 1
            return false
        }
        self.add(Entry(id: id, kind: .cold, ref: false))
        self.countCold += 1
        return false
    }

    func add(_ e: Entry) {
        while self.memMax <= self.countHot + self.countCold { self.handCold() }
        if self.meta.isEmpty {
            self.meta = [e]
            (self.hot, self.cold, self.test) = (0, 0, 0)
            return
        }
        let at = self.hot
        self.meta.insert(e, at: at)
        // Hands at or after the insertion point keep their entries (one index further), except
        // the cold hand when it sat with the hot hand: it moves to the new entry.
        if self.cold > at { self.cold += 1 }
        if self.test >= at { self.test += 1 }
        self.hot += 1
    }

    func delete(_ i: Int) {
        for hand in [\BruteClockPro.hot, \BruteClockPro.cold, \BruteClockPro.test]
        where self[keyPath: hand] == i {
            self[keyPath: hand] = i == 0 ? self.meta.count - 1 : i - 1
        }
        self.meta.remove(at: i)
        for hand in [\BruteClockPro.hot, \BruteClockPro.cold, \BruteClockPro.test]
        where self[keyPath: hand] > i {
            self[keyPath: hand] -= 1
        }
        for hand in [\BruteClockPro.hot, \BruteClockPro.cold, \BruteClockPro.test]
        where self[keyPath: hand] >= self.meta.count {
            self[keyPath: hand] = max(0, self.meta.count - 1)
        }
    }

    func advance(_ hand: ReferenceWritableKeyPath<BruteClockPro, Int>) {
        self[keyPath: hand] = (self[keyPath: hand] + 1) % self.meta.count
    }

    func handCold() {
        let i = self.cold
        if self.meta[i].kind == .cold {
            if self.meta[i].ref {
                self.meta[i].kind = .hot
                self.meta[i].ref = false
                self.countCold -= 1
                self.countHot += 1
            } else {
                self.meta[i].kind = .test
                self.countCold -= 1
                self.countTest += 1
                while self.memMax < self.countTest { self.handTest() }
            }
        }
        self.advance(\.cold)
        // As vmsim does where go-clockpro would recurse forever: no nested hot-hand run.
        if !self.hotRunning {
            self.hotRunning = true
            while self.memMax - self.memCold < self.countHot { self.handHot() }
            self.hotRunning = false
        }
    }

    func handHot() {
        if self.hot == self.test { self.handTest() }
        let i = self.hot
        if self.meta[i].kind == .hot {
            if self.meta[i].ref {
                self.meta[i].ref = false
            } else {
                self.meta[i].kind = .cold
                self.countHot -= 1
                self.countCold += 1
            }
        }
        self.advance(\.hot)
    }

    func handTest() {
        if self.test == self.cold { self.handCold() }
        let i = self.test
        if self.meta[i].kind == .test {
            self.delete(i)  // the test hand steps back to the predecessor
            self.countTest -= 1
            if self.memCold > 1 { self.memCold -= 1 }
        }
        self.advance(\.test)
    }
}

// MARK: - MGLRU, by hand

/// MGLRU's rules on small traces worked out by hand. Pages are first touched in the order 0, 1,
/// 2, … so their dense ids are the page numbers.
@Suite struct MGLRUPolicyTests {
    /// Replays `pages` through a fresh MGLRU policy; "H"/"m" per access.
    func run(_ frames: Int, _ pages: [Int32], on policy: MGLRUPolicy? = nil) -> (MGLRUPolicy, String) {
        let p = policy ?? MGLRUPolicy(frames: frames, options: PolicyOptions())
        var s = ""
        for id in pages { s += p.access(id, write: false, next: .max) ? "H" : "m" }
        return (p, s)
    }

    /// The generations as (seq, pages) pairs, comparable with `==`.
    func gens(_ p: MGLRUPolicy) -> [[Int32]] { p.generations.map { [Int32($0.seq)] + $0.pages } }

    /// A fresh policy has `lru_gen_init_lruvec()`'s window 0...3, and faulted-in pages join
    /// `maxSeq - 1`, head first, with the Accessed bit set.
    @Test func newPagesJoinTheSecondYoungestGeneration() {
        let (p, s) = run(4, [0, 1, 2])
        #expect(s == "mmm")
        #expect(p.minSeq == 0 && p.maxSeq == 3)
        #expect(gens(p) == [[0], [1], [2, 2, 1, 0], [3]])
        #expect(p.generation(of: 1) == 2)
        #expect(p.referenceBits(1) == (true, false, false))
    }

    /// The first eviction (4 frames, page 4 misses): generations 0 and 1 are empty, so minSeq
    /// moves to 2 and two generations are left; below 4096 resident pages reclaim ages until four
    /// are alive. The first walk only sets PG_referenced on the four young pages, the second finds
    /// none young; page 0, at the tail of generation 2 and not young, goes. Page 4 joins
    /// maxSeq − 1 = 4.
    @Test func theFirstEvictionAgesTwiceAndTakesTheOldestTail() {
        let (p, s) = run(4, [0, 1, 2, 3, 4])
        #expect(s == "mmmmm")
        #expect(p.agings == 2 && p.promotions == 0)
        #expect(p.minSeq == 2 && p.maxSeq == 5)
        #expect(gens(p) == [[2, 3, 2, 1], [3], [4, 4], [5]])
        #expect(p.referenceBits(1) == (false, true, false))
        #expect(p.referenceBits(4) == (true, false, false))
        #expect(p.stats.evictions == 1)
    }

    /// Then page 1 is touched and page 5 misses. Page 1 is at the tail, young and already
    /// PG_referenced: activated into maxSeq = 5 with PG_workingset. Its look-around finds page 4
    /// young for the first time (PG_referenced, no promotion). Page 2, same generation, not
    /// touched, is evicted instead.
    @Test func aPageYoungAtTheTailTwiceIsActivatedItsUntouchedNeighbourEvicted() {
        let (p, s) = run(4, [0, 1, 2, 3, 4, 1, 5])
        #expect(s == "mmmmmHm")
        #expect(p.activations == 1 && p.lookAroundPromotions == 0 && p.agings == 2)
        #expect(gens(p) == [[2, 3], [3], [4, 5, 4], [5, 1]])
        #expect(p.referenceBits(1) == (false, false, true))
        #expect(p.referenceBits(4) == (false, true, false))
    }

    /// Then page 4 is touched, page 6 misses (page 3 goes; generations 2 and 3 are empty now, so
    /// minSeq jumps to 4), and page 7 misses. Two generations are left: the first aging walk
    /// finds page 4 young and PG_referenced and promotes it to maxSeq = 5 (lazily: it stays on
    /// generation 4's list), pages 5 and 6 get PG_referenced; the second finds nothing. Eviction
    /// then meets page 4 at the tail of generation 4, moves it to generation 5, and evicts page 5 —
    /// of the same generation as page 4, but not touched since its fault.
    @Test func aPageTouchedAgainSurvivesAnAgingAnUntouchedOneOfItsGenerationDoesNot() {
        let (p, s) = run(4, [0, 1, 2, 3, 4, 1, 5, 4, 6])
        #expect(s == "mmmmmHmHm")
        #expect(p.minSeq == 4 && p.maxSeq == 5)
        #expect(gens(p) == [[4, 6, 5, 4], [5, 1]])
        _ = run(4, [7], on: p)
        #expect(p.agings == 4 && p.promotions == 1)
        #expect(gens(p) == [[4, 6], [5, 4, 1], [6, 7], [7]])
        #expect(p.generation(of: 5) == nil)
        #expect(p.referenceBits(4) == (false, false, true))
    }

    /// Look-around: pages 1 and 2 touched after the first eviction; page 5's miss finds page 1
    /// young at the tail, and its look-around promotes page 2 (young, PG_referenced from the
    /// walk) to maxSeq without scanning it. Page 1 is activated; eviction then moves page 2 to
    /// generation 5 and evicts page 3.
    @Test func lookAroundPromotesYoungNeighboursOfTheSamePageTable() {
        let (p, s) = run(4, [0, 1, 2, 3, 4, 1, 2, 5])
        #expect(s == "mmmmmHHm")
        #expect(p.lookAroundPromotions == 1 && p.activations == 1)
        #expect(gens(p) == [[4, 5, 4], [5, 2, 1]])
        #expect(p.referenceBits(4) == (false, true, false))
    }

    /// Look-around stays within the page's 512-page table. Pages 0, 600 and 601 fault in after
    /// page 599, which 602's miss evicts; 0 and 600 are touched, and 603 misses. Page 0 is at the
    /// tail, young: its look-around covers pages 0…63 only, so page 600 is not promoted from
    /// there — eviction meets it young and activates it itself (a second activation), and its
    /// own look-around (568…631) gives page 602 PG_referenced. Page 601 goes.
    @Test func lookAroundStaysWithinOnePageTable() {
        let (p, _) = run(4, [599, 0, 600, 601, 602])
        #expect(gens(p) == [[2, 601, 600, 0], [3], [4, 602], [5]])
        _ = run(4, [0, 600, 603], on: p)
        #expect(p.lookAroundPromotions == 0 && p.activations == 2)
        #expect(gens(p) == [[4, 603, 602], [5, 600, 0]])
        #expect(p.referenceBits(602) == (false, true, false))
    }

    /// At 4096 resident pages or more the default-priority pass evicts with three generations
    /// alive; below that reclaim ages first. Trace: fill N pages, miss (two agings, page 0 goes),
    /// touch page 1, then misses: page 1 is activated into generation 5, pages 2…N−1 go, two more
    /// agings, the N − 1 first misses go. Generation 5 (page 1) is then the oldest of three; one
    /// more miss evicts page 1 — with no aging at N = 4096, after a fifth at N = 4095.
    @Test(arguments: [4095, 4096])
    func theDefaultPriorityPassEvictsAtThreeGenerationsFrom4096Pages(frames: Int) {
        let p = MGLRUPolicy(frames: frames, options: PolicyOptions())
        let n = Int32(frames)
        p.reserve(3 * frames)
        _ = run(frames, Array(0..<n) + [n, 1] + Array((n + 1)...(3 * n - 3)), on: p)
        #expect(p.agings == 4 && p.minSeq == 5 && p.maxSeq == 7 && p.generation(of: 1) == 5)
        _ = run(frames, [3 * n - 2], on: p)
        #expect(p.generation(of: 1) == nil)
        #expect(p.agings == (frames >= 4096 ? 4 : 5))
    }

    /// On random traces: 2…4 generations alive, never more pages than frames, each resident page
    /// in exactly one generation, hits + misses = accesses, evictions = misses − resident pages.
    @Test func invariantsHoldOnRandomTraces() {
        for seed in UInt64(1)...30 {
            let trace = randomTrace(seed: seed &* 104_729)
            let dense = DenseTrace(name: "t", pages: trace)
            for frames in [1, 2, 3, 5, 8, 16, 40] {
                let p = MGLRUPolicy(frames: frames, options: PolicyOptions())
                p.reserve(dense.distinct)
                var hits = 0
                var misses = 0
                for i in 0..<dense.count {
                    if p.access(Int32(dense.ids[i]), write: false, next: .max) {
                        hits += 1
                    } else {
                        misses += 1
                    }
                    let alive = p.maxSeq - p.minSeq + 1
                    let pages = p.generations.flatMap(\.pages)
                    if !(2...4).contains(alive) || pages.count > frames || Set(pages).count != pages.count {
                        Issue.record(
                            "seed \(seed), \(frames) frames, access \(i): \(alive) generations, \(pages)")
                        return
                    }
                }
                let resident = p.generations.reduce(0) { $0 + $1.pages.count }
                #expect(hits + misses == dense.count)
                #expect(p.stats.evictions == misses - resident)
            }
        }
    }

    /// Scan resistance, and where it ends. 16 hot pages are touched in turn, each round followed
    /// by pages used once; 64 frames. Ten rounds with 16 such pages, where the hot pages stay,
    /// then 40 rounds with `sweep` of them, counted from the second. Between two touches of a hot
    /// page LRU sees 15 + `sweep` ≥ 64 other pages and misses every one. MGLRU keeps a hot page
    /// while it is touched again before eviction reaches it, about one pass over the frames after
    /// its last promotion: at 49 sweep pages mostly, at 64 hardly ever. The two-list `linux` keeps
    /// them all, since its active list is aged only when the inactive list runs low. The kernel's
    /// MGLRU would also protect them through refaults (PG_workingset restored, tier 3 protected by
    /// the PID controller), which this model leaves out.
    @Test(arguments: [49, 64])
    func aLoopOfHotPagesAgainstASweep(sweep: Int) {
        var trace: [UInt64] = []
        var counted: [Bool] = []
        var next: UInt64 = 1000
        for round in 0..<50 {
            for h in 0..<16 {
                trace.append(UInt64(h))
                counted.append(round >= 11)
            }
            for _ in 0..<(round < 10 ? 16 : sweep) {
                trace.append(next)
                counted.append(false)
                next += 1
            }
        }
        func hotHits(_ kind: PolicyKind) -> Int {
            let s = Array(hitString(kind, frames: 64, trace: trace))
            return (0..<s.count).filter { counted[$0] && s[$0] == "H" }.count
        }
        #expect(hotHits(.lru) == 0)
        #expect(hotHits(.linux) == 39 * 16)
        if sweep == 49 {
            #expect(hotHits(.mglru) >= 39 * 16 * 3 / 4)
        } else {
            #expect(hotHits(.mglru) <= 39 * 16 / 10)
        }
    }

    /// The same trace gives the same hits, counters and generations.
    @Test func isDeterministic() {
        let trace = randomTrace(seed: 77, length: 5000, universe: 200)
        let dense = DenseTrace(name: "t", pages: trace)
        func once() -> (String, [Int], [[Int32]]) {
            let p = MGLRUPolicy(frames: 37, options: PolicyOptions())
            p.reserve(dense.distinct)
            var s = ""
            for i in 0..<dense.count {
                s += p.access(Int32(dense.ids[i]), write: false, next: .max) ? "H" : "m"
            }
            return (
                s, [p.agings, p.promotions, p.lookAroundPromotions, p.activations, p.stats.evictions], gens(p)
            )
        }
        let a = once()
        let b = once()
        #expect(a.0 == b.0 && a.1 == b.1 && a.2 == b.2)
        #expect(a.1[0] > 0 && a.1[1] > 0 && a.1[2] > 0 && a.1[3] > 0)
    }
}

// MARK: - Evictions asked from outside (kernel-mode reclaim)

@Suite struct ExternalEvictionTests {
    /// Runs `trace` through a policy sized `frames + slack`, asking it for a victim from outside
    /// whenever more than `frames` pages would be resident — as kernel reclaim does.
    func externallyEvicted(_ kind: PolicyKind, frames: Int, slack: Int, trace: [UInt64]) -> String {
        let dense = DenseTrace(name: "t", pages: trace)
        let next = dense.nextUse()
        let policy = makePolicy(kind, frames: frames + slack)
        policy.reserve(dense.distinct)
        var resident = Set<Int32>()
        var s = ""
        for i in 0..<dense.count {
            let id = Int32(dense.ids[i])
            if !resident.contains(id) && resident.count == frames {
                guard let victim = policy.evict() else { return s + "!" }
                resident.remove(victim)
            }
            let hit = policy.access(id, write: false, next: next[i] == .max ? .max : Int64(next[i]))
            if !hit { resident.insert(id) }
            s += hit ? "H" : "m"
        }
        return s
    }

    /// For the policies whose eviction does not depend on their size, a policy with spare frames
    /// whose victims are taken from outside behaves exactly like one of the smaller size.
    @Test(arguments: [PolicyKind.fifo, .lru, .mru, .lfu, .clock, .clock2, .sieve, .opt, .linux, .mglru])
    func outsideEvictionEqualsASmallerCache(_ kind: PolicyKind) {
        for seed in UInt64(1)...12 {
            let trace = randomTrace(seed: seed)
            for frames in [1, 2, 5, 9] {
                #expect(
                    externallyEvicted(kind, frames: frames, slack: 50, trace: trace)
                        == hitString(kind, frames: frames, trace: trace),
                    "\(kind) seed \(seed) frames \(frames)")
            }
        }
    }

    /// Every policy drains: the victims are distinct pages that were resident, the counters count
    /// them, nothing is left, and each drained page misses when touched again.
    @Test(arguments: PolicyKind.allCases)
    func everyPolicyDrainsItsResidentPages(_ kind: PolicyKind) {
        let trace = randomTrace(seed: 5, length: 2000, universe: 60)
        let dense = DenseTrace(name: "t", pages: trace)
        let policy = makePolicy(kind, frames: 30)
        policy.reserve(dense.distinct)
        for i in 0..<dense.count { _ = policy.access(Int32(dense.ids[i]), write: i % 3 == 0, next: .max) }
        let before = policy.stats.evictions
        var drained: [Int32] = []
        while let v = policy.evict() {
            drained.append(v)
            if drained.count > 100 { break }
        }
        #expect(Set(drained).count == drained.count)
        #expect(drained.count >= 20 && drained.count <= 30, "\(kind) drained \(drained.count)")
        #expect(policy.stats.evictions - before == drained.count)
        #expect(policy.evict() == nil)
        for v in drained { #expect(!policy.access(v, write: false, next: .max), "\(kind) page \(v)") }
    }

    /// The order a drain yields pages in is the policy's: LRU least recent first, MRU most recent
    /// first, FIFO oldest load first, OPT farthest next use first.
    @Test func drainOrderIsThePolicysOrder() {
        let trace: [UInt64] = [1, 2, 3, 4, 2, 1, 5, 3]
        func drain(_ kind: PolicyKind, nexts: [Int64]) -> [UInt64] {
            let dense = DenseTrace(name: "t", pages: trace)
            let policy = makePolicy(kind, frames: 10)
            policy.reserve(dense.distinct)
            for i in 0..<dense.count { _ = policy.access(Int32(dense.ids[i]), write: false, next: nexts[i]) }
            var out: [UInt64] = []
            while let v = policy.evict() { out.append(trace[dense.ids.firstIndex(of: UInt32(v))!]) }
            return out
        }
        let never = [Int64](repeating: .max, count: trace.count)
        #expect(drain(.lru, nexts: never) == [4, 2, 1, 5, 3])
        #expect(drain(.mru, nexts: never) == [3, 5, 1, 2, 4])
        #expect(drain(.fifo, nexts: never) == [1, 2, 3, 4, 5])
        // Next uses after the trace: page 3 at 20, 1 at 30, 5 at 10, the others never.
        var nexts = never
        nexts[5] = 30
        nexts[6] = 10
        nexts[7] = 20
        let opt = drain(.opt, nexts: nexts)
        #expect(Set(opt.prefix(2)) == [2, 4])
        #expect(Array(opt.suffix(3)) == [1, 3, 5])
    }
}

/// Host memory follows the pages a policy sees, never its frame count.
@Suite struct PolicySizingTests {
    /// With at least as many frames as pages nothing is evicted, so every count above that gives
    /// the same hits — and sizing a table by 2^40 frames (terabytes) would fail outright, so
    /// passing proves the tables follow the pages seen. `Int.max` is clamped, not overflowed.
    @Test(arguments: PolicyKind.allCases)
    func framesBeyondThePagesSeenCostNothingAndChangeNothing(kind: PolicyKind) {
        let trace = randomTrace(seed: 42, length: 6000, universe: 3000)
        let distinct = Set(trace).count
        let expected = hitString(kind, frames: distinct, trace: trace)
        for frames in [1 << 32, PolicyKind.maxFrames, Int.max] {
            #expect(
                hitString(kind, frames: frames, trace: trace) == expected, "\(kind) with \(frames) frames")
        }
        let counts = simulate(kind, frames: Int.max, trace: DenseTrace(name: "t", pages: trace))
        #expect(counts.evictions == 0 && counts.misses == distinct)
    }

    /// Tables that grow while pages are resident (a ring that has wrapped, a heap, lazy lists
    /// mid-compaction) keep every page: reserving a few ids at a time gives the same hits as
    /// reserving them all up front.
    @Test(arguments: PolicyKind.allCases)
    func growingTablesMidRunKeepTheirPages(kind: PolicyKind) {
        let trace = randomTrace(seed: 7, length: 20000, universe: 2500)
        let dense = DenseTrace(name: "t", pages: trace)
        let next = dense.nextUse()
        for frames in [3, 700, 1500, 1 << 32] {
            let policy = makePolicy(kind, frames: frames)
            var reserved = 0
            var s = ""
            for i in 0..<dense.count {
                let id = Int(dense.ids[i])
                if id >= reserved {
                    reserved = id + 1 + i % 5
                    policy.reserve(reserved)
                }
                let n = next[i] == .max ? Int64.max : Int64(next[i])
                s += policy.access(Int32(id), write: dense.isWrite(i), next: n) ? "H" : "m"
            }
            #expect(s == hitString(kind, frames: frames, trace: trace), "\(kind) with \(frames) frames")
        }
    }
}
