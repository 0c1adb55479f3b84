import VMPhys
import VMTypes

/// A file (inode) with its page cache.
///
/// Models `struct inode` with its `struct address_space` (vmsim: `FileMapping`): the cached
/// pages by offset, the file's size, and the VMAs that map it (`i_mmap`). Page contents on
/// "disk" are content words: a page never written has a value derived from the inode and
/// offset, and written-back pages keep what was written.
public final class SimFile {
    public let id: FileID
    /// Inode number (`i_ino`).
    public let inode: Int
    public internal(set) var path: String
    /// `i_size` in bytes.
    public internal(set) var size: UInt64
    /// shmem/tmpfs: pages live only in memory (and swap), never on a disk.
    public let isShmem: Bool
    /// The page cache (`i_pages`): page offset → frame.
    public internal(set) var pages: [UInt64: PFN] = [:]
    /// Content words on disk for pages that were written back.
    var disk: [UInt64: UInt64] = [:]
    /// `i_mmap`: the VMAs mapping this file.
    public internal(set) var mappers: Set<VMARef> = []
    /// Unlinked but still open or mapped.
    public internal(set) var unlinked = false
    /// Kept alive without mappings (a SysV segment not yet removed with IPC_RMID).
    var pinned = false
    /// Released: its pages are gone and it can no longer be mapped.
    public internal(set) var released = false

    init(id: FileID, inode: Int, path: String, size: UInt64, isShmem: Bool) {
        self.id = id
        self.inode = inode
        self.path = path
        self.size = size
        self.isShmem = isShmem
    }

    /// `nrpages`.
    public var cachedPages: Int { self.pages.count }

    /// The content word of page `index` as stored on disk.
    public func diskContent(_ index: UInt64) -> UInt64 {
        if let word = self.disk[index] { return word }
        return SimFile.initialContent(inode: self.inode, index: index)
    }

    /// What a never-written file page holds: a tag, the inode and the offset.
    public static func initialContent(inode: Int, index: UInt64) -> UInt64 {
        0xF11E_0000_0000_0000 | (UInt64(inode & 0xFFFFFF) << 24) | (index & 0xFFFFFF)
    }
}

/// The page cache (mm/filemap.c): lookup, insertion and `filemap_fault()`.
extension Kernel {
    /// Creates a file of `size` bytes; with `cached`, every page is read into the page cache.
    @discardableResult
    public func createFile(_ path: String, size: UInt64, cached: Bool = false, shmem: Bool = false) -> SimFile
    {
        let id = FileID(rawValue: self.files.count)
        self.nextInode += 1
        let file = SimFile(id: id, inode: self.nextInode, path: path, size: size, isShmem: shmem)
        self.files.append(file)
        if !shmem { self.filesByPath[path] = id }
        if cached {
            let pages = (size + self.phys.pageSize - 1) >> UInt64(self.phys.pageShift)
            for index in 0..<pages where self.pageCacheAdd(file, index: index) == nil { break }
        }
        return file
    }

    /// The file at `path`, if it exists.
    public func file(at path: String) -> SimFile? { self.filesByPath[path].map { self.files[$0.rawValue] } }
    public func file(_ id: FileID) -> SimFile { self.files[id.rawValue] }

    /// `filemap_get_folio()`: the cached page at `index`, if any.
    public func pageCacheLookup(_ file: SimFile, index: UInt64) -> PFN? { file.pages[index] }

    /// Reads page `index` of `file` into a new page-cache page (`filemap_add_folio()` + read).
    /// Returns nil when no memory can be found.
    func pageCacheAdd(_ file: SimFile, index: UInt64) -> PFN? {
        guard let pfn = self.phys.allocPages(.highUserMovable, order: 0) else { return nil }
        let memMap = self.phys.memMap
        memMap.setMapping(pfn, UInt32(file.id.rawValue + 1))
        memMap.setIndex(pfn, index)
        memMap.insertFlags(pfn, .uptodate)
        if file.isShmem { memMap.insertFlags(pfn, .swapBacked) }
        memMap.setContent(pfn, file.isShmem ? 0 : file.diskContent(index))
        file.pages[index] = pfn
        self.phys.mod(.nrFilePages, 1)
        if file.isShmem { self.phys.mod(.nrShmem, 1) }
        return pfn
    }

    /// Frees an anonymous shared-memory object (or an unlinked file) once nothing maps or pins it:
    /// its pages go, as when the last reference to a shmem inode is dropped.
    func releaseFileIfUnused(_ id: FileID) {
        let file = self.file(id)
        guard (file.isShmem || file.unlinked), file.mappers.isEmpty, !file.pinned, !file.released else {
            return
        }
        for index in file.pages.keys.sorted() { self.pageCacheDrop(file, index: index) }
        file.released = true
    }

    /// Takes a page out of the cache regardless of its state (the file is going away).
    func pageCacheDrop(_ file: SimFile, index: UInt64) {
        guard let pfn = file.pages[index] else { return }
        let memMap = self.phys.memMap
        if memMap.test(pfn, .dirty) && !file.isShmem { self.phys.mod(.nrDirty, -1) }
        memMap.removeFlags(pfn, .dirty)
        self.lruDelete(pfn)
        self.pageCacheRemove(file, index: index)
    }

    /// Removes a clean, unmapped page from the cache and frees it (`filemap_remove_folio()`).
    func pageCacheRemove(_ file: SimFile, index: UInt64) {
        guard let pfn = file.pages.removeValue(forKey: index) else { return }
        let memMap = self.phys.memMap
        precondition(memMap.mapCount(pfn) == 0, "pageCacheRemove: \(pfn) is still mapped")
        if memMap.test(pfn, .dirty) { file.disk[index] = memMap.content(pfn) }
        memMap.removeFlags(pfn, [.uptodate, .dirty, .swapBacked, .referenced, .active])
        memMap.setMapping(pfn, 0)
        self.phys.mod(.nrFilePages, -1)
        if file.isShmem { self.phys.mod(.nrShmem, -1) }
        self.phys.freePages(pfn, order: 0)
    }

    /// The outcome of `filemap_fault()`.
    enum FilemapFault {
        case page(PFN, major: Bool)
        case sigbus
        case oom
    }

    /// `filemap_fault()`: the page-cache page for `index`, reading it if needed (a major fault).
    /// Beyond end of file: SIGBUS.
    func filemapFault(_ file: SimFile, index: UInt64) -> FilemapFault {
        let pages = (file.size + self.phys.pageSize - 1) >> UInt64(self.phys.pageShift)
        guard index < pages else { return .sigbus }
        if let pfn = file.pages[index] { return .page(pfn, major: false) }
        guard let pfn = self.pageCacheAdd(file, index: index) else { return .oom }
        return .page(pfn, major: !file.isShmem)
    }
}
