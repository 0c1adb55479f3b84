import VMPaging
import VMPhys
import VMTypes

/// The settings under `/sys/kernel/mm/transparent_hugepage/`.
public struct THPSettings: Sendable, Hashable {
    /// `enabled` (the measured 6.18 machine: madvise).
    public var enabled: THPEnabled = .madvise
    /// `defrag` (see `THPDefrag`).
    public var defrag: THPDefrag = .madvise
    /// `use_zero_page`: read faults map the huge zero page (1) or allocate a THP (0).
    public var useZeroPage = true
    public init() {}
}

/// Anonymous transparent huge pages (mm/huge_memory.c: `__thp_vma_allowable_orders()`,
/// `do_huge_pmd_anonymous_page()`, `do_huge_pmd_wp_page()`, `do_huge_zero_wp_pmd()`,
/// `mm_get_huge_zero_folio()`, `vma_thp_gfp_mask()`; include/linux/huge_mm.h
/// `thp_vma_suitable_order()`; mm/memory.c `__handle_mm_fault()`'s PMD step).
///
/// A fault in a private anonymous area that allows THP — `enabled=always` and no
/// MADV_NOHUGEPAGE, or `enabled=madvise` and MADV_HUGEPAGE — whose 2 MiB-aligned block lies
/// wholly inside the area, and whose PMD entry is still empty, allocates an order-9 block and
/// maps it with one PMD leaf: one fault, 512 pages, RSS +2 MiB, `thp_fault_alloc`. When the block
/// is not covered, or no order-9 block can be had (`thp_fault_fallback`), the fault falls back to
/// a 4 KiB page. A read fault maps the huge zero page instead (`use_zero_page=1`), allocated the
/// first time anyone needs it (`thp_zero_page_alloc`) and kept; writing to it allocates a THP in
/// one fault (6.14+ `do_huge_zero_wp_pmd()`).
///
/// Simplifications, stated:
/// * The folio: Linux allocates a compound order-9 folio and keeps it whole when the PMD is
///   split (a partial munmap or MADV_DONTNEED queues it for the deferred-split shrinker, which
///   splits it only under memory pressure). vmsim allocates the same physically contiguous,
///   aligned order-9 block and `split_page()`s it at once into 512 order-0 pages, each filed in
///   the anon rmap, counted and put on the LRU by itself, so everything after the fault (COW,
///   reclaim, swap, map counts) handles them as it handles any page, while the PMD leaf lasts.
///   Consequences: a page unmapped from a split THP is freed at once (Linux frees the whole
///   folio only when its last page goes, or when the deferred split runs), and there is no
///   folio-level reference count or `thp_deferred_split_page`/`thp_split_page`.
/// * Reclaim sees the 512 pages one by one; unmapping one for swap-out splits the PMD first, as
///   `try_to_unmap()` with `TTU_SPLIT_HUGE_PMD` does — the effect of `shrink_folio_list()`
///   splitting a THP it cannot swap whole (`split_folio_to_list()`); vmsim never swaps a THP
///   whole (`thp_swpout` stays 0). Aging (`folio_referenced()`) clears the PMD's Accessed bit
///   without splitting.
/// * fork copies a PMD-mapped THP into the child as 512 write-protected PTEs; Linux copies the
///   PMD (`copy_huge_pmd()`) and splits it at the child's first write. The fault counts are the
///   same (child reads: 0 faults; child's first write: 1 fault copying one 4 KiB page; the
///   parent's PMD stays write-protected, and is reused in one fault once the child is gone), but
///   the child's `AnonHugePages` is 0 where Linux shows the PMD, and its first write counts no
///   `thp_split_pmd`.
/// * No compaction: `defrag` only decides whether the order-9 allocation may reclaim directly.
/// * No khugepaged, MADV_COLLAPSE, mTHP sizes, shmem/tmpfs or file THP, no PUD-sized pages.
extension Kernel {
    /// Pages in a PMD-sized THP (`HPAGE_PMD_NR`).
    var hpagePMDNr: Int { self.pageTables.pmdPages }
    /// `HPAGE_PMD_SIZE`.
    var hpagePMDSize: UInt64 { UInt64(self.hpagePMDNr) << UInt64(self.phys.pageShift) }

