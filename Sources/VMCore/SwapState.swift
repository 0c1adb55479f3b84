import VMPaging
import VMPhys
import VMTypes

/// The swap subsystem's state: the areas, the swap cache, readahead bookkeeping.
public final class SwapState {
    /// `swap_info[]` by type.
    public internal(set) var areas: [SwapArea?] = []
    /// `least_priority`: areas added without a priority get -2, -3, …
    var leastPriority = -1
    /// The swap cache (`swapper_spaces`): entry → page. Changed by `addToSwapCache` and
    /// `deleteFromSwapCache` only, with the page's flags and the slot's `SWAP_HAS_CACHE`.
    private(set) var cache = SwapCache()
    /// `swapin_readahead_hits` and the previous offset, for cluster readahead (shmem).
    var readaheadHits = 0
    var prevOffset: UInt64 = 0
    var lastReadaheadPages = 0
    /// Round-robin order among areas of equal priority (`swap_avail_head` requeueing).
    var rotation: [Int] = []
    /// Pages reclaim has written to swap whose write has not completed (`PG_writeback` on swap
    /// cache pages): on completion they go to the tail of the inactive list to be freed.
    public internal(set) var writebackPages = 0

    static func key(_ e: SwapEntry) -> UInt64 { UInt64(e.type) << 50 | e.offset }
    public var active: [SwapArea] { self.areas.compactMap { $0 } }

    /// The swap cache's index (the `address_space` of `swapper_spaces`, an XArray per 64 MiB of
    /// swap in Linux; a `UInt64Map` keyed by type and offset here).
    struct SwapCache {
        private var index = UInt64Map()
        var count: Int { self.index.count }
        /// Every cached entry's key and page, in key order.
        var pages: [(key: UInt64, pfn: PFN)] {
            self.index.entries.map { ($0.key, PFN(rawValue: UInt64($0.value))) }
        }
        subscript(_ e: SwapEntry) -> PFN? {
            self.index.find(SwapState.key(e)).map { PFN(rawValue: UInt64($0)) }
        }
        fileprivate mutating func insert(_ pfn: PFN, _ e: SwapEntry) {
            self.index.set(SwapState.key(e), UInt32(truncatingIfNeeded: pfn.rawValue))
        }
        fileprivate mutating func remove(_ e: SwapEntry) { self.index.remove(SwapState.key(e)) }
    }
    fileprivate func cacheInsert(_ pfn: PFN, _ e: SwapEntry) { self.cache.insert(pfn, e) }
    fileprivate func cacheRemove(_ e: SwapEntry) { self.cache.remove(e) }
}

/// The swap cache and swap-in readahead (mm/swap_state.c: `add_to_swap_cache()`,
/// `__delete_from_swap_cache()`, `__read_swap_cache_async()`, `swap_vma_readahead()`,
/// `swap_cluster_readahead()`).
extension Kernel {
    // MARK: The swap cache

    /// The swap entry a swap-cache page stands for (`folio->swap`).
    func swapEntry(of pfn: PFN) -> SwapEntry? {
        guard self.phys.memMap.test(pfn, .swapCache) else { return nil }
        let raw = self.phys.memMap.privateWord(pfn)
        return SwapEntry(type: Int(raw >> 50), offset: raw & ((1 << 50) - 1))
    }

    public func swapCacheLookup(_ e: SwapEntry) -> PFN? { self.swap.cache[e] }

    /// `add_to_swap_cache()`: the cache takes a reference; `nr_swapcached` and `nr_file_pages` count it.
    func addToSwapCache(_ pfn: PFN, _ e: SwapEntry) {
        self.phys.memMap.getPage(pfn)
        self.phys.memMap.insertFlags(pfn, .swapCache)
        self.phys.memMap.setPrivateWord(pfn, SwapState.key(e))
        self.swap.cacheInsert(pfn, e)
        self.area(e).setCached(e.offset)
        self.phys.mod(.nrSwapcached, 1)
        self.phys.mod(.nrFilePages, 1)
    }

    /// `delete_from_swap_cache()`: the page leaves the cache (dropping the cache's reference is
    /// the caller's); `SWAP_HAS_CACHE` cleared, freeing the slot if nothing refers to it.
    /// Reclaim leaves a `shadow` in the page's place (`__delete_from_swap_cache(…, shadow)`);
    /// it goes with the slot when the slot is freed.
    func deleteFromSwapCache(_ pfn: PFN, shadow: Shadow? = nil) {
        guard let e = self.swapEntry(of: pfn) else {
            preconditionFailure("deleteFromSwapCache: \(pfn) not cached")
        }
        self.swap.cacheRemove(e)
        self.phys.memMap.removeFlags(pfn, .swapCache)
        self.phys.memMap.setPrivateWord(pfn, 0)
        self.phys.mod(.nrSwapcached, -1)
        self.phys.mod(.nrFilePages, -1)
        if let shadow { self.area(e).shadows[e.offset] = shadow }
        self.area(e).clearCached(e.offset)
    }

