import VMPaging
import VMPhys
import VMTypes

/// Why a system call failed, with its errno name.
public enum MMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// ENOMEM: no room, too many mappings, a hole in the range, over a limit.
    case noMemory(String)
    /// EINVAL: bad alignment, length or advice.
    case invalid(String)
    /// EACCES: protection beyond what the mapping may have.
    case accessDenied(String)
    /// EEXIST: `MAP_FIXED_NOREPLACE` over an existing mapping.
    case exists(String)
    /// EPERM: below `mmap_min_addr`.
    case notPermitted(String)
    /// ENOENT: no such file or directory.
    case noEntry(String)
    /// EBADF: not an open file descriptor (or not open for the access).
    case badFile(String)
    /// EISDIR / ENOTDIR: a directory where a file was expected, or the reverse.
    case isDirectory(String)
    case notDirectory(String)
    /// ENOSPC: the disk or the inode table is full.
    case noSpace(String)
    /// EFBIG: beyond the largest file size.
    case tooBig(String)
    /// EIDRM: a SysV segment marked for removal.
    case removed(String)
    /// ETXTBSY: writing to, resizing or mapping for writing an active swap file.
    case textBusy(String)

    public var errno: String {
        switch self {
        case .noMemory: return "ENOMEM"
        case .invalid: return "EINVAL"
        case .accessDenied: return "EACCES"
        case .exists: return "EEXIST"
        case .notPermitted: return "EPERM"
        case .noEntry: return "ENOENT"
        case .badFile: return "EBADF"
        case .isDirectory: return "EISDIR"
        case .notDirectory: return "ENOTDIR"
        case .noSpace: return "ENOSPC"
        case .tooBig: return "EFBIG"
        case .removed: return "EIDRM"
        case .textBusy: return "ETXTBSY"
        }
    }
    public var message: String {
        switch self {
        case .noMemory(let m), .invalid(let m), .accessDenied(let m), .exists(let m), .notPermitted(let m),
            .noEntry(let m), .badFile(let m), .isDirectory(let m), .notDirectory(let m), .noSpace(let m),
            .tooBig(let m), .removed(let m), .textBusy(let m):
            return m
        }
    }
    public var description: String { "\(self.errno): \(self.message)" }
}

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

/// `madvise(2)` advice vmsim implements.
public enum Advice: String, Sendable, CaseIterable {
    case normal, random, sequential, willneed, dontneed, free, dontfork, dofork, wipeonfork, keeponfork
}

