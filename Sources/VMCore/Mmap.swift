import VMPaging
import VMPhys
import VMTypes

/// What to map (the arguments of `mmap(2)`).
public struct MapRequest: Sendable {
    public enum Backing: Sendable {
        case anonymous
        /// A file open in the calling task as descriptor `fd`.
        case file(fd: Int, offset: UInt64)
    }
    public var length: UInt64
    public var protection: Protection
    public var shared: Bool
    public var backing: Backing
    /// A hint, or the exact address with `fixed`.
    public var address: UInt64?
    public var fixed = false
    /// `MAP_FIXED_NOREPLACE`: fail rather than replace.
    public var noReplace = false
    public var populate = false
    public var locked = false
    public var noReserve = false
    public var growsDown = false
    public var name: String?

    public init(length: UInt64, protection: Protection, shared: Bool, backing: Backing = .anonymous) {
        self.length = length
        self.protection = protection
        self.shared = shared
        self.backing = backing
    }
}

/// Memory-map system calls (mm/mmap.c: `mmap(2)`, `munmap(2)`, `brk(2)`, `get_unmapped_area()`,
/// `expand_stack()`); VMA splitting and merging are in VMASplitMerge.swift (mm/vma.c), the other
/// calls in Mprotect.swift, Madvise.swift and Mlock.swift.
extension Kernel {
    /// `mmap_min_addr` (65536 on x86 distributions).
    public static let mmapMinAddr: UInt64 = 65536

    var pageMask: UInt64 { self.phys.pageSize - 1 }
    /// Rounds up to a page boundary (`PAGE_ALIGN()`), wrapping to 0 past the top of the 64-bit
    /// space as the C macro does: a system call that takes a length from the user checks the
    /// result the way its kernel counterpart does (`if (!len) return -ENOMEM` in `do_mmap()`,
    /// `end <= start` in `mprotect()`), so an overflow becomes an errno, never a trap.
    public func pageAlign(_ x: UInt64) -> UInt64 { (x &+ self.pageMask) & ~self.pageMask }

    /// `vm_start_gap()`: the lowest address a stack VMA keeps free below itself
    /// (`stack_guard_gap` under a `VM_GROWSDOWN` area), saturating at 0.
    func vmStartGap(_ vma: VMA) -> UInt64 {
        guard vma.flags.contains(.growsDown) else { return vma.start }
        return vma.start >= self.stackGuardGap ? vma.start - self.stackGuardGap : 0
    }

    // MARK: Accounting

    /// `vm_stat_account()`: total_vm, and exec/stack/data by the area's kind.
    func vmStatAccount(_ mm: AddressSpace, _ flags: VMFlags, _ pages: Int) {
        mm.totalVM += pages
        if flags.intersection([.exec, .write, .growsDown]) == .exec {
            mm.execVM += pages
        } else if flags.contains(.growsDown) {
            mm.stackVM += pages
        } else if flags.isDataMapping {
            mm.dataVM += pages
        }
    }

    /// `__vm_enough_memory()` with `overcommit_memory` 0 (heuristic): refuse only a single request
    /// larger than all RAM and swap.
    func vmEnoughMemory(_ pages: Int) -> Bool {
        pages <= Int(self.phys.totalRAMPages) + self.swapTotalPages
    }

    /// Adds an area's pages to the mm's books: `vm_stat_account`, locked and committed pages.
    func accountVMA(_ mm: AddressSpace, _ vma: VMA, sign: Int) {
        let pages = vma.pages(pageShift: self.phys.pageShift) * sign
        self.vmStatAccount(mm, vma.flags, pages)
        if vma.flags.contains(.locked) { mm.lockedVM += pages }
        if vma.flags.contains(.account) { mm.committedPages += pages }
    }

    // MARK: get_unmapped_area

