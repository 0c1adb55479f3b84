// __libc_realloc, _int_realloc, _mid_memalign, _int_memalign and __libc_calloc
// (malloc/malloc.c).

extension GlibcMalloc {
    // MARK: realloc

    /// `__libc_realloc` for a live chunk and a non-zero size. A mapped chunk is resized with
    /// `mremap` (so it stays mapped, even when shrunk to a few bytes); if that fails it is kept
    /// when big enough, else moved by malloc-copy-`munmap`. Other chunks go to `_int_realloc`.
    func libcRealloc(_ oldp: Int32, _ bytes: UInt64) -> Int32? {
        guard let nb = Ptmalloc.checkedRequest2size(bytes) else {
            self.errno = .ENOMEM
            return nil
        }
        if self.store[oldp].state == .mmapped {
            if let p = self.mremapChunk(oldp, nb) { return p }
            let oldsize = self.store[oldp].size
            if oldsize - Ptmalloc.sizeSz >= nb { return oldp }
            guard let newp = self.libcMalloc(bytes) else { return nil }
            let copied = self.system.copy(
                to: self.store[newp].address + 16, from: self.store[oldp].address + 16,
                length: oldsize - Ptmalloc.chunkHeader)
            if !copied { self.killed = true }
            self.munmapChunk(oldp)
            return newp
        }
        self.maybeInitTcache()
        return self.intRealloc(oldp, self.store[oldp].size, nb)
    }

    /// `_int_realloc(av, oldp, oldsize, nb)`: in place if the chunk is big enough, if it borders
    /// top and top has room, or if the next chunk is free and the two suffice (splitting off and
    /// freeing any tail of `MINSIZE` or more); else `_int_malloc`, copy `oldsize - 8` bytes, free —
    /// except when the new chunk is the old one's next neighbour (top extended by sysmalloc),
    /// which merges in place without a copy.
    func intRealloc(_ oldp: Int32, _ oldsize: UInt64, _ nb: UInt64) -> Int32? {
        let next = self.store[oldp].physNext
        self.read(self.store[next].address + 8, 8)
        var newp = oldp
        if oldsize < nb {
            let nextsize = self.store[next].size
            if next == self.top && oldsize + nextsize >= nb + Ptmalloc.minSize {
                // Expand forward into top.
                let newsize = oldsize + nextsize
                self.store[oldp].size = nb
                self.writeHead(oldp)
                self.store.move(next, to: self.store[oldp].address + nb)
                self.store[next].size = newsize - nb
                self.writeHead(next)
                return oldp
            } else if next != self.top && self.store[next].state.isBinned && oldsize + nextsize >= nb {
                // Expand forward into the free next chunk; split below.
                self.unlinkChunk(next)
                self.absorb(oldp, next)
            } else {
                // Allocate, copy, free.
                guard let fresh = self.intMalloc(nb - Ptmalloc.alignMask) else { return nil }
                if fresh == self.store[oldp].physNext {
                    self.absorb(oldp, fresh)
                } else {
                    let copied = self.system.copy(
                        to: self.store[fresh].address + 16, from: self.store[oldp].address + 16,
                        length: oldsize - Ptmalloc.sizeSz)
                    if !copied { self.killed = true }
                    self.intFree(oldp)
                    return fresh
                }
            }
            newp = oldp
        }

        let newsize = self.store[newp].size
        if newsize - nb < Ptmalloc.minSize {
            self.writeHead(newp)
            self.writeSizeWord(at: self.store[newp].address + newsize)  // set_inuse_bit_at_offset
        } else {
            let remainder = self.splitOff(newp, keep: nb)
            self.writeHead(newp)
            self.writeHead(remainder)
            self.writeSizeWord(at: self.store[remainder].address + self.store[remainder].size)
            self.intFree(remainder)
        }
        return newp
    }

    // MARK: memalign

