// _int_malloc, the bins, the tcache and malloc_consolidate (malloc/malloc.c).

extension GlibcMalloc {
    // MARK: tcache

    /// `MAYBE_INIT_TCACHE()` / `tcache_init()`: the first call allocates the
    /// `tcache_perthread_struct` (640 bytes, a 0x290 chunk) with `_int_malloc` and clears it.
    @inline(__always) func maybeInitTcache() {
        if self.tcache == nil { self.tcacheInit() }
    }

    func tcacheInit() {
        guard let victim = self.intMalloc(Ptmalloc.tcacheStructSize) else { return }
        let mem = self.store[victim].address + Ptmalloc.chunkHeader
        self.tcache = mem
        _ = self.system.zero(mem, length: Ptmalloc.tcacheStructSize) || self.markKilled()
    }

    func markKilled() -> Bool {
        self.killed = true
        return false
    }

    /// `tcache_put()`: the chunk's user memory becomes a `tcache_entry` (`next`, `key`) at the
    /// head of bin `idx`. (`_int_free`'s read of `key`, the double-free test, is folded into the
    /// entry's store.)
    @inline(__always) func tcachePut(_ p: Int32, _ idx: Int) {
        let tc = self.tcache!
        self.update(self.store[p].address + 16, 16)
        self.store[p].fd = self.tcacheEntries[idx]
        self.store[p].state = .tcache
        self.store[p].bin = UInt8(idx)
        self.tcacheEntries[idx] = p
        self.tcacheCounts[idx] += 1
        self.update(tc + 128 + 8 * UInt64(idx), 8)
        self.update(tc + 2 * UInt64(idx), 2)
    }

    /// `tcache_get()`: takes the head of bin `idx` (reading its `next`) and clears its `key`.
    /// The count's test in `__libc_malloc` and its decrement here are one update.
    @inline(__always) func tcacheGet(_ idx: Int) -> Int32 {
        let tc = self.tcache!
        let e = self.tcacheEntries[idx]
        self.update(tc + 2 * UInt64(idx), 2)
        self.update(tc + 128 + 8 * UInt64(idx), 8)
        self.write(self.store[e].address + 16, 16)
        self.tcacheEntries[idx] = self.store[e].fd
        self.tcacheCounts[idx] -= 1
        self.store[e].state = .inUse
        return e
    }

    // MARK: Bin lists

    /// Writes of `fd` (offset 16) or `bk` (24) of record `i`: none for a bin header, which lives
    /// in the arena (libc's data), not in the heap.
    @inline(__always) func writeLink(_ i: Int32, _ offset: UInt64) {
        if i >= ChunkStore.binHeaders { self.write(self.store[i].address + offset, 8) }
    }

    @inline(__always) func markBin(_ i: Int) { self.binmap[i >> 5] |= 1 << UInt32(i & 31) }

    /// Links `p` at the front of the unsorted bin (the "complete insert" of `_int_malloc`'s
    /// splits and of `_int_free`), clearing the nextsize links of a large chunk.
    func linkUnsortedFront(_ p: Int32) {
        let bck: Int32 = 1
        let fwd = self.store[bck].fd
        self.store[p].fd = fwd
        self.store[p].bk = bck
        self.write(self.store[p].address + 16, 16)
        if !Ptmalloc.inSmallbinRange(self.store[p].size) {
            self.store[p].fdNextsize = -1
            self.store[p].bkNextsize = -1
            self.write(self.store[p].address + 32, 16)
        }
        self.store[bck].fd = p
        self.store[fwd].bk = p
        self.writeLink(fwd, 24)
        self.store[p].state = .unsorted
    }

    /// `unlink_chunk()`: takes `p` off its doubly linked bin, repairing the large bins' skip list.
    func unlinkChunk(_ p: Int32) {
        let c = self.store[p]
        self.read(c.address + 8, 8)
        self.read(c.address + c.size, 8)  // prev_size of the next chunk: the size check
        self.read(c.address + 16, 16)
        let fd = c.fd
        let bk = c.bk
        self.store[fd].bk = bk
        self.writeLink(fd, 24)
        self.store[bk].fd = fd
        self.writeLink(bk, 16)
        if !Ptmalloc.inSmallbinRange(c.size) && c.fdNextsize != -1 {
            self.read(c.address + 32, 16)
            // A bin header's "fd_nextsize" overlays the next bin's fd, never NULL.
            if fd >= ChunkStore.binHeaders && self.store[fd].fdNextsize == -1 {
                if c.fdNextsize == p {
                    self.store[fd].fdNextsize = fd
                    self.store[fd].bkNextsize = fd
                    self.write(self.store[fd].address + 32, 16)
                } else {
                    self.store[fd].fdNextsize = c.fdNextsize
                    self.store[fd].bkNextsize = c.bkNextsize
                    self.write(self.store[fd].address + 32, 16)
                    self.store[c.fdNextsize].bkNextsize = fd
                    self.write(self.store[c.fdNextsize].address + 40, 8)
                    self.store[c.bkNextsize].fdNextsize = fd
                    self.write(self.store[c.bkNextsize].address + 32, 8)
                }
            } else {
                self.store[c.fdNextsize].bkNextsize = c.bkNextsize
                self.write(self.store[c.fdNextsize].address + 40, 8)
                self.store[c.bkNextsize].fdNextsize = c.fdNextsize
                self.write(self.store[c.bkNextsize].address + 32, 8)
            }
        }
        self.store[p].fdNextsize = -1
        self.store[p].bkNextsize = -1
        self.store[p].state = .inUse
    }

