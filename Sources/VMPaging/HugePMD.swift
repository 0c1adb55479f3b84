import VMPhys
import VMTypes

/// PMD-level leaf entries: transparent huge pages mapped with one entry (mm/huge_memory.c:
/// `set_pmd_at()`, `pgtable_trans_huge_deposit()`/`withdraw()`, `__split_huge_pmd_locked()`,
/// `zap_huge_pmd()`; arch/x86/include/asm/pgtable.h `pmd_mkhuge()`).
///
/// A PMD leaf is a present entry with PS (`_PAGE_PSE`) at the level above the leaf tables, in a
/// geometry whose `largePageLevels` allow it there (x86-64: 2 MiB). Every PMD leaf carries a
/// deposited PTE table, allocated when the leaf was installed and counted in the address
/// space's page tables from then on (`mm_inc_nr_ptes()` in `do_huge_pmd_anonymous_page()`), so
/// splitting never allocates and never fails.
///
/// The generic range walks (`updatePTEs`, `forEachPTE`, `zapRange`, `pte`, `setPTE`) present a
/// PMD leaf as its 512 PTEs — the pages `pfn`, `pfn+1`, … with the PMD's flags, or the 4 KiB
/// zero page 512 times for the huge zero page — so the kernel's per-page bookkeeping (map counts,
/// RSS, rmap, swap) is the same whichever way a page is mapped. What the caller writes back
/// decides what happens to the PMD, as the kernel's PMD-level handlers do:
/// * every entry none (a zap of the whole 2 MiB): the PMD is cleared and its deposited table
///   freed (`zap_huge_pmd()` + `zap_deposited_table()`);
/// * every entry still maps its page with the same flags (Accessed/Dirty aside), present: the
///   PMD keeps mapping the block with those flags (`change_huge_pmd()` for mprotect,
///   `pmdp_set_wrprotect()` in fork, `pmdp_clear_flush_young()` for reclaim's aging);
/// * anything else — a range covering part of the 2 MiB, one page unmapped, swapped out or made
///   PROT_NONE — first splits the PMD into its deposited PTE table
///   (`__split_huge_pmd_locked()`), then changes the PTEs. vmsim splits a PROT_NONE huge PMD
///   where Linux keeps it (`change_huge_pmd()` with `MM_CP_PROT_NUMA` or PROT_NONE), so that
///   PMD leaves are always present.
extension PageTableArena {
    /// The level of PMD entries (the one above the leaf tables).
    public var pmdLevel: Int { self.geometry.levels - 2 }
    /// Pages one PMD leaf maps (`HPAGE_PMD_NR`: 512 on x86-64).
    public var pmdPages: Int { self.geometry.entries(atLevel: self.geometry.levels - 1) }

    /// Whether this geometry can map a PMD-sized page at all.
    public var supportsPMDLeaves: Bool {
        self.geometry.levels >= 2 && self.geometry.largePageLevels.contains(self.pmdLevel)
    }

    /// Whether any PMD leaf exists (each has a deposited table): lets order-0 paths skip looking.
    public var hasPMDLeaves: Bool { !self.deposited.isEmpty }

    /// Whether `entry`, read at `level`, is a PMD leaf (`pmd_trans_huge()`).
    public func isPMDLeaf(_ entry: PTE, level: Int) -> Bool {
        level == self.pmdLevel && entry.isPresent && entry.contains(.pageSize)
    }

    func pmdKey(_ table: PFN, _ index: Int) -> Int { self.slot(of: table) << 12 | index }

    /// The PMD-level table and index covering `va`, without allocating; nil when an upper level
    /// is missing.
    public func pmdSlot(root: PFN, va: UInt64) -> (table: PFN, index: Int)? {
        var table = root
        for level in 0..<self.pmdLevel {
            let entry = self.readEntry(table, self.geometry.index(of: va, atLevel: level), level: level)
            guard entry.isPresent, !entry.contains(.pageSize) else { return nil }
            table = entry.pfn
        }
        return (table, self.geometry.index(of: va, atLevel: self.pmdLevel))
    }

