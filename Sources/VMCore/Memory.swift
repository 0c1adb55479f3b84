import VMPaging
import VMPhys
import VMTypes

/// The outcome of a simulated user-mode access.
public enum AccessResult: Hashable, Sendable {
    /// The access completed: the value read, or the value written.
    case ok(value: UInt64)
    /// The task received a fatal signal (SIGSEGV, SIGBUS) and was killed.
    case signal(SignalInfo)
    /// The task's handler caught the signal and returned past the access (`siglongjmp`): the
    /// access did not happen, the task runs on, and the caller abandons what it was doing.
    case caught(SignalInfo)
    /// No memory could be found and the task was killed.
    case outOfMemory

    public var value: UInt64? {
        if case .ok(let v) = self { return v }
        return nil
    }
}

/// User-mode accesses through the MMU, mapping counts, and tearing mappings down (mm/memory.c:
/// `zap_pte_range()`); the fault handlers are in Fault.swift.
extension Kernel {
    // MARK: User accesses

    /// Back to user space from a handled fault: the dirty throttling the fault asked for, then
    /// `returnToUser` (kswapd, memory.high; false when the task was killed).
    func returnFromFault(_ task: Task) -> Bool {
        self.balanceDirtyPagesIfPending()
        return self.returnToUser(task)
    }

    /// One user-mode load, store or instruction fetch by `task` at `address`, exactly as the CPU
    /// and kernel would handle it: the MMU translates (TLB, walk); a fault goes to
    /// `doUserAddrFault`, and the access is retried once the fault is handled. A write stores
    /// `value` in the frame's content word; a read returns the word. A fault signal kills the
    /// task, or, when it has a handler for it, is caught (`.caught`: the access is skipped).
    ///
    /// `keepContent` makes a store leave the word as it is: a write by code whose bytes are not
    /// the page's data (the C library's allocator writing a chunk header in a page of the
    /// program's data) still faults, dirties and breaks copy-on-write like any store.
    public func userAccess(
        _ task: Task, address: UInt64, access: Access, value: UInt64 = 0, keepContent: Bool = false
    ) -> AccessResult {
        precondition(
            task.state == .running && task.mm != nil, "userAccess: task \(task.pid) cannot run user code")
        // The common case first, with nothing retained: the task runs already and the TLB holds
        // a translation that allows the access (a kernel-mode replay spends 99.99% of its
        // accesses here).
        if self.current !== task || self.loadedMM !== task.mm { self.switchTo(task) }
        self.chargeCPU(1)
        let pa = self.mmu.access(address, access, .user)
        if pa != MMU.faulted {
            let pfn = PFN(rawValue: pa >> UInt64(self.phys.pageShift))
            if access == .write && !keepContent {
                self.phys.memMap.setContent(pfn, value)
                return .ok(value: value)
            }
            return .ok(value: self.phys.memMap.content(pfn))
        }
        return self.userAccessFaulted(
            task, address: address, access: access, value: value, keepContent: keepContent)
    }

