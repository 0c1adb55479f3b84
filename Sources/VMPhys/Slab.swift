import VMTypes

/// A doubly linked list of small integer ids with O(1) insert and remove, stored in arrays.
///
/// Used where Linux threads a `list_head` through objects that vmsim keeps in arrays (slabs on a
/// cache's partial list). Ids are array indices; `links` grows to the largest id seen.
public struct IndexedList: Sendable {
    var prev: [Int32] = []
    var next: [Int32] = []
    var member: [Bool] = []
    public private(set) var head: Int = -1
    public private(set) var tail: Int = -1
    public private(set) var count = 0

    public init() {}

    mutating func grow(to id: Int) {
        while self.prev.count <= id {
            self.prev.append(-1)
            self.next.append(-1)
            self.member.append(false)
        }
    }
    public func contains(_ id: Int) -> Bool { id < self.member.count && self.member[id] }
    public func next(after id: Int) -> Int { Int(self.next[id]) }

    public mutating func pushFront(_ id: Int) {
        self.grow(to: id)
        precondition(!self.member[id], "IndexedList.pushFront: \(id) already on the list")
        self.prev[id] = -1
        self.next[id] = Int32(self.head)
        if self.head >= 0 { self.prev[self.head] = Int32(id) } else { self.tail = id }
        self.head = id
        self.member[id] = true
        self.count += 1
    }
    public mutating func pushBack(_ id: Int) {
        self.grow(to: id)
        precondition(!self.member[id], "IndexedList.pushBack: \(id) already on the list")
        self.next[id] = -1
        self.prev[id] = Int32(self.tail)
        if self.tail >= 0 { self.next[self.tail] = Int32(id) } else { self.head = id }
        self.tail = id
        self.member[id] = true
        self.count += 1
    }
    public mutating func remove(_ id: Int) {
        precondition(self.contains(id), "IndexedList.remove: \(id) is not on the list")
        let p = Int(self.prev[id])
        let n = Int(self.next[id])
        if p >= 0 { self.next[p] = Int32(n) } else { self.head = n }
        if n >= 0 { self.prev[n] = Int32(p) } else { self.tail = p }
        self.member[id] = false
        self.count -= 1
    }
    /// The ids from head to tail.
    public var ids: [Int] {
        var result: [Int] = []
        var id = self.head
        while id >= 0 {
            result.append(id)
            id = Int(self.next[id])
        }
        return result
    }
}

/// A slab: a few contiguous frames cut into equal objects (`struct slab`, mm/slab.h).
public struct Slab: Sendable {
    public var pfn: PFN
    /// Objects in use.
    public var inuse: Int
    /// Free object indices, most recently freed last (SLUB's freelist is LIFO).
    var freeStack: [UInt16]
    /// One bit per object: set while allocated (catches double frees).
    var allocated: [UInt64]
}

/// Identifies a slab cache.
public struct SlabCacheID: Hashable, Sendable {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
}

/// A cache of equal-sized kernel objects (`struct kmem_cache`, mm/slab.h, mm/slub.c).
///
/// Slabs with free objects sit on the partial list; full slabs on the full list (SLUB keeps them
/// on no list unless debugging; vmsim lists them for reports). A slab that becomes empty goes
/// back to the buddy allocator unless the cache keeps fewer than `minPartial` partial slabs —
/// SLUB's rule in `__slab_free()`. Simplified: no per-CPU slabs or per-CPU partial lists, so
/// allocation takes the first partial slab; no freelist randomisation; one node.
public struct SlabCache: Sendable {
    public let id: SlabCacheID
    public let name: String
    /// `object_size`: what the caller asked for.
    public let objectSize: Int
    /// `size`: bytes per object slot after alignment (slabinfo's `<objsize>`).
    public let size: Int
    public let align: Int
    /// Slab order (`oo_order(s->oo)`) and objects per slab (`oo_objects(s->oo)`).
    public let order: Int
    public let objectsPerSlab: Int
    /// Fallback order when the preferred order cannot be allocated (`s->min`).
    public let minOrder: Int
    /// `min_partial`: empty slabs kept on the partial list before freeing them.
    public let minPartial: Int
    /// `SLAB_RECLAIM_ACCOUNT`: counted as SReclaimable (dentry, inode caches).
    public let reclaimable: Bool
    public internal(set) var slabs: [Slab?] = []
    var freeSlabIDs: [Int] = []
    public internal(set) var partial = IndexedList()
    public internal(set) var full = IndexedList()
    public internal(set) var activeObjects = 0
    public internal(set) var totalObjects = 0
    public internal(set) var slabCount = 0
    /// Pages held by this cache's slabs.
    public internal(set) var pages = 0
    /// The `kmem_cache` object describing this cache (in the `kmem_cache` cache), if any.
    var descriptor: UInt64 = 0

