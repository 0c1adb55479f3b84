import VMPaging
import VMPhys
import VMTypes

/// Reclaim state of the node (`pg_data_t`'s kswapd fields); the costs are the `LRUVec`'s.
public final class ReclaimState {
    /// kswapd: woken, for which order and highest zone; its failures in a row.
    var kswapdWoken = false
    var kswapdOrder = 0
    var kswapdHighestZone = 0
    public internal(set) var kswapdFailures = 0
    /// When kswapd last went to sleep (for `kswapd_*_wmark_hit_quickly`).
    var kswapdSleptAt: UInt64?
    public internal(set) var kswapdRuns = 0
    public var mode: KswapdMode = .modern
    /// kswapd found only pages under writeback: it sleeps until then (`reclaim_throttle()`).
    var kswapdThrottledUntil: UInt64 = 0
    /// `PF_MEMALLOC`: reclaim is running; allocations it makes do not recurse into reclaim.
    var depth = 0
    /// The multi-generational LRU is on (`lru_gen`, `reclaim=mglru`; set at boot).
    public internal(set) var lruGen = false
    /// `/sys/kernel/mm/lru_gen/min_ttl_ms`, in ns (0: off).
    public var lruGenMinTTL: UInt64 = 0
    /// `current->in_lru_fault`: a page fault in an area with recency is running.
    var inLRUFault = false
    /// Memory pressure of the system (`/proc/pressure/memory`), and how deep the current
    /// task's memory stall is nested (`PF_MEMSTALL`).
    public internal(set) var psi = PSIGroup()
    var memstallDepth = 0
    /// Tasks chosen by the OOM killer while running (killed when their fault or call returns).
    var pendingKills: Set<Int> = []
    /// A replacement policy that picks the anonymous pages reclaim takes (nil: the LRU lists).
    public var victims: (any ReclaimVictimSource)?
    /// Pages a victim source named that reclaim could not take (not mapped, not on an
    /// anonymous LRU list, or in a zone the reclaim may not touch).
    public internal(set) var victimsSkipped = 0
}

/// Chooses the anonymous pages reclaim takes, in place of the order of the anonymous LRU lists —
/// how kernel-mode trace replay plugs a replacement policy (FIFO, ARC, OPT…) into the kernel.
/// The lists still decide how much anonymous memory to reclaim (`get_scan_count()`), and file
/// pages are reclaimed from their own lists as usual; only which anonymous pages go is the
/// policy's. A chosen page goes without `folio_check_references()` (the policy already
/// decided); one that cannot be reclaimed (no swap slot, under writeback, locked) stays.
public protocol ReclaimVictimSource: AnyObject {
    /// The page the policy gives up next — the address space and user address mapping it — or
    /// nil when it has none left (then reclaim falls back to the inactive anonymous list).
    func nextVictim() -> (mm: AddressSpace, address: UInt64)?
}

/// `struct scan_control` (mm/vmscan.c).
struct ScanControl {
    var nrToReclaim: Int
    var gfp: GFP
    var reclaimIdx: Int
    /// The allocation order reclaim works for (kswapd's balance is checked at this order).
    var order = 0
    var priority = 12
    var isKswapd: Bool
    var maySwap = true
    var nrScanned = 0
    var nrReclaimed = 0
    var fileIsTiny = false
    var cacheTrimMode = false
    var mayDeactivateAnon = false
    var mayDeactivateFile = false
    var anonCost = 0
    var fileCost = 0
    /// Pages met under writeback or dirty and not queued (for throttling).
    var nrWriteback = 0
    var nrUnqueuedDirty = 0
    var nrTaken = 0
    /// Pages whose writeback this reclaim started (`stat->nr_pageout`, summed over the run):
    /// reclaimed once their I/O completes and reclaim meets them again at the tail.
    var nrPageout = 0
    /// Pages scanned over the whole reclaim (`nrScanned` restarts each pass).
    var totalScanned = 0
    /// `target_mem_cgroup`: the cgroup whose subtree this reclaim is for (nil: global reclaim).
    var target: MemCgroup?
    /// The lruvec (cgroup id) being shrunk now.
    var lruvecID = 0
    /// `mem_cgroup_protection()` of that cgroup for this reclaim, in pages.
    var protection = 0
    /// `memory.reclaim`: counted as proactive.
    var proactive = false
    /// `memcg_low_reclaim`, `memcg_low_skipped`.
    var memcgLowReclaim = false
    var memcgLowSkipped = false
    /// `sc->nr.file_taken` (MGLRU): file pages isolated or found dirty by this scan.
    var fileTaken = 0
}

/// What `folio_check_references()` decided.
enum PageReferences { case activate, keep, reclaim, reclaimClean }

/// Page reclaim (mm/vmscan.c, mm/rmap.c's `folio_referenced()`/`try_to_unmap()`, mm/swap.c):
/// the LRU aging and eviction kswapd and direct reclaim do, and the shrinkers. Models Linux 6.18
/// without MGLRU (`lru_gen` off), one node; with memory cgroups, one `lruvec` per cgroup, walked
/// by `shrink_node_memcgs()` (global reclaim from the root, cgroup reclaim from its target).
///
/// Evicted file and swap-cache pages leave shadow entries for refault detection
/// (`Workingset.swift`). With `lru_gen` on, `LRUGen.swift` replaces the two lists' aging and
/// eviction.
///
/// Simplified: no compaction, no writeback of file pages by kswapd itself (dirty file pages
/// are activated with `PG_reclaim` and the flusher woken, as direct reclaim always does), no
/// per-CPU LRU batches, and reclaim work takes no simulated time (its I/O does).
extension Kernel {
    static let defPriority = 12

