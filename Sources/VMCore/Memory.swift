import VMPaging
import VMPhys
import VMTypes

/// The outcome of a simulated user-mode access.
public enum AccessResult: Hashable, Sendable {
    /// The access completed: the value read, or the value written.
    case ok(value: UInt64)
    /// The task received a fatal signal (SIGSEGV, SIGBUS) and was killed.
    case signal(Int, address: UInt64, reason: String)
    /// No memory could be found and the task was killed.
    case outOfMemory

    public var value: UInt64? {
        if case .ok(let v) = self { return v }
        return nil
    }
}

/// What `handle_mm_fault()` returned (`vm_fault_t`).
enum FaultResult {
    case minor(FaultKind)
    case major(FaultKind)
    case sigbus
    case sigsegv
    case oom
}

/// Page faults and page-table maintenance (mm/memory.c, arch/x86/mm/fault.c).
extension Kernel {
    // MARK: User accesses

    /// One user-mode load, store or instruction fetch by `task` at `address`, exactly as the CPU
    /// and kernel would handle it: the MMU translates (TLB, walk); a fault goes to
    /// `doUserAddrFault`, and the access is retried once the fault is handled. A write stores
    /// `value` in the frame's content word; a read returns the word. A fatal signal kills the task.
    ///
    /// `keepContent` makes a store leave the word as it is: a write by code whose bytes are not
    /// the page's data (the C library's allocator writing a chunk header in a page of the
    /// program's data) still faults, dirties and breaks copy-on-write like any store.
    public func userAccess(
        _ task: Task, address: UInt64, access: Access, value: UInt64 = 0, keepContent: Bool = false
    ) -> AccessResult {
        precondition(
            task.state == .running && task.mm != nil, "userAccess: task \(task.pid) cannot run user code")
        self.switchTo(task)
        self.chargeCPU(1)
        let memMap = self.phys.memMap
        let shift = UInt64(self.phys.pageShift)
        var attempts = 0
        while true {
            let pa = self.mmu.access(address, access, .user)
            if pa != MMU.faulted {
                let pfn = PFN(rawValue: pa >> shift)
                if access == .write {
                    if keepContent { return .ok(value: memMap.content(pfn)) }
                    memMap.setContent(pfn, value)
                    return .ok(value: value)
                }
                return .ok(value: memMap.content(pfn))
            }
            guard let fault = self.mmu.lastFault else {
                preconditionFailure("userAccess: fault without details")
            }
            attempts += 1
            precondition(attempts < 16, "userAccess: fault at \(hex(address)) not resolved: \(fault)")
            switch self.doUserAddrFault(task, fault) {
            case .handled:
                self.chargeCPU(1000)
                // Back to user space: kswapd may run; an OOM victim dies here.
                guard self.returnToUser(task) else { return .outOfMemory }
                continue
            case .signal(let signal, let reason):
                self.printk(
                    "\(task.name)[\(task.pid)]: \(signal == Signal.sigbus ? "bus error" : "segfault") at \(hexDigits(address, width: 0)) error \(hexDigits(UInt64(fault.errorCode.rawValue), width: 0)) (\(reason))"
                )
                self.emit(.signal(pid: task.pid, address: address, signal: signal, reason: reason))
                self.exitTask(task, reason: .killed(signal: signal))
                return .signal(signal, address: address, reason: reason)
            case .outOfMemory:
                if self.reclaim.pendingKills.remove(task.pid) == nil {
                    // No victim could be found: the task that cannot get memory goes.
                    self.printk(
                        "Out of memory: killed process \(task.pid) (\(task.name)) on a page fault at \(hex(address))"
                    )
                }
                self.exitTask(task, reason: .killed(signal: Signal.sigkill))
                self.printk(
                    "oom_reaper: reaped process \(task.pid) (\(task.name)), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
                )
                self.runKswapdIfWoken()
                return .outOfMemory
            }
        }
    }

