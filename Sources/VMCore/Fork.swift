import VMPaging
import VMPhys
import VMTypes

/// Process life cycle (kernel/fork.c, fs/exec.c, fs/binfmt_elf.c, kernel/exit.c).
extension Kernel {
    // MARK: Tasks

    /// Creates `init` (pid 1, running /sbin/init) and `kthreadd` (pid 2, a kernel thread).
    func bootTasks() -> Bool {
        guard let initTask = self.allocTask(name: "init", parentPID: 0) else { return false }
        guard
            (try? self.exec(
                initTask, path: "/sbin/init", layout: ImageLayout(text: 32 << 10, data: 8 << 10, bss: 8 << 10)
            )) != nil
        else {
            return false
        }
        guard self.allocTask(name: "kthreadd", parentPID: 0) != nil else { return false }
        return true
    }

    /// `dup_task_struct()` + `alloc_pid()`: a task_struct object and a kernel stack — a vmalloc
    /// area with a guard page on x86-64 (`CONFIG_VMAP_STACK`), `THREAD_SIZE` contiguous pages on
    /// i386. Counted in `KernelStack`. Returns nil when memory runs out.
    func allocTask(name: String, parentPID: Int) -> Task? {
        guard let object = self.phys.kmemCacheAlloc(self.caches.taskStruct, .kernelAccount) else {
            return nil
        }
        let size = self.architecture.kernelStackSize
        let stack: KernelStack
        if self.architecture.vmapStack {
            guard let va = self.phys.vmalloc(size, align: size, caller: "alloc_thread_stack_node") else {
                self.phys.kmemCacheFree(self.caches.taskStruct, object)
                return nil
            }
            for pfn in self.phys.vmallocArea(at: va)!.pages {
                self.phys.memMap.insertFlags(pfn, .kernelStack)
            }
            stack = .vmalloc(va)
        } else {
            let order = self.phys.getOrder(Int(size))
            guard let pfn = self.phys.allocPages(.kernelAccount, order: order) else {
                self.phys.kmemCacheFree(self.caches.taskStruct, object)
                return nil
            }
            self.phys.memMap.insertFlags(pfn, .kernelStack)
            stack = .pages(pfn, order: order)
        }
        self.phys.mod(.nrKernelStack, Int(size >> 10))
        let task = Task(pid: self.nextPID, name: name, parentPID: parentPID)
        self.nextPID += 1
        task.kernelStack = stack
        task.object = object
        self.tasks[task.pid] = task
        self.tasks[parentPID]?.children.append(task.pid)
        // cgroup_fork(): the child starts in its parent's cgroup.
        if self.memcg.isActive, let parent = self.tasks[parentPID] {
            let g = self.memcg(of: parent)
            if !g.isRoot { self.memcgMove(task, to: g) }
        }
        return task
    }

    /// Frees a task's kernel stack (`free_thread_stack()`, at its last context switch).
    func freeKernelStack(_ task: Task) {
        guard let stack = task.kernelStack else { return }
        switch stack {
        case .vmalloc(let va):
            self.phys.vfree(va)
        case .pages(let pfn, let order):
            self.phys.memMap.removeFlags(pfn, .kernelStack)
            self.phys.freePages(pfn, order: order)
        }
        self.phys.mod(.nrKernelStack, -Int(self.architecture.kernelStackSize >> 10))
        task.kernelStack = nil
    }

    /// `mm_alloc()` + `pgd_alloc()`: an empty address space sharing the kernel half.
    func allocMM() -> AddressSpace? {
        guard let object = self.phys.kmemCacheAlloc(self.caches.mmStruct, .kernel) else { return nil }
        var tables = 0
        guard
            let pgd = self.pageTables.allocRoot(
                sharingKernelHalfOf: self.kernelRoot, userTop: self.architecture.userTop, tables: &tables)
        else {
            self.phys.kmemCacheFree(self.caches.mmStruct, object)
            return nil
        }
        let mm = AddressSpace(id: self.nextMMID, pgd: pgd)
        self.nextMMID += 1
        mm.object = object
        self.addressSpaces[mm.id] = mm
        return mm
    }

    /// `mmput()`: drops a user; the last one tears the address space down (`exit_mmap()`): every
    /// VMA zapped and freed, the page tables and the root freed, the mm_struct freed.
    func mmput(_ mm: AddressSpace) {
        mm.users -= 1
        guard mm.users == 0 else { return }
        mm.updateHiwater()
        for vma in mm.vmas {
            guard let slot = mm.slot(containing: vma.start) else { continue }
            self.zapRange(mm, vma.start..<vma.end)
            self.accountVMA(mm, vma, sign: -1)
            self.deleteVMA(mm, slot)
        }
        self.forgetASID(mm)
        if let exe = mm.exeFile {
            mm.exeFile = nil
            self.fput(exe)
        }
        var tables = 0
        self.pageTables.freeAddressSpace(root: mm.pgd, userTop: self.architecture.userTop, tables: &tables)
        mm.pageTablePages += tables + 1
        self.memcgSyncPageTables(mm)
        self.phys.kmemCacheFree(self.caches.mmStruct, mm.object)
        self.addressSpaces[mm.id] = nil
    }

    /// `__oom_reap_task_mm()`: unmaps every page and swap entry of an mm that outlives its
    /// owner, leaving its VMAs and page-table root for the last `mmput()`. Simplified: Linux
    /// reaps only private and anonymous areas that are not locked; shared and locked pages
    /// go here too (the final `exit_mmap()` would free them a moment later).
    func reapMM(_ mm: AddressSpace) {
        mm.updateHiwater()
        for vma in mm.vmas { self.zapRange(mm, vma.start..<vma.end) }
    }

