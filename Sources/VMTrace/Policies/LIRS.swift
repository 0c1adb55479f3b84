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
    @exclusivity(unchecked) var sLinks: LinkedLists
    @exclusivity(unchecked) var qLinks: LinkedLists
    @exclusivity(unchecked) var nhLinks: LinkedLists
    /// The page's entry in S: 0 none, else `inS | isLIR | inCache`.
    @exclusivity(unchecked) var sState: Slab<UInt8>
    /// Whether the page is in Q (always as a resident HIR page) and in NH.
    @exclusivity(unchecked) var inQ: Slab<UInt8>
    @exclusivity(unchecked) var inNH: Slab<UInt8>
    @exclusivity(unchecked) var dirty: DirtyBits
    @exclusivity(unchecked) var s = ListHead()
    @exclusivity(unchecked) var q = ListHead()
    @exclusivity(unchecked) var nh = ListHead()
    @exclusivity(unchecked) var lirsCount = 0
    @exclusivity(unchecked) var hirsCount = 0
    @exclusivity(unchecked) var occupied = 0
    public private(set) var stats = PolicyStats()

    static let inS: UInt8 = 1
    static let isLIR: UInt8 = 2
    static let inCache: UInt8 = 4

    public init(frames: Int, options: PolicyOptions) {
        self.frames = max(frames, 1)
        self.hirsLimit = max(1, Int(0.01 * Double(self.frames)))
        self.lirsLimit = self.frames - self.hirsLimit
        self.sLinks = LinkedLists(capacity: 1024)
        self.qLinks = LinkedLists(capacity: 1024)
        self.nhLinks = LinkedLists(capacity: 1024)
        self.sState = Slab(count: 1024, fill: 0)
        self.inQ = Slab(count: 1024, fill: 0)
        self.inNH = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
    }
    deinit {
        self.sLinks.free()
        self.qLinks.free()
        self.nhLinks.free()
        self.sState.free()
        self.inQ.free()
        self.inNH.free()
        self.dirty.free()
    }
    public func touch(_ id: Int32) -> UInt8 {
        self.sState[Int(id)] &+ self.inQ[Int(id)] &+ UInt8(truncatingIfNeeded: self.sLinks.prev[Int(id)])
    }
    public func reserve(_ count: Int) {
        self.sLinks.grow(to: count)
        self.qLinks.grow(to: count)
        self.nhLinks.grow(to: count)
        self.sState.grow(to: count)
        self.inQ.grow(to: count)
        self.inNH.grow(to: count)
        self.dirty.grow(to: count)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        let hit = self.get(id)
        self.limitStack()
        return hit
    }

    /// `cache_get_base` with LIRS's find, can_insert, evict and insert.
    @inline(__always) func get(_ id: Int32) -> Bool {
        let i = Int(id)
        // LIRS_find: both stacks promote the page first.
        let st = self.sState[i]
        let inQ = self.inQ[i] != 0
        if st != 0 { self.sLinks.moveToHead(id, &self.s) }
        if inQ { self.qLinks.moveToHead(id, &self.q) }
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
            if self.inNH[i] != 0 { self.removeNH(id) }
        } else {
            if 1 > self.lirsLimit || 1 > self.hirsLimit { return false }
            if self.lirsCount + 1 > self.lirsLimit && self.hirsCount + 1 > self.hirsLimit {
                while self.hirsCount + 1 > self.hirsLimit { self.evictHIR() }
            }
        }
        while self.occupied + 1 > self.frames {
            let before = self.occupied
            self.evict(id)
            if self.occupied == before { break }  // libCacheSim would loop forever here
        }
        self.insert(id)
        return false
    }

    /// `LIRS_evict`.
    func evict(_ id: Int32) {
        let st = self.sState[Int(id)]
        if st != 0 && st & (Self.isLIR | Self.inCache) == 0 {
            while self.hirsCount >= self.hirsLimit && self.q.count > 0 { self.evictHIR() }
            self.evictLIR()
        }
        if st == 0 && self.inQ[Int(id)] == 0 {
            if self.lirsCount + 1 > self.lirsLimit && self.hirsCount + 1 > self.hirsLimit { self.evictHIR() }
        }
    }

    /// `LIRS_insert`.
    func insert(_ id: Int32) {
        let i = Int(id)
        let st = self.sState[i]
        if st != 0 && st & (Self.isLIR | Self.inCache) == 0 {
            self.sState[i] = Self.inS | Self.isLIR | Self.inCache
            self.lirsCount += 1
            self.occupied += 1
        }
        if st == 0 && self.inQ[i] == 0 {
            self.sLinks.pushHead(id, &self.s)
            if self.lirsCount + 1 <= self.lirsLimit {
                self.sState[i] = Self.inS | Self.isLIR | Self.inCache
                self.lirsCount += 1
            } else {
                self.sState[i] = Self.inS | Self.inCache
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
            self.qLinks.remove(id, &self.q)
            self.inQ[Int(id)] = 0
            self.occupied -= 1
        }
        while self.lirsCount + 1 > self.lirsLimit { self.evictLIR() }
        self.sState[Int(id)] |= Self.isLIR
        self.lirsCount += 1
        self.occupied += 1
    }

    /// `hit_RD_HIRinQ`: a resident HIR page only in Q joins S (still HIR).
    func hitResidentHIRInQ(_ id: Int32) {
        while self.lirsCount + 1 > self.lirsLimit { self.evictLIR() }
        if self.sState[Int(id)] == 0 { self.sLinks.pushHead(id, &self.s) }
        self.sState[Int(id)] = Self.inS | Self.inCache
    }

    /// `evictLIR`: the page at the bottom of S moves to Q as a resident HIR page.
    func evictLIR() {
        let t = self.s.tail
        guard t >= 0 else { return }
        self.lirsCount -= 1
        self.sLinks.remove(t, &self.s)
        self.sState[Int(t)] = 0
        self.occupied -= 1
        while self.hirsCount + 1 > self.hirsLimit && self.q.count > 0 { self.evictHIR() }
        self.pushQ(t)
        self.hirsCount += 1
        self.occupied += 1
        self.prune()
    }

    /// `evictHIR`: the page at Q's end leaves memory; its S entry, if any, becomes non-resident.
    func evictHIR() {
        let t = self.q.tail
        guard t >= 0 else { return }
        self.hirsCount -= 1
        self.qLinks.remove(t, &self.q)
        self.inQ[Int(t)] = 0
        let st = self.sState[Int(t)]
        if st != 0 {
            self.sState[Int(t)] = st & ~Self.inCache
            if self.inNH[Int(t)] != 0 { self.nhLinks.remove(t, &self.nh) }
            self.nhLinks.pushHead(t, &self.nh)
            self.inNH[Int(t)] = 1
        }
        self.occupied -= 1
        self.stats.evictions += 1
        if self.dirty.evict(t) { self.stats.dirtyEvictions += 1 }
    }

    /// `LIRS_prune`: HIR entries leave the bottom of S until an LIR page is there (the top entry
    /// is never examined).
    func prune() {
        var o = self.s.tail
        while o >= 0 && o != self.s.head {
            let st = self.sState[Int(o)]
            if st & Self.isLIR != 0 { break }
            if st & Self.inCache == 0 && self.inNH[Int(o)] != 0 { self.removeNH(o) }
            self.sLinks.remove(o, &self.s)
            self.sState[Int(o)] = 0
            o = self.s.tail
        }
    }

    /// `limitStack`: S holds at most 2c entries; the oldest non-resident pages go first.
    func limitStack() {
        while self.s.count > 2 * self.frames {
            let t = self.nh.tail
            guard t >= 0 else { break }
            if self.sState[Int(t)] != 0 {
                self.sLinks.remove(t, &self.s)
                self.sState[Int(t)] = 0
            }
            self.removeNH(t)
        }
    }

    @inline(__always) func pushQ(_ id: Int32) {
        if self.inQ[Int(id)] != 0 { self.qLinks.remove(id, &self.q) }
        self.qLinks.pushHead(id, &self.q)
        self.inQ[Int(id)] = 1
    }

    @inline(__always) func removeNH(_ id: Int32) {
        self.nhLinks.remove(id, &self.nh)
        self.inNH[Int(id)] = 0
    }
}