/// Memory-map system calls (mm/mmap.c, mm/vma.c, mm/mprotect.c, mm/madvise.c, mm/mlock.c).
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
        } else if flags.intersection([.write, .shared, .growsDown]) == .write {
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

    // MARK: VMA creation, split, merge, removal

    /// Inserts a new VMA with its `vm_area_struct` object; nil when the slab cannot allocate.
    func insertVMA(_ mm: AddressSpace, _ vma: VMA) -> Int? {
        var vma = vma
        guard let object = self.phys.kmemCacheAlloc(self.caches.vmAreaStruct, .kernel) else { return nil }
        vma.object = object
        let slot = mm.insert(vma)
        if let file = vma.backing.fileID { self.file(file).mappers.insert(VMARef(mm: mm.id, slot: slot)) }
        if let open = vma.vmFile { self.fget(open) }
        return slot
    }

    /// `remove_vma()`: unlinks a VMA (rmap, i_mmap) and frees its object. Pages must be gone.
    func deleteVMA(_ mm: AddressSpace, _ slot: Int) {
        self.unlinkAnonVMAs(mm, slot: slot)
        let vma = mm.remove(slot)
        if let file = vma.backing.fileID {
            self.file(file).mappers.remove(VMARef(mm: mm.id, slot: slot))
            self.shmAreaClosed(file)
        }
        if let open = vma.vmFile { self.fput(open) }
        self.phys.kmemCacheFree(self.caches.vmAreaStruct, vma.object)
    }

    /// `__split_vma()`: cuts the VMA in `slot` at `address`; the lower part keeps the slot, the
    /// upper part gets a new one (returned). Fails with ENOMEM at `max_map_count`.
    func splitVMA(_ mm: AddressSpace, _ slot: Int, at address: UInt64) throws(MMError) -> Int {
        let vma = mm.vma(slot)
        precondition(
            address > vma.start && address < vma.end && address & self.pageMask == 0,
            "splitVMA: bad address \(hex(address))")
        guard mm.mapCount < self.maxMapCount else {
            throw .noMemory("max_map_count (\(self.maxMapCount)) reached")
        }
        var upper = vma
        upper.start = address
        upper.pgoff += (address - vma.start) >> UInt64(self.phys.pageShift)
        upper.anonChain = []
        var lower = vma
        lower.end = address
        mm.update(slot, lower)
        guard let newSlot = self.insertVMA(mm, upper) else {
            throw .noMemory("no memory for a vm_area_struct")
        }
        guard self.anonVMAClone(mm, dst: newSlot, from: vma) else {
            throw .noMemory("no memory for an anon_vma_chain")
        }
        return newSlot
    }

    /// Whether `b` could continue `a` (`is_mergeable_vma()` + pgoff and anon_vma compatibility):
    /// adjacent, same flags (soft-dirty aside), same backing, contiguous offsets, and anon_vmas
    /// that are the same or absent (a forked area's chain of several anon_vmas never merges
    /// with one that has none).
    func canMerge(_ a: VMA, _ b: VMA) -> Bool {
        guard a.end == b.start else { return false }
        guard a.flags.subtracting(.softDirty) == b.flags.subtracting(.softDirty) else { return false }
        guard a.flags.isDisjoint(with: VMFlags.special) else { return false }
        guard a.backing == b.backing, a.vmFile == b.vmFile, a.anonName == b.anonName else { return false }
        if case .special = a.backing { return false }
        guard a.pgoff + (a.size >> UInt64(self.phys.pageShift)) == b.pgoff else { return false }
        switch (a.anonVMA, b.anonVMA) {
        case (nil, nil): return true
        case (let x?, let y?): return x == y
        case (nil, _?): return a.anonChain.count <= 1 && b.anonChain.count <= 1
        case (_?, nil): return a.anonChain.count <= 1 && b.anonChain.count <= 1
        }
    }

    /// Merges the VMA in `slot` with its neighbours where possible (`vma_merge_existing_range()`);
    /// returns the slot of the result.
    @discardableResult
    func mergeAround(_ mm: AddressSpace, _ slot: Int) -> Int {
        var slot = slot
        if let next = mm.nextSlot(of: slot), self.canMerge(mm.vma(slot), mm.vma(next)) {
            slot = self.mergePair(mm, lower: slot, upper: next)
        }
        if let prev = mm.prevSlot(of: slot), self.canMerge(mm.vma(prev), mm.vma(slot)) {
            slot = self.mergePair(mm, lower: prev, upper: slot)
        }
        return slot
    }

    /// Joins two adjacent mergeable VMAs into the lower one.
    func mergePair(_ mm: AddressSpace, lower: Int, upper: Int) -> Int {
        let up = mm.vma(upper)
        var low = mm.vma(lower)
        // The merged area keeps whichever anon_vma exists; pages of the other are filed under the same one.
        if low.anonVMA == nil, let anon = up.anonVMA {
            low.anonVMA = anon
            mm.update(lower, low)
            _ = self.linkAnonVMA(anon, to: VMARef(mm: mm.id, slot: lower), in: mm)
            low = mm.vma(lower)
        }
        low.end = up.end
        mm.unmergedAtFork.remove(up.start)
        self.deleteVMA(mm, upper)
        mm.update(lower, low)
        return lower
    }

    /// The first address of `range` that no VMA covers, or nil when all of it is mapped.
    /// O(k log n) for the k VMAs in the range.
    func firstHole(_ mm: AddressSpace, _ range: Range<UInt64>) -> UInt64? {
        var cursor = range.lowerBound
        for slot in mm.slots(overlapping: range) {
            if mm.vma(slot).start > cursor { return cursor }
            cursor = mm.vma(slot).end
        }
        return cursor < range.upperBound ? cursor : nil
    }

    /// Splits VMAs so that `range` starts and ends on VMA boundaries; returns the slots inside it.
    /// Fails with ENOMEM if any part of the range is unmapped (when `requireMapped`).
    func isolateRange(_ mm: AddressSpace, _ range: Range<UInt64>, requireMapped: Bool) throws(MMError)
        -> [Int]
    {
        if requireMapped, let hole = self.firstHole(mm, range) {
            throw .noMemory("\(hex(hole)) is not mapped")
        }
        var slots = mm.slots(overlapping: range)
        if let first = slots.first, mm.vma(first).start < range.lowerBound {
            slots[0] = try self.splitVMA(mm, first, at: range.lowerBound)
        }
        if let last = slots.last, mm.vma(last).end > range.upperBound {
            _ = try self.splitVMA(mm, last, at: range.upperBound)
        }
        return slots
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
            if !mm.slots(overlapping: address..<(address + length)).isEmpty {
                if request.noReplace { throw .exists("\(hex(address)) is already mapped") }
                try self.munmap(task, address: address, length: length)
            }
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

    // MARK: mprotect

    /// `mprotect(2)`: new protection for every VMA in the range (all of it must be mapped; EACCES
    /// beyond what a mapping may have). Present PTEs are rewritten (`change_protection()`); a
    /// private page this process alone owns, and a dirty shared page, become writable at once.
    /// A zero length does nothing; a range that wraps, or reaches past `TASK_SIZE`, is ENOMEM.
    public func mprotect(_ task: Task, address: UInt64, length: UInt64, protection: Protection)
        throws(MMError)
    {
        guard let mm = task.mm else { throw .invalid("kernel threads have no address space") }
        guard address & self.pageMask == 0 else { throw .invalid("address is not page-aligned") }
        guard length > 0 else { return }
        // do_mprotect_pkey(): `end <= start` after PAGE_ALIGN() (a wrap) is ENOMEM; so is any
        // part of the range past TASK_SIZE, where nothing is mapped.
        let end = address &+ self.pageAlign(length)
        guard end > address else { throw .noMemory("\(hex(address)) + \(length) wraps around") }
        let range = address..<end
        for slot in mm.slots(overlapping: range) {
            let flags = mm.vma(slot).flags
            let wanted = protection.vmFlags
            let allowed = VMFlags(rawValue: (flags.rawValue >> 4) & 0x7)
            if !wanted.subtracting(allowed).isEmpty {
                throw .accessDenied("\(protection) exceeds what \(hex(mm.vma(slot).start)) may be")
            }
        }
        let slots = try self.isolateRange(mm, range, requireMapped: true)
        for slot in slots {
            let old = mm.vma(slot)
            var new = old
            new.flags = old.flags.subtracting([.read, .write, .exec]).union(protection.vmFlags)
            if !new.flags.contains(.shared) && new.flags.contains(.write) && !old.flags.contains(.write)
                && !new.flags.contains(.noReserve)
            {
                new.flags.insert(.account)
            }
            self.accountVMA(mm, old, sign: -1)
            mm.update(slot, new)
            self.accountVMA(mm, new, sign: 1)
            self.changeProtection(mm, slot)
        }
        self.flushTLB(mm, range: range)
        for slot in slots where mm.slots[slot] != nil { self.mergeAround(mm, slot) }
    }

    /// `change_protection()`: rewrites the PTEs of a VMA after its flags changed, keeping frames,
    /// Accessed and Dirty.
    func changeProtection(_ mm: AddressSpace, _ slot: Int) {
        let vma = mm.vma(slot)
        let base = self.pageProtection(vma.flags)
        let memMap = self.phys.memMap
        self.pageTables.updatePTEs(root: mm.pgd, range: vma.start..<vma.end) { _, pte in
            guard pte.mapsFrame else { return pte }
            var flags = base.union(pte.flags.intersection([.accessed, .dirty]))
            if vma.flags.contains(.write) && base.contains(.present) {
                let page = pte.pfn
                let writable =
                    vma.flags.contains(.shared)
                    ? pte.contains(.dirty)
                    : page != self.zeroPFN && memMap.test(page, .anon) && memMap.test(page, .anonExclusive)
                if writable { flags.insert(.writable) }
            }
            return PTE(pfn: pte.pfn, flags: flags)
        }
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
        guard mm.mapCount <= self.maxMapCount,
            self.vmEnoughMemory(Int((newEnd - oldEnd) >> UInt64(self.phys.pageShift)))
        else { return mm.brk }
        let flags = VMFlags.dataDefaultFlags.union([.account, .softDirty])
        let vma = VMA(
            start: oldEnd, end: newEnd, flags: flags, pgoff: oldEnd >> UInt64(self.phys.pageShift),
            backing: .anonymous, anonVMA: nil, anonName: nil)
        guard let slot = self.insertVMA(mm, vma) else { return mm.brk }
        self.accountVMA(mm, vma, sign: 1)
        self.mergeAround(mm, slot)
        mm.brk = newBrk
        return newBrk
    }

    // MARK: madvise

    /// `madvise(2)`. DONTNEED zaps the range (the next touch faults in fresh pages; empty page
    /// tables are freed). FREE makes private anonymous pages lazily freeable: clean, kept until
    /// reclaim needs them. WILLNEED reads file pages into the page cache. RANDOM, SEQUENTIAL and
    /// NORMAL set the read-ahead hint; DONTFORK/DOFORK and WIPEONFORK/KEEPONFORK what fork copies.
    /// EINVAL for a length or range that wraps around the 64-bit space; ENOMEM when part of the
    /// range is not mapped (after advising the rest, except for the flag changes, which vmsim
    /// applies all or nothing).
    public func madvise(_ task: Task, address: UInt64, length: UInt64, advice: Advice) throws(MMError) {
        defer { self.returnToUser(task) }
        guard let mm = task.mm else { throw .invalid("kernel threads have no address space") }
        guard address & self.pageMask == 0 else { throw .invalid("address is not page-aligned") }
        // madvise_should_skip(): a length PAGE_ALIGN() wraps to 0, and a range that wraps, are
        // EINVAL; an empty one does nothing.
        let aligned = self.pageAlign(length)
        guard length == 0 || aligned > 0 else { throw .invalid("length \(length) wraps around") }
        let end = address &+ aligned
        guard end >= address else { throw .invalid("\(hex(address)) + \(length) wraps around") }
        let range = address..<end
        guard !range.isEmpty else { return }
        // madvise_walk_vmas(): the advice applies to what is mapped; a hole anywhere in the
        // range (a range past TASK_SIZE included) makes the call fail with ENOMEM afterwards.
        let hole = self.firstHole(mm, range)
        switch advice {
        case .dontneed:
            for slot in mm.slots(overlapping: range) where mm.vma(slot).flags.contains(.locked) {
                throw .invalid("MADV_DONTNEED on a locked mapping")
            }
            for slot in mm.slots(overlapping: range) {
                let vma = mm.vma(slot)
                self.zapRange(
                    mm, max(vma.start, range.lowerBound)..<min(vma.end, range.upperBound),
                    leafTablesOnly: true)
            }
            if let hole { throw .noMemory("\(hex(hole)) is not mapped") }
        case .free:
            for slot in mm.slots(overlapping: range) where !mm.vma(slot).isAnonymous {
                throw .invalid("MADV_FREE on a non-anonymous mapping")
            }
            for slot in mm.slots(overlapping: range) {
                let vma = mm.vma(slot)
                self.markLazyFree(mm, max(vma.start, range.lowerBound)..<min(vma.end, range.upperBound))
            }
            if let hole { throw .noMemory("\(hex(hole)) is not mapped") }
        case .willneed:
            for slot in mm.slots(overlapping: range) {
                // Readahead allocates: a task killed meanwhile has no areas left to advise.
                guard !self.fatalSignalPending(task) else { break }
                let vma = mm.vma(slot)
                // madvise_willneed() → vfs_fadvise(POSIX_FADV_WILLNEED) for files on disk.
                guard case .file(let id) = vma.backing, let open = vma.vmFile.flatMap(self.openFile)
                else { continue }
                let lo = max(vma.start, range.lowerBound)
                let hi = min(vma.end, range.upperBound)
                let first = vma.linearPageIndex(lo, pageShift: self.phys.pageShift)
                let count = (hi - lo) >> UInt64(self.phys.pageShift)
                self.forcePageCacheReadahead(self.file(id), open.ra, start: first, count: count)
            }
            if let hole { throw .noMemory("\(hex(hole)) is not mapped") }
        case .normal, .random, .sequential, .dontfork, .dofork, .wipeonfork, .keeponfork:
            try self.changeVMAFlags(mm, range) { flags in
                var f = flags
                switch advice {
                case .normal: f.subtract([.seqRead, .randRead])
                case .random:
                    f.subtract(.seqRead)
                    f.insert(.randRead)
                case .sequential:
                    f.subtract(.randRead)
                    f.insert(.seqRead)
                case .dontfork: f.insert(.dontCopy)
                case .dofork: f.subtract(.dontCopy)
                case .wipeonfork: f.insert(.wipeOnFork)
                case .keeponfork: f.subtract(.wipeOnFork)
                default: break
                }
                return f
            }
        }
    }

    /// Applies a flag change to every VMA in a range (splitting at its ends, merging after).
    func changeVMAFlags(_ mm: AddressSpace, _ range: Range<UInt64>, _ change: (VMFlags) -> VMFlags)
        throws(MMError)
    {
        let slots = try self.isolateRange(mm, range, requireMapped: true)
        for slot in slots {
            var vma = mm.vma(slot)
            vma.flags = change(vma.flags)
            mm.update(slot, vma)
        }
        for slot in slots where mm.slots[slot] != nil { self.mergeAround(mm, slot) }
    }

    /// `madvise_free_pte_range()`: private anonymous pages mapped only here become clean and
    /// lazily freeable (`folio_mark_lazyfree()`: off the swap-backed lists, onto the inactive file list).
    func markLazyFree(_ mm: AddressSpace, _ range: Range<UInt64>) {
        let memMap = self.phys.memMap
        var lazy: [PFN] = []
        var swaps: [SwapEntry] = []
        self.pageTables.updatePTEs(root: mm.pgd, range: range) { _, pte in
            // A swapped-out page is simply dropped (free_swap_and_cache()).
            if let e = pte.swapEntry {
                swaps.append(e)
                return .none
            }
            guard pte.isPresent, pte.pfn != self.zeroPFN, memMap.test(pte.pfn, .anon),
                memMap.mapCount(pte.pfn) == 1
            else { return pte }
            lazy.append(pte.pfn)
            var clean = pte
            clean.flags.subtract([.dirty, .accessed])
            return clean
        }
        self.flushTLB(mm, range: range)
        for e in swaps {
            mm.addRSS(.swapEntries, -1)
            self.freeSwapEntry(e)
        }
        for pfn in lazy where memMap.test(pfn, .swapBacked) {
            // Only pages whose swap copy can go become lazily freeable.
            if memMap.test(pfn, .swapCache) && !self.freeSwapCache(pfn) { continue }
            let onLRU = memMap.test(pfn, .lru) && !memMap.test(pfn, .unevictable)
            if onLRU { self.lruRemove(pfn) }
            memMap.removeFlags(pfn, [.swapBacked, .dirty, .active, .referenced])
            if onLRU { self.lruAdd(pfn, to: .inactiveFile) }
            self.phys.count(.pglazyfree)
        }
    }

    // MARK: mlock

    /// `mlock(2)` / `munlock(2)`: sets or clears `VM_LOCKED` on the range (all of it must be
    /// mapped) and, when locking, faults every page in — counted for the task. Locked pages are
    /// unevictable and counted in `Mlocked`.
    public func mlock(_ task: Task, address: UInt64, length: UInt64, lock: Bool) throws(MMError) {
        defer { self.returnToUser(task) }
        guard let mm = task.mm else { throw .invalid("kernel threads have no address space") }
        // do_mlock() / apply_vma_lock_flags(), in the kernel's unsigned arithmetic: the length
        // grows by the address's offset in its page and is page-aligned, both wrapping; an end
        // below the start is EINVAL, an empty range (a length that wrapped to 0 included)
        // succeeds doing nothing.
        let start = address & ~self.pageMask
        let end = start &+ self.pageAlign(length &+ (address & self.pageMask))
        guard end >= start else { throw .invalid("\(hex(address)) + \(length) wraps around") }
        let range = start..<end
        guard !range.isEmpty else { return }
        let slots = try self.isolateRange(mm, range, requireMapped: true)
        for slot in slots {
            var vma = mm.vma(slot)
            guard vma.flags.contains(.locked) != lock else { continue }
            self.accountVMA(mm, vma, sign: -1)
            if lock { vma.flags.insert(.locked) } else { vma.flags.subtract([.locked, .lockOnFault]) }
            mm.update(slot, vma)
            self.accountVMA(mm, vma, sign: 1)
            self.updateMlockState(mm, slot)
        }
        for slot in slots where mm.slots[slot] != nil { self.mergeAround(mm, slot) }
        if lock { self.populate(task, range) }
    }

    /// Moves the already-present pages of a VMA on or off the unevictable list after its
    /// `VM_LOCKED` flag changed (`mlock_folio()` / `munlock_folio()`).
    func updateMlockState(_ mm: AddressSpace, _ slot: Int) {
        let vma = mm.vma(slot)
        let memMap = self.phys.memMap
        var pages: [PFN] = []
        self.pageTables.forEachPTE(root: mm.pgd, range: vma.start..<vma.end) { _, pte in
            if pte.mapsFrame && pte.pfn != self.zeroPFN { pages.append(pte.pfn) }
        }
        for pfn in pages {
            let locked = vma.flags.contains(.locked)
            guard memMap.test(pfn, .mlocked) != locked else { continue }
            if memMap.test(pfn, .lru) { self.lruRemove(pfn) }
            if locked {
                memMap.insertFlags(pfn, [.mlocked, .unevictable])
                if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrMlock, 1) }
                self.phys.count(.unevictablePgsMlocked)
                self.lruAdd(pfn, to: .unevictable)
            } else {
                memMap.removeFlags(pfn, [.mlocked, .unevictable])
                if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrMlock, -1) }
                self.phys.count(.unevictablePgsMunlocked)
                self.lruAdd(pfn, to: self.lruList(of: pfn))
            }
        }
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
