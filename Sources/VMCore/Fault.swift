import VMPaging
import VMPhys
import VMTypes

/// Page-fault handling (mm/memory.c: `handle_mm_fault()` and the handlers it dispatches to —
/// `do_anonymous_page()`, `do_wp_page()`, `do_read_fault()`/`do_cow_fault()`/`do_shared_fault()`
/// with fault-around, `do_swap_page()`; arch/x86/mm/fault.c for the access checks).
/// What `handle_mm_fault()` returned (`vm_fault_t`).
enum FaultResult {
    case minor(FaultKind)
    case major(FaultKind)
    case sigbus
    case sigsegv
    case oom
}

/// One page fault as its handlers see it (`struct vm_fault`, include/linux/mm.h): the mm and
/// VMA, the page-aligned address, whether it is a write (`FAULT_FLAG_WRITE`), the leaf table and
/// entry index (`vmf->pmd` + `vmf->pte`) and the entry as it was when the fault began
/// (`vmf->orig_pte`).
///
/// Built once by `handleMMFault`, which walks the page tables from the root (allocating the
/// missing levels); the handlers read and write the entry through it without walking again. The
/// leaf table cannot go away while a fault is handled — vmsim frees page tables only in
/// `munmap` and exit, which never run inside a fault — so only the entry is re-read where the
/// handler slept or allocated (`pte_same()`).
///
/// The VMA is not copied in: the anonymous and copy-on-write paths need only its flags, its
/// anon_vma and the page's index, kept here as numbers (`vmf->vma->vm_flags`, `->anon_vma`,
/// `vmf->pgoff`); `vma` reads the whole area for the file paths. Refresh the anon_vma with
/// `reloadVMA()` after `anon_vma_prepare()`.
struct VMFault {
    let mm: AddressSpace
    let slot: Int
    /// `vma->vm_flags` when the fault began (nothing in a fault changes them).
    let flags: VMFlags
    /// `vma_is_anonymous()`.
    let isAnonymous: Bool
    /// `vma->anon_vma`, as of the last `reloadVMA()`.
    private(set) var anonVMA: AnonVMAID?
    /// `vmf->address`: the faulting address rounded down to its page.
    let address: UInt64
    /// `vmf->pgoff`: `linear_page_index()` of the address.
    let pageIndex: UInt64
    let write: Bool
    /// The leaf table's slot in the page-table arena, and the entry's index in it.
    let table: Int
    let index: Int
    /// `vmf->orig_pte`.
    let origPTE: PTE

    /// The VMA as it is now (a copy: for the file and swap paths, which read its backing).
    var vma: VMA { self.mm.vma(self.slot) }

    mutating func reloadVMA() { self.anonVMA = self.mm.anonVMA(ofSlot: self.slot) }
}

extension Kernel {
    // MARK: Faults

    /// The PTE flags a VMA's pages get (`vm_get_page_prot()`): present, user, accessed, NX unless
    /// executable, writable only for shared writable areas (private ones stay read-only until a
    /// write fault makes them writable or copies them), PROT_NONE for inaccessible areas.
    func pageProtection(_ flags: VMFlags) -> PTEFlags {
        if !flags.isAccessible { return [.global] }  // _PAGE_PROTNONE: not present to the MMU
        var p: PTEFlags = [.present, .user, .accessed]
        if flags.contains(.write) && flags.contains(.shared) { p.insert(.writable) }
        if !flags.contains(.exec) && self.architecture.hasNoExecute { p.insert(.noExecute) }
        return p
    }

    /// `maybe_mkwrite()`: writable if the VMA allows writes.
    func maybeMkwrite(_ p: PTEFlags, _ flags: VMFlags) -> PTEFlags {
        flags.contains(.write) ? p.union(.writable) : p
    }

    /// Installs a leaf entry for `address` in `mm`, counting new page-table pages.
    func installPTE(_ mm: AddressSpace, _ address: UInt64, _ pte: PTE) -> Bool {
        var tables = 0
        let old = self.pageTables.setPTE(root: mm.pgd, va: address, pte, tables: &tables)
        mm.pageTablePages += tables
        self.memcgSyncPageTables(mm)
        return old != nil
    }

