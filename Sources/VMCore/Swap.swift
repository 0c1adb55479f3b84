import VMPaging
import VMPhys
import VMTypes

/// A swap device or swap file (`struct swap_info_struct`, include/linux/swap.h).
///
/// Slot 0 holds the swap header and is never used. The slot map is `swap_map`: for each slot
/// the number of references to it (PTEs holding the entry, shmem index entries) plus the
/// `SWAP_HAS_CACHE` bit while a page for it is in the swap cache. Slots are handed out by
/// cluster (`SWAPFILE_CLUSTER`, 512 slots): the CPU's current cluster is filled in order, then
/// the next free cluster, then a partly used one — as `cluster_alloc_swap_entry()` does since
/// Linux 6.12.
///
/// Simplified for the host: Linux allocates `swap_map` and `cluster_info` whole at swapon (a
/// byte and a cluster record per slot). Here a cluster's counts exist only while one of its
/// slots is in use (`clusters`), and the free-cluster list is the range of clusters never
/// used plus a queue of freed ones, so an idle area of any size costs a few hundred bytes and
/// swapon is O(1); a slot whose cluster has no counts reads as free. Allocation order is the
/// same as with the whole list.
public final class SwapArea {
    public let type: Int
    public let path: String
    /// A swap file on the file system (its slots follow the file's extents); otherwise a
    /// partition (one contiguous run of blocks).
    public let isFile: Bool
    public internal(set) var priority: Int
    /// `max`: slots including the header.
    public let slots: UInt64
    /// `inuse_pages`: slots with references or a cached page.
    public internal(set) var inUse: UInt64 = 0
    static let hasCache: UInt32 = 1 << 31
    static let clusterSize: UInt64 = 512
    /// The counts of one cluster and how many of its slots are in use (`swap_cluster_info`).
    struct Cluster {
        var map = [UInt32](repeating: 0, count: Int(SwapArea.clusterSize))
        var used = 0
    }
    /// `swap_map` and `cluster_info` of the clusters with a slot in use, by cluster index.
    var clusters: [Int: Cluster] = [:]
    /// The file backing a swap file; the first block of a partition.
    let file: FileID?
    let startBlock: UInt64
    /// Words on the disk, by slot.
    var disk: [UInt64: UInt64] = [:]
    /// `free_clusters`: every cluster from `nextFreshCluster` on (never used), then the clusters
    /// freed since, in the order they were freed.
    var nextFreshCluster = 0
    var freedClusters: [Int] = []
    var freedClusterHead = 0
    var nonfullClusters: [Int] = []
    var inNonfull: Set<Int> = []
    /// The CPU's current cluster and next offset in it (`percpu_cluster->next`).
    var nextOffset: UInt64?
    /// Extents of the area on disk (for `swapon`'s log line).
    public let extents: Int
    /// Being turned off: no new slots are handed out.
    var closing = false

    init(
        type: Int, path: String, isFile: Bool, priority: Int, slots: UInt64, file: FileID?,
        startBlock: UInt64, extents: Int
    ) {
        self.type = type
        self.path = path
        self.isFile = isFile
        self.priority = priority
        self.slots = slots
        self.file = file
        self.startBlock = startBlock
        self.extents = extents
        // The header slot is permanently in use.
        var header = Cluster()
        header.map[0] = 1
        header.used = 1
        self.clusters[0] = header
    }

    /// `pages`: usable slots.
    public var pages: UInt64 { self.slots - 1 }
    public var freeSlots: UInt64 { self.pages - self.inUse }
    /// Number of clusters.
    var clusterCount: Int { Int((self.slots + SwapArea.clusterSize - 1) / SwapArea.clusterSize) }
    /// Clusters whose slot counts are held in host memory (those with a slot in use).
    public var allocatedClusters: Int { self.clusters.count }

    /// `swap_map[offset]` (0 for a slot whose cluster is free).
    subscript(offset: UInt64) -> UInt32 {
        get {
            self.clusters[Int(offset / SwapArea.clusterSize)]?.map[Int(offset % SwapArea.clusterSize)] ?? 0
        }
        set {
            let c = Int(offset / SwapArea.clusterSize)
            let i = Int(offset % SwapArea.clusterSize)
            if self.clusters[c] == nil {
                guard newValue != 0 else { return }
                self.clusters[c] = Cluster()
            }
            self.clusters[c]!.map[i] = newValue
        }
    }

    /// References to `offset` (without the cache bit).
    func count(_ offset: UInt64) -> Int { Int(self[offset] & ~SwapArea.hasCache) }
    func cached(_ offset: UInt64) -> Bool { self[offset] & SwapArea.hasCache != 0 }
    func clusterUsed(_ c: Int) -> Int { self.clusters[c]?.used ?? 0 }

