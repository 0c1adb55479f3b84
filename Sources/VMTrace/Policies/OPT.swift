/// Belady's OPT (MIN), as libCacheSim's `Belady.c`: the resident page whose next use is
/// farthest in the future goes; pages never used again go first. Demand fetch: the page that
/// missed is always loaded, even if it is never used again.
///
/// An indexed binary max-heap of the resident pages keyed by next use. Next-use times are unique
/// except "never" (`Int64.max`), and which of several never-again pages goes does not change the
/// miss count, so misses equal libCacheSim's.
public final class OPTPolicy: ReplacementPolicy {
    let frames: Int
    @exclusivity(unchecked) var heapKey: Slab<Int64>
    @exclusivity(unchecked) var heapID: Slab<Int32>
    /// Each page's position in the heap (-1 if not resident) and dirty bit.
    @exclusivity(unchecked) var pages = NodeTable(stride: 2, fills: [-1, 0])
    @exclusivity(unchecked) var count = 0
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        self.heapKey = Slab(count: slotsFor(limit: self.frames, seen: 0), fill: 0)
        self.heapID = Slab(count: slotsFor(limit: self.frames, seen: 0), fill: -1)
    }
    deinit {
        self.heapKey.free()
        self.heapID.free()
        self.pages.free()
    }
    public func prefetch(_ id: Int32) { self.pages.prefetch(id) }
    public func reserve(_ count: Int) {
        self.pages.grow(to: count)
        // The heap holds resident pages only: at most min(frames, pages seen).
        self.heapKey.grow(to: slotsFor(limit: self.frames, seen: count))
        self.heapID.grow(to: slotsFor(limit: self.frames, seen: count))
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.pages[id, 1] = 1 }
        let p = Int(self.pages[id, 0])
        if p >= 0 {
            let old = self.heapKey[p]
            self.heapKey[p] = next
            if next >= old { self.siftUp(p) } else { self.siftDown(p) }
            return true
        }
        if self.count == self.frames {
            let victim = self.heapID[0]
            self.pages[victim, 0] = -1
            self.stats.evictions += 1
            if self.pages[victim, 1] != 0 { self.stats.dirtyEvictions += 1 }
            self.pages[victim, 1] = 0
            if write { self.pages[id, 1] = 1 }
            // Replace the root by the new page and let it sink.
            self.heapKey[0] = next
            self.heapID[0] = id
            self.pages[id, 0] = 0
            self.siftDown(0)
            return false
        }
        let i = self.count
        self.count += 1
        self.heapKey[i] = next
        self.heapID[i] = id
        self.pages[id, 0] = Int32(i)
        self.siftUp(i)
        return false
    }

    /// An eviction asked from outside: the page used farthest in the future goes.
    public func evict() -> Int32? {
        guard self.count > 0 else { return nil }
        let victim = self.heapID[0]
        self.stats.evictions += 1
        if self.pages[victim, 1] != 0 { self.stats.dirtyEvictions += 1 }
        self.pages[victim, 1] = 0
        self.count -= 1
        if self.count > 0 {
            self.heapKey[0] = self.heapKey[self.count]
            self.heapID[0] = self.heapID[self.count]
            self.siftDown(0)
        }
        self.pages[victim, 0] = -1
        return victim
    }

    func siftUp(_ start: Int) {
        var i = start
        let key = self.heapKey[i]
        let id = self.heapID[i]
        while i > 0 {
            let parent = (i - 1) >> 1
            let pk = self.heapKey[parent]
            if pk >= key { break }
            self.heapKey[i] = pk
            let pid = self.heapID[parent]
            self.heapID[i] = pid
            self.pages[pid, 0] = Int32(i)
            i = parent
        }
        self.heapKey[i] = key
        self.heapID[i] = id
        self.pages[id, 0] = Int32(i)
    }

    func siftDown(_ start: Int) {
        var i = start
        let key = self.heapKey[i]
        let id = self.heapID[i]
        let n = self.count
        while true {
            var child = 2 * i + 1
            if child >= n { break }
            var ck = self.heapKey[child]
            if child + 1 < n {
                let rk = self.heapKey[child + 1]
                if rk > ck {
                    child += 1
                    ck = rk
                }
            }
            if ck <= key { break }
            self.heapKey[i] = ck
            let cid = self.heapID[child]
            self.heapID[i] = cid
            self.pages[cid, 0] = Int32(i)
            i = child
        }
        self.heapKey[i] = key
        self.heapID[i] = id
        self.pages[id, 0] = Int32(i)
    }
}