    /// Carves `nb` bytes off the front of free chunk `victim` (already unlinked): the remainder
    /// goes to the front of the unsorted bin, and becomes `last_remainder` for small requests.
    /// Or, when the remainder would be under `MINSIZE`, hands out the whole chunk.
    func takeFromBinnedChunk(_ victim: Int32, _ nb: UInt64, advertise: Bool) {
        let size = self.store[victim].size
        if size - nb < Ptmalloc.minSize {
            self.writeSizeWord(at: self.store[victim].address + size)  // set_inuse_bit_at_offset
        } else {
            let remainder = self.splitOff(victim, keep: nb)
            self.linkUnsortedFront(remainder)
            if advertise { self.lastRemainder = self.store[remainder].address }
            self.writeHead(victim)
            self.writeHead(remainder)
            self.writeFoot(remainder)
        }
        self.store[victim].state = .inUse
    }

    // MARK: _int_malloc

    /// `_int_malloc(av, bytes)`: the chunk for a request, or nil (errno ENOMEM). In glibc's
    /// order: the fastbin of the size (moving its other chunks to the tcache), the small bin
    /// (likewise), the unsorted bin (the last remainder for small requests, exact fits — which
    /// fill the tcache first — and sorting everything else into bins), the best fit in the
    /// request's large bin, the next non-empty bin by the binmap (split, remainder to unsorted),
    /// the top chunk, and finally `sysmalloc`.
    func intMalloc(_ bytes: UInt64) -> Int32? {
        guard let nb = Ptmalloc.checkedRequest2size(bytes) else {
            self.errno = .ENOMEM
            return nil
        }
        guard let victim = self.intMallocChunk(nb) else { return nil }
        if self.perturbByte != 0 { self.perturb(self.store[victim].address + 16, bytes) }
        return victim
    }

