/// LIRS (Jiang and Zhang, SIGMETRICS 2002), exactly as libCacheSim's `LIRS.c`: the LIR set
/// (99% of the frames, at least c − 1) holds pages with a small inter-reference recency, the HIR
/// set (1%, at least one frame) the rest; the LRU stack S orders pages by recency — LIR pages,
/// resident HIR pages and non-resident HIR pages (ghosts) — and the LRU list Q holds the resident
/// HIR pages. A HIR page re-referenced while still in S becomes LIR, and the LIR page at the
/// bottom of S drops into Q; S is pruned so its bottom is always LIR.
///
/// libCacheSim's structure is kept: S, Q and the list NH of non-resident pages in S are three
/// LRU lists, a page can be in S and Q at once with its own flags in each, S is bounded to 2c
/// entries by dropping the oldest non-resident pages after every access, and with one frame the
/// LIR set is empty and nothing is ever cached (every access misses). A hit on a page only in Q
/// first demotes S's bottom LIR page, which with a one-frame HIR set pushes the hit page itself
/// out of Q — libCacheSim then keeps it in S as "resident"; so does this port.
public final class LIRSPolicy: ReplacementPolicy {
    let frames: Int
    let hirsLimit: Int
    let lirsLimit: Int
    /// Fields: S slot, Q slot, NH slot (lazy lists, 0 when not on them), flags: the page's entry
    /// in S (0 none, else `inS | isLIR | inCache`) and `dirty`. Q holds resident HIR pages only.
    @exclusivity(unchecked) var nodes = NodeTable(stride: 4, fills: [0, 0, 0, 0])
    @exclusivity(unchecked) var s: LazyList
    @exclusivity(unchecked) var q: LazyList
    @exclusivity(unchecked) var nh: LazyList
    @exclusivity(unchecked) var lirsCount = 0
    @exclusivity(unchecked) var hirsCount = 0
    @exclusivity(unchecked) var occupied = 0
    @exclusivity(unchecked) var lastVictim: Int32 = -1
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    static let inS: Int32 = 1
    static let isLIR: Int32 = 2
    static let inCache: Int32 = 4
    static let sMask: Int32 = 7
    static let dirty: Int32 = 32
    static let flags = 3

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        self.hirsLimit = max(1, Int(0.01 * Double(self.frames)))
        self.lirsLimit = self.frames - self.hirsLimit
        // S is bounded to 2c entries after each access; within one access it can pass that by
        // the few pages the access adds.
        self.s = LazyList(slotField: 0, limit: 2 * self.frames + 16)
        self.q = LazyList(slotField: 1, limit: self.frames + 16)
        self.nh = LazyList(slotField: 2, limit: 2 * self.frames + 16)
    }
    deinit {
        self.nodes.free()
        self.s.free()
        self.q.free()
        self.nh.free()
    }
    public func prefetch(_ id: Int32) { self.nodes.prefetch(id) }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    @inline(__always) func flags(_ id: Int32) -> Int32 { self.nodes[id, Self.flags] }
    @inline(__always) func sState(_ id: Int32) -> Int32 { self.nodes[id, Self.flags] & Self.sMask }
    @inline(__always) func setSState(_ id: Int32, _ v: Int32) {
        self.nodes[id, Self.flags] = (self.nodes[id, Self.flags] & ~Self.sMask) | v
    }
    @inline(__always) func isInQ(_ id: Int32) -> Bool { self.nodes[id, 1] != 0 }
    @inline(__always) func isInNH(_ id: Int32) -> Bool { self.nodes[id, 2] != 0 }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let hit = self.get(id)
        if write && (self.flags(id) & Self.inCache != 0 || self.isInQ(id)) {
            self.nodes[id, Self.flags] |= Self.dirty
        }
        self.limitStack()
        return hit
    }

    /// `cache_get_base` with LIRS's find, can_insert, evict and insert.
    @inline(__always) func get(_ id: Int32) -> Bool {
        // LIRS_find: both stacks promote the page first.
        let st = self.sState(id)
        let inQ = self.isInQ(id)
        if st != 0 { self.nodes.moveToHead(id, &self.s) }
        if inQ { self.nodes.moveToHead(id, &self.q) }
        if st != 0 {
            if st & Self.isLIR != 0 {
                self.prune()
                return true
            }
            if st & Self.inCache != 0 {
                self.hitResidentHIRInS(id, inQ: inQ)
                return true
            }
        } else if inQ {
            self.hitResidentHIRInQ(id)
            return true
        }
        // LIRS_can_insert
        if st != 0 {
            while self.lirsCount + 1 > self.lirsLimit { self.evictLIR() }
            if self.isInNH(id) { self.nodes.remove(id, &self.nh) }
        } else {
            if 1 > self.lirsLimit || 1 > self.hirsLimit { return false }
            if self.lirsCount + 1 > self.lirsLimit && self.hirsCount + 1 > self.hirsLimit {
                while self.hirsCount + 1 > self.hirsLimit { self.evictHIR() }
            }
        }
        while self.occupied + 1 > self.frames {
            let before = self.occupied
            self.makeRoom(id)
            if self.occupied == before { break }  // libCacheSim would loop forever here
        }
        self.insert(id)
        return false
    }

    /// An eviction asked from outside: the resident HIR page at Q's end goes; if Q is empty,
    /// the LIR page at S's bottom first drops into Q (a LIR set can only shrink that way).
    public func evict() -> Int32? {
        if self.q.count == 0 && self.lirsCount > 0 { self.evictLIR() }
        guard self.q.count > 0 else { return nil }
        self.evictHIR()
        self.limitStack()
        return self.lastVictim
    }

    /// `LIRS_evict`.
    func makeRoom(_ id: Int32) {
        let st = self.sState(id)
        if st != 0 && st & (Self.isLIR | Self.inCache) == 0 {
            while self.hirsCount >= self.hirsLimit && self.q.count > 0 { self.evictHIR() }
            self.evictLIR()
        }
        if st == 0 && !self.isInQ(id) {
            if self.lirsCount + 1 > self.lirsLimit && self.hirsCount + 1 > self.hirsLimit { self.evictHIR() }
        }
    }

    /// `LIRS_insert`.
    func insert(_ id: Int32) {
        let st = self.sState(id)
        if st != 0 && st & (Self.isLIR | Self.inCache) == 0 {
            self.setSState(id, Self.inS | Self.isLIR | Self.inCache)
            self.lirsCount += 1
            self.occupied += 1
        }
        if st == 0 && !self.isInQ(id) {
            self.nodes.pushHead(id, &self.s)
            if self.lirsCount + 1 <= self.lirsLimit {
                self.setSState(id, Self.inS | Self.isLIR | Self.inCache)
                self.lirsCount += 1
            } else {
                self.setSState(id, Self.inS | Self.inCache)
                self.pushQ(id)
                self.hirsCount += 1
            }
            self.occupied += 1
        }
    }

    /// `hit_RD_HIRinS`: a resident HIR page in S becomes LIR.
    func hitResidentHIRInS(_ id: Int32, inQ: Bool) {
        if inQ {
            self.hirsCount -= 1
            self.nodes.remove(id, &self.q)
            self.occupied -= 1
        }
        while self.lirsCount + 1 > self.lirsLimit { self.evictLIR() }
        self.nodes[id, Self.flags] |= Self.isLIR
        self.lirsCount += 1
        self.occupied += 1
    }

    /// `hit_RD_HIRinQ`: a resident HIR page only in Q joins S (still HIR).
    func hitResidentHIRInQ(_ id: Int32) {
        while self.lirsCount + 1 > self.lirsLimit { self.evictLIR() }
        if self.sState(id) == 0 { self.nodes.pushHead(id, &self.s) }
        self.setSState(id, Self.inS | Self.inCache)
    }

    /// `evictLIR`: the page at the bottom of S moves to Q as a resident HIR page.
    func evictLIR() {
        let t = self.nodes.peekTail(&self.s)
        guard t >= 0 else { return }
        self.lirsCount -= 1
        self.removeS(t)
        self.occupied -= 1
        while self.hirsCount + 1 > self.hirsLimit && self.q.count > 0 { self.evictHIR() }
        self.pushQ(t)
        self.hirsCount += 1
        self.occupied += 1
        self.prune()
    }

    /// `evictHIR`: the page at Q's end leaves memory; its S entry, if any, becomes non-resident.
    func evictHIR() {
        let t = self.nodes.popTail(&self.q)
        guard t >= 0 else { return }
        self.hirsCount -= 1
        var f = self.flags(t)
        if f & Self.sMask != 0 {
            f &= ~Self.inCache
            if self.isInNH(t) {
                self.nodes.moveToHead(t, &self.nh)
            } else {
                self.nodes.pushHead(t, &self.nh)
            }
        }
        self.occupied -= 1
        self.lastVictim = t
        self.stats.evictions += 1
        if f & Self.dirty != 0 { self.stats.dirtyEvictions += 1 }
        self.nodes[t, Self.flags] = f & ~Self.dirty
    }

    /// `LIRS_prune`: HIR entries leave the bottom of S until an LIR page is there (the top entry
    /// is never examined).
    func prune() {
        while self.s.count > 1 {
            let o = self.nodes.peekTail(&self.s)
            let st = self.sState(o)
            if st & Self.isLIR != 0 { break }
            if st & Self.inCache == 0 && self.isInNH(o) { self.nodes.remove(o, &self.nh) }
            self.removeS(o)
        }
    }

    /// `limitStack`: S holds at most 2c entries; the oldest non-resident pages go first.
    func limitStack() {
        while self.s.count > 2 * self.frames {
            let t = self.nodes.popTail(&self.nh)
            guard t >= 0 else { break }
            if self.sState(t) != 0 { self.removeS(t) }
        }
    }

    @inline(__always) func removeS(_ id: Int32) {
        self.nodes.remove(id, &self.s)
        self.setSState(id, 0)
    }

    @inline(__always) func pushQ(_ id: Int32) {
        if self.isInQ(id) {
            self.nodes.moveToHead(id, &self.q)
        } else {
            self.nodes.pushHead(id, &self.q)
        }
    }
}