    /// Objects per slab at the order actually used for slab `s`.
    func objects(inSlabOfOrder order: Int, pageSize: Int) -> Int { (pageSize << order) / self.size }
}

/// Slab allocator state: all caches, newest last (slabinfo prints newest first).
public struct SlabState: Sendable {
    public internal(set) var caches: [SlabCache] = []
    /// `kmalloc_caches[KMALLOC_NORMAL][]`, by size class.
    public internal(set) var kmallocCaches: [(size: Int, id: SlabCacheID)] = []
    /// `kmalloc_large()` allocations (larger than the biggest kmalloc cache): address → order.
    public internal(set) var largeAllocations: [UInt64: Int] = [:]
    var kmemCacheID: SlabCacheID?
    var kmemCacheNodeID: SlabCacheID?
    public init() {}
}

/// The SLUB allocator (mm/slub.c, mm/slab_common.c).
extension PhysicalMemory {
    /// `slub_max_order` = `PAGE_ALLOC_COSTLY_ORDER`.
    static let slubMaxOrder = 3
    /// `MAX_OBJS_PER_PAGE`.
    static let maxObjsPerPage = 32767

    /// `get_order()`: the smallest order whose block holds `size` bytes.
    public func getOrder(_ size: Int) -> Int {
        var order = 0
        while (Int(self.pageSize) << order) < size { order += 1 }
        return order
    }

    /// `calc_slab_order()`: the smallest order in `minOrder…maxOrder` wasting at most
    /// 1/`fraction` of the slab; `maxOrder + 1` if none.
    func calcSlabOrder(size: Int, minOrder: Int, maxOrder: Int, fraction: Int) -> Int {
        var order = minOrder
        while order <= maxOrder {
            let slabSize = Int(self.pageSize) << order
            if slabSize % size <= slabSize / fraction { break }
            order += 1
        }
        return order
    }

    /// `calculate_order()`: at least `4 × (fls(nr_cpus) + 1)` objects per slab if they fit in
    /// order 3, and the smallest order whose waste is at most 1/16, 1/8, 1/4 of the slab.
    func calculateSlabOrder(size: Int) -> Int {
        let cpus = self.config.cpus
        let fls = Int.bitWidth - cpus.leadingZeroBitCount
        var minObjects = 4 * (fls + 1)
        let maxObjects = max((Int(self.pageSize) << PhysicalMemory.slubMaxOrder) / size, 1)
        minObjects = min(minObjects, maxObjects)
        let minOrder = self.getOrder(minObjects * size)
        if (Int(self.pageSize) << minOrder) / size > PhysicalMemory.maxObjsPerPage {
            return self.getOrder(size * PhysicalMemory.maxObjsPerPage) - 1
        }
        var fraction = 16
        while fraction > 1 {
            let order = self.calcSlabOrder(
                size: size, minOrder: minOrder, maxOrder: PhysicalMemory.slubMaxOrder, fraction: fraction)
            if order <= PhysicalMemory.slubMaxOrder { return order }
            fraction /= 2
        }
        return self.getOrder(size)
    }

    /// `kmem_cache_create()`: a cache of objects of `objectSize` bytes aligned to `align`
    /// (at least the word size). `size` overrides the slot size, to reproduce a real kernel's
    /// slabinfo where metadata makes slots larger than the object.
    @discardableResult
    public func kmemCacheCreate(
        _ name: String, objectSize: Int, align: Int = 8, size: Int? = nil,
        reclaimable: Bool = false
    ) -> SlabCacheID {
        let word = self.architecture.is64Bit ? 8 : 4
        let a = max(align, word)
        let slot = size ?? ((objectSize + a - 1) / a * a)
        precondition(slot >= objectSize && slot > 0, "kmemCacheCreate: bad size for \(name)")
        let order = self.calculateSlabOrder(size: slot)
        var log2 = 0
        while (1 << (log2 + 1)) <= slot { log2 += 1 }
        let id = SlabCacheID(rawValue: self.slab.caches.count)
        var cache = SlabCache(
            id: id, name: name, objectSize: objectSize, size: slot, align: a, order: order,
            objectsPerSlab: (Int(self.pageSize) << order) / slot, minOrder: self.getOrder(slot),
            minPartial: min(10, max(5, log2 / 2)), reclaimable: reclaimable)
        if let meta = self.slab.kmemCacheID, let obj = self.kmemCacheAlloc(meta, .kernel) {
            cache.descriptor = obj
            if let nodeCache = self.slab.kmemCacheNodeID { _ = self.kmemCacheAlloc(nodeCache, .kernel) }
        }
        self.slab.caches.append(cache)
        return id
    }

