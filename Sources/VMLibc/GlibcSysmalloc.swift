// _int_free, sysmalloc, systrim and the mmapped chunks (malloc/malloc.c).

extension GlibcMalloc {
    // MARK: _int_free

    /// `_int_free(av, p)`: to the tcache if its bin has room; to a fastbin for chunks up to
    /// `global_max_fast`; otherwise merged with free neighbours onto the unsorted bin or into
    /// top. A merged chunk of 64 KiB or more (`FASTBIN_CONSOLIDATION_THRESHOLD`) consolidates the
    /// fastbins and, when top reaches `M_TRIM_THRESHOLD`, trims the heap.
    func intFree(_ p: Int32) {
        let size = self.store[p].size
        let addr = self.store[p].address
        let tcIdx = Ptmalloc.csize2tidx(size)
        if self.tcache != nil && tcIdx < self.tcacheBins {
            if Int(self.tcacheCounts[tcIdx]) < self.tcacheCount {
                self.tcachePut(p, tcIdx)
                return
            }
            self.read(addr + 24, 8)  // e->key: the double-free test
        }

        if size <= self.globalMaxFast {
            self.read(addr + size + 8, 8)  // the next chunk's size: the "invalid next size" test
            self.perturb(addr + 16, size - 16)
            self.haveFastchunks = true
            let idx = Ptmalloc.fastbinIndex(size)
            self.store[p].fd = self.fastbins[idx]
            self.write(addr + 16, 8)
            self.fastbins[idx] = p
            self.store[p].state = .fastbin
            self.store[p].bin = UInt8(idx)
            return
        }

        let nextchunk = self.store[p].physNext
        self.read(self.store[nextchunk].address + 8, 8)
        self.perturb(addr + 16, size - 16)
        let merged = self.coalesce(p, nextchunk)
        if self.store[merged].size >= Ptmalloc.fastbinConsolidationThreshold {
            if self.haveFastchunks { self.mallocConsolidate() }
            if self.topSize >= self.trimThreshold { self.systrim(self.topPad) }
        }
    }

    // MARK: sbrk

    /// `sbrk(increment)` over `brk(2)`, as glibc's `__sbrk`/`__brk` do it: the break is cached
    /// in `__curbrk` (read once with `brk(0)`), `sbrk(0)` makes no system call, and growth that
    /// the kernel refuses fails. Returns the old break, or nil (`MORECORE_FAILURE`).
    func sbrk(_ increment: Int64) -> UInt64? {
        if self.curbrk == 0 {
            self.stats.brkCalls += 1
            self.curbrk = self.system.brk(0)
        }
        if increment == 0 { return self.curbrk }
        let old = self.curbrk
        let target: UInt64
        if increment > 0 {
            let (t, overflow) = old.addingReportingOverflow(UInt64(increment))
            if overflow { return nil }
            target = t
        } else {
            let down = increment.magnitude
            if old < down { return nil }
            target = old - down
        }
        self.stats.brkCalls += 1
        let new = self.system.brk(target)
        self.curbrk = new
        if new < target { return nil }
        return old
    }

    // MARK: sysmalloc

