import VMPhys
import VMTypes

/// Operations on one address space's tables, named by the frame of its root (the value CR3
/// holds). Models the generic page-table code of mm/memory.c and mm/pgtable-generic.c: the
/// `*_alloc()` helpers, `zap_pte_range()`, `free_pgtables()`, `copy_page_range()`'s walk.
///
/// A transparent huge page is mapped by a PMD leaf (HugePMD.swift); these walks present it as
/// the 512 PTEs it stands for and split it when a change covers only part of it. `tables` arguments count page-table pages added
/// (+) or freed (−) so the caller can keep `mm->pgtables_bytes` (VmPTE).
extension PageTableArena {
    /// The leaf table covering `va`, allocating missing tables on the way when `allocate` is set
    /// (`pte_alloc()`); nil if a table is missing and not allocated, or memory ran out.
    public func leafTable(root: PFN, va: UInt64, allocate: Bool, user: Bool = true, tables: inout Int) -> PFN?
    {
        self.leafSlot(root: root, va: va, allocate: allocate, user: user, tables: &tables).map(
            self.frame(of:))
    }

    /// `leafTable` as a table slot. The walk follows the arena's child links (no frame → slot
    /// lookups) while the tables exist; splitting a PMD leaf and allocating take the slow path.
    public func leafSlot(root: PFN, va: UInt64, allocate: Bool, user: Bool = true, tables: inout Int) -> Int?
    {
        let last = self.geometry.levels - 1
        let rootSlot = self.slot(of: root)
        let key = va &>> self.leafSpanShift
        if self.lastLeaf >= 0 && self.lastLeafRoot == rootSlot && self.lastLeafKey == key {
            return self.lastLeaf
        }
        var slot = rootSlot
        var level = 0
        while level < last {
            defer { level += 1 }
            let index = self.geometry.index(of: va, atLevel: level)
            let (entry, child) = self.readEntryAndChild(slot, index, level: level)
            if entry.isPresent && !entry.contains(.pageSize) {
                slot = child >= 0 ? child : self.slot(of: entry.pfn)
                continue
            }
            if entry.isPresent {
                // A PMD leaf: a PTE-level change there splits it (split_huge_pmd()).
                guard allocate, self.isPMDLeaf(entry, level: level) else { return nil }
                slot = self.slot(of: self.splitPMD(table: self.frame(of: slot), index: index))
                continue
            }
            guard allocate, let fresh = self.allocTable(level: level + 1, user: user) else { return nil }
            tables += 1
            // Intermediate entries grant everything; the leaf decides (as Linux's _PAGE_TABLE).
            var flags: PTEFlags = [.present, .writable, .user, .accessed, .dirty]
            if level == 0 && self.geometry.rootIsPDPT { flags = [.present] }  // PAE PDPTE
            self.writeEntry(slot, index, level: level, PTE(pfn: fresh, flags: flags))
            slot = self.slot(of: fresh)
        }
        if last > 0 {
            self.lastLeaf = slot
            self.lastLeafRoot = rootSlot
            self.lastLeafKey = key
        }
        return slot
    }

    /// The leaf entry mapping `va` (`none` if there is no table for it).
    public func pte(root: PFN, va: UInt64) -> PTE {
        if let (_, _, pmd) = self.pmdLeaf(root: root, va: va) {
            return self.subEntry(pmd, self.geometry.index(of: va, atLevel: self.geometry.levels - 1))
        }
        var unused = 0
        guard let table = self.leafTable(root: root, va: va, allocate: false, tables: &unused) else {
            return .none
        }
        return self.readEntry(
            table, self.geometry.index(of: va, atLevel: self.geometry.levels - 1),
            level: self.geometry.levels - 1)
    }

    /// Sets the leaf entry for `va`, allocating tables as needed; returns the old entry, or nil
    /// if a table could not be allocated.
    @discardableResult
    public func setPTE(root: PFN, va: UInt64, _ pte: PTE, tables: inout Int) -> PTE? {
        if let old = self.setPTEInPMDLeaf(root: root, va: va, pte) { return old }
        guard let table = self.leafSlot(root: root, va: va, allocate: true, tables: &tables) else {
            return nil
        }
        let last = self.geometry.levels - 1
        let index = self.geometry.index(of: va, atLevel: last)
        let old = self.readEntry(table, index, level: last)
        self.writeEntry(table, index, level: last, pte)
        return old
    }

    /// Visits every leaf entry that is not none in `range`, in address order, letting `body`
    /// replace it (return the entry unchanged to leave it). Tables that do not exist are skipped.
    public func updatePTEs(root: PFN, range: Range<UInt64>, _ body: (UInt64, PTE) -> PTE) {
        guard !range.isEmpty else { return }
        var freed = 0
        self.visit(table: root, level: 0, base: 0, range: range, tablesFreed: &freed, body)
        precondition(freed == 0, "updatePTEs: a whole PMD leaf was cleared; use zapRange")
    }

    /// Visits every leaf entry that is not none in `range`, in address order.
    public func forEachPTE(root: PFN, range: Range<UInt64>, _ body: (UInt64, PTE) -> Void) {
        self.updatePTEs(root: root, range: range) { va, pte in
            body(va, pte)
            return pte
        }
    }