    /// The rest of `userAccess` once the first translation faulted: the fault, the retried
    /// access, the return to user space.
    private func userAccessFaulted(
        _ task: Task, address: UInt64, access: Access, value: UInt64, keepContent: Bool
    ) -> AccessResult {
        let shift = UInt64(self.phys.pageShift)
        var attempts = 0
        var first = true
        // The return to user space after a handled fault (kswapd, memory.high reclaim, the dirty
        // throttling the fault asked for) is run once the retried access has completed. vmsim
        // runs that work synchronously; in Linux it runs beside the store on other CPUs, and
        // run before it, writeback could write-protect the page a shared write fault just made
        // writable, every time.
        var returnPending = false
        while true {
            let pa = first ? MMU.faulted : self.mmu.access(address, access, .user)
            first = false
            if pa != MMU.faulted {
                let pfn = PFN(rawValue: pa >> shift)
                let result: AccessResult
                if access == .write && !keepContent {
                    self.phys.memMap.setContent(pfn, value)
                    result = .ok(value: value)
                } else {
                    result = .ok(value: self.phys.memMap.content(pfn))
                }
                // An OOM victim chosen meanwhile dies on the way back.
                if returnPending, !self.returnFromFault(task) { return .outOfMemory }
                return result
            }
            guard let fault = self.mmu.lastFault else {
                preconditionFailure("userAccess: fault without details")
            }
            if returnPending {
                returnPending = false
                guard self.returnFromFault(task) else { return .outOfMemory }
                continue
            }
            attempts += 1
            precondition(attempts < 16, "userAccess: fault at \(hex(address)) not resolved: \(fault)")
            switch self.doUserAddrFault(task, fault) {
            case .handled:
                self.chargeCPU(1000)
                // A task the OOM killer chose during the fault dies before it runs again.
                if self.reclaim.pendingKills.contains(task.pid) {
                    guard self.returnFromFault(task) else { return .outOfMemory }
                }
                returnPending = true
                continue
            case .signal(let signal, let code, let detail):
                let info = SignalInfo(signal, code, address: address, detail: detail)
                if self.deliverFaultSignal(task, info, errorCode: fault.errorCode) { return .caught(info) }
                return .signal(info)
            case .outOfMemory:
                if self.reclaim.pendingKills.remove(task.pid) == nil {
                    // No victim could be found: the task that cannot get memory goes.
                    self.printk(
                        "Out of memory: killed process \(task.pid) (\(task.name)) on a page fault at \(hex(address))"
                    )
                }
                self.exitTask(task, reason: .killed(.sigkill))
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
        case signal(Signal, SignalCode, String)
        case outOfMemory
    }

    /// `do_user_addr_fault()`: find the VMA (growing a stack if the address is just below one),
    /// refuse accesses the VMA does not allow (`access_error()`: SIGSEGV, not counted as a
    /// fault), then `handle_mm_fault()`. Completed faults count in `pgfault` and the task's
    /// `min_flt`/`maj_flt` (`mm_account_fault()`); failed ones only in `pgfault`.
    func doUserAddrFault(_ task: Task, _ fault: PageFault) -> UserFaultOutcome {
        guard let mm = task.mm else { return .signal(.sigsegv, .kernel, "kernel thread") }
        let address = fault.address
        if fault.cause == .nonCanonical {
            return .signal(.sigsegv, .kernel, "general protection (non-canonical address)")
        }
        guard var slot = mm.findSlot(address) else {
            return .signal(.sigsegv, .mapError, "no mapping")
        }
        if mm.start(ofSlot: slot) > address {
            guard mm.flags(ofSlot: slot).contains(.growsDown) else {
                return .signal(.sigsegv, .mapError, "no mapping")
            }
            guard self.expandStack(task, mm, slot: slot, address: address) else {
                return .signal(.sigsegv, .mapError, "stack cannot grow")
            }
            slot = mm.slot(containing: address)!
        }
        let flags = mm.flags(ofSlot: slot)
        if Kernel.accessError(fault.errorCode, flags) {
            return .signal(.sigsegv, .accessError, "\(flags.permissions) mapping")
        }
        // The frame mapped before the fault, only when a trace or an event log shows it.
        let frames = self.eventSink != nil && self.eventsCarryFrames
        let oldFrame = frames ? self.mappedFrame(mm, address) : nil
        let result = self.handleMMFault(mm, slot: slot, address: address, write: fault.access == .write)
        self.phys.count(.pgfault)
        switch result {
        case .minor(let kind):
            task.minorFaults += 1
            if self.memcg.isActive { self.memcg(of: task).count(.pgfault) }
            self.emit(
                .fault(
                    pid: task.pid, address: address, access: fault.access, kind: kind, major: false,
                    old: oldFrame,
                    new: frames ? self.mappedFrame(mm, address) : nil))
            return .handled
        case .major(let kind):
            task.majorFaults += 1
            self.phys.count(.pgmajfault)
            if self.memcg.isActive {
                self.memcg(of: task).count(.pgfault)
                self.memcg(of: task).count(.pgmajfault)
            }
            self.emit(
                .fault(
                    pid: task.pid, address: address, access: fault.access, kind: kind, major: true,
                    old: oldFrame,
                    new: frames ? self.mappedFrame(mm, address) : nil))
            return .handled
        case .sigbus:
            return .signal(.sigbus, .addressError, "beyond the end of the object")
        case .sigsegv:
            return .signal(.sigsegv, .mapError, "")
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

    // MARK: Mapping counts

    /// A new PTE maps `pfn`: map count +1 (`NR_ANON_MAPPED`/`NR_FILE_MAPPED` on the first), and
    /// the mm's RSS counter. The caller holds the page reference the PTE stands for.
    func addMapping(_ pfn: PFN, mm: AddressSpace, anon: Bool) {
        self.phys.memMap.incMapCount(pfn)
        let shmem = !anon && self.phys.memMap.test(pfn, .swapBacked)
        if self.phys.memMap.mapCount(pfn) == 1 { self.phys.mod(anon ? .nrAnonPages : .nrMapped, 1) }
        mm.addRSS(anon ? .anonPages : (shmem ? .shmemPages : .filePages), 1)
    }

    /// A PTE stops mapping `pfn`: map count −1, RSS −1, and the PTE's page reference dropped (the
    /// page is freed when that was the last one).
    func removeMapping(_ pfn: PFN, mm: AddressSpace) {
        let anon = self.phys.memMap.test(pfn, .anon)
        let shmem = !anon && self.phys.memMap.test(pfn, .swapBacked)
        if self.phys.memMap.decMapCount(pfn) { self.phys.mod(anon ? .nrAnonPages : .nrMapped, -1) }
        mm.addRSS(anon ? .anonPages : (shmem ? .shmemPages : .filePages), -1)
        self.putPage(pfn)
    }

    /// `put_page()`: drops a reference; the last one frees the page (off the LRU, out of rmap).
    func putPage(_ pfn: PFN) {
        if self.phys.memMap.refCount(pfn) == 1 {
            self.lruDelete(pfn)
            self.memcgUncharge(pfn)
            self.unfileAnonPage(pfn)
            self.phys.memMap.removeFlags(
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
        self.memcgSyncPageTables(mm)
        self.flushTLB(mm, range: range)
        for (pfn, dirty) in freed {
            if dirty && !self.phys.memMap.test(pfn, .anon) { self.markPageDirty(pfn) }
            // free_swap_cache(): an unmapped swap-cache page nobody else needs goes with its slot.
            let swapCached = self.phys.memMap.test(pfn, .swapCache) && self.phys.memMap.mapCount(pfn) == 1
            if swapCached { self.phys.memMap.getPage(pfn) }
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
