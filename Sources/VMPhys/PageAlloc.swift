import VMTypes

/// A per-CPU list of free order-0 pages (`struct per_cpu_pages`).
///
/// Order-0 allocations and frees go through this list so that most of them never touch the
/// buddy free lists: a refill takes `batch` pages from the buddy allocator (`rmqueue_bulk()`),
/// and when the list reaches `high` the oldest `batch` pages go back (`free_pcppages_bulk()`).
/// Pages on the list are not counted in `NR_FREE_PAGES`, exactly as in Linux.
///
/// Simplified: Linux 6.x keeps lists for orders 0…3 and the THP order and scales `batch` and
/// `high` adaptively (`alloc_factor`, `free_count`, `high_min`…`high_max`); vmsim keeps the
/// order-0 list with the fixed `batch` and `high` of Linux 5.x. Orders 1…3 go straight to the
/// buddy lists.
public struct PerCPUPages: Sendable {
    public internal(set) var count = 0
    public internal(set) var high = 0
    public internal(set) var highMax = 0
    public internal(set) var batch = 1
    /// The free pages (`lists[]` for order 0).
    var list = PFNList()
    public var head: UInt32 { self.list.head }
    public var tail: UInt32 { self.list.tail }
}

/// Which watermark an allocation attempt checks and which reserves it may use
/// (`ALLOC_WMARK_*`, `ALLOC_MIN_RESERVE`, `ALLOC_NON_BLOCK`, `ALLOC_OOM`; mm/internal.h).
public struct AllocFlags: OptionSet, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static var wmarkMin: AllocFlags { AllocFlags([]) }
    @inlinable public static var wmarkLow: AllocFlags { AllocFlags(rawValue: 1 << 0) }
    @inlinable public static var wmarkHigh: AllocFlags { AllocFlags(rawValue: 1 << 1) }
    @inlinable public static var noWatermarks: AllocFlags { AllocFlags(rawValue: 1 << 2) }
    @inlinable public static var oom: AllocFlags { AllocFlags(rawValue: 1 << 3) }
    @inlinable public static var nonBlock: AllocFlags { AllocFlags(rawValue: 1 << 4) }
    @inlinable public static var minReserve: AllocFlags { AllocFlags(rawValue: 1 << 5) }
    @inlinable public static var kswapd: AllocFlags { AllocFlags(rawValue: 1 << 6) }
    @usableFromInline static var reserves: AllocFlags { [.nonBlock, .minReserve, .oom] }

    var watermark: WatermarkLevel {
        if self.contains(.wmarkHigh) { return .high }
        if self.contains(.wmarkLow) { return .low }
        return .min
    }
}

/// The buddy allocator (mm/page_alloc.c): free lists, split, merge, watermarks and zonelists.
extension PhysicalMemory {
    /// `POISON_FREE` repeated: the content word of a freed frame, so a use after free reads junk.
    public static let poisonFree: UInt64 = 0x6b6b_6b6b_6b6b_6b6b

    // MARK: Free lists

    /// `__add_to_free_list()`: puts the block at `pfn` on the order's list, at the head or tail.
    func addToFreeList(_ pfn: PFN, order: Int, zone z: Int, toTail: Bool) {
        self.zoneStorage[z].areas[order].list.add(pfn, toTail: toTail, self.memMap)
        self.zoneStorage[z].areas[order].count += 1
        self.memMap.insertFlags(pfn, .buddy)
        self.memMap.setOrder(pfn, order)
        self.accountFreePages(zone: z, order: order, delta: 1 << order)
    }

    /// `__del_page_from_free_list()`: unlinks a block from its list.
    func delFromFreeList(_ pfn: PFN, order: Int, zone z: Int) {
        self.zoneStorage[z].areas[order].list.remove(pfn, self.memMap)
        self.memMap.removeFlags(pfn, .buddy)
        self.memMap.setOrder(pfn, 0)
        self.zoneStorage[z].areas[order].count -= 1
        self.accountFreePages(zone: z, order: order, delta: -(1 << order))
    }

    /// `account_freepages()`: NR_FREE_PAGES, and NR_FREE_PAGES_BLOCKS for pageblock-sized blocks.
    func accountFreePages(zone z: Int, order: Int, delta: Int) {
        self.zoneStorage[z].counters[ZoneStatItem.nrFreePages.rawValue] += delta
        if order >= self.pageblockOrder {
            self.zoneStorage[z].counters[ZoneStatItem.nrFreePagesBlocks.rawValue] += delta
        }
    }

