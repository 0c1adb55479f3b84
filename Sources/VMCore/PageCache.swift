import VMPhys
import VMTypes

/// The page cache (mm/filemap.c, mm/truncate.c, mm/swap.c's `folio_mark_accessed()`): pages of
/// files by offset, their LRU membership and dirty/writeback/locked state, the fault path for
/// file mappings, invalidation and truncation.
extension Kernel {
    /// The file whose page cache holds `pfn`, if it is a page-cache page.
    func owningFile(_ pfn: PFN) -> SimFile? {
        guard !self.phys.memMap.test(pfn, .anon) else { return nil }
        let mapping = Int(self.phys.memMap.mapping(pfn))
        guard mapping > 0, mapping <= self.files.count else { return nil }
        let file = self.files[mapping - 1]
        return file.pages[self.phys.memMap.index(pfn)] == pfn ? file : nil
    }

    /// `filemap_get_folio()`: the cached page at `index`, if any.
    public func pageCacheLookup(_ file: SimFile, index: UInt64) -> PFN? { file.pages[index] }

    /// `filemap_add_folio()`: a new page for `index` of `file`, in the cache and on the LRU
    /// (inactive file list; shmem pages are swap-backed and go on the anonymous list). The page
    /// is neither up to date nor locked: the caller reads or fills it. Nil when no memory.
    ///
    /// A shadow entry at `index` (the page was evicted) is replaced, and unless the page is
    /// added for a write (`__GFP_WRITE`) the refault is evaluated before the page joins the LRU
    /// (`workingset_refault()`), which may start it active.
    func pageCacheAdd(_ file: SimFile, index: UInt64, forWrite: Bool = false) -> PFN? {
        precondition(file.inCore, "pageCacheAdd: \(file.path) is not in the inode cache")
        precondition(file.pages[index] == nil, "pageCacheAdd: \(file.path) page \(index) is cached")
        guard let pfn = self.phys.allocPages(.highUserMovable, order: 0) else { return nil }
        // mem_cgroup_charge() in filemap_add_folio(): the task on the CPU pays.
        guard self.memcgCharge(pfn, file.isShmem ? .shmem : .file), file.inCore, file.pages[index] == nil
        else {
            self.memcgUncharge(pfn)
            self.phys.freePages(pfn, order: 0)
            return nil
        }
        file.pages[index] = pfn
        guard self.syncIndexNodes(file) else {
            file.pages[index] = nil
            _ = self.syncIndexNodes(file)
            self.memcgUncharge(pfn)
            self.phys.freePages(pfn, order: 0)
            return nil
        }
        self.phys.memMap.setMapping(pfn, UInt32(file.id.rawValue + 1))
        self.phys.memMap.setIndex(pfn, index)
        if file.isShmem { self.phys.memMap.insertFlags(pfn, .swapBacked) }
        self.phys.mod(.nrFilePages, 1)
        if file.isShmem { self.phys.mod(.nrShmem, 1) }
        if !file.shadows.isEmpty, let shadow = file.shadows.removeValue(forKey: index), !forWrite {
            self.workingsetRefault(pfn, shadow)
        }
        self.lruAddNew(pfn, vma: nil)
        return pfn
    }

    /// Allocates or frees `radix_tree_node` objects so the file holds as many as its index has
    /// nodes (`xas_alloc()`, `xas_delete_node()`). False when a node cannot be allocated.
    func syncIndexNodes(_ file: SimFile) -> Bool {
        while file.nodeObjects.count > file.pages.nodeCount {
            self.phys.kmemCacheFree(self.caches.radixTreeNode, file.nodeObjects.removeLast())
        }
        // The slab may reclaim (and so shrink this very index) while allocating: recheck each time.
        while file.nodeObjects.count < file.pages.nodeCount {
            guard let object = self.phys.kmemCacheAlloc(self.caches.radixTreeNode, .kernel) else {
                return false
            }
            file.nodeObjects.append(object)
        }
        while file.nodeObjects.count > file.pages.nodeCount {
            self.phys.kmemCacheFree(self.caches.radixTreeNode, file.nodeObjects.removeLast())
        }
        return true
    }

