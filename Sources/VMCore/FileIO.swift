import VMPhys
import VMTypes

/// `POSIX_FADV_*` advice for `fadvise64(2)`.
public enum FileAdvice: String, Sendable, CaseIterable {
    case normal, random, sequential, willneed, dontneed
}

/// File system calls (fs/open.c, fs/read_write.c, fs/sync.c, mm/filemap.c's `filemap_read()`
/// and `generic_perform_write()`, mm/truncate.c, mm/fadvise.c).
extension Kernel {
    /// The largest file vmsim's file system holds (16 TiB, ext4 with 4 KiB blocks).
    static let maxFileSize: UInt64 = 16 << 40

    // MARK: struct file

    /// An open file by id.
    public func openFile(_ id: Int) -> OpenFile? { self.vfs.openFiles[id] }

    /// `alloc_file()`: a `filp` object for `file`, holding `dentry` (or, for shmem, the inode).
    func allocOpenFile(_ file: SimFile, dentry: Dentry?) -> OpenFile? {
        guard let object = self.phys.kmemCacheAlloc(self.caches.filp, .kernel) else { return nil }
        let raPages = file.isShmem ? 0 : self.sysctl.readAheadKB >> UInt64(self.phys.pageShift - 10)
        let open = OpenFile(id: self.vfs.nextOpenFile, file: file.id, dentry: dentry, raPages: raPages)
        self.vfs.nextOpenFile += 1
        open.object = object
        if let dentry { self.dget(dentry) } else { _ = self.iget(file.id) }
        self.vfs.openFiles[open.id] = open
        return open
    }

    /// `get_file()`.
    func fget(_ id: Int) { self.vfs.openFiles[id]!.count += 1 }

    /// `fput()`: the last reference frees the `filp` and drops its dentry (or inode).
    func fput(_ id: Int) {
        guard let open = self.vfs.openFiles[id] else { preconditionFailure("fput: no open file \(id)") }
        open.count -= 1
        guard open.count == 0 else { return }
        self.vfs.openFiles[id] = nil
        self.phys.kmemCacheFree(self.caches.filp, open.object)
        if let dentry = open.dentry {
            self.dput(dentry)
        } else {
            self.iput(open.file)
        }
    }

    // MARK: open, close

    /// `open(2)`: walks the path (creating the file with `create`) and installs the lowest free
    /// descriptor from 3 up (0–2 are the unmodelled standard streams).
    public func open(_ task: Task, _ path: String, create: Bool = false) throws(MMError) -> Int {
        defer { self.returnToUser(task) }
        self.switchTo(task)
        let dentry = try self.pathLookup(path, create: create)
        defer { self.dput(dentry) }
        let file = self.file(dentry.inode!)
        guard file.kind != .directory else { throw .isDirectory(path) }
        guard let open = self.allocOpenFile(file, dentry: dentry) else {
            throw .noMemory("no memory for a file")
        }
        return self.installDescriptor(task, open.id)
    }

    func installDescriptor(_ task: Task, _ open: Int) -> Int {
        var fd = 3
        while task.files[fd] != nil { fd += 1 }
        task.files[fd] = open
        return fd
    }

    /// `close(2)`.
    public func close(_ task: Task, fd: Int) throws(MMError) {
        guard let open = task.files.removeValue(forKey: fd) else { throw .badFile("fd \(fd) is not open") }
        self.fput(open)
    }

    func descriptor(_ task: Task, _ fd: Int) throws(MMError) -> OpenFile {
        guard let id = task.files[fd], let open = self.vfs.openFiles[id] else {
            throw .badFile("fd \(fd) is not open")
        }
        return open
    }

    // MARK: read