    /// `get_page_from_free_area()` + unlink: the first block of the list, or nil. The max-order
    /// list continues with the zone's untouched boot blocks after its explicit entries.
    func takeFirstFree(order: Int, zone z: Int) -> PFN? {
        if let pfn = self.zoneStorage[z].areas[order].list.first {
            self.delFromFreeList(pfn, order: order, zone: z)
            return pfn
        }
        guard order == self.maxOrder, self.zoneStorage[z].lazyRunIndex < self.zoneStorage[z].lazyRuns.count
        else { return nil }
        let r = self.zoneStorage[z].lazyRunIndex
        let pfn = PFN(rawValue: self.zoneStorage[z].lazyRuns[r].next)
        self.zoneStorage[z].lazyRuns[r].next += 1 << UInt64(order)
        if self.zoneStorage[z].lazyRuns[r].next >= self.zoneStorage[z].lazyRuns[r].end {
            self.zoneStorage[z].lazyRunIndex += 1
        }
        self.zoneStorage[z].areas[order].count -= 1
        self.accountFreePages(zone: z, order: order, delta: -(1 << order))
        return pfn
    }

    /// Free max-order blocks still untouched since boot, in a zone.
    public func untouchedBootBlocks(zone z: Int) -> Int {
        var n = 0
        for r in self.zoneStorage[z].lazyRuns[self.zoneStorage[z].lazyRunIndex...] {
            n += Int((r.end - r.next) >> UInt64(self.maxOrder))
        }
        return n
    }

    // MARK: Split and merge

    /// `expand()`: splits a block of order `high` down to order `low`, putting the upper half of
    /// each split on the free list of its order (at the head); the lowest part is what is allocated.
    func expand(_ pfn: PFN, low: Int, high: Int, zone z: Int) {
        var high = high
        var size = 1 << high
        while high > low {
            high -= 1
            size >>= 1
            self.addToFreeList(pfn.advanced(by: size), order: high, zone: z, toTail: false)
        }
    }

    /// `__rmqueue_smallest()`: the first block of the smallest order ≥ `order` that has one, split
    /// down to `order`.
    func rmqueueSmallest(order: Int, zone z: Int) -> PFN? {
        var current = order
        while current <= self.maxOrder {
            if let pfn = self.takeFirstFree(order: current, zone: z) {
                self.expand(pfn, low: order, high: current, zone: z)
                return pfn
            }
            current += 1
        }
        return nil
    }

    /// `page_is_buddy()`: `buddy` is the first page of a free block of exactly `order` in zone `z`.
    func pageIsBuddy(_ buddy: UInt64, order: Int, zone z: Int) -> Bool {
        let zone = self.zoneStorage[z]
        guard buddy >= zone.startPFN && buddy < zone.startPFN + zone.spannedPages else { return false }
        let pfn = PFN(rawValue: buddy)
        return self.memMap.test(pfn, .buddy) && self.memMap.order(pfn) == order
    }

    /// `__free_one_page()`: returns a block to the free lists, merging it with its buddy (the block
    /// at `pfn ^ (1 << order)`) for as long as the buddy is free and of the same order. The merged
    /// block goes to the tail when its own buddy one order up is free too (`buddy_merge_likely()`:
    /// keep it away from the next allocation so that merge can happen), else to the head.
    func freeOnePage(_ pfn: PFN, order: Int, zone z: Int, toTail: Bool) {
        var pfn = pfn.rawValue
        var order = order
        var buddyPFN: UInt64 = 0
        while order < self.maxOrder {
            buddyPFN = pfn ^ (1 << UInt64(order))
            guard self.pageIsBuddy(buddyPFN, order: order, zone: z) else { break }
            self.delFromFreeList(PFN(rawValue: buddyPFN), order: order, zone: z)
            pfn &= buddyPFN
            order += 1
        }
        var tail = toTail
        if !tail && order < self.maxOrder - 1 {
            // buddy_merge_likely(): is the buddy of the combined block free at order + 1?
            buddyPFN = pfn ^ (1 << UInt64(order))
            let higher = buddyPFN & pfn
            tail = self.pageIsBuddy(higher ^ (1 << UInt64(order + 1)), order: order + 1, zone: z)
        }
        self.addToFreeList(PFN(rawValue: pfn), order: order, zone: z, toTail: tail)
    }