    /// `__handle_mm_fault()`'s walk: the `VMFault` for `address` in VMA `slot` of `mm`, with the
    /// missing page-table levels allocated; nil when a table cannot be allocated.
    func makeFault(_ mm: AddressSpace, slot: Int, address: UInt64, write: Bool) -> VMFault? {
        let pageAddress = address & ~(self.phys.pageSize - 1)
        var tables = 0
        guard
            let table = self.pageTables.leafSlot(
                root: mm.pgd, va: pageAddress, allocate: true, tables: &tables)
        else { return nil }
        mm.pageTablePages += tables
        self.memcgSyncPageTables(mm)
        let last = self.leafLevel
        let index = self.pageTables.geometry.index(of: pageAddress, atLevel: last)
        let (flags, isAnonymous, anonVMA, pageIndex) = mm.faultFields(
            ofSlot: slot, address: pageAddress, pageShift: self.phys.pageShift)
        return VMFault(
            mm: mm, slot: slot, flags: flags, isAnonymous: isAnonymous, anonVMA: anonVMA,
            address: pageAddress, pageIndex: pageIndex, write: write, table: table, index: index,
            origPTE: self.pageTables.readEntry(table, index, level: last))
    }

    /// The fault's page-table entry as it is now.
    @inline(__always) func currentPTE(_ vmf: VMFault) -> PTE {
        self.pageTables.readEntry(vmf.table, vmf.index, level: self.leafLevel)
    }

    /// `set_pte_at()` for an entry that maps nothing yet (none, or a swap entry being replaced):
    /// a handler that finds a present page there has lost track of the entry, and stops —
    /// `caller` names it, as xv6's `mappages: remap` does.
    func setNewPTE(_ vmf: VMFault, _ pte: PTE, _ caller: StaticString) {
        let level = self.leafLevel
        precondition(
            !self.pageTables.readEntry(vmf.table, vmf.index, level: level).isPresent, "\(caller): remap")
        self.pageTables.writeEntry(vmf.table, vmf.index, level: level, pte)
    }

    /// Rewrites a present entry in place (flags, or a copy's frame after `pte_same()`).
    func updatePTE(_ vmf: VMFault, _ pte: PTE) {
        self.pageTables.writeEntry(vmf.table, vmf.index, level: self.leafLevel, pte)
    }

    /// `handle_mm_fault()` → `handle_pte_fault()`: an empty entry faults in (anonymous page, zero
    /// page or file page); a swap entry swaps in; a write to a read-only present entry is a
    /// write-protect fault; anything else was already fixed (a stale TLB entry: spurious).
    func handleMMFault(_ mm: AddressSpace, slot: Int, address: UInt64, write: Bool) -> FaultResult {
        // lru_gen_enter_fault() / lru_gen_exit_fault().
        if self.reclaim.lruGen {
            let previous = self.reclaim.inLRUFault
            self.reclaim.inLRUFault = Kernel.hasRecency(mm.flags(ofSlot: slot))
            defer { self.reclaim.inLRUFault = previous }
            return self.handleMMFaultInner(mm, slot: slot, address: address, write: write)
        }
        return self.handleMMFaultInner(mm, slot: slot, address: address, write: write)
    }

    /// `__handle_mm_fault()`.
    func handleMMFaultInner(_ mm: AddressSpace, slot: Int, address: UInt64, write: Bool) -> FaultResult {
        // __handle_mm_fault(): the PMD level first (transparent huge pages, HugeMemory.swift).
        if let huge = self.handleHugePMDFault(mm, slot: slot, address: address, write: write) { return huge }
        // The handlers work on this one fault context in place (no copy of it per handler).
        guard var vmf = self.makeFault(mm, slot: slot, address: address, write: write) else { return .oom }
        let pte = vmf.origPTE
        if pte.isNone { return vmf.isAnonymous ? self.doAnonymousPage(&vmf) : self.doFault(&vmf) }
        if pte.isSwap { return self.doSwapPage(&vmf) }
        if write && !pte.contains(.writable) { return self.doWPPage(&vmf) }
        // Entry already allows the access (a stale TLB entry or a PROT_NONE entry left behind):
        // just refresh Accessed/Dirty as ptep_set_access_flags() does.
        var updated = pte
        updated.flags.formUnion(write ? [.accessed, .dirty] : [.accessed])
        self.updatePTE(vmf, updated)
        return .minor(.spurious)
    }

