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
    @exclusivity(unchecked) var links: LinkedLists
    /// 0 absent, 1 T1, 2 T2, 3 B1, 4 B2.
    @exclusivity(unchecked) var where_: Slab<UInt8>
    @exclusivity(unchecked) var dirty: DirtyBits
    @exclusivity(unchecked) var t1 = ListHead()
    @exclusivity(unchecked) var t2 = ListHead()
    @exclusivity(unchecked) var b1 = ListHead()
    @exclusivity(unchecked) var b2 = ListHead()
    @exclusivity(unchecked) var p = 0.0
    @exclusivity(unchecked) var inB1 = false
    @exclusivity(unchecked) var inB2 = false
    @exclusivity(unchecked) var ghostHitTime: Int64 = -1
    @exclusivity(unchecked) var requests: Int64 = 0
    public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = max(frames, 1)
        self.links = LinkedLists(capacity: 1024)
        self.where_ = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
    }
    deinit {
        self.links.free()
        self.where_.free()
        self.dirty.free()
    }
    public func touch(_ id: Int32) -> UInt8 {
        self.where_[Int(id)] &+ UInt8(truncatingIfNeeded: self.links.prev[Int(id)])
    }
    public func reserve(_ count: Int) {
        self.links.grow(to: count)
        self.where_.grow(to: count)
        self.dirty.grow(to: count)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        self.requests += 1
        let w = self.where_[Int(id)]
        // ARC_find
        if w != 0 {
            self.inB1 = false
            self.inB2 = false
            switch w {
            case 1:
                self.links.remove(id, &self.t1)
                self.links.pushHead(id, &self.t2)
                self.where_[Int(id)] = 2
                return true
            case 2:
                self.links.moveToHead(id, &self.t2)
                return true
            default:
                self.ghostHit(id, w)
            }
        }
        // A miss: evict while full, then ARC_insert.
        while self.t1.count + self.t2.count + 1 > self.frames { self.evict() }
        if self.ghostHitTime == self.requests && (self.inB1 || self.inB2) {
            self.links.pushHead(id, &self.t2)
            self.where_[Int(id)] = 2
            self.inB1 = false
            self.inB2 = false
            self.ghostHitTime = -1
        } else {
            self.links.pushHead(id, &self.t1)
            self.where_[Int(id)] = 1
        }
        return false
    }

    func ghostHit(_ id: Int32, _ w: UInt8) {
        self.ghostHitTime = self.requests
        let c = Double(self.frames)
        if w == 3 {
            self.inB1 = true
            let delta = max(Double(self.b2.count) / Double(self.b1.count), 1)
            self.p = min(self.p + delta, c)
            self.links.remove(id, &self.b1)
        } else {
            self.inB2 = true
            let delta = max(Double(self.b1.count) / Double(self.b2.count), 1)
            self.p = max(self.p - delta, 0)
            self.links.remove(id, &self.b2)
        }
        self.where_[Int(id)] = 0
    }

    /// `ARC_evict`.
    func evict() {
        if self.ghostHitTime == self.requests && (self.inB1 || self.inB2) {
            self.replace()
            return
        }
        // _ARC_evict_miss_on_all_queues (case IV)
        if self.t1.count + self.b1.count + 1 > self.frames {
            if self.b1.count > 0 {
                self.where_[Int(self.links.popTail(&self.b1))] = 0
                self.replace()
            } else {
                let victim = self.links.popTail(&self.t1)
                self.where_[Int(victim)] = 0
                self.evicted(victim)
            }
        } else {
            if self.t1.count + self.b1.count + self.t2.count + self.b2.count >= 2 * self.frames
                && self.b2.count > 0
            {
                self.where_[Int(self.links.popTail(&self.b2))] = 0
            }
            self.replace()
        }
    }

    /// `_ARC_replace`: REPLACE(x, p) of the paper.
    func replace() {
        let l1 = Double(self.t1.count)
        if (self.t1.count > 0 && (l1 > self.p || (l1 == self.p && self.inB2))) || self.t2.count == 0 {
            let victim = self.links.popTail(&self.t1)
            self.links.pushHead(victim, &self.b1)
            self.where_[Int(victim)] = 3
            self.evicted(victim)
        } else {
            let victim = self.links.popTail(&self.t2)
            self.links.pushHead(victim, &self.b2)
            self.where_[Int(victim)] = 4
            self.evicted(victim)
        }
    }

    @inline(__always) func evicted(_ victim: Int32) {
        self.stats.evictions += 1
        if self.dirty.evict(victim) { self.stats.dirtyEvictions += 1 }
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
    @exclusivity(unchecked) var links: LinkedLists
    /// 0 absent, 1 A1in, 2 Am, 3 A1out.
    @exclusivity(unchecked) var where_: Slab<UInt8>
    @exclusivity(unchecked) var dirty: DirtyBits
    @exclusivity(unchecked) var a1in = ListHead()
    @exclusivity(unchecked) var am = ListHead()
    @exclusivity(unchecked) var a1out = ListHead()
    public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = max(frames, 1)
        self.inSize = Int(Double(self.frames) * 0.25)
        self.outSize = Int(Double(self.frames) * 0.5)
        self.mainSize = self.frames - self.inSize
        self.links = LinkedLists(capacity: 1024)
        self.where_ = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
    }
    deinit {
        self.links.free()
        self.where_.free()
        self.dirty.free()
    }
    public func touch(_ id: Int32) -> UInt8 {
        self.where_[Int(id)] &+ UInt8(truncatingIfNeeded: self.links.prev[Int(id)])
    }
    public func reserve(_ count: Int) {
        self.links.grow(to: count)
        self.where_.grow(to: count)
        self.dirty.grow(to: count)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        let w = self.where_[Int(id)]
        if w == 1 { return true }
        if w == 2 {
            self.links.moveToHead(id, &self.am)
            return true
        }
        var ghostHit = false
        if w == 3 {
            self.links.remove(id, &self.a1out)
            self.where_[Int(id)] = 0
            ghostHit = true
        }
        // TwoQ_can_insert
        guard self.inSize >= 1 else { return false }
        while self.a1in.count + self.am.count + 1 > self.frames { self.evict() }
        if ghostHit {
            // Am->get: its own eviction, then insert.
            if self.mainSize >= 1 {
                while self.am.count + 1 > self.mainSize { self.evictMain() }
                self.links.pushHead(id, &self.am)
                self.where_[Int(id)] = 2
            }
        } else {
            self.links.pushHead(id, &self.a1in)
            self.where_[Int(id)] = 1
        }
        return false
    }

    /// `TwoQ_evict`.
    func evict() {
        if self.a1in.count > self.inSize {
            let victim = self.links.popTail(&self.a1in)
            // Aout->get: a FIFO get, evicting Aout's oldest if full.
            if self.outSize >= 1 {
                while self.a1out.count + 1 > self.outSize {
                    self.where_[Int(self.links.popTail(&self.a1out))] = 0
                }
                self.links.pushHead(victim, &self.a1out)
                self.where_[Int(victim)] = 3
            } else {
                self.where_[Int(victim)] = 0
            }
            self.evicted(victim)
            return
        }
        self.evictMain()
    }

    func evictMain() {
        let victim = self.links.popTail(&self.am)
        self.where_[Int(victim)] = 0
        self.evicted(victim)
    }

    @inline(__always) func evicted(_ victim: Int32) {
        self.stats.evictions += 1
        if self.dirty.evict(victim) { self.stats.dirtyEvictions += 1 }
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
    let threshold: UInt8 = 2
    @exclusivity(unchecked) var links: LinkedLists
    /// 0 absent, 1 S, 2 M, 3 G.
    @exclusivity(unchecked) var where_: Slab<UInt8>
    /// Hits while resident, saturating at 3 (only `>= 2` in S and `min(freq, 3)` in M are asked).
    @exclusivity(unchecked) var freq: Slab<UInt8>
    @exclusivity(unchecked) var dirty: DirtyBits
    @exclusivity(unchecked) var small = ListHead()
    @exclusivity(unchecked) var main = ListHead()
    @exclusivity(unchecked) var ghost = ListHead()
    @exclusivity(unchecked) var hasEvicted = false
    public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = max(frames, 1)
        self.smallSize = Int(Double(self.frames) * 0.1)
        self.mainSize = self.frames - self.smallSize
        self.ghostSize = Int(Double(self.frames) * 0.9)
        self.links = LinkedLists(capacity: 1024)
        self.where_ = Slab(count: 1024, fill: 0)
        self.freq = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
    }
    deinit {
        self.links.free()
        self.where_.free()
        self.freq.free()
        self.dirty.free()
    }
    public func touch(_ id: Int32) -> UInt8 { self.where_[Int(id)] &+ self.freq[Int(id)] }
    public func reserve(_ count: Int) {
        self.links.grow(to: count)
        self.where_.grow(to: count)
        self.freq.grow(to: count)
        self.dirty.grow(to: count)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        let w = self.where_[Int(id)]
        if w == 1 || w == 2 {
            let f = self.freq[Int(id)]
            if f < 3 { self.freq[Int(id)] = f + 1 }
            return true
        }
        var ghostHit = false
        if w == 3 {
            self.links.remove(id, &self.ghost)
            self.where_[Int(id)] = 0
            ghostHit = true
        }
        // S3FIFO_can_insert: 1 <= small size
        guard self.smallSize >= 1 else { return false }
        while self.small.count + self.main.count + 1 > self.frames { self.evict() }
        if ghostHit {
            self.links.pushHead(id, &self.main)
            self.where_[Int(id)] = 2
        } else {
            if self.smallSize <= 1 { return false }
            if !self.hasEvicted && self.small.count >= self.smallSize {
                self.links.pushHead(id, &self.main)
                self.where_[Int(id)] = 2
            } else {
                self.links.pushHead(id, &self.small)
                self.where_[Int(id)] = 1
            }
        }
        self.freq[Int(id)] = 0
        return false
    }

    /// `S3FIFO_evict`.
    func evict() {
        self.hasEvicted = true
        if self.main.count > self.mainSize || self.small.count == 0 {
            self.evictMain()
        } else {
            self.evictSmall()
        }
    }

    func evictSmall() {
        while self.small.count > 0 {
            let o = self.links.popTail(&self.small)
            if self.freq[Int(o)] >= self.threshold {
                self.links.pushHead(o, &self.main)
                self.where_[Int(o)] = 2
                self.freq[Int(o)] = 0
                continue
            }
            // ghost->get: a FIFO get, evicting the ghost's oldest if full.
            if self.ghostSize >= 1 {
                while self.ghost.count + 1 > self.ghostSize {
                    self.where_[Int(self.links.popTail(&self.ghost))] = 0
                }
                self.links.pushHead(o, &self.ghost)
                self.where_[Int(o)] = 3
            } else {
                self.where_[Int(o)] = 0
            }
            self.evicted(o)
            return
        }
    }

    func evictMain() {
        while self.main.count > 0 {
            let o = self.links.popTail(&self.main)
            let f = self.freq[Int(o)]
            if f >= 1 {
                self.links.pushHead(o, &self.main)
                self.freq[Int(o)] = min(f, 3) - 1
                continue
            }
            self.where_[Int(o)] = 0
            self.evicted(o)
            return
        }
    }

    @inline(__always) func evicted(_ victim: Int32) {
        self.stats.evictions += 1
        if self.dirty.evict(victim) { self.stats.dirtyEvictions += 1 }
    }
}