    /// Looks a cache up by name.
    public func slabCache(named name: String) -> SlabCacheID? {
        self.slab.caches.first { $0.name == name }?.id
    }

    /// Creates the bootstrap caches and the kmalloc size classes in the kernel's order
    /// (`kmem_cache_init()`, `create_kmalloc_caches()`): 96 and 192 first, then 8 … 8k.
    func createKmallocCaches() {
        self.slab.kmemCacheID = nil
        let kmemCache = self.kmemCacheCreate("kmem_cache", objectSize: 256)
        let kmemCacheNode = self.kmemCacheCreate("kmem_cache_node", objectSize: 128)
        self.slab.kmemCacheID = kmemCache
        self.slab.kmemCacheNodeID = kmemCacheNode
        // The bootstrap caches describe themselves too (`bootstrap()` copies them into slab objects).
        for id in [kmemCache, kmemCacheNode] {
            if let obj = self.kmemCacheAlloc(kmemCache, .kernel) {
                self.slab.caches[id.rawValue].descriptor = obj
            }
            _ = self.kmemCacheAlloc(kmemCacheNode, .kernel)
        }
        var sizes = [96, 192]
        var s = 8
        while s <= 2 * Int(self.pageSize) {
            sizes.append(s)
            s *= 2
        }
        for size in sizes {
            let name = size >= 1024 ? "kmalloc-\(size / 1024)k" : "kmalloc-\(size)"
            let id = self.kmemCacheCreate(
                name, objectSize: size, align: size >= 8 && size & (size - 1) == 0 ? size : 8)
            self.slab.kmallocCaches.append((size, id))
        }
        self.slab.kmallocCaches.sort { $0.size < $1.size }
    }

    /// `kmalloc_slab()`: the size class for `size` bytes, or nil above `KMALLOC_MAX_CACHE_SIZE`.
    public func kmallocCache(for size: Int) -> SlabCacheID? {
        self.slab.kmallocCaches.first { $0.size >= max(size, 1) }?.id
    }

    /// `kmalloc(size, gfp)`: a kernel virtual address, or nil. Sizes above two pages come
    /// straight from the buddy allocator (`kmalloc_large()`).
    public func kmalloc(_ size: Int, _ gfp: GFP = .kernel) -> UInt64? {
        if let id = self.kmallocCache(for: size) { return self.kmemCacheAlloc(id, gfp) }
        let order = self.getOrder(size)
        guard order <= self.maxOrder,
            let pfn = self.allocPages(gfp.union(.comp).subtracting(.highmem), order: order)
        else {
            return nil
        }
        guard let va = self.directMapAddress(of: pfn) else {
            preconditionFailure("kmalloc: large allocation outside the direct map")
        }
        self.slab.largeAllocations[va] = order
        // ___kmalloc_large_node() accounts these pages as unreclaimable slab.
        self.mod(.nrSlabUnreclaimable, 1 << order)
        return va
    }

    /// `kfree(addr)`.
    public func kfree(_ va: UInt64) {
        if let order = self.slab.largeAllocations.removeValue(forKey: va) {
            let pfn = PFN(rawValue: (va - self.architecture.pageOffset) >> UInt64(self.pageShift))
            self.memMap.removeFlags(pfn, .head)
            self.mod(.nrSlabUnreclaimable, -(1 << order))
            self.freePages(pfn, order: order)
            return
        }
        let pfn = PFN(rawValue: (va - self.architecture.pageOffset) >> UInt64(self.pageShift))
        precondition(self.memMap.test(pfn, .slab), "kfree: \(hex(va)) is not a slab object")
        let id = SlabCacheID(rawValue: Int(self.memMap.mapping(pfn)) - 1)
        self.kmemCacheFree(id, va)
    }