    /// The PMD entry covering `va`, allocating the levels above it (`pmd_alloc()`), with its
    /// table and index; nil when a table cannot be allocated.
    public func pmdEntry(root: PFN, va: UInt64, allocate: Bool, tables: inout Int) -> (
        table: PFN, index: Int, entry: PTE
    )? {
        var table = root
        for level in 0..<self.pmdLevel {
            let index = self.geometry.index(of: va, atLevel: level)
            let entry = self.readEntry(table, index, level: level)
            if entry.isPresent {
                table = entry.pfn
                continue
            }
            guard allocate, let fresh = self.allocTable(level: level + 1, user: true) else { return nil }
            tables += 1
            var flags: PTEFlags = [.present, .writable, .user, .accessed, .dirty]
            if level == 0 && self.geometry.rootIsPDPT { flags = [.present] }
            self.writeEntry(table, index, level: level, PTE(pfn: fresh, flags: flags))
            table = fresh
        }
        let index = self.geometry.index(of: va, atLevel: self.pmdLevel)
        return (table, index, self.readEntry(table, index, level: self.pmdLevel))
    }

    /// The PMD leaf covering `va`, if `va` is mapped by one.
    public func pmdLeaf(root: PFN, va: UInt64) -> (table: PFN, index: Int, entry: PTE)? {
        guard !self.deposited.isEmpty, let (table, index) = self.pmdSlot(root: root, va: va) else {
            return nil
        }
        let entry = self.readEntry(table, index, level: self.pmdLevel)
        return self.isPMDLeaf(entry, level: self.pmdLevel) ? (table, index, entry) : nil
    }

    /// Installs a PMD leaf in the empty entry `index` of PMD table `table` (`set_pmd_at()`),
    /// depositing `deposit`, an empty PTE table the caller allocated and counted.
    public func installPMDLeaf(table: PFN, index: Int, _ entry: PTE, deposit: PFN) {
        precondition(self.readEntry(table, index, level: self.pmdLevel).isNone, "installPMDLeaf: remap")
        self.writeEntry(
            table, index, level: self.pmdLevel, PTE(rawValue: entry.rawValue | PTEFlags.pageSize.rawValue))
        self.deposited[self.pmdKey(table, index)] = deposit
    }

    /// Rewrites a present PMD leaf's flags in place (the PS bit is kept).
    public func updatePMDLeaf(table: PFN, index: Int, _ entry: PTE) {
        precondition(self.isPMDLeaf(self.readEntry(table, index, level: self.pmdLevel), level: self.pmdLevel))
        self.writeEntry(
            table, index, level: self.pmdLevel, PTE(rawValue: entry.rawValue | PTEFlags.pageSize.rawValue))
    }

    /// PTE `i` of the 512 a PMD leaf stands for.
    public func subEntry(_ pmd: PTE, _ i: Int) -> PTE {
        var flags = pmd.flags
        flags.remove(.pageSize)
        if let zero = self.hugeZeroPFN, pmd.pfn == zero { return PTE(pfn: self.zeroPagePFN, flags: flags) }
        return PTE(pfn: pmd.pfn.advanced(by: i), flags: flags)
    }

    /// Whether `entries` (the 512 PTEs written back for `pmd`) can stay one PMD leaf; if so, the
    /// leaf to write.
    func uniformPMD(_ pmd: PTE, _ entries: [PTE]) -> PTE? {
        let ad: PTEFlags = [.accessed, .dirty]
        let first = entries[0]
        guard first.isPresent else { return nil }
        let base = first.flags.subtracting(ad)
        var accessed = false
        var dirty = false
        for (i, e) in entries.enumerated() {
            guard e.isPresent, e.flags.subtracting(ad) == base, e.pfn == self.subEntry(pmd, i).pfn else {
                return nil
            }
            accessed = accessed || e.contains(.accessed)
            dirty = dirty || e.contains(.dirty)
        }
        var flags = base.union(.pageSize)
        if accessed { flags.insert(.accessed) }
        if dirty { flags.insert(.dirty) }
        return PTE(pfn: pmd.pfn, flags: flags)
    }

    /// `__split_huge_pmd_locked()`: replaces the PMD leaf at `index` of `table` by its deposited
    /// PTE table filled with the 512 PTEs it stood for (`thp_split_pmd`). Returns the PTE table.
    @discardableResult
    public func splitPMD(table: PFN, index: Int) -> PFN {
        let level = self.pmdLevel
        let pmd = self.readEntry(table, index, level: level)
        precondition(self.isPMDLeaf(pmd, level: level), "splitPMD: not a PMD leaf")
        guard let pte = self.deposited.removeValue(forKey: self.pmdKey(table, index)) else {
            preconditionFailure("splitPMD: no deposited table")
        }
        for i in 0..<self.pmdPages { self.writeEntry(pte, i, level: level + 1, self.subEntry(pmd, i)) }
        self.writeEntry(
            table, index, level: level, PTE(pfn: pte, flags: [.present, .writable, .user, .accessed, .dirty]))
        self.onPMDLeafGone?(pmd, true)
        return pte
    }

