import VMPaging
import VMPhys
import VMTypes

/// `struct lru_gen_folio` (include/linux/mmzone.h): one lruvec's multi-generational LRU.
///
/// Pages of each type (anonymous 0, file 1) are in generations `minSeq[type]...maxSeq`, two to
/// four of them; a page's generation is its sequence number modulo `maxNrGens`, kept in its
/// flags (`MemMap.lruGen`). The two youngest generations count as "active" for the
/// `nr_active_*`/`nr_inactive_*` counters (`lru_gen_is_active()`). The feedback counters of the
/// PID controller are per type and tier (`NR_HIST_GENS` is 1 without `CONFIG_LRU_GEN_STATS`).
///
/// Simplified: one list per generation and type instead of one per zone too (`nrPages` still
/// counts per zone, for the zone counters); a page promoted by the page-table walk moves to its
/// new generation's list at once, where Linux leaves it in place and sorts it when eviction
/// meets it (so such pages are not counted in `pgrefill`).
public struct LRUGen: Sendable {
    public static let minNrGens = 2
    public static let maxNrGens = 4
    public static let maxNrTiers = 4
    /// `MIN_LRU_BATCH` (`BITS_PER_LONG`) and `MAX_LRU_BATCH` (`MIN_LRU_BATCH * 64`).
    static let minLRUBatch = 64
    static let maxLRUBatch = 4096
    /// `LRU_REFS_WIDTH`: two bits of references through file descriptors.
    static let refsWidth = 2
    static let zoneSlots = 8
    /// `MAX_SWAPPINESS`, and `SWAPPINESS_ANON_ONLY` (what `memory.reclaim swappiness=max` asks).
    static let maxSwappiness = 200
    static let swappinessAnonOnly = 201

    /// `max_seq`, `min_seq[ANON_AND_FILE]`: `lru_gen_init_lruvec()` starts with four generations.
    public internal(set) var maxSeq = LRUGen.minNrGens + 1
    public internal(set) var minSeq = [0, 0]
    /// `timestamps[]`: when each generation was created (simulated ns).
    var timestamps = [UInt64](repeating: 0, count: LRUGen.maxNrGens)
    /// `folios[gen][type]`, newest at the head; eviction takes from the tail.
    var lists = [PFNList](repeating: PFNList(), count: LRUGen.maxNrGens * 2)
    /// `nr_pages[gen][type][zone]`.
    var nrPages = [Int](repeating: 0, count: LRUGen.maxNrGens * 2 * LRUGen.zoneSlots)
    /// `evicted`, `refaulted`, `protected` `[type][tier]` of the generation being evicted, and
    /// their moving averages `avg_refaulted`, `avg_total`.
    var evicted = [Int](repeating: 0, count: 2 * LRUGen.maxNrTiers)
    var refaulted = [Int](repeating: 0, count: 2 * LRUGen.maxNrTiers)
    var protected = [Int](repeating: 0, count: 2 * LRUGen.maxNrTiers)
    var avgRefaulted = [Int](repeating: 0, count: 2 * LRUGen.maxNrTiers)
    var avgTotal = [Int](repeating: 0, count: 2 * LRUGen.maxNrTiers)
    /// Generations made (`inc_max_seq()` calls) and page-table walks of an mm, for reports.
    public internal(set) var agings = 0
    public internal(set) var mmWalks = 0

    @inline(__always) static func gen(_ seq: Int) -> Int { seq % LRUGen.maxNrGens }
    /// `lru_gen_is_active()`.
    @inline(__always) func isActive(_ gen: Int) -> Bool {
        gen == LRUGen.gen(self.maxSeq) || gen == LRUGen.gen(self.maxSeq - 1)
    }
    /// `get_nr_gens()`.
    func nrGens(_ type: Int) -> Int { self.maxSeq - self.minSeq[type] + 1 }
    /// Pages of `type` in generation `gen`.
    public func pages(gen: Int, type: Int) -> Int {
        let base = (gen * 2 + type) * LRUGen.zoneSlots
        return self.nrPages[base..<(base + LRUGen.zoneSlots)].reduce(0, +)
    }
    /// Pages the lruvec's `list` counts (the two youngest generations are the active lists).
    func count(_ list: LRUList) -> Int {
        guard list != .unevictable else { return 0 }
        let type = list.isFile ? 1 : 0
        var n = 0
        for gen in 0..<LRUGen.maxNrGens where self.isActive(gen) == list.isActive {
            n += self.pages(gen: gen, type: type)
        }
        return n
    }
    @inline(__always) func list(_ gen: Int, _ type: Int) -> Int { gen * 2 + type }
}

/// The multi-generational LRU (mm/vmscan.c under `CONFIG_LRU_GEN`, include/linux/mm_inline.h,
/// mm/swap.c's `lru_gen_inc_refs()`, mm/workingset.c's `lru_gen_eviction()`/`lru_gen_refault()`;
/// Documentation/mm/multigen_lru.rst), as Linux 6.18 has it, when the machine boots with
/// `reclaim=mglru` (`lru_gen` enabled). The classic lists (`LRU.swift`, `Vmscan.swift`) serve
/// unevictable pages only.
///
/// - Adding a page (`lru_gen_add_folio()`, `lru_gen_folio_seq()`): an activated page goes to
///   the second youngest generation (the youngest if `PG_workingset`); a new anonymous page to
///   the second youngest; a page added during a page fault is activated first (`folio_add_lru()`
///   with `lru_gen_in_fault()`); other file pages go to the oldest (the second oldest if
///   `PG_workingset`); a page rotated at the end of its writeback to the tail of the oldest.
/// - Aging (`try_to_inc_max_seq()`): a walk of the page tables of every mm of the cgroup
///   (`walk_mm()`) clears young PTEs; a page seen young for the second time (`PG_referenced` or
///   `PG_workingset` already set, `folio_update_gen()`) moves to the youngest generation; then a
///   new youngest generation is made (`inc_max_seq()`), making room by folding the oldest into
///   the next when there are four (`inc_min_seq()`).
/// - Eviction (`try_to_shrink_lruvec()` → `evict_folios()`): the PID controller picks the type
///   (refaults per eviction of anonymous vs file pages, weighed by `swappiness`,
///   `get_type_to_scan()`) and the tiers to protect (`get_tier_idx()`); `scan_folios()` takes up
///   to 64 pages from the tail of that type's oldest generation, moving protected tiers, pages of
///   ineligible zones and pages under writeback to the next generation (`sort_folio()`);
///   `shrink_folio_list()` reclaims the rest, where a page with a young PTE is kept the first
///   time and activated the second (`lru_gen_set_refs()`), and young neighbours of that PTE are
///   promoted too (`lru_gen_look_around()`). Rejected pages never go back to the oldest
///   generation. Evicted pages leave a shadow with their generation and tier; a refault within
///   four generations feeds the controller (`lru_gen_refault()`).
/// - Thrashing prevention: kswapd OOM-kills when every cgroup's oldest generation is younger than
///   `min_ttl_ms` (`lru_gen_age_node()`; 0, the default, disables it).
///
/// Simplified: the walk visits every PTE table of the VMAs it may whose PMD entry is young
/// (x86's non-leaf Accessed bit, which Linux tests first too), with no Bloom filters and no
/// mm_list iteration state (one caller at a time); transparent huge pages are aged by eviction's
/// rmap walk only; global reclaim visits cgroups in the order classic
/// reclaim does (`shrink_node_memcgs()`) rather than by the memcg LRU (`shrink_many()`, which
/// starts at a random bin); look-around skips transparent huge pages; `evict_folios()`'s retry
/// of clean pages that missed their rotation is not modelled (vmsim has no such race).
extension Kernel {
    /// Whether the multi-generational LRU is on (`lru_gen_enabled()`).
    public var lruGenEnabled: Bool { self.reclaim.lruGen }