    /// `arch_get_unmapped_area_topdown()` → `vm_unmapped_area()` (mm/mmap.c): the highest free
    /// gap below `mmap_base` that fits `length`, keeping `stack_guard_gap` below a stack; the
    /// mapping goes at the top of the gap. A hint, rounded up to a page, is used when the range
    /// there is free and clear of a stack's guard gap. O(log n) in the number of VMAs (the gap
    /// search of the maple tree), plus one retry for each stack whose guard gap a found range
    /// reaches into, as `unmapped_area_topdown()` retries.
    func getUnmappedArea(_ mm: AddressSpace, length: UInt64, hint: UInt64?) -> UInt64? {
        let top = self.architecture.userTop
        guard length > 0, length <= top else { return nil }
        // `TASK_SIZE - len >= addr`: the hint's end is never computed where it could wrap.
        if let hint, hint > 0 {
            let addr = self.pageAlign(hint)
            if top - length >= addr && addr >= Kernel.mmapMinAddr
                && mm.findVMA(addr).map({ addr + length <= self.vmStartGap($0) }) ?? true
            {
                return addr
            }
        }
        let low = Kernel.mmapMinAddr
        var high = min(mm.mmapBase, top)
        while true {
            guard let gapEnd = mm.highestGap(fitting: length, above: low, below: high) else { return nil }
            // The range ends at the next VMA or at `high`; a stack above it keeps its guard gap.
            if let next = mm.findVMA(gapEnd), next.flags.contains(.growsDown), self.vmStartGap(next) < gapEnd
            {
                high = self.vmStartGap(next)
                continue
            }
            return (gapEnd - length) & ~self.pageMask
        }
    }

    /// `__thp_get_unmapped_area()`: for a mapping at file offset `offset` spanning at least one
    /// whole huge page of the file, looks for `length + size` bytes and places the mapping so
    /// that address and file offset agree modulo `size` (top-down: one `size` up when already
    /// aligned). Nil when the mapping is too small, padding does not fit, or the hint was free.
    func thpGetUnmappedArea(_ mm: AddressSpace, length: UInt64, offset: UInt64, hint: UInt64?, size: UInt64)
        -> UInt64?
    {
        let offEnd = offset + length
        let offAlign = (offset + size - 1) / size * size
        guard offEnd > offAlign, offEnd - offAlign >= size else { return nil }
        let padded = length + size
        guard let found = self.getUnmappedArea(mm, length: padded, hint: hint) else { return nil }
        if let hint, found == hint { return found }
        let sub = (offset &- found) & (size - 1)
        return sub == 0 ? found + size : found + sub
    }

    // MARK: mmap

