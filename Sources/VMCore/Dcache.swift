import VMPhys
import VMTypes

/// A name in a directory: the dentry cache's key (`d_parent`, `d_name`).
public struct DentryKey: Hashable, Sendable, CustomStringConvertible {
    public let parent: FileID
    public let name: String
    public var description: String { "\(self.parent)/\(self.name)" }
}

/// A cached directory entry (`struct dentry`, include/linux/dcache.h): positive (naming an
/// inode) or negative (remembering that the name does not exist).
///
/// `count` is `d_lockref.count`: references from open files and mappings (through their
/// `struct file`), from the walk in progress, and one from each cached child (`d_parent`). A
/// dentry whose count drops to zero stays cached on the dentry LRU (`nr_unused`) until the
/// shrinker frees it. Simplified: a dentry is on the LRU exactly while unused (Linux leaves
/// re-referenced dentries on the LRU and skips them when shrinking), and there is no
/// `DCACHE_REFERENCED` second chance.
public final class Dentry {
    public let key: DentryKey
    public internal(set) var inode: FileID?
    public internal(set) var count = 0
    var object: UInt64 = 0
    var lruStamp: UInt64?
    /// Still findable by name (`d_unhashed()` is false); an unlinked file's busy dentry is not.
    var hashed = true
    /// The parent directory's dentry (nil for children of the root, which is pinned).
    var parent: Dentry?

    init(key: DentryKey, inode: FileID?, parent: Dentry?) {
        self.key = key
        self.inode = inode
        self.parent = parent
    }
}

/// The dentry cache (fs/dcache.c, fs/namei.c's path walk).
extension Kernel {
    // MARK: Path walk and the dentry cache

    /// `path_lookupat()`: walks `path` component by component through the dentry cache. A
    /// miss reads the directory's block and the inode-table block (synchronously, through the
    /// block device's page cache) and caches a dentry — negative if the name does not exist.
    /// Returns the final dentry with a reference the caller must `dput`. With `charge: false`
    /// the metadata is cached without I/O (setup).
    func pathLookup(_ path: String, create: Bool = false, charge: Bool = true) throws(MMError) -> Dentry {
        let names = path.split(separator: "/").map(String.init)
        guard path.hasPrefix("/"), !names.isEmpty else { throw .invalid("'\(path)' is not an absolute path") }
        var dir = self.vfs.root
        var parent: Dentry?
        // The walk holds the directory it is in (lookups may allocate, and reclaim may shrink
        // the dentry cache).
        defer { if let parent { self.dput(parent) } }
        for (i, name) in names.enumerated() {
            let last = i == names.count - 1
            let key = DentryKey(parent: dir, name: name)
            let dentry: Dentry
            if let cached = self.vfs.dcache[key] {
                dentry = cached
            } else {
                // lookup_slow(): the file system reads the directory, then the inode.
                let directory = self.file(dir)
                guard self.readMetadata(directory.dirBlock, charge: charge) else {
                    throw .noMemory("no memory to read directory \(directory.path)")
                }
                let child = directory.entries[name]
                if let child {
                    guard self.iget(child, charge: charge) else { throw .noMemory("no memory for an inode") }
                }
                guard let made = self.dAlloc(key, inode: child, parent: parent) else {
                    if let child { self.iput(child) }
                    throw .noMemory("no memory for a dentry")
                }
                dentry = made
            }
            if dentry.inode == nil && last && create {
                try self.createRegular(in: dir, name: name, dentry: dentry, charge: charge)
            }
            guard let inode = dentry.inode else {
                throw .noEntry(path)
            }
            if last {
                self.dget(dentry)
                return dentry
            }
            guard self.file(inode).kind == .directory else {
                throw .notDirectory("/" + names[...i].joined(separator: "/"))
            }
            dir = inode
            self.dget(dentry)
            if let parent { self.dput(parent) }
            parent = dentry
        }
        preconditionFailure("pathLookup: unreachable")
    }