    // MARK: LRU sizes and balance

    func lruSizeBelow(_ list: LRUList, zone reclaimIdx: Int) -> Int {
        var n = 0
        for z in 0...min(reclaimIdx, self.phys.zoneCount - 1) {
            n += self.phys.zone(z).state(list.zoneItem)
        }
        return n
    }

    /// `inactive_is_low()`: the inactive list should be at least 1/√(10·GB) of the total.
    func inactiveIsLow(_ inactive: LRUList, lruvec: Int? = nil) -> Bool {
        let active = LRUList(rawValue: inactive.rawValue + 1)!
        let i = lruvec.map { self.lruvecs[$0].count(inactive) } ?? self.lruSize(inactive)
        let a = lruvec.map { self.lruvecs[$0].count(active) } ?? self.lruSize(active)
        let gb = (i + a) >> (30 - self.phys.pageShift)
        let ratio = gb > 0 ? Int(Double(10 * gb).squareRoot()) : 1
        return i * ratio < a
    }

    /// Whether anonymous pages can be reclaimed at all: swap space is free.
    var canReclaimAnon: Bool { self.swapFreePages > 0 }

    /// `lru_note_cost()`: see `LRUVec.noteCost`.
    func lruNoteCost(file: Bool, io: Int, rotated: Int, lruvec: Int = 0) {
        self.lruvecs[lruvec].noteCost(file: file, io: io, rotated: rotated)
    }

    /// `get_scan_count()`: how many pages of each evictable list to scan at this priority —
    /// file only without swap, equal pressure at priority 0, anonymous only when the file cache
    /// is tiny, file only in cache-trim mode, else split by `swappiness` and the lists' costs.
    func scanCount(_ sc: ScanControl) -> [Int] {
        enum Balance { case equal, fract, file, anon }
        var balance = Balance.fract
        var fraction = [0, 0]
        var denominator = 1
        let swappiness = self.sysctl.swappiness
        if !sc.maySwap || !self.canReclaimAnon {
            balance = .file
        } else if sc.priority == 0 && swappiness > 0 {
            balance = .equal
        } else if sc.fileIsTiny {
            balance = .anon
        } else if sc.cacheTrimMode {
            balance = .file
        } else {
            var total = sc.anonCost + sc.fileCost
            let anonCost = total + sc.anonCost
            let fileCost = total + sc.fileCost
            total = anonCost + fileCost
            let ap = swappiness * (total + 1) / (anonCost + 1)
            let fp = (200 - swappiness) * (total + 1) / (fileCost + 1)
            fraction = [ap, fp]
            denominator = max(ap + fp, 1)
        }
        let perCgroup = self.memcg.isActive
        return LRUList.allCases.dropLast().map { list in
            let file = list.isFile
            var scan: Int
            if perCgroup {
                // The cgroup's own lruvec, less its protection (apply_proportional_protection()).
                let size = self.lruvecs[sc.lruvecID].count(list)
                scan = size
                if sc.protection > 0 {
                    let cgroupSize = max(self.memcg.groups[sc.lruvecID].memory.usage, sc.protection)
                    scan = max(size - size * sc.protection / (cgroupSize + 1), Kernel.swapClusterMax)
                }
                scan >>= sc.priority
            } else {
                scan = self.lruSizeBelow(list, zone: sc.reclaimIdx) >> sc.priority
            }
            switch balance {
            case .equal: break
            case .fract: scan = scan * fraction[file ? 1 : 0] / denominator
            case .file: if !file { scan = 0 }
            case .anon: if file { scan = 0 }
            }
            return scan
        }
    }

    // MARK: shrink_node

    /// `shrink_node()`: prepare the scan (may the active lists be aged, is the file cache tiny,
    /// can reclaim trim the cache alone), shrink the LRU lists, then the slab shrinkers.
    func shrinkNode(_ sc: inout ScanControl) {
        if self.lruGenEnabled && sc.target == nil { self.lruGenInitialPriority(&sc) }
        guard !self.memcg.isActive else { return self.shrinkNodeMemcgs(&sc) }
        sc.anonCost = self.lruvec.anonCost
        sc.fileCost = self.lruvec.fileCost
        sc.mayDeactivateAnon = self.inactiveIsLow(.inactiveAnon)
        sc.mayDeactivateFile = self.inactiveIsLow(.inactiveFile)
        let file = self.lruSize(.inactiveFile) + self.lruSize(.activeFile)
        let anon = self.lruSize(.inactiveAnon) + self.lruSize(.activeAnon)
        let inactiveFile = self.lruSize(.inactiveFile)
        sc.cacheTrimMode = (inactiveFile >> sc.priority) > 0 && !sc.mayDeactivateFile
        let highTotal = self.phys.zones.reduce(0) { $0 + $1.highWatermark }
        sc.fileIsTiny =
            file + self.phys.freePages <= highTotal && !sc.mayDeactivateAnon && (anon >> sc.priority) > 0
        let reclaimedBefore = sc.nrReclaimed
        self.shrinkLRUVec(&sc)
        self.shrinkSlab(priority: sc.priority, kswapd: sc.isKswapd)
        _ = reclaimedBefore
    }