    /// `cluster_alloc_swap_entry()` for one slot (order 0).
    func allocSlot() -> UInt64? {
        guard !self.closing, self.inUse < self.pages else { return nil }
        if let next = self.nextOffset, let found = self.scanCluster(from: next) { return found }
        self.nextOffset = nil
        while let c = self.takeFreeCluster() {
            guard self.clusterUsed(c) < self.clusterCapacity(c) else { continue }
            if let found = self.scanCluster(from: UInt64(c) * SwapArea.clusterSize) { return found }
        }
        while let c = self.nonfullClusters.first {
            self.nonfullClusters.removeFirst()
            self.inNonfull.remove(c)
            if let found = self.scanCluster(from: UInt64(c) * SwapArea.clusterSize) { return found }
        }
        return nil
    }

    /// The head of `free_clusters`: the next never-used cluster, else the oldest freed one.
    func takeFreeCluster() -> Int? {
        if self.nextFreshCluster < self.clusterCount {
            self.nextFreshCluster += 1
            return self.nextFreshCluster - 1
        }
        guard self.freedClusterHead < self.freedClusters.count else { return nil }
        let c = self.freedClusters[self.freedClusterHead]
        self.freedClusterHead += 1
        if self.freedClusterHead >= 1024 && self.freedClusterHead * 2 >= self.freedClusters.count {
            self.freedClusters.removeFirst(self.freedClusterHead)
            self.freedClusterHead = 0
        }
        return c
    }

    func clusterCapacity(_ c: Int) -> Int {
        Int(min(SwapArea.clusterSize, self.slots - UInt64(c) * SwapArea.clusterSize))
    }

    /// Takes the first free slot at or after `from` in `from`'s cluster and makes the cluster
    /// current; nil when it has none.
    func scanCluster(from: UInt64) -> UInt64? {
        let c = Int(from / SwapArea.clusterSize)
        let base = UInt64(c) * SwapArea.clusterSize
        let end = min(base + SwapArea.clusterSize, self.slots)
        guard let map = self.clusters[c]?.map else {
            // No slot of the cluster is in use.
            guard from < end else { return nil }
            self.nextOffset = from + 1 < end ? from + 1 : nil
            return from
        }
        var offset = from
        while offset < end {
            if map[Int(offset - base)] == 0 {
                self.nextOffset = offset + 1 < end ? offset + 1 : nil
                return offset
            }
            offset += 1
        }
        // Wrap to the start of the cluster for slots freed behind the cursor.
        offset = base
        while offset < from {
            if map[Int(offset - base)] == 0 {
                self.nextOffset = offset + 1
                return offset
            }
            offset += 1
        }
        return nil
    }

    /// A slot changed from free to used (its entry was just set).
    func slotTaken(_ offset: UInt64) {
        self.inUse += 1
        self.clusters[Int(offset / SwapArea.clusterSize)]!.used += 1
    }

    /// A slot's entry dropped to 0. A cluster left with no slot in use goes back on the free
    /// list (`free_cluster()`, and off the nonfull one) and its counts are dropped.
    func slotFreed(_ offset: UInt64) {
        self.inUse -= 1
        let c = Int(offset / SwapArea.clusterSize)
        self.clusters[c]!.used -= 1
        self.disk[offset] = nil
        if self.clusters[c]!.used == 0 {
            self.clusters[c] = nil
            if self.inNonfull.remove(c) != nil { self.nonfullClusters.removeAll { $0 == c } }
            self.freedClusters.append(c)
        } else if !self.inNonfull.contains(c) && self.nextOffset.map({ Int($0 / SwapArea.clusterSize) }) != c
        {
            self.inNonfull.insert(c)
            self.nonfullClusters.append(c)
        }
    }
}

/// The swap subsystem's state: the areas, the swap cache, readahead bookkeeping.
public final class SwapState {
    /// `swap_info[]` by type.
    public internal(set) var areas: [SwapArea?] = []
    /// `least_priority`: areas added without a priority get -2, -3, …
    var leastPriority = -1
    /// The swap cache (`swapper_spaces`): entry → page.
    var cache: [UInt64: PFN] = [:]
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
}

/// The kind of area `swapon` adds.
public enum SwapKind: String, Sendable {
    case partition, file
}

/// Swap (mm/swapfile.c, mm/swap_state.c, mm/page_io.c, and `do_swap_page()` of mm/memory.c).
extension Kernel {
    /// `SWAP_CLUSTER_MAX`.
    public static let swapClusterMax = 32

    public var swapAreas: [SwapArea] { self.swap.active }
    /// `total_swap_pages` and `nr_swap_pages`.
    /// An area being turned off no longer counts (`del_from_avail_list()` at swapoff).
    public var swapTotalPages: Int { self.swap.active.reduce(0) { $0 + ($1.closing ? 0 : Int($1.pages)) } }
    public var swapFreePages: Int { self.swap.active.reduce(0) { $0 + ($1.closing ? 0 : Int($1.freeSlots)) } }
    /// `vm_swap_full()`: more than half of swap in use.
    var swapFull: Bool { self.swapFreePages * 2 < self.swapTotalPages }

