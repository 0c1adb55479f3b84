import VMPaging
import VMPhys
import VMTypes

/// The kind of area `swapon` adds.
public enum SwapKind: String, Sendable {
    case partition, file
}

/// Swap areas and their slots (mm/swapfile.c: `swapon(2)`, `swapoff(2)` with `try_to_unuse()`,
/// `folio_alloc_swap()`, `swap_duplicate()`, `swap_free()`).
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
        area.freedHook = { [unowned self] type, offset in
            if !self.memcg.swapOwner.isEmpty { self.memcgUnchargeSwap(type: type, offset: offset) }
        }
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
            !self.block.hasPending {
                if case .swap(let t, _, _) = $0 { return t == area.type } else { return false }
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
                    // The tables exist (the entry is there), so makeFault allocates nothing.
                    guard var vmf = self.makeFault(mm, slot: slot, address: va, write: false) else {
                        continue
                    }
                    if case .oom = self.doSwapPage(&vmf) {
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
            for (key, pfn) in self.swap.cache.pages.sorted(by: { $0.key < $1.key })
            where Int(key >> 50) == area.type {
                self.phys.memMap.getPage(pfn)
                if self.phys.memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
                if self.phys.memMap.test(pfn, .writeback) { self.waitOnPageWriteback(pfn) }
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
            area.take(offset)
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
        self.area(e).duplicate(e.offset)
    }

    /// `swap_free()`: one reference fewer; a slot with no references and no cached page is free.
    func swapFree(_ e: SwapEntry) {
        self.area(e).release(e.offset)
    }

    /// `free_swap_and_cache()`: a PTE holding `e` is gone. If that was the last reference and
    /// the swap cache still holds an idle page for it, the page and slot go too.
    func freeSwapEntry(_ e: SwapEntry) {
        self.swapFree(e)
        let area = self.area(e)
        if area.count(e.offset) == 0, let pfn = self.swap.cache[e] {
            if !self.phys.memMap.test(pfn, .writeback) && !self.phys.memMap.test(pfn, .locked)
                && self.phys.memMap.mapCount(pfn) == 0
                && self.phys.memMap.refCount(pfn) == 1
            {
                self.deleteFromSwapCache(pfn)
                self.putPage(pfn)
            }
        }
    }
}
