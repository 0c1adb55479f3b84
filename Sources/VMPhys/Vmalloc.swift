import VMTypes

/// One vmalloc area: virtually contiguous, physically scattered (`struct vm_struct`).
public struct VmallocArea: Sendable {
    public enum Kind: String, Sendable {
        case vmalloc
        case vmap
        case ioremap
    }
    /// First address and size in bytes, including the trailing guard page (as `vm_struct.size`).
    public var start: UInt64
    public var size: UInt64
    /// The frames behind the area, one per page, in address order.
    public var pages: [PFN]
    /// The function that asked for it (`vm_struct.caller`).
    public var caller: String
    public var kind: Kind
    /// Physical address of an ioremap.
    public var physAddr: UInt64?
    public var end: UInt64 { self.start + self.size }
}

/// vmalloc address-space state: busy areas sorted by address.
public struct VmallocState: Sendable {
    public let start: UInt64
    public let end: UInt64
    public internal(set) var areas: [VmallocArea] = []
    /// Freed areas whose addresses are not reusable until the next purge ("unpurged vm_area").
    public internal(set) var purgeList: [VmallocArea] = []
    /// `vmap_lazy_nr`: pages of address space waiting in the purge list.
    public internal(set) var lazyPages = 0
    /// `vmalloc_nr_pages()`: pages currently backing vmalloc areas (meminfo VmallocUsed).
    public internal(set) var nrPages = 0
    init(start: UInt64, end: UInt64) {
        self.start = start
        self.end = end
    }
}

/// vmalloc (mm/vmalloc.c): `__vmalloc_node_range()`, `vfree()`, `/proc/vmallocinfo`.
///
/// Freed address ranges are released lazily, as in Linux: `vfree()` returns the frames at once
/// but the range stays busy (listed as `unpurged vm_area`) until more than `lazy_max_pages()`
/// pages wait, or an allocation finds no room, and then all are purged together.
///
/// Simplified: the lowest free range that fits is found by a linear scan of the sorted busy
/// list (Linux keeps an augmented rbtree of free areas, with the same lowest-fit answer);
/// pages are allocated one at a time (Linux uses the bulk allocator and may use larger orders).
/// Mapping the pages into the kernel page tables is the paging layer's business.
extension PhysicalMemory {
    /// `__vmalloc_node_range(size, align, …)`: reserves `size` rounded up to pages plus one guard
    /// page at the lowest `align`-aligned free address, and backs it with order-0 frames
    /// (`GFP_KERNEL | __GFP_HIGHMEM`: from HighMem on i386). Returns the start address, or nil
    /// when the range is full or memory runs out (everything taken so far is given back).
    public func vmalloc(
        _ size: UInt64, align: UInt64? = nil, caller: String,
        gfp: GFP = [.directReclaim, .kswapdReclaim, .io, .fs, .highmem]
    ) -> UInt64? {
        precondition(size > 0, "vmalloc: zero size")
        let page = self.pageSize
        let pages = Int((size + page - 1) / page)
        let total = UInt64(pages + 1) * page
        let alignment = max(align ?? page, page)
        var found = self.findVmapArea(size: total, align: alignment)
        if found == nil && !self.vmallocState.purgeList.isEmpty {
            self.purgeVmapAreaLazy()
            found = self.findVmapArea(size: total, align: alignment)
        }
        guard let start = found else {
            self.log.printk(
                at: self.now, "vmap allocation for size \(total) failed: use vmalloc=<size> to increase size")
            return nil
        }
        var frames: [PFN] = []
        frames.reserveCapacity(pages)
        for _ in 0..<pages {
            guard let pfn = self.allocPages(gfp, order: 0) else {
                for f in frames {
                    self.memMap.removeFlags(f, .vmalloc)
                    self.freePages(f, order: 0)
                }
                return nil
            }
            self.memMap.insertFlags(pfn, .vmalloc)
            frames.append(pfn)
        }
        let area = VmallocArea(
            start: start, size: total, pages: frames, caller: caller, kind: .vmalloc, physAddr: nil)
        let at = self.vmallocState.areas.firstIndex { $0.start > start } ?? self.vmallocState.areas.count
        self.vmallocState.areas.insert(area, at: at)
        self.vmallocState.nrPages += pages
        return start
    }

    /// The lowest `align`-aligned address with `size` free bytes in the vmalloc range.
    func findVmapArea(size: UInt64, align: UInt64) -> UInt64? {
        var candidate = (self.vmallocState.start + align - 1) / align * align
        let busy = (self.vmallocState.areas + self.vmallocState.purgeList).sorted { $0.start < $1.start }
        for area in busy {
            if candidate + size <= area.start { break }
            if area.end > candidate { candidate = (area.end + align - 1) / align * align }
        }
        guard candidate + size - 1 <= self.vmallocState.end else { return nil }
        return candidate
    }

    /// The area starting at `address`, if any.
    public func vmallocArea(at address: UInt64) -> VmallocArea? {
        self.vmallocState.areas.first { $0.start == address }
    }

    /// `vfree()`: releases the area starting at `address` and its frames.
    public func vfree(_ address: UInt64) {
        guard let i = self.vmallocState.areas.firstIndex(where: { $0.start == address }) else {
            preconditionFailure("vfree: no vmalloc area at \(hex(address))")
        }
        var area = self.vmallocState.areas.remove(at: i)
        for pfn in area.pages {
            self.memMap.removeFlags(pfn, [.vmalloc, .kernelStack])
            self.freePages(pfn, order: 0)
        }
        self.vmallocState.nrPages -= area.pages.count
        // free_vmap_area_noflush(): the range waits for a lazy purge.
        let pages = Int(area.size / self.pageSize)
        area.pages = []
        self.vmallocState.purgeList.append(area)
        self.vmallocState.lazyPages += pages
        if self.vmallocState.lazyPages > self.lazyMaxPages { self.purgeVmapAreaLazy() }
    }

    /// `lazy_max_pages()`: `fls(cpus) × 32 MiB` of address space may wait for a purge.
    public var lazyMaxPages: Int {
        let fls = Int.bitWidth - self.config.cpus.leadingZeroBitCount
        return fls * Int((32 << 20) / self.pageSize)
    }

    /// `purge_vmap_area_lazy()`: makes every lazily freed range reusable.
    public func purgeVmapAreaLazy() {
        self.vmallocState.purgeList.removeAll()
        self.vmallocState.lazyPages = 0
    }
}