    /// `pread(2)` (or `read(2)` at the file position when `offset` is nil) through
    /// `filemap_read()`: batches of up to 31 consecutive cached pages; a miss starts synchronous
    /// readahead, a marked page asynchronous readahead; a page still being read is waited for.
    /// Every page copied is marked accessed (once per read for the page the last read ended
    /// in). Returns the content word of each page read.
    @discardableResult
    public func read(_ task: Task, fd: Int, offset: UInt64? = nil, length: UInt64) throws(MMError) -> [UInt64]
    {
        defer { self.returnToUser(task) }
        self.switchTo(task)
        let open = try self.descriptor(task, fd)
        let file = self.file(open.file)
        let shift = UInt64(self.phys.pageShift)
        let pageSize = self.phys.pageSize
        var pos = offset ?? open.position
        // filemap_read(): nothing at or past s_maxbytes; the request is cut to end there, so
        // `pos + remaining` below stays inside the file system's range.
        guard pos < Kernel.maxFileSize else { return [] }
        var remaining = min(length, Kernel.maxFileSize - pos)
        var lastPos = open.ra.prevPos
        var words: [UInt64] = []
        // filemap_read() stops on a fatal signal (an OOM kill during a readahead allocation).
        while remaining > 0, pos < file.size, !self.fatalSignalPending(task) {
            let index = pos >> shift
            let lastIndex = (pos + remaining + pageSize - 1) >> shift
            var batch = self.readBatch(file, from: index, through: lastIndex - 1)
            if batch.isEmpty && !file.isShmem {
                self.pageCacheSyncReadahead(
                    file, &open.ra, random: open.random, index: index, count: lastIndex - index)
                batch = self.readBatch(file, from: index, through: lastIndex - 1)
            }
            if batch.isEmpty {
                // filemap_create_folio() / shmem: the page alone.
                guard let pfn = self.pageCacheAdd(file, index: index) else {
                    throw .noMemory("no memory for a page-cache page")
                }
                if file.isShmem {
                    self.phys.memMap.setContent(pfn, 0)
                    self.phys.memMap.insertFlags(pfn, .uptodate)
                } else {
                    self.phys.memMap.insertFlags(pfn, .locked)
                    self.submitRead(file, [index])
                }
                batch = [pfn]
            }
            // filemap_get_read_batch() takes a reference on each page: reclaim (in the
            // allocations readahead makes) must not take them before they are copied.
            for pfn in batch { self.phys.memMap.getPage(pfn) }
            defer { for pfn in batch { self.putPage(pfn) } }
            let last = batch[batch.count - 1]
            if self.phys.memMap.test(last, .readahead) {
                let lastPageIndex = self.phys.memMap.index(last)
                self.pageCacheAsyncReadahead(
                    file, &open.ra, pfn: last, index: lastPageIndex, count: lastIndex - lastPageIndex)
            }
            if self.phys.memMap.test(last, .locked) { self.waitOnPageLocked(last) }
            let isize = file.size
            guard pos < isize else { break }
            let endOffset = min(isize, pos + remaining)
            for (i, pfn) in batch.enumerated() {
                let pagePos = self.phys.memMap.index(pfn) << shift
                if endOffset <= pagePos { break }
                if i > 0 || lastPos == .max || (pos >> shift) != ((lastPos &- 1) >> shift) {
                    self.markPageAccessed(pfn)
                }
                let bytes = min(endOffset - pos, pageSize - (pos & (pageSize - 1)))
                words.append(self.phys.memMap.content(pfn))
                pos += bytes
                remaining -= bytes
                lastPos = pos
            }
        }
        open.ra.prevPos = lastPos
        if offset == nil { open.position = pos }
        self.chargeCPU(200 * UInt64(words.count))
        return words
    }

    /// `filemap_get_read_batch()`: consecutive cached pages from `from` up to `through`, at
    /// most 31, ending after the first page that is not up to date or carries the readahead mark.
    func readBatch(_ file: SimFile, from: UInt64, through: UInt64) -> [PFN] {
        var batch: [PFN] = []
        var index = from
        while index <= through, batch.count < 31, let pfn = file.pages[index] {
            batch.append(pfn)
            if !self.phys.memMap.test(pfn, .uptodate) || self.phys.memMap.test(pfn, .readahead) { break }
            index += 1
        }
        return batch
    }

    // MARK: write

    /// `pwrite(2)` (or `write(2)` at the file position) through `generic_perform_write()`: each
    /// page is found or created in the cache — a partly written page that holds file data is
    /// read first — then filled with `value`, marked dirty, and the writer is throttled by
    /// `balance_dirty_pages()` when dirty memory is over the limits. Extends `i_size`. Returns
    /// the bytes written: all of them, unless the writer got a fatal signal (an OOM kill) on
    /// the way. ETXTBSY for an active swap file.
    @discardableResult
    public func write(_ task: Task, fd: Int, offset: UInt64? = nil, length: UInt64, value: UInt64)
        throws(MMError)
        -> UInt64
    {
        defer { self.returnToUser(task) }
        self.switchTo(task)
        let open = try self.descriptor(task, fd)
        let file = self.file(open.file)
        // generic_write_checks(): swap owns an active swap file's blocks.
        guard !file.isSwapFile else { throw .textBusy("\(file.path) is an active swap file") }
        let shift = UInt64(self.phys.pageShift)
        let pageSize = self.phys.pageSize
        let start = offset ?? open.position
        guard length <= Kernel.maxFileSize, start <= Kernel.maxFileSize - length else {
            throw .tooBig("write beyond 16 TiB")
        }
        var pos = start
        let end = start + length
        let oldSize = file.size
        // generic_perform_write() stops on a fatal signal.
        while pos < end, !self.fatalSignalPending(task) {
            let index = pos >> shift
            let bytes = min(pageSize - (pos & (pageSize - 1)), end - pos)
            var pfn: PFN
            if let cached = file.pages[index] {
                pfn = cached
                if self.phys.memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
            } else {
                guard let added = self.pageCacheAdd(file, index: index, forWrite: true) else {
                    throw .noMemory("no memory for a page-cache page")
                }
                pfn = added
                let holdsData = !file.isShmem && bytes < pageSize && (index << shift) < oldSize
                if holdsData {
                    // block_write_begin(): a partial write needs the rest of the page first.
                    self.phys.memMap.insertFlags(pfn, .locked)
                    self.submitRead(file, [index])
                    self.waitOnPageLocked(pfn)
                } else {
                    self.phys.memMap.setContent(pfn, 0)
                    self.phys.memMap.insertFlags(pfn, .uptodate)
                }
            }
            self.phys.memMap.setContent(pfn, value)
            if pos + bytes > file.size { file.size = pos + bytes }
            self.markPageDirty(pfn)
            pos += bytes
            if !file.isShmem { self.balanceDirtyPages() }
        }
        if file.size != oldSize && !file.isShmem { self.dirtyMetadata(self.inodeBlock(file.inode)) }
        if offset == nil { open.position = pos }
        let written = pos - start
        self.chargeCPU(200 * ((written + pageSize - 1) / pageSize))
        return written
    }

