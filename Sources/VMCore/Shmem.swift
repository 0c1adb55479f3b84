import VMPaging
import VMPhys
import VMTypes

/// shmem pages and swap (mm/shmem.c: `shmem_writeout()` moves an unmapped page to the swap
/// cache, `shmem_swapin_folio()` brings it back into the file's page cache).
extension Kernel {
    // MARK: shmem and swap

    /// `shmem_swapin_folio()`: brings a shmem page back from swap into the file's page cache.
    /// Returns the page (the fault counts major when it had to be read).
    func shmemSwapIn(_ file: SimFile, index: UInt64) -> (PFN, major: Bool)? {
        guard let entry = file.swapped[index] else { return nil }
        var major = false
        let got: (PFN, new: Bool)?
        if self.swap.cache[entry] != nil {
            got = self.readSwapCacheAsync(entry, readahead: false)
        } else {
            got = self.swapClusterReadahead(entry)
            major = true
        }
        guard let (pfn, _) = got else { return nil }
        if self.phys.memMap.test(pfn, .locked) { self.waitOnPageLocked(pfn) }
        if self.phys.memMap.test(pfn, .writeback) { self.waitOnPageWriteback(pfn) }
        guard file.swapped[index] == entry, self.swapEntry(of: pfn) == entry else {
            self.putPage(pfn)
            return file.pages[index].map { ($0, false) }
        }
        // Replace the swap entry in the shmem index with the page (shmem_replace_entry()).
        self.deleteFromSwapCache(pfn)
        file.swapped[index] = nil
        self.swapFree(entry)
        self.lruDelete(pfn)
        self.phys.memMap.removeFlags(pfn, .anon)
        self.phys.memMap.setMapping(pfn, 0)
        file.pages[index] = pfn
        _ = self.syncIndexNodes(file)
        self.phys.memMap.setMapping(pfn, UInt32(file.id.rawValue + 1))
        self.phys.memMap.setIndex(pfn, index)
        self.phys.memMap.insertFlags(pfn, [.swapBacked, .uptodate, .dirty])
        self.phys.mod(.nrFilePages, 1)
        self.phys.mod(.nrShmem, 1)
        self.lruAddNew(pfn, vma: nil)
        // The fault's reference becomes the page cache's (the swap cache's went with it).
        return (pfn, major)
    }

    /// `shmem_writeout()`: an unmapped shmem page leaves its file for the swap cache; the file's
    /// index keeps the swap entry. Returns the entry, or nil without swap space.
    func shmemWriteout(_ pfn: PFN) -> SwapEntry? {
        guard let file = self.owningFile(pfn), file.isShmem, let entry = self.getSwapSlot() else {
            return nil
        }
        guard self.memcgChargeSwap(pfn, entry) else {
            self.area(entry).clearCached(entry.offset)
            return nil
        }
        let index = self.phys.memMap.index(pfn)
        // The slot is referenced by the shmem index (`swap_shmem_alloc()`) and the cache.
        self.area(entry).duplicate(entry.offset)
        file.pages[index] = nil
        _ = self.syncIndexNodes(file)
        file.swapped[index] = entry
        self.phys.mod(.nrFilePages, -1)
        self.phys.mod(.nrShmem, -1)
        self.phys.memMap.setMapping(pfn, 0)
        // The page-cache reference becomes the swap cache's.
        let freed = self.phys.memMap.putPageTestZero(pfn)
        precondition(!freed, "shmemWriteout: \(pfn) freed")
        self.addToSwapCache(pfn, entry)
        return entry
    }
}