    /// `do_anonymous_page()`: a read maps the shared zero page (no memory used); a write gets a
    /// new zeroed page, filed under the VMA's anon_vma, mapped writable and dirty.
    func doAnonymousPage(_ vmf: inout VMFault) -> FaultResult {
        if vmf.flags.contains(.shared) { return .sigbus }
        let prot = self.pageProtection(vmf.flags)
        if !vmf.write {
            self.setNewPTE(vmf, PTE(pfn: self.zeroPFN, flags: prot.subtracting(.writable)), "doAnonymousPage")
            return .minor(.zeroPage)
        }
        guard self.anonVMAPrepare(vmf.mm, slot: vmf.slot) else { return .oom }
        vmf.reloadVMA()
        guard let pfn = self.phys.allocPages(GFP.highUserMovable.union(.zero), order: 0) else { return .oom }
        // The allocation may have reclaimed; nothing else runs in this mm meanwhile, but check.
        guard self.currentPTE(vmf).isNone else {
            self.phys.freePages(pfn, order: 0)
            return .minor(.spurious)
        }
        guard self.memcgCharge(pfn, .anon) else {
            self.phys.freePages(pfn, order: 0)
            return .oom
        }
        self.setPageAnon(pfn, vmf)
        self.addMapping(pfn, mm: vmf.mm, anon: true)
        self.setNewPTE(
            vmf, PTE(pfn: pfn, flags: self.maybeMkwrite(prot, vmf.flags).union(.dirty)), "doAnonymousPage")
        self.lruAddNew(pfn, locked: vmf.flags.contains(.locked))
        return .minor(.anonymous)
    }

    /// `do_wp_page()`: a write to a present, read-only page. Shared mappings become writable;
    /// an anonymous page with no other user is reused in place (`wp_page_reuse()`: exclusive, or
    /// reference count 1); anything else — the zero page, a page shared since fork, a page-cache
    /// page in a private mapping — is copied (`wp_page_copy()`).
    func doWPPage(_ vmf: inout VMFault) -> FaultResult {
        let flags = vmf.flags
        let mm = vmf.mm
        let address = vmf.address
        let pte = self.currentPTE(vmf)
        let old = pte.pfn
        let isZero = old == self.zeroPFN
        if !flags.isDisjoint(with: [.shared, .mayShare]) && !isZero {
            var updated = pte
            updated.flags.formUnion([.writable, .dirty, .accessed])
            self.updatePTE(vmf, updated)
            self.markPageDirty(old)
            if !self.phys.memMap.test(old, .swapBacked) { self.current?.balanceDirtyPending = true }
            return .minor(.sharedWrite)
        }
        // wp_can_reuse_anon_folio(): exclusive, or the only reference once a swap copy nobody
        // else needs is dropped.
        var reuse = !isZero && self.phys.memMap.test(old, .anon) && self.phys.memMap.test(old, .anonExclusive)
        if !reuse && !isZero && self.phys.memMap.test(old, .anon)
            && self.phys.memMap.refCount(old) <= 1 + (self.phys.memMap.test(old, .swapCache) ? 1 : 0)
        {
            if self.phys.memMap.test(old, .swapCache) { self.freeSwapCache(old) }
            reuse = self.phys.memMap.refCount(old) == 1
        }
        if reuse {
            self.phys.memMap.insertFlags(old, .anonExclusive)
            // folio_move_anon_rmap(): the page now belongs to this VMA's anon_vma.
            if let anon = vmf.anonVMA { self.fileAnonPage(old, under: anon) }
            var updated = pte
            updated.flags.formUnion([.writable, .dirty, .accessed])
            self.updatePTE(vmf, updated)
            self.phys.count(.pgreuse)
            return .minor(.reuse)
        }
        // wp_page_copy(): hold the old page while allocating (reclaim may run), then check the
        // entry is still the one that faulted (pte_same()).
        if !isZero { self.phys.memMap.getPage(old) }
        defer { if !isZero { self.putPage(old) } }
        guard self.anonVMAPrepare(mm, slot: vmf.slot) else { return .oom }
        vmf.reloadVMA()
        guard
            let new = self.phys.allocPages(
                isZero ? GFP.highUserMovable.union(.zero) : .highUserMovable, order: 0)
        else { return .oom }
        guard self.currentPTE(vmf) == pte else {
            self.phys.freePages(new, order: 0)
            return .minor(.spurious)
        }
        guard self.memcgCharge(new, .anon) else {
            self.phys.freePages(new, order: 0)
            return .oom
        }
        // The charge may have reclaimed (and unmapped) the page that faulted.
        guard self.currentPTE(vmf) == pte else {
            self.memcgUncharge(new)
            self.phys.freePages(new, order: 0)
            return .minor(.spurious)
        }
        self.phys.memMap.setContent(new, isZero ? 0 : self.phys.memMap.content(old))
        self.setPageAnon(new, vmf)
        self.addMapping(new, mm: mm, anon: true)
        let prot = self.maybeMkwrite(self.pageProtection(flags), flags).union(.dirty)
        self.updatePTE(vmf, PTE(pfn: new, flags: prot))
        self.flushTLB(mm, range: address..<(address + self.phys.pageSize))
        if !isZero { self.removeMapping(old, mm: mm) }
        self.lruAddNew(new, locked: flags.contains(.locked))
        return .minor(.copyOnWrite)
    }

