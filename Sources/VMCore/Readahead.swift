import VMPhys
import VMTypes

/// `struct file_ra_state` (include/linux/fs.h): the most recent readahead window of an open
/// file and what it has learned about the access pattern.
///
/// ```
///                        |<----- asyncSize ---------|
///     |------------------- size -------------------->|
///     |==================#===========================|
///     ^start             ^page marked PG_readahead
/// ```
public struct ReadaheadState: Sendable, Hashable {
    public internal(set) var start: UInt64 = 0
    public internal(set) var size: UInt64 = 0
    public internal(set) var asyncSize: UInt64 = 0
    /// `ra_pages`: the most a readahead reads (`read_ahead_kb` / 4).
    public internal(set) var raPages: UInt64
    /// `mmap_miss`: mmap faults that found nothing cached, less pages fault-around mapped.
    public internal(set) var mmapMiss: Int = 0
    /// `prev_pos`: the byte after the previous read (`-1`: none).
    public internal(set) var prevPos: UInt64 = .max

    init(raPages: UInt64) { self.raPages = raPages }
}

/// Readahead (mm/readahead.c, and the mmap side in mm/filemap.c), as Linux 6.18 does it for a
/// file system without large folios: every readahead reads order-0 pages.
extension Kernel {
    /// `MMAP_LOTSAMISS`: mmap faults give up on readahead past this many misses.
    static let mmapLotsAMiss = 100

    /// `get_init_ra_size()`: the first window for a read of `size` pages: the request rounded
    /// up to a power of two, ×4 when small, ×2 when medium, else the maximum.
    static func initialReadaheadSize(_ size: UInt64, max: UInt64) -> UInt64 {
        var newSize: UInt64 = 1
        while newSize < size { newSize <<= 1 }
        if newSize <= max / 32 { return newSize * 4 }
        if newSize <= max / 4 { return newSize * 2 }
        return max
    }

    /// `get_next_ra_size()`: ramp up ×4 while small, ×2 up to half the maximum, then the maximum.
    static func nextReadaheadSize(_ current: UInt64, max: UInt64) -> UInt64 {
        if current < max / 16 { return 4 * current }
        if current <= max / 2 { return 2 * current }
        return max
    }

    /// `ractl_max_pages()`: a request larger than the window may read up to the disk's optimal
    /// I/O size.
    func readaheadMaxPages(_ ra: ReadaheadState, request: UInt64) -> UInt64 {
        var maxPages = ra.raPages
        if request > maxPages && BlockLayer.maxRequestPages > maxPages {
            maxPages = min(request, BlockLayer.maxRequestPages)
        }
        return maxPages
    }

    /// `page_cache_ra_unbounded()` via `do_page_cache_ra()`: adds the missing pages of
    /// `start..<start+count` (clamped to end of file) to the cache, locked, the one at
    /// `count - lookahead` marked `PG_readahead`, and submits their reads. Pages already cached
    /// are skipped (and split the I/O). Stops early when memory runs out.
    func doPageCacheReadahead(_ file: SimFile, start: UInt64, count: UInt64, lookahead: UInt64) {
        let endIndex = file.sizeInPages(self.phys.pageShift)
        guard file.size > 0, start < endIndex else { return }
        let count = min(count, endIndex - start)
        let mark: UInt64? = lookahead <= count ? start + count - lookahead : nil
        var batch: [UInt64] = []
        for index in start..<(start + count) {
            if file.pages[index] != nil {
                self.submitRead(file, batch)
                batch = []
                continue
            }
            guard let pfn = self.pageCacheAdd(file, index: index) else { break }
            self.phys.memMap.insertFlags(pfn, .locked)
            if index == mark { self.phys.memMap.insertFlags(pfn, .readahead) }
            batch.append(index)
        }
        self.submitRead(file, batch)
    }

    /// `force_page_cache_ra()`: reads `count` pages from `start` regardless of the pattern
    /// (`FMODE_RANDOM` reads, `MADV_WILLNEED`, `POSIX_FADV_WILLNEED`), at most
    /// max(io_pages, ra_pages), in 2 MiB chunks.
    func forcePageCacheReadahead(_ file: SimFile, _ ra: ReadaheadState, start: UInt64, count: UInt64) {
        let maxPages = max(BlockLayer.maxRequestPages, ra.raPages)
        var remaining = min(count, maxPages)
        var index = start
        let chunk = UInt64(2 << 20) >> UInt64(self.phys.pageShift)
        while remaining > 0 {
            let this = min(chunk, remaining)
            self.doPageCacheReadahead(file, start: index, count: this, lookahead: 0)
            index += this
            remaining -= this
        }
    }