    /// `shrink_node()` with memory cgroups: the scan is prepared on the target's subtree (its
    /// lruvecs summed, `prepare_scan_control()`), then `shrink_node_memcgs()` walks the subtree
    /// from the target, parents first: a cgroup within its effective `memory.min` is skipped, one
    /// within `memory.low` too unless the reclaim found nothing else (`memcg_low_reclaim`; it
    /// then counts a `low` event); each other cgroup's lruvec is shrunk with its protection
    /// taken off the scan. Cgroup reclaim stops once it has what it came for; the slab
    /// shrinkers run for global reclaim only (vmsim's dentries and inodes are not charged).
    func shrinkNodeMemcgs(_ sc: inout ScanControl) {
        let target = sc.target ?? self.memcg.root
        let subtree = target.subtree
        var sizes = [Int](repeating: 0, count: LRUList.allCases.count)
        var anonCost = 0
        var fileCost = 0
        for g in subtree {
            let v = self.lruvecs[g.id]
            for list in LRUList.allCases { sizes[list.rawValue] += v.count(list) }
            anonCost += v.anonCost
            fileCost += v.fileCost
        }
        sc.anonCost = anonCost
        sc.fileCost = fileCost
        func low(_ inactive: LRUList) -> Bool {
            let i = sizes[inactive.rawValue]
            let a = sizes[inactive.rawValue + 1]
            let gb = (i + a) >> (30 - self.phys.pageShift)
            let ratio = gb > 0 ? Int(Double(10 * gb).squareRoot()) : 1
            return i * ratio < a
        }
        sc.mayDeactivateAnon = low(.inactiveAnon)
        sc.mayDeactivateFile = low(.inactiveFile)
        let file = sizes[LRUList.inactiveFile.rawValue] + sizes[LRUList.activeFile.rawValue]
        let anon = sizes[LRUList.inactiveAnon.rawValue] + sizes[LRUList.activeAnon.rawValue]
        sc.cacheTrimMode = (sizes[LRUList.inactiveFile.rawValue] >> sc.priority) > 0 && !sc.mayDeactivateFile
        if sc.target == nil {
            let highTotal = self.phys.zones.reduce(0) { $0 + $1.highWatermark }
            sc.fileIsTiny =
                file + self.phys.freePages <= highTotal && !sc.mayDeactivateAnon && (anon >> sc.priority) > 0
        } else {
            sc.fileIsTiny = false
        }
        self.memcgCalculateProtection(target)
        for g in subtree {
            sc.protection = 0
            if g !== target {
                let usage = g.memory.usage
                if usage <= g.memory.emin { continue }
                if usage <= g.memory.elow {
                    if !sc.memcgLowReclaim {
                        sc.memcgLowSkipped = true
                        continue
                    }
                    g.memoryEvent(.low)
                }
                sc.protection = sc.memcgLowReclaim ? g.memory.emin : max(g.memory.emin, g.memory.elow)
            }
            sc.lruvecID = g.id
            self.shrinkLRUVec(&sc)
            if sc.target != nil && sc.nrReclaimed >= sc.nrToReclaim { break }
        }
        sc.lruvecID = 0
        sc.protection = 0
        if sc.target == nil { self.shrinkSlab(priority: sc.priority, kswapd: sc.isKswapd) }
    }

    /// `shrink_lruvec()`: scans the lists in chunks of `SWAP_CLUSTER_MAX` until the counts from
    /// `get_scan_count()` are used up or enough was reclaimed — counting, in vmsim, the pages
    /// whose writeback will cover the goal (`writebackCoversGoal`); then keeps the anonymous
    /// inactive list from running low.
    func shrinkLRUVec(_ sc: inout ScanControl) {
        if self.lruGenEnabled {
            self.lruGenShrinkLRUVec(&sc)
            return
        }
        var nr = self.scanCount(sc)
        if self.reclaim.victims != nil {
            // The policy keeps its own order: all the anonymous scan goes to its victims.
            nr[LRUList.inactiveAnon.rawValue] += nr[LRUList.activeAnon.rawValue]
            nr[LRUList.activeAnon.rawValue] = 0
        }
        let order: [LRUList] = [.inactiveAnon, .activeAnon, .inactiveFile, .activeFile]
        var reclaimed = 0
        while nr[LRUList.inactiveAnon.rawValue] > 0 || nr[LRUList.activeFile.rawValue] > 0
            || nr[LRUList.inactiveFile.rawValue] > 0
        {
            for list in order where nr[list.rawValue] > 0 {
                let n = min(nr[list.rawValue], Kernel.swapClusterMax)
                nr[list.rawValue] -= n
                reclaimed += self.shrinkList(list, n, &sc)
            }
            if reclaimed >= sc.nrToReclaim || self.writebackCoversGoal(sc, reclaimed: reclaimed) { break }
        }
        sc.nrReclaimed += reclaimed
        let ownLists: Int? = self.memcg.isActive ? sc.lruvecID : nil
        if self.reclaim.victims == nil && self.canReclaimAnon
            && self.inactiveIsLow(.inactiveAnon, lruvec: ownLists)
        {
            self.shrinkActiveList(.activeAnon, Kernel.swapClusterMax, &sc)
        }
    }