    // MARK: fork

    /// `fork()`: a child with a copy of the parent's address space (`dup_mmap()`). Every VMA is
    /// copied except `VM_DONTCOPY` ones; only VMAs with an anon_vma get their PTEs copied
    /// (`vma_needs_copy()`): each shared anonymous page gains a reference and a mapping, loses
    /// its exclusive mark, and both PTEs become read-only (copy-on-write); the child's entries are
    /// "old". Shared and file VMAs are not copied; the child faults them in. `VM_WIPEONFORK`
    /// areas start empty; `mlock` is not inherited. The parent's TLB is flushed.
    public func fork(_ parent: Task, childName: String? = nil) throws(MMError) -> Task {
        defer { self.returnToUser(parent) }
        guard let pmm = parent.mm else { throw .invalid("kernel threads are not forked here") }
        // fork() runs in the parent: an OOM kill of it while copying is a pending signal.
        self.switchTo(parent)
        guard let child = self.allocTask(name: childName ?? parent.name, parentPID: parent.pid) else {
            throw .noMemory("no memory for a task")
        }
        // Not on the task list until copy_process() is done: the OOM killer cannot pick the
        // half-built child and free the mm being filled.
        child.state = .sleeping
        defer { if child.state == .sleeping { child.state = .running } }
        guard let mm = self.allocMM() else {
            self.releaseTask(child)
            throw .noMemory("no memory for an mm")
        }
        self.memcgBind(mm, to: child)
        child.mm = mm
        // dup_fd(): the child shares every open file.
        child.files = parent.files
        for open in parent.files.values { self.fget(open) }
        child.oomScoreAdj = parent.oomScoreAdj
        child.stackLimit = parent.stackLimit
        child.addressSpaceLimit = parent.addressSpaceLimit
        child.dataLimit = parent.dataLimit
        // copy_sighand(): the handlers; the handler's own counters are in the copied memory.
        child.caughtSignals = parent.caughtSignals
        child.signalsCaught = parent.signalsCaught
        child.lastCaughtSignal = parent.lastCaughtSignal
        for field in [
            \AddressSpace.startCode, \.endCode, \.startData, \.endData, \.startBrk, \.brk, \.startStack,
            \.mmapBase,
        ] {
            mm[keyPath: field] = pmm[keyPath: field]
        }
        mm.exeFile = pmm.exeFile
        if let exe = mm.exeFile { self.fget(exe) }
        var failed = false
        for pvma in pmm.vmas where !pvma.flags.contains(.dontCopy) {
            // dup_mmap(): a parent with a fatal signal stops copying (-EINTR).
            if self.fatalSignalPending(parent) {
                failed = true
                break
            }
            var vma = pvma
            vma.anonVMA = nil
            vma.anonChain = []
            vma.flags.subtract([.locked, .lockOnFault])
            guard let slot = self.insertVMA(mm, vma) else {
                failed = true
                break
            }
            self.accountVMA(mm, mm.vma(slot), sign: 1)
            if pvma.flags.contains(.wipeOnFork) { continue }
            guard self.anonVMAFork(mm, slot: slot, parent: pvma) else {
                failed = true
                break
            }
            guard pvma.anonVMA != nil else { continue }
            // copy_page_range()
            let cow = pvma.flags.isCOWMapping
            var childPTEs: [(UInt64, PTE)] = []
            self.pageTables.updatePTEs(root: pmm.pgd, range: pvma.start..<pvma.end) { va, pte in
                var parentPTE = pte
                var childPTE = pte
                if pte.mapsFrame {
                    let pfn = pte.pfn
                    if pfn != self.zeroPFN {
                        self.phys.memMap.getPage(pfn)
                        let anon = self.phys.memMap.test(pfn, .anon)
                        if anon { self.phys.memMap.removeFlags(pfn, .anonExclusive) }
                        self.addMapping(pfn, mm: mm, anon: anon)
                    }
                    if cow && pte.contains(.writable) {
                        parentPTE.flags.remove(.writable)
                        childPTE.flags.remove(.writable)
                    }
                    if pvma.flags.contains(.shared) { childPTE.flags.remove(.dirty) }
                    childPTE.flags.remove(.accessed)
                } else if let swap = pte.swapEntry {
                    // copy_nonpresent_pte(): the slot is shared now; neither entry is exclusive.
                    self.swapDuplicate(swap)
                    mm.addRSS(.swapEntries, 1)
                    parentPTE = PTE(swap: swap)
                    childPTE = PTE(swap: swap)
                }
                childPTEs.append((va, childPTE))
                return parentPTE
            }
            for (va, pte) in childPTEs where !self.installPTE(mm, va, pte) {
                failed = true
                break
            }
            if failed { break }
            self.flushTLB(pmm, range: pvma.start..<pvma.end)
        }
        // dup_mmap() copies the areas one by one and never merges them: clearing VM_LOCKED can
        // make two neighbours the parent keeps apart (part of an area mlocked) identical in the
        // child, and Linux leaves them apart. The invariant checker is told which they are.
        let copied = mm.vmas
        for (a, b) in zip(copied, copied.dropFirst()) where self.canMerge(a, b) {
            mm.unmergedAtFork.insert(b.start)
        }
        mm.hiwaterRSS = mm.rssPages
        mm.hiwaterVM = mm.totalVM
        if failed {
            self.exitTask(child, reason: .killed(.sigkill))
            self.reap(child)
            throw .noMemory("fork ran out of memory")
        }
        self.emit(.fork(parent: parent.pid, child: child.pid))
        return child
    }

}