    /// `mmap(2)` for `task`: places and creates the mapping (merging with compatible neighbours),
    /// accounts it, and populates it for `MAP_POPULATE`/`MAP_LOCKED` (those faults count).
    public func mmap(_ task: Task, _ request: MapRequest) throws(MMError) -> UInt64 {
        defer { self.returnToUser(task) }
        guard let mm = task.mm else { throw .invalid("kernel threads have no address space") }
        guard request.length > 0 else { throw .invalid("length 0") }
        // do_mmap(): PAGE_ALIGN() wrapping to 0 is ENOMEM; __get_unmapped_area(): so is a
        // length beyond TASK_SIZE.
        let length = self.pageAlign(request.length)
        guard length > 0, length <= self.architecture.userTop else {
            throw .noMemory("length \(request.length) is beyond user space")
        }
        guard mm.mapCount <= self.maxMapCount else {
            throw .noMemory("max_map_count (\(self.maxMapCount)) reached")
        }
        var flags = request.protection.vmFlags.union([.mayRead, .mayWrite, .mayExec, .softDirty])
        var backing: VMABacking = .anonymous
        var pgoff: UInt64 = 0
        var vmFile: OpenFile?
        switch request.backing {
        case .anonymous:
            break
        case .file(let fd, let offset):
            guard offset & self.pageMask == 0 else {
                throw .invalid("file offset \(offset) is not page-aligned")
            }
            let open = try self.descriptor(task, fd)
            let file = self.file(open.file)
            // do_mmap(): a shared writable mapping would write to the blocks swap owns.
            if request.shared && request.protection.contains(.write) && file.isSwapFile {
                throw .textBusy("\(file.path) is an active swap file")
            }
            guard offset <= Kernel.maxFileSize else { throw .tooBig("offset beyond 16 TiB") }
            backing = file.isShmem ? .shmem(file.id) : .file(file.id)
            pgoff = offset >> UInt64(self.phys.pageShift)
            vmFile = open
        }
        if request.shared { flags.formUnion([.shared, .mayShare]) }
        if request.locked { flags.insert(.locked) }
        if request.noReserve { flags.insert(.noReserve) }
        if request.growsDown { flags.insert(.growsDown) }
        if !request.shared && request.protection.contains(.write) && !request.noReserve {
            flags.insert(.account)
        }
        let start: UInt64
        if request.fixed {
            guard let address = request.address, address & self.pageMask == 0 else {
                throw .invalid("MAP_FIXED address is not page-aligned")
            }
            guard address >= Kernel.mmapMinAddr else {
                throw .notPermitted("\(hex(address)) is below mmap_min_addr")
            }
            // __get_unmapped_area(): `addr > TASK_SIZE - len`, which cannot overflow.
            guard address <= self.architecture.userTop - length else {
                throw .noMemory("\(hex(address)) + \(length) is beyond user space")
            }
            let overlapping = mm.slots(overlapping: address..<(address + length))
            if !overlapping.isEmpty && request.noReplace {
                throw .exists("\(hex(address)) is already mapped")
            }
            // mmap_region(): may_expand_vm() for the pages not already mapped, before anything
            // is unmapped (a refused MAP_FIXED leaves the old mapping in place).
            let replaced = overlapping.reduce(0) {
                let v = mm.vma($1)
                return $0
                    + Int(
                        (min(v.end, address + length) - max(v.start, address)) >> UInt64(self.phys.pageShift))
            }
            let newPages = Int(length >> UInt64(self.phys.pageShift)) - replaced
            if let limit = self.vmLimitExceeded(task, mm, flags, pages: newPages) {
                throw self.overLimit(task, limit)
            }
            if !overlapping.isEmpty { try self.munmap(task, address: address, length: length) }
            start = address
        } else {
            // __get_unmapped_area(): files on disk (ext4's thp_get_unmapped_area) and private
            // anonymous mappings whose length is a multiple of the PMD size, without a hint, are
            // placed on a huge-page boundary (64-bit only); shmem (huge pages off) is not.
            let pmd =
                UInt64(1)
                << UInt64(self.architecture.paging.shift(ofLevel: self.architecture.paging.levels - 2))
            var thpOffset: UInt64?
            if self.architecture.is64Bit {
                if case .file = backing {
                    thpOffset = pgoff << UInt64(self.phys.pageShift)
                } else if case .anonymous = backing, !request.shared, request.address == nil,
                    length % pmd == 0
                {
                    thpOffset = 0
                }
            }
            let aligned = thpOffset.flatMap {
                self.thpGetUnmappedArea(mm, length: length, offset: $0, hint: request.address, size: pmd)
            }
            guard let found = aligned ?? self.getUnmappedArea(mm, length: length, hint: request.address)
            else {
                throw .noMemory("no gap of \(length) bytes")
            }
            start = found
            if let limit = self.vmLimitExceeded(
                task, mm, flags, pages: Int(length >> UInt64(self.phys.pageShift)))
            {
                throw self.overLimit(task, limit)
            }
        }
        let pages = Int(length >> UInt64(self.phys.pageShift))
        if flags.contains(.account) && !self.vmEnoughMemory(pages) {
            throw .noMemory("overcommit: \(pages) pages")
        }
        var createdShmem = false
        if case .anonymous = backing {
            pgoff = start >> UInt64(self.phys.pageShift)
            if request.shared {
                // shmem_zero_setup(): a new unlinked shmem object ("/dev/zero") behind the area.
                guard let shm = self.createShmemFile("/dev/zero", size: length),
                    let open = self.allocOpenFile(shm, dentry: nil)
                else { throw .noMemory("no memory for a shared anonymous object") }
                self.iput(shm.id)
                backing = .shmem(shm.id)
                pgoff = 0
                vmFile = open
                createdShmem = true
            }
        }
        var vma = VMA(
            start: start, end: start + length, flags: flags, pgoff: pgoff, backing: backing, anonVMA: nil,
            vmFile: vmFile?.id, anonName: request.name)
        // The area takes its own reference to the file; a shmem object made here drops the one
        // it was created with once the area holds it.
        defer { if createdShmem, let vmFile { self.fput(vmFile.id) } }
        guard let slot = self.insertVMA(mm, vma) else { throw .noMemory("no memory for a vm_area_struct") }
        vma = mm.vma(slot)
        self.accountVMA(mm, vma, sign: 1)
        self.mergeAround(mm, slot)
        self.emit(.mmap(pid: task.pid, start: start, end: start + length, flags: flags))
        if request.populate || request.locked { self.populate(task, start..<(start + length)) }
        return start
    }