    /// `__thp_vma_allowable_orders()` for order 9 plus `thp_vma_suitable_order()` at `address`:
    /// whether a fault at `address` in `vma` may map a PMD-sized page.
    func thpAllowed(_ vma: VMA, _ address: UInt64) -> Bool {
        guard self.pageTables.supportsPMDLeaves, self.phys.pageShift == 12, vma.isAnonymous,
            !vma.flags.contains(.shared), vma.flags.isDisjoint(with: VMFlags.special),
            !vma.flags.contains(.noHugepage)
        else { return false }
        switch self.thp.enabled {
        case .never: return false
        case .madvise: guard vma.flags.contains(.hugepage) else { return false }
        case .always: break
        }
        let haddr = address & ~(self.hpagePMDSize - 1)
        guard haddr >= vma.start, haddr <= vma.end, vma.end - haddr >= self.hpagePMDSize else { return false }
        // The block's offset in the anonymous object must be aligned too (vm_pgoff after mremap).
        return vma.linearPageIndex(haddr, pageShift: self.phys.pageShift) % UInt64(self.hpagePMDNr) == 0
    }

    /// smaps' `THPeligible` (`thp_vma_allowable_order(…, TVA_SMAPS, PMD_ORDER)`): the area allows
    /// THP and its last 2 MiB-aligned block lies inside it.
    public func thpEligible(_ vma: VMA) -> Bool {
        vma.size >= self.hpagePMDSize && self.thpAllowed(vma, vma.end - self.hpagePMDSize)
    }

    /// `vma_thp_gfp_mask()`: GFP_TRANSHUGE_LIGHT, plus direct reclaim where `defrag` allows it.
    func thpGFP(_ vma: VMA) -> GFP {
        let light: GFP = GFP.highUserMovable.subtracting(GFP.reclaim).union([.noMemalloc, .noWarn, .zero])
        let madvised = vma.flags.contains(.hugepage)
        switch self.thp.defrag {
        case .always: return light.union(madvised ? [.directReclaim] : [.directReclaim, .noRetry])
        case .defer: return light.union(.kswapdReclaim)
        case .deferMadvise: return light.union(madvised ? .directReclaim : .kswapdReclaim)
        case .madvise: return madvised ? light.union(.directReclaim) : light
        case .never: return light
        }
    }

    /// `vma_alloc_anon_folio_pmd()`: an order-9 block, or nil (`thp_fault_fallback`).
    func allocTHP(_ vma: VMA) -> PFN? {
        guard let pfn = self.phys.allocPages(self.thpGFP(vma), order: 9) else {
            self.phys.count(.thpFaultFallback)
            return nil
        }
        self.phys.splitPage(pfn, order: 9)
        return pfn
    }

    /// `mm_get_huge_zero_folio()`: the huge zero page, allocated on first use and kept.
    func hugeZeroPage() -> PFN? {
        if let pfn = self.pageTables.hugeZeroPFN { return pfn }
        guard
            let pfn = self.phys.allocPages(
                GFP.highUser.subtracting(GFP.reclaim).union([.directReclaim, .noMemalloc, .noWarn, .zero]),
                order: 9)
        else {
            self.phys.count(.thpZeroPageAllocFailed)
            return nil
        }
        self.phys.count(.thpZeroPageAlloc)
        for i in 0..<self.hpagePMDNr { self.phys.memMap.insertFlags(pfn.advanced(by: i), .zeroPage) }
        self.pageTables.hugeZeroPFN = pfn
        return pfn
    }

    /// Files the 512 pages of a new THP at `haddr` in `vma` and counts them
    /// (`map_anon_folio_pmd()`: `folio_add_new_anon_rmap()`, `add_mm_counter()`, the LRU).
    func mapNewTHP(_ pfn: PFN, mm: AddressSpace, vma: VMA, haddr: UInt64) {
        for i in 0..<self.hpagePMDNr {
            let page = pfn.advanced(by: i)
            self.setPageAnon(page, vma: vma, address: haddr + UInt64(i) << UInt64(self.phys.pageShift))
            self.addMapping(page, mm: mm, anon: true)
            self.lruAddNew(page, vma: vma)
        }
        self.phys.mod(.nrAnonTransparentHugepages, self.hpagePMDNr)
        self.phys.count(.thpFaultAlloc)
    }