    /// `sysmalloc(nb, av)`: more memory when top cannot serve `nb`. A request of
    /// `M_MMAP_THRESHOLD` or more (while fewer than `M_MMAP_MAX` chunks are mapped) gets its own
    /// mapping; otherwise top grows by `nb + M_TOP_PAD + MINSIZE` less what top already has,
    /// page-rounded, with `sbrk`. If `brk` fails, a mapping of at least 1 MiB stands in
    /// (`sysmalloc_mmap_fallback`) and the arena becomes non-contiguous: the old top is fenced
    /// off with two 16-byte fenceposts and freed. Then top is split.
    func sysmalloc(_ nb: UInt64) -> Int32? {
        // (glibc's tried_mmap matters only for non-main arenas, which are not modelled.)
        if nb >= self.mmapThreshold && self.nMmaps < self.nMmapsMax {
            if let p = self.sysmallocMmap(nb) { return p }
        }

        let oldTop = self.top
        var oldSize = self.topSize
        let oldEnd = oldTop < 0 ? 0 : self.store[oldTop].address + oldSize

        // glibc adds in size_t; for a request near PTRDIFF_MAX the sum is more than sbrk can
        // give and sbrk fails with ENOMEM. Such a size stays at Int64.max here (sbrk refuses it,
        // and so would the mmap fallback), so nothing below can overflow.
        let (want, overflow) = nb.addingReportingOverflow(self.topPad &+ Ptmalloc.minSize)
        let hopeless = overflow || want > UInt64(Int64.max) / 2
        var size = hopeless ? Int64.max : Int64(want)
        if !hopeless {
            if self.contiguous { size -= Int64(oldSize) }
            size = Int64(Ptmalloc.alignUp(UInt64(max(size, 0)), self.pageSize))
        }

        var brk: UInt64?
        var sndBrk: UInt64?
        if size > 0 { brk = self.sbrk(size) }

        if brk == nil && !hopeless {
            // sysmalloc_mmap_fallback: ignore the mmap threshold and count.
            var msize = UInt64(size)
            if self.contiguous { msize = Ptmalloc.alignUp(msize + oldSize, self.pageSize) }
            if msize < Ptmalloc.mmapAsMorecoreSize { msize = Ptmalloc.mmapAsMorecoreSize }
            if msize > nb {
                self.stats.mmapCalls += 1
                if case .success(let mbrk) = self.system.mmap(length: msize) {
                    self.contiguous = false
                    brk = mbrk
                    sndBrk = mbrk + msize
                    size = Int64(msize)
                }
            }
        }

        if let brk {
            if self.sbrkBase == 0 { self.sbrkBase = brk }
            self.systemMem += UInt64(size)

            if brk == oldEnd && sndBrk == nil && oldTop >= 0 {
                // The new space continues top.
                self.store[oldTop].size += UInt64(size)
                self.writeHead(oldTop)
            } else if self.contiguous && oldSize != 0 && brk < oldEnd {
                // Someone shrank the heap under the arena.
                self.pendingAbort = "break adjusted to free malloc space"
                return nil
            } else {
                var correction: UInt64 = 0
                var alignedBrk = brk
                if self.contiguous {
                    if oldSize != 0 {
                        // A foreign sbrk moved the break: its bytes count as the arena's.
                        self.systemMem += brk - oldEnd
                        self.foreignBytes += brk - oldEnd
                    }
                    let frontMisalign = (brk + Ptmalloc.chunkHeader) & Ptmalloc.alignMask
                    if frontMisalign > 0 {
                        correction = Ptmalloc.alignment - frontMisalign
                        alignedBrk += correction
                    }
                    correction += oldSize
                    let endMisalign = brk + UInt64(size) + correction
                    correction += Ptmalloc.alignUp(endMisalign, self.pageSize) - endMisalign
                    // sbrk returns the old break: the end of the first piece.
                    sndBrk = self.sbrk(Int64(correction))
                    if sndBrk == nil {
                        correction = 0
                        sndBrk = self.sbrk(0)
                    }
                } else if sndBrk == nil {
                    sndBrk = self.sbrk(0)
                }
                if let sndBrk {
                    let newTop = self.store.make(
                        address: alignedBrk, size: sndBrk - alignedBrk + correction, state: .top)
                    self.top = newTop
                    self.segments.append(newTop)
                    self.writeHead(newTop)
                    self.systemMem += correction
                    if oldSize != 0 {
                        self.fenceOff(oldTop, &oldSize)
                    }
                }
            }
        }

        if self.systemMem > self.maxSystemMem { self.maxSystemMem = self.systemMem }
        self.stats.heapBytes = self.systemMem
        self.stats.peakHeapBytes = max(self.stats.peakHeapBytes, self.systemMem)

        let p = self.top
        if p >= 0 && self.store[p].size >= nb + Ptmalloc.minSize {
            let remainder = self.splitOff(p, keep: nb)
            self.store[p].state = .inUse
            self.store[remainder].state = .top
            self.top = remainder
            self.writeHead(p)
            self.writeHead(remainder)
            return p
        }
        self.errno = .ENOMEM
        return nil
    }

    /// The old top of a heap segment that the new space does not continue: shrunk by 32 bytes
    /// for two fenceposts (16-byte chunks marked in use, so nothing coalesces across the gap),
    /// and freed if what is left is a chunk.
    func fenceOff(_ oldTop: Int32, _ oldSize: inout UInt64) {
        oldSize = (oldSize - 2 * Ptmalloc.chunkHeader) & ~Ptmalloc.alignMask
        let base = self.store[oldTop].address
        // Rebuild the segment's end: [old top (oldSize)] [fence 16] [fence 16].
        let next = self.store[oldTop].physNext
        precondition(next < 0, "fenceOff: top is not the last chunk of its segment")
        var last: Int32
        if oldSize == 0 {
            // The first fencepost overwrites the old top.
            self.store[oldTop].state = .fencepost
            self.store[oldTop].size = Ptmalloc.chunkHeader
            last = oldTop
        } else {
            self.store[oldTop].size = oldSize
            self.store[oldTop].state = oldSize >= Ptmalloc.minSize ? .inUse : .fencepost
            self.writeHead(oldTop)
            let f1 = self.store.make(address: base + oldSize, size: Ptmalloc.chunkHeader, state: .fencepost)
            self.store[f1].physPrev = oldTop
            self.store[oldTop].physNext = f1
            last = f1
        }
        self.writeHead(last)
        let f2 = self.store.make(
            address: base + oldSize + Ptmalloc.chunkHeader, size: Ptmalloc.chunkHeader, state: .fencepost)
        self.store[f2].physPrev = last
        self.store[last].physNext = f2
        self.writeHead(f2)
        if oldSize >= Ptmalloc.minSize { self.intFree(oldTop) }
    }