    /// `do_fault()`: pages of files and shared memory. Reads map the page-cache page (after
    /// fault-around); private writes copy it into a new anonymous page (`do_cow_fault()`);
    /// shared writes map it writable and dirty (`do_shared_fault()`). Beyond end of file: SIGBUS.
    func doFault(_ vmf: inout VMFault) -> FaultResult {
        let (mm, slot, address, write) = (vmf.mm, vmf.slot, vmf.address, vmf.write)
        let vma = vmf.vma
        guard let fileID = vma.backing.fileID else {
            return .sigbus  // special mappings have no ->fault
        }
        let file = self.file(fileID)
        let open = vma.vmFile.flatMap(self.openFile)
        let index = vma.linearPageIndex(address, pageShift: self.phys.pageShift)
        let prot = self.pageProtection(vma.flags)
        if !write {
            // do_read_fault(): map what the page cache already has around the address first.
            if self.faultAround(vmf, vma) { return .minor(.readFault) }
        }
        // For a private write the copy's anon_vma comes first (it may allocate and reclaim).
        if write && !vma.flags.contains(.shared) {
            guard self.anonVMAPrepare(mm, slot: slot) else { return .oom }
            vmf.reloadVMA()
        }
        // filemap_fault() returns the page with a reference, so reclaim cannot take it.
        let pfn: PFN
        let major: Bool
        switch self.filemapFault(file, open, flags: vma.flags, index: index) {
        case .sigbus: return .sigbus
        case .oom: return .oom
        case .page(let p, let m):
            pfn = p
            major = m
        }
        defer { self.putPage(pfn) }
        // finish_fault(): the entry is still empty (waits and allocations let others run).
        guard self.currentPTE(vmf).isNone else { return .minor(.spurious) }
        if !write {
            self.mapFilePage(pfn, vmf, flags: self.readFaultProtection(prot, vma: vma, file: file))
            return major ? .major(.readFault) : .minor(.readFault)
        }
        if !vma.flags.contains(.shared) {
            // do_cow_fault(): a private copy; the page-cache page stays unmapped.
            guard let copy = self.phys.allocPages(.highUserMovable, order: 0) else { return .oom }
            guard self.currentPTE(vmf).isNone else {
                self.phys.freePages(copy, order: 0)
                return .minor(.spurious)
            }
            guard self.memcgCharge(copy, .anon) else {
                self.phys.freePages(copy, order: 0)
                return .oom
            }
            self.phys.memMap.setContent(copy, self.phys.memMap.content(pfn))
            self.setPageAnon(copy, vmf)
            self.addMapping(copy, mm: mm, anon: true)
            self.setNewPTE(
                vmf, PTE(pfn: copy, flags: self.maybeMkwrite(prot, vma.flags).union(.dirty)), "doCOWFault")
            self.lruAddNew(copy, locked: vmf.flags.contains(.locked))
            return major ? .major(.cowFault) : .minor(.cowFault)
        }
        self.mapFilePage(pfn, vmf, flags: prot.union([.writable, .dirty]))
        // fault_dirty_shared_page(): dirty, then the writer may be throttled.
        self.markPageDirty(pfn)
        if !file.isShmem { self.current?.balanceDirtyPending = true }
        return major ? .major(.sharedFault) : .minor(.sharedFault)
    }