    /// The multi-generational LRU state of cgroup `id`'s lruvec (0: the root).
    public func lruGen(_ id: Int = 0) -> LRUGen { self.lruvecs[id].gen }

    @inline(__always) func lruGenType(_ pfn: PFN) -> Int { self.phys.memMap.test(pfn, .swapBacked) ? 0 : 1 }

    // MARK: Adding and removing pages

    /// `lru_gen_folio_seq()`: the generation a page joins.
    func lruGenFolioSeq(_ pfn: PFN, lruvec id: Int, reclaiming: Bool) -> Int {
        let type = self.lruGenType(pfn)
        let workingset = self.phys.memMap.test(pfn, .workingset) ? 1 : 0
        let gen: Int
        if self.phys.memMap.test(pfn, .active) {
            gen = LRUGen.minNrGens - workingset
        } else if reclaiming {
            gen = LRUGen.maxNrGens
        } else if (type == 0 && !self.phys.memMap.test(pfn, .swapCache))
            || (self.phys.memMap.test(pfn, .reclaim)
                && (self.phys.memMap.test(pfn, .dirty) || self.phys.memMap.test(pfn, .writeback)))
        {
            gen = LRUGen.minNrGens
        } else {
            gen = LRUGen.maxNrGens - workingset
        }
        return max(self.lruvecs[id].gen.maxSeq - gen + 1, self.lruvecs[id].gen.minSeq[type])
    }

    /// `lru_gen_add_folio()`: the page joins a generation (at the tail when `reclaiming`, as
    /// `folio_rotate_reclaimable()` adds it); `PG_active` is consumed.
    func lruGenAdd(_ pfn: PFN, reclaiming: Bool) {
        let id = self.lruvecID(of: pfn)
        let type = self.lruGenType(pfn)
        let gen = LRUGen.gen(self.lruGenFolioSeq(pfn, lruvec: id, reclaiming: reclaiming))
        self.phys.memMap.setLRUGen(pfn, gen)
        self.phys.memMap.removeFlags(pfn, .active)
        self.lruvecs[id].gen.lists[gen * 2 + type].add(pfn, toTail: reclaiming, self.phys.memMap)
        self.lruGenUpdateSize(pfn, lruvec: id, type: type, from: nil, to: gen)
    }

    /// `lru_gen_del_folio()`: the page leaves its generation; one taken off an active
    /// generation other than by reclaim keeps `PG_active` (for whoever adds it back).
    func lruGenDel(_ pfn: PFN, reclaiming: Bool) {
        guard let gen = self.phys.memMap.lruGen(pfn) else {
            preconditionFailure("lruGenDel: \(pfn) has no generation")
        }
        let id = self.lruvecID(of: pfn)
        let type = self.lruGenType(pfn)
        if !reclaiming && self.lruvecs[id].gen.isActive(gen) { self.phys.memMap.insertFlags(pfn, .active) }
        self.phys.memMap.setLRUGen(pfn, nil)
        self.lruvecs[id].gen.lists[gen * 2 + type].remove(pfn, self.phys.memMap)
        self.lruGenUpdateSize(pfn, lruvec: id, type: type, from: gen, to: nil)
    }

    /// `lru_gen_update_size()`: the generation counts and the node and zone LRU counters.
    func lruGenUpdateSize(_ pfn: PFN, lruvec id: Int, type: Int, from old: Int?, to new: Int?) {
        let zone = self.phys.zoneIndex(of: pfn) ?? 0
        func list(_ gen: Int) -> LRUList {
            let active = self.lruvecs[id].gen.isActive(gen)
            return type == 1 ? (active ? .activeFile : .inactiveFile) : (active ? .activeAnon : .inactiveAnon)
        }
        if let old {
            self.lruvecs[id].gen.nrPages[(old * 2 + type) * LRUGen.zoneSlots + zone] -= 1
            self.lruCount(pfn, list(old), -1)
        }
        if let new {
            self.lruvecs[id].gen.nrPages[(new * 2 + type) * LRUGen.zoneSlots + zone] += 1
            self.lruCount(pfn, list(new), 1)
        }
    }

    /// Moves a page that is on a generation list to generation `gen` (head, or tail).
    func lruGenMove(_ pfn: PFN, lruvec id: Int, to gen: Int, toTail: Bool = false) {
        let old = self.phys.memMap.lruGen(pfn)!
        let type = self.lruGenType(pfn)
        self.lruvecs[id].gen.lists[old * 2 + type].remove(pfn, self.phys.memMap)
        self.phys.memMap.setLRUGen(pfn, gen)
        self.lruvecs[id].gen.lists[gen * 2 + type].add(pfn, toTail: toTail, self.phys.memMap)
        if old != gen { self.lruGenUpdateSize(pfn, lruvec: id, type: type, from: old, to: gen) }
    }