    /// `page_cache_sync_ra()`: a read found page `index` missing. From the start of the file, for
    /// an oversized read or right after the previous read: a fresh window. Otherwise the pages
    /// cached just before `index` tell whether this is a stream (a window sized from their
    /// count) or a small random read (just the request).
    func pageCacheSyncReadahead(
        _ file: SimFile, _ ra: inout ReadaheadState, random: Bool, index: UInt64, count: UInt64
    ) {
        var count = count
        var forced = random
        if ra.raPages == 0 {
            count = 1
            forced = true
        }
        if forced {
            self.forcePageCacheReadahead(file, ra, start: index, count: count)
            return
        }
        let maxPages = self.readaheadMaxPages(ra, request: count)
        let prevIndex = ra.prevPos >> UInt64(self.phys.pageShift)
        if index == 0 || count > maxPages || index &- prevIndex <= 1 {
            ra.start = index
            ra.size = Kernel.initialReadaheadSize(count, max: maxPages)
            ra.asyncSize = ra.size > count ? ra.size - count : ra.size >> 1
            self.readaheadSubmit(file, ra)
            return
        }
        // page_cache_prev_miss(): scanning back from index - 1 at most maxPages entries, the
        // first hole (ULONG_MAX when the cache reaches back past the start of the file).
        var miss = index - 1
        var scan = maxPages
        var first = true
        while scan > 0 {
            scan -= 1
            if !first { miss = miss &- 1 }
            first = false
            if miss == .max || file.pages[miss] == nil { break }
        }
        var contiguous = index &- miss &- 1
        if contiguous <= count {
            self.doPageCacheReadahead(file, start: index, count: count, lookahead: 0)
            return
        }
        // Cached from the start of the file: a strong sign of a whole-file read.
        if miss == .max { contiguous *= 2 }
        ra.start = index
        ra.size = min(contiguous + count, maxPages)
        ra.asyncSize = 1
        self.readaheadSubmit(file, ra)
    }

    /// `page_cache_async_ra()`: a reader reached the page marked `PG_readahead` at `index`. At
    /// the expected place the window moves forward and grows; elsewhere (interleaved streams)
    /// the cached run after `index` gives the old window's size.
    func pageCacheAsyncReadahead(
        _ file: SimFile, _ ra: inout ReadaheadState, pfn: PFN, index: UInt64, count: UInt64
    ) {
        guard ra.raPages > 0 else { return }
        if self.phys.memMap.test(pfn, .writeback) { return }
        self.phys.memMap.removeFlags(pfn, .readahead)
        let maxPages = self.readaheadMaxPages(ra, request: count)
        if index == ra.start + ra.size - ra.asyncSize {
            ra.start += ra.size
            ra.size = max(ra.size, Kernel.nextReadaheadSize(ra.size, max: maxPages))
        } else {
            // page_cache_next_miss() from index + 1.
            var start = index + 1
            while start - index <= maxPages, file.pages[start] != nil { start += 1 }
            guard start - index <= maxPages else { return }
            ra.start = start
            ra.size = start - index + count
            ra.size = Kernel.nextReadaheadSize(ra.size, max: maxPages)
        }
        // The window's end is aligned for the folio order the next read would use (order 2:
        // order 0 from the last read + 2), at most the largest power of two in maxPages.
        let align = UInt64(1) << UInt64(min(2, maxPages.trailingZeroBitCount))
        let end = ra.start + ra.size
        let alignedEnd = end / align * align
        if alignedEnd > ra.start { ra.size -= end - alignedEnd }
        ra.asyncSize = ra.size
        self.readaheadSubmit(file, ra, async: true)
    }

    /// `page_cache_ra_order()` for order-0 pages: reads the window `ra` describes.
    func readaheadSubmit(_ file: SimFile, _ ra: ReadaheadState, async: Bool = false) {
        self.emit(.readahead(path: file.path, start: ra.start, pages: ra.size, async: async))
        self.doPageCacheReadahead(file, start: ra.start, count: ra.size, lookahead: ra.asyncSize)
    }

    // MARK: The mmap side (mm/filemap.c)

    /// `do_sync_mmap_readahead()`: a fault found page `index` missing. `MADV_RANDOM`: nothing.
    /// `MADV_SEQUENTIAL`: a sync readahead of the full window. Otherwise, unless the file has
    /// missed too often, read around: `ra_pages` pages centred on the fault, the last quarter
    /// asynchronous.
    func syncMmapReadahead(_ file: SimFile, _ open: OpenFile, flags: VMFlags, index: UInt64) {
        if flags.contains(.randRead) || open.ra.raPages == 0 { return }
        if flags.contains(.seqRead) {
            self.pageCacheSyncReadahead(file, &open.ra, random: false, index: index, count: open.ra.raPages)
            return
        }
        if open.ra.mmapMiss < Kernel.mmapLotsAMiss * 10 { open.ra.mmapMiss += 1 }
        if open.ra.mmapMiss > Kernel.mmapLotsAMiss { return }
        let half = open.ra.raPages / 2
        open.ra.start = index > half ? index - half : 0
        open.ra.size = open.ra.raPages
        open.ra.asyncSize = open.ra.raPages / 4
        self.readaheadSubmit(file, open.ra)
    }

    /// `do_async_mmap_readahead()`: a fault found page `index` cached; a marked page starts the
    /// next window.
    func asyncMmapReadahead(_ file: SimFile, _ open: OpenFile, flags: VMFlags, pfn: PFN, index: UInt64) {
        if flags.contains(.randRead) || open.ra.raPages == 0 { return }
        if open.ra.mmapMiss > 0 { open.ra.mmapMiss -= 1 }
        if self.phys.memMap.test(pfn, .readahead) {
            self.pageCacheAsyncReadahead(file, &open.ra, pfn: pfn, index: index, count: open.ra.raPages)
        }
    }
}