    func shrinkList(_ list: LRUList, _ n: Int, _ sc: inout ScanControl) -> Int {
        if !list.isFile, let victims = self.reclaim.victims {
            return list.isActive ? 0 : self.shrinkChosen(victims, n, &sc)
        }
        if list.isActive {
            if list.isFile ? sc.mayDeactivateFile : sc.mayDeactivateAnon {
                self.shrinkActiveList(list, n, &sc)
            }
            return 0
        }
        return self.shrinkInactiveList(list, n, &sc)
    }

    /// Whether writeback in flight will cover what this reclaim is after, so that scanning on
    /// would only start more writeback than needed: the pages reclaimed plus those on their way
    /// to swap reach `nr_to_reclaim`. For kswapd (which asks for the high watermark's worth per
    /// pass) the pages in flight are all of reclaim's swap writes, whoever started them; for
    /// direct reclaim the ones it queued itself. `reclaimed` is this pass's count.
    ///
    /// Simplified: Linux has no such test — it ends the scan on `nr_reclaimed` alone. But there
    /// the scan takes time and the swap device completes writes meanwhile, so the written pages
    /// come back to the tail of the inactive list (`folio_rotate_reclaimable()`) and are freed
    /// within the same run. vmsim's reclaim takes no simulated time, so no write can complete
    /// during a scan; without this test, lowering the priority while every page is still in
    /// flight would write out far more than the deficit (the whole swap area for a few MiB).
    func writebackCoversGoal(_ sc: ScanControl, reclaimed: Int) -> Bool {
        if sc.isKswapd {
            let inFlight = self.swap.writebackPages
            return inFlight > 0 && reclaimed + inFlight >= sc.nrToReclaim
        }
        return sc.nrPageout > 0 && sc.nrReclaimed + reclaimed + sc.nrPageout >= sc.nrToReclaim
    }

    // MARK: Isolation

    /// `isolate_lru_folios()`: up to `n` pages from the tail of `list` in eligible zones, off the
    /// list with a reference each; pages of higher zones are skipped (moved to the head).
    /// Returns the pages and how many were scanned.
    func isolatePages(_ list: LRUList, _ n: Int, reclaimIdx: Int, lruvec: Int = 0) -> (
        pages: [PFN], scanned: Int
    ) {
        var taken: [PFN] = []
        var skipped: [PFN] = []
        var scanned = 0
        var budget = n * 4 + 64
        while scanned < n, budget > 0, let pfn = self.lruvecs[lruvec].oldest(list) {
            budget -= 1
            self.lruRemove(pfn)
            if let z = self.phys.zoneIndex(of: pfn), z > reclaimIdx {
                skipped.append(pfn)
                continue
            }
            scanned += 1
            self.phys.memMap.getPage(pfn)
            taken.append(pfn)
        }
        for pfn in skipped.reversed() { self.lruAdd(pfn, to: list) }
        self.phys.mod(list.isFile ? .nrIsolatedFile : .nrIsolatedAnon, taken.count)
        return (taken, scanned)
    }

    /// `move_folios_to_lru()`: isolated pages go back to the head of their list (active if
    /// activated), dropping the isolation reference; a page nobody else holds is freed.
    func putbackPages(_ pages: [PFN], file: Bool) {
        self.phys.mod(file ? .nrIsolatedFile : .nrIsolatedAnon, -pages.count)
        for pfn in pages {
            if self.phys.memMap.refCount(pfn) == 1 {
                self.putPage(pfn)
                continue
            }
            self.lruAdd(pfn, to: self.lruList(of: pfn))
            let freed = self.phys.memMap.putPageTestZero(pfn)
            precondition(!freed, "putback: \(pfn) freed")
        }
    }

    // MARK: Aging the active lists

    /// `shrink_active_list()`: pages from the tail of an active list lose their Accessed bits
    /// and move to the inactive list — except referenced executable file pages, which get
    /// another trip around the active list.
    func shrinkActiveList(_ list: LRUList, _ n: Int, _ sc: inout ScanControl) {
        let (pages, scanned) = self.isolatePages(list, n, reclaimIdx: sc.reclaimIdx, lruvec: sc.lruvecID)
        self.phys.count(.pgrefill, UInt64(scanned))
        var deactivated = 0
        var rotated = 0
        for pfn in pages {
            let (referenced, flags) = self.pageReferenced(pfn)
            if referenced > 0 && flags.contains(.exec) && list.isFile {
                rotated += 1
                continue
            }
            self.phys.memMap.removeFlags(pfn, .active)
            self.phys.memMap.insertFlags(pfn, .workingset)
            deactivated += 1
        }
        self.putbackPages(pages, file: list.isFile)
        self.phys.count(.pgdeactivate, UInt64(deactivated))
        if self.memcg.isActive {
            let g = self.memcg.groups[sc.lruvecID]
            g.count(.pgrefill, scanned)
            g.count(.pgdeactivate, deactivated)
        }
        _ = rotated
    }