    // MARK: swapon, swapoff

    /// `swapon(2)`: a partition of `size` bytes carved from the disk (contiguous), or a swap file
    /// of `size` bytes created at `path` on the file system — as files on an aged file system
    /// are, in scattered extents of 64–256 KiB, so reading it costs seeks a partition does not.
    /// Without `priority` the area gets the next of -2, -3, ….
    ///
    /// The area is formatted as util-linux's mkswap does — at most `UINT32_MAX` pages, the
    /// header's `last_page` one less — and sized as `read_swap_header()` (mm/swapfile.c) sizes
    /// it: a header beyond `swapfile_maximum_size` (`Kernel.swapfileMaximumSize`) is truncated
    /// to it with the kernel's warning, "Truncating oversized swap area, only using …k out of
    /// …k"; otherwise the area has `last_page + 1` slots. So the largest area is 2^32 − 1 slots
    /// (16 TiB − 8 KiB usable) on x86-64, 2^26 (256 GiB) on i386-pae and 2^23 (32 GiB) on
    /// i386, however large `size` is. A swap file larger than the file system's 16 TiB limit
    /// cannot be created (EFBIG). Costs O(1) host memory and time for a partition of any size
    /// (see `SwapArea`) and O(extents) for a file (see `installSwapFile`).
    @discardableResult
    public func swapon(_ path: String, size: UInt64, kind: SwapKind, priority: Int? = nil) throws(MMError)
        -> SwapArea
    {
        guard size >= 40 << 10 else { throw .invalid("\(path): a swap area needs at least 40 KiB") }
        guard kind == .partition || size <= Kernel.maxFileSize else {
            throw .tooBig("\(path): a swap file of \(size) bytes is beyond the file system's 16 TiB")
        }
        guard !self.swap.active.contains(where: { $0.path == path }) else {
            throw .exists("\(path) is already in use for swap")
        }
        let type = self.swap.areas.firstIndex { $0 == nil } ?? self.swap.areas.count
        guard type < SwapEntry.maxTypes else {
            throw .notPermitted("too many swap areas (\(SwapEntry.maxTypes))")
        }
        let prio: Int
        if let priority {
            // swapon(2) itself takes 0…32767 (or -1, the default); negative values are accepted
            // here so a listing with the kernel's own -2, -3 … can be reproduced.
            guard (-32768...32767).contains(priority) else {
                throw .invalid("priority \(priority) is outside -32768…32767")
            }
            prio = priority
        } else {
            prio = self.swap.leastPriority - 1
        }
        let devicePages = size >> UInt64(self.phys.pageShift)
        var file: FileID?
        var start: UInt64 = 0
        var extents = 1
        switch kind {
        case .partition:
            break
        case .file:
            let f = try self.installSwapFile(path, pages: devicePages)
            file = f.id
            extents = f.extents.count
            // inode->i_flags |= S_SWAPFILE: the file's size and blocks belong to swap now.
            f.isSwapFile = true
        }
        let slots = self.readSwapHeader(devicePages: devicePages)
        // A partition's blocks: the slots in use (the rest of a larger device lies idle).
        if kind == .partition { start = self.allocBlocks(slots) }
        if priority == nil { self.swap.leastPriority = prio }
        let area = SwapArea(
            type: type, path: path, isFile: kind == .file, priority: prio, slots: slots, file: file,
            startBlock: start,
            extents: extents)
        if type == self.swap.areas.count {
            self.swap.areas.append(area)
        } else {
            self.swap.areas[type] = area
        }
        self.swap.rotation.append(type)
        let kb = area.pages * (self.phys.pageSize >> 10)
        // "across": the span of disk the area's extents cover.
        var across = kb
        if let id = file, let first = self.file(id).extents.first, let last = self.file(id).extents.last {
            across = (last.block + last.count - first.block - 1) * (self.phys.pageSize >> 10)
        }
        self.printk(
            "Adding \(kb)k swap on \(path).  Priority:\(prio) extents:\(extents) across:\(across)k \(self.vfs.disk.kind == .hdd ? "" : "SS")"
        )
        return area
    }

