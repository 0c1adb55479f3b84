import VMTypes

extension PageTableArena {
    /// The aging walk over x86's non-leaf Accessed bits (`CONFIG_ARCH_HAS_NONLEAF_PMD_YOUNG`,
    /// as MGLRU's `walk_pmd_range()` uses them): visits the leaf tables under `range` whose PMD
    /// entry has Accessed set — clearing it, `pmdp_test_and_clear_young()` — and hands `body`
    /// each present leaf entry of those tables in `range`. A table no page walk has gone through
    /// since the last visit has no young entry and is skipped whole (the MMU sets Accessed on
    /// every upper-level entry it walks through). PMD leaves (transparent huge pages) are not
    /// visited.
    public func forEachPTEInYoungTables(root: PFN, range: Range<UInt64>, _ body: (UInt64, PTE) -> Void) {
        guard !range.isEmpty, self.geometry.levels >= 2 else { return }
        self.visitYoung(table: root, level: 0, base: 0, range: range, body)
    }

    func visitYoung(table: PFN, level: Int, base: UInt64, range: Range<UInt64>, _ body: (UInt64, PTE) -> Void)
    {
        let leaf = self.geometry.levels - 1
        self.forEachEntry(level: level, base: base, range: range) { index, start, _ in
            let entry = self.readEntry(table, index, level: level)
            if level == leaf {
                if entry.isPresent && start >= range.lowerBound { body(start, entry) }
            } else if entry.isPresent && !self.isPMDLeaf(entry, level: level) && !entry.contains(.pageSize) {
                if level == leaf - 1 {
                    if entry.contains(.accessed) {
                        self.writeEntry(
                            table, index, level: level,
                            PTE(rawValue: entry.rawValue & ~PTEFlags.accessed.rawValue))
                        self.visitYoung(table: entry.pfn, level: level + 1, base: start, range: range, body)
                    }
                } else {
                    self.visitYoung(table: entry.pfn, level: level + 1, base: start, range: range, body)
                }
            }
        }
    }
}