    func checkReferences(_ pfn: PFN) -> PageReferences {
        let (ptes, flags) = self.pageReferenced(pfn)
        let referencedPage = self.phys.memMap.test(pfn, .referenced)
        self.phys.memMap.removeFlags(pfn, .referenced)
        if flags.contains(.locked) { return .activate }
        let file = !self.phys.memMap.test(pfn, .swapBacked)
        if ptes > 0 {
            // Mapped pages start with a reference from their fault: look twice.
            self.phys.memMap.insertFlags(pfn, .referenced)
            if referencedPage || ptes > 1 { return .activate }
            if flags.contains(.exec) && file { return .activate }
            return .keep
        }
        if referencedPage && file { return .reclaimClean }
        return .reclaim
    }

    // MARK: shrink_inactive_list

    /// `shrink_inactive_list()` → `shrink_folio_list()`: each page from the tail is checked for
    /// references (activated or kept), given swap space if anonymous, unmapped, written out if
    /// dirty (swap; dirty file pages are left to the flusher, activated with `PG_reclaim`), and
    /// freed if clean — file pages leave the page cache, anonymous ones the swap cache. Returns
    /// the pages reclaimed.
    func shrinkInactiveList(_ list: LRUList, _ n: Int, _ sc: inout ScanControl) -> Int {
        let (pages, scanned) = self.isolatePages(list, n, reclaimIdx: sc.reclaimIdx, lruvec: sc.lruvecID)
        return self.shrinkFolioList(pages, list, scanned: scanned, chosen: false, &sc)
    }

    /// Reclaim with a victim source: up to `n` pages it names are isolated and reclaimed
    /// without a reference check. Unmapped pages near the inactive tail go first: victims
    /// already unmapped and written to swap, rotated there when their writeback ended
    /// (`folio_rotate_reclaimable()`), and swap readahead the process never touched; mapped
    /// pages met on the way move to the head (their order is the policy's business, not the
    /// list's). When the source has none left, the inactive anonymous list is scanned as usual
    /// for the rest (pages it gave up that reclaim could not take, or that it never saw).
    func shrinkChosen(_ victims: any ReclaimVictimSource, _ n: Int, _ sc: inout ScanControl) -> Int {
        var pages: [PFN] = []
        var looked = 0
        while pages.count < n, looked < 4 * n, let pfn = self.lruvecs[sc.lruvecID].oldest(.inactiveAnon) {
            looked += 1
            self.lruRemove(pfn)
            guard self.phys.memMap.mapCount(pfn) == 0, !self.phys.memMap.test(pfn, .writeback),
                (self.phys.zoneIndex(of: pfn) ?? 0) <= sc.reclaimIdx
            else {
                self.lruAdd(pfn, to: .inactiveAnon)
                continue
            }
            self.phys.memMap.getPage(pfn)
            pages.append(pfn)
        }
        var asked = 0
        var exhausted = false
        while pages.count < n && asked < 4 * n + 64 {
            guard let (mm, address) = victims.nextVictim() else {
                exhausted = true
                break
            }
            asked += 1
            let pte = self.pageTables.pte(root: mm.pgd, va: address)
            let pfn = pte.pfn
            guard pte.isPresent, self.phys.memMap.test(pfn, .lru), !self.lruList(of: pfn).isFile,
                self.lruvecID(of: pfn) == sc.lruvecID,
                !self.phys.memMap.test(pfn, .unevictable),
                (self.phys.zoneIndex(of: pfn) ?? 0) <= sc.reclaimIdx
            else {
                self.reclaim.victimsSkipped += 1
                continue
            }
            self.lruRemove(pfn)
            self.phys.memMap.getPage(pfn)
            pages.append(pfn)
        }
        self.phys.mod(.nrIsolatedAnon, pages.count)
        var reclaimed = self.shrinkFolioList(pages, .inactiveAnon, scanned: pages.count, chosen: true, &sc)
        if exhausted && pages.count < n {
            reclaimed += self.shrinkInactiveList(.inactiveAnon, n - pages.count, &sc)
        }
        return reclaimed
    }