/// Linux's two-list LRU for one process's anonymous pages (mm/vmscan.c and mm/swap.c, 6.x
/// without MGLRU), reduced to a fixed number of frames:
///
/// - Every access sets the page's Accessed bit (the hardware does, in the PTE).
/// - A page faulted in joins the head of the inactive list.
/// - To free a frame, `shrink_active_list()` first moves up to 32 pages from the active tail to
///   the inactive head, clearing their Accessed bits, when `inactive_is_low()` (inactive ×
///   √(10 × GiB of frames), or × 1 below 1 GiB, is less than active) or the inactive list is
///   empty; then `shrink_folio_list()` checks pages from the inactive tail with
///   `folio_check_references()`: Accessed and already `PG_referenced` → activated; Accessed
///   only → `PG_referenced` set, kept (to the inactive head); not Accessed → reclaimed.
///
/// So a page needs two touches seen by two scans to become active — the kernel's "look twice"
/// rule for mapped pages. Simplified: one frame is reclaimed per miss (the kernel reclaims in
/// batches of 32 between watermarks), pages move one at a time, and there is no refault
/// (workingset) detection.
public final class LinuxLRUPolicy: ReplacementPolicy {
    let frames: Int
    let inactiveRatio: Int
    /// Fields: prev, next, flags (1 resident, 2 active, 4 Accessed (PTE young), 8 PG_referenced,
    /// 16 dirty).
    @exclusivity(unchecked) var nodes = NodeTable(stride: 3, fills: [-1, -1, 0])
    @exclusivity(unchecked) var active = NodeList(link: 0)
    @exclusivity(unchecked) var inactive = NodeList(link: 0)
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()
    public private(set) var activations = 0
    public private(set) var deactivations = 0

    static let resident: Int32 = 1
    static let onActive: Int32 = 2
    static let young: Int32 = 4
    static let pgReferenced: Int32 = 8
    static let dirty: Int32 = 16

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        let gb = self.frames >> 18
        self.inactiveRatio = gb > 0 ? Int(Double(10 * gb).squareRoot()) : 1
    }
    deinit { self.nodes.free() }
    public func prefetch(_ id: Int32) { self.nodes.prefetch(id) }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let dirty: Int32 = write ? Self.dirty : 0
        let f = self.nodes[id, 2]
        if f & Self.resident != 0 {
            self.nodes[id, 2] = f | Self.young | dirty
            return true
        }
        if self.active.count + self.inactive.count >= self.frames { self.reclaimOne() }
        self.nodes.pushHead(id, &self.inactive)
        self.nodes[id, 2] = Self.resident | Self.young | dirty
        return false
    }

    /// An eviction asked from outside: one page reclaimed as for a miss.
    public func evict() -> Int32? {
        guard self.active.count + self.inactive.count > 0 else { return nil }
        return self.reclaimOne()
    }

    @discardableResult func reclaimOne() -> Int32 {
        while true {
            if self.inactive.count == 0 || self.inactive.count * self.inactiveRatio < self.active.count {
                self.shrinkActive()
            }
            let pfn = self.nodes.popTail(&self.inactive)
            let f = self.nodes[pfn, 2]
            if f & Self.young != 0 {
                if f & Self.pgReferenced != 0 {
                    // Activate (PG_referenced stays set, as folio_check_references leaves it).
                    self.nodes.pushHead(pfn, &self.active)
                    self.nodes[pfn, 2] = (f & ~Self.young) | Self.onActive
                    self.activations += 1
                } else {
                    self.nodes.pushHead(pfn, &self.inactive)
                    self.nodes[pfn, 2] = (f & ~Self.young) | Self.pgReferenced
                }
                continue
            }
            self.nodes[pfn, 2] = 0
            self.stats.evictions += 1
            if f & Self.dirty != 0 { self.stats.dirtyEvictions += 1 }
            return pfn
        }
    }

    /// The active and inactive lists, head first (for teaching views and exercises; O(pages)).
    public var lists: (active: [Int32], inactive: [Int32]) {
        (self.contents(self.active), self.contents(self.inactive))
    }

    /// The page's Accessed bit (PTE young) and PG_referenced, as reclaim will see them.
    public func referenceBits(_ id: Int32) -> (accessed: Bool, referenced: Bool) {
        let f = self.nodes[id, 2]
        return (f & Self.young != 0, f & Self.pgReferenced != 0)
    }

    func contents(_ list: NodeList) -> [Int32] {
        var out: [Int32] = []
        var id = list.head
        while id >= 0 {
            out.append(id)
            id = self.nodes.next(id, list)
        }
        return out
    }

    func shrinkActive() {
        var n = 0
        while n < 32 && self.active.count > 0 {
            let pfn = self.nodes.popTail(&self.active)
            self.nodes.pushHead(pfn, &self.inactive)
            self.nodes[pfn, 2] = self.nodes[pfn, 2] & ~(Self.young | Self.onActive)
            self.deactivations += 1
            n += 1
        }
    }
}