    /// `folio_free_swap()`: drops a page's swap slot when nothing else refers to the slot and
    /// the page is not being written; the page keeps its data and is dirty again (its swap copy
    /// is gone). The swap cache's reference goes with it.
    @discardableResult
    func freeSwapCache(_ pfn: PFN, force: Bool = false) -> Bool {
        guard let e = self.swapEntry(of: pfn), !self.phys.memMap.test(pfn, .writeback) else { return false }
        guard self.swapCount(e) == 0 else { return false }
        self.deleteFromSwapCache(pfn)
        self.phys.memMap.insertFlags(pfn, .dirty)
        self.putPage(pfn)
        return true
    }

    /// `__read_swap_cache_async()`: the swap-cache page for `e`, reading it (asynchronously)
    /// into a new page if it is not cached. Returns the page with a reference for the caller and
    /// whether it was allocated here; nil when no memory. `readahead` marks a page read ahead.
    func readSwapCacheAsync(_ e: SwapEntry, readahead: Bool) -> (PFN, new: Bool)? {
        var plug: [(SwapEntry, PFN)] = []
        let result = self.readSwapCacheAsync(e, readahead: readahead, plug: &plug)
        self.submitSwapReads(plug)
        return result
    }

    /// Submits the reads a readahead gathered (`blk_finish_plug()`): consecutive slots of an
    /// area share a request.
    func submitSwapReads(_ plug: [(SwapEntry, PFN)]) {
        guard !plug.isEmpty else { return }
        var byArea: [Int: [(UInt64, UInt64, PFN)]] = [:]
        for (e, pfn) in plug { byArea[e.type, default: []].append((e.offset, 0, pfn)) }
        for t in byArea.keys.sorted() {
            self.submitSwapIO(self.swap.areas[t]!, write: false, byArea[t]!.sorted { $0.0 < $1.0 })
        }
    }

    /// `__read_swap_cache_async()` that leaves the read in `plug` for the caller to submit.
    func readSwapCacheAsync(_ e: SwapEntry, readahead: Bool, plug: inout [(SwapEntry, PFN)]) -> (
        PFN, new: Bool
    )? {
        if let pfn = self.swap.cache[e] {
            self.phys.memMap.getPage(pfn)
            return (pfn, false)
        }
        // A slot nobody refers to any more has nothing to read.
        guard self.area(e).count(e.offset) > 0 else { return nil }
        guard let pfn = self.phys.allocPages(.highUserMovable, order: 0) else { return nil }
        // Reclaim inside the allocation may have cached it meanwhile.
        if let other = self.swap.cache[e] {
            self.phys.freePages(pfn, order: 0)
            self.phys.memMap.getPage(other)
            return (other, false)
        }
        guard self.area(e).count(e.offset) > 0 else {
            self.phys.freePages(pfn, order: 0)
            return nil
        }
        // mem_cgroup_swapin_charge_folio(): to the cgroup that owns the slot.
        if self.memcg.isActive {
            guard self.memcgCharge(pfn, .anon, to: self.memcgOfSwap(e) ?? self.chargeTarget) else {
                self.phys.freePages(pfn, order: 0)
                return nil
            }
            // The charge may have reclaimed and let the slot go, or cached a page for it.
            if let other = self.swap.cache[e] {
                self.memcgUncharge(pfn)
                self.phys.freePages(pfn, order: 0)
                self.phys.memMap.getPage(other)
                return (other, false)
            }
            guard self.area(e).count(e.offset) > 0 else {
                self.memcgUncharge(pfn)
                self.phys.freePages(pfn, order: 0)
                return nil
            }
        }
        self.phys.memMap.insertFlags(pfn, [.locked, .swapBacked])
        if readahead { self.phys.memMap.insertFlags(pfn, .readahead) }
        let area = self.area(e)
        let shadow = area.shadows.isEmpty ? nil : area.shadows.removeValue(forKey: e.offset)
        self.addToSwapCache(pfn, e)
        if let shadow { self.workingsetRefault(pfn, shadow) }
        self.folioAddLRU(pfn)
        self.phys.count(.pswpin)
        plug.append((e, pfn))
        return (pfn, true)
    }

    /// `__swapin_nr_pages()`: the swap readahead window from the hits the last one had.
    static func swapinPages(prevOffset: UInt64, offset: UInt64, hits: Int, maxPages: Int, prevWindow: Int)
        -> Int
    {
        var pages = hits + 2
        if pages == 2 {
            if offset != prevOffset &+ 1 && offset != prevOffset &- 1 { pages = 1 }
        } else {
            var roundup = 4
            while roundup < pages { roundup <<= 1 }
            pages = roundup
        }
        pages = min(pages, maxPages)
        return max(pages, prevWindow / 2)
    }