    /// `shrink_folio_list()` over isolated `pages` of `list` (`scanned` of them counted as
    /// scanned). `chosen` pages were picked by a victim source: their references are not
    /// checked.
    func shrinkFolioList(
        _ pages: [PFN], _ list: LRUList, scanned: Int, chosen: Bool, _ sc: inout ScanControl
    ) -> Int {
        self.phys.count(sc.isKswapd ? .pgscanKswapd : .pgscanDirect, UInt64(scanned))
        self.phys.count(list.isFile ? .pgscanFile : .pgscanAnon, UInt64(scanned))
        sc.nrScanned += scanned
        sc.totalScanned += scanned
        guard !pages.isEmpty else { return 0 }
        var reclaimed = 0
        var keep: [PFN] = []
        var swapOut: [(pfn: PFN, entry: SwapEntry)] = []
        var unqueuedDirty = 0
        var activatedFile = 0
        var activated = 0
        for pfn in pages {
            func activate() {
                // Not a candidate for swapping: give back the swap space if swap is tight.
                if self.phys.memMap.test(pfn, .swapCache)
                    && (self.swapFull || self.phys.memMap.test(pfn, .mlocked))
                {
                    self.freeSwapCache(pfn)
                }
                if !self.phys.memMap.test(pfn, .mlocked) {
                    self.phys.memMap.insertFlags(pfn, .active)
                    self.phys.count(.pgactivate)
                    activated += 1
                    if !self.phys.memMap.test(pfn, .swapBacked) { activatedFile += 1 }
                }
                keep.append(pfn)
            }
            if self.phys.memMap.test(pfn, .locked) || self.phys.memMap.test(pfn, .unevictable) {
                if self.phys.memMap.test(pfn, .unevictable) { activate() } else { keep.append(pfn) }
                continue
            }
            let dirty = self.phys.memMap.test(pfn, .dirty)
            let writeback = self.phys.memMap.test(pfn, .writeback)
            if dirty && !writeback { unqueuedDirty += 1 }
            if writeback {
                // Case 2: mark it for rotation when its writeback ends.
                self.phys.memMap.insertFlags(pfn, .reclaim)
                sc.nrWriteback += 1
                activate()
                continue
            }
            let references =
                chosen
                ? PageReferences.reclaim
                : self.lruGenEnabled ? self.lruGenCheckReferences(pfn, sc) : self.checkReferences(pfn)
            switch references {
            case .activate:
                activate()
                continue
            case .keep:
                keep.append(pfn)
                continue
            case .reclaim, .reclaimClean: break
            }
            let anon = self.phys.memMap.test(pfn, .anon)
            let swapBacked = self.phys.memMap.test(pfn, .swapBacked)
            // Anonymous memory needs a home in swap.
            if anon && swapBacked && !self.phys.memMap.test(pfn, .swapCache) {
                guard sc.maySwap, let entry = self.getSwapSlot() else {
                    activate()
                    continue
                }
                guard self.memcgChargeSwap(pfn, entry) else {
                    // memory.swap.max: the slot goes back, the page stays (folio_alloc_swap()).
                    self.area(entry).clearCached(entry.offset)
                    activate()
                    continue
                }
                self.addToSwapCache(pfn, entry)
                self.phys.memMap.insertFlags(pfn, .dirty)
            }
            if self.phys.memMap.mapCount(pfn) > 0 {
                guard self.tryToUnmap(pfn) else {
                    activate()
                    continue
                }
            }
            if swapBacked && !anon && !self.phys.memMap.test(pfn, .swapCache) {
                // shmem: its page moves to swap (shmem_writeout()).
                guard let entry = self.shmemWriteout(pfn) else {
                    activate()
                    continue
                }
                swapOut.append((pfn, entry))
                keep.append(pfn)
                continue
            }
            if self.phys.memMap.test(pfn, .dirty) {
                if !self.phys.memMap.test(pfn, .swapBacked) || !anon {
                    // A dirty file page: the flusher writes it; rotate it when done.
                    self.phys.mod(.nrVmscanImmediateReclaim, 1)
                    self.phys.memMap.insertFlags(pfn, .reclaim)
                    activate()
                    continue
                }
                if references == .reclaimClean {
                    keep.append(pfn)
                    continue
                }
                // pageout() → swap_writepage().
                swapOut.append((pfn, self.swapEntry(of: pfn)!))
                keep.append(pfn)
                continue
            }
            if anon && !swapBacked {
                // A clean MADV_FREE page: only the isolation reference is left.
                guard self.phys.memMap.refCount(pfn) == 1 else {
                    keep.append(pfn)
                    continue
                }
                self.phys.count(.pglazyfreed)
            } else if !self.removeMapping(ofReclaimed: pfn, target: sc.target) {
                keep.append(pfn)
                continue
            }
            // Free it: the isolation reference is the last.
            self.phys.mod(list.isFile ? .nrIsolatedFile : .nrIsolatedAnon, -1)
            self.putPage(pfn)
            reclaimed += 1
        }
        if !swapOut.isEmpty { self.swapWriteout(swapOut) }
        sc.nrPageout += swapOut.count
        if self.lruGenEnabled { self.lruGenPrepareRejected(keep) }
        self.putbackPages(keep, file: list.isFile)
        self.phys.count(sc.isKswapd ? .pgstealKswapd : .pgstealDirect, UInt64(reclaimed))
        self.phys.count(list.isFile ? .pgstealFile : .pgstealAnon, UInt64(reclaimed))
        if self.memcg.isActive {
            let g = self.memcg.groups[sc.lruvecID]
            g.count(sc.isKswapd ? .pgscanKswapd : sc.proactive ? .pgscanProactive : .pgscanDirect, scanned)
            g.count(
                sc.isKswapd ? .pgstealKswapd : sc.proactive ? .pgstealProactive : .pgstealDirect, reclaimed)
            g.count(.pgactivate, activated)
        }
        if !self.lruGenEnabled {
            self.lruNoteCost(
                file: list.isFile, io: swapOut.count, rotated: scanned - reclaimed, lruvec: sc.lruvecID)
        }
        sc.nrTaken += pages.count
        sc.nrUnqueuedDirty += unqueuedDirty
        // Dirty pages no writeback has been started for: the flushers are behind.
        if unqueuedDirty == pages.count && list.isFile && !self.lruGenEnabled { self.wakeFlusherForReclaim() }
        _ = activatedFile
        return reclaimed
    }