    /// `folio_mark_accessed()`: the first access sets `PG_referenced`; a second one activates
    /// an inactive page (the two-touch rule, `pgactivate`).
    func markPageAccessed(_ pfn: PFN) {
        if self.lruGenEnabled { return self.lruGenIncRefs(pfn) }
        if !self.phys.memMap.test(pfn, .referenced) {
            self.phys.memMap.insertFlags(pfn, .referenced)
        } else if !self.phys.memMap.test(pfn, .unevictable) && !self.phys.memMap.test(pfn, .active) {
            if self.phys.memMap.test(pfn, .lru) {
                self.lruRemove(pfn)
                self.phys.memMap.insertFlags(pfn, .active)
                self.lruAdd(pfn, to: self.lruList(of: pfn))
                self.phys.count(.pgactivate)
            } else {
                self.phys.memMap.insertFlags(pfn, .active)
            }
            self.phys.memMap.removeFlags(pfn, .referenced)
            self.workingsetActivation(pfn)
        }
    }

    // MARK: Dirty and writeback state

    /// `folio_mark_dirty()` for a page-cache page: `PG_dirty` and, for a file on disk,
    /// `__folio_mark_dirty()`'s accounting (`nr_dirty`, `nr_zone_write_pending`, `nr_dirtied`)
    /// and `__mark_inode_dirty()`: the inode's `dirtied_when`, and the flusher woken after
    /// `dirty_writeback_centisecs` if it was idle. shmem pages are only flagged.
    func markPageDirty(_ pfn: PFN) {
        guard !self.phys.memMap.test(pfn, .dirty) else { return }
        self.phys.memMap.insertFlags(pfn, .dirty)
        guard !self.phys.memMap.test(pfn, .anon), !self.phys.memMap.test(pfn, .swapBacked),
            let file = self.owningFile(pfn)
        else {
            return
        }
        self.accountDirty(pfn, 1)
        self.phys.mod(.nrDirtied, 1)
        file.dirtyPages += 1
        if file.dirtiedWhen == nil {
            file.dirtiedWhen = self.now
            if self.clock.deadline(.flusher) == nil {
                self.clock.arm(.flusher, at: self.now + self.sysctl.dirtyWritebackCentisecs * 10_000_000)
            }
        }
    }

    /// `folio_clear_dirty_for_io()` / `folio_cancel_dirty()`: clears `PG_dirty` and its accounting.
    func clearPageDirty(_ file: SimFile, _ pfn: PFN) {
        guard self.phys.memMap.test(pfn, .dirty) else { return }
        self.phys.memMap.removeFlags(pfn, .dirty)
        guard !file.isShmem else { return }
        self.accountDirty(pfn, -1)
        file.dirtyPages -= 1
        if file.dirtyPages == 0 { file.dirtiedWhen = nil }
    }