    /// `swapfile_maximum_size` (mm/swapfile.c), from `arch_max_swapfile_size()`
    /// (arch/x86/mm/init.c): the slots a swap entry can name — `generic_max_swapfile_size()`,
    /// the offset bits that survive swp_entry → swap PTE → swp_entry — capped on a CPU with
    /// the L1TF bug at MAX_PA/2 (`l1tf_pfn_limit()` = 2^(x86_cache_bits − 1 − PAGE_SHIFT),
    /// shifted left by PAGE_SHIFT − SWP_OFFSET_FIRST_BIT = 3 when the tables have more than two
    /// levels, since the inverted offset starts 3 bits below the PFN field):
    ///
    /// | architecture | entry offset bits | L1TF limit | slots |
    /// | --- | --- | --- | --- |
    /// | x86_64, x86_64-la57 | 50: PTE bits 14…63 (pgtable_64.h) | 2^31 << 3 | 2^34 |
    /// | i386-pae | 26: a 32-bit `swp_entry_t` minus 5 type bits and the XArray bit (swapops.h) | 2^31 << 3 | 2^26 |
    /// | i386 | 23: PTE bits 9…31 (pgtable-2level.h) | 2^31 | 2^23 |
    ///
    /// The CPU modelled is an L1TF-affected Intel core with `x86_cache_bits` = 44, the value
    /// `override_cache_bits()` (arch/x86/kernel/cpu/bugs.c) gives Nehalem to Kaby Lake; with
    /// it the L1TF cap binds only on x86-64 (64 TiB), where the header's 32-bit `last_page`
    /// limits an area to 16 TiB anyway — the result is the same on a CPU without the bug.
    public var swapfileMaximumSize: UInt64 {
        let geometry = self.architecture.paging
        let offsetBits = UInt64(self.architecture.swapOffsetBits)
        let cacheBits: UInt64 = 44
        var l1tf = UInt64(1) << (cacheBits - 1 - UInt64(geometry.pageShift))
        if geometry.levels > 2 { l1tf <<= UInt64(geometry.pageShift) - 9 }
        return min(UInt64(1) << offsetBits, l1tf)
    }

    /// mkswap's header for a device of `devicePages` pages, read back by `read_swap_header()`:
    /// the number of slots the area gets (`p->max`), logging the kernel's warning when the
    /// header is larger than `swapfileMaximumSize`.
    func readSwapHeader(devicePages: UInt64) -> UInt64 {
        // mkswap: "warning: truncating swap area to … KiB" above UINT32_MAX pages.
        let lastPage = min(devicePages, UInt64(UInt32.max)) - 1
        var maxPages = self.swapfileMaximumSize
        let kb = self.phys.pageSize >> 10
        if lastPage > maxPages {
            self.printk(
                "Truncating oversized swap area, only using \(maxPages * kb)k out of \(lastPage * kb)k")
        }
        if maxPages > lastPage {
            maxPages = lastPage + 1
            // p->max is an unsigned int: don't overflow it.
            if UInt32(truncatingIfNeeded: maxPages) == 0 { maxPages = UInt64(UInt32.max) }
        }
        return maxPages
    }

    /// The first pages of a swap file laid out in small scattered extents (4 GiB); the rest of
    /// a larger file is laid out in 1 GiB runs.
    static let scatteredSwapFileBytes: UInt64 = 4 << 30
    static let largeSwapFileRunBytes: UInt64 = 1 << 30

    /// Creates the swap file: on the disk in extents of 16–64 pages separated by gaps of 1–256
    /// blocks, as an aged file system places a file, its pages allocated (`fallocate`), not
    /// cached. Past its first 4 GiB a file continues in runs of 1 GiB with the same gaps: the
    /// extents of a 16 TiB file number about 43,000 rather than 300 million, and a file of
    /// realistic size seeks as before. O(extents) time and host memory.
    func installSwapFile(_ path: String, pages: UInt64) throws(MMError) -> SimFile {
        let file = try self.installFile(path, size: 0)
        file.size = pages << UInt64(self.phys.pageShift)
        let scattered = Kernel.scatteredSwapFileBytes >> UInt64(self.phys.pageShift)
        let largeRun = Kernel.largeSwapFileRunBytes >> UInt64(self.phys.pageShift)
        var index: UInt64 = 0
        var state = UInt64(file.inode) &* 0x9E37_79B9_7F4A_7C15
        while index < pages {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let run = min(index < scattered ? 16 + (state >> 33) % 49 : largeRun, pages - index)
            let gap = 1 + (state >> 17) % 256
            _ = self.allocBlocks(gap)
            file.extents.append(Extent(index: index, block: self.allocBlocks(run), count: run))
            index += run
        }
        return file
    }

    /// `swapoff(2)`: stops handing out slots, brings every swapped page back
    /// (`try_to_unuse()`), and removes the area. Fails with ENOMEM, leaving the area in use, when
    /// memory is too short to hold the pages.
    public func swapoff(_ path: String) throws(MMError) {
        guard let area = self.swap.active.first(where: { $0.path == path }) else {
            throw .invalid("\(path) is not a swap area")
        }
        let needed = Int(area.inUse)
        guard needed <= self.phys.freePages + self.reclaimableEstimate() else {
            throw .noMemory("\(path): \(needed) swapped pages do not fit in memory")
        }
        area.closing = true
        do { try self.tryToUnuse(area) } catch {
            area.closing = false
            throw error
        }
        self.waitUntil {
            !self.vfs.pendingIO.contains {
                if case .swap(let t, _, _) = $0.work { return t == area.type } else { return false }
            }
        }
        precondition(area.inUse == 0, "swapoff: \(area.inUse) slots still in use")
        self.swap.areas[area.type] = nil
        self.swap.rotation.removeAll { $0 == area.type }
        if let id = area.file { self.file(id).isSwapFile = false }
    }

