import VMPaging
import VMPhys
import VMTypes

/// Whole-kernel consistency checks for tests.
extension Kernel {
    /// Checks physical memory (see `PhysicalMemory.checkInvariants`) and, across every address
    /// space: VMAs sorted, disjoint, page-aligned and not mergeable with their neighbours; each
    /// frame's map count equal to the PTEs that map it; RSS counters equal to the PTEs; reference
    /// counts covering the mappings (plus the page cache's reference); page-table pages counted;
    /// LRU lists consistent with page flags and counters. Returns every problem found.
    public func checkInvariants(deep: Bool = true) -> [String] {
        var problems = self.phys.checkInvariants(deep: deep)
        let memMap = self.phys.memMap
        var mappings: [UInt64: Int] = [:]
        for mm in self.addressSpaces.values.sorted(by: { $0.id < $1.id }) {
            problems += mm.checkVMAs(pageShift: self.phys.pageShift)
            let vmas = mm.vmas
            for (a, b) in zip(vmas, vmas.dropFirst()) where self.canMerge(a, b) {
                problems.append("mm \(mm.id): VMAs \(hex(a.start)) and \(hex(b.start)) could be merged")
            }
            var rss = [0, 0, 0, 0]
            for vma in vmas {
                self.pageTables.forEachPTE(root: mm.pgd, range: vma.start..<vma.end) { va, pte in
                    if pte.isSwap {
                        rss[MMCounter.swapEntries.rawValue] += 1
                        return
                    }
                    guard pte.mapsFrame, pte.pfn != self.zeroPFN else { return }
                    mappings[pte.pfn.rawValue, default: 0] += 1
                    let anon = memMap.test(pte.pfn, .anon)
                    let counter: MMCounter =
                        anon ? .anonPages : (memMap.test(pte.pfn, .swapBacked) ? .shmemPages : .filePages)
                    rss[counter.rawValue] += 1
                    if pte.contains(.writable) && !vma.flags.contains(.write) {
                        problems.append("mm \(mm.id): writable PTE at \(hex(va)) in a read-only VMA")
                    }
                    if anon && pte.contains(.writable) && !vma.flags.contains(.shared)
                        && memMap.mapCount(pte.pfn) > 1
                    {
                        problems.append(
                            "mm \(mm.id): writable PTE at \(hex(va)) to an anonymous page mapped \(memMap.mapCount(pte.pfn)) times (COW broken)"
                        )
                    }
                }
            }
            // PTEs outside every VMA would be leaks of the zap logic.
            var stray = 0
            self.pageTables.forEachPTE(root: mm.pgd, range: 0..<self.architecture.userTop) { va, _ in
                if mm.vma(containing: va) == nil { stray += 1 }
            }
            if stray > 0 { problems.append("mm \(mm.id): \(stray) PTEs outside any VMA") }
            if rss != mm.rss {
                problems.append("mm \(mm.id): RSS counters \(mm.rss) but page tables hold \(rss)")
            }
            var tables = 0
            func count(_ table: PFN, _ level: Int) {
                guard level < self.architecture.paging.levels - 1 else { return }
                let g = self.architecture.paging
                let span = UInt64(1) << UInt64(g.shift(ofLevel: 0))
                let userEntries = Int(
                    min((self.architecture.userTop + span - 1) / span, UInt64(g.entries(atLevel: 0))))
                let last = level == 0 ? userEntries : g.entries(atLevel: level)
                for index in 0..<last {
                    let e = self.pageTables.readEntry(table, index, level: level)
                    guard e.isPresent, !e.contains(.pageSize) else { continue }
                    tables += 1
                    count(e.pfn, level + 1)
                }
            }
            count(mm.pgd, 0)
            if tables != mm.pageTablePages {
                problems.append("mm \(mm.id): \(mm.pageTablePages) page-table pages counted, \(tables) exist")
            }
        }
        for (raw, count) in mappings {
            let pfn = PFN(rawValue: raw)
            if memMap.mapCount(pfn) != count {
                problems.append("\(pfn): map count \(memMap.mapCount(pfn)) but \(count) PTEs map it")
            }
            let cacheRef = memMap.test(pfn, .anon) ? 0 : (memMap.mapping(pfn) != 0 ? 1 : 0)
            let swapRef = memMap.test(pfn, .swapCache) ? 1 : 0
            if memMap.refCount(pfn) < count + cacheRef + swapRef {
                problems.append("\(pfn): reference count \(memMap.refCount(pfn)) below its \(count) mappings")
            }
        }
        var anonMapped = 0
        var fileMapped = 0
        for (raw, _) in mappings {
            if memMap.test(PFN(rawValue: raw), .anon) { anonMapped += 1 } else { fileMapped += 1 }
        }
        if anonMapped != self.phys.state(.nrAnonPages) {
            problems.append(
                "nr_anon_pages \(self.phys.state(.nrAnonPages)) but \(anonMapped) anonymous pages are mapped")
        }
        let vdsoLike = mappings.keys.filter {
            memMap.mapping(PFN(rawValue: $0)) == 0 && !memMap.test(PFN(rawValue: $0), .anon)
        }.count
        if fileMapped - vdsoLike != self.phys.state(.nrMapped) {
            problems.append(
                "nr_mapped \(self.phys.state(.nrMapped)) but \(fileMapped - vdsoLike) file pages are mapped")
        }
        // LRU lists.
        var onLRU = 0
        for list in LRUList.allCases {
            let pages = self.lruPages(list)
            onLRU += pages.count
            if pages.count != self.lruSize(list) {
                problems.append("LRU \(list.name): count \(self.lruSize(list)) but \(pages.count) pages")
            }
            if pages.count != self.phys.state(list.nodeItem) {
                problems.append(
                    "LRU \(list.name): node counter \(self.phys.state(list.nodeItem)) but \(pages.count) pages"
                )
            }
            for pfn in pages {
                if !memMap.test(pfn, .lru) { problems.append("\(pfn) on LRU \(list.name) without PG_lru") }
                if self.lruList(of: pfn) != list {
                    problems.append(
                        "\(pfn) on LRU \(list.name) but its flags say \(self.lruList(of: pfn).name)")
                }
                if memMap.refCount(pfn) == 0 { problems.append("\(pfn) on LRU \(list.name) is free") }
            }
        }
        // Page cache pages are on an LRU list and counted.
        var cached = 0
        for file in self.files {
            cached += file.pages.count
            for (index, pfn) in file.pages {
                if memMap.index(pfn) != index || Int(memMap.mapping(pfn)) != file.id.rawValue + 1 {
                    problems.append("\(file.path): page \(index) in \(pfn) does not point back to the file")
                }
            }
        }
        if cached != self.phys.state(.nrFilePages) - self.phys.state(.nrSwapcached) {
            problems.append(
                "nr_file_pages \(self.phys.state(.nrFilePages)) but the page cache holds \(cached)")
        }
        return problems
    }
}