    // MARK: Per-CPU lists

    /// `rmqueue_bulk()` + `__rmqueue_pcplist()`: an order-0 page from the per-CPU list of zone `z`,
    /// refilling it with `batch` pages from the buddy lists when empty.
    func rmqueuePCPList(zone z: Int) -> PFN? {
        if self.pcpStorage[z].list.isEmpty {
            let batch = self.pcpStorage[z].high < self.pcpStorage[z].batch ? 1 : self.pcpStorage[z].batch
            for _ in 0..<batch {
                guard let pfn = self.rmqueueSmallest(order: 0, zone: z) else { break }
                self.pcpAdd(pfn, zone: z, toTail: true)
            }
        }
        guard let pfn = self.pcpStorage[z].list.first else { return nil }
        self.pcpRemove(pfn, zone: z)
        return pfn
    }

    func pcpAdd(_ pfn: PFN, zone z: Int, toTail: Bool) {
        self.pcpStorage[z].list.add(pfn, toTail: toTail, self.memMap)
        self.pcpStorage[z].count += 1
    }

    func pcpRemove(_ pfn: PFN, zone z: Int) {
        self.pcpStorage[z].list.remove(pfn, self.memMap)
        self.pcpStorage[z].count -= 1
    }

    /// `free_pcppages_bulk()`: returns the `count` oldest pages of the per-CPU list to the buddy lists.
    func freePCPPagesBulk(zone z: Int, count: Int) {
        var n = min(count, self.pcpStorage[z].count)
        while n > 0, let pfn = self.pcpStorage[z].list.last {
            self.pcpRemove(pfn, zone: z)
            self.freeOnePage(pfn, order: 0, zone: z, toTail: false)
            n -= 1
        }
    }

    /// `drain_all_pages()`: empties every per-CPU list into the buddy lists.
    public func drainAllPages() {
        for z in 0..<self.zoneCount where self.pcpStorage[z].count > 0 {
            self.freePCPPagesBulk(zone: z, count: self.pcpStorage[z].count)
        }
    }

    // MARK: Watermarks and zonelists

    /// `gfp_zone()`: the highest zone an allocation with these flags may use.
    public func highestZoneIndex(for gfp: GFP) -> Int {
        let type: ZoneType
        if gfp.contains(.dma) {
            type = .dma
        } else if gfp.contains(.dma32) {
            type = self.architecture.zoneLayout == .pc64 ? .dma32 : .normal
        } else if gfp.contains(.highmem) && gfp.contains(.movable) {
            type = .movable
        } else if gfp.contains(.highmem) {
            type = self.architecture.zoneLayout == .pc32 ? .highMem : .normal
        } else {
            type = .normal
        }
        return self.zoneIndex(of: type) ?? 0
    }

    /// `__zone_watermark_ok()`: would zone `z` stay above `mark` plus its lowmem reserve for
    /// allocations limited to `highestZone`, and does it have a free block of at least `order`?
    /// `ALLOC_MIN_RESERVE` (`__GFP_HIGH`) may use half the min reserve, non-blocking callers a
    /// quarter more, OOM victims half again.
    public func zoneWatermarkOK(zone z: Int, order: Int, mark: Int, highestZone: Int, flags: AllocFlags)
        -> Bool
    {
        self.zoneWatermarkOK(
            zone: z, order: order, mark: mark, highestZone: highestZone, flags: flags,
            free: self.zoneStorage[z].counters[ZoneStatItem.nrFreePages.rawValue])
    }

    /// `__zone_watermark_ok()` with the zone's free pages given (`free_pages`): what
    /// `should_reclaim_retry()` asks with the reclaimable pages counted as free. Public for the
    /// watermark exercises, which ask it of a zone at a given number of free pages.
    public func zoneWatermarkOK(
        zone z: Int, order: Int, mark: Int, highestZone: Int, flags: AllocFlags, free: Int
    ) -> Bool {
        let freePages = free - ((1 << order) - 1)
        var min = mark
        if !flags.isDisjoint(with: AllocFlags.reserves) {
            if flags.contains(.minReserve) {
                min -= min / 2
                if flags.contains(.nonBlock) { min -= min / 4 }
            }
            if flags.contains(.oom) { min -= min / 2 }
        }
        if freePages <= min + self.zoneStorage[z].reserves[highestZone] { return false }
        if order == 0 { return true }
        var o = order
        while o <= self.maxOrder {
            if self.zoneStorage[z].areas[o].count > 0 { return true }
            o += 1
        }
        return false
    }