    /// `allocate_slab()`: frames for a new slab at the cache's order, falling back to the minimum
    /// order (quietly, without retrying) if that fails.
    func allocateSlab(_ id: SlabCacheID, _ gfp: GFP) -> Int? {
        // Only the cache's constants are read here: a copy of the whole `SlabCache` held across
        // the append below would share its `slabs` buffer and make the append copy every slab,
        // O(slabs) per new slab.
        let (reclaimable, minOrder, size) = (
            self.slab.caches[id.rawValue].reclaimable, self.slab.caches[id.rawValue].minOrder,
            self.slab.caches[id.rawValue].size
        )
        var flags = gfp.subtracting(.highmem).union(.comp)
        if reclaimable { flags.insert(.reclaimable) }
        var order = self.slab.caches[id.rawValue].order
        var pfn: PFN?
        if order > minOrder {
            pfn = self.allocPages(flags.union([.noWarn, .noRetry]), order: order)
        }
        if pfn == nil {
            order = minOrder
            pfn = self.allocPages(flags, order: order)
        }
        guard let pfn else { return nil }
        let objects = (Int(self.pageSize) << order) / size
        let slabID: Int
        if let reused = self.slab.caches[id.rawValue].freeSlabIDs.popLast() {
            slabID = reused
        } else {
            slabID = self.slab.caches[id.rawValue].slabs.count
            self.slab.caches[id.rawValue].slabs.append(nil)
        }
        self.slab.caches[id.rawValue].slabs[slabID] = Slab(
            pfn: pfn, inuse: 0, freeStack: (0..<objects).reversed().map { UInt16($0) },
            allocated: Array(repeating: 0, count: (objects + 63) / 64))
        for i in 0..<(1 << order) {
            let p = pfn.advanced(by: i)
            self.memMap.insertFlags(p, .slab)
            self.memMap.setMapping(p, UInt32(id.rawValue + 1))
            self.memMap.setIndex(p, UInt64(slabID))
        }
        self.slab.caches[id.rawValue].slabCount += 1
        self.slab.caches[id.rawValue].totalObjects += objects
        self.slab.caches[id.rawValue].pages += 1 << order
        self.mod(reclaimable ? .nrSlabReclaimable : .nrSlabUnreclaimable, 1 << order)
        return slabID
    }

    /// `discard_slab()`: returns an empty slab's frames to the buddy allocator.
    func discardSlab(_ id: SlabCacheID, slab slabID: Int) {
        guard let slab = self.slab.caches[id.rawValue].slabs[slabID] else {
            preconditionFailure("discardSlab: no slab \(slabID)")
        }
        precondition(
            slab.inuse == 0,
            "discardSlab: slab \(slabID) of \(self.slab.caches[id.rawValue].name) still has objects")
        let order = self.memMap.order(slab.pfn)
        let objects = (Int(self.pageSize) << order) / self.slab.caches[id.rawValue].size
        for i in 0..<(1 << order) {
            let p = slab.pfn.advanced(by: i)
            self.memMap.removeFlags(p, [.slab, .head])
            self.memMap.setMapping(p, 0)
            self.memMap.setIndex(p, 0)
        }
        self.slab.caches[id.rawValue].slabs[slabID] = nil
        self.slab.caches[id.rawValue].freeSlabIDs.append(slabID)
        self.slab.caches[id.rawValue].slabCount -= 1
        self.slab.caches[id.rawValue].totalObjects -= objects
        self.slab.caches[id.rawValue].pages -= 1 << order
        self.mod(
            self.slab.caches[id.rawValue].reclaimable ? .nrSlabReclaimable : .nrSlabUnreclaimable,
            -(1 << order))
        self.freePages(slab.pfn, order: order)
    }

