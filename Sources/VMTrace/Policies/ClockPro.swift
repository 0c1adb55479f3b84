/// CLOCK-Pro (Jiang, Chen and Zhang, USENIX ATC 2005) as its widely used implementations run
/// it — Sami Lehtinen's pyclockpro and its Go port dgryski/go-clockpro: one clock of hot pages,
/// resident cold pages and non-resident cold pages in their test period, with three hands.
///
/// - A hit sets the page's reference bit.
/// - A new page is loaded cold, just behind the hot hand. A miss on a page still in its test
///   period grows the cold target `mc` by one and loads the page hot.
/// - Before loading, HAND_cold runs while memory is full: a referenced cold page turns hot; an
///   unreferenced one is evicted and stays in the clock as a test entry; HAND_hot then runs while
///   the hot pages exceed c − mc.
/// - HAND_hot clears reference bits of hot pages and turns unreferenced ones cold.
/// - HAND_test removes test entries when there are more than c of them, shrinking `mc` by one
///   each (a cold page that passed its test period unused).
///
/// Simplified like those implementations: every resident cold page is in its test period, and a
/// cold page turning hot stays where it is in the clock instead of moving to the head. Where
/// go-clockpro would recurse without end (all three hands on one hot page), the nested HAND_hot
/// run is left to the one already running.
///
/// libCacheSim's `ClockPro.c` (read at commit 0379a01, not used): its `can_insert` admits a page
/// only while `mem_cold + 1 <= mem_cold_max`, which starts at c, so once c cold pages are
/// resident nothing is admitted or evicted again — the cache keeps the first c distinct pages.
/// vmsim does not reproduce that.
public final class ClockProPolicy: ReplacementPolicy {
    let frames: Int
    /// Fields: prev, next (the clock), kind (0 not in the clock, 1 test (non-resident), 2 cold,
    /// 3 hot), referenced, dirty.
    @exclusivity(unchecked) var nodes = NodeTable(stride: 5, fills: [-1, -1, 0, 0, 0])
    @exclusivity(unchecked) var handHot: Int32 = -1
    @exclusivity(unchecked) var handCold: Int32 = -1
    @exclusivity(unchecked) var handTest: Int32 = -1
    @exclusivity(unchecked) var countHot = 0
    @exclusivity(unchecked) var countCold = 0
    @exclusivity(unchecked) var countTest = 0
    /// The cold target `mc` (`mem_cold`), between 1 and c.
    @exclusivity(unchecked) var coldTarget: Int
    @exclusivity(unchecked) var hotHandRunning = false
    @exclusivity(unchecked) var lastVictim: Int32 = -1
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    static let test: Int32 = 1
    static let cold: Int32 = 2
    static let hot: Int32 = 3

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        self.coldTarget = self.frames
    }
    deinit { self.nodes.free() }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.nodes[id, 4] = 1 }
        let k = self.nodes[id, 2]
        if k >= Self.cold {
            self.nodes[id, 3] = 1
            return true
        }
        self.nodes[id, 3] = 0
        if k == Self.test {
            if self.coldTarget < self.frames { self.coldTarget += 1 }
            self.nodes[id, 2] = Self.hot
            self.countTest -= 1
            self.unlink(id)
            self.link(id)
            self.countHot += 1
        } else {
            self.nodes[id, 2] = Self.cold
            self.link(id)
            self.countCold += 1
        }
        return false
    }

    /// An eviction asked from outside: HAND_cold runs until a cold page leaves memory; with no
    /// cold page resident, HAND_hot turns one cold first (it would otherwise only run while
    /// the hot pages exceed c − mc).
    public func evict() -> Int32? {
        guard self.countCold + self.countHot > 0 else { return nil }
        let before = self.stats.evictions
        while self.stats.evictions == before {
            if self.countCold == 0 { self.runHot() } else { self.runCold() }
        }
        return self.lastVictim
    }

    /// `meta_add`: evicts while memory is full, then puts the page just behind the hot hand.
    func link(_ id: Int32) {
        while self.frames <= self.countHot + self.countCold { self.runCold() }
        if self.handHot < 0 {
            self.nodes[id, 0] = id
            self.nodes[id, 1] = id
            self.handHot = id
            self.handCold = id
            self.handTest = id
            return
        }
        let h = self.handHot
        let p = self.nodes[h, 0]
        self.nodes[id, 0] = p
        self.nodes[id, 1] = h
        self.nodes[p, 1] = id
        self.nodes[h, 0] = id
        if self.handCold == h { self.handCold = id }
    }

    /// `meta_del`: hands on the entry step back to its predecessor.
    func unlink(_ id: Int32) {
        let p = self.nodes[id, 0]
        let n = self.nodes[id, 1]
        if p == id {
            self.handHot = -1
            self.handCold = -1
            self.handTest = -1
        } else {
            if self.handHot == id { self.handHot = p }
            if self.handCold == id { self.handCold = p }
            if self.handTest == id { self.handTest = p }
            self.nodes[p, 1] = n
            self.nodes[n, 0] = p
        }
        self.nodes[id, 0] = -1
        self.nodes[id, 1] = -1
    }

    func runCold() {
        let e = self.handCold
        if self.nodes[e, 2] == Self.cold {
            if self.nodes[e, 3] != 0 {
                self.nodes[e, 2] = Self.hot
                self.nodes[e, 3] = 0
                self.countCold -= 1
                self.countHot += 1
            } else {
                self.nodes[e, 2] = Self.test
                self.countCold -= 1
                self.countTest += 1
                self.lastVictim = e
                self.stats.evictions += 1
                if self.nodes[e, 4] != 0 { self.stats.dirtyEvictions += 1 }
                self.nodes[e, 4] = 0
                while self.frames < self.countTest { self.runTest() }
            }
        }
        self.handCold = self.nodes[self.handCold, 1]
        // go-clockpro recurses forever when all three hands meet on a hot page (HAND_hot asks
        // HAND_test, which asks HAND_cold, which asks HAND_hot again — with one frame, say): a
        // HAND_cold run nested inside a HAND_hot run leaves the hot hand to the outer loop.
        if !self.hotHandRunning {
            self.hotHandRunning = true
            while self.frames - self.coldTarget < self.countHot { self.runHot() }
            self.hotHandRunning = false
        }
    }

    func runHot() {
        if self.handHot == self.handTest { self.runTest() }
        let e = self.handHot
        if self.nodes[e, 2] == Self.hot {
            if self.nodes[e, 3] != 0 {
                self.nodes[e, 3] = 0
            } else {
                self.nodes[e, 2] = Self.cold
                self.countHot -= 1
                self.countCold += 1
            }
        }
        self.handHot = self.nodes[self.handHot, 1]
    }

    func runTest() {
        if self.handTest == self.handCold { self.runCold() }
        let e = self.handTest
        if self.nodes[e, 2] == Self.test {
            self.unlink(e)
            self.nodes[e, 2] = 0
            self.countTest -= 1
            if self.coldTarget > 1 { self.coldTarget -= 1 }
        }
        self.handTest = self.nodes[self.handTest, 1]
    }
}