    /// The pages of `list` on generation lists, youngest generation first (for `lruPages`).
    func lruGenPages(_ list: LRUList) -> [PFN] {
        guard list != .unevictable else { return [] }
        let type = list.isFile ? 1 : 0
        var out: [PFN] = []
        for v in self.lruvecs {
            let g = v.gen
            for seq in stride(from: g.maxSeq, through: g.maxSeq - LRUGen.maxNrGens + 1, by: -1) where seq >= 0
            {
                let gen = LRUGen.gen(seq)
                guard g.isActive(gen) == list.isActive else { continue }
                out += g.lists[gen * 2 + type].pages(self.phys.memMap)
            }
        }
        return out
    }

    // MARK: References

    /// `folio_lru_refs()`: references through file descriptors (0 without `PG_referenced`).
    func folioLRURefs(_ pfn: PFN) -> Int {
        return self.phys.memMap.test(pfn, .referenced) ? self.phys.memMap.lruRefs(pfn) + 1 : 0
    }

    /// `lru_tier_from_refs()`: `order_base_2(refs + workingset)`.
    static func lruTier(refs: Int, workingset: Bool) -> Int {
        let n = refs + (workingset ? 1 : 0)
        var tier = 0
        while (1 << tier) < n { tier += 1 }
        return tier
    }

    /// `lru_gen_inc_refs()` (`folio_mark_accessed()` with lru_gen): the first access through a
    /// file descriptor sets `PG_referenced`, later ones count up to three more, then
    /// `PG_workingset`.
    func lruGenIncRefs(_ pfn: PFN) {
        guard !self.phys.memMap.test(pfn, .unevictable) else { return }
        if !self.phys.memMap.test(pfn, .referenced) {
            self.phys.memMap.setLRURefs(pfn, 0)
            self.phys.memMap.insertFlags(pfn, .referenced)
            return
        }
        let refs = self.phys.memMap.lruRefs(pfn)
        if refs == (1 << LRUGen.refsWidth) - 1 {
            self.phys.memMap.insertFlags(pfn, .workingset)
        } else {
            self.phys.memMap.setLRURefs(pfn, refs + 1)
        }
    }

    /// `lru_gen_set_refs()`: a young PTE seen by eviction — the first time marks the page
    /// `PG_referenced` (false: keep it), the second `PG_workingset` (true: activate it).
    func lruGenSetRefs(_ pfn: PFN) -> Bool {
        if !self.phys.memMap.test(pfn, .referenced) && !self.phys.memMap.test(pfn, .workingset) {
            self.phys.memMap.setLRURefs(pfn, 0)
            self.phys.memMap.insertFlags(pfn, .referenced)
            return false
        }
        self.phys.memMap.removeFlags(pfn, .referenced)
        self.phys.memMap.insertFlags(pfn, .workingset)
        return true
    }

    /// `folio_update_gen()`: the page-table walk found the page young. The first sighting only
    /// marks it `PG_referenced`; after that it moves to generation `gen` with `PG_workingset`.
    func folioUpdateGen(_ pfn: PFN, to gen: Int) {
        if !self.phys.memMap.test(pfn, .referenced) && !self.phys.memMap.test(pfn, .workingset) {
            self.phys.memMap.setLRURefs(pfn, 0)
            self.phys.memMap.insertFlags(pfn, .referenced)
            return
        }
        guard self.phys.memMap.lruGen(pfn) != nil else { return }
        self.phys.memMap.removeFlags(pfn, .referenced)
        self.phys.memMap.insertFlags(pfn, .workingset)
        self.lruGenMove(pfn, lruvec: self.lruvecID(of: pfn), to: gen)
    }

    /// `folio_inc_gen()`: a page of the oldest generation moves to the next one (`PG_reclaim`
    /// set when `reclaiming`, for the end of its writeback). Returns its generation.
    @discardableResult
    func folioIncGen(_ pfn: PFN, lruvec id: Int, reclaiming: Bool, toTail: Bool = false) -> Int {
        let type = self.lruGenType(pfn)
        let oldest = LRUGen.gen(self.lruvecs[id].gen.minSeq[type])
        let current = self.phys.memMap.lruGen(pfn)!
        if current != oldest { return current }
        let new = (oldest + 1) % LRUGen.maxNrGens
        self.phys.memMap.removeFlags(pfn, [.referenced, .workingset])
        if reclaiming { self.phys.memMap.insertFlags(pfn, .reclaim) }
        self.lruGenMove(pfn, lruvec: id, to: new, toTail: toTail)
        return new
    }

    /// `folio_activate()` with lru_gen: the page moves to a young generation (`pgactivate`).
    func lruGenActivate(_ pfn: PFN) {
        guard self.phys.memMap.test(pfn, .lru), !self.phys.memMap.test(pfn, .active),
            !self.phys.memMap.test(pfn, .unevictable),
            self.phys.memMap.lruGen(pfn) != nil
        else { return }
        let id = self.lruvecID(of: pfn)
        self.lruGenDel(pfn, reclaiming: false)
        self.phys.memMap.insertFlags(pfn, .active)
        self.lruGenAdd(pfn, reclaiming: false)
        self.phys.count(.pgactivate)
        if self.memcg.isActive { self.memcg.groups[id].count(.pgactivate) }
    }

    // MARK: Aging

    /// `vma_has_recency()`: whether faults in an area with these flags activate the pages they
    /// add (not under `MADV_SEQUENTIAL` or `MADV_RANDOM`).
    static func hasRecency(_ flags: VMFlags) -> Bool {
        !flags.contains(.seqRead) && !flags.contains(.randRead)
    }

    /// `get_swappiness()`: 0 when reclaim may not swap or the cgroup has too little swap left.
    func lruGenSwappiness(_ sc: ScanControl) -> Int {
        guard sc.maySwap else { return 0 }
        if self.memcgSwapPagesAvailable(self.memcg.groups[sc.lruvecID]) < LRUGen.minLRUBatch { return 0 }
        return self.sysctl.swappiness
    }

    /// The types eviction may take at `swappiness` (`for_each_evictable_type()`).
    static func evictableTypes(_ swappiness: Int) -> ClosedRange<Int> {
        (swappiness == 0 ? 1 : 0)...(swappiness < LRUGen.swappinessAnonOnly ? 1 : 0)
    }

    /// `evictable_min_seq()`.
    func evictableMinSeq(_ id: Int, _ swappiness: Int) -> Int {
        let types = Kernel.evictableTypes(swappiness)
        let g = self.lruvecs[id].gen
        return min(g.minSeq[types.lowerBound], g.minSeq[types.upperBound])
    }

