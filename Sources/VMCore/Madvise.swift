import VMPaging
import VMPhys
import VMTypes

/// `madvise(2)` advice vmsim implements.
public enum Advice: String, Sendable, CaseIterable {
    case normal, random, sequential, willneed, dontneed, free, dontfork, dofork, wipeonfork, keeponfork
    case hugepage, nohugepage
    case populateRead = "populate_read"
    case populateWrite = "populate_write"
}

/// `madvise(2)` (mm/madvise.c).
extension Kernel {
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
        case .populateRead, .populateWrite:
            try self.madvisePopulate(task, range, write: advice == .populateWrite)
        case .normal, .random, .sequential, .dontfork, .dofork, .wipeonfork, .keeponfork, .hugepage,
            .nohugepage:
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
                // hugepage_madvise() (mm/huge_memory.c): existing THPs stay as they are.
                case .hugepage:
                    f.subtract(.noHugepage)
                    f.insert(.hugepage)
                case .nohugepage:
                    f.subtract(.hugepage)
                    f.insert(.noHugepage)
                default: break
                }
                return f
            }
        }
    }

    /// `madvise_populate()` (mm/madvise.c) → `faultin_page_range()`: MADV_POPULATE_READ /
    /// MADV_POPULATE_WRITE fault every page of the range in, as reads or as writes (FOLL_WRITE:
    /// a write breaks COW and dirties shared pages), in the caller's context — the faults count
    /// for the caller, as MAP_POPULATE's do. A page already mapped for the access takes no
    /// fault; a THP area faults once per 2 MiB. ENOMEM for a hole (after populating what comes
    /// before it), EINVAL for VM_IO/VM_PFNMAP areas or an access the area does not allow
    /// (`check_vma_flags()`), EFAULT when a fault fails (SIGBUS/SIGSEGV).
    func madvisePopulate(_ task: Task, _ range: Range<UInt64>, write: Bool) throws(MMError) {
        guard let mm = task.mm else { return }
        self.switchTo(task)
        var va = range.lowerBound
        while va < range.upperBound {
            guard !self.fatalSignalPending(task) else { throw .fault("killed while populating") }
            guard let vma = mm.findVMA(va), vma.start <= va else {
                throw .noMemory("\(hex(va)) is not mapped")
            }
            let end = min(vma.end, range.upperBound)
            guard vma.flags.isDisjoint(with: [.io, .pfnMap]) else { throw .invalid("VM_IO/VM_PFNMAP area") }
            guard write ? vma.flags.contains(.write) : vma.flags.contains(.read) else {
                throw .invalid("the area does not allow \(write ? "writes" : "reads")")
            }
            while va < end {
                guard !self.fatalSignalPending(task) else { throw .fault("killed while populating") }
                let pte = self.pageTables.pte(root: mm.pgd, va: va)
                let needs = pte.isNone || pte.isSwap || pte.isProtNone || (write && !pte.contains(.writable))
                if needs && !self.userAccessForPopulate(task, va, write: write) {
                    throw .fault("fault at \(hex(va)) failed")
                }
                va += self.phys.pageSize
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
        var lazy: [PFN] = []
        var swaps: [SwapEntry] = []
        self.pageTables.updatePTEs(root: mm.pgd, range: range) { _, pte in
            // A swapped-out page is simply dropped (free_swap_and_cache()).
            if let e = pte.swapEntry {
                swaps.append(e)
                return .none
            }
            guard pte.isPresent, pte.pfn != self.zeroPFN, self.phys.memMap.test(pte.pfn, .anon),
                self.phys.memMap.mapCount(pte.pfn) == 1
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
        for pfn in lazy where self.phys.memMap.test(pfn, .swapBacked) {
            // Only pages whose swap copy can go become lazily freeable.
            if self.phys.memMap.test(pfn, .swapCache) && !self.freeSwapCache(pfn) { continue }
            let onLRU = self.phys.memMap.test(pfn, .lru) && !self.phys.memMap.test(pfn, .unevictable)
            if onLRU { self.lruRemove(pfn) }
            self.phys.memMap.removeFlags(pfn, [.swapBacked, .dirty, .active, .referenced])
            if onLRU { self.lruAdd(pfn, to: .inactiveFile) }
            self.phys.count(.pglazyfree)
        }
    }
}
