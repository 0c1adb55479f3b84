import VMPhys
import VMTypes

/// What an inode is.
public enum FileKind: String, Sendable {
    case regular, directory
    /// shmem/tmpfs: pages live only in memory (and swap), never on a disk.
    case shmem
    /// The block device itself (`/dev/sda`): its page cache holds the file system's metadata
    /// blocks, which `/proc/meminfo` calls Buffers.
    case blockDevice
}

/// A run of file pages stored in consecutive disk blocks.
struct Extent: Hashable, Sendable {
    var index: UInt64
    var block: UInt64
    var count: UInt64
}

/// An inode with its page cache.
///
/// Models `struct inode` with its `struct address_space` (Linux's `i_mapping`, vmsim's page
/// cache): the cached pages by offset, the file's size, where its pages live on disk, the VMAs
/// that map it (`i_mmap`) and its in-core state. A `SimFile` exists for every file the disk
/// holds; it is *in core* (`inCore`, an `inode_cache` object allocated) only while the inode
/// cache holds it, and only then can it have cached pages. Page contents on "disk" are content
/// words: a page of a file that existed before the scenario holds a tag derived from the inode
/// and offset; a page never written since a truncate or past the original end holds zero;
/// written-back pages hold what was written.
public final class SimFile {
    public let id: FileID
    /// Inode number (`i_ino`).
    public let inode: Int
    public let kind: FileKind
    /// The path the file was created at (its dentry name for maps and reports).
    public internal(set) var path: String
    /// `i_size` in bytes.
    public internal(set) var size: UInt64
    /// `i_nlink`: names in the directory tree (0 once unlinked).
    public internal(set) var nlink = 1
    /// The page cache (`i_pages`): page offset → frame.
    public let pages = PageCacheIndex()
    /// The `radix_tree_node` slab objects standing for the index's nodes.
    var nodeObjects: [UInt64] = []
    /// Content words on disk for pages that were written back.
    var disk: [UInt64: UInt64] = [:]
    /// Pages below this index hold the original tag content unless written.
    var taggedPages: UInt64 = 0
    /// Where the file's pages are on disk, sorted by index and disjoint; pages outside every
    /// extent are holes (read as zero).
    var extents: [Extent] = []
    /// `i_mmap`: the VMAs mapping this file.
    public internal(set) var mappers: Set<VMARef> = []
    /// In the inode cache (`inode_cache`/`shmem_inode_cache` object allocated).
    public internal(set) var inCore = false
    var object: UInt64 = 0
    /// `i_count`: references to the in-core inode (its dentry; for shmem, its open files).
    public internal(set) var iCount = 0
    /// When the inode joined the unused-inode LRU (nil while referenced).
    var lruStamp: UInt64?
    /// `dirtied_when`: when the inode's pages first became dirty; nil while clean.
    public internal(set) var dirtiedWhen: UInt64?
    /// Dirty (not yet written back) page count, kept with the pages' dirty flags.
    public internal(set) var dirtyPages = 0
    /// Pages under writeback.
    public internal(set) var writebackPages = 0
    /// Directory entries (directories only): name → file.
    var entries: [String: FileID] = [:]
    /// The directory's block (directories only).
    var dirBlock: UInt64 = 0
    /// The directory holding the file.
    var parent: FileID?
    /// shmem pages out on swap: page offset → swap entry (the XArray's value entries).
    /// Shadow entries of evicted pages by index (mm/workingset.c; see `Shadow`).
    public internal(set) var shadows: [UInt64: Shadow] = [:]
    public internal(set) var swapped: [UInt64: SwapEntry] = [:]
    /// The pseudo dentry object of a shmem file (0 for files in the directory tree).
    var pseudoDentry: UInt64 = 0
    /// Deleted and evicted: its pages and disk blocks are gone for good.
    public internal(set) var released = false
    /// `S_SWAPFILE`: an active swap area lives in the file's blocks (set by `swapon`, cleared
    /// by `swapoff`). Writing, resizing and unlinking it are refused.
    public internal(set) var isSwapFile = false

    init(id: FileID, inode: Int, kind: FileKind, path: String, size: UInt64) {
        self.id = id
        self.inode = inode
        self.kind = kind
        self.path = path
        self.size = size
    }