    /// `mm_populate()` → `populate_vma_page_range()` → `__get_user_pages()`: faults every page
    /// of the range in, in the task's context (writes for private writable areas, reads
    /// otherwise); the faults count for the task. Holes and areas that cannot be accessed are
    /// skipped whole; a fault that fails ends its area (`mm_populate()` ignores the error and
    /// goes on with the next one). The walk stops as soon as the task has a fatal signal —
    /// killed, or chosen by the OOM killer during one of these faults — as `__get_user_pages()`
    /// does: an OOM victim neither keeps faulting nor sends the OOM killer after another task
    /// for each page left. Steps: the pages faulted in plus one per area.
    func populate(_ task: Task, _ range: Range<UInt64>) {
        guard let mm = task.mm else { return }
        // get_user_pages() runs in the caller: an OOM kill of the task is a pending signal, not
        // an exit under the walk.
        self.switchTo(task)
        var va = range.lowerBound
        while va < range.upperBound, !self.fatalSignalPending(task), let vma = mm.findVMA(va),
            vma.start < range.upperBound
        {
            va = max(va, vma.start)
            let end = min(vma.end, range.upperBound)
            guard vma.flags.isAccessible else {
                va = end
                continue
            }
            let write = vma.flags.intersection([.write, .shared]) == .write
            while va < end, !self.fatalSignalPending(task) {
                let pte = self.pageTables.pte(root: mm.pgd, va: va)
                let needs = pte.isNone || pte.isSwap || (write && !pte.contains(.writable))
                if needs && !self.userAccessForPopulate(task, va, write: write) { break }
                va += self.phys.pageSize
            }
            va = end
        }
    }

    /// A `get_user_pages()` fault: the kernel faults on the task's behalf; counted like a user fault.
    func userAccessForPopulate(_ task: Task, _ va: UInt64, write: Bool) -> Bool {
        guard let mm = task.mm, let slot = mm.slot(containing: va) else { return false }
        let result = self.handleMMFault(mm, slot: slot, address: va, write: write)
        self.phys.count(.pgfault)
        switch result {
        case .minor:
            task.minorFaults += 1
            return true
        case .major:
            task.majorFaults += 1
            self.phys.count(.pgmajfault)
            return true
        default:
            return false
        }
    }

    // MARK: munmap

    /// `munmap(2)`: splits partly covered VMAs, zaps and frees everything in the range. EINVAL
    /// for an unaligned address, a zero length or a range past `TASK_SIZE`
    /// (`do_vmi_munmap()`).
    public func munmap(_ task: Task, address: UInt64, length: UInt64) throws(MMError) {
        guard let mm = task.mm else { throw .invalid("kernel threads have no address space") }
        guard address & self.pageMask == 0 else { throw .invalid("address is not page-aligned") }
        guard length > 0 else { throw .invalid("length 0") }
        let top = self.architecture.userTop
        guard address <= top, length <= top - address else {
            throw .invalid("\(hex(address)) + \(length) is beyond user space")
        }
        let range = address..<(address + self.pageAlign(length))
        let slots = try self.isolateRange(mm, range, requireMapped: false)
        guard !slots.isEmpty else { return }
        mm.updateHiwater()
        for slot in slots {
            let vma = mm.vma(slot)
            self.zapRange(mm, vma.start..<vma.end)
            self.accountVMA(mm, vma, sign: -1)
            self.deleteVMA(mm, slot)
        }
        self.emit(.munmap(pid: task.pid, start: range.lowerBound, end: range.upperBound))
    }