    /// `_mid_memalign(alignment, bytes)`: up to 16 is `malloc` (tcache included); below 32 is
    /// 32; above 2^63 is EINVAL; a non-power of two is rounded up to one.
    func midMemalign(_ alignment: UInt64, _ bytes: UInt64) -> Int32? {
        if alignment <= Ptmalloc.alignment { return self.libcMalloc(bytes) }
        var a = max(alignment, Ptmalloc.minSize)
        if a > UInt64(Int64.max) + 1 {
            self.errno = .EINVAL
            return nil
        }
        if a.nonzeroBitCount != 1 {
            var p = Ptmalloc.alignment * 2
            while p < a { p <<= 1 }
            a = p
        }
        return self.intMemalign(a, bytes)
    }

    /// `_int_memalign(av, alignment, bytes)`: mallocs `nb + alignment + MINSIZE`, moves to the
    /// first aligned spot at least `MINSIZE` in (for a mapped chunk only `prev_size` grows), frees
    /// the leader, and frees the tail if it is more than `MINSIZE`.
    func intMemalign(_ alignment: UInt64, _ bytes: UInt64) -> Int32? {
        guard let nb = Ptmalloc.checkedRequest2size(bytes), alignment <= UInt64(Int64.max) else {
            self.errno = .ENOMEM
            return nil
        }
        let (total, o1) = nb.addingReportingOverflow(alignment + Ptmalloc.minSize)
        guard !o1, var p = self.intMalloc(total) else { return nil }
        let mem = self.store[p].address + 16
        if mem % alignment != 0 {
            var brk = ((mem + alignment - 1) & (0 &- alignment)) - 16
            if brk - self.store[p].address < Ptmalloc.minSize { brk += alignment }
            let leadsize = brk - self.store[p].address
            if self.store[p].state == .mmapped {
                self.store.move(p, to: brk)
                self.store[p].size -= leadsize
                self.store[p].mmapOffset += leadsize
                self.write(brk, 16)
                return p
            }
            let newp = self.splitOff(p, keep: leadsize)
            self.writeHead(newp)
            self.writeSizeWord(at: self.store[newp].address + self.store[newp].size)
            self.writeHead(p)
            self.intFree(p)
            p = newp
        }
        if self.store[p].state != .mmapped {
            let size = self.store[p].size
            if size > nb + Ptmalloc.minSize {
                let remainder = self.splitOff(p, keep: nb)
                self.writeHead(remainder)
                self.writeHead(p)
                self.intFree(remainder)
            }
        }
        return p
    }

    // MARK: calloc

    /// `__libc_calloc` after the overflow check: `_int_malloc` (not the tcache), then the clear.
    /// `MORECORE_CLEARS`: memory `brk` just supplied is known to be zero, so a chunk carved from
    /// top is cleared only up to the old top's size — raised to everything the heap ever held
    /// (`sbrk_base + max_system_mem`), since trimmed and regrown memory is not trusted. A mapped
    /// chunk is not cleared at all (unless `M_PERTURB` filled it).
    func libcCalloc(_ sz: UInt64) -> Int32? {
        self.maybeInitTcache()
        let oldtop: Int32 = self.top
        var oldtopsize = self.topSize
        if oldtop >= 0 {
            // In C: oldtopsize < sbrk_base + max_system_mem - oldtop, the right side a pointer
            // difference compared as unsigned.
            let limit = (self.sbrkBase &+ self.maxSystemMem) &- self.store[oldtop].address
            if oldtopsize < limit { oldtopsize = limit }
        }
        let oldtopAddress = oldtop >= 0 ? self.store[oldtop].address : 0
        guard let p = self.intMalloc(sz) else { return nil }
        let mem = self.store[p].address + 16
        if self.store[p].state == .mmapped {
            if self.perturbByte != 0, sz > 0 { _ = self.system.zero(mem, length: sz) || self.markKilled() }
            return p
        }
        var csz = self.store[p].size
        if self.perturbByte == 0 && self.store[p].address == oldtopAddress && oldtop >= 0 && csz > oldtopsize
        {
            csz = oldtopsize
        }
        let clearsize = csz - Ptmalloc.sizeSz
        if clearsize > 0 { _ = self.system.zero(mem, length: clearsize) || self.markKilled() }
        return p
    }
}
