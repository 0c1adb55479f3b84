/// ARC (Megiddo and Modha, FAST 2003), exactly as libCacheSim's `ARC.c` (commit 7e3f484): T1
/// holds pages seen once recently, T2 pages seen at least twice; their ghosts B1 and B2
/// remember evicted pages, and a ghost hit (still a miss) moves the target size `p` of T1 —
/// up after a B1 hit, down after a B2 hit, by max(|B2|/|B1|, 1) or max(|B1|/|B2|, 1) as a
/// `Double` — and loads the page straight into T2.
///
/// libCacheSim's details kept: `p` is a `Double` compared with integer list sizes;
/// REPLACE evicts from T1 when `|T1| > 0 && (|T1| > p || (|T1| == p && x ∈ B2))` or when T2 is
/// empty; on a miss everywhere with |T1| + |B1| = c and B1 empty, T1's tail is dropped without a
/// ghost; B2's tail goes only when all four lists hold 2c pages.
public final class ARCPolicy: ReplacementPolicy {
    let frames: Int
    /// Fields: lazy-list slot, state (list tag: 0 none, 1 T1, 2 T2, 3 B1, 4 B2; bit 4 dirty).
    @exclusivity(unchecked) var nodes = NodeTable(stride: 2, fills: [0, 0])
    @exclusivity(unchecked) var t1: LazyList
    @exclusivity(unchecked) var t2: LazyList
    @exclusivity(unchecked) var b1: LazyList
    @exclusivity(unchecked) var b2: LazyList
    @exclusivity(unchecked) var p = 0.0
    @exclusivity(unchecked) var inB1 = false
    @exclusivity(unchecked) var inB2 = false
    @exclusivity(unchecked) var ghostHitTime: Int64 = -1
    @exclusivity(unchecked) var requests: Int64 = 0
    @exclusivity(unchecked) var lastVictim: Int32 = -1
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    static let dirty: Int32 = 16

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        self.t1 = LazyList(tag: 1, limit: self.frames)
        self.t2 = LazyList(tag: 2, limit: self.frames)
        self.b1 = LazyList(tag: 3, limit: 2 * self.frames)
        self.b2 = LazyList(tag: 4, limit: 2 * self.frames)
    }
    deinit {
        self.nodes.free()
        self.t1.free()
        self.t2.free()
        self.b1.free()
        self.b2.free()
    }
    public func prefetch(_ id: Int32) { self.nodes.prefetch(id) }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let dirty: Int32 = write ? Self.dirty : 0
        self.requests += 1
        let w = self.nodes.tag(id)
        // ARC_find
        if w != 0 {
            self.inB1 = false
            self.inB2 = false
            switch w {
            case 1:
                self.nodes.remove(id, &self.t1)
                self.nodes.pushHead(id, &self.t2)
                self.nodes[id, 1] |= dirty
                return true
            case 2:
                self.nodes.moveToHead(id, &self.t2)
                self.nodes[id, 1] |= dirty
                return true
            default:
                self.ghostHit(id, w)
            }
        }
        // A miss: evict while full, then ARC_insert.
        while self.t1.count + self.t2.count + 1 > self.frames { self.makeRoom() }
        if self.ghostHitTime == self.requests && (self.inB1 || self.inB2) {
            self.nodes.pushHead(id, &self.t2)
            self.inB1 = false
            self.inB2 = false
            self.ghostHitTime = -1
        } else {
            self.nodes.pushHead(id, &self.t1)
        }
        self.nodes[id, 1] |= dirty
        return false
    }

    func ghostHit(_ id: Int32, _ w: Int32) {
        self.ghostHitTime = self.requests
        let c = Double(self.frames)
        if w == 3 {
            self.inB1 = true
            let delta = max(Double(self.b2.count) / Double(self.b1.count), 1)
            self.p = min(self.p + delta, c)
            self.nodes.remove(id, &self.b1)
        } else {
            self.inB2 = true
            let delta = max(Double(self.b1.count) / Double(self.b2.count), 1)
            self.p = max(self.p - delta, 0)
            self.nodes.remove(id, &self.b2)
        }
    }

    /// An eviction asked from outside: REPLACE(p) as for a miss that was no ghost hit, then the
    /// ghosts trimmed as a miss would (|T1| + |B1| ≤ c, all four lists ≤ 2c).
    public func evict() -> Int32? {
        guard self.t1.count + self.t2.count > 0 else { return nil }
        let saved = self.inB2
        self.inB2 = false
        self.replace()
        self.inB2 = saved
        while self.t1.count + self.b1.count > self.frames && self.b1.count > 0 {
            _ = self.nodes.popTail(&self.b1)
        }
        while self.t1.count + self.b1.count + self.t2.count + self.b2.count > 2 * self.frames
            && self.b2.count > 0
        {
            _ = self.nodes.popTail(&self.b2)
        }
        return self.lastVictim
    }

    /// `ARC_evict`.
    func makeRoom() {
        if self.ghostHitTime == self.requests && (self.inB1 || self.inB2) {
            self.replace()
            return
        }
        // _ARC_evict_miss_on_all_queues (case IV)
        if self.t1.count + self.b1.count + 1 > self.frames {
            if self.b1.count > 0 {
                _ = self.nodes.popTail(&self.b1)
                self.replace()
            } else {
                self.evicted(self.nodes.popTail(&self.t1))
            }
        } else {
            if self.t1.count + self.b1.count + self.t2.count + self.b2.count >= 2 * self.frames
                && self.b2.count > 0
            {
                _ = self.nodes.popTail(&self.b2)
            }
            self.replace()
        }
    }

    /// `_ARC_replace`: REPLACE(x, p) of the paper.
    func replace() {
        let l1 = Double(self.t1.count)
        if (self.t1.count > 0 && (l1 > self.p || (l1 == self.p && self.inB2))) || self.t2.count == 0 {
            let victim = self.nodes.popTail(&self.t1)
            self.evicted(victim)
            self.nodes.pushHead(victim, &self.b1)
        } else {
            let victim = self.nodes.popTail(&self.t2)
            self.evicted(victim)
            self.nodes.pushHead(victim, &self.b2)
        }
    }

    /// A resident page leaves memory.
    @inline(__always) func evicted(_ victim: Int32) {
        self.lastVictim = victim
        self.stats.evictions += 1
        if self.nodes[victim, 1] & Self.dirty != 0 { self.stats.dirtyEvictions += 1 }
        self.nodes[victim, 1] &= ~Self.dirty
    }
}

