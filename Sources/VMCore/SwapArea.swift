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
    /// `swap_map`, `cluster_info` and the disk words of the clusters with a slot in use.
    var table = ClusterTable()
    /// The file backing a swap file; the first block of a partition.
    let file: FileID?
    let startBlock: UInt64
    /// Shadow entries of pages reclaim evicted from the swap cache, by slot (the swap cache's
    /// xarray holds them in Linux); cleared when the slot is freed (`swap_range_free()`).
    var shadows: [UInt64: Shadow] = [:]
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
    /// Called with (type, offset) when a slot becomes free: the memory controller drops the
    /// slot's swap charge (`mem_cgroup_uncharge_swap()` from `swap_entries_free()`).
    var freedHook: ((Int, UInt64) -> Void)?

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
        let header = self.table.makeChunk(0)
        self.table.setMap(header, 0, 1)
        self.table.addUsed(header, 1)
    }

    /// `pages`: usable slots.
    public var pages: UInt64 { self.slots - 1 }
    public var freeSlots: UInt64 { self.pages - self.inUse }
    /// Number of clusters.
    var clusterCount: Int { Int((self.slots + SwapArea.clusterSize - 1) / SwapArea.clusterSize) }
    /// Clusters whose slot counts are held in host memory (those with a slot in use).
    public var allocatedClusters: Int { self.table.count }

    /// `swap_map[offset]` (0 for a slot whose cluster is free). Changed only through the
    /// operations below, which keep the cluster counts right.
    private(set) subscript(offset: UInt64) -> UInt32 {
        get {
            let chunk = self.table.chunk(Int(offset / SwapArea.clusterSize))
            return chunk < 0 ? 0 : self.table.map(chunk, Int(offset % SwapArea.clusterSize))
        }
        set {
            let c = Int(offset / SwapArea.clusterSize)
            var chunk = self.table.chunk(c)
            if chunk < 0 {
                guard newValue != 0 else { return }
                chunk = self.table.makeChunk(c)
            }
            self.table.setMap(chunk, Int(offset % SwapArea.clusterSize), newValue)
        }
    }

    /// The word the disk holds at slot `offset` (0 for a slot never written or freed since).
    func diskWord(_ offset: UInt64) -> UInt64 {
        let chunk = self.table.chunk(Int(offset / SwapArea.clusterSize))
        return chunk < 0 ? 0 : self.table.diskWord(chunk, Int(offset % SwapArea.clusterSize))
    }

    /// A write to slot `offset` completed with `word`; dropped if the slot was freed meanwhile.
    func storeDiskWord(_ offset: UInt64, _ word: UInt64) {
        let chunk = self.table.chunk(Int(offset / SwapArea.clusterSize))
        let i = Int(offset % SwapArea.clusterSize)
        guard chunk >= 0, self.table.map(chunk, i) != 0 else { return }
        self.table.setDiskWord(chunk, i, word)
    }

    /// Whether cluster `c` holds counts (has a slot in use).
    func holdsCluster(_ c: Int) -> Bool { self.table.chunk(c) >= 0 }

    /// References to `offset` (without the cache bit).
    func count(_ offset: UInt64) -> Int { Int(self[offset] & ~SwapArea.hasCache) }
    func cached(_ offset: UInt64) -> Bool { self[offset] & SwapArea.hasCache != 0 }
    func clusterUsed(_ c: Int) -> Int {
        let chunk = self.table.chunk(c)
        return chunk < 0 ? 0 : Int(self.table.used[Int(chunk)])
    }

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
        let chunk = self.table.chunk(c)
        guard chunk >= 0 else {
            // No slot of the cluster is in use.
            guard from < end else { return nil }
            self.nextOffset = from + 1 < end ? from + 1 : nil
            return from
        }
        var offset = from
        while offset < end {
            if self.table.map(chunk, Int(offset - base)) == 0 {
                self.nextOffset = offset + 1 < end ? offset + 1 : nil
                return offset
            }
            offset += 1
        }
        // Wrap to the start of the cluster for slots freed behind the cursor.
        offset = base
        while offset < from {
            if self.table.map(chunk, Int(offset - base)) == 0 {
                self.nextOffset = offset + 1
                return offset
            }
            offset += 1
        }
        return nil
    }

    // MARK: swap_map operations (mm/swapfile.c)

    /// A slot `allocSlot()` found becomes used, held by the swap cache only (`SWAP_HAS_CACHE`).
    func take(_ offset: UInt64) {
        precondition(self[offset] == 0, "SwapArea.take: slot \(offset) is in use")
        self[offset] = SwapArea.hasCache
        self.slotTaken(offset)
    }

    /// `swap_duplicate()`: another PTE or shmem index entry refers to the slot.
    func duplicate(_ offset: UInt64) {
        precondition(self[offset] != 0, "swapDuplicate: slot \(offset) is free")
        self[offset] += 1
    }

    /// `swap_free()`'s count: one reference fewer; the slot is freed when nothing is left.
    func release(_ offset: UInt64) {
        precondition(self[offset] & ~SwapArea.hasCache > 0, "swapFree: slot \(offset) has no references")
        self[offset] -= 1
        if self[offset] == 0 { self.slotFreed(offset) }
    }

    /// `SWAP_HAS_CACHE` set (a page for the slot joined the swap cache).
    func setCached(_ offset: UInt64) { self[offset] |= SwapArea.hasCache }

    /// `SWAP_HAS_CACHE` cleared; the slot is freed when nothing refers to it.
    func clearCached(_ offset: UInt64) {
        self[offset] &= ~SwapArea.hasCache
        if self[offset] == 0 { self.slotFreed(offset) }
    }

    /// A slot changed from free to used (its entry was just set).
    private func slotTaken(_ offset: UInt64) {
        self.inUse += 1
        self.table.addUsed(self.table.chunk(Int(offset / SwapArea.clusterSize)), 1)
    }

    /// A slot's entry dropped to 0. A cluster left with no slot in use goes back on the free
    /// list (`free_cluster()`, and off the nonfull one) and its counts are dropped.
    private func slotFreed(_ offset: UInt64) {
        self.freedHook?(self.type, offset)
        self.inUse -= 1
        let c = Int(offset / SwapArea.clusterSize)
        let chunk = self.table.chunk(c)
        self.table.addUsed(chunk, -1)
        self.table.setDiskWord(chunk, Int(offset % SwapArea.clusterSize), 0)
        if !self.shadows.isEmpty { self.shadows[offset] = nil }
        if self.table.used[Int(chunk)] == 0 {
            self.table.remove(c)
            if self.inNonfull.remove(c) != nil { self.nonfullClusters.removeAll { $0 == c } }
            self.freedClusters.append(c)
        } else if !self.inNonfull.contains(c) && self.nextOffset.map({ Int($0 / SwapArea.clusterSize) }) != c
        {
            self.inNonfull.insert(c)
            self.nonfullClusters.append(c)
        }
    }
}