    /// `__handle_mm_fault()`'s PMD step: a fault whose PMD entry is empty in an area that allows
    /// THP goes to `do_huge_pmd_anonymous_page()`; one on a PMD leaf to `do_huge_pmd_wp_page()`
    /// (a write to a write-protected leaf) or `huge_pmd_set_accessed()`. Returns nil to go on at
    /// the PTE level (`VM_FAULT_FALLBACK`, or no PMD business at all).
    func handleHugePMDFault(_ mm: AddressSpace, slot: Int, address: UInt64, write: Bool) -> FaultResult? {
        let vma = mm.vma(slot)
        let allowed = self.thpAllowed(vma, address)
        guard allowed || self.pageTables.hasPMDLeaves else { return nil }
        var tables = 0
        guard
            let (table, index, pmd) = self.pageTables.pmdEntry(
                root: mm.pgd, va: address, allocate: allowed, tables: &tables)
        else { return allowed ? .oom : nil }
        mm.pageTablePages += tables
        if pmd.isNone {
            guard allowed else { return nil }
            return self.doHugePMDAnonymousPage(
                mm, slot: slot, address: address, write: write, table: table, index: index)
        }
        guard self.pageTables.isPMDLeaf(pmd, level: self.pageTables.pmdLevel) else { return nil }
        if write && !pmd.contains(.writable) {
            return self.doHugePMDWPPage(mm, slot: slot, address: address, table: table, index: index)
        }
        // huge_pmd_set_accessed(): the leaf already allows the access.
        var updated = pmd
        updated.flags.formUnion(write ? [.accessed, .dirty] : [.accessed])
        self.pageTables.updatePMDLeaf(table: table, index: index, updated)
        return .minor(.spurious)
    }

    /// `do_huge_pmd_anonymous_page()`: the huge zero page for a read (`use_zero_page`), else a new
    /// zeroed THP mapped writable and dirty; each PMD leaf deposits a PTE table for a later split.
    /// nil: fall back to 4 KiB pages.
    func doHugePMDAnonymousPage(
        _ mm: AddressSpace, slot: Int, address: UInt64, write: Bool, table: PFN, index: Int
    ) -> FaultResult? {
        // vmf_anon_prepare().
        guard self.anonVMAPrepare(mm, slot: slot) else { return .oom }
        let vma = mm.vma(slot)
        let haddr = address & ~(self.hpagePMDSize - 1)
        let prot = self.pageProtection(vma.flags)
        if !write && self.thp.useZeroPage {
            guard
                let deposit = self.pageTables.allocTable(
                    level: self.leafLevel, user: true)
            else { return .oom }
            guard let zero = self.hugeZeroPage() else {
                self.pageTables.freeTable(deposit)
                self.phys.count(.thpFaultFallback)
                return nil
            }
            guard self.pageTables.readEntry(table, index, level: self.pageTables.pmdLevel).isNone else {
                self.pageTables.freeTable(deposit)
                return .minor(.spurious)
            }
            mm.pageTablePages += 1
            self.pageTables.installPMDLeaf(
                table: table, index: index, PTE(pfn: zero, flags: prot.subtracting(.writable)),
                deposit: deposit)
            return .minor(.hugeZeroPage)
        }
        guard let pfn = self.allocTHP(vma) else { return nil }
        guard
            let deposit = self.pageTables.allocTable(level: self.leafLevel, user: true),
            self.pageTables.readEntry(table, index, level: self.pageTables.pmdLevel).isNone
        else {
            self.freeTHPBlock(pfn)
            return .oom
        }
        mm.pageTablePages += 1
        self.mapNewTHP(pfn, mm: mm, vma: vma, haddr: haddr)
        self.pageTables.installPMDLeaf(
            table: table, index: index,
            PTE(pfn: pfn, flags: self.maybeMkwrite(prot, vma.flags).union(.dirty)),
            deposit: deposit)
        return .minor(.hugeAnonymous)
    }

    /// Frees the 512 pages of a THP block that was never mapped.
    func freeTHPBlock(_ pfn: PFN) {
        for i in 0..<self.hpagePMDNr { self.phys.freePages(pfn.advanced(by: i), order: 0) }
    }

