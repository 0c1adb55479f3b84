import VMPaging
import VMPhys
import VMTypes

/// `mprotect(2)` (mm/mprotect.c).
extension Kernel {
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
        // mprotect_fixup(): making an area writable that turns it into a data mapping must fit in
        // RLIMIT_DATA (may_expand_vm() for the new flags fails where the old ones passed).
        // Simplified: checked for the whole range before any area changes, where Linux stops at
        // the first area that fails and keeps the changes before it.
        var added = 0
        for slot in mm.slots(overlapping: range) {
            let v = mm.vma(slot)
            let newFlags = v.flags.subtracting([.read, .write, .exec]).union(protection.vmFlags)
            guard newFlags.contains(.write) else { continue }
            let pages = Int((min(v.end, end) - max(v.start, address)) >> UInt64(self.phys.pageShift))
            if newFlags.isDataMapping && !v.flags.isDataMapping {
                added += pages
                if UInt64(mm.dataVM + added) > task.dataLimit >> UInt64(self.phys.pageShift) {
                    throw self.overLimit(task, .data)
                }
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
        self.pageTables.updatePTEs(root: mm.pgd, range: vma.start..<vma.end) { _, pte in
            guard pte.mapsFrame else { return pte }
            var flags = base.union(pte.flags.intersection([.accessed, .dirty]))
            if vma.flags.contains(.write) && base.contains(.present) {
                let page = pte.pfn
                let writable =
                    vma.flags.contains(.shared)
                    ? pte.contains(.dirty)
                    : page != self.zeroPFN && self.phys.memMap.test(page, .anon)
                        && self.phys.memMap.test(page, .anonExclusive)
                if writable { flags.insert(.writable) }
            }
            return PTE(pfn: pte.pfn, flags: flags)
        }
    }
}