    /// `try_to_inc_max_seq()` with the page-table walk: every mm of the cgroup is walked, then
    /// a new generation is made.
    @discardableResult
    func lruGenTryToIncMaxSeq(_ id: Int, swappiness: Int) -> Bool {
        self.lruGenWalkMMs(id, swappiness: swappiness)
        self.lruGenIncMaxSeq(id, swappiness: swappiness)
        return true
    }

    /// `walk_mm()` over the cgroup's mm_list: in PTE tables whose PMD entry is young
    /// (`walk_pmd_range()`), young PTEs are cleared and their pages promoted to the youngest
    /// generation (`walk_pte_range()`, `walk_update_folio()`), skipping areas
    /// `should_skip_vma()` skips: inaccessible, `VM_LOCKED` or special ones, sequential or random
    /// reads, and anonymous and shmem memory when swappiness is 0.
    func lruGenWalkMMs(_ id: Int, swappiness: Int) {
        let gen = LRUGen.gen(self.lruvecs[id].gen.maxSeq)
        var seen = Set<ObjectIdentifier>()
        for pid in self.tasks.keys.sorted() {
            guard let task = self.tasks[pid], let mm = task.mm else { continue }
            guard !self.memcg.isActive || self.memcg(of: task).id == id else { continue }
            guard seen.insert(ObjectIdentifier(mm)).inserted else { continue }
            self.lruvecs[id].gen.mmWalks += 1
            for vma in mm.vmas {
                let flags = vma.flags
                if !flags.contains(.read) && !flags.contains(.write) && !flags.contains(.exec) { continue }
                if !flags.intersection(VMFlags.special).isEmpty || flags.contains(.locked) { continue }
                if !Kernel.hasRecency(flags) { continue }
                let swapBacked: Bool
                switch vma.backing {
                case .anonymous, .shmem: swapBacked = true
                case .file: swapBacked = false
                case .special: continue
                }
                if swapBacked && swappiness == 0 { continue }
                if !swapBacked && swappiness > LRUGen.maxSwappiness { continue }
                var young: [(UInt64, PTE)] = []
                self.pageTables.forEachPTEInYoungTables(root: mm.pgd, range: vma.start..<vma.end) { va, pte in
                    if self.lruGenYoungPage(pte, lruvec: id) { young.append((va, pte)) }
                }
                for (va, pte) in young {
                    self.lruGenClearYoung(mm, va, pte)
                    self.folioUpdateGen(pte.pfn, to: gen)
                }
            }
        }
    }

    /// Whether a walk or look-around takes `pte`'s page: young, on a generation list of lruvec
    /// `id` (`get_pte_pfn()`, `get_pfn_folio()`).
    func lruGenYoungPage(_ pte: PTE, lruvec id: Int) -> Bool {
        let pfn = pte.pfn
        return pte.contains(.accessed) && pfn != self.zeroPFN && Int(pfn.rawValue) < self.phys.memMap.capacity
            && self.phys.memMap.lruGen(pfn) != nil && self.lruvecID(of: pfn) == id
    }

    /// `ptep_clear_young_notify()` on a young PTE the walk or look-around took, and its dirty bit
    /// passed to the page.
    func lruGenClearYoung(_ mm: AddressSpace, _ va: UInt64, _ pte: PTE) {
        var old = pte
        old.flags.remove(.accessed)
        _ = self.installPTE(mm, va, old)
        self.lruGenPTEDirty(pte)
    }

    /// A dirty PTE the walk or look-around clears young: the page is dirtied unless it is
    /// anonymous memory not yet in swap (`folio_mark_dirty()` in `walk_update_folio()`).
    func lruGenPTEDirty(_ pte: PTE) {
        let pfn = pte.pfn
        guard pte.contains(.dirty), !self.phys.memMap.test(pfn, .dirty) else { return }
        if self.phys.memMap.test(pfn, .anon) && self.phys.memMap.test(pfn, .swapBacked)
            && !self.phys.memMap.test(pfn, .swapCache)
        {
            return
        }
        if self.phys.memMap.test(pfn, .anon) || self.phys.memMap.test(pfn, .swapBacked) {
            self.phys.memMap.insertFlags(pfn, .dirty)
        } else {
            self.markPageDirty(pfn)
        }
    }

    /// `inc_max_seq()`: a new youngest generation. When a type already has four, its oldest is
    /// folded into the next first (`inc_min_seq()`); the generation that stops being one of
    /// the two youngest moves its pages from the active to the inactive counters.
    func lruGenIncMaxSeq(_ id: Int, swappiness: Int) {
        for type in 0..<2 where self.lruvecs[id].gen.nrGens(type) == LRUGen.maxNrGens {
            self.lruGenIncMinSeq(id, type: type, swappiness: swappiness)
        }
        let g = self.lruvecs[id].gen
        let prev = LRUGen.gen(g.maxSeq - 1)
        let next = LRUGen.gen(g.maxSeq + 1)
        for type in 0..<2 {
            let inactive: LRUList = type == 1 ? .inactiveFile : .inactiveAnon
            let active: LRUList = type == 1 ? .activeFile : .activeAnon
            for zone in 0..<min(self.phys.zoneCount, LRUGen.zoneSlots) {
                let delta =
                    g.nrPages[(prev * 2 + type) * LRUGen.zoneSlots + zone]
                    - g.nrPages[(next * 2 + type) * LRUGen.zoneSlots + zone]
                guard delta != 0 else { continue }
                self.phys.mod(inactive.nodeItem, delta)
                self.phys.mod(active.nodeItem, -delta)
                self.phys.modZone(zone, inactive.zoneItem, delta)
                self.phys.modZone(zone, active.zoneItem, -delta)
            }
        }
        self.lruvecs[id].gen.timestamps[next] = self.now
        self.lruvecs[id].gen.maxSeq += 1
        self.lruvecs[id].gen.agings += 1
    }