    /// `try_to_unuse()`: every PTE and shmem entry holding a slot of `area` gets its page back,
    /// and the page leaves the swap cache so reclaim cannot send it back to this area; passes
    /// repeat while reclaim keeps putting pages back, until no slot is in use.
    ///
    /// Bringing pages back allocates, and an allocation may reclaim and OOM-kill — possibly the
    /// very process whose page tables are being walked. As `try_to_unuse()` does with
    /// `mmget_not_zero()`, the walk holds a user reference on each mm (an mm already without
    /// users is skipped), so a kill leaves a valid, reaped mm behind rather than freed page
    /// tables; once the walk's reference is the only one left the owner has exited and the
    /// rest of that mm is skipped (Linux walks on and finds nothing: the OOM reaper unmapped
    /// it). The last `mmput()` tears the mm down.
    func tryToUnuse(_ area: SwapArea) throws(MMError) {
        let memMap = self.phys.memMap
        var passes = 0
        while area.inUse > 0 {
            passes += 1
            guard passes <= 32 else { throw .noMemory("swapoff: reclaim keeps swapping pages out") }
            for mm in self.addressSpaces.values.sorted(by: { $0.id < $1.id }) {
                // mmget_not_zero(): an mm being torn down is skipped; any other stays valid
                // until the walk's mmput().
                guard self.addressSpaces[mm.id] === mm, mm.users > 0 else { continue }
                mm.users += 1
                defer { self.mmput(mm) }
                var entries: [(UInt64, PTE)] = []
                for vma in mm.vmas {
                    self.pageTables.forEachPTE(root: mm.pgd, range: vma.start..<vma.end) { va, pte in
                        if let e = pte.swapEntry, e.type == area.type { entries.append((va, pte)) }
                    }
                }
                for (va, pte) in entries {
                    // Re-checked after every page: the last one's allocation may have killed
                    // the owner (only the walk's reference is left) or changed the entry.
                    guard mm.users > 1 else { break }
                    guard let slot = mm.slot(containing: va), self.pageTables.pte(root: mm.pgd, va: va) == pte
                    else { continue }
                    if case .oom = self.doSwapPage(mm, slot: slot, address: va, pte: pte, write: false) {
                        throw .noMemory("swapoff: out of memory bringing \(hex(va)) back")
                    }
                    let now = self.pageTables.pte(root: mm.pgd, va: va)
                    if now.isPresent, self.swapEntry(of: now.pfn)?.type == area.type {
                        self.freeSwapCache(now.pfn)
                    }
                }
            }
            for file in self.files where file.isShmem && !file.swapped.isEmpty {
                for (index, entry) in file.swapped.sorted(by: { $0.key < $1.key })
                where entry.type == area.type {
                    // An earlier page's allocation may have freed the object (its last mapper
                    // was OOM-killed) or brought this page back already.
                    guard !file.released, file.swapped[index] == entry else { continue }
                    guard let (pfn, _) = self.shmemSwapIn(file, index: index) else {
                        if file.released || file.swapped[index] != entry { continue }
                        throw .noMemory("swapoff: out of memory bringing shmem page \(index) back")
                    }
                    self.putPage(pfn)
                }
            }
            // Pages only the swap cache still holds for this area.
            for (key, pfn) in self.swap.cache.sorted(by: { $0.key < $1.key })
            where Int(key >> 50) == area.type {
                memMap.getPage(pfn)
                if memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
                if memMap.test(pfn, .writeback) { self.waitOnPageWriteback(pfn) }
                if self.swapEntry(of: pfn) == SwapEntry(type: area.type, offset: key & ((1 << 50) - 1)) {
                    self.freeSwapCache(pfn)
                }
                self.putPage(pfn)
            }
        }
    }

    // MARK: Slots

    func area(_ e: SwapEntry) -> SwapArea {
        guard e.type < self.swap.areas.count, let area = self.swap.areas[e.type] else {
            preconditionFailure("swap entry \(e) names no swap area")
        }
        return area
    }

    /// `folio_alloc_swap()` → `get_swap_pages()`: a slot from the highest-priority area with
    /// room; areas of equal priority take turns. The slot is marked `SWAP_HAS_CACHE`.
    func getSwapSlot() -> SwapEntry? {
        let order = self.swap.rotation.compactMap { t in self.swap.areas[t].map { (t, $0.priority) } }
            .enumerated().sorted { ($0.element.1, -$0.offset) > ($1.element.1, -$1.offset) }.map(\.element.0)
        for t in order {
            guard let area = self.swap.areas[t], let offset = area.allocSlot() else { continue }
            area[offset] = SwapArea.hasCache
            area.slotTaken(offset)
            // plist_requeue(): behind the others of its priority.
            self.swap.rotation.removeAll { $0 == t }
            self.swap.rotation.append(t)
            return SwapEntry(type: t, offset: offset)
        }
        return nil
    }