    func accountDirty(_ pfn: PFN, _ delta: Int) {
        self.phys.mod(.nrDirty, delta)
        if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrZoneWritePending, delta) }
    }

    /// `folio_start_writeback()`.
    func startPageWriteback(_ file: SimFile, _ pfn: PFN) {
        self.phys.memMap.insertFlags(pfn, .writeback)
        self.phys.mod(.nrWriteback, 1)
        if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrZoneWritePending, 1) }
        file.writebackPages += 1
    }

    /// `folio_end_writeback()`: `nr_writeback` down, `nr_written` up.
    func endPageWriteback(_ file: SimFile, _ pfn: PFN) {
        guard self.phys.memMap.test(pfn, .writeback) else { return }
        self.phys.memMap.removeFlags(pfn, .writeback)
        self.phys.mod(.nrWriteback, -1)
        self.phys.mod(.nrWritten, 1)
        if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrZoneWritePending, -1) }
        file.writebackPages -= 1
    }

    // MARK: Removing pages

    /// `filemap_remove_folio()` + free: takes an unmapped page out of the cache, off the LRU,
    /// and frees it. A dirty page loses its data, as truncation means; callers that must keep
    /// data write it back first.
    func pageCacheRemove(_ file: SimFile, index: UInt64) {
        guard let pfn = file.pages[index] else { return }
        precondition(self.phys.memMap.mapCount(pfn) == 0, "pageCacheRemove: \(pfn) is still mapped")
        precondition(!self.phys.memMap.test(pfn, .writeback), "pageCacheRemove: \(pfn) is under writeback")
        self.clearPageDirty(file, pfn)
        file.pages[index] = nil
        _ = self.syncIndexNodes(file)
        self.lruDelete(pfn)
        self.phys.memMap.removeFlags(
            pfn, [.uptodate, .dirty, .swapBacked, .referenced, .active, .locked, .readahead])
        self.phys.memMap.setMapping(pfn, 0)
        self.phys.mod(.nrFilePages, -1)
        if file.isShmem { self.phys.mod(.nrShmem, -1) }
        self.putPage(pfn)
    }

    /// `mapping_evict_folio()` test: a page invalidation may drop — clean, not under I/O, not
    /// mapped, no extra references.
    func pageIsInvalidatable(_ pfn: PFN) -> Bool {
        return !self.phys.memMap.test(pfn, .dirty) && !self.phys.memMap.test(pfn, .writeback)
            && !self.phys.memMap.test(pfn, .locked)
            && self.phys.memMap.mapCount(pfn) == 0 && self.phys.memMap.refCount(pfn) == 1
    }

    /// `invalidate_mapping_pages()`: drops every clean, unmapped, idle page of `file` (what
    /// `drop_caches` and the inode shrinker do). shmem pages are the file's only copy: never
    /// dropped. Returns the pages dropped.
    @discardableResult
    func invalidateMappingPages(_ file: SimFile) -> Int {
        guard !file.isShmem else { return 0 }
        var dropped = 0
        for index in file.pages.keys.sorted() where self.pageIsInvalidatable(file.pages[index]!) {
            self.pageCacheRemove(file, index: index)
            dropped += 1
        }
        return dropped
    }

    /// `truncate_inode_pages_range()` from page `from`: waits for reads and writeback in
    /// flight, then removes every page whatever its state (the caller has unmapped them).
    func truncateInodePages(_ file: SimFile, from: UInt64) {
        // Shadow entries in the range go with the pages (truncate_inode_pages_range()).
        if from == 0 {
            file.shadows.removeAll()
        } else if !file.shadows.isEmpty {
            file.shadows = file.shadows.filter { $0.key < from }
        }
        // shmem pages on swap: their slots go (shmem_undo_range() → free_swap_and_cache()).
        for (index, entry) in file.swapped.sorted(by: { $0.key < $1.key }) where index >= from {
            file.swapped[index] = nil
            self.freeSwapEntry(entry)
        }
        let doomed = file.pages.keys.filter { $0 >= from }.sorted()
        guard !doomed.isEmpty else { return }
        for index in doomed {
            guard let pfn = file.pages[index] else { continue }
            if self.phys.memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
            if self.phys.memMap.test(pfn, .writeback) { self.waitOnPageWriteback(pfn) }
            if file.pages[index] == pfn { self.pageCacheRemove(file, index: index) }
        }
    }

    /// `echo N > /proc/sys/vm/drop_caches`: 1 drops clean page-cache pages of every file, 2
    /// shrinks the dentry and inode caches, 3 does both.
    public func dropCaches(_ mode: Int) throws(MMError) {
        guard (1...3).contains(mode) else { throw .invalid("drop_caches takes 1, 2 or 3") }
        if mode & 1 != 0 {
            for file in self.files where file.inCore && !file.pages.isEmpty {
                self.invalidateMappingPages(file)
            }
            self.phys.count(.dropPagecache)
        }
        if mode & 2 != 0 {
            self.dropSlab()
            self.phys.count(.dropSlab)
        }
    }

    // MARK: Metadata through the block device (Buffers)

    /// `sb_bread()`: the block-device page holding `block`, read synchronously when not cached.
    /// With `charge: false` (setup) it is filled without I/O. Returns false when no memory.
    func readMetadata(_ block: UInt64, charge: Bool = true) -> Bool {
        let bdev = self.file(self.vfs.blockDevice)
        if let pfn = bdev.pages[block] {
            if self.phys.memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
            self.markPageAccessed(pfn)
            return true
        }
        guard let pfn = self.pageCacheAdd(bdev, index: block) else { return false }
        if charge {
            self.phys.memMap.insertFlags(pfn, .locked)
            self.submitRead(bdev, [block])
            self.waitOnPageLocked(pfn)
        } else {
            self.phys.memMap.setContent(pfn, bdev.diskContent(block))
            self.phys.memMap.insertFlags(pfn, .uptodate)
        }
        self.markPageAccessed(pfn)
        return true
    }

    /// `mark_buffer_dirty()`: a metadata block changed in memory (read first if not cached).
    func dirtyMetadata(_ block: UInt64) {
        guard self.readMetadata(block) else { return }
        let bdev = self.file(self.vfs.blockDevice)
        guard let pfn = bdev.pages[block] else { return }
        self.phys.memMap.setContent(pfn, self.phys.memMap.content(pfn) &+ 1)
        self.markPageDirty(pfn)
    }

    // MARK: shmem objects

    /// `shmem_kernel_file_setup()`: an unlinked shmem inode of `size` bytes (the object behind
    /// `MAP_SHARED|MAP_ANONYMOUS` and SysV segments), with its pseudo dentry. Its pages are
    /// created zeroed on first touch.
    func createShmemFile(_ name: String, size: UInt64) -> SimFile? {
        let file = self.newInode(kind: .shmem, path: name, size: size, parent: nil)
        file.nlink = 0
        guard let dentry = self.phys.kmemCacheAlloc(self.caches.dentry, .kernel) else { return nil }
        guard self.iget(file.id) else {
            self.phys.kmemCacheFree(self.caches.dentry, dentry)
            return nil
        }
        // The pseudo dentry lives as long as the inode: it is freed at eviction.
        file.pseudoDentry = dentry
        self.vfs.pseudoDentries += 1
        return file
    }

    // MARK: The fault path

    /// The outcome of `filemap_fault()`.
    enum FilemapFault {
        case page(PFN, major: Bool)
        case sigbus
        case oom
    }

    /// `filemap_fault()` / `shmem_fault()`: the up-to-date page-cache page for `index`, with a
    /// reference for the caller. A cached page may start asynchronous readahead (a marked page)
    /// and may have to be waited for (a read in flight: still a minor fault). A missing page is
    /// a major fault: read-around readahead, then the page itself if readahead did not bring
    /// it. shmem creates a zeroed page (minor) or brings one back from swap (major). Beyond end
    /// of file: SIGBUS.
    func filemapFault(_ file: SimFile, _ open: OpenFile?, flags: VMFlags, index: UInt64) -> FilemapFault {
        guard index < file.sizeInPages(self.phys.pageShift) else { return .sigbus }
        if file.isShmem {
            if let pfn = file.pages[index] {
                self.phys.memMap.getPage(pfn)
                return .page(pfn, major: false)
            }
            if file.swapped[index] != nil {
                guard let (pfn, major) = self.shmemSwapIn(file, index: index) else { return .oom }
                return .page(pfn, major: major)
            }
            guard let pfn = self.pageCacheAdd(file, index: index) else { return .oom }
            self.phys.memMap.setContent(pfn, 0)
            self.phys.memMap.insertFlags(pfn, .uptodate)
            self.phys.memMap.getPage(pfn)
            return .page(pfn, major: false)
        }
        if let pfn = file.pages[index] {
            self.phys.memMap.getPage(pfn)
            if let open { self.asyncMmapReadahead(file, open, flags: flags, pfn: pfn, index: index) }
            if self.phys.memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
            guard file.pages[index] == pfn else {
                self.putPage(pfn)
                return self.filemapFault(file, open, flags: flags, index: index)
            }
            return .page(pfn, major: false)
        }
        if let open { self.syncMmapReadahead(file, open, flags: flags, index: index) }
        if file.pages[index] == nil {
            guard let pfn = self.pageCacheAdd(file, index: index) else { return .oom }
            self.phys.memMap.insertFlags(pfn, .locked)
            self.submitRead(file, [index])
        }
        guard let pfn = file.pages[index] else { return .oom }
        self.phys.memMap.getPage(pfn)
        if self.phys.memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
        return .page(pfn, major: true)
    }
}