    // MARK: brk

    /// `brk(2)`: moves the program break. Growth extends the heap VMA (merging with bss) unless it
    /// would come within a page of the next mapping; shrinking unmaps. Returns the new break, or
    /// the old one on failure, as the system call does.
    @discardableResult
    public func brk(_ task: Task, to newBrk: UInt64) -> UInt64 {
        defer { self.returnToUser(task) }
        guard let mm = task.mm else { return 0 }
        guard newBrk >= mm.startBrk else { return mm.brk }
        // check_brk_limits() → get_unmapped_area(): a break past TASK_SIZE is refused.
        guard newBrk <= self.architecture.userTop else { return mm.brk }
        // check_data_rlimit(): the heap and the data segment together within RLIMIT_DATA.
        if task.dataLimit < Kernel.rlimInfinity,
            (newBrk - mm.startBrk).addingReportingOverflow(mm.endData - mm.startData).partialValue
                > task.dataLimit
        {
            return mm.brk
        }
        let oldEnd = self.pageAlign(mm.brk)
        let newEnd = self.pageAlign(newBrk)
        if newEnd == oldEnd {
            mm.brk = newBrk
            return newBrk
        }
        if newEnd < oldEnd {
            do { try self.munmap(task, address: newEnd, length: oldEnd - newEnd) } catch { return mm.brk }
            mm.brk = newBrk
            return newBrk
        }
        if let next = mm.findVMA(oldEnd) {
            if newEnd + self.phys.pageSize > self.vmStartGap(next) { return mm.brk }
        }
        // do_brk_flags()
        let flags = VMFlags.dataDefaultFlags.union([.account, .softDirty])
        let grow = Int((newEnd - oldEnd) >> UInt64(self.phys.pageShift))
        guard mm.mapCount <= self.maxMapCount, self.mayExpandVM(task, mm, flags, pages: grow),
            self.vmEnoughMemory(grow)
        else { return mm.brk }
        let vma = VMA(
            start: oldEnd, end: newEnd, flags: flags, pgoff: oldEnd >> UInt64(self.phys.pageShift),
            backing: .anonymous, anonVMA: nil, anonName: nil)
        guard let slot = self.insertVMA(mm, vma) else { return mm.brk }
        self.accountVMA(mm, vma, sign: 1)
        self.mergeAround(mm, slot)
        mm.brk = newBrk
        return newBrk
    }

    // MARK: Stack growth

    /// `expand_downwards()`: grows a stack VMA down to the page of `address` if it stays within
    /// `RLIMIT_STACK` and keeps `stack_guard_gap` above the mapping below. Growing costs no fault
    /// by itself; the page is then faulted in normally.
    func expandStack(_ task: Task, _ mm: AddressSpace, slot: Int, address: UInt64) -> Bool {
        var vma = mm.vma(slot)
        let page = address & ~self.pageMask
        guard page >= Kernel.mmapMinAddr, page < vma.start else { return false }
        if let prev = mm.prevSlot(of: slot) {
            let below = mm.vma(prev)
            if !below.flags.contains(.growsDown) && below.flags.isAccessible
                && page - below.end < self.stackGuardGap
            {
                return false
            }
        }
        let size = vma.end - page
        guard size <= task.stackLimit else { return false }
        let grow = Int((vma.start - page) >> UInt64(self.phys.pageShift))
        // acct_stack_growth(): the growth counts against RLIMIT_AS too.
        guard self.mayExpandVM(task, mm, vma.flags, pages: grow) else { return false }
        guard UInt64(grow) <= vma.pgoff else { return false }
        vma.start = page
        vma.pgoff -= UInt64(grow)
        mm.update(slot, vma)
        self.vmStatAccount(mm, vma.flags, grow)
        if vma.flags.contains(.locked) { mm.lockedVM += grow }
        if vma.flags.contains(.account) { mm.committedPages += grow }
        return true
    }
}