    /// `do_huge_pmd_wp_page()`: a write to a write-protected PMD leaf. The huge zero page gets a
    /// new THP in its place (`do_huge_zero_wp_pmd()`); a THP only this mapping uses
    /// (`PageAnonExclusive`, or a reference count of 1 — the last user after fork) is made
    /// writable in place; anything else splits the PMD and lets the PTE-level `do_wp_page()`
    /// copy the one 4 KiB page written. nil: go on at the PTE level.
    func doHugePMDWPPage(_ mm: AddressSpace, slot: Int, address: UInt64, table: PFN, index: Int)
        -> FaultResult?
    {
        let level = self.pageTables.pmdLevel
        let pmd = self.pageTables.readEntry(table, index, level: level)
        let haddr = address & ~(self.hpagePMDSize - 1)
        if pmd.pfn == self.pageTables.hugeZeroPFN {
            // do_huge_zero_wp_pmd(): the deposited table stays with the new leaf.
            guard self.anonVMAPrepare(mm, slot: slot) else { return .oom }
            let vma = mm.vma(slot)
            if let pfn = self.allocTHP(vma) {
                guard self.pageTables.readEntry(table, index, level: level) == pmd else {
                    self.freeTHPBlock(pfn)
                    return .minor(.spurious)
                }
                self.mapNewTHP(pfn, mm: mm, vma: vma, haddr: haddr)
                let prot = self.maybeMkwrite(self.pageProtection(vma.flags), vma.flags).union(.dirty)
                self.pageTables.updatePMDLeaf(table: table, index: index, PTE(pfn: pfn, flags: prot))
                self.flushTLB(mm, range: haddr..<(haddr + self.hpagePMDSize))
                return .minor(.hugeZeroWrite)
            }
            self.pageTables.splitPMD(table: table, index: index)
            self.flushTLB(mm, range: haddr..<(haddr + self.hpagePMDSize))
            return nil
        }
        let pages = (0..<self.hpagePMDNr).map { pmd.pfn.advanced(by: $0) }
        var reuse = pages.allSatisfy {
            self.phys.memMap.test($0, .anon) && self.phys.memMap.test($0, .anonExclusive)
        }
        if !reuse
            && pages.allSatisfy({
                self.phys.memMap.test($0, .anon) && !self.phys.memMap.test($0, .swapCache)
                    && self.phys.memMap.refCount($0) == 1
            })
        {
            // folio_move_anon_rmap() + SetPageAnonExclusive().
            let vma = mm.vma(slot)
            for p in pages {
                self.phys.memMap.insertFlags(p, .anonExclusive)
                if let anon = vma.anonVMA { self.fileAnonPage(p, under: anon) }
            }
            reuse = true
        }
        if reuse {
            var updated = pmd
            updated.flags.formUnion([.writable, .dirty, .accessed])
            self.pageTables.updatePMDLeaf(table: table, index: index, updated)
            // The #PF invalidates the CPU's one 2 MiB TLB entry; vmsim's TLB holds the 4 KiB
            // pieces of a PMD translation, so all 512 are dropped (else every other piece read
            // before would take a spurious fault).
            self.flushTLB(mm, range: haddr..<(haddr + self.hpagePMDSize))
            return .minor(.hugeReuse)
        }
        self.pageTables.splitPMD(table: table, index: index)
        self.flushTLB(mm, range: haddr..<(haddr + self.hpagePMDSize))
        return nil
    }

    /// A PMD leaf went away, split into PTEs or zapped whole: `NR_ANON_THPS` drops
    /// (`__folio_remove_rmap()` at `RMAP_LEVEL_PMD`) unless it mapped the huge zero page;
    /// a split counts `thp_split_pmd`.
    func pmdLeafGone(_ pmd: PTE, split: Bool) {
        if split { self.phys.count(.thpSplitPmd) }
        if pmd.pfn != self.pageTables.hugeZeroPFN {
            self.phys.mod(.nrAnonTransparentHugepages, -self.hpagePMDNr)
        }
    }

    /// `AnonHugePages` of `range` in `mm` (fs/proc/task_mmu.c `smaps_pmd_entry()`): bytes mapped
    /// by PMD leaves of anonymous THPs.
    public func anonHugePages(_ mm: AddressSpace, _ range: Range<UInt64>) -> UInt64 {
        var bytes: UInt64 = 0
        self.pageTables.forEachPMDLeaf(root: mm.pgd, range: range) { _, pmd in
            if pmd.pfn != self.pageTables.hugeZeroPFN { bytes += self.hpagePMDSize }
        }
        return bytes
    }
}