    /// How many order-0 pages an allocation with `gfp` can take before every zone it may use
    /// is down to its high watermark (plus boost and lowmem reserve): what fits in free memory
    /// without waking kswapd or reclaiming anything. Pages on the per-CPU lists are not
    /// counted. O(zones).
    public func pagesAboveHighWatermark(_ gfp: GFP) -> Int {
        let highest = self.highestZoneIndex(for: gfp)
        var total = 0
        for z in 0...highest where self.zoneStorage[z].managedPages > 0 {
            let free = self.zoneStorage[z].counters[ZoneStatItem.nrFreePages.rawValue]
            let mark =
                self.zoneStorage[z].watermarks[WatermarkLevel.high.rawValue]
                + self.zoneStorage[z].watermarkBoost
                + self.zoneStorage[z].reserves[highest]
            total += max(0, free - mark - 1)
        }
        return total
    }

    /// `get_page_from_freelist()`: walks the zonelist from the highest usable zone down (Normal →
    /// DMA32 → DMA) and takes a page from the first zone whose watermark check passes.
    func getPageFromFreelist(_ gfp: GFP, order: Int, highestZone: Int, flags: AllocFlags) -> PFN? {
        var z = highestZone
        while z >= 0 {
            defer { z -= 1 }
            guard self.zoneStorage[z].managedPages > 0 else { continue }
            if !flags.contains(.noWatermarks) {
                let mark =
                    self.zoneStorage[z].watermarks[flags.watermark.rawValue]
                    + self.zoneStorage[z].watermarkBoost
                guard
                    self.zoneWatermarkOK(
                        zone: z, order: order, mark: mark, highestZone: highestZone, flags: flags)
                else {
                    continue
                }
            }
            let pfn: PFN?
            if order == 0 {
                pfn = self.rmqueuePCPList(zone: z)
            } else {
                pfn = self.rmqueueSmallest(order: order, zone: z)
            }
            if let pfn {
                self.count(VMEvent(rawValue: VMEvent.pgallocDma.rawValue + z)!, 1 << UInt64(order))
                self.zoneStorage[z].numaCounters[NUMAStatItem.numaHit.rawValue] += 1
                self.zoneStorage[z].numaCounters[NUMAStatItem.numaLocal.rawValue] += 1
                return pfn
            }
        }
        return nil
    }

    /// `gfp_to_alloc_flags()`: the slow path checks the min watermark; `__GFP_HIGH` may use
    /// reserves; callers that cannot sleep may use a little more.
    func slowpathAllocFlags(_ gfp: GFP, order: Int) -> AllocFlags {
        var flags: AllocFlags = .wmarkMin
        if gfp.contains(.high) { flags.insert(.minReserve) }
        if gfp.contains(.kswapdReclaim) { flags.insert(.kswapd) }
        if !gfp.contains(.directReclaim) && !gfp.contains(.noMemalloc) { flags.insert(.nonBlock) }
        return flags
    }

    // MARK: Allocation entry points

    /// `alloc_pages(gfp, order)`: `1 << order` physically contiguous frames, or nil.
    ///
    /// Fast path: every usable zone checked against its low watermark. Slow path
    /// (`__alloc_pages_slowpath()`): wake kswapd, retry against the min watermark (less for
    /// `__GFP_HIGH`/atomic callers), then direct reclaim — repeated while `should_reclaim_retry()`
    /// sees a chance, once only for `__GFP_NORETRY` and costly orders — and, for small orders,
    /// the OOM killer; each only if a `ReclaimDelegate` is installed and the flags allow it. Failure is a value
    /// (nil) and is logged like `warn_alloc()`. The frame comes back with reference count 1;
    /// with `__GFP_ZERO` its content word is 0, otherwise it holds whatever was there.
    public func allocPages(_ gfp: GFP, order: Int) -> PFN? {
        precondition(order >= 0 && order <= self.maxOrder, "allocPages: order \(order) out of range")
        let highest = self.highestZoneIndex(for: gfp)
        if let pfn = self.getPageFromFreelist(gfp, order: order, highestZone: highest, flags: .wmarkLow) {
            self.prepNewPage(pfn, order: order, gfp: gfp)
            return pfn
        }
        return self.allocPagesSlowpath(gfp, order: order, highestZone: highest)
    }