    // MARK: fsync, sync, msync

    /// `fsync(2)`: writes back every dirty page of the file and waits for all of it, and its
    /// inode's metadata block.
    public func fsync(_ task: Task, fd: Int) throws(MMError) {
        self.switchTo(task)
        let open = try self.descriptor(task, fd)
        self.writeAndWait(self.file(open.file), range: nil)
        self.writeMetadataBlock(self.inodeBlock(self.file(open.file).inode))
    }

    /// `filemap_write_and_wait_range()`: writes back the dirty pages in `range` (whole file if
    /// nil), waiting for pages already under writeback, and waits for it all.
    func writeAndWait(_ file: SimFile, range: Range<UInt64>?) {
        guard !file.isShmem else { return }
        self.writebackFile(file, range: range, sync: true)
        let indices = file.pages.keys.filter { range?.contains($0) ?? true }
        for index in indices.sorted() {
            if let pfn = file.pages[index], self.phys.memMap.test(pfn, .writeback) {
                self.waitOnPageWriteback(pfn)
            }
        }
    }

    /// Writes one block-device page back now if it is dirty, and waits.
    func writeMetadataBlock(_ block: UInt64) {
        let bdev = self.file(self.vfs.blockDevice)
        guard let pfn = bdev.pages[block], self.phys.memMap.test(pfn, .dirty) else { return }
        self.writeAndWait(bdev, range: block..<(block + 1))
    }

    /// `sync(2)`: writes back every dirty page of every file (data, then metadata) and waits.
    public func sync() {
        for file in self.files where file.dirtyPages > 0 && file.kind == .regular {
            self.writebackFile(file, range: nil, sync: true)
        }
        let bdev = self.file(self.vfs.blockDevice)
        if bdev.dirtyPages > 0 { self.writebackFile(bdev, range: nil, sync: true) }
        self.waitUntil { self.phys.state(.nrWriteback) == 0 }
    }

    /// `msync(2)`: with `MS_SYNC`, writes back and waits for the dirty pages of the shared file
    /// mappings in the range (`vfs_fsync_range()`); `MS_ASYNC` does nothing, as since Linux 2.6.19.
    /// ENOMEM if part of the range is unmapped, or if it wraps around the 64-bit space; a length
    /// that page-aligns to 0 (including one that wraps to 0, as in the kernel) does nothing.
    public func msync(_ task: Task, address: UInt64, length: UInt64, sync: Bool) throws(MMError) {
        defer { self.returnToUser(task) }
        guard let mm = task.mm else { throw .invalid("kernel threads have no address space") }
        guard address & self.pageMask == 0 else { throw .invalid("address is not page-aligned") }
        self.switchTo(task)
        // The kernel's unsigned arithmetic: `end < start` is ENOMEM, `end == start` success.
        let end = address &+ self.pageAlign(length)
        guard end >= address else { throw .noMemory("\(hex(address)) + \(length) wraps around") }
        let range = address..<end
        var cursor = range.lowerBound
        var work: [(FileID, Range<UInt64>)] = []
        for slot in mm.slots(overlapping: range) {
            let vma = mm.vma(slot)
            if vma.start > cursor { throw .noMemory("\(hex(cursor)) is not mapped") }
            cursor = vma.end
            guard vma.flags.contains(.shared), case .file(let id) = vma.backing else { continue }
            let lo = max(vma.start, range.lowerBound)
            let hi = min(vma.end, range.upperBound)
            let first = vma.linearPageIndex(lo, pageShift: self.phys.pageShift)
            let last = vma.linearPageIndex(hi - 1, pageShift: self.phys.pageShift)
            work.append((id, first..<(last + 1)))
        }
        if cursor < range.upperBound { throw .noMemory("\(hex(cursor)) is not mapped") }
        guard sync else { return }
        for (id, pages) in work { self.writeAndWait(self.file(id), range: pages) }
    }

