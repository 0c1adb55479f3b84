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

/// `execve(2)` (fs/exec.c, fs/binfmt_elf.c) and `spawn`, a fork + exec from init.
extension Kernel {
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
        self.memcgBind(mm, to: task)
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

    /// `fork()` + `execve()` from init: a new process running the image at `path`.
    public func spawn(
        name: String, path: String? = nil, layout: ImageLayout = ImageLayout(), memcg: MemCgroup? = nil
    ) throws(MMError) -> Task {
        defer { self.runKswapdIfWoken() }
        guard let task = self.allocTask(name: name, parentPID: 1) else {
            throw .noMemory("no memory for a task")
        }
        // Started inside `memcg` (systemd-run --scope, a container runtime): charges from exec on.
        if let memcg { self.memcgMove(task, to: memcg) }
        do {
            try self.exec(task, path: path ?? "/bin/\(name)", layout: layout)
        } catch {
            self.exitTask(task, reason: .killed(.sigkill))
            throw error
        }
        task.name = String(name.prefix(15))
        return task
    }
}