    /// `fatal_signal_pending()`: `task` was killed, or the OOM killer chose it while it was in
    /// the kernel (it dies on its way back to user space, `returnToUser`). A kernel loop working
    /// for the task checks this after every step that may allocate — so may reclaim and kill —
    /// and stops, as `__get_user_pages()`, `generic_perform_write()`, `filemap_read()` and
    /// `dup_mmap()` do; a dead task's address space must not be touched again.
    func fatalSignalPending(_ task: Task) -> Bool {
        task.state != .running || task.mm == nil || self.reclaim.pendingKills.contains(task.pid)
    }

    enum UserFaultOutcome {
        case handled
        case signal(Int, String)
        case outOfMemory
    }

    /// `do_user_addr_fault()`: find the VMA (growing a stack if the address is just below one),
    /// refuse accesses the VMA does not allow (`access_error()`: SIGSEGV, not counted as a
    /// fault), then `handle_mm_fault()`. Completed faults count in `pgfault` and the task's
    /// `min_flt`/`maj_flt` (`mm_account_fault()`); failed ones only in `pgfault`.
    func doUserAddrFault(_ task: Task, _ fault: PageFault) -> UserFaultOutcome {
        guard let mm = task.mm else { return .signal(Signal.sigsegv, "kernel thread") }
        let address = fault.address
        if fault.cause == .nonCanonical {
            return .signal(Signal.sigsegv, "general protection (non-canonical address)")
        }
        guard var slot = mm.findSlot(address) else {
            return .signal(Signal.sigsegv, "SEGV_MAPERR: no mapping")
        }
        if mm.vma(slot).start > address {
            guard mm.vma(slot).flags.contains(.growsDown) else {
                return .signal(Signal.sigsegv, "SEGV_MAPERR: no mapping")
            }
            guard self.expandStack(task, mm, slot: slot, address: address) else {
                return .signal(Signal.sigsegv, "SEGV_MAPERR: stack cannot grow")
            }
            slot = mm.slot(containing: address)!
        }
        let vma = mm.vma(slot)
        if Kernel.accessError(fault.errorCode, vma.flags) {
            return .signal(Signal.sigsegv, "SEGV_ACCERR: \(vma.flags.permissions) mapping")
        }
        // The frame mapped before the fault, only when a trace or an event log shows it.
        let frames = self.eventSink != nil && self.eventsCarryFrames
        let oldFrame = frames ? self.mappedFrame(mm, address) : nil
        let result = self.handleMMFault(mm, slot: slot, address: address, write: fault.access == .write)
        self.phys.count(.pgfault)
        switch result {
        case .minor(let kind):
            task.minorFaults += 1
            self.emit(
                .fault(
                    pid: task.pid, address: address, access: fault.access, kind: kind, major: false,
                    old: oldFrame,
                    new: frames ? self.mappedFrame(mm, address) : nil))
            return .handled
        case .major(let kind):
            task.majorFaults += 1
            self.phys.count(.pgmajfault)
            self.emit(
                .fault(
                    pid: task.pid, address: address, access: fault.access, kind: kind, major: true,
                    old: oldFrame,
                    new: frames ? self.mappedFrame(mm, address) : nil))
            return .handled
        case .sigbus:
            return .signal(Signal.sigbus, "BUS_ADRERR: beyond the end of the object")
        case .sigsegv:
            return .signal(Signal.sigsegv, "SEGV_MAPERR")
        case .oom:
            return .outOfMemory
        }
    }

    /// The frame a present PTE maps at `address`, if any (for events).
    func mappedFrame(_ mm: AddressSpace, _ address: UInt64) -> PFN? {
        let pte = self.pageTables.pte(root: mm.pgd, va: address)
        return pte.isPresent ? pte.pfn : nil
    }