    /// `do_fault_around()` + `filemap_map_pages()`: maps, read-only, every page already in the page
    /// cache and up to date within the `fault_around_bytes`-aligned window around `address`,
    /// clamped to the VMA, the page table and end of file, skipping entries already set, pages
    /// still being read and pages carrying the readahead mark (their fault must start the next
    /// readahead). Never starts I/O. Each page mapped lowers the file's `mmap_miss`. Returns
    /// whether the faulting address itself got mapped. `vma` is the fault's area.
    func faultAround(_ vmf: VMFault, _ vma: VMA) -> Bool {
        let (mm, address) = (vmf.mm, vmf.address)
        let pageSize = self.phys.pageSize
        let pages = max(self.faultAroundBytes, pageSize) >> UInt64(self.phys.pageShift)
        guard pages > 1 else { return false }
        guard let fileID = vma.backing.fileID else { return false }
        // should_fault_around() (mm/memory.c): no ->map_pages, no fault-around. A SysV attachment's
        // VMA has shm_vm_ops (ipc/shm.c), whose .fault is shm_fault and which has no .map_pages,
        // so each read fault maps one page (measured: examples/demo.vmsim's shm read, +4 KiB on
        // Linux 6.18); tmpfs and shared anonymous memory have shmem_vm_ops with filemap_map_pages.
        if case .shmem = vma.backing, self.shm.segment(of: fileID) != nil { return false }
        let file = self.file(fileID)
        let window = pages * pageSize
        let tableSpan =
            UInt64(1) << UInt64(self.pageTables.geometry.shift(ofLevel: self.leafLevel - 1))
        var start = max(address & ~(window - 1), vma.start)
        start = max(start, address & ~(tableSpan - 1))
        let end = min(start + window, vma.end, (address & ~(tableSpan - 1)) + tableSpan)
        let filePages = (file.size + pageSize - 1) >> UInt64(self.phys.pageShift)
        let prot = self.readFaultProtection(self.pageProtection(vma.flags), vma: vma, file: file)
        var mappedTarget = false
        var mapped = 0
        // The window lies in the fault's leaf table, as filemap_map_pages() works on vmf->pte.
        let table = vmf.table
        let last = self.leafLevel
        var va = start
        var index = vma.linearPageIndex(start, pageShift: self.phys.pageShift)
        while va < end {
            defer {
                va += pageSize
                index += 1
            }
            guard index < filePages, let pfn = file.pages[index], self.phys.memMap.test(pfn, .uptodate),
                !self.phys.memMap.test(pfn, .locked), !self.phys.memMap.test(pfn, .readahead)
            else { continue }
            let slot = self.pageTables.geometry.index(of: va, atLevel: last)
            guard self.pageTables.readEntry(table, slot, level: last).isNone else { continue }
            self.phys.memMap.getPage(pfn)
            self.addMapping(pfn, mm: mm, anon: false)
            self.pageTables.writeEntry(table, slot, level: last, PTE(pfn: pfn, flags: prot))
            if !self.phys.memMap.test(pfn, .workingset) { mapped += 1 }
            if va == address { mappedTarget = true }
        }
        if let open = vma.vmFile.flatMap(self.openFile) {
            open.ra.mmapMiss = mapped >= open.ra.mmapMiss ? 0 : open.ra.mmapMiss - mapped
        }
        return mappedTarget
    }

    /// The flags a read fault maps a file page with: `vma->vm_page_prot`, which is write-protected
    /// for shared writable areas only when `vma_wants_writenotify()` (mm/mmap.c) — the file has
    /// `page_mkwrite` or dirty accounting (ext4). Shared shmem/tmpfs areas need neither, so their
    /// read faults map the page writable and a later write takes no fault (6.18, measured by
    /// tools/kernel-truth/shmem.c: read 16 faults, write 0). Private areas stay read-only.
    func readFaultProtection(_ prot: PTEFlags, vma: VMA, file: SimFile) -> PTEFlags {
        if file.isShmem && vma.flags.contains(.shared) { return prot }
        return prot.subtracting(.writable)
    }