    func intMallocChunk(_ nb: UInt64) -> Int32? {
        let tcIdx = Ptmalloc.csize2tidx(nb)
        let stash = self.tcache != nil && tcIdx < self.tcacheBins

        if nb <= self.globalMaxFast {
            let idx = Ptmalloc.fastbinIndex(nb)
            let victim = self.fastbins[idx]
            if victim >= 0 {
                self.read(self.store[victim].address + 8, 16)
                self.fastbins[idx] = self.store[victim].fd
                self.store[victim].state = .inUse
                if stash {
                    while Int(self.tcacheCounts[tcIdx]) < self.tcacheCount && self.fastbins[idx] >= 0 {
                        let tc = self.fastbins[idx]
                        self.read(self.store[tc].address + 16, 8)
                        self.fastbins[idx] = self.store[tc].fd
                        self.tcachePut(tc, tcIdx)
                    }
                }
                return victim
            }
        }

        var idx: Int
        if Ptmalloc.inSmallbinRange(nb) {
            idx = Ptmalloc.smallbinIndex(nb)
            let bin = Int32(idx)
            let victim = self.store[bin].bk
            if victim != bin {
                self.takeLastOfSmallbin(bin, victim, nb)
                if stash {
                    while Int(self.tcacheCounts[tcIdx]) < self.tcacheCount && self.store[bin].bk != bin {
                        let tc = self.store[bin].bk
                        self.takeLastOfSmallbin(bin, tc, nb)
                        self.tcachePut(tc, tcIdx)
                    }
                }
                return victim
            }
        } else {
            idx = Ptmalloc.largebinIndex(nb)
            if self.haveFastchunks { self.mallocConsolidate() }
        }

        let tcacheNb: UInt64 = stash ? nb : 0
        var returnCached = false
        var tcacheUnsortedCount = 0
        while true {
            var iters = 0
            while self.store[1].bk != 1 {
                let victim = self.store[1].bk
                let bck = self.store[victim].bk
                let size = self.store[victim].size
                let vaddr = self.store[victim].address
                // The size and next-chunk checks read both headers.
                self.read(vaddr + 8, 8)
                self.read(vaddr + size, 16)

                if Ptmalloc.inSmallbinRange(nb) && bck == 1 && vaddr == self.lastRemainder
                    && size > nb + Ptmalloc.minSize
                {
                    // Split the last remainder and put the rest back.
                    self.store[1].bk = bck
                    self.store[bck].fd = 1
                    let remainder = self.splitOff(victim, keep: nb)
                    self.linkUnsortedFront(remainder)
                    self.lastRemainder = self.store[remainder].address
                    self.writeHead(victim)
                    self.writeHead(remainder)
                    self.writeFoot(remainder)
                    self.store[victim].state = .inUse
                    return victim
                }

                // Remove from the unsorted list.
                self.store[1].bk = bck
                self.store[bck].fd = 1
                self.writeLink(bck, 16)

                if size == nb {
                    self.writeSizeWord(at: vaddr + size)  // set_inuse_bit_at_offset
                    self.store[victim].state = .inUse
                    if tcacheNb != 0 && Int(self.tcacheCounts[tcIdx]) < self.tcacheCount {
                        self.tcachePut(victim, tcIdx)
                        returnCached = true
                        continue
                    }
                    return victim
                }

                self.placeInBin(victim)

                tcacheUnsortedCount += 1
                if returnCached && self.tcacheUnsortedLimit > 0
                    && tcacheUnsortedCount > self.tcacheUnsortedLimit
                {
                    return self.tcacheGet(tcIdx)
                }
                iters += 1
                if iters >= Ptmalloc.maxIters { break }
            }

            if returnCached { return self.tcacheGet(tcIdx) }

            if !Ptmalloc.inSmallbinRange(nb) {
                let bin = Int32(idx)
                var victim = self.store[bin].fd
                if victim != bin && self.store[victim].size >= nb {
                    self.read(self.store[victim].address + 8, 8)
                    victim = self.store[victim].bkNextsize
                    while self.store[victim].size < nb {
                        self.read(self.store[victim].address + 8, 8)
                        victim = self.store[victim].bkNextsize
                    }
                    // Avoid removing the first entry for a size, so the skip list stays.
                    if victim != self.store[bin].bk
                        && self.store[victim].size == self.store[self.store[victim].fd].size
                    {
                        victim = self.store[victim].fd
                    }
                    self.unlinkChunk(victim)
                    self.takeFromBinnedChunk(victim, nb, advertise: false)
                    return victim
                }
            }

            // Scan the bins above by the binmap: the smallest chunk in the first non-empty bin.
            idx += 1
            var bin = idx
            var block = idx >> 5
            var map = block < 4 ? self.binmap[block] : 0
            var bit: UInt32 = block < 4 ? 1 << UInt32(idx & 31) : 0
            var found: Int32 = -1
            scan: while true {
                if bit > map || bit == 0 {
                    repeat {
                        block += 1
                        if block >= 4 { break scan }
                        map = self.binmap[block]
                    } while map == 0
                    bin = block << 5
                    bit = 1
                }
                while bit & map == 0 {
                    bin += 1
                    bit <<= 1
                }
                let victim = self.store[Int32(bin)].bk
                if victim == Int32(bin) {
                    // A false alarm: clear the bit.
                    map &= ~bit
                    self.binmap[block] = map
                    bin += 1
                    bit <<= 1
                } else {
                    found = victim
                    break scan
                }
            }
            if found >= 0 {
                self.read(self.store[found].address + 8, 8)
                self.unlinkChunk(found)
                self.takeFromBinnedChunk(found, nb, advertise: Ptmalloc.inSmallbinRange(nb))
                return found
            }

            // use_top
            let size = self.topSize
            if size >= nb + Ptmalloc.minSize {
                let victim = self.top
                self.read(self.store[victim].address + 8, 8)
                let remainder = self.splitOff(victim, keep: nb)
                self.store[victim].state = .inUse
                self.store[remainder].state = .top
                self.top = remainder
                self.writeHead(victim)
                self.writeHead(remainder)
                return victim
            } else if self.haveFastchunks {
                self.mallocConsolidate()
                idx = Ptmalloc.binIndex(nb)
            } else {
                return self.sysmalloc(nb)
            }
        }
    }

    /// Takes `victim`, the last chunk of small bin `bin` (whose size is `nb`), for use.
    @inline(__always) func takeLastOfSmallbin(_ bin: Int32, _ victim: Int32, _ nb: UInt64) {
        let bck = self.store[victim].bk
        self.read(self.store[victim].address + 24, 8)
        self.writeSizeWord(at: self.store[victim].address + nb)  // set_inuse_bit_at_offset
        self.store[bin].bk = bck
        self.store[bck].fd = bin
        self.writeLink(bck, 16)
        self.store[victim].state = .inUse
    }