    /// `kmem_cache_alloc()`: an object from the first partial slab, or from a new slab.
    /// Returns the object's kernel virtual address, or nil if no memory could be found.
    public func kmemCacheAlloc(_ id: SlabCacheID, _ gfp: GFP = .kernel) -> UInt64? {
        var slabID = self.slab.caches[id.rawValue].partial.head
        if slabID < 0 {
            guard let fresh = self.allocateSlab(id, gfp) else { return nil }
            self.slab.caches[id.rawValue].partial.pushFront(fresh)
            slabID = fresh
        }
        guard var slab = self.slab.caches[id.rawValue].slabs[slabID] else {
            preconditionFailure("kmemCacheAlloc: missing slab")
        }
        let index = Int(slab.freeStack.removeLast())
        slab.inuse += 1
        slab.allocated[index >> 6] |= 1 << UInt64(index & 63)
        let isFull = slab.freeStack.isEmpty
        let pfn = slab.pfn
        self.slab.caches[id.rawValue].slabs[slabID] = slab
        self.slab.caches[id.rawValue].activeObjects += 1
        if isFull {
            self.slab.caches[id.rawValue].partial.remove(slabID)
            self.slab.caches[id.rawValue].full.pushBack(slabID)
        }
        guard let base = self.directMapAddress(of: pfn) else {
            preconditionFailure("kmemCacheAlloc: slab outside the direct map")
        }
        return base + UInt64(index * self.slab.caches[id.rawValue].size)
    }

    /// `kmem_cache_free()`: returns an object; a full slab becomes partial, an empty one is freed
    /// when the cache already keeps `min_partial` partial slabs.
    public func kmemCacheFree(_ id: SlabCacheID, _ va: UInt64) {
        let pfn = PFN(rawValue: (va - self.architecture.pageOffset) >> UInt64(self.pageShift))
        precondition(
            self.memMap.test(pfn, .slab) && Int(self.memMap.mapping(pfn)) == id.rawValue + 1,
            "kmemCacheFree: \(hex(va)) is not an object of \(self.slab.caches[id.rawValue].name)")
        let slabID = Int(self.memMap.index(pfn))
        guard var slab = self.slab.caches[id.rawValue].slabs[slabID] else {
            preconditionFailure("kmemCacheFree: missing slab")
        }
        let base = self.directMapAddress(of: slab.pfn)!
        let offset = Int(va - base)
        let size = self.slab.caches[id.rawValue].size
        precondition(offset % size == 0, "kmemCacheFree: \(hex(va)) is not the start of an object")
        let index = offset / size
        precondition(
            slab.allocated[index >> 6] & (1 << UInt64(index & 63)) != 0,
            "kmemCacheFree: double free of \(hex(va))")
        slab.allocated[index >> 6] &= ~(1 << UInt64(index & 63))
        let wasFull = slab.freeStack.isEmpty
        slab.freeStack.append(UInt16(index))
        slab.inuse -= 1
        self.slab.caches[id.rawValue].slabs[slabID] = slab
        self.slab.caches[id.rawValue].activeObjects -= 1
        if wasFull {
            self.slab.caches[id.rawValue].full.remove(slabID)
            if slab.inuse == 0
                && self.slab.caches[id.rawValue].partial.count >= self.slab.caches[id.rawValue].minPartial
            {
                self.discardSlab(id, slab: slabID)
                return
            }
            self.slab.caches[id.rawValue].partial.pushBack(slabID)
        } else if slab.inuse == 0
            && self.slab.caches[id.rawValue].partial.count > self.slab.caches[id.rawValue].minPartial
        {
            self.slab.caches[id.rawValue].partial.remove(slabID)
            self.discardSlab(id, slab: slabID)
        }
    }

    /// `kmem_cache_shrink()`: frees every empty slab of the cache; returns the pages freed.
    @discardableResult
    public func kmemCacheShrink(_ id: SlabCacheID) -> Int {
        var freed = 0
        for slabID in self.slab.caches[id.rawValue].partial.ids {
            guard let slab = self.slab.caches[id.rawValue].slabs[slabID], slab.inuse == 0 else { continue }
            freed += 1 << self.memMap.order(slab.pfn)
            self.slab.caches[id.rawValue].partial.remove(slabID)
            self.discardSlab(id, slab: slabID)
        }
        return freed
    }

    /// Shrinks every cache (`drop_slab()` / `echo 2 > drop_caches` for the empty-slab part).
    @discardableResult
    public func kmemCacheShrinkAll() -> Int {
        var freed = 0
        for cache in self.slab.caches { freed += self.kmemCacheShrink(cache.id) }
        return freed
    }

    /// The cache with this id.
    public func slabCache(_ id: SlabCacheID) -> SlabCache { self.slab.caches[id.rawValue] }
}
