/// Linux's multi-generational LRU (MGLRU, `CONFIG_LRU_GEN`: mm/vmscan.c, include/linux/mm_inline.h
/// and mm/swap.c as of 6.18, after the 6.14 rework of workingset protection) for one process's
/// anonymous pages, reduced to a fixed number of frames:
///
/// - Generations are sequence numbers `minSeq...maxSeq`, two to four of them alive (MIN_NR_GENS,
///   MAX_NR_GENS); a page's generation is kept as `seq % 4`, and each generation has a list, head
///   youngest (`lrugen->folios[gen]`). It starts as `lru_gen_init_lruvec()` leaves it: `minSeq`
///   0, `maxSeq` 3.
/// - Every access sets the page's Accessed bit (PTE young). A page faulted in joins the head of
///   generation `maxSeq - 1` (`folio_add_lru()` sets PG_active in a fault, and
///   `lru_gen_folio_seq()` gives an active page without PG_workingset `max_seq - MIN_NR_GENS + 1`),
///   with neither PG_referenced nor PG_workingset.
/// - The aging (`try_to_inc_max_seq()`, `walk_mm()`, `inc_max_seq()`) walks the page tables: each
///   young page has its bit cleared and goes to `folio_update_gen()`, which the first time
///   (neither PG_referenced nor PG_workingset) only sets PG_referenced, and otherwise moves the
///   page's generation to `maxSeq`, clears PG_referenced and sets PG_workingset. The page stays
///   where it is on its old list until eviction reaches it (lazy promotion). Then `maxSeq += 1`.
/// - Eviction (`evict_folios()`, `scan_folios()`, `sort_folio()`) takes pages from the tail of
///   generation `minSeq`. A page whose generation was moved meanwhile goes to the head of that
///   generation's list. Otherwise it is isolated, and `try_to_inc_min_seq()` advances `minSeq`
///   over empty generations (keeping two). Then `folio_check_references()`: if the PTE is not
///   young the page is reclaimed. If it is young, `lru_gen_look_around()` clears the bit and
///   checks up to 64 (MIN_LRU_BATCH) neighbouring PTEs of the same page table (ids in the same
///   512-aligned block), passing each young one to `folio_update_gen()` as the aging does. Then
///   `lru_gen_set_refs()` decides: the first time it sets PG_referenced and keeps the page
///   (FOLIOREF_KEEP); after that it sets PG_workingset, clears PG_referenced and activates it
///   (FOLIOREF_ACTIVATE). `move_folios_to_lru()` then puts the page back at a list head, and
///   `lru_gen_folio_seq()` decides where. An activated page goes to `maxSeq`. A kept one goes to
///   `maxSeq - 1` (an anonymous page outside the swap cache). If that is `minSeq`, evict_folios'
///   "don't add rejected folios to the oldest generation" sets PG_active and clears PG_referenced;
///   the page still lands in `maxSeq - 1`.
/// - When a generation may be evicted follows `get_nr_to_scan()` as direct reclaim runs it (at
///   DEF_PRIORITY, which `set_initial_priority()` leaves alone for SWAP_CLUSTER_MAX < MIN_LRU_BATCH
///   pages). The default-priority pass evicts while three or four generations are alive. It does
///   so only if `nr_to_scan >> DEF_PRIORITY` is not 0, that is with at least 4096 resident
///   pages. Below that, and once only two generations are left, the lower priorities take over.
///   There `should_run_aging()` ages whenever three or fewer are alive ("better to run aging"
///   with three, "have to" with two). So at fewer than 4096 resident pages a page is evicted only
///   while four generations are alive. At 4096 or more, eviction continues down to three, and
///   with two left two agings in a row bring back four. `inc_max_seq()` never has to call
///   `inc_min_seq()`, since no aging starts with four generations alive.
///
/// Simplifications: one page is reclaimed per miss, one at a time (the kernel isolates up to 64
/// and reclaims 32 per direct-reclaim call), and there is no scan budget (`nr_to_scan`), no
/// per-CPU folio batches, no swap cache and no refault detection. A page that comes back after
/// eviction is a new page: no shadow entry, no `lru_gen_refault()` restoring PG_workingset. So
/// the PID controller sees no refaults and `get_tier_idx()` stays at MAX_NR_TIERS − 1. Tiers then
/// protect nothing in `sort_folio()`, and they are left out. The other tier source, accesses
/// through file descriptors (`lru_gen_inc_refs()`), does not exist in a page trace. With one type
/// there is no anon/file balance (`get_type_to_scan()`). The aging walk visits every resident
/// page: no Bloom filter of page tables worth walking (`test_bloom_filter()`, filled from the
/// previous walk's `suitable_to_scan()` tables and from look-around), and no non-leaf PMD
/// Accessed-bit test. Look-around uses `walk_update_folio()` with a walk
/// (`folio_update_gen()`), as kswapd does. Direct reclaim without an mm_walk uses
/// `lru_gen_set_refs()` and `folio_activate()` instead: the same generation, but the page moves
/// at once. Page ids here are dense ids in order of first appearance, so look-around's
/// neighbours are pages first touched close together. That equals virtual adjacency only for
/// traces that first touch memory in address order.
public final class MGLRUPolicy: ReplacementPolicy {
    /// MIN_NR_GENS and MAX_NR_GENS.
    public static let minGenerations = 2
    public static let maxGenerations = 4
    /// DEF_PRIORITY: the default pass scans `resident >> 12` pages.
    static let defaultPriority = 12
    /// MIN_LRU_BATCH (BITS_PER_LONG): the PTEs `lru_gen_look_around()` checks.
    static let lookAroundSpan = 64
    /// PTRS_PER_PTE: the pages one page table maps.
    static let pageTableSpan = 512