    /// `zap_huge_pmd()`: clears the PMD leaf and frees its deposited table (`tables` −1).
    func zapPMDLeaf(table: PFN, index: Int, tables: inout Int) {
        self.onPMDLeafGone?(self.readEntry(table, index, level: self.pmdLevel), false)
        self.writeEntry(table, index, level: self.pmdLevel, .none)
        if let pte = self.deposited.removeValue(forKey: self.pmdKey(table, index)) {
            self.freeTable(pte)
            tables -= 1
        }
    }

    /// A walk reached the PMD leaf `pmd` at `index` of `table`, covering `start..<start+2 MiB`:
    /// hands its PTEs in `range` to `body` and applies what comes back (see the type comment).
    /// Returns the PTE table to continue in when the PMD had to be split for part of it, else nil.
    func visitPMDLeaf(
        table: PFN, index: Int, pmd: PTE, start: UInt64, range: Range<UInt64>, tablesFreed: inout Int,
        _ body: (UInt64, PTE) -> PTE
    ) -> PFN? {
        let span = UInt64(self.pmdPages) << UInt64(self.geometry.pageShift)
        guard range.lowerBound <= start && start + span <= range.upperBound else {
            return self.splitPMD(table: table, index: index)
        }
        let page = UInt64(1) << UInt64(self.geometry.pageShift)
        var out: [PTE] = []
        out.reserveCapacity(self.pmdPages)
        var changed = false
        for i in 0..<self.pmdPages {
            let sub = self.subEntry(pmd, i)
            let new = body(start + UInt64(i) * page, sub)
            if new != sub { changed = true }
            out.append(new)
        }
        guard changed else { return nil }
        if out.allSatisfy({ $0.isNone }) {
            self.zapPMDLeaf(table: table, index: index, tables: &tablesFreed)
        } else if let leaf = self.uniformPMD(pmd, out) {
            self.writeEntry(table, index, level: self.pmdLevel, leaf)
        } else {
            let pte = self.splitPMD(table: table, index: index)
            for (i, e) in out.enumerated() { self.writeEntry(pte, i, level: self.pmdLevel + 1, e) }
        }
        return nil
    }

    /// `setPTE` on an address a PMD leaf maps: a change of Accessed/Dirty only goes to the PMD
    /// (`pmdp_test_and_clear_young()`); anything else splits it first. Returns the old PTE when
    /// the PMD absorbed the change, nil when the caller should go on at the PTE level.
    func setPTEInPMDLeaf(root: PFN, va: UInt64, _ pte: PTE) -> PTE? {
        guard let (table, index, pmd) = self.pmdLeaf(root: root, va: va) else { return nil }
        let i = self.geometry.index(of: va, atLevel: self.geometry.levels - 1)
        let old = self.subEntry(pmd, i)
        let ad: PTEFlags = [.accessed, .dirty]
        if pte.isPresent && pte.pfn == old.pfn && pte.flags.subtracting(ad) == old.flags.subtracting(ad) {
            var flags = pmd.flags.subtracting(ad)
            flags.formUnion(pte.flags.intersection(ad))
            self.writeEntry(table, index, level: self.pmdLevel, PTE(pfn: pmd.pfn, flags: flags))
            return old
        }
        self.splitPMD(table: table, index: index)
        return nil
    }

    /// Every PMD leaf in `range` (start address and entry), in address order: smaps'
    /// `AnonHugePages`, `vmsim translate`.
    public func forEachPMDLeaf(root: PFN, range: Range<UInt64>, _ body: (UInt64, PTE) -> Void) {
        guard self.supportsPMDLeaves, !range.isEmpty else { return }
        self.visitPMDs(table: root, level: 0, base: 0, range: range, body)
    }

    func visitPMDs(table: PFN, level: Int, base: UInt64, range: Range<UInt64>, _ body: (UInt64, PTE) -> Void)
    {
        self.forEachEntry(level: level, base: base, range: range) { index, start, span in
            let entry = self.readEntry(table, index, level: level)
            if level == self.pmdLevel {
                if self.isPMDLeaf(entry, level: level) && start >= range.lowerBound
                    && start + span <= range.upperBound
                {
                    body(start, entry)
                }
            } else if entry.isPresent && !entry.contains(.pageSize) {
                self.visitPMDs(table: entry.pfn, level: level + 1, base: start, range: range, body)
            }
        }
    }
}