    /// `d_alloc()` + `d_add()`: a new hashed dentry (unused, so on the LRU), holding a reference
    /// on its parent dentry and, if positive, on its inode (taken by the caller).
    func dAlloc(_ key: DentryKey, inode: FileID?, parent: Dentry?) -> Dentry? {
        guard let object = self.phys.kmemCacheAlloc(self.caches.dentry, .kernel) else { return nil }
        let dentry = Dentry(key: key, inode: inode, parent: parent)
        dentry.object = object
        self.vfs.dcache[key] = dentry
        if let parent { self.dget(parent) }
        self.dentryLRUAdd(dentry)
        return dentry
    }

    /// `d_instantiate()` for a name created in `dir` without a walk (setup: `installFile`,
    /// `makeDirectory`, swap files): a cached negative dentry for it becomes positive and takes
    /// its reference on the inode, which is brought in core without I/O. If no memory is left
    /// for the inode object the negative dentry is dropped instead (`d_drop()`), so the next
    /// lookup reads the directory. (Creation through a walk, `createRegular`, instantiates the
    /// walk's own dentry.)
    func dInstantiate(_ dir: FileID, _ name: String, _ inode: FileID) {
        let key = DentryKey(parent: dir, name: name)
        guard let dentry = self.vfs.dcache[key], dentry.inode == nil else { return }
        if self.iget(inode, charge: false) {
            dentry.inode = inode
        } else if dentry.count == 0 {
            self.dentryKill(dentry)
        } else {
            dentry.hashed = false
            self.vfs.dcache[key] = nil
        }
    }

    /// `dget()`.
    func dget(_ dentry: Dentry) {
        if dentry.count == 0, let stamp = dentry.lruStamp {
            self.vfs.dentryLRU[stamp] = nil
            dentry.lruStamp = nil
        }
        dentry.count += 1
    }

    /// `dput()`: an unused hashed dentry stays cached on the LRU; an unhashed one (its file was
    /// unlinked while busy) is freed.
    func dput(_ dentry: Dentry) {
        precondition(dentry.count > 0, "dput: \(dentry.key) is not referenced")
        dentry.count -= 1
        guard dentry.count == 0 else { return }
        if dentry.hashed {
            self.dentryLRUAdd(dentry)
        } else {
            self.dentryKill(dentry)
        }
    }

    func dentryLRUAdd(_ dentry: Dentry) {
        guard dentry.count == 0, dentry.lruStamp == nil else { return }
        let stamp = self.vfs.nextStamp()
        dentry.lruStamp = stamp
        self.vfs.dentryLRU[stamp] = dentry.key
    }

    /// `dentry_kill()` → `__dentry_kill()`: frees the dentry, drops its inode and its parent.
    /// When shrinking (`cascade`), a parent left unused is killed too, as `shrink_kill()` does.
    /// Returns how many dentries were freed.
    @discardableResult
    func dentryKill(_ dentry: Dentry, cascade: Bool = false) -> Int {
        if let stamp = dentry.lruStamp {
            self.vfs.dentryLRU[stamp] = nil
            dentry.lruStamp = nil
        }
        if self.vfs.dcache[dentry.key] === dentry { self.vfs.dcache[dentry.key] = nil }
        self.phys.kmemCacheFree(self.caches.dentry, dentry.object)
        if let inode = dentry.inode { self.iput(inode) }
        guard let parent = dentry.parent else { return 1 }
        dentry.parent = nil
        self.dput(parent)
        if cascade && parent.count == 0 && parent.hashed { return 1 + self.dentryKill(parent, cascade: true) }
        return 1
    }

    /// `prune_dcache_sb()`: frees up to `count` unused dentries, oldest first (each frees its
    /// inode reference and may make its parent unused). Returns how many were freed.
    @discardableResult
    public func pruneDentries(_ count: Int) -> Int {
        var freed = 0
        for stamp in self.vfs.dentryLRU.keys.sorted() where freed < count {
            guard let key = self.vfs.dentryLRU[stamp], let dentry = self.vfs.dcache[key], dentry.count == 0
            else { continue }
            freed += self.dentryKill(dentry, cascade: true)
        }
        return freed
    }
}