    let frames: Int
    /// Fields: prev, next, flags (1 resident, 2 Accessed (PTE young), 4 PG_referenced,
    /// 8 PG_workingset, 16 dirty; bits 8–9 the generation, `seq % 4`).
    @exclusivity(unchecked) var nodes = NodeTable(stride: 3, fills: [-1, -1, 0])
    /// `lrugen->folios[gen]`, one list per `seq % 4`.
    @exclusivity(unchecked) var lists = Slab(count: 4, fill: NodeList(link: 0))
    @exclusivity(unchecked) var resident = 0
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()
    /// The oldest and youngest generations alive.
    public private(set) var minSeq = 0
    public private(set) var maxSeq = 3
    /// Agings: `maxSeq` increments.
    public private(set) var agings = 0
    /// Pages an aging walk moved to `maxSeq` (`folio_update_gen()` changing the generation).
    public private(set) var promotions = 0
    /// Pages look-around moved to `maxSeq`.
    public private(set) var lookAroundPromotions = 0
    /// Pages eviction found young a second time and activated into `maxSeq` (FOLIOREF_ACTIVATE).
    public private(set) var activations = 0

    static let isResident: Int32 = 1
    static let young: Int32 = 2
    static let pgReferenced: Int32 = 4
    static let pgWorkingset: Int32 = 8
    static let dirty: Int32 = 16
    static let genShift: Int32 = 8
    static let genMask: Int32 = 3 << 8

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
    }
    deinit {
        self.nodes.free()
        self.lists.free()
    }
    public func prefetch(_ id: Int32) { self.nodes.prefetch(id) }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let dirty: Int32 = write ? Self.dirty : 0
        let f = self.nodes[id, 2]
        if f & Self.isResident != 0 {
            self.nodes[id, 2] = f | Self.young | dirty
            return true
        }
        if self.resident >= self.frames { self.reclaimOne() }
        self.add(id, seq: max(self.maxSeq - 1, self.minSeq), flags: Self.isResident | Self.young | dirty)
        return false
    }

    /// An eviction asked from outside: one page reclaimed as for a miss.
    public func evict() -> Int32? {
        guard self.resident > 0 else { return nil }
        return self.reclaimOne()
    }

    /// `lru_gen_add_folio()` at the head of generation `seq`.
    func add(_ id: Int32, seq: Int, flags: Int32) {
        let g = seq & 3
        self.nodes.pushHead(id, &self.lists[g])
        self.nodes[id, 2] = (flags & ~Self.genMask) | (Int32(g) << Self.genShift)
        self.resident += 1
    }

    @discardableResult func reclaimOne() -> Int32 {
        // get_nr_to_scan() at DEF_PRIORITY, then below it (where three generations mean aging).
        var belowDefault = self.resident >> Self.defaultPriority == 0
        while true {
            let alive = self.maxSeq - self.minSeq + 1
            if belowDefault {
                if alive < Self.maxGenerations {
                    self.age()
                    continue
                }
            } else if alive <= Self.minGenerations {
                belowDefault = true
                continue
            }
            let g = self.minSeq & 3
            let pfn = self.lists[g].tail
            if pfn < 0 {
                self.tryToIncMinSeq()
                continue
            }
            self.nodes.remove(pfn, &self.lists[g])
            let f = self.nodes[pfn, 2]
            let gen = Int((f & Self.genMask) >> Self.genShift)
            if gen != g {
                // sort_folio(): promoted by a walk, so on to its generation's list.
                self.nodes.pushHead(pfn, &self.lists[gen])
                continue
            }
            // isolate_folio(), then evict_folios()' try_to_inc_min_seq().
            self.resident -= 1
            self.tryToIncMinSeq()
            if f & Self.young == 0 {
                self.nodes[pfn, 2] = 0
                self.stats.evictions += 1
                if f & Self.dirty != 0 { self.stats.dirtyEvictions += 1 }
                return pfn
            }
            self.nodes[pfn, 2] = f & ~Self.young
            self.lookAround(pfn)
            var flags = f & ~Self.young
            if flags & (Self.pgReferenced | Self.pgWorkingset) == 0 {
                // FOLIOREF_KEEP, back to max_seq - 1 (PG_referenced cleared if that is min_seq).
                let seq = max(self.maxSeq - 1, self.minSeq)
                if seq != self.minSeq { flags |= Self.pgReferenced }
                self.add(pfn, seq: seq, flags: flags)
            } else {
                // FOLIOREF_ACTIVATE: PG_active and PG_workingset, so max_seq.
                self.activations += 1
                self.add(pfn, seq: self.maxSeq, flags: (flags & ~Self.pgReferenced) | Self.pgWorkingset)
            }
        }
    }

    /// `try_to_inc_min_seq()`: past empty generations while more than MIN_NR_GENS are alive.
    func tryToIncMinSeq() {
        while self.minSeq + Self.minGenerations <= self.maxSeq && self.lists[self.minSeq & 3].count == 0 {
            self.minSeq += 1
        }
    }

    /// `folio_update_gen()` for a page whose Accessed bit a walk just cleared: true if its
    /// generation moved to `maxSeq`.
    func updateGen(_ id: Int32, _ f: Int32) -> Bool {
        if f & (Self.pgReferenced | Self.pgWorkingset) == 0 {
            self.nodes[id, 2] = f | Self.pgReferenced
            return false
        }
        let g = Int32(self.maxSeq & 3) << Self.genShift
        self.nodes[id, 2] = (f & ~(Self.genMask | Self.pgReferenced)) | g | Self.pgWorkingset
        return f & Self.genMask != g
    }

    /// `try_to_inc_max_seq()`: the page-table walk over every resident page, then `inc_max_seq()`.
    func age() {
        for g in 0..<4 {
            var id = self.lists[g].head
            while id >= 0 {
                let f = self.nodes[id, 2]
                if f & Self.young != 0 && self.updateGen(id, f & ~Self.young) { self.promotions += 1 }
                id = self.nodes.next(id, self.lists[g])
            }
        }
        self.maxSeq += 1
        self.agings += 1
    }

    /// `lru_gen_look_around()` for the isolated page `pfn`, whose own bit is already cleared: the
    /// 64 PTEs around it within its page table.
    func lookAround(_ pfn: Int32) {
        let id = Int(pfn)
        var start = id & ~(Self.pageTableSpan - 1)
        var end = start + Self.pageTableSpan
        let half = Self.lookAroundSpan / 2
        if id - start < half {
            end = start + Self.lookAroundSpan
        } else if end - id < half {
            start = end - Self.lookAroundSpan
        } else {
            start = id - half
            end = id + half
        }
        // Ids the table has no record for were never seen: not resident.
        for i in start..<min(end, self.nodes.capacity) {
            let n = Int32(i)
            let f = self.nodes[n, 2]
            if f & Self.isResident != 0 && f & Self.young != 0 && self.updateGen(n, f & ~Self.young) {
                self.lookAroundPromotions += 1
            }
        }
    }

    /// The generations alive, oldest first, each with its pages head first. Pages a walk
    /// promoted but eviction has not moved yet (they still sit on an older list) follow the
    /// generation's own list. O(pages), for teaching views and tests.
    public var generations: [(seq: Int, pages: [Int32])] {
        (self.minSeq...self.maxSeq).map { seq in
            let g = Int32(seq & 3)
            var pages: [Int32] = []
            for s in [seq] + (self.minSeq...self.maxSeq).reversed().filter({ $0 != seq }) {
                var id = self.lists[s & 3].head
                while id >= 0 {
                    if (self.nodes[id, 2] & Self.genMask) >> Self.genShift == g { pages.append(id) }
                    id = self.nodes.next(id, self.lists[s & 3])
                }
            }
            return (seq, pages)
        }
    }

    /// The generation a resident page belongs to, or nil.
    public func generation(of id: Int32) -> Int? {
        guard Int(id) < self.nodes.capacity, self.nodes[id, 2] & Self.isResident != 0 else { return nil }
        let g = Int((self.nodes[id, 2] & Self.genMask) >> Self.genShift)
        return (self.minSeq...self.maxSeq).first { $0 & 3 == g }
    }

    /// The page's Accessed bit (PTE young), PG_referenced and PG_workingset.
    public func referenceBits(_ id: Int32) -> (accessed: Bool, referenced: Bool, workingset: Bool) {
        let f = self.nodes[id, 2]
        return (f & Self.young != 0, f & Self.pgReferenced != 0, f & Self.pgWorkingset != 0)
    }
}