/// 2Q (Johnson and Shasha, VLDB 1994), as libCacheSim's `TwoQ.c`: new pages enter the FIFO
/// A1in (a quarter of the frames); a page pushed out of A1in is remembered in the ghost FIFO
/// A1out (half the frames' worth of ids); a miss on a remembered page loads it into the LRU Am.
/// Hits in A1in change nothing.
///
/// libCacheSim's details kept: A1in may grow past its share before the first eviction (an
/// eviction takes from A1in only while it holds more than its share, else Am's LRU page);
/// loading a page into Am after a ghost hit is a full `get` on the Am sub-cache, which evicts
/// inside Am once more when Am is at its size; with fewer than 4 frames A1in's share is 0 and
/// nothing is ever cached (every access misses).
public final class TwoQPolicy: ReplacementPolicy {
    let frames: Int
    let inSize: Int
    let outSize: Int
    let mainSize: Int
    /// Fields: lazy-list slot, state (list tag: 0 none, 1 A1in, 2 Am, 3 A1out; bit 4 dirty).
    @exclusivity(unchecked) var nodes = NodeTable(stride: 2, fills: [0, 0])
    @exclusivity(unchecked) var a1in: LazyList
    @exclusivity(unchecked) var am: LazyList
    @exclusivity(unchecked) var a1out: LazyList
    @exclusivity(unchecked) var lastVictim: Int32 = -1
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    static let dirty: Int32 = 16

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        self.inSize = Int(Double(self.frames) * 0.25)
        self.outSize = Int(Double(self.frames) * 0.5)
        self.mainSize = self.frames - self.inSize
        self.a1in = LazyList(tag: 1, limit: self.frames + 1)
        self.am = LazyList(tag: 2, limit: self.frames + 1)
        self.a1out = LazyList(tag: 3, limit: self.outSize + 1)
    }
    deinit {
        self.nodes.free()
        self.a1in.free()
        self.am.free()
        self.a1out.free()
    }
    public func prefetch(_ id: Int32) { self.nodes.prefetch(id) }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let dirty: Int32 = write ? Self.dirty : 0
        let w = self.nodes.tag(id)
        if w == 1 {
            self.nodes[id, 1] |= dirty
            return true
        }
        if w == 2 {
            self.nodes.moveToHead(id, &self.am)
            self.nodes[id, 1] |= dirty
            return true
        }
        var ghostHit = false
        if w == 3 {
            self.nodes.remove(id, &self.a1out)
            ghostHit = true
        }
        // TwoQ_can_insert
        guard self.inSize >= 1 else { return false }
        while self.a1in.count + self.am.count + 1 > self.frames { self.makeRoom() }
        if ghostHit {
            // Am->get: its own eviction, then insert.
            if self.mainSize >= 1 {
                while self.am.count + 1 > self.mainSize { self.evictMain() }
                self.nodes.pushHead(id, &self.am)
                self.nodes[id, 1] |= dirty
            }
        } else {
            self.nodes.pushHead(id, &self.a1in)
            self.nodes[id, 1] |= dirty
        }
        return false
    }

    /// An eviction asked from outside: as `TwoQ_evict`, taking from A1in also when Am is empty.
    public func evict() -> Int32? {
        guard self.a1in.count + self.am.count > 0 else { return nil }
        if self.a1in.count > self.inSize || self.am.count == 0 {
            self.evictIn()
        } else {
            self.evictMain()
        }
        return self.lastVictim
    }

    /// `TwoQ_evict`.
    func makeRoom() {
        if self.a1in.count > self.inSize {
            self.evictIn()
        } else {
            self.evictMain()
        }
    }

    func evictIn() {
        let victim = self.nodes.popTail(&self.a1in)
        self.evicted(victim)
        // Aout->get: a FIFO get, evicting Aout's oldest if full.
        if self.outSize >= 1 {
            while self.a1out.count + 1 > self.outSize { _ = self.nodes.popTail(&self.a1out) }
            self.nodes.pushHead(victim, &self.a1out)
        }
    }

    func evictMain() { self.evicted(self.nodes.popTail(&self.am)) }

    @inline(__always) func evicted(_ victim: Int32) {
        self.lastVictim = victim
        self.stats.evictions += 1
        if self.nodes[victim, 1] & Self.dirty != 0 { self.stats.dirtyEvictions += 1 }
        self.nodes[victim, 1] &= ~Self.dirty
    }
}