    func allocPagesSlowpath(_ gfp: GFP, order: Int, highestZone: Int) -> PFN? {
        let flags = self.slowpathAllocFlags(gfp, order: order)
        if flags.contains(.kswapd), let reclaimer = self.reclaimer {
            for z in 0...highestZone where self.zoneStorage[z].managedPages > 0 {
                reclaimer.wakeKswapd(zone: z, order: order, gfp: gfp)
            }
        }
        if let pfn = self.getPageFromFreelist(gfp, order: order, highestZone: highestZone, flags: flags) {
            self.prepNewPage(pfn, order: order, gfp: gfp)
            return pfn
        }
        if gfp.contains(.directReclaim), let reclaimer = self.reclaimer {
            var noProgressLoops = 0
            var ooms = 0
            while true {
                // __alloc_pages_direct_reclaim(): reclaim, then try the free lists, draining the
                // per-CPU lists once if that fails.
                let stallEvent = VMEvent(rawValue: VMEvent.allocstallDma.rawValue + highestZone)!
                self.count(stallEvent)
                let reclaimed = reclaimer.directReclaim(gfp: gfp, order: order, highestZone: highestZone)
                if let pfn = self.getPageFromFreelist(
                    gfp, order: order, highestZone: highestZone, flags: flags)
                    ?? self.drainAndRetry(gfp, order: order, highestZone: highestZone, flags: flags)
                {
                    self.prepNewPage(pfn, order: order, gfp: gfp)
                    return pfn
                }
                if gfp.contains(.noRetry) || order > self.costlyOrder { break }
                if self.shouldReclaimRetry(
                    order: order, highestZone: highestZone, flags: flags, progress: reclaimed > 0,
                    noProgressLoops: &noProgressLoops, reclaimer)
                {
                    continue
                }
                // __alloc_pages_may_oom(): last chance against the high watermark first.
                guard ooms < 64 else { break }
                if let pfn = self.getPageFromFreelist(
                    gfp, order: order, highestZone: highestZone, flags: .wmarkHigh)
                {
                    self.prepNewPage(pfn, order: order, gfp: gfp)
                    return pfn
                }
                guard reclaimer.outOfMemory(gfp: gfp, order: order) else { break }
                // Retry as long as the OOM killer is making progress.
                ooms += 1
                noProgressLoops = 0
                if let pfn = self.getPageFromFreelist(
                    gfp, order: order, highestZone: highestZone, flags: flags.union(.oom))
                {
                    self.prepNewPage(pfn, order: order, gfp: gfp)
                    return pfn
                }
            }
        }
        self.warnAlloc(gfp, order: order)
        return nil
    }

    /// The free lists failed after reclaim: drain the per-CPU lists (`drain_all_pages()` in
    /// `__alloc_pages_direct_reclaim()`) and, if that gave pages back, try once more.
    func drainAndRetry(_ gfp: GFP, order: Int, highestZone: Int, flags: AllocFlags) -> PFN? {
        let before = self.pcp.reduce(0) { $0 + $1.count }
        self.drainAllPages()
        guard before > 0 else { return nil }
        return self.getPageFromFreelist(gfp, order: order, highestZone: highestZone, flags: flags)
    }

    /// `should_reclaim_retry()` (mm/page_alloc.c): after `MAX_RECLAIM_RETRIES` (16) reclaim
    /// rounds in a row without progress, or when no usable zone would meet its min watermark
    /// even if every reclaimable page were freed, the allocator stops reclaiming and goes to the
    /// OOM killer. Pages under writeback stay on the LRU lists, so they count as reclaimable:
    /// writeback in flight keeps the allocator retrying (direct reclaim itself waits for it).
    func shouldReclaimRetry(
        order: Int, highestZone: Int, flags: AllocFlags, progress: Bool, noProgressLoops: inout Int,
        _ reclaimer: any ReclaimDelegate
    ) -> Bool {
        if progress && order <= self.costlyOrder { noProgressLoops = 0 } else { noProgressLoops += 1 }
        guard noProgressLoops <= 16 else { return false }
        var z = highestZone
        while z >= 0 {
            defer { z -= 1 }
            guard self.zoneStorage[z].managedPages > 0 else { continue }
            let available =
                reclaimer.reclaimablePages(zone: z)
                + self.zoneStorage[z].counters[ZoneStatItem.nrFreePages.rawValue]
            let mark = self.zoneStorage[z].watermarks[WatermarkLevel.min.rawValue]
            if self.zoneWatermarkOK(
                zone: z, order: order, mark: mark, highestZone: highestZone, flags: flags, free: available)
            {
                return true
            }
        }
        return false
    }