    /// `swap_count()`.
    func swapCount(_ e: SwapEntry) -> Int { self.area(e).count(e.offset) }

    /// `swap_duplicate()`: another PTE or shmem entry refers to the slot.
    func swapDuplicate(_ e: SwapEntry) {
        let area = self.area(e)
        precondition(area[e.offset] != 0, "swapDuplicate: \(e) is free")
        area[e.offset] += 1
    }

    /// `swap_free()`: one reference fewer; a slot with no references and no cached page is free.
    func swapFree(_ e: SwapEntry) {
        let area = self.area(e)
        precondition(area[e.offset] & ~SwapArea.hasCache > 0, "swapFree: \(e) has no references")
        area[e.offset] -= 1
        if area[e.offset] == 0 { area.slotFreed(e.offset) }
    }

    /// `free_swap_and_cache()`: a PTE holding `e` is gone. If that was the last reference and
    /// the swap cache still holds an idle page for it, the page and slot go too.
    func freeSwapEntry(_ e: SwapEntry) {
        self.swapFree(e)
        let area = self.area(e)
        if area.count(e.offset) == 0, let pfn = self.swap.cache[SwapState.key(e)] {
            let memMap = self.phys.memMap
            if !memMap.test(pfn, .writeback) && !memMap.test(pfn, .locked) && memMap.mapCount(pfn) == 0
                && memMap.refCount(pfn) == 1
            {
                self.deleteFromSwapCache(pfn)
                self.putPage(pfn)
            }
        }
    }

    // MARK: The swap cache

    /// The swap entry a swap-cache page stands for (`folio->swap`).
    func swapEntry(of pfn: PFN) -> SwapEntry? {
        guard self.phys.memMap.test(pfn, .swapCache) else { return nil }
        let raw = self.phys.memMap.privateWord(pfn)
        return SwapEntry(type: Int(raw >> 50), offset: raw & ((1 << 50) - 1))
    }

    public func swapCacheLookup(_ e: SwapEntry) -> PFN? { self.swap.cache[SwapState.key(e)] }

    /// `add_to_swap_cache()`: the cache takes a reference; `nr_swapcached` and `nr_file_pages` count it.
    func addToSwapCache(_ pfn: PFN, _ e: SwapEntry) {
        let memMap = self.phys.memMap
        memMap.getPage(pfn)
        memMap.insertFlags(pfn, .swapCache)
        memMap.setPrivateWord(pfn, SwapState.key(e))
        self.swap.cache[SwapState.key(e)] = pfn
        self.area(e)[e.offset] |= SwapArea.hasCache
        self.phys.mod(.nrSwapcached, 1)
        self.phys.mod(.nrFilePages, 1)
    }

    /// `delete_from_swap_cache()`: the page leaves the cache (dropping the cache's reference is
    /// the caller's); `SWAP_HAS_CACHE` cleared, freeing the slot if nothing refers to it.
    func deleteFromSwapCache(_ pfn: PFN) {
        guard let e = self.swapEntry(of: pfn) else {
            preconditionFailure("deleteFromSwapCache: \(pfn) not cached")
        }
        let memMap = self.phys.memMap
        self.swap.cache[SwapState.key(e)] = nil
        memMap.removeFlags(pfn, .swapCache)
        memMap.setPrivateWord(pfn, 0)
        self.phys.mod(.nrSwapcached, -1)
        self.phys.mod(.nrFilePages, -1)
        let area = self.area(e)
        area[e.offset] &= ~SwapArea.hasCache
        if area[e.offset] == 0 { area.slotFreed(e.offset) }
    }

    /// `folio_free_swap()`: drops a page's swap slot when nothing else refers to the slot and
    /// the page is not being written; the page keeps its data and is dirty again (its swap copy
    /// is gone). The swap cache's reference goes with it.
    @discardableResult
    func freeSwapCache(_ pfn: PFN, force: Bool = false) -> Bool {
        let memMap = self.phys.memMap
        guard let e = self.swapEntry(of: pfn), !memMap.test(pfn, .writeback) else { return false }
        guard self.swapCount(e) == 0 else { return false }
        self.deleteFromSwapCache(pfn)
        memMap.insertFlags(pfn, .dirty)
        self.putPage(pfn)
        return true
    }

    // MARK: Swap I/O

    /// The disk block of slot `offset` of `area`.
    func swapBlock(_ area: SwapArea, _ offset: UInt64) -> UInt64 {
        if let id = area.file { return self.file(id).block(of: offset)! }
        return area.startBlock + offset
    }

