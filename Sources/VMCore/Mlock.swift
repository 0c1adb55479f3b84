import VMPaging
import VMPhys
import VMTypes

/// `mlock(2)`, `munlock(2)` and the `VM_LOCKED` state of pages (mm/mlock.c).
extension Kernel {
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
        var pages: [PFN] = []
        self.pageTables.forEachPTE(root: mm.pgd, range: vma.start..<vma.end) { _, pte in
            if pte.mapsFrame && pte.pfn != self.zeroPFN { pages.append(pte.pfn) }
        }
        for pfn in pages {
            let locked = vma.flags.contains(.locked)
            guard self.phys.memMap.test(pfn, .mlocked) != locked else { continue }
            if self.phys.memMap.test(pfn, .lru) { self.lruRemove(pfn) }
            if locked {
                self.phys.memMap.removeFlags(pfn, .active)
                self.phys.memMap.insertFlags(pfn, [.mlocked, .unevictable])
                if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrMlock, 1) }
                self.phys.count(.unevictablePgsMlocked)
                self.lruAdd(pfn, to: .unevictable)
            } else {
                self.phys.memMap.removeFlags(pfn, [.mlocked, .unevictable])
                if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrMlock, -1) }
                self.phys.count(.unevictablePgsMunlocked)
                self.lruAdd(pfn, to: self.lruList(of: pfn))
            }
        }
    }
}