    /// `sysmalloc_mmap()`: a chunk in a mapping of `nb + 8` bytes rounded to pages (no next chunk
    /// borrows its last 8 bytes), its `prev_size` 0 and `IS_MMAPPED` set.
    func sysmallocMmap(_ nb: UInt64) -> Int32? {
        let size = Ptmalloc.alignUp(nb + Ptmalloc.sizeSz, self.pageSize)
        if size <= nb { return nil }
        self.stats.mmapCalls += 1
        guard case .success(let mm) = self.system.mmap(length: size) else { return nil }
        let p = self.store.make(address: mm, size: size, state: .mmapped)
        self.write(mm, 16)
        self.nMmaps += 1
        self.maxNMmaps = max(self.maxNMmaps, self.nMmaps)
        self.mmappedMem += size
        self.maxMmappedMem = max(self.maxMmappedMem, self.mmappedMem)
        self.noteMmapStats()
        return p
    }

    func noteMmapStats() {
        self.stats.mmappedBytes = self.mmappedMem
        self.stats.peakMmappedBytes = max(self.stats.peakMmappedBytes, self.mmappedMem)
        self.stats.mmappedChunks = Int(self.nMmaps)
    }

    /// `munmap_chunk()`: unmaps the chunk's whole mapping.
    func munmapChunk(_ p: Int32) {
        let c = self.store[p]
        self.read(c.address, 16)
        let block = c.address - c.mmapOffset
        let total = c.mmapOffset + c.size
        self.nMmaps -= 1
        self.mmappedMem -= total
        self.store.discard(p)
        self.stats.munmapCalls += 1
        self.system.munmap(block, length: total)
        self.noteMmapStats()
    }

    /// `mremap_chunk()`: resizes a mapped chunk's mapping to `nb + offset + 8` rounded to pages
    /// (nothing to do if the page count stays). Returns the chunk (perhaps moved), or nil when
    /// `mremap` fails.
    func mremapChunk(_ p: Int32, _ nb: UInt64) -> Int32? {
        let c = self.store[p]
        self.read(c.address, 16)
        let block = c.address - c.mmapOffset
        let total = c.mmapOffset + c.size
        let newSize = Ptmalloc.alignUp(nb + c.mmapOffset + Ptmalloc.sizeSz, self.pageSize)
        if total == newSize { return p }
        self.stats.mremapCalls += 1
        guard case .success(let cp) = self.system.mremap(block, oldLength: total, newLength: newSize) else {
            return nil
        }
        let address = cp + c.mmapOffset
        if address != c.address { self.store.move(p, to: address) }
        self.store[p].size = newSize - c.mmapOffset
        self.write(address + 8, 8)
        self.mmappedMem = self.mmappedMem - total + newSize
        self.maxMmappedMem = max(self.maxMmappedMem, self.mmappedMem)
        self.noteMmapStats()
        return p
    }

    // MARK: systrim

    /// `systrim(pad, av)`: gives back whole pages of top beyond `pad` with a negative `sbrk`, if
    /// the break is still where the arena left it. Returns 1 if memory was released.
    @discardableResult
    func systrim(_ pad: UInt64) -> Int {
        guard self.top >= 0 else { return 0 }
        let topSize = self.store[self.top].size
        // glibc compares a long with a size_t here; top is at least MINSIZE, so this is exact.
        let topArea = Int64(topSize) - Int64(Ptmalloc.minSize) - 1
        if topArea <= Int64(clamping: pad) { return 0 }
        let extra = Ptmalloc.alignDown(UInt64(topArea) - pad, self.pageSize)
        if extra == 0 { return 0 }
        guard let currentBrk = self.sbrk(0), currentBrk == self.store[self.top].address + topSize else {
            return 0
        }
        _ = self.sbrk(-Int64(extra))
        guard let newBrk = self.sbrk(0) else { return 0 }
        let released = currentBrk &- newBrk
        if released != 0 {
            self.systemMem -= released
            self.stats.heapBytes = self.systemMem
            self.store[self.top].size = topSize - released
            self.writeHead(self.top)
            return 1
        }
        return 0
    }
}
