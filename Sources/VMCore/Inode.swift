import VMPhys
import VMTypes

/// The inode cache (fs/inode.c: `iget_locked()`, `iput()`, `evict()`, `prune_icache_sb()`).
extension Kernel {
    // MARK: The inode cache

    /// `iget_locked()` + the file system's inode read: brings inode `id` into the inode cache
    /// (reading its inode-table block) and takes a reference.
    func iget(_ id: FileID, charge: Bool = true) -> Bool {
        let file = self.file(id)
        if !file.inCore {
            if file.kind != .shmem {
                guard self.readMetadata(self.inodeBlock(file.inode), charge: charge) else { return false }
            }
            let cache = file.kind == .shmem ? self.caches.shmemInodeCache : self.caches.inodeCache
            guard let object = self.phys.kmemCacheAlloc(cache, .kernel) else { return false }
            file.object = object
            file.inCore = true
        }
        if let stamp = file.lruStamp {
            self.vfs.inodeLRU[stamp] = nil
            file.lruStamp = nil
        }
        file.iCount += 1
        return true
    }

    /// `iput()`: the last reference evicts a deleted inode (its pages and blocks go) and leaves
    /// any other on the unused-inode LRU, pages and all, until the shrinker reclaims it.
    func iput(_ id: FileID) {
        let file = self.file(id)
        precondition(file.iCount > 0, "iput: \(file.path) is not referenced")
        file.iCount -= 1
        guard file.iCount == 0 else { return }
        if file.nlink == 0 || file.kind == .shmem {
            self.evictInode(file)
        } else {
            let stamp = self.vfs.nextStamp()
            file.lruStamp = stamp
            self.vfs.inodeLRU[stamp] = id
        }
    }

    /// `evict()`: drops every page (`truncate_inode_pages_final()`, waiting for writeback),
    /// frees the in-core inode; a deleted file's disk blocks go too.
    func evictInode(_ file: SimFile) {
        self.truncateInodePages(file, from: 0)
        if let stamp = file.lruStamp {
            self.vfs.inodeLRU[stamp] = nil
            file.lruStamp = nil
        }
        if file.inCore {
            let cache = file.kind == .shmem ? self.caches.shmemInodeCache : self.caches.inodeCache
            self.phys.kmemCacheFree(cache, file.object)
            file.object = 0
            file.inCore = false
        }
        if file.pseudoDentry != 0 {
            self.phys.kmemCacheFree(self.caches.dentry, file.pseudoDentry)
            file.pseudoDentry = 0
            self.vfs.pseudoDentries -= 1
        }
        if file.nlink == 0 || file.kind == .shmem {
            file.released = true
            file.disk = [:]
            file.extents = []
            file.taggedPages = 0
        }
    }

    /// `prune_icache_sb()`: frees up to `count` unused inodes, oldest first. An inode with
    /// cached pages has its clean, unmapped pages invalidated first (counted as
    /// `pginodesteal`, or `kswapd_inodesteal` for kswapd); one that keeps pages stays.
    @discardableResult
    public func pruneInodes(_ count: Int, byKswapd: Bool = false) -> Int {
        var freed = 0
        for stamp in self.vfs.inodeLRU.keys.sorted() where freed < count {
            guard let id = self.vfs.inodeLRU[stamp] else { continue }
            let file = self.file(id)
            if !file.pages.isEmpty {
                let stolen = self.invalidateMappingPages(file)
                self.phys.count(byKswapd ? .kswapdInodesteal : .pginodesteal, UInt64(stolen))
                if !file.pages.isEmpty { continue }
            }
            self.evictInode(file)
            freed += 1
        }
        return freed
    }
}