    /// `inc_min_seq()`: the pages of `type`'s oldest generation move to the next (to its tail,
    /// counting the protected tiers), then `min_seq` advances. A type eviction may not take
    /// (anonymous at swappiness 0) just advances.
    func lruGenIncMinSeq(_ id: Int, type: Int, swappiness: Int) {
        let skip = (type == 1 && swappiness == LRUGen.swappinessAnonOnly) || (type == 0 && swappiness == 0)
        if !skip {
            let oldest = LRUGen.gen(self.lruvecs[id].gen.minSeq[type])
            while let pfn = self.lruvecs[id].gen.lists[oldest * 2 + type].last {
                let refs = self.folioLRURefs(pfn)
                let workingset = self.phys.memMap.test(pfn, .workingset)
                self.folioIncGen(pfn, lruvec: id, reclaiming: false, toTail: true)
                if refs + (workingset ? 1 : 0) != (1 << LRUGen.refsWidth) + 1 {
                    self.lruvecs[id].gen.protected[
                        type * LRUGen.maxNrTiers
                            + Kernel.lruTier(refs: refs, workingset: workingset)] += 1
                }
            }
        }
        self.lruGenResetCtrlPos(id, type: type)
        self.lruvecs[id].gen.minSeq[type] += 1
    }

    /// `try_to_inc_min_seq()`: `min_seq` of each evictable type moves past empty generations,
    /// keeping the two types within the generations `swappiness` lets eviction balance.
    @discardableResult
    func lruGenTryToIncMinSeq(_ id: Int, swappiness: Int) -> Bool {
        let g = self.lruvecs[id].gen
        var minSeq = g.minSeq
        var moved = false
        for type in Kernel.evictableTypes(swappiness) {
            while minSeq[type] + LRUGen.minNrGens <= g.maxSeq {
                if !g.lists[LRUGen.gen(minSeq[type]) * 2 + type].isEmpty { break }
                minSeq[type] += 1
                moved = true
            }
        }
        guard moved else { return false }
        if swappiness > 0 && swappiness <= LRUGen.maxSwappiness {
            let seq = g.maxSeq - LRUGen.minNrGens
            if minSeq[0] > seq && minSeq[1] < seq {
                minSeq[0] = seq
            } else if minSeq[1] > seq && minSeq[0] < seq {
                minSeq[1] = seq
            }
        }
        var success = false
        for type in Kernel.evictableTypes(swappiness) where minSeq[type] > g.minSeq[type] {
            self.lruGenResetCtrlPos(id, type: type)
            self.lruvecs[id].gen.minSeq[type] = minSeq[type]
            success = true
        }
        return success
    }

    // MARK: The PID controller

    /// `reset_ctrl_pos(…, carryover: true)`: the evicted generation's refaults and totals fold
    /// into the moving averages (halved), and its counters start again.
    func lruGenResetCtrlPos(_ id: Int, type: Int) {
        for tier in 0..<LRUGen.maxNrTiers {
            let i = type * LRUGen.maxNrTiers + tier
            let g = self.lruvecs[id].gen
            self.lruvecs[id].gen.avgRefaulted[i] = (g.avgRefaulted[i] + g.refaulted[i]) / 2
            self.lruvecs[id].gen.avgTotal[i] = (g.avgTotal[i] + g.protected[i] + g.evicted[i]) / 2
            self.lruvecs[id].gen.refaulted[i] = 0
            self.lruvecs[id].gen.evicted[i] = 0
            self.lruvecs[id].gen.protected[i] = 0
        }
    }

    /// `read_ctrl_pos()`: refaults and total of `type`'s tier `tier` (all tiers for
    /// `maxNrTiers`).
    func lruGenCtrlPos(_ id: Int, type: Int, tier: Int, gain: Int) -> (refaulted: Int, total: Int, gain: Int)
    {
        let g = self.lruvecs[id].gen
        var refaulted = 0
        var total = 0
        for t in (tier % LRUGen.maxNrTiers)...min(tier, LRUGen.maxNrTiers - 1) {
            let i = type * LRUGen.maxNrTiers + t
            refaulted += g.avgRefaulted[i] + g.refaulted[i]
            total += g.avgTotal[i] + g.protected[i] + g.evicted[i]
        }
        return (refaulted, total, gain)
    }

    /// `positive_ctrl_err()`: the process variable has few refaults, or a lower refault rate
    /// than the set point.
    static func positiveCtrlErr(
        _ sp: (refaulted: Int, total: Int, gain: Int), _ pv: (refaulted: Int, total: Int, gain: Int)
    ) -> Bool {
        pv.refaulted < LRUGen.minLRUBatch
            || pv.refaulted * (sp.total + LRUGen.minLRUBatch) * sp.gain <= (sp.refaulted + 1) * pv.total
                * pv.gain
    }

    /// `get_tier_idx()`: tiers above the returned one are protected from this eviction.
    func lruGenTierIdx(_ id: Int, type: Int) -> Int {
        let sp = self.lruGenCtrlPos(id, type: type, tier: 0, gain: 2)
        var tier = 1
        while tier < LRUGen.maxNrTiers {
            let pv = self.lruGenCtrlPos(id, type: type, tier: tier, gain: 3)
            if !Kernel.positiveCtrlErr(sp, pv) { break }
            tier += 1
        }
        return tier - 1
    }

    /// `get_type_to_scan()`: file (1) when anonymous pages refault relatively more, weighed by
    /// swappiness; anonymous (0) otherwise.
    func lruGenTypeToScan(_ id: Int, swappiness: Int) -> Int {
        if swappiness <= 1 { return 1 }
        if swappiness >= LRUGen.maxSwappiness { return 0 }
        let sp = self.lruGenCtrlPos(id, type: 0, tier: LRUGen.maxNrTiers, gain: swappiness)
        let pv = self.lruGenCtrlPos(
            id, type: 1, tier: LRUGen.maxNrTiers, gain: LRUGen.maxSwappiness - swappiness)
        return Kernel.positiveCtrlErr(sp, pv) ? 1 : 0
    }

    // MARK: Eviction

    /// `try_to_shrink_lruvec()`: evicts from `sc.lruvecID` until `get_nr_to_scan()` is used up
    /// or reclaim may stop, aging instead when only two generations are left. Returns whether
    /// the lruvec ran low on cold pages (it aged).
    @discardableResult
    func lruGenShrinkLRUVec(_ sc: inout ScanControl) -> Bool {
        let swappiness = self.lruGenSwappiness(sc)
        var scanned = 0
        var nrToScan = 0
        sc.fileTaken = 0
        let unqueuedBefore = sc.nrUnqueuedDirty
        while true {
            nrToScan = self.lruGenNrToScan(&sc, swappiness: swappiness)
            if nrToScan <= 0 { break }
            let before = sc.nrReclaimed
            let delta = self.lruGenEvictFolios(nrToScan, &sc, swappiness: swappiness)
            if delta == 0 { break }
            scanned += delta
            if scanned >= nrToScan || self.lruGenShouldAbortScan(sc) { break }
            // As the classic lists do in vmsim (`writebackCoversGoal`): reclaim takes no simulated
            // time, so pages still on their way to swap would be sorted again and again.
            if self.writebackCoversGoal(sc, reclaimed: sc.nrReclaimed - before) { break }
        }
        let unqueued = sc.nrUnqueuedDirty - unqueuedBefore
        if unqueued > 0 && unqueued == sc.fileTaken { self.wakeFlusherForReclaim() }
        return nrToScan < 0
    }