    /// `access_error()` (arch/x86/mm/fault.c): the VMA forbids a write, or a read of a present
    /// page faulted (NX, PROT_NONE), or the VMA is inaccessible. There is no VM_EXEC check: an
    /// instruction fetch from a non-executable page faults in, then fails as a present read.
    static func accessError(_ code: PFErrorCode, _ flags: VMFlags) -> Bool {
        if code.contains(.write) { return !flags.contains(.write) }
        if code.contains(.protection) { return true }
        return !flags.isAccessible
    }

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
        return old != nil
    }

    /// `handle_mm_fault()` → `handle_pte_fault()`: an empty entry faults in (anonymous page, zero
    /// page or file page); a swap entry swaps in; a write to a read-only present entry is a
    /// write-protect fault; anything else was already fixed (a stale TLB entry: spurious).
    func handleMMFault(_ mm: AddressSpace, slot: Int, address: UInt64, write: Bool) -> FaultResult {
        let pageAddress = address & ~(self.phys.pageSize - 1)
        var tables = 0
        guard self.pageTables.leafTable(root: mm.pgd, va: pageAddress, allocate: true, tables: &tables) != nil
        else { return .oom }
        mm.pageTablePages += tables
        let pte = self.pageTables.pte(root: mm.pgd, va: pageAddress)
        let vma = mm.vma(slot)
        if pte.isNone {
            return vma.isAnonymous
                ? self.doAnonymousPage(mm, slot: slot, address: pageAddress, write: write)
                : self.doFault(mm, slot: slot, address: pageAddress, write: write)
        }
        if pte.isSwap { return self.doSwapPage(mm, slot: slot, address: pageAddress, pte: pte, write: write) }
        if write && !pte.contains(.writable) {
            return self.doWPPage(mm, slot: slot, address: pageAddress, pte: pte)
        }
        // Entry already allows the access (a stale TLB entry or a PROT_NONE entry left behind):
        // just refresh Accessed/Dirty as ptep_set_access_flags() does.
        var updated = pte
        updated.flags.formUnion(write ? [.accessed, .dirty] : [.accessed])
        _ = self.installPTE(mm, pageAddress, updated)
        return .minor(.spurious)
    }

    /// `do_anonymous_page()`: a read maps the shared zero page (no memory used); a write gets a
    /// new zeroed page, filed under the VMA's anon_vma, mapped writable and dirty.
    func doAnonymousPage(_ mm: AddressSpace, slot: Int, address: UInt64, write: Bool) -> FaultResult {
        let vma = mm.vma(slot)
        if vma.flags.contains(.shared) { return .sigbus }
        let prot = self.pageProtection(vma.flags)
        if !write {
            guard self.installPTE(mm, address, PTE(pfn: self.zeroPFN, flags: prot.subtracting(.writable)))
            else { return .oom }
            return .minor(.zeroPage)
        }
        guard self.anonVMAPrepare(mm, slot: slot) else { return .oom }
        guard let pfn = self.phys.allocPages(GFP.highUserMovable.union(.zero), order: 0) else { return .oom }
        self.setPageAnon(pfn, vma: mm.vma(slot), address: address)
        self.addMapping(pfn, mm: mm, anon: true)
        guard
            self.installPTE(
                mm, address, PTE(pfn: pfn, flags: self.maybeMkwrite(prot, vma.flags).union(.dirty)))
        else {
            self.removeMapping(pfn, mm: mm)
            return .oom
        }
        self.lruAddNew(pfn, vma: mm.vma(slot))
        return .minor(.anonymous)
    }

    /// `do_wp_page()`: a write to a present, read-only page. Shared mappings become writable;
    /// an anonymous page with no other user is reused in place (`wp_page_reuse()`: exclusive, or
    /// reference count 1); anything else — the zero page, a page shared since fork, a page-cache
    /// page in a private mapping — is copied (`wp_page_copy()`).
    func doWPPage(_ mm: AddressSpace, slot: Int, address: UInt64, pte: PTE) -> FaultResult {
        let vma = mm.vma(slot)
        let memMap = self.phys.memMap
        let old = pte.pfn
        let isZero = old == self.zeroPFN
        if !vma.flags.isDisjoint(with: [.shared, .mayShare]) && !isZero {
            var updated = pte
            updated.flags.formUnion([.writable, .dirty, .accessed])
            _ = self.installPTE(mm, address, updated)
            self.markPageDirty(old)
            if !memMap.test(old, .swapBacked) { self.balanceDirtyPages() }
            return .minor(.sharedWrite)
        }
        // wp_can_reuse_anon_folio(): exclusive, or the only reference once a swap copy nobody
        // else needs is dropped.
        var reuse = !isZero && memMap.test(old, .anon) && memMap.test(old, .anonExclusive)
        if !reuse && !isZero && memMap.test(old, .anon)
            && memMap.refCount(old) <= 1 + (memMap.test(old, .swapCache) ? 1 : 0)
        {
            if memMap.test(old, .swapCache) { self.freeSwapCache(old) }
            reuse = memMap.refCount(old) == 1
        }
        if reuse {
            memMap.insertFlags(old, .anonExclusive)
            // folio_move_anon_rmap(): the page now belongs to this VMA's anon_vma.
            if let anon = vma.anonVMA { self.fileAnonPage(old, under: anon) }
            var updated = pte
            updated.flags.formUnion([.writable, .dirty, .accessed])
            _ = self.installPTE(mm, address, updated)
            self.phys.count(.pgreuse)
            return .minor(.reuse)
        }
        // wp_page_copy(): hold the old page while allocating (reclaim may run), then check the
        // entry is still the one that faulted (pte_same()).
        if !isZero { memMap.getPage(old) }
        defer { if !isZero { self.putPage(old) } }
        guard self.anonVMAPrepare(mm, slot: slot) else { return .oom }
        guard
            let new = self.phys.allocPages(
                isZero ? GFP.highUserMovable.union(.zero) : .highUserMovable, order: 0)
        else { return .oom }
        guard self.pageTables.pte(root: mm.pgd, va: address) == pte else {
            self.phys.freePages(new, order: 0)
            return .minor(.spurious)
        }
        memMap.setContent(new, isZero ? 0 : memMap.content(old))
        self.setPageAnon(new, vma: mm.vma(slot), address: address)
        self.addMapping(new, mm: mm, anon: true)
        let prot = self.maybeMkwrite(self.pageProtection(vma.flags), vma.flags).union(.dirty)
        _ = self.installPTE(mm, address, PTE(pfn: new, flags: prot))
        self.flushTLB(mm, range: address..<(address + self.phys.pageSize))
        if !isZero { self.removeMapping(old, mm: mm) }
        self.lruAddNew(new, vma: mm.vma(slot))
        return .minor(.copyOnWrite)
    }

    /// `do_fault()`: pages of files and shared memory. Reads map the page-cache page (after
    /// fault-around); private writes copy it into a new anonymous page (`do_cow_fault()`);
    /// shared writes map it writable and dirty (`do_shared_fault()`). Beyond end of file: SIGBUS.
    func doFault(_ mm: AddressSpace, slot: Int, address: UInt64, write: Bool) -> FaultResult {
        let vma = mm.vma(slot)
        guard let fileID = vma.backing.fileID else {
            return .sigbus  // special mappings have no ->fault
        }
        let file = self.file(fileID)
        let open = vma.vmFile.flatMap(self.openFile)
        let index = vma.linearPageIndex(address, pageShift: self.phys.pageShift)
        let prot = self.pageProtection(vma.flags)
        if !write {
            // do_read_fault(): map what the page cache already has around the address first.
            if self.faultAround(mm, slot: slot, address: address) { return .minor(.readFault) }
        }
        // For a private write the copy's anon_vma comes first (it may allocate and reclaim).
        if write && !vma.flags.contains(.shared) {
            guard self.anonVMAPrepare(mm, slot: slot) else { return .oom }
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
        let memMap = self.phys.memMap
        defer { self.putPage(pfn) }
        // finish_fault(): the entry is still empty (waits and allocations let others run).
        guard self.pageTables.pte(root: mm.pgd, va: address).isNone else { return .minor(.spurious) }
        if !write {
            self.mapFilePage(pfn, file: file, mm: mm, address: address, flags: prot.subtracting(.writable))
            return major ? .major(.readFault) : .minor(.readFault)
        }
        if !vma.flags.contains(.shared) {
            // do_cow_fault(): a private copy; the page-cache page stays unmapped.
            guard let copy = self.phys.allocPages(.highUserMovable, order: 0) else { return .oom }
            guard self.pageTables.pte(root: mm.pgd, va: address).isNone else {
                self.phys.freePages(copy, order: 0)
                return .minor(.spurious)
            }
            memMap.setContent(copy, memMap.content(pfn))
            self.setPageAnon(copy, vma: mm.vma(slot), address: address)
            self.addMapping(copy, mm: mm, anon: true)
            _ = self.installPTE(
                mm, address, PTE(pfn: copy, flags: self.maybeMkwrite(prot, vma.flags).union(.dirty)))
            self.lruAddNew(copy, vma: mm.vma(slot))
            return major ? .major(.cowFault) : .minor(.cowFault)
        }
        self.mapFilePage(pfn, file: file, mm: mm, address: address, flags: prot.union([.writable, .dirty]))
        // fault_dirty_shared_page(): dirty, then the writer may be throttled.
        self.markPageDirty(pfn)
        if !file.isShmem { self.balanceDirtyPages() }
        return major ? .major(.sharedFault) : .minor(.sharedFault)
    }

    /// `do_fault_around()` + `filemap_map_pages()`: maps, read-only, every page already in the page
    /// cache and up to date within the `fault_around_bytes`-aligned window around `address`,
    /// clamped to the VMA, the page table and end of file, skipping entries already set, pages
    /// still being read and pages carrying the readahead mark (their fault must start the next
    /// readahead). Never starts I/O. Each page mapped lowers the file's `mmap_miss`. Returns
    /// whether the faulting address itself got mapped.
    func faultAround(_ mm: AddressSpace, slot: Int, address: UInt64) -> Bool {
        let pageSize = self.phys.pageSize
        let pages = max(self.faultAroundBytes, pageSize) >> UInt64(self.phys.pageShift)
        guard pages > 1 else { return false }
        let vma = mm.vma(slot)
        guard let fileID = vma.backing.fileID else { return false }
        let file = self.file(fileID)
        let window = pages * pageSize
        let tableSpan =
            UInt64(1) << UInt64(self.architecture.paging.shift(ofLevel: self.architecture.paging.levels - 2))
        var start = max(address & ~(window - 1), vma.start)
        start = max(start, address & ~(tableSpan - 1))
        let end = min(start + window, vma.end, (address & ~(tableSpan - 1)) + tableSpan)
        let filePages = (file.size + pageSize - 1) >> UInt64(self.phys.pageShift)
        let prot = self.pageProtection(vma.flags).subtracting(.writable)
        var mappedTarget = false
        var mapped = 0
        let memMap = self.phys.memMap
        // The window lies in one leaf table (the caller allocated it): walk it once, as
        // filemap_map_pages() works on vmf->pte.
        var unused = 0
        guard
            let table = self.pageTables.leafTable(root: mm.pgd, va: address, allocate: false, tables: &unused)
        else { return false }
        let last = self.architecture.paging.levels - 1
        var va = start
        var index = vma.linearPageIndex(start, pageShift: self.phys.pageShift)
        while va < end {
            defer {
                va += pageSize
                index += 1
            }
            guard index < filePages, let pfn = file.pages[index], memMap.test(pfn, .uptodate),
                !memMap.test(pfn, .locked), !memMap.test(pfn, .readahead)
            else { continue }
            let slot = self.architecture.paging.index(of: va, atLevel: last)
            guard self.pageTables.readEntry(table, slot, level: last).isNone else { continue }
            memMap.getPage(pfn)
            self.addMapping(pfn, mm: mm, anon: false)
            self.pageTables.writeEntry(table, slot, level: last, PTE(pfn: pfn, flags: prot))
            if !memMap.test(pfn, .workingset) { mapped += 1 }
            if va == address { mappedTarget = true }
        }
        if let open = vma.vmFile.flatMap(self.openFile) {
            open.ra.mmapMiss = mapped >= open.ra.mmapMiss ? 0 : open.ra.mmapMiss - mapped
        }
        return mappedTarget
    }

    /// Maps a page-cache page into `mm` (`set_pte_range()` + `folio_add_file_rmap_ptes()`).
    func mapFilePage(_ pfn: PFN, file: SimFile, mm: AddressSpace, address: UInt64, flags: PTEFlags) {
        self.phys.memMap.getPage(pfn)
        self.addMapping(pfn, mm: mm, anon: false)
        _ = self.installPTE(mm, address, PTE(pfn: pfn, flags: flags))
    }

    // MARK: Mapping counts

    /// A new PTE maps `pfn`: map count +1 (`NR_ANON_MAPPED`/`NR_FILE_MAPPED` on the first), and
    /// the mm's RSS counter. The caller holds the page reference the PTE stands for.
    func addMapping(_ pfn: PFN, mm: AddressSpace, anon: Bool) {
        let memMap = self.phys.memMap
        memMap.incMapCount(pfn)
        let shmem = !anon && memMap.test(pfn, .swapBacked)
        if memMap.mapCount(pfn) == 1 { self.phys.mod(anon ? .nrAnonPages : .nrMapped, 1) }
        mm.addRSS(anon ? .anonPages : (shmem ? .shmemPages : .filePages), 1)
    }

    /// A PTE stops mapping `pfn`: map count −1, RSS −1, and the PTE's page reference dropped (the
    /// page is freed when that was the last one).
    func removeMapping(_ pfn: PFN, mm: AddressSpace) {
        let memMap = self.phys.memMap
        let anon = memMap.test(pfn, .anon)
        let shmem = !anon && memMap.test(pfn, .swapBacked)
        if memMap.decMapCount(pfn) { self.phys.mod(anon ? .nrAnonPages : .nrMapped, -1) }
        mm.addRSS(anon ? .anonPages : (shmem ? .shmemPages : .filePages), -1)
        self.putPage(pfn)
    }

    /// `put_page()`: drops a reference; the last one frees the page (off the LRU, out of rmap).
    func putPage(_ pfn: PFN) {
        let memMap = self.phys.memMap
        if memMap.refCount(pfn) == 1 {
            self.lruDelete(pfn)
            self.unfileAnonPage(pfn)
            memMap.removeFlags(
                pfn, [.anon, .anonExclusive, .swapBacked, .dirty, .uptodate, .referenced, .active])
        }
        self.phys.freePages(pfn, order: 0)
    }

    // MARK: Tearing down

    /// `zap_pte_range()` over `range` of `mm`: every entry cleared, every page's mapping dropped
    /// (a dirty file PTE marks the page dirty first), swap entries released; emptied page
    /// tables freed (only PTE tables for `MADV_DONTNEED`, every level for `munmap`); the TLB flushed.
    func zapRange(_ mm: AddressSpace, _ range: Range<UInt64>, leafTablesOnly: Bool = false) {
        guard !range.isEmpty else { return }
        var tables = 0
        var freed: [(PFN, Bool)] = []
        var swaps: [SwapEntry] = []
        self.pageTables.zapRange(root: mm.pgd, range: range, leafTablesOnly: leafTablesOnly, tables: &tables)
        { _, pte in
            if pte.mapsFrame {
                if pte.pfn != self.zeroPFN { freed.append((pte.pfn, pte.contains(.dirty))) }
            } else if let swap = pte.swapEntry {
                swaps.append(swap)
            }
        }
        mm.pageTablePages += tables
        self.flushTLB(mm, range: range)
        let memMap = self.phys.memMap
        for (pfn, dirty) in freed {
            if dirty && !memMap.test(pfn, .anon) { self.markPageDirty(pfn) }
            // free_swap_cache(): an unmapped swap-cache page nobody else needs goes with its slot.
            let swapCached = memMap.test(pfn, .swapCache) && memMap.mapCount(pfn) == 1
            if swapCached { memMap.getPage(pfn) }
            self.removeMapping(pfn, mm: mm)
            if swapCached {
                self.freeSwapCache(pfn)
                self.putPage(pfn)
            }
        }
        for swap in swaps {
            mm.addRSS(.swapEntries, -1)
            self.freeSwapEntry(swap)
        }
    }
}