    /// `swap_vma_readahead()` (the default since Linux 4.14): around the faulting address, the
    /// window `__swapin_nr_pages()` gives (at most 2^`page-cluster` pages) from the VMA's
    /// readahead history, clamped to the VMA and its page table; every swap entry in it is read
    /// (the others marked as read ahead). Returns the faulting page with a reference and
    /// whether it had to be read.
    func swapVMAReadahead(_ mm: AddressSpace, slot: Int, address: UInt64, entry: SwapEntry) -> (
        PFN, new: Bool
    )? {
        var vma = mm.vma(slot)
        let maxWindow = 1 << min(self.sysctl.pageCluster, 5)
        let shift = UInt64(self.phys.pageShift)
        let fpfn = address >> shift
        if maxWindow <= 1 { return self.readSwapCacheAsync(entry, readahead: false) }
        let prev = vma.swapReadahead
        let pfnPrev = prev.address >> shift
        let window = Kernel.swapinPages(
            prevOffset: pfnPrev, offset: fpfn, hits: prev.hits, maxPages: maxWindow, prevWindow: prev.window)
        vma.swapReadahead = SwapReadahead(address: address, window: window, hits: 0)
        mm.update(slot, vma)
        guard window > 1 else { return self.readSwapCacheAsync(entry, readahead: false) }
        var lpfn: UInt64
        var rpfn: UInt64
        if fpfn == pfnPrev + 1 {
            lpfn = fpfn
            rpfn = fpfn + UInt64(window)
        } else if pfnPrev == fpfn + 1 {
            lpfn = fpfn + 1 >= UInt64(window) ? fpfn + 1 - UInt64(window) : 0
            rpfn = fpfn + 1
        } else {
            let left = UInt64((window - 1) / 2)
            lpfn = fpfn >= left ? fpfn - left : 0
            rpfn = fpfn - (fpfn >= left ? left : fpfn) + UInt64(window)
        }
        let pmdSpan =
            UInt64(1) << UInt64(self.architecture.paging.shift(ofLevel: self.architecture.paging.levels - 2))
        let pmdStart = (address & ~(pmdSpan - 1)) >> shift
        lpfn = max(lpfn, vma.start >> shift, pmdStart)
        rpfn = min(rpfn, vma.end >> shift, pmdStart + (pmdSpan >> shift))
        var result: (PFN, new: Bool)?
        var plug: [(SwapEntry, PFN)] = []
        var p = lpfn
        while p < rpfn {
            defer { p += 1 }
            let va = p << shift
            if va == address & ~(self.phys.pageSize - 1) {
                result = self.readSwapCacheAsync(entry, readahead: false, plug: &plug)
                continue
            }
            guard let e = self.pageTables.pte(root: mm.pgd, va: va).swapEntry else { continue }
            if let (pfn, new) = self.readSwapCacheAsync(e, readahead: true, plug: &plug) {
                if !new { self.phys.memMap.removeFlags(pfn, .readahead) } else { self.phys.count(.swapRa) }
                self.putPage(pfn)
            }
        }
        if result == nil { result = self.readSwapCacheAsync(entry, readahead: false, plug: &plug) }
        self.submitSwapReads(plug)
        return result
    }

    /// `swap_cluster_readahead()`: the 2^`page-cluster`-aligned block of slots around `entry`.
    func swapClusterReadahead(_ entry: SwapEntry) -> (PFN, new: Bool)? {
        let maxPages = 1 << self.sysctl.pageCluster
        let pages =
            maxPages <= 1
            ? 1
            : Kernel.swapinPages(
                prevOffset: self.swap.prevOffset, offset: entry.offset, hits: self.swap.readaheadHits,
                maxPages: maxPages, prevWindow: self.swap.lastReadaheadPages)
        if self.swap.readaheadHits == 0 { self.swap.prevOffset = entry.offset }
        self.swap.readaheadHits = 0
        self.swap.lastReadaheadPages = pages
        let mask = UInt64(pages - 1)
        let area = self.area(entry)
        var start = entry.offset & ~mask
        let end = min(entry.offset | mask, area.slots - 1)
        if start == 0 { start = 1 }
        var plug: [(SwapEntry, PFN)] = []
        var offset = start
        while offset <= end {
            defer { offset += 1 }
            guard offset != entry.offset, area.count(offset) > 0 else { continue }
            if let (pfn, new) = self.readSwapCacheAsync(
                SwapEntry(type: entry.type, offset: offset), readahead: true, plug: &plug)
            {
                if !new { self.phys.memMap.removeFlags(pfn, .readahead) } else { self.phys.count(.swapRa) }
                self.putPage(pfn)
            }
        }
        let result = self.readSwapCacheAsync(entry, readahead: false, plug: &plug)
        self.submitSwapReads(plug)
        return result
    }
}

/// `vma->swap_readahead_info`: where the last swap fault in the area was, the window it read,
/// and how many read-ahead pages were used since.
public struct SwapReadahead: Hashable, Sendable {
    public var address: UInt64 = 0
    public var window: Int = 0
    public var hits: Int = 0
}