    /// `__remove_mapping(…, reclaimed: true, target)`: a clean, unmapped page held only by its
    /// cache and the isolation leaves the page cache or the swap cache, a shadow entry in its
    /// place (`workingset_eviction()`; file pages, and swap-cache pages). False if someone else
    /// holds it or it is dirty.
    func removeMapping(ofReclaimed pfn: PFN, target: MemCgroup?) -> Bool {
        guard self.phys.memMap.refCount(pfn) == 2, !self.phys.memMap.test(pfn, .dirty),
            self.phys.memMap.mapCount(pfn) == 0
        else {
            return false
        }
        if self.phys.memMap.test(pfn, .swapCache) {
            self.deleteFromSwapCache(pfn, shadow: self.workingsetEviction(pfn, target: target))
            self.putPage(pfn)
            return true
        }
        guard let file = self.owningFile(pfn) else { return false }
        let shadow = file.isShmem ? nil : self.workingsetEviction(pfn, target: target)
        // pageCacheRemove() drops the cache's reference; the isolation one stays for the caller.
        let index = self.phys.memMap.index(pfn)
        self.pageCacheRemove(file, index: index)
        if let shadow { file.shadows[index] = shadow }
        return true
    }

    /// `wakeup_flusher_threads(WB_REASON_VMSCAN)`: write back every dirty inode.
    func wakeFlusherForReclaim() {
        for file in self.dirtyFiles() {
            self.writebackFile(file, range: nil, sync: false, reason: "reclaim (vmscan)")
        }
    }

    // MARK: Slab shrinkers

    /// `shrink_slab()` with the superblock shrinker (`super_cache_scan()`): unused dentries and
    /// inodes, `(freeable >> priority) × 2` of them scaled by `vfs_cache_pressure`, split
    /// between the two by their counts.
    func shrinkSlab(priority: Int, kswapd: Bool) {
        let dentries = self.vfs.unusedDentries
        let inodes = self.vfs.unusedInodes
        let freeable = (dentries + inodes) * self.sysctl.vfsCachePressure / 100
        guard freeable > 0 else { return }
        let scan = min((freeable >> priority) * 2, 2 * freeable)
        guard scan > 0 else { return }
        let total = dentries + inodes + 1
        let d = scan * dentries / total
        let i = scan * inodes / total
        self.pruneDentries(d)
        self.pruneInodes(i, byKswapd: kswapd)
        self.phys.count(.slabsScanned, UInt64(d + i))
    }

    // MARK: Direct reclaim

    /// `try_to_free_pages()` → `do_try_to_free_pages()`: the allocating task reclaims 32 pages
    /// itself, raising the pressure from priority 12 to 0. A pass that falls short because
    /// pages are still being written — those it queued itself cover the 32, or the LRU tail is
    /// congested with pages under writeback — makes the task wait for some writeback to
    /// complete (`reclaim_throttle(VMSCAN_THROTTLE_WRITEBACK)`, at most 100 ms, up to 16 times)
    /// and repeats the pass, which then frees the pages rotated to the tail. Before it gives up
    /// with nothing reclaimed at priority 0, it waits for writeback as long as any is in flight:
    /// pages under writeback are progress in the making, and giving up would send the allocator
    /// to the OOM killer with them still on their way to the disk.
    ///
    /// Simplified: Linux's last-chance wait is the `VMSCAN_THROTTLE_NOPROGRESS` throttle at
    /// priority 1 (`consider_reclaim_throttle()`) and the allocator's 16 retries with their
    /// throttles, which in real time outlast the writeback; vmsim waits for it explicitly.
    func tryToFreePages(gfp: GFP, order: Int, highestZone: Int) -> Int {
        guard self.reclaim.depth == 0 else { return 0 }
        self.reclaim.depth += 1
        defer { self.reclaim.depth -= 1 }
        var sc = ScanControl(
            nrToReclaim: Kernel.swapClusterMax, gfp: gfp, reclaimIdx: highestZone, isKswapd: false)
        sc.order = order
        sc.maySwap = gfp.contains(.io)
        // __perform_reclaim(): the allocating task stalls on memory meanwhile.
        let stall = self.psiMemstallEnter()
        self.doTryToFreePages(&sc)
        self.psiMemstallLeave(stall)
        if sc.nrReclaimed > 0 { self.reclaim.kswapdFailures = 0 }
        self.emit(.reclaim(pid: self.current?.pid ?? 0, scanned: sc.totalScanned, reclaimed: sc.nrReclaimed))
        return sc.nrReclaimed
    }