    /// `should_run_aging()`: whether eviction must (or had better) wait for a new generation,
    /// and the evictable pages.
    func lruGenShouldRunAging(_ id: Int, swappiness: Int) -> (Bool, Int) {
        let g = self.lruvecs[id].gen
        let minSeq = self.evictableMinSeq(id, swappiness)
        if minSeq + LRUGen.minNrGens > g.maxSeq { return (true, 0) }
        var size = 0
        for type in Kernel.evictableTypes(swappiness) {
            for seq in g.minSeq[type]...g.maxSeq { size += max(g.pages(gen: LRUGen.gen(seq), type: type), 0) }
        }
        return (minSeq + LRUGen.minNrGens == g.maxSeq, size)
    }

    /// `get_nr_to_scan()`: the evictable pages (less the cgroup's protection) shifted by the
    /// priority; at the default priority it gets away without aging, below it ages and stops
    /// (-1) when the lruvec is low on cold pages.
    func lruGenNrToScan(_ sc: inout ScanControl, swappiness: Int) -> Int {
        let id = sc.lruvecID
        let (needAging, size) = self.lruGenShouldRunAging(id, swappiness: swappiness)
        var nr = size
        if sc.protection > 0 {
            // apply_proportional_protection()
            let cgroupSize = max(self.memcg.groups[id].memory.usage, sc.protection)
            nr = max(nr - nr * sc.protection / (cgroupSize + 1), Kernel.swapClusterMax)
        }
        if !needAging || sc.priority == Kernel.defPriority { return nr >> sc.priority }
        return self.lruGenTryToIncMaxSeq(id, swappiness: swappiness) ? -1 : 0
    }

    /// `should_abort_scan()`: global reclaim stops once it has its goal; kswapd also once every
    /// eligible zone is above its high watermark (plus a batch).
    func lruGenShouldAbortScan(_ sc: ScanControl) -> Bool {
        guard sc.target == nil else { return false }
        if sc.nrReclaimed >= max(sc.nrToReclaim, 2 << sc.order) { return true }
        guard sc.isKswapd, sc.order == 0 else { return false }
        for z in 0...min(sc.reclaimIdx, self.phys.zoneCount - 1) where self.phys.zone(z).managedPages > 0 {
            let zone = self.phys.zone(z)
            if !self.phys.zoneWatermarkOK(
                zone: z, order: 0, mark: zone.highWatermark + LRUGen.minLRUBatch, highestZone: sc.reclaimIdx,
                flags: [])
            {
                return false
            }
        }
        return true
    }

    /// `evict_folios()`: isolates a batch from the oldest generation, advances `min_seq` past
    /// emptied generations, and reclaims the batch (`shrink_folio_list()`). Returns pages scanned.
    func lruGenEvictFolios(_ nrToScan: Int, _ sc: inout ScanControl, swappiness: Int) -> Int {
        let id = sc.lruvecID
        var list: [PFN] = []
        var type = 0
        var scanned = self.lruGenIsolateFolios(
            nrToScan, &sc, swappiness: swappiness, type: &type, into: &list)
        if self.lruGenTryToIncMinSeq(id, swappiness: swappiness) { scanned += 1 }
        if self.evictableMinSeq(id, swappiness) + LRUGen.minNrGens > self.lruvecs[id].gen.maxSeq {
            scanned = 0
        }
        guard !list.isEmpty else { return scanned }
        self.phys.mod(type == 1 ? .nrIsolatedFile : .nrIsolatedAnon, list.count)
        let reclaimed = self.shrinkFolioList(
            list, type == 1 ? .inactiveFile : .inactiveAnon, scanned: list.count, chosen: false, &sc)
        sc.nrReclaimed += reclaimed
        return scanned
    }

    /// `isolate_folios()`: the type the controller picks first, the other if it had nothing.
    func lruGenIsolateFolios(
        _ nrToScan: Int, _ sc: inout ScanControl, swappiness: Int, type: inout Int, into list: inout [PFN]
    ) -> Int {
        var t = self.lruGenTypeToScan(sc.lruvecID, swappiness: swappiness)
        for _ in Kernel.evictableTypes(swappiness) {
            let tier = self.lruGenTierIdx(sc.lruvecID, type: t)
            type = t
            let scanned = self.lruGenScanFolios(nrToScan, &sc, type: t, tier: tier, into: &list)
            if scanned > 0 { return scanned }
            t = 1 - t
        }
        return 0
    }

    /// `scan_folios()`: from the tail of `type`'s oldest generation, sorts or isolates pages until
    /// 64 are isolated (or skipped) or the batch is used up. Counts `pgrefill` for the sorted.
    func lruGenScanFolios(
        _ nrToScan: Int, _ sc: inout ScanControl, type: Int, tier: Int, into list: inout [PFN]
    )
        -> Int
    {
        let id = sc.lruvecID
        guard self.lruvecs[id].gen.nrGens(type) != LRUGen.minNrGens else { return 0 }
        let gen = LRUGen.gen(self.lruvecs[id].gen.minSeq[type])
        var remaining = min(nrToScan, LRUGen.maxLRUBatch)
        var scanned = 0
        var sorted = 0
        var isolated = 0
        var skipped: [PFN] = []
        while let pfn = self.lruvecs[id].gen.lists[gen * 2 + type].last {
            scanned += 1
            if self.lruGenSortFolio(pfn, &sc, tier: tier) {
                sorted += 1
            } else if self.lruGenIsolateFolio(pfn, sc) {
                list.append(pfn)
                isolated += 1
            } else {
                self.lruvecs[id].gen.lists[gen * 2 + type].remove(pfn, self.phys.memMap)
                skipped.append(pfn)
            }
            remaining -= 1
            if remaining == 0 || max(isolated, skipped.count) >= LRUGen.minLRUBatch { break }
        }
        for pfn in skipped {
            self.lruvecs[id].gen.lists[gen * 2 + type].add(pfn, toTail: false, self.phys.memMap)
        }
        if sc.target == nil { self.phys.count(.pgrefill, UInt64(sorted)) }
        if self.memcg.isActive { self.memcg.groups[id].count(.pgrefill, sorted) }
        if type == 1 { sc.fileTaken += isolated }
        return isolated > 0 || remaining == 0 ? scanned : 0
    }

