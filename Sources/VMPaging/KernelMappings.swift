import VMPhys
import VMTypes

/// The kernel's half of the address space: `init_mm`'s tables and the direct map of RAM.
///
/// Models `init_mem_mapping()` / `kernel_physical_mapping_init()` (arch/x86/mm/init.c,
/// init_64.c, init_32.c): all direct-mapped RAM appears at `PAGE_OFFSET + physical address`
/// with the largest pages alignment allows — 4 KiB for the first 2 MiB (4 MiB on i386),
/// 1 GiB for whole gigabytes above the first (x86-64), 2 MiB (4 MiB on i386 without PAE) for the
/// rest. Kernel entries are supervisor-only, global and (where NX exists) no-execute.
///
/// Simplified: the kernel image mapping at `__START_KERNEL_map`, the fixmap and the vmemmap are
/// not built; vmalloc areas are mapped by the core layer when it needs them.
extension PageTableArena {
    /// Builds the kernel's root table with the direct map; returns its frame (init_mm's pgd).
    public func buildKernelTables(architecture arch: Architecture, ramBytes: UInt64) -> PFN? {
        guard let root = self.allocTable(level: 0, user: false) else { return nil }
        let directEnd = min(ramBytes, arch.directMapLimit ?? ramBytes)
        let levels = arch.paging.levels
        let smallEnd: UInt64 = min(directEnd, arch.paging.largePageSize ?? directEnd)
        var flags: PTEFlags = [.present, .writable, .accessed, .dirty, .global]
        if arch.hasNoExecute { flags.insert(.noExecute) }
        // Large-page levels: x86-64 PUD (1 GiB) and PMD (2 MiB); i386 PGD (4 MiB); PAE PMD (2 MiB).
        let rules = PagingRules(arch)
        var pa: UInt64 = 0
        while pa < directEnd {
            var level = levels - 1
            if pa >= smallEnd {
                for l in 0..<(levels - 1) where rules.allowsLargePage(atLevel: l) {
                    let size: UInt64 = 1 << UInt64(rules.shift(ofLevel: l))
                    if pa % size == 0 && pa + size <= directEnd && !(l == levels - 3 && pa < size) {
                        level = l
                        break
                    }
                }
            }
            let size: UInt64 = level == levels - 1 ? arch.pageSize : 1 << UInt64(rules.shift(ofLevel: level))
            guard self.mapKernel(root: root, va: arch.pageOffset &+ pa, pa: pa, level: level, flags: flags)
            else { return nil }
            pa += size
        }
        return root
    }

    /// Installs one kernel mapping at `level` (a large page above the leaf level).
    func mapKernel(root: PFN, va: UInt64, pa: UInt64, level: Int, flags: PTEFlags) -> Bool {
        let g = self.geometry
        var table = root
        for l in 0..<level {
            let index = g.index(of: va, atLevel: l)
            let entry = self.readEntry(table, index, level: l)
            if entry.isPresent {
                table = entry.pfn
                continue
            }
            guard let fresh = self.allocTable(level: l + 1, user: false) else { return false }
            var tableFlags: PTEFlags = [.present, .writable, .accessed, .dirty]
            if l == 0 && g.rootIsPDPT { tableFlags = [.present] }  // PAE PDPTE
            self.writeEntry(table, index, level: l, PTE(pfn: fresh, flags: tableFlags))
            table = fresh
        }
        var leafFlags = flags
        if level < g.levels - 1 { leafFlags.insert(.pageSize) }
        self.writeEntry(
            table, g.index(of: va, atLevel: level), level: level,
            PTE(rawValue: (pa & PTE.frameMask) | leafFlags.rawValue))
        return true
    }
}

extension Architecture {
    /// `__va()`: the direct-map (logical) address of a physical address, if it is direct-mapped.
    public func logicalAddress(ofPhysical pa: UInt64) -> UInt64? {
        if let limit = self.directMapLimit, pa >= limit { return nil }
        return self.pageOffset &+ pa
    }
    /// `__pa()`: the physical address behind a direct-map address, or nil outside the direct map.
    public func physicalAddress(ofLogical va: UInt64, ramBytes: UInt64) -> UInt64? {
        guard va >= self.pageOffset else { return nil }
        let pa = va &- self.pageOffset
        guard pa < min(ramBytes, self.directMapLimit ?? ramBytes) else { return nil }
        return pa
    }
}