    /// `try_to_free_mem_cgroup_pages()`: reclaim at least `n` pages (`SWAP_CLUSTER_MAX` at
    /// least) from `group`'s subtree, on every zone, by `do_try_to_free_pages()` — the same
    /// priority loop and writeback throttling as direct reclaim, over the subtree's lruvecs
    /// only. `proactive` counts it as `memory.reclaim` does.
    @discardableResult
    func tryToFreeMemCgroupPages(_ group: MemCgroup, _ n: Int, maySwap: Bool, proactive: Bool = false) -> Int
    {
        guard self.reclaim.depth == 0 else { return 0 }
        self.reclaim.depth += 1
        defer { self.reclaim.depth -= 1 }
        var sc = ScanControl(
            nrToReclaim: max(n, Kernel.swapClusterMax), gfp: .kernel, reclaimIdx: self.phys.zoneCount - 1,
            isKswapd: false)
        sc.target = group
        sc.maySwap = maySwap
        sc.proactive = proactive
        let stall = self.psiMemstallEnter()
        self.doTryToFreePages(&sc)
        self.psiMemstallLeave(stall)
        self.emit(.reclaim(pid: self.current?.pid ?? 0, scanned: sc.totalScanned, reclaimed: sc.nrReclaimed))
        return sc.nrReclaimed
    }

    /// `do_try_to_free_pages()`: priority 12 down to 0 until `nr_to_reclaim` is met, with the
    /// writeback throttles described at `tryToFreePages`; if nothing was reclaimed because
    /// cgroups were skipped for their `memory.low`, once more ignoring it.
    func doTryToFreePages(_ sc: inout ScanControl) {
        var throttled = 0
        while true {
            sc.nrWriteback = 0
            sc.nrTaken = 0
            self.shrinkNode(&sc)
            if sc.nrReclaimed >= sc.nrToReclaim { break }
            let queued = sc.nrPageout > 0 && sc.nrReclaimed + sc.nrPageout >= sc.nrToReclaim
            let congested = sc.nrWriteback > 0 && sc.nrWriteback * 2 >= sc.nrTaken
            let lastChance = sc.priority == 0 && sc.nrReclaimed == 0 && self.phys.state(.nrWriteback) > 0
            if self.ioInFlight && (((queued || congested) && throttled < 16) || lastChance) {
                throttled += 1
                self.phys.count(.pgscanDirectThrottle)
                self.waitForSomeIO(limit: 100_000_000)
                continue
            }
            if sc.priority == 0 {
                if sc.nrReclaimed == 0 && sc.memcgLowSkipped && !sc.memcgLowReclaim {
                    // Untapped cgroup reserves: don't OOM, retry below memory.low.
                    sc.priority = Kernel.defPriority
                    sc.memcgLowReclaim = true
                    sc.memcgLowSkipped = false
                    continue
                }
                break
            }
            sc.priority -= 1
        }
    }

    var ioInFlight: Bool { !self.block.isIdle }

    /// `reclaim_throttle()`: sleeps until `SWAP_CLUSTER_MAX` pages have finished writeback, no
    /// I/O is left, or `limit` nanoseconds pass.
    func waitForSomeIO(limit: UInt64) {
        guard !self.block.isIdle else { return }
        let start = self.now
        let target = self.phys.state(.nrWriteback) - Kernel.swapClusterMax
        let deadline = self.now + limit
        while let next = self.block.nextCompletion, next <= deadline,
            self.phys.state(.nrWriteback) > target
        {
            self.advanceClock(to: next)
        }
        if self.block.nextCompletion.map({ $0 > deadline }) ?? false { self.advanceClock(to: deadline) }
        if let task = self.current, self.now > start { task.blkioDelay += self.now - start }
    }

    /// Pages reclaim could free: the file lists, and the anonymous ones when swap has room.
    func reclaimableEstimate() -> Int {
        var n = self.lruSize(.inactiveFile) + self.lruSize(.activeFile)
        if self.canReclaimAnon { n += self.lruSize(.inactiveAnon) + self.lruSize(.activeAnon) }
        return n
    }
}

extension Kernel: ReclaimDelegate {
    /// `wakeup_kswapd()`: remember the request; kswapd runs when the task next leaves the
    /// kernel. A node kswapd failed on 16 times in a row is left to direct reclaim.
    public func wakeKswapd(zone: Int, order: Int, gfp: GFP) {
        guard self.reclaim.mode == .modern, self.reclaim.kswapdFailures < 16 else { return }
        if self.nodeBalanced(order: order, highestZone: zone) { return }
        self.reclaim.kswapdWoken = true
        self.reclaim.kswapdOrder = max(self.reclaim.kswapdOrder, order)
        self.reclaim.kswapdHighestZone = max(self.reclaim.kswapdHighestZone, zone)
    }

    public func directReclaim(gfp: GFP, order: Int, highestZone: Int) -> Int {
        self.tryToFreePages(gfp: gfp, order: order, highestZone: highestZone)
    }

    public func outOfMemory(gfp: GFP, order: Int) -> Bool {
        guard self.reclaim.depth == 0 else { return false }
        return self.oomKill(gfp: gfp, order: order)
    }

    /// `zone_reclaimable_pages()` (mm/vmscan.c): the zone's file LRU pages, its anonymous ones
    /// while swap has room, and — when it has neither — its free pages, so that a zone with
    /// free memory is not written off.
    public func reclaimablePages(zone z: Int) -> Int {
        let zone = self.phys.zone(z)
        var n = zone.state(.nrZoneInactiveFile) + zone.state(.nrZoneActiveFile)
        if self.canReclaimAnon { n += zone.state(.nrZoneInactiveAnon) + zone.state(.nrZoneActiveAnon) }
        return n == 0 ? zone.freePages : n
    }
}