    // MARK: truncate

    /// `truncate(2)`: sets the size. Shrinking unmaps the pages beyond the new end from every
    /// mapping — private copy-on-write copies included, as `unmap_mapping_range(…, even_cows)`
    /// does — removes them from the cache and frees their disk blocks; a later access there is
    /// a SIGBUS. Growing adds a hole. An active swap file keeps its size (ETXTBSY,
    /// `inode_newsize_ok()` in fs/attr.c): swap I/O goes to its blocks.
    public func truncate(_ path: String, size: UInt64) throws(MMError) {
        defer { self.returnToUser(nil) }
        guard size <= Kernel.maxFileSize else { throw .tooBig("\(size) is beyond 16 TiB") }
        let dentry = try self.pathLookup(path)
        defer { self.dput(dentry) }
        let file = self.file(dentry.inode!)
        guard file.kind == .regular else { throw .isDirectory(path) }
        guard !file.isSwapFile || size == file.size else {
            throw .textBusy("\(path) is an active swap file")
        }
        self.truncateFile(file, size: size)
    }

    func truncateFile(_ file: SimFile, size: UInt64) {
        let old = file.size
        file.size = size
        if size < old {
            let from = file.sizeInPages(self.phys.pageShift)
            self.unmapMappingRange(file, from: from)
            self.truncateInodePages(file, from: from)
            file.disk = file.disk.filter { $0.key < from }
            file.taggedPages = min(file.taggedPages, from)
            file.extents = file.extents.compactMap { extent in
                guard extent.index < from else { return nil }
                var e = extent
                e.count = min(e.count, from - e.index)
                return e
            }
        }
        if !file.isShmem { self.dirtyMetadata(self.inodeBlock(file.inode)) }
    }

    /// `unmap_mapping_range(mapping, from, 0, even_cows = 1)`: zaps every PTE of every mapping
    /// of `file` at page `from` and beyond.
    func unmapMappingRange(_ file: SimFile, from: UInt64) {
        let shift = UInt64(self.phys.pageShift)
        for ref in file.mappers.sorted(by: { ($0.mm, $0.slot) < ($1.mm, $1.slot) }) {
            guard let mm = self.addressSpaces[ref.mm], let vma = mm.slots[ref.slot] else { continue }
            let vmaPages = vma.size >> shift
            guard from < vma.pgoff + vmaPages else { continue }
            let first = max(from, vma.pgoff)
            let start = vma.start + ((first - vma.pgoff) << shift)
            self.zapRange(mm, start..<vma.end, leafTablesOnly: true)
        }
    }

    // MARK: fadvise

    /// `fadvise64(2)` (`generic_fadvise()`): RANDOM turns readahead off for the open file,
    /// SEQUENTIAL doubles its window, NORMAL restores it; WILLNEED reads the range ahead
    /// (without waiting); DONTNEED starts writeback of the range and drops its clean pages.
    public func fadvise(_ task: Task, fd: Int, offset: UInt64, length: UInt64, advice: FileAdvice)
        throws(MMError)
    {
        defer { self.returnToUser(task) }
        self.switchTo(task)
        let open = try self.descriptor(task, fd)
        let file = self.file(open.file)
        let shift = UInt64(self.phys.pageShift)
        let defaultPages = file.isShmem ? 0 : self.sysctl.readAheadKB >> UInt64(self.phys.pageShift - 10)
        // generic_fadvise(): a zero length, or one whose end overflows, means "to the end".
        let (sum, overflow) = offset.addingReportingOverflow(length)
        let end = length == 0 || overflow ? file.size : min(file.size, sum)
        let first = offset >> shift
        let last = end > offset ? (end - 1) >> shift : first
        switch advice {
        case .normal:
            open.ra.raPages = defaultPages
            open.random = false
        case .random:
            open.random = true
        case .sequential:
            open.ra.raPages = defaultPages * 2
            open.random = false
        case .willneed:
            guard !file.isShmem, end > offset else { return }
            self.forcePageCacheReadahead(file, open.ra, start: first, count: last - first + 1)
        case .dontneed:
            guard !file.isShmem, end > offset else { return }
            self.writebackFile(file, range: first..<(last + 1), sync: false)
            for index in file.pages.keys.sorted() where index >= first && index <= last {
                if let pfn = file.pages[index], self.pageIsInvalidatable(pfn) {
                    self.pageCacheRemove(file, index: index)
                }
            }
        }
    }
}