    /// Sorts an unsorted chunk into its small bin (at the front) or large bin (kept in
    /// descending size order, a new size heading a group in the skip list, an equal size going
    /// second so the skip list need not change), and marks the bin in the binmap.
    func placeInBin(_ victim: Int32) {
        let size = self.store[victim].size
        let victimIndex: Int
        var bck: Int32
        var fwd: Int32
        let vaddr = self.store[victim].address
        if Ptmalloc.inSmallbinRange(size) {
            victimIndex = Ptmalloc.smallbinIndex(size)
            bck = Int32(victimIndex)
            fwd = self.store[bck].fd
            self.store[victim].state = .smallbin
        } else {
            victimIndex = Ptmalloc.largebinIndex(size)
            bck = Int32(victimIndex)
            fwd = self.store[bck].fd
            self.store[victim].state = .largebin
            if fwd != bck {
                let smallest = self.store[bck].bk
                self.read(self.store[smallest].address + 8, 8)
                if size < self.store[smallest].size {
                    fwd = bck
                    bck = self.store[bck].bk
                    let first = self.store[fwd].fd
                    self.store[victim].fdNextsize = first
                    self.store[victim].bkNextsize = self.store[first].bkNextsize
                    self.write(vaddr + 32, 16)
                    let back = self.store[victim].bkNextsize
                    self.store[first].bkNextsize = victim
                    self.write(self.store[first].address + 40, 8)
                    self.store[back].fdNextsize = victim
                    self.write(self.store[back].address + 32, 8)
                } else {
                    while size < self.store[fwd].size {
                        fwd = self.store[fwd].fdNextsize
                        self.read(self.store[fwd].address + 8, 8)
                    }
                    if size == self.store[fwd].size {
                        fwd = self.store[fwd].fd
                    } else {
                        self.store[victim].fdNextsize = fwd
                        self.store[victim].bkNextsize = self.store[fwd].bkNextsize
                        self.write(vaddr + 32, 16)
                        self.store[fwd].bkNextsize = victim
                        self.write(self.store[fwd].address + 40, 8)
                        let back = self.store[victim].bkNextsize
                        self.store[back].fdNextsize = victim
                        self.write(self.store[back].address + 32, 8)
                    }
                    bck = self.store[fwd].bk
                }
            } else {
                self.store[victim].fdNextsize = victim
                self.store[victim].bkNextsize = victim
                self.write(vaddr + 32, 16)
            }
        }
        self.markBin(victimIndex)
        self.store[victim].bin = UInt8(victimIndex)
        self.store[victim].bk = bck
        self.store[victim].fd = fwd
        self.write(vaddr + 16, 16)
        self.store[fwd].bk = victim
        self.writeLink(fwd, 24)
        self.store[bck].fd = victim
        self.writeLink(bck, 16)
    }

    // MARK: malloc_consolidate

    /// `malloc_consolidate()`: empties every fastbin, merging each chunk with free neighbours
    /// (or into top) and putting the result on the unsorted bin.
    func mallocConsolidate() {
        self.haveFastchunks = false
        for fb in 0..<Ptmalloc.nFastbins {
            var p = self.fastbins[fb]
            self.fastbins[fb] = -1
            while p >= 0 {
                self.read(self.store[p].address + 8, 16)
                let nextp = self.store[p].fd
                let nextchunk = self.store[p].physNext
                self.read(self.store[nextchunk].address + 8, 8)
                self.store[p].state = .inUse
                p = self.coalesce(p, nextchunk)
                p = nextp
            }
        }
    }

    /// The consolidation step shared by `malloc_consolidate` and `_int_free`: merges `p` (in use
    /// to the arena) with a free chunk before it and after it, then puts it on the unsorted bin
    /// or, if its next chunk is top, into top. Returns the resulting chunk.
    @discardableResult
    func coalesce(_ start: Int32, _ nextchunk: Int32) -> Int32 {
        var p = start
        if !self.prevInUse(p) {
            self.read(self.store[p].address, 8)  // prev_size
            let prev = self.store[p].physPrev
            self.unlinkChunk(prev)
            self.absorb(prev, p)
            p = prev
        }
        if nextchunk != self.top {
            let nextsize = self.store[nextchunk].size
            self.read(self.store[nextchunk].address + nextsize + 8, 8)  // inuse_bit_at_offset
            if self.store[nextchunk].state.isBinned {
                self.unlinkChunk(nextchunk)
                self.absorb(p, nextchunk)
            } else {
                self.writeSizeWord(at: self.store[nextchunk].address)  // clear_inuse_bit_at_offset
            }
            self.linkUnsortedFront(p)
            self.writeHead(p)
            self.writeFoot(p)
        } else {
            self.absorb(p, nextchunk)
            self.writeHead(p)
        }
        return p
    }
}