    /// `sort_folio()`: true when the page was moved on instead of isolated — mlocked (to the
    /// unevictable list), of a protected tier, in a zone reclaim may not touch, or waiting for
    /// writeback (to the next generation).
    func lruGenSortFolio(_ pfn: PFN, _ sc: inout ScanControl, tier tierIdx: Int) -> Bool {
        let id = sc.lruvecID
        let type = self.lruGenType(pfn)
        let refs = self.folioLRURefs(pfn)
        let workingset = self.phys.memMap.test(pfn, .workingset)
        let tier = Kernel.lruTier(refs: refs, workingset: workingset)
        if self.phys.memMap.test(pfn, .mlocked) {
            self.lruGenDel(pfn, reclaiming: true)
            self.phys.memMap.insertFlags(pfn, .unevictable)
            self.lruvecs[id].add(pfn, to: .unevictable, toTail: false, self.phys.memMap)
            self.lruCount(pfn, .unevictable, 1)
            self.phys.count(.unevictablePgsCulled)
            return true
        }
        let maxRefs = (1 << LRUGen.refsWidth) + 1
        if tier > tierIdx || refs + (workingset ? 1 : 0) == maxRefs {
            self.folioIncGen(pfn, lruvec: id, reclaiming: false)
            if refs + (workingset ? 1 : 0) != maxRefs {
                self.lruvecs[id].gen.protected[type * LRUGen.maxNrTiers + tier] += 1
            }
            return true
        }
        if (self.phys.zoneIndex(of: pfn) ?? 0) > sc.reclaimIdx {
            self.folioIncGen(pfn, lruvec: id, reclaiming: false, toTail: true)
            return true
        }
        let dirty = self.phys.memMap.test(pfn, .dirty)
        let writeback = self.phys.memMap.test(pfn, .writeback)
        if type == 1 && dirty {
            sc.fileTaken += 1
            if !writeback { sc.nrUnqueuedDirty += 1 }
        }
        if writeback || (type == 1 && dirty) {
            self.folioIncGen(pfn, lruvec: id, reclaiming: true)
            // For vmsim's writeback throttling (`doTryToFreePages`): the tail is congested.
            if writeback {
                sc.nrWriteback += 1
                sc.nrTaken += 1
            }
            return true
        }
        return false
    }

    /// `isolate_folio()`: off its generation with a reference for reclaim — unless reclaim may
    /// not do I/O and the page would need it.
    func lruGenIsolateFolio(_ pfn: PFN, _ sc: ScanControl) -> Bool {
        if !sc.gfp.contains(.io)
            && (self.phys.memMap.test(pfn, .dirty)
                || (self.phys.memMap.test(pfn, .anon) && !self.phys.memMap.test(pfn, .swapCache)))
        {
            return false
        }
        self.phys.memMap.getPage(pfn)
        if !self.phys.memMap.test(pfn, .referenced) { self.phys.memMap.setLRURefs(pfn, 0) }
        self.phys.memMap.removeFlags(pfn, .reclaim)
        self.lruGenDel(pfn, reclaiming: true)
        self.phys.memMap.removeFlags(pfn, .lru)
        return true
    }

    /// `lru_gen_folio_check_references()`: no young PTE → reclaim; a young one → keep the first
    /// time, activate the second (`lru_gen_set_refs()`); a `VM_LOCKED` mapping → activate
    /// (to the unevictable list).
    func lruGenCheckReferences(_ pfn: PFN, _ sc: ScanControl) -> PageReferences {
        // folio_referenced(): around each young PTE, lru_gen_look_around() looks at up to 64
        // neighbours and promotes young pages of the same cgroup (kswapd: to the youngest
        // generation, folio_update_gen(); direct reclaim: activated on their second sighting).
        let owner = self.lruvecID(of: pfn)
        let (ptes, flags) = self.pageReferenced(pfn) { mm, vma, address in
            guard vma.flags.intersection(VMFlags.special).isEmpty else { return }
            self.lruGenLookAround(mm, vma: vma, address: address, owner: owner, kswapd: sc.isKswapd)
        }
        if flags.contains(.locked) { return .activate }
        if ptes == 0 { return .reclaim }
        return self.lruGenSetRefs(pfn) ? .activate : .keep
    }

    /// `lru_gen_look_around()`: the PTEs around `address` (within its PMD and VMA, at most 64
    /// pages centred on it).
    func lruGenLookAround(_ mm: AddressSpace, vma: VMA, address: UInt64, owner id: Int, kswapd: Bool) {
        let page = self.phys.pageSize
        let pmdSpan =
            page << UInt64(self.pageTables.geometry.entries(atLevel: self.leafLevel).trailingZeroBitCount)
        var start = max(address & ~(pmdSpan - 1), vma.start)
        var end = min(address | (pmdSpan - 1), vma.end - 1) + 1
        if end - start == page { return }
        let batch = UInt64(LRUGen.minLRUBatch) * page
        if end - start > batch {
            if address - start < batch / 2 {
                end = start + batch
            } else if end - address < batch / 2 {
                start = end - batch
            } else {
                start = address - batch / 2
                end = address + batch / 2
            }
        }
        let gen = LRUGen.gen(self.lruvecs[id].gen.maxSeq)
        var young: [(UInt64, PTE)] = []
        self.pageTables.forEachPTE(root: mm.pgd, range: start..<end) { va, pte in
            guard va != address, pte.isPresent, !self.phys.memMap.test(pte.pfn, .head) else { return }
            if self.lruGenYoungPage(pte, lruvec: id) { young.append((va, pte)) }
        }
        for (va, pte) in young {
            self.lruGenClearYoung(mm, va, pte)
            if kswapd {
                self.folioUpdateGen(pte.pfn, to: gen)
            } else if self.lruGenSetRefs(pte.pfn), self.phys.memMap.lruGen(pte.pfn) != gen {
                self.lruGenActivate(pte.pfn)
            }
        }
    }

