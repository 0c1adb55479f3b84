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
        problems += self.checkMemcgInvariants()
        var mappings: [UInt64: Int] = [:]
        for mm in self.addressSpaces.values.sorted(by: { $0.id < $1.id }) {
            problems += mm.checkVMAs(pageShift: self.phys.pageShift)
            let vmas = mm.vmas
            for (a, b) in zip(vmas, vmas.dropFirst())
            where self.canMerge(a, b) && !mm.unmergedAtFork.contains(b.start) {
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
                    let anon = self.phys.memMap.test(pte.pfn, .anon)
                    let counter: MMCounter =
                        anon
                        ? .anonPages
                        : (self.phys.memMap.test(pte.pfn, .swapBacked) ? .shmemPages : .filePages)
                    rss[counter.rawValue] += 1
                    if pte.contains(.writable) && !vma.flags.contains(.write) {
                        problems.append("mm \(mm.id): writable PTE at \(hex(va)) in a read-only VMA")
                    }
                    if anon && pte.contains(.writable) && !vma.flags.contains(.shared)
                        && self.phys.memMap.mapCount(pte.pfn) > 1
                    {
                        problems.append(
                            "mm \(mm.id): writable PTE at \(hex(va)) to an anonymous page mapped \(self.phys.memMap.mapCount(pte.pfn)) times (COW broken)"
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
                    // A PMD leaf's deposited PTE table (HugePMD.swift) is counted from the fault on.
                    if self.pageTables.isPMDLeaf(e, level: level) { tables += 1 }
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
            if self.phys.memMap.mapCount(pfn) != count {
                problems.append(
                    "\(pfn): map count \(self.phys.memMap.mapCount(pfn)) but \(count) PTEs map it")
            }
            let cacheRef =
                self.phys.memMap.test(pfn, .anon) ? 0 : (self.phys.memMap.mapping(pfn) != 0 ? 1 : 0)
            let swapRef = self.phys.memMap.test(pfn, .swapCache) ? 1 : 0
            if self.phys.memMap.refCount(pfn) < count + cacheRef + swapRef {
                problems.append(
                    "\(pfn): reference count \(self.phys.memMap.refCount(pfn)) below its \(count) mappings")
            }
        }
        var anonMapped = 0
        var fileMapped = 0
        for (raw, _) in mappings {
            if self.phys.memMap.test(PFN(rawValue: raw), .anon) { anonMapped += 1 } else { fileMapped += 1 }
        }
        if anonMapped != self.phys.state(.nrAnonPages) {
            problems.append(
                "nr_anon_pages \(self.phys.state(.nrAnonPages)) but \(anonMapped) anonymous pages are mapped")
        }
        let vdsoLike = mappings.keys.filter {
            self.phys.memMap.mapping(PFN(rawValue: $0)) == 0
                && !self.phys.memMap.test(PFN(rawValue: $0), .anon)
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
                if !self.phys.memMap.test(pfn, .lru) {
                    problems.append("\(pfn) on LRU \(list.name) without PG_lru")
                }
                if self.lruList(of: pfn) != list {
                    problems.append(
                        "\(pfn) on LRU \(list.name) but its flags say \(self.lruList(of: pfn).name)")
                }
                if self.phys.memMap.refCount(pfn) == 0 {
                    problems.append("\(pfn) on LRU \(list.name) is free")
                }
            }
        }
        // Page cache pages are on an LRU list and counted.
        var cached = 0
        for file in self.files {
            cached += file.pages.count
            for (index, pfn) in file.pages {
                if self.phys.memMap.index(pfn) != index
                    || Int(self.phys.memMap.mapping(pfn)) != file.id.rawValue + 1
                {
                    problems.append("\(file.path): page \(index) in \(pfn) does not point back to the file")
                }
            }
        }
        if cached != self.phys.state(.nrFilePages) - self.phys.state(.nrSwapcached) {
            problems.append(
                "nr_file_pages \(self.phys.state(.nrFilePages)) but the page cache holds \(cached)")
        }
        problems += self.checkFileInvariants()
        problems += self.checkSwapInvariants()
        return problems
    }

    /// Every slot's `swap_map` count equals the PTEs and shmem entries holding it; its
    /// `SWAP_HAS_CACHE` bit says whether the swap cache holds a page for it; `inuse_pages`
    /// counts the slots in use; swap-cache pages point back at their slot.
    func checkSwapInvariants() -> [String] {
        var problems: [String] = []
        var refs: [UInt64: Int] = [:]
        for mm in self.addressSpaces.values {
            var swapPTEs = 0
            self.pageTables.forEachPTE(root: mm.pgd, range: 0..<self.architecture.userTop) { _, pte in
                if let e = pte.swapEntry {
                    refs[SwapState.key(e), default: 0] += 1
                    swapPTEs += 1
                }
            }
            if swapPTEs != mm.counter(.swapEntries) {
                problems.append(
                    "mm \(mm.id): \(mm.counter(.swapEntries)) swap entries counted, \(swapPTEs) in its page tables"
                )
            }
        }
        for file in self.files {
            for e in file.swapped.values { refs[SwapState.key(e), default: 0] += 1 }
        }
        for area in self.swap.active {
            var inUse: UInt64 = 0
            // Slots of clusters without counts are free: nothing may refer to them.
            for key in refs.keys where Int(key >> 50) == area.type {
                let offset = key & ((1 << 50) - 1)
                if offset == 0 || offset >= area.slots
                    || !area.holdsCluster(Int(offset / SwapArea.clusterSize))
                {
                    problems.append(
                        "\(area.path) slot \(offset): \(refs[key]!) references to a free or missing slot")
                }
            }
            for (key, _) in self.swap.cache.pages where Int(key >> 50) == area.type {
                let offset = key & ((1 << 50) - 1)
                if !area.cached(offset) {
                    problems.append("\(area.path) slot \(offset): cached page without SWAP_HAS_CACHE")
                }
            }
            for (c, chunk) in area.table.clusters {
                let base = UInt64(c) * SwapArea.clusterSize
                var used = 0
                let counted = Int(area.table.used[Int(chunk)])
                for i in 0..<ClusterTable.clusterSize where area.table.map(chunk, i) != 0 {
                    let offset = base + UInt64(i)
                    used += 1
                    if offset >= area.slots {
                        problems.append("\(area.path) slot \(offset): in use beyond the area")
                        continue
                    }
                    guard offset > 0 else { continue }
                    inUse += 1
                    let key = UInt64(area.type) << 50 | offset
                    let count = area.count(offset)
                    if count != refs[key, default: 0] {
                        problems.append(
                            "\(area.path) slot \(offset): count \(count), \(refs[key, default: 0]) references"
                        )
                    }
                    let entry = SwapEntry(type: area.type, offset: offset)
                    if area.cached(offset) != (self.swap.cache[entry] != nil) {
                        problems.append(
                            "\(area.path) slot \(offset): SWAP_HAS_CACHE does not match the swap cache")
                    }
                    if problems.count > 20 { return problems }
                }
                if used != counted || used == 0 {
                    problems.append(
                        "\(area.path) cluster \(c): \(counted) slots counted in use, \(used) are")
                }
            }
            if inUse != area.inUse {
                problems.append("\(area.path): inuse_pages \(area.inUse), \(inUse) slots in use")
            }
        }
        for (key, pfn) in self.swap.cache.pages {
            if !self.phys.memMap.test(pfn, .swapCache) || self.phys.memMap.privateWord(pfn) != key {
                problems.append("swap cache \(pfn) does not point back at its slot")
            }
        }
        if self.swap.cache.count != self.phys.state(.nrSwapcached) {
            problems.append(
                "nr_swapcached \(self.phys.state(.nrSwapcached)) but the swap cache holds \(self.swap.cache.count)"
            )
        }
        return problems
    }

    /// The page cache's dirty/writeback books, the dentry and inode caches' reference counts,
    /// and the open files' references.
    func checkFileInvariants() -> [String] {
        var problems: [String] = []
        var dirty = 0
        var writeback = 0
        var shmem = 0
        for file in self.files {
            var fileDirty = 0
            var fileWriteback = 0
            for pfn in file.pages.values {
                if !self.phys.memMap.test(pfn, .lru) {
                    problems.append("\(file.path): cached \(pfn) is not on an LRU list")
                }
                if self.phys.memMap.test(pfn, .dirty) && !file.isShmem { fileDirty += 1 }
                if self.phys.memMap.test(pfn, .writeback) { fileWriteback += 1 }
                if !self.phys.memMap.test(pfn, .uptodate) && !self.phys.memMap.test(pfn, .locked) {
                    problems.append("\(file.path): \(pfn) is neither up to date nor being read")
                }
            }
            if file.isShmem { shmem += file.pages.count }
            if fileDirty != file.dirtyPages {
                problems.append("\(file.path): \(file.dirtyPages) dirty pages counted, \(fileDirty) flagged")
            }
            if fileWriteback != file.writebackPages {
                problems.append(
                    "\(file.path): \(file.writebackPages) writeback pages counted, \(fileWriteback) flagged")
            }
            if (file.dirtiedWhen != nil) != (file.dirtyPages > 0) && !file.isShmem {
                problems.append(
                    "\(file.path): dirtied_when does not match its \(file.dirtyPages) dirty pages")
            }
            if !file.pages.isEmpty && !file.inCore {
                problems.append("\(file.path): pages cached but not in core")
            }
            if file.nodeObjects.count != file.pages.nodeCount {
                problems.append(
                    "\(file.path): \(file.nodeObjects.count) radix_tree_node objects for \(file.pages.nodeCount) nodes"
                )
            }
            dirty += fileDirty
            writeback += fileWriteback
        }
        if dirty != self.phys.state(.nrDirty) {
            problems.append("nr_dirty \(self.phys.state(.nrDirty)) but \(dirty) page-cache pages are dirty")
        }
        // Swap-cache pages being written to swap count too.
        let swapWriteback = self.swap.cache.pages.filter { self.phys.memMap.test($0.pfn, .writeback) }
            .count
        writeback += swapWriteback
        if swapWriteback != self.swap.writebackPages {
            problems.append(
                "\(self.swap.writebackPages) swap writes in flight counted, \(swapWriteback) swap-cache pages under writeback"
            )
        }
        if writeback != self.phys.state(.nrWriteback) {
            problems.append(
                "nr_writeback \(self.phys.state(.nrWriteback)) but \(writeback) pages are under writeback")
        }
        if shmem != self.phys.state(.nrShmem) {
            problems.append("nr_shmem \(self.phys.state(.nrShmem)) but shmem files hold \(shmem) pages")
        }
        // Open files: references from descriptors, VMAs and exe_file.
        var fileRefs: [Int: Int] = [:]
        for task in self.tasks.values { for open in task.files.values { fileRefs[open, default: 0] += 1 } }
        for mm in self.addressSpaces.values {
            for vma in mm.vmas { if let open = vma.vmFile { fileRefs[open, default: 0] += 1 } }
            if let exe = mm.exeFile { fileRefs[exe, default: 0] += 1 }
        }
        for (id, open) in self.vfs.openFiles where fileRefs[id, default: 0] != open.count {
            problems.append(
                "open file \(id) (\(self.file(open.file).path)): count \(open.count), \(fileRefs[id, default: 0]) references"
            )
        }
        for id in fileRefs.keys where self.vfs.openFiles[id] == nil {
            problems.append("open file \(id) is referenced but freed")
        }
        // Dentries: count = open files holding them + cached children; unused ones on the LRU.
        var dentryRefs: [ObjectIdentifier: Int] = [:]
        for open in self.vfs.openFiles.values {
            if let d = open.dentry { dentryRefs[ObjectIdentifier(d), default: 0] += 1 }
        }
        var all = Array(self.vfs.dcache.values)
        for open in self.vfs.openFiles.values {
            if let d = open.dentry, !d.hashed { all.append(d) }
        }
        var seen = Set<ObjectIdentifier>()
        for d in all where seen.insert(ObjectIdentifier(d)).inserted {
            if let parent = d.parent { dentryRefs[ObjectIdentifier(parent), default: 0] += 1 }
        }
        seen = []
        var inodeRefs: [FileID: Int] = [:]
        for d in all where seen.insert(ObjectIdentifier(d)).inserted {
            let expected = dentryRefs[ObjectIdentifier(d), default: 0]
            if d.count != expected {
                problems.append("dentry \(d.key): count \(d.count), \(expected) references")
            }
            if (d.count == 0) != (d.lruStamp != nil) {
                problems.append("dentry \(d.key): LRU membership wrong")
            }
            if let inode = d.inode { inodeRefs[inode, default: 0] += 1 }
        }
        for open in self.vfs.openFiles.values where open.dentry == nil {
            inodeRefs[open.file, default: 0] += 1
        }
        for segment in self.shm.segments { inodeRefs[segment.file, default: 0] += 1 }
        for file in self.files
        where file.inCore && file.id != self.vfs.root && file.id != self.vfs.blockDevice {
            let expected = inodeRefs[file.id, default: 0]
            if file.iCount != expected {
                problems.append("inode \(file.path): i_count \(file.iCount), \(expected) references")
            }
            if (file.iCount == 0) != (file.lruStamp != nil) {
                problems.append("inode \(file.path): LRU membership wrong")
            }
        }
        if self.vfs.dentryLRU.count != self.vfs.dcache.values.filter({ $0.count == 0 }).count {
            problems.append(
                "dentry LRU holds \(self.vfs.dentryLRU.count), \(self.vfs.dcache.values.filter { $0.count == 0 }.count) dentries are unused"
            )
        }
        return problems
    }
}