    /// Each entry of a table at `level` (covering addresses from `base`) whose span overlaps
    /// `range`, in order: its index, the first address it covers and the span's size — the
    /// stepping every range walk shares (`pgd_addr_end()` … `pmd_addr_end()` in Linux). Stops at
    /// the end of the range, of the table, or of the address space.
    @inline(__always) func forEachEntry(
        level: Int, base: UInt64, range: Range<UInt64>,
        _ body: (_ index: Int, _ start: UInt64, _ span: UInt64) -> Void
    ) {
        let shift = UInt64(self.geometry.shift(ofLevel: level))
        let span: UInt64 = 1 << shift
        let entries = self.geometry.entries(atLevel: level)
        var index = range.lowerBound > base ? Int((range.lowerBound - base) >> shift) : 0
        while index < entries {
            let start = base + UInt64(index) << shift
            if start >= range.upperBound { break }
            body(index, start, span)
            if span > UInt64.max - start { break }
            index += 1
        }
    }

    func visit(
        table: PFN, level: Int, base: UInt64, range: Range<UInt64>, tablesFreed: inout Int,
        _ body: (UInt64, PTE) -> PTE
    ) {
        let leaf = self.geometry.levels - 1
        self.forEachEntry(level: level, base: base, range: range) { index, start, _ in
            let entry = self.readEntry(table, index, level: level)
            if !entry.isNone {
                if level == leaf {
                    let updated = body(start, entry)
                    if updated != entry { self.writeEntry(table, index, level: level, updated) }
                } else if self.isPMDLeaf(entry, level: level) {
                    if let split = self.visitPMDLeaf(
                        table: table, index: index, pmd: entry, start: start, range: range,
                        tablesFreed: &tablesFreed, body)
                    {
                        self.visit(
                            table: split, level: level + 1, base: start, range: range,
                            tablesFreed: &tablesFreed,
                            body)
                    }
                } else if entry.isPresent && !entry.contains(.pageSize) {
                    self.visit(
                        table: entry.pfn, level: level + 1, base: start, range: range,
                        tablesFreed: &tablesFreed,
                        body)
                }
            }
        }
    }

    /// `zap_pte_range()` + freeing of emptied tables: clears every leaf entry in `range`
    /// (handing each old entry to `body` first), then frees the tables that no longer hold any
    /// entry — every level below the root for `munmap()` (`free_pgtables()`), only leaf (PTE)
    /// tables with `leafTablesOnly` (the empty-PTE-page reclaim of `MADV_DONTNEED`, Linux 6.14+).
    /// Returns through `tables` the number of tables freed (negative).
    public func zapRange(
        root: PFN, range: Range<UInt64>, leafTablesOnly: Bool = false, tables: inout Int,
        _ body: (UInt64, PTE) -> Void
    ) {
        guard !range.isEmpty else { return }
        self.visit(table: root, level: 0, base: 0, range: range, tablesFreed: &tables) { va, pte in
            body(va, pte)
            return .none
        }
        self.freeEmptyTables(
            table: root, level: 0, base: 0, range: range, leafTablesOnly: leafTablesOnly, tables: &tables)
    }

    /// Frees the tables under `table` that cover part of `range` and hold no entries
    /// (`free_pte_range()` … `free_pgd_range()`, restricted to empty tables).
    func freeEmptyTables(
        table: PFN, level: Int, base: UInt64, range: Range<UInt64>, leafTablesOnly: Bool = false,
        tables: inout Int
    ) {
        let g = self.geometry
        guard level < g.levels - 1 else { return }
        self.forEachEntry(level: level, base: base, range: range) { index, start, _ in
            let entry = self.readEntry(table, index, level: level)
            if entry.isPresent && self.holdsTable(entry.pfn) && self.slotUser[self.slot(of: entry.pfn)] != 0 {
                self.freeEmptyTables(
                    table: entry.pfn, level: level + 1, base: start, range: range,
                    leafTablesOnly: leafTablesOnly,
                    tables: &tables)
                let childIsLeafTable = level + 1 == g.levels - 1
                if self.usedEntries(entry.pfn) == 0 && (childIsLeafTable || !leafTablesOnly) {
                    self.writeEntry(table, index, level: level, .none)
                    self.freeTable(entry.pfn)
                    tables -= 1
                }
            }
        }
    }

    /// `pgd_alloc()`: a new root, with the kernel half's entries copied from `kernelRoot` so
    /// every address space shares the kernel's tables.
    public func allocRoot(sharingKernelHalfOf kernelRoot: PFN?, userTop: UInt64, tables: inout Int) -> PFN? {
        guard let root = self.allocTable(level: 0, user: true) else { return nil }
        tables += 1
        if let kernelRoot {
            let g = self.geometry
            // The first root entry above user space (TASK_SIZE may stop a page short of a boundary).
            let span = UInt64(1) << UInt64(g.shift(ofLevel: 0))
            let first = Int(min((userTop + span - 1) / span, UInt64(g.entries(atLevel: 0))))
            for index in first..<g.entries(atLevel: 0) {
                let entry = self.readEntry(kernelRoot, index, level: 0)
                if !entry.isNone { self.writeEntry(root, index, level: 0, entry) }
            }
        }
        return root
    }

    /// `free_pgtables()` + `pgd_free()` at exit: frees every user table and the root. All leaf
    /// entries below `userTop` must already be zapped.
    public func freeAddressSpace(root: PFN, userTop: UInt64, tables: inout Int) {
        self.freeEmptyTables(table: root, level: 0, base: 0, range: 0..<userTop, tables: &tables)
        let g = self.geometry
        // Drop the shared kernel-half entries; they belong to the kernel's tables.
        for index in 0..<g.entries(atLevel: 0) where !self.readEntry(root, index, level: 0).isNone {
            let entry = self.readEntry(root, index, level: 0)
            precondition(
                !(self.holdsTable(entry.pfn) && self.slotUser[self.slot(of: entry.pfn)] != 0),
                "freeAddressSpace: user table still mapped at root index \(index)")
            self.writeEntry(root, index, level: 0, .none)
        }
        self.freeTable(root)
        tables -= 1
    }
}