    /// `evict_folios()` on the pages `shrink_folio_list()` rejects: one that would go back to
    /// the oldest generation is activated instead (`PG_active`, clearing `PG_referenced` and
    /// `PG_workingset`).
    func lruGenPrepareRejected(_ pages: [PFN]) {
        for pfn in pages
        where !self.phys.memMap.test(pfn, .mlocked) && !self.phys.memMap.test(pfn, .unevictable) {
            let id = self.lruvecID(of: pfn)
            let type = self.lruGenType(pfn)
            if self.lruGenFolioSeq(pfn, lruvec: id, reclaiming: false) == self.lruvecs[id].gen.minSeq[type] {
                self.phys.memMap.removeFlags(pfn, [.referenced, .workingset])
                self.phys.memMap.insertFlags(pfn, .active)
            }
        }
    }

    // MARK: Refaults

    /// `lru_gen_eviction()`: the shadow holds the page's cgroup, its type's `min_seq` and its
    /// references; the eviction counts in its tier.
    func lruGenEviction(_ pfn: PFN) -> Shadow {
        let type = self.lruGenType(pfn)
        let refs = self.folioLRURefs(pfn)
        let workingset = self.phys.memMap.test(pfn, .workingset)
        let id = self.lruvecID(of: pfn)
        let tier = Kernel.lruTier(refs: refs, workingset: workingset)
        self.lruvecs[id].gen.evicted[type * LRUGen.maxNrTiers + tier] += 1
        return Shadow(
            lruvec: id, eviction: self.lruvecs[id].gen.minSeq[type], refs: max(refs - 1, 0),
            workingset: workingset)
    }

    /// `lru_gen_test_recent()`: evicted within the last four generations.
    func lruGenTestRecent(_ shadow: Shadow) -> Bool {
        abs(self.lruvecs[shadow.lruvec].gen.maxSeq - shadow.eviction) < LRUGen.maxNrGens
    }

    /// `lru_gen_refault()`: a refault into the cgroup that evicted the page counts; a recent one
    /// feeds its tier's refaults to the controller, is activated if it happens in a fault, and
    /// gets back `PG_workingset` or its references.
    func lruGenRefault(_ pfn: PFN, _ shadow: Shadow) {
        let recent = self.lruGenTestRecent(shadow)
        let id = shadow.lruvec
        guard id == self.lruvecID(of: pfn) else { return }
        let file = !self.phys.memMap.test(pfn, .swapBacked)
        self.workingsetCount(id, file ? .workingsetRefaultFile : .workingsetRefaultAnon)
        guard recent else { return }
        let type = file ? 1 : 0
        let refs = shadow.refs + 1
        let tier = Kernel.lruTier(refs: refs, workingset: shadow.workingset)
        self.lruvecs[id].gen.refaulted[type * LRUGen.maxNrTiers + tier] += 1
        if self.reclaim.inLRUFault {
            self.workingsetCount(id, file ? .workingsetActivateFile : .workingsetActivateAnon)
        }
        if shadow.workingset {
            self.phys.memMap.insertFlags(pfn, .workingset)
            self.workingsetCount(id, file ? .workingsetRestoreFile : .workingsetRestoreAnon)
        } else {
            self.phys.memMap.setLRURefs(pfn, refs - 1)
        }
    }

    // MARK: kswapd and reports

    /// `lru_gen_age_node()` (kswapd, before it shrinks the node): with `min_ttl_ms` set, when
    /// no cgroup's oldest evictable generation is older than that, the working set would
    /// thrash: OOM-kill instead. Returns whether it killed.
    func lruGenAgeNode(_ sc: ScanControl) -> Bool {
        let minTTL = self.reclaim.lruGenMinTTL
        guard minTTL > 0 else { return false }
        for g in self.memcg.root.subtree {
            var probe = sc
            probe.lruvecID = g.id
            let swappiness = self.lruGenSwappiness(probe)
            if g.memory.usage <= g.memory.emin && !g.isRoot { continue }
            let gens = self.lruvecs[g.id].gen
            var total = 0
            for type in Kernel.evictableTypes(swappiness) {
                for seq in gens.minSeq[type]...gens.maxSeq {
                    total += gens.pages(gen: LRUGen.gen(seq), type: type)
                }
            }
            guard total >> sc.priority > 0 else { continue }
            let birth = gens.timestamps[LRUGen.gen(self.evictableMinSeq(g.id, swappiness))]
            if self.now >= birth + minTTL { return false }
        }
        // out_of_memory() from kswapd: the usual report, no message of its own.
        return self.oomKill(gfp: .kernel, order: 0)
    }

    /// `set_initial_priority()` for global reclaim: start where the inactive lists, shifted by the
    /// priority, come to the goal (between 6 and 12).
    func lruGenInitialPriority(_ sc: inout ScanControl) {
        guard sc.priority == Kernel.defPriority, sc.nrToReclaim >= LRUGen.minLRUBatch else { return }
        var reclaimable = self.phys.state(.nrInactiveFile)
        if self.canReclaimAnon { reclaimable += self.phys.state(.nrInactiveAnon) }
        func fls(_ x: Int) -> Int { x <= 0 ? 0 : Int.bitWidth - x.leadingZeroBitCount }
        let priority = fls(reclaimable) - 1 - fls(sc.nrToReclaim - 1)
        sc.priority = min(max(priority, Kernel.defPriority / 2), Kernel.defPriority)
    }

    /// `/sys/kernel/debug/lru_gen` (`lru_gen_seq_show()`, not the full form): per cgroup and
    /// node, each generation from the oldest evictable one with its age in ms and its
    /// anonymous and file pages.
    public func lruGenDebugText() -> String {
        var out = ""
        for g in self.memcg.root.subtree {
            let gens = self.lruvecs[g.id].gen
            out += "memcg \(rpad(g.id + 1, 5)) \(g.path)\n"
            out += " node \(rpad(0, 5))\n"
            let first = min(gens.minSeq[0], gens.minSeq[1])
            for seq in first...gens.maxSeq {
                let gen = LRUGen.gen(seq)
                let age = (self.now - min(self.now, gens.timestamps[gen])) / 1_000_000
                out += " \(rpad(seq, 10)) \(rpad(Int(age), 10))"
                for type in 0..<2 {
                    out += " \(rpad(max(gens.pages(gen: gen, type: type), 0), 10)) "
                }
                out += "\n"
            }
        }
        return out
    }

}