    public var isShmem: Bool { self.kind == .shmem }
    /// Unlinked while still open or mapped (printed `(deleted)`).
    public var unlinked: Bool { self.nlink == 0 && self.kind != .shmem }
    /// `nrpages`.
    public var cachedPages: Int { self.pages.count }
    /// `i_size` in pages, rounded up (without overflowing for any size).
    func sizeInPages(_ pageShift: Int) -> UInt64 {
        let mask = (UInt64(1) << UInt64(pageShift)) - 1
        return (self.size >> UInt64(pageShift)) + (self.size & mask == 0 ? 0 : 1)
    }

    /// The content word of page `index` as stored on disk.
    public func diskContent(_ index: UInt64) -> UInt64 {
        if let word = self.disk[index] { return word }
        if index < self.taggedPages { return SimFile.initialContent(inode: self.inode, index: index) }
        return 0
    }

    /// What a page of a pre-existing file holds: a tag, the inode and the offset.
    public static func initialContent(inode: Int, index: UInt64) -> UInt64 {
        0xF11E_0000_0000_0000 | (UInt64(inode & 0xFFFFFF) << 24) | (index & 0xFFFFFF)
    }

    /// The disk block of page `index`, nil for a hole. `extents` is sorted by index: a binary
    /// search, O(log extents).
    func block(of index: UInt64) -> UInt64? {
        var low = 0
        var high = self.extents.count
        while low < high {
            let mid = (low + high) / 2
            if self.extents[mid].index <= index { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let extent = self.extents[low - 1]
        return index - extent.index < extent.count ? extent.block + (index - extent.index) : nil
    }
}

/// An open file (`struct file`): the file, its position, its readahead state, and the dentry
/// it holds. Shared by every descriptor and mapping made from one `open()`.
public final class OpenFile {
    public let id: Int
    public let file: FileID
    /// The dentry the file holds (nil for shmem pseudo files, which hold their inode directly).
    let dentry: Dentry?
    /// `f_count`: descriptors and VMAs referring to it.
    public internal(set) var count = 1
    /// `f_pos`.
    public internal(set) var position: UInt64 = 0
    /// `f_ra`.
    public internal(set) var ra: ReadaheadState
    /// `FMODE_RANDOM` (`POSIX_FADV_RANDOM`): reads do no readahead.
    var random = false
    var object: UInt64 = 0

    init(id: Int, file: FileID, dentry: Dentry?, raPages: UInt64) {
        self.id = id
        self.file = file
        self.dentry = dentry
        self.ra = ReadaheadState(raPages: raPages)
    }
}

/// The virtual file system's state: the namespace, the dentry and inode caches, the open files,
/// and the on-disk layout of the one file system, mounted on `disk` (the superblock's `s_bdev`;
/// its queue is the `BlockLayer`'s).
public final class VFS {
    public let disk: BlockDevice
    /// The root directory and the block-device inode.
    public internal(set) var root = FileID(rawValue: 0)
    public internal(set) var blockDevice = FileID(rawValue: 0)
    /// The dentry cache (`dentry_hashtable`).
    var dcache: [DentryKey: Dentry] = [:]
    /// Unused dentries and inodes by the time they became unused (the `list_lru`s).
    var dentryLRU: [UInt64: DentryKey] = [:]
    var inodeLRU: [UInt64: FileID] = [:]
    var stamp: UInt64 = 0
    /// Pseudo dentries of shmem files (not hashed), counted in `nr_dentry`.
    var pseudoDentries = 0
    var openFiles: [Int: OpenFile] = [:]
    var nextOpenFile = 1
    var nextInode = 2
    /// Disk layout (4 KiB blocks): superblock, inode table (16 inodes per block), then data
    /// and directory blocks from a bump allocator.
    static let inodeTableStart: UInt64 = 1
    static let inodesPerBlock = 16
    static let inodeTableBlocks: UInt64 = 4096
    var nextBlock: UInt64 = 1 + 4096

    init(disk: BlockDevice) {
        self.disk = disk
    }

    /// `nr_dentry`, `nr_unused`, `nr_negative` of `/proc/sys/fs/dentry-state`.
    public var dentryCount: Int { self.dcache.count + self.pseudoDentries + 1 }
    public var unusedDentries: Int { self.dentryLRU.count }
    public var negativeDentries: Int { self.dcache.values.reduce(0) { $0 + ($1.inode == nil ? 1 : 0) } }
    /// `nr_inodes`, `nr_unused` of `/proc/sys/fs/inode-nr`.
    public var unusedInodes: Int { self.inodeLRU.count }
    public var openFileCount: Int { self.openFiles.count }
    public var dentries: [Dentry] { self.dcache.values.sorted { $0.key.description < $1.key.description } }
    func nextStamp() -> UInt64 {
        self.stamp += 1
        return self.stamp
    }
}

/// The namespace, dentry cache and inode cache (fs/namei.c, fs/dcache.c, fs/inode.c), over a
/// simple ext2-like disk layout: directory and inode-table blocks are read through the block
/// device's page cache (Buffers), so a lookup that misses the dcache costs disk reads.
extension Kernel {
    public func file(_ id: FileID) -> SimFile { self.files[id.rawValue] }

    /// The file at `path`, if it exists (a direct look at the directory tree, for reports and
    /// tests; system calls walk the dentry cache instead).
    public func file(at path: String) -> SimFile? {
        var dir = self.vfs.root
        for name in path.split(separator: "/") {
            guard self.file(dir).kind == .directory, let child = self.file(dir).entries[String(name)] else {
                return nil
            }
            dir = child
        }
        return dir == self.vfs.root ? nil : self.file(dir)
    }

    /// Creates the root directory and the block device's inode at boot.
    func mountRoot() {
        let root = self.newInode(kind: .directory, path: "/", size: 4096, parent: nil)
        root.dirBlock = self.allocBlocks(1)
        root.inCore = true
        root.iCount = 1
        root.object = self.phys.kmemCacheAlloc(self.caches.inodeCache, .kernel) ?? 0
        self.vfs.root = root.id
        let capacity = self.vfs.disk.capacityBlocks << UInt64(self.phys.pageShift)
        let bdev = self.newInode(
            kind: .blockDevice, path: "/dev/" + self.vfs.disk.kind.deviceName, size: capacity, parent: nil)
        bdev.inCore = true
        bdev.iCount = 1
        bdev.extents = [Extent(index: 0, block: 0, count: self.vfs.disk.capacityBlocks)]
        self.vfs.blockDevice = bdev.id
    }

    func newInode(kind: FileKind, path: String, size: UInt64, parent: FileID?) -> SimFile {
        let id = FileID(rawValue: self.files.count)
        let ino = self.vfs.nextInode
        self.vfs.nextInode += 1
        let file = SimFile(id: id, inode: ino, kind: kind, path: path, size: size)
        file.parent = parent
        self.files.append(file)
        return file
    }

    /// Allocates `count` consecutive disk blocks (a bump allocator: blocks are not reused).
    func allocBlocks(_ count: UInt64) -> UInt64 {
        let block = self.vfs.nextBlock
        self.vfs.nextBlock += count
        return block
    }

    /// The inode-table block holding inode `ino`.
    func inodeBlock(_ ino: Int) -> UInt64 {
        VFS.inodeTableStart + UInt64(ino / VFS.inodesPerBlock) % VFS.inodeTableBlocks
    }

    // MARK: Creating files (setup, no I/O)

    /// Puts a file of `size` bytes on the disk at `path`, creating missing directories, as if it
    /// had been written long before: its pages hold tagged content in consecutive blocks. With
    /// `cached`, the file is also in the dentry, inode and page caches, clean and inactive, as
    /// after an earlier read — without charging the time that read took.
    ///
    /// A page cache holds no more than memory: `cached` puts in the *last* pages of the file,
    /// as many as fit in free memory above the zones' high watermarks (all of them when the
    /// file fits), in file order — what a sequential read leaves cached once reclaim has
    /// dropped its beginning — and reclaims nothing and wakes no kswapd doing so. The work is
    /// bounded by RAM, not by the file's size. Larger than the file system's 16 TiB limit:
    /// EFBIG.
    @discardableResult
    public func installFile(_ path: String, size: UInt64, cached: Bool = false) throws(MMError) -> SimFile {
        let names = path.split(separator: "/").map(String.init)
        guard path.hasPrefix("/"), let leaf = names.last else {
            throw .invalid("'\(path)' is not an absolute path to a file")
        }
        guard size <= Kernel.maxFileSize else {
            throw .tooBig("\(path): \(size) bytes is beyond the file system's 16 TiB")
        }
        let dir = try self.installDirectory(names.dropLast())
        if let existing = self.file(dir).entries[leaf] {
            throw .exists("\(path) exists (\(self.file(existing).kind.rawValue))")
        }
        let file = self.newInode(kind: .regular, path: path, size: size, parent: dir)
        let pages = file.sizeInPages(self.phys.pageShift)
        file.taggedPages = pages
        if pages > 0 { file.extents = [Extent(index: 0, block: self.allocBlocks(pages), count: pages)] }
        self.file(dir).entries[leaf] = file.id
        self.dInstantiate(dir, leaf, file.id)
        if cached {
            let dentry = try self.pathLookup(path, charge: false)
            defer { self.dput(dentry) }
            // Room for the pages and, about one in 256, the index's radix_tree_node slabs.
            let room = self.phys.pagesAboveHighWatermark(.highUserMovable)
            let fit = UInt64(max(0, room - room / 256 - 8))
            var index = pages - min(pages, fit)
            while index < pages, self.phys.pagesAboveHighWatermark(.highUserMovable) > 0,
                let pfn = self.pageCacheAdd(file, index: index)
            {
                self.phys.memMap.setContent(pfn, file.diskContent(index))
                self.phys.memMap.insertFlags(pfn, .uptodate)
                index += 1
            }
        }
        return file
    }

    /// `mkdir -p` on the disk (setup, no I/O): every missing directory of `path` is created.
    public func makeDirectory(_ path: String) throws(MMError) {
        guard path.hasPrefix("/") else { throw .invalid("'\(path)' is not an absolute path") }
        _ = try self.installDirectory(path.split(separator: "/").map(String.init)[...])
    }

    func installDirectory(_ names: ArraySlice<String>) throws(MMError) -> FileID {
        var dir = self.vfs.root
        var walked = ""
        for name in names {
            walked += "/" + name
            if let child = self.file(dir).entries[name] {
                guard self.file(child).kind == .directory else { throw .notDirectory(walked) }
                dir = child
            } else {
                let sub = self.newInode(kind: .directory, path: walked, size: 4096, parent: dir)
                sub.dirBlock = self.allocBlocks(1)
                self.file(dir).entries[name] = sub.id
                self.dInstantiate(dir, name, sub.id)
                dir = sub.id
            }
        }
        return dir
    }

    // MARK: Creating and removing names

    /// Creates an empty regular file named by a negative dentry (`vfs_create()`): a new inode,
    /// the directory block and the inode-table block dirtied.
    func createRegular(in dir: FileID, name: String, dentry: Dentry, charge: Bool) throws(MMError) {
        let directory = self.file(dir)
        let path = (directory.path == "/" ? "" : directory.path) + "/" + name
        let file = self.newInode(kind: .regular, path: path, size: 0, parent: dir)
        guard self.iget(file.id, charge: charge) else { throw .noMemory("no memory for an inode") }
        directory.entries[name] = file.id
        dentry.inode = file.id
        self.dirtyMetadata(directory.dirBlock)
        self.dirtyMetadata(self.inodeBlock(file.inode))
    }

    /// `unlink(2)`: removes the name; the inode lives on while open or mapped, and is evicted
    /// (pages freed) with its last reference. An active swap file cannot be unlinked (EPERM,
    /// `may_delete()` in fs/namei.c).
    public func unlink(_ path: String) throws(MMError) {
        let dentry = try self.pathLookup(path)
        guard let id = dentry.inode else { throw .noEntry(path) }
        let file = self.file(id)
        guard file.kind == .regular else {
            self.dput(dentry)
            throw .isDirectory(path)
        }
        guard !file.isSwapFile else {
            self.dput(dentry)
            throw .notPermitted("\(path) is an active swap file")
        }
        let directory = self.file(dentry.key.parent)
        directory.entries[dentry.key.name] = nil
        file.nlink = 0
        self.dirtyMetadata(directory.dirBlock)
        self.dirtyMetadata(self.inodeBlock(file.inode))
        // d_delete(): the only user (the walk) turns the dentry negative; a busy one is unhashed.
        if dentry.count == 1 {
            dentry.inode = nil
            self.dput(dentry)
            self.iput(id)
        } else {
            dentry.hashed = false
            self.vfs.dcache[dentry.key] = nil
            self.dput(dentry)
        }
    }

    // MARK: Shrinking the caches

    /// `drop_slab()`: shrinks the dentry and inode caches pass after pass while a pass frees
    /// more than 2^pass objects, then gives empty slabs back. Returns the objects freed.
    @discardableResult
    public func dropSlab() -> Int {
        var total = 0
        var shift = 0
        while true {
            let freed = self.pruneDentries(Int.max) + self.pruneInodes(Int.max)
            total += freed
            if (freed >> shift) <= 1 { break }
            shift += 1
        }
        _ = self.phys.kmemCacheShrinkAll()
        return total
    }
}