    /// `warn_alloc()`: logs the failed allocation.
    func warnAlloc(_ gfp: GFP, order: Int) {
        self.allocFailures += 1
        guard !gfp.contains(.noWarn) else { return }
        self.log.printk(
            at: self.now,
            "vmsim: page allocation failure: order:\(order), mode:\(hex(UInt64(gfp.rawValue)))(\(gfp))")
    }

    /// `post_alloc_hook()`/`prep_new_page()`: reference count 1, order recorded on the first frame,
    /// content zeroed for `__GFP_ZERO`.
    func prepNewPage(_ pfn: PFN, order: Int, gfp: GFP) {
        self.memMap.setRefCount(pfn, 1)
        self.memMap.setOrder(pfn, order)
        if order > 0 && gfp.contains(.comp) { self.memMap.insertFlags(pfn, .head) }
        if gfp.contains(.zero) {
            for i in 0..<(1 << order) { self.memMap.setContent(pfn.advanced(by: i), 0) }
        }
    }

    /// `split_page()` (mm/page_alloc.c): turns a non-compound block of order `order` into
    /// `1 << order` order-0 pages with a reference each, freed one by one later.
    public func splitPage(_ pfn: PFN, order: Int) {
        precondition(self.memMap.order(pfn) == order, "splitPage: \(pfn) is not an order-\(order) block")
        self.memMap.setOrder(pfn, 0)
        for i in 1..<(1 << order) {
            let p = pfn.advanced(by: i)
            self.memMap.setOrder(p, 0)
            self.memMap.setRefCount(p, 1)
        }
    }

    /// `__free_pages(page, order)`: drops a reference; the last one returns the block.
    public func freePages(_ pfn: PFN, order: Int) {
        if self.memMap.putPageTestZero(pfn) { self.freeFrozenPages(pfn, order: order) }
    }

    /// `free_unref_page()`/`__free_pages_ok()`: a block with no references left goes back — order 0
    /// to the per-CPU list, larger orders to the buddy lists. Checks that nobody still uses it
    /// (`free_page_is_bad()`) and poisons its content.
    public func freeFrozenPages(_ pfn: PFN, order: Int) {
        let bad: PageFlags = [.buddy, .lru, .slab, .pageTable, .mlocked, .writeback, .swapCache, .locked]
        precondition(
            self.memMap.refCount(pfn) == 0,
            "freePages: \(pfn) still has \(self.memMap.refCount(pfn)) references")
        precondition(
            self.memMap.mapCount(pfn) == 0,
            "freePages: \(pfn) is still mapped \(self.memMap.mapCount(pfn)) times")
        precondition(
            self.memMap.flags(pfn).isDisjoint(with: bad),
            "freePages: bad page state \(pfn) flags \(self.memMap.flags(pfn))")
        precondition(!self.memMap.isReserved(pfn), "freePages: \(pfn) is reserved")
        let recorded = self.memMap.order(pfn)
        precondition(
            recorded == order, "freePages: \(pfn) allocated at order \(recorded), freed at order \(order)")
        guard let z = self.zoneIndex(of: pfn) else { preconditionFailure("freePages: \(pfn) is in no zone") }
        for i in 0..<(1 << order) {
            let p = pfn.advanced(by: i)
            self.memMap.setFlags(p, [])
            self.memMap.setMapping(p, 0)
            self.memMap.setIndex(p, 0)
            self.memMap.setPrivateWord(p, 0)
            self.memMap.setContent(p, PhysicalMemory.poisonFree)
        }
        self.memMap.setOrder(pfn, 0)
        self.count(.pgfree, 1 << UInt64(order))
        if order == 0 {
            self.pcpAdd(pfn, zone: z, toTail: false)
            if self.pcpStorage[z].count >= self.pcpStorage[z].high {
                self.freePCPPagesBulk(
                    zone: z,
                    count: self.pcpStorage[z].high < self.pcpStorage[z].batch ? 1 : self.pcpStorage[z].batch)
            }
        } else {
            self.freeOnePage(pfn, order: order, zone: z, toTail: false)
        }
    }
}
