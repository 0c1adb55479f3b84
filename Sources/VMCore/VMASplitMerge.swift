import VMPaging
import VMPhys
import VMTypes

/// Creating, splitting, merging and removing VMAs (mm/vma.c: `vma_link()`, `__split_vma()`,
/// `vma_merge_existing_range()`/`vma_merge_new_range()`, `vms_clear_ptes()`).
extension Kernel {
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
        // vma_adjust_trans_huge(): a PMD leaf across the new boundary is split first.
        if self.pageTables.hasPMDLeaves,
            let (table, index, _) = self.pageTables.pmdLeaf(root: mm.pgd, va: address),
            address & (self.hpagePMDSize - 1) != 0
        {
            self.pageTables.splitPMD(table: table, index: index)
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
}
