import VMPaging
import VMPhys
import VMTypes

/// How an executable image is laid out (what the ELF program headers would say).
public struct ImageLayout: Sendable, Hashable {
    public var text: UInt64
    public var data: UInt64
    public var bss: UInt64
    public init(text: UInt64 = 64 << 10, data: UInt64 = 16 << 10, bss: UInt64 = 16 << 10) {
        self.text = text
        self.data = data
        self.bss = bss
    }
}

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

    // MARK: exec

    /// `execve()` of an image at `path`: a fresh address space laid out as binfmt_elf does for a
    /// non-PIE static binary with randomisation off — text (r-x) and data (rw-) mapped privately
    /// from the image file, bss as anonymous memory right after, the break (`start_brk`) at the
    /// page-aligned end of bss, `mmap_base` 128 MiB below the stack top (`mmap_base()` with an
    /// 8 MiB RLIMIT_STACK), `[vvar]`/`[vdso]` just below it, and a 132 KiB `[stack]` ending at
    /// `STACK_TOP` whose top page (argv, envp) is present. The image is created in the page cache
    /// on first use, so every process running it shares its text frames.
    ///
    /// Simplified: one text, one data segment; no program interpreter or shared libraries. An
    /// image whose text, data and bss do not fit between the load address and `[vvar]` is
    /// refused with ENOMEM before anything changes; Linux finds that out only while mapping the
    /// segments (`elf_load()`, `vm_brk_flags()`), past the point of no return, and kills the task.
    @discardableResult
    public func exec(_ task: Task, path: String, layout: ImageLayout) throws(MMError) -> AddressSpace {
        let page = self.phys.pageSize
        let is64 = self.architecture.is64Bit
        let textStart: UInt64 = is64 ? 0x40_0000 : 0x0804_8000
        let stackTop = is64 ? 0x7fff_ffff_f000 : self.architecture.userTop
        let mmapBase = (stackTop - (128 << 20)) & ~self.pageMask
        // Every size is checked against the room before it is rounded or added, so nothing the
        // caller passes can overflow.
        let room = mmapBase - 6 * page - textStart
        guard layout.text <= room, layout.data <= room, layout.bss <= room else {
            throw .noMemory(
                "\(path): an image of \(layout.text) + \(layout.data) + \(layout.bss) bytes does not fit")
        }
        let text = self.pageAlign(max(layout.text, page))
        let data = self.pageAlign(layout.data)
        let bss = self.pageAlign(layout.bss)
        guard text + data + bss <= room else {
            throw .noMemory(
                "\(path): an image of \(text + data + bss) bytes does not fit below \(hex(mmapBase))")
        }
        self.switchTo(task)
        // open_exec(): an image that does not exist yet is installed, as if just built, and
        // cached; one created beforehand (a `file` line) is read from disk as it faults in.
        if self.file(at: path) == nil { try self.installFile(path, size: text + data, cached: true) }
        let dentry = try self.pathLookup(path)
        defer { self.dput(dentry) }
        let image = self.file(dentry.inode!)
        guard image.kind == .regular else { throw .isDirectory(path) }
        guard image.size >= text + data else {
            throw .invalid(
                "\(path) is \(image.size) bytes: too small for \(text + data) bytes of text and data")
        }
        guard let exe = self.allocOpenFile(image, dentry: dentry) else {
            throw .noMemory("no memory for a file")
        }
        // The areas and exe_file take their own references.
        defer { self.fput(exe.id) }
        guard let mm = self.allocMM() else { throw .noMemory("no memory for a new mm") }
        let old = task.mm
        task.mm = mm
        if let old { self.mmput(old) }
        task.name = String(path.split(separator: "/").last.map(String.init)?.prefix(15) ?? "a.out")
        mm.exeFile = exe.id
        self.fget(exe.id)
        mm.mmapBase = mmapBase
        func map(_ start: UInt64, _ size: UInt64, _ flags: VMFlags, _ backing: VMABacking, pgoff: UInt64)
            throws(MMError)
        {
            guard size > 0 else { return }
            var file: Int?
            if case .file = backing { file = exe.id }
            let vma = VMA(
                start: start, end: start + size, flags: flags.union(.softDirty), pgoff: pgoff,
                backing: backing, anonVMA: nil, vmFile: file, anonName: nil)
            guard let slot = self.insertVMA(mm, vma) else {
                throw .noMemory("no memory for a vm_area_struct")
            }
            self.accountVMA(mm, mm.vma(slot), sign: 1)
        }
        let may: VMFlags = [.mayRead, .mayWrite, .mayExec]
        try map(textStart, text, may.union([.read, .exec]), .file(image.id), pgoff: 0)
        let dataStart = textStart + text
        try map(
            dataStart, data, may.union([.read, .write, .account]), .file(image.id),
            pgoff: text >> UInt64(self.phys.pageShift))
        let bssStart = dataStart + data
        try map(
            bssStart, bss, VMFlags.dataDefaultFlags.union(.account), .anonymous,
            pgoff: bssStart >> UInt64(self.phys.pageShift))
        mm.startCode = textStart
        mm.endCode = textStart + text
        mm.startData = dataStart
        mm.endData = dataStart + data
        mm.startBrk = bssStart + bss
        mm.brk = mm.startBrk
        // vvar (4 pages) and vdso (2 pages) right below mmap_base, as map_vdso() places them.
        try map(
            mm.mmapBase - 6 * page, 4 * page, [.read, .mayRead, .io, .pfnMap, .dontExpand, .dontDump],
            .special("[vvar]"), pgoff: 0)
        try map(
            mm.mmapBase - 2 * page, 2 * page, [.read, .exec, .mayRead, .mayWrite, .mayExec, .dontExpand],
            .special("[vdso]"), pgoff: 0)
        let stackSize: UInt64 = page + (128 << 10)
        try map(
            stackTop - stackSize, stackSize, VMFlags.stackFlags, .anonymous,
            pgoff: (stackTop - stackSize) >> UInt64(self.phys.pageShift))
        mm.startStack = stackTop - 0x100
        self.emit(.exec(pid: task.pid, path: path))
        // The argument page (argv, envp, auxv): copied in by the kernel through get_user_pages(),
        // a fault counted for the task.
        if self.userAccessForPopulate(task, stackTop - page, write: true) {
            let pfn = self.pageTables.pte(root: mm.pgd, va: stackTop - page).pfn
            self.phys.memMap.setContent(pfn, 0xA46F_0000_0000_0000 | UInt64(task.pid))
        }
        mm.hiwaterVM = mm.totalVM
        return mm
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
        child.mm = mm
        // dup_fd(): the child shares every open file.
        child.files = parent.files
        for open in parent.files.values { self.fget(open) }
        child.oomScoreAdj = parent.oomScoreAdj
        child.stackLimit = parent.stackLimit
        for field in [
            \AddressSpace.startCode, \.endCode, \.startData, \.endData, \.startBrk, \.brk, \.startStack,
            \.mmapBase,
        ] {
            mm[keyPath: field] = pmm[keyPath: field]
        }
        mm.exeFile = pmm.exeFile
        if let exe = mm.exeFile { self.fget(exe) }
        let memMap = self.phys.memMap
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
                        memMap.getPage(pfn)
                        let anon = memMap.test(pfn, .anon)
                        if anon { memMap.removeFlags(pfn, .anonExclusive) }
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
            self.exitTask(child, reason: .killed(signal: Signal.sigkill))
            self.reap(child)
            throw .noMemory("fork ran out of memory")
        }
        self.emit(.fork(parent: parent.pid, child: child.pid))
        return child
    }

    // MARK: exit and wait

    /// `do_exit()`: the address space is released (`exit_mm()` → `mmput()`), the kernel stack is
    /// freed, children go to init, and the task becomes a zombie until its parent reaps it
    /// (init reaps its children at once).
    public func exitTask(_ task: Task, reason: ExitReason) {
        guard task.state == .running || task.state == .sleeping else { return }
        if let mm = task.mm {
            task.mm = nil
            // Someone else holds the mm (swapoff's walk): its memory goes now, as the OOM
            // reaper frees a victim's (`__oom_reap_task_mm()`), and the VMAs, page tables and
            // mm_struct with the last mmput().
            if mm.users > 1 { self.reapMM(mm) }
            self.mmput(mm)
        }
        // exit_files(): every descriptor closed.
        for fd in task.files.keys.sorted() { try? self.close(task, fd: fd) }
        if self.current === task { self.current = nil }
        self.freeKernelStack(task)
        task.state = .zombie
        task.exitReason = reason
        for pid in task.children {
            guard let child = self.tasks[pid] else { continue }
            child.parentPID = 1
            self.tasks[1]?.children.append(pid)
            if child.state == .zombie { self.reap(child) }
        }
        task.children = []
        self.emit(.exit(pid: task.pid, reason: reason))
        if task.parentPID == 1 || task.parentPID == 0 { self.reap(task) }
    }

    /// `wait()` by `parent`: reaps a zombie child (the given one, or any); returns it.
    @discardableResult
    public func wait(_ parent: Task, for pid: Int? = nil) -> Task? {
        let candidates = parent.children.compactMap { self.tasks[$0] }.filter {
            $0.state == .zombie && (pid == nil || $0.pid == pid)
        }
        guard let child = candidates.first else { return nil }
        self.reap(child)
        return child
    }

    /// `release_task()`: frees a zombie's task_struct and forgets it.
    func reap(_ task: Task) {
        guard task.state == .zombie else { return }
        task.state = .dead
        self.tasks[task.parentPID]?.children.removeAll { $0 == task.pid }
        self.releaseTask(task)
        self.emit(.reap(pid: task.pid))
    }

    func releaseTask(_ task: Task) {
        self.freeKernelStack(task)
        if task.object != 0 {
            self.phys.kmemCacheFree(self.caches.taskStruct, task.object)
            task.object = 0
        }
        task.state = .dead
        self.tasks[task.pid] = nil
    }

    /// `fork()` + `execve()` from init: a new process running the image at `path`.
    public func spawn(name: String, path: String? = nil, layout: ImageLayout = ImageLayout()) throws(MMError)
        -> Task
    {
        defer { self.runKswapdIfWoken() }
        guard let task = self.allocTask(name: name, parentPID: 1) else {
            throw .noMemory("no memory for a task")
        }
        do {
            try self.exec(task, path: path ?? "/bin/\(name)", layout: layout)
        } catch {
            self.exitTask(task, reason: .killed(signal: Signal.sigkill))
            throw error
        }
        task.name = String(name.prefix(15))
        return task
    }
}