/// S3-FIFO (Yang et al., SOSP 2023), as libCacheSim's `S3FIFO.c` (the December 2024 version):
/// a small FIFO S (10% of the frames), a main FIFO M run as a 2-bit CLOCK, and a ghost FIFO G of
/// ids (90% of the frames). A new page enters S — or M if G remembers it; a page leaving S goes
/// to M if it was hit at least twice there, else to G; a page at M's tail with a count is
/// reinserted with its count (capped at 3) minus one.
///
/// libCacheSim's details kept: before the first eviction, pages arriving when S is at its size
/// go straight to M; a page is refused when S's size is at most 1 (so with fewer than 20 frames
/// every access misses and nothing is cached); M is evicted from when it is over its share or S
/// is empty.
public final class S3FIFOPolicy: ReplacementPolicy {
    let frames: Int
    let smallSize: Int
    let mainSize: Int
    let ghostSize: Int
    let threshold: Int32 = 2
    /// Fields: lazy-list slot, state: bits 0-3 the list (0 none, 1 S, 2 M, 3 G), bits 4-5 the
    /// hits while resident saturating at 3 (only `>= 2` in S and `min(freq, 3)` in M are
    /// asked), bit 6 dirty.
    @exclusivity(unchecked) var nodes = NodeTable(stride: 2, fills: [0, 0])
    @exclusivity(unchecked) var small: LazyList
    @exclusivity(unchecked) var main: LazyList
    @exclusivity(unchecked) var ghost: LazyList
    @exclusivity(unchecked) var hasEvicted = false
    @exclusivity(unchecked) var lastVictim: Int32 = -1
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    static let dirty: Int32 = 64

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        self.smallSize = Int(Double(self.frames) * 0.1)
        self.mainSize = self.frames - self.smallSize
        self.ghostSize = Int(Double(self.frames) * 0.9)
        self.small = LazyList(tag: 1, limit: self.frames + 1)
        self.main = LazyList(tag: 2, limit: self.frames + 1)
        self.ghost = LazyList(tag: 3, limit: self.ghostSize + 1)
    }
    deinit {
        self.nodes.free()
        self.small.free()
        self.main.free()
        self.ghost.free()
    }
    public func prefetch(_ id: Int32) { self.nodes.prefetch(id) }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    @inline(__always) func freq(_ s: Int32) -> Int32 { (s >> 4) & 3 }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let dirty: Int32 = write ? Self.dirty : 0
        let s = self.nodes[id, 1]
        let w = s & 15
        if w == 1 || w == 2 {
            self.nodes[id, 1] = (self.freq(s) < 3 ? s + 16 : s) | dirty
            return true
        }
        var ghostHit = false
        if w == 3 {
            self.nodes.remove(id, &self.ghost)
            ghostHit = true
        }
        // S3FIFO_can_insert: 1 <= small size
        guard self.smallSize >= 1 else { return false }
        while self.small.count + self.main.count + 1 > self.frames { self.makeRoom() }
        if ghostHit {
            self.nodes.pushHead(id, &self.main)
        } else {
            if self.smallSize <= 1 { return false }
            if !self.hasEvicted && self.small.count >= self.smallSize {
                self.nodes.pushHead(id, &self.main)
            } else {
                self.nodes.pushHead(id, &self.small)
            }
        }
        // Inserted with a count of 0.
        self.nodes[id, 1] = (self.nodes[id, 1] & 15) | dirty
        return false
    }

    /// An eviction asked from outside: `S3FIFO_evict` until a page has left memory (a run of S
    /// may only promote pages to M).
    public func evict() -> Int32? {
        guard self.small.count + self.main.count > 0 else { return nil }
        let before = self.stats.evictions
        while self.stats.evictions == before { self.makeRoom() }
        return self.lastVictim
    }

    /// `S3FIFO_evict`.
    func makeRoom() {
        self.hasEvicted = true
        if self.main.count > self.mainSize || self.small.count == 0 {
            self.evictMain()
        } else {
            self.evictSmall()
        }
    }

    func evictSmall() {
        while self.small.count > 0 {
            let o = self.nodes.popTail(&self.small)
            let s = self.nodes[o, 1]
            if self.freq(s) >= self.threshold {
                self.nodes.pushHead(o, &self.main)
                self.nodes[o, 1] = 2 | (s & Self.dirty)  // a new object in M: count 0
                continue
            }
            self.evicted(o)
            // ghost->get: a FIFO get, evicting the ghost's oldest if full.
            if self.ghostSize >= 1 {
                while self.ghost.count + 1 > self.ghostSize { _ = self.nodes.popTail(&self.ghost) }
                self.nodes.pushHead(o, &self.ghost)
            }
            return
        }
    }

    func evictMain() {
        while self.main.count > 0 {
            let o = self.nodes.popTail(&self.main)
            let s = self.nodes[o, 1]
            let f = self.freq(s)
            if f >= 1 {
                self.nodes.pushHead(o, &self.main)
                self.nodes[o, 1] = 2 | ((min(f, 3) - 1) << 4) | (s & Self.dirty)
                continue
            }
            self.evicted(o)
            return
        }
    }

    /// A resident page leaves memory: its count and dirty bit go.
    @inline(__always) func evicted(_ victim: Int32) {
        self.lastVictim = victim
        self.stats.evictions += 1
        if self.nodes[victim, 1] & Self.dirty != 0 { self.stats.dirtyEvictions += 1 }
        self.nodes[victim, 1] &= 15
    }
}