    /// Maps a page-cache page at the fault's entry (`set_pte_range()` + `folio_add_file_rmap_ptes()`).
    func mapFilePage(_ pfn: PFN, _ vmf: VMFault, flags: PTEFlags) {
        self.phys.memMap.getPage(pfn)
        self.addMapping(pfn, mm: vmf.mm, anon: false)
        self.setNewPTE(vmf, PTE(pfn: pfn, flags: flags), "finish_fault")
    }

    // MARK: do_swap_page

    /// `do_swap_page()`: the PTE holds a swap entry. The page comes from the swap cache (a minor
    /// fault; a page read ahead counts a readahead hit) or is read with VMA readahead (a major
    /// fault: the task waits for the disk). The PTE maps it again — writable at once on a write
    /// fault when the entry was exclusive — the slot loses this reference, and the swap copy is
    /// dropped when nothing else needs it and swap is over half full, the area is locked, or
    /// a write made the copy stale anyway.
    func doSwapPage(_ vmf: inout VMFault) -> FaultResult {
        let (mm, slot, address, write, pte) = (vmf.mm, vmf.slot, vmf.address, vmf.write, vmf.origPTE)
        guard let entry = pte.swapEntry else { return .sigbus }
        // The area had anonymous pages, so it has an anon_vma (fork gives the child one too).
        guard self.anonVMAPrepare(mm, slot: slot) else { return .oom }
        var major = false
        var pfn: PFN
        if let cached = self.swap.cache[entry] {
            self.phys.memMap.getPage(cached)
            pfn = cached
            if self.phys.memMap.test(pfn, .readahead) {
                self.phys.memMap.removeFlags(pfn, .readahead)
                self.phys.count(.swapRaHit)
                var vma = mm.vma(slot)
                vma.swapReadahead.hits = min(vma.swapReadahead.hits + 1, 255)
                mm.update(slot, vma)
            }
        } else {
            guard let (p, _) = self.swapVMAReadahead(mm, slot: slot, address: address, entry: entry) else {
                // The entry changed under us (swapoff, or the slot was freed): retry the access.
                if self.currentPTE(vmf) != pte { return .minor(.spurious) }
                return .oom
            }
            pfn = p
            major = true
        }
        if self.phys.memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
        // pte_same(): reclaim or another fault may have changed the entry meanwhile.
        guard self.currentPTE(vmf) == pte, self.swapEntry(of: pfn) == entry else {
            self.putPage(pfn)
            return .minor(.spurious)
        }
        vmf.reloadVMA()
        let vma = vmf.vma
        self.phys.memMap.removeFlags(pfn, .readahead)
        self.swapFree(entry)
        // should_try_to_free_swap() → folio_free_swap().
        if self.swapFull || vma.flags.contains(.locked) || self.phys.memMap.test(pfn, .mlocked)
            || (write && self.phys.memMap.refCount(pfn) == 2)
        {
            self.freeSwapCache(pfn)
        }
        mm.addRSS(.swapEntries, -1)
        let exclusive = pte.isSwapExclusive || self.phys.memMap.refCount(pfn) == 1
        if !self.phys.memMap.test(pfn, .anon) {
            // A page read back: filed anew, under the root anon_vma unless exclusive.
            self.setPageAnon(pfn, vma: vma, address: address, exclusive: exclusive)
        } else if exclusive {
            self.phys.memMap.insertFlags(pfn, .anonExclusive)
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
        self.setNewPTE(vmf, PTE(pfn: pfn, flags: flags), "doSwapPage")
        if vma.flags.contains(.locked) { self.mlockPage(pfn) }
        if write && !writeDone {
            // Still shared (fork): the write copies it, as do_wp_page() does.
            if case .oom = self.doWPPage(&vmf) { return .oom }
        }
        return major ? .major(.swapIn) : .minor(.swapIn)
    }
}