    /// `swap_writepage()` for a batch: each page goes under writeback and its word is captured;
    /// runs of consecutive blocks share a request (the block layer's plug merges them).
    func swapWriteout(_ pages: [(pfn: PFN, entry: SwapEntry)]) {
        let memMap = self.phys.memMap
        var byArea: [Int: [(UInt64, UInt64, PFN)]] = [:]
        for (pfn, e) in pages {
            memMap.removeFlags(pfn, .dirty)
            memMap.insertFlags(pfn, [.writeback, .reclaim])
            self.phys.mod(.nrWriteback, 1)
            if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrZoneWritePending, 1) }
            byArea[e.type, default: []].append((e.offset, memMap.content(pfn), pfn))
        }
        self.phys.count(.pswpout, UInt64(pages.count))
        self.phys.mod(.nrVmscanWrite, pages.count)
        self.swap.writebackPages += pages.count
        for t in byArea.keys.sorted() {
            let area = self.swap.areas[t]!
            self.submitSwapIO(area, write: true, byArea[t]!.sorted { $0.0 < $1.0 })
        }
    }

    /// Groups (offset, word, page) into requests of consecutive blocks.
    func submitSwapIO(_ area: SwapArea, write: Bool, _ items: [(UInt64, UInt64, PFN)]) {
        var run: [(UInt64, UInt64, PFN)] = []
        var runBlock: UInt64 = 0
        func flush() {
            guard !run.isEmpty else { return }
            self.queueIO(
                BlockRequest(operation: write ? .write : .read, block: runBlock, count: UInt64(run.count)),
                .swap(area.type, write: write, run.map { ($0.0, $0.1, $0.2) }))
            self.phys.count(write ? .pgpgout : .pgpgin, UInt64(run.count) * UInt64(self.phys.pageSize >> 10))
            run = []
        }
        for item in items {
            let block = self.swapBlock(area, item.0)
            if let last = run.last, item.0 == last.0 + 1, block == runBlock + UInt64(run.count),
                UInt64(run.count) < Kernel.maxRequestPages
            {
                run.append(item)
            } else {
                flush()
                run = [item]
                runBlock = block
            }
        }
        flush()
    }

    /// A swap request completed: a write's words reach the slots and its pages' writeback ends
    /// (a page reclaim wrote is rotated to the tail of the inactive list, `folio_rotate_reclaimable()`);
    /// a read's pages become up to date.
    func completeSwapIO(_ type: Int, write: Bool, _ items: [(UInt64, UInt64, PFN)]) {
        let memMap = self.phys.memMap
        let area = self.swap.areas[type]
        for (offset, word, pfn) in items {
            if write {
                if let area, area[offset] != 0 { area.disk[offset] = word }
                memMap.removeFlags(pfn, .writeback)
                self.phys.mod(.nrWriteback, -1)
                self.phys.mod(.nrWritten, 1)
                self.swap.writebackPages -= 1
                if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrZoneWritePending, -1) }
                if memMap.test(pfn, .reclaim) {
                    memMap.removeFlags(pfn, .reclaim)
                    if memMap.test(pfn, .lru) && !memMap.test(pfn, .dirty) && !memMap.test(pfn, .unevictable)
                    {
                        self.lruRemove(pfn)
                        memMap.removeFlags(pfn, .active)
                        self.lruAddTail(pfn, to: self.lruList(of: pfn))
                        self.phys.count(.pgrotated)
                    }
                }
            } else {
                guard memMap.test(pfn, .locked) else { continue }
                memMap.setContent(pfn, area?.disk[offset] ?? 0)
                memMap.insertFlags(pfn, .uptodate)
                memMap.removeFlags(pfn, .locked)
            }
        }
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
        let memMap = self.phys.memMap
        if let pfn = self.swap.cache[SwapState.key(e)] {
            memMap.getPage(pfn)
            return (pfn, false)
        }
        // A slot nobody refers to any more has nothing to read.
        guard self.area(e).count(e.offset) > 0 else { return nil }
        guard let pfn = self.phys.allocPages(.highUserMovable, order: 0) else { return nil }
        // Reclaim inside the allocation may have cached it meanwhile.
        if let other = self.swap.cache[SwapState.key(e)] {
            self.phys.freePages(pfn, order: 0)
            memMap.getPage(other)
            return (other, false)
        }
        guard self.area(e).count(e.offset) > 0 else {
            self.phys.freePages(pfn, order: 0)
            return nil
        }
        memMap.insertFlags(pfn, [.locked, .swapBacked])
        if readahead { memMap.insertFlags(pfn, .readahead) }
        self.addToSwapCache(pfn, e)
        self.lruAdd(pfn, to: .inactiveAnon)
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

    // MARK: do_swap_page

    /// `do_swap_page()`: the PTE holds a swap entry. The page comes from the swap cache (a minor
    /// fault; a page read ahead counts a readahead hit) or is read with VMA readahead (a major
    /// fault: the task waits for the disk). The PTE maps it again — writable at once on a write
    /// fault when the entry was exclusive — the slot loses this reference, and the swap copy is
    /// dropped when nothing else needs it and swap is over half full, the area is locked, or
    /// a write made the copy stale anyway.
    func doSwapPage(_ mm: AddressSpace, slot: Int, address: UInt64, pte: PTE, write: Bool) -> FaultResult {
        guard let entry = pte.swapEntry else { return .sigbus }
        let memMap = self.phys.memMap
        // The area had anonymous pages, so it has an anon_vma (fork gives the child one too).
        guard self.anonVMAPrepare(mm, slot: slot) else { return .oom }
        var major = false
        var pfn: PFN
        if let cached = self.swap.cache[SwapState.key(entry)] {
            memMap.getPage(cached)
            pfn = cached
            if memMap.test(pfn, .readahead) {
                memMap.removeFlags(pfn, .readahead)
                self.phys.count(.swapRaHit)
                var vma = mm.vma(slot)
                vma.swapReadahead.hits = min(vma.swapReadahead.hits + 1, 255)
                mm.update(slot, vma)
            }
        } else {
            guard let (p, _) = self.swapVMAReadahead(mm, slot: slot, address: address, entry: entry) else {
                // The entry changed under us (swapoff, or the slot was freed): retry the access.
                if self.pageTables.pte(root: mm.pgd, va: address) != pte { return .minor(.spurious) }
                return .oom
            }
            pfn = p
            major = true
        }
        if memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
        // pte_same(): reclaim or another fault may have changed the entry meanwhile.
        guard self.pageTables.pte(root: mm.pgd, va: address) == pte, self.swapEntry(of: pfn) == entry else {
            self.putPage(pfn)
            return .minor(.spurious)
        }
        let vma = mm.vma(slot)
        memMap.removeFlags(pfn, .readahead)
        self.swapFree(entry)
        // should_try_to_free_swap() → folio_free_swap().
        if self.swapFull || vma.flags.contains(.locked) || memMap.test(pfn, .mlocked)
            || (write && memMap.refCount(pfn) == 2)
        {
            self.freeSwapCache(pfn)
        }
        mm.addRSS(.swapEntries, -1)
        let exclusive = pte.isSwapExclusive || memMap.refCount(pfn) == 1
        if !memMap.test(pfn, .anon) {
            // A page read back: filed anew, under the root anon_vma unless exclusive.
            self.setPageAnon(pfn, vma: vma, address: address, exclusive: exclusive)
        } else if exclusive {
            memMap.insertFlags(pfn, .anonExclusive)
        }
        // The fault's reference becomes the PTE's.
        self.addMapping(pfn, mm: mm, anon: true)
        var flags = self.pageProtection(vma.flags)
        var writeDone = false
        if exclusive && vma.flags.contains(.write) {
            flags.insert(.writable)
            if write {
                flags.insert(.dirty)
                writeDone = true
            }
        }
        _ = self.installPTE(mm, address, PTE(pfn: pfn, flags: flags))
        if vma.flags.contains(.locked) { self.mlockPage(pfn) }
        if write && !writeDone {
            // Still shared (fork): the write copies it, as do_wp_page() does.
            let wp = self.doWPPage(
                mm, slot: slot, address: address, pte: self.pageTables.pte(root: mm.pgd, va: address))
            if case .oom = wp { return .oom }
        }
        return major ? .major(.swapIn) : .minor(.swapIn)
    }

    // MARK: shmem and swap

    /// `shmem_swapin_folio()`: brings a shmem page back from swap into the file's page cache.
    /// Returns the page (the fault counts major when it had to be read).
    func shmemSwapIn(_ file: SimFile, index: UInt64) -> (PFN, major: Bool)? {
        guard let entry = file.swapped[index] else { return nil }
        let memMap = self.phys.memMap
        var major = false
        let got: (PFN, new: Bool)?
        if self.swap.cache[SwapState.key(entry)] != nil {
            got = self.readSwapCacheAsync(entry, readahead: false)
        } else {
            got = self.swapClusterReadahead(entry)
            major = true
        }
        guard let (pfn, _) = got else { return nil }
        if memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
        if memMap.test(pfn, .writeback) { self.waitOnPageWriteback(pfn) }
        guard file.swapped[index] == entry, self.swapEntry(of: pfn) == entry else {
            self.putPage(pfn)
            return file.pages[index].map { ($0, false) }
        }
        // Replace the swap entry in the shmem index with the page (shmem_replace_entry()).
        self.deleteFromSwapCache(pfn)
        file.swapped[index] = nil
        self.swapFree(entry)
        self.lruDelete(pfn)
        memMap.removeFlags(pfn, .anon)
        memMap.setMapping(pfn, 0)
        file.pages[index] = pfn
        _ = self.syncIndexNodes(file)
        memMap.setMapping(pfn, UInt32(file.id.rawValue + 1))
        memMap.setIndex(pfn, index)
        memMap.insertFlags(pfn, [.swapBacked, .uptodate, .dirty])
        self.phys.mod(.nrFilePages, 1)
        self.phys.mod(.nrShmem, 1)
        self.lruAddNew(pfn, vma: nil)
        // The fault's reference becomes the page cache's (the swap cache's went with it).
        return (pfn, major)
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
