/// A model of glibc 2.36's malloc (ptmalloc2, malloc/malloc.c and malloc/arena.c, as Debian 12
/// ships it) for one single-threaded process on x86-64.
///
/// The main arena lives on the heap the program break delimits: the first call extends `brk` by
/// the request plus `M_TOP_PAD` (128 KiB), page-rounded, and the per-thread cache
/// (`tcache_perthread_struct`, a 0x290-byte chunk) is the first chunk. Chunks have 16-byte
/// headers (`prev_size`, `size`), 16-byte alignment and `MINSIZE` 32. Free chunks go to the
/// tcache (64 bins × 7), the fastbins (chunks up to `global_max_fast`, 128 bytes), or — merged
/// with free neighbours — the unsorted bin, from which `malloc` sorts them into the 62 small bins
/// and 63 large bins with glibc's indexing; `malloc_consolidate` merges fastbin chunks when a
/// large request comes; the top chunk is split for requests no bin satisfies and grows with
/// `brk` (`sysmalloc`), or, when `brk` fails, is continued in `mmap`ed segments as glibc does.
/// Requests of `M_MMAP_THRESHOLD` (128 KiB, raised by `free` of a mapped chunk up to 32 MiB)
/// that top cannot satisfy get their own mapping. `free` at the top beyond `M_TRIM_THRESHOLD`
/// shrinks the heap (`systrim`); `malloc_trim` also `MADV_DONTNEED`s free pages inside it.
///
/// Chunk metadata is kept in Swift structures (`ChunkStore`), but every byte range glibc reads or
/// writes — headers, footers, bin links in free chunks, the tcache struct, calloc's clearing,
/// realloc's copy — is reported to the `MallocSystem`, so faults and RSS follow from the model.
/// The function names below are glibc's (`intMalloc` is `_int_malloc`, `sysmalloc` is
/// `sysmalloc`, …), and each follows its C original step by step.
///
/// Not modelled, by choice: threads and their arenas (`M_ARENA_MAX`, `M_ARENA_TEST` are
/// accepted and ignored, as a single-threaded process makes them); the huge-page tunables
/// (`glibc.malloc.hugetlb`); memory tagging; `MALLOC_CHECK_`; safe-linking's pointer mangling
/// (it changes link values, not where they are stored); malloc's detection of heap corruption,
/// which cannot happen to a model that keeps its metadata apart from the program's bytes. Every
/// invalid `free` is detected (glibc detects only some).
public final class GlibcMalloc: UserAllocator {
    public let name = "glibc"
    public let system: any MallocSystem
    @exclusivity(unchecked) public internal(set) var errno: MallocErrno?
    /// Counters and sizes.
    @exclusivity(unchecked) public internal(set) var stats = AllocatorStats()

    let pageSize: UInt64
    @exclusivity(unchecked) var store = ChunkStore()

    // MARK: malloc_state (the main arena)

    /// `fastbinsY`: heads of the fastbin lists (record index, -1 for NULL).
    @exclusivity(unchecked) var fastbins = RawArray<Int32>(repeating: -1, count: Ptmalloc.nFastbins)
    /// `top`: the top chunk's record, or -1 for `initial_top` (size 0, before the first
    /// allocation).
    @exclusivity(unchecked) var top: Int32 = -1
    /// `last_remainder`, by address (glibc compares the pointer).
    @exclusivity(unchecked) var lastRemainder: UInt64 = 0
    /// `binmap`: one bit per bin, set when the bin may be non-empty.
    @exclusivity(unchecked) var binmap = RawArray<UInt32>(repeating: 0, count: 4)
    /// `have_fastchunks`.
    @exclusivity(unchecked) var haveFastchunks = false
    /// `!(flags & NONCONTIGUOUS_BIT)`: false once `mmap` has stood in for `brk`.
    @exclusivity(unchecked) var contiguous = true
    /// `system_mem`, `max_system_mem`.
    @exclusivity(unchecked) var systemMem: UInt64 = 0
    @exclusivity(unchecked) var maxSystemMem: UInt64 = 0

    // MARK: malloc_par (mp_)

    @exclusivity(unchecked) var trimThreshold: UInt64 = Ptmalloc.defaultTrimThreshold
    @exclusivity(unchecked) var topPad: UInt64 = Ptmalloc.defaultTopPad
    @exclusivity(unchecked) var mmapThreshold: UInt64 = Ptmalloc.defaultMmapThreshold
    @exclusivity(unchecked) var arenaTest: UInt64 = 8
    @exclusivity(unchecked) var arenaMax: UInt64 = 0
    @exclusivity(unchecked) var nMmapsMax: Int32 = Ptmalloc.defaultMmapMax
    @exclusivity(unchecked) var nMmaps: Int32 = 0
    @exclusivity(unchecked) var maxNMmaps: Int32 = 0
    /// `no_dyn_threshold`: set by any `mallopt` of the four thresholds.
    @exclusivity(unchecked) var noDynThreshold = false
    @exclusivity(unchecked) var mmappedMem: UInt64 = 0
    @exclusivity(unchecked) var maxMmappedMem: UInt64 = 0
    /// `sbrk_base`: where the heap's first `sbrk` (or mapped stand-in) started.
    @exclusivity(unchecked) var sbrkBase: UInt64 = 0
    @exclusivity(unchecked) var tcacheBins = Ptmalloc.tcacheMaxBins
    @exclusivity(unchecked) var tcacheCount = Ptmalloc.tcacheFillCount
    @exclusivity(unchecked) var tcacheUnsortedLimit = 0
    @exclusivity(unchecked) var globalMaxFast: UInt64 = Ptmalloc.defaultMaxFast
    /// `perturb_byte` (`M_PERTURB`).
    @exclusivity(unchecked) var perturbByte: UInt8 = 0

    // MARK: The thread's tcache

    /// The address of the `tcache_perthread_struct` (the user memory of the first chunk), or nil
    /// before `tcache_init` succeeded.
    @exclusivity(unchecked) var tcache: UInt64?
    @exclusivity(unchecked) var tcacheCounts = RawArray<UInt16>(repeating: 0, count: Ptmalloc.tcacheMaxBins)
    @exclusivity(unchecked) var tcacheEntries = RawArray<Int32>(repeating: -1, count: Ptmalloc.tcacheMaxBins)

    /// `__curbrk`: libc's cached program break, 0 until the first `sbrk` reads it.
    @exclusivity(unchecked) var curbrk: UInt64 = 0
    /// The first chunk of each heap segment: the `brk` heap, then any segments mapped after
    /// `brk` failed or that a foreign `sbrk` separated.
    @exclusivity(unchecked) var segments: [Int32] = []
    /// Set when the backend reported the process dead; the public call throws `.killed`.
    @exclusivity(unchecked) var killed = false
    /// Set when glibc would call `malloc_printerr` in the middle of a call.
    @exclusivity(unchecked) var pendingAbort: String?
    /// Whether the last pointer a call returned is a mapped chunk (for the replay's comparison).
    @exclusivity(unchecked) var lastResultMapped = false
    /// Bytes between heap segments that a foreign `sbrk` took, counted in `system_mem`.
    @exclusivity(unchecked) var foreignBytes: UInt64 = 0

    /// A fresh process's allocator over `system`. Nothing is allocated until the first call.
    public init(system: any MallocSystem) {
        self.system = system
        self.pageSize = system.pageSize
    }

    /// The allocator of a child created by `fork(2)`: every field copied, the tables deep.
    public func forked(onto system: any MallocSystem) -> any UserAllocator {
        let c = GlibcMalloc(system: system)
        c.errno = self.errno
        c.stats = self.stats
        c.store = self.store.copy()
        c.fastbins = self.fastbins.copy()
        c.top = self.top
        c.lastRemainder = self.lastRemainder
        c.binmap = self.binmap.copy()
        c.haveFastchunks = self.haveFastchunks
        c.contiguous = self.contiguous
        c.systemMem = self.systemMem
        c.maxSystemMem = self.maxSystemMem
        c.trimThreshold = self.trimThreshold
        c.topPad = self.topPad
        c.mmapThreshold = self.mmapThreshold
        c.arenaTest = self.arenaTest
        c.arenaMax = self.arenaMax
        c.nMmapsMax = self.nMmapsMax
        c.nMmaps = self.nMmaps
        c.maxNMmaps = self.maxNMmaps
        c.noDynThreshold = self.noDynThreshold
        c.mmappedMem = self.mmappedMem
        c.maxMmappedMem = self.maxMmappedMem
        c.sbrkBase = self.sbrkBase
        c.tcacheBins = self.tcacheBins
        c.tcacheCount = self.tcacheCount
        c.tcacheUnsortedLimit = self.tcacheUnsortedLimit
        c.globalMaxFast = self.globalMaxFast
        c.perturbByte = self.perturbByte
        c.tcache = self.tcache
        c.tcacheCounts = self.tcacheCounts.copy()
        c.tcacheEntries = self.tcacheEntries.copy()
        c.curbrk = self.curbrk
        c.segments = self.segments
        c.pendingAbort = self.pendingAbort
        c.lastResultMapped = self.lastResultMapped
        c.foreignBytes = self.foreignBytes
        return c
    }

    // MARK: Public entry points

    /// `malloc(bytes)` (`__libc_malloc`): from the tcache when its bin has a chunk, else
    /// `_int_malloc`.
    public func malloc(_ bytes: UInt64) throws(MallocAbort) -> UInt64? {
        self.stats.mallocCalls += 1
        let p = self.libcMalloc(bytes)
        try self.finish()
        if let p { self.noteAllocated(p, bytes) }
        return p.map { self.store[$0].address + Ptmalloc.chunkHeader }
    }

    func libcMalloc(_ bytes: UInt64) -> Int32? {
        guard let tbytes = Ptmalloc.checkedRequest2size(bytes) else {
            self.errno = .ENOMEM
            return nil
        }
        let tcIdx = Ptmalloc.csize2tidx(tbytes)
        self.maybeInitTcache()
        if tcIdx < self.tcacheBins, let tc = self.tcache {
            if self.tcacheCounts[tcIdx] > 0 { return self.tcacheGet(tcIdx) }
            self.read(tc + 2 * UInt64(tcIdx), 2)
        }
        return self.intMalloc(bytes)
    }

    /// `free(mem)` (`__libc_free`): a mapped chunk is unmapped (raising the mmap threshold to
    /// its size first, up to 32 MiB, unless `mallopt` fixed the thresholds); any other goes to
    /// `_int_free`.
    public func free(_ mem: UInt64?) throws(MallocAbort) {
        self.stats.freeCalls += 1
        guard let mem, mem != 0 else { return }
        let p = try self.chunk(of: mem, for: "free")
        self.noteFreed(p)
        if self.store[p].state == .mmapped {
            let sizeWord = self.store[p].size | Ptmalloc.isMmapped
            self.read(self.store[p].address + 8, 8)
            if !self.noDynThreshold && sizeWord > self.mmapThreshold && sizeWord <= Ptmalloc.mmapThresholdMax
            {
                self.mmapThreshold = self.store[p].size
                self.trimThreshold = 2 * self.mmapThreshold
            }
            self.munmapChunk(p)
        } else {
            self.maybeInitTcache()
            self.intFree(p)
        }
        try self.finish()
    }

    /// `calloc(n, size)` (`__libc_calloc`): `_int_malloc` (never the tcache), then a clear —
    /// skipped for a mapped chunk, and limited to the part that was old top when the chunk was
    /// carved from top memory this call obtained from `brk` (`MORECORE_CLEARS`).
    public func calloc(_ n: UInt64, _ size: UInt64) throws(MallocAbort) -> UInt64? {
        self.stats.callocCalls += 1
        let (bytes, overflow) = n.multipliedReportingOverflow(by: size)
        if overflow {
            self.errno = .ENOMEM
            return nil
        }
        let p = self.libcCalloc(bytes)
        try self.finish()
        if let p { self.noteAllocated(p, bytes) }
        return p.map { self.store[$0].address + Ptmalloc.chunkHeader }
    }

    /// `realloc(mem, bytes)` (`__libc_realloc`).
    public func realloc(_ mem: UInt64?, _ bytes: UInt64) throws(MallocAbort) -> UInt64? {
        self.stats.reallocCalls += 1
        guard let mem, mem != 0 else {
            self.stats.reallocCalls -= 1
            return try self.malloc(bytes)
        }
        if bytes == 0 {
            // REALLOC_ZERO_BYTES_FREES
            self.stats.freeCalls -= 1
            try self.free(mem)
            return nil
        }
        let p = try self.chunk(of: mem, for: "realloc")
        let oldRequested = self.store[p].requested
        // The old chunk's record may be freed and reused inside: clear its request first.
        self.store[p].requested = 0
        let result = self.libcRealloc(p, bytes)
        guard let result else {
            if !self.killed { self.store[p].requested = oldRequested }
            try self.finish()
            return nil
        }
        try self.finish()
        self.stats.liveBytes -= oldRequested
        self.stats.liveAllocations -= 1
        self.noteAllocated(result, bytes)
        return self.store[result].address + Ptmalloc.chunkHeader
    }

    /// `memalign(alignment, bytes)` (`__libc_memalign`, also `aligned_alloc` in 2.36): an
    /// alignment of 16 or less is plain `malloc`; others are rounded up to a power of two
    /// (at least 32) and served by `_int_memalign`.
    public func memalign(_ alignment: UInt64, _ bytes: UInt64) throws(MallocAbort) -> UInt64? {
        self.stats.memalignCalls += 1
        let p = self.midMemalign(alignment, bytes)
        try self.finish()
        if let p { self.noteAllocated(p, bytes) }
        return p.map { self.store[$0].address + Ptmalloc.chunkHeader }
    }

    /// `aligned_alloc(alignment, bytes)`: in glibc 2.36 an alias of `memalign`.
    public func alignedAlloc(_ alignment: UInt64, _ bytes: UInt64) throws(MallocAbort) -> UInt64? {
        try self.memalign(alignment, bytes)
    }

    /// `posix_memalign(&p, alignment, bytes)`: EINVAL unless the alignment is a power-of-two
    /// multiple of 8; ENOMEM when memalign fails.
    public func posixMemalign(_ alignment: UInt64, _ bytes: UInt64) throws(MallocAbort) -> Result<
        UInt64, MallocErrno
    > {
        if alignment == 0 || alignment % 8 != 0 || (alignment / 8).nonzeroBitCount != 1 {
            self.stats.memalignCalls += 1
            return .failure(.EINVAL)
        }
        guard let p = try self.memalign(alignment, bytes) else { return .failure(.ENOMEM) }
        return .success(p)
    }

    /// `valloc(bytes)`: page-aligned.
    public func valloc(_ bytes: UInt64) throws(MallocAbort) -> UInt64? {
        try self.memalign(self.pageSize, bytes)
    }

    /// `pvalloc(bytes)`: page-aligned, the size rounded to pages — with glibc 2.36's rounding,
    /// which masks with `-(pagesize - 1)` and so keeps bit 0 of `bytes + pagesize - 1`.
    public func pvalloc(_ bytes: UInt64) throws(MallocAbort) -> UInt64? {
        let (sum, overflow) = bytes.addingReportingOverflow(self.pageSize - 1)
        if overflow {
            self.errno = .ENOMEM
            return nil
        }
        return try self.memalign(self.pageSize, sum & (0 &- (self.pageSize - 1)))
    }

    /// `malloc_usable_size(mem)` (`musable`): the chunk's size minus the header for a mapped
    /// chunk, minus 8 for a chunk in use to the arena (tcache and fastbin chunks included),
    /// 0 otherwise.
    public func usableSize(_ mem: UInt64) -> UInt64 {
        guard mem != 0, let p = self.store.find(mem - Ptmalloc.chunkHeader), p >= ChunkStore.binHeaders else {
            return 0
        }
        let c = self.store[p]
        switch c.state {
        case .mmapped: return c.size - Ptmalloc.chunkHeader
        case .inUse, .tcache, .fastbin: return c.size - 8
        default: return 0
        }
    }

    /// `malloc_trim(pad)` (`mtrim`): consolidates, `MADV_DONTNEED`s every whole free page in the
    /// unsorted bin and in bins from `bin_index(pagesize)` up, then trims top down to `pad`.
    /// Returns 1 if memory was released.
    @discardableResult
    public func mallocTrim(_ pad: UInt64) throws(MallocAbort) -> Int {
        let r = self.mtrim(pad)
        try self.finish()
        return r
    }

    // MARK: Bookkeeping around the calls

    /// Throws if an access of this call killed the process.
    @inline(__always) func finish() throws(MallocAbort) {
        if self.killed { throw .killed }
        if let message = self.pendingAbort {
            self.pendingAbort = nil
            throw .abort(message)
        }
    }

    @inline(__always) func noteAllocated(_ p: Int32, _ bytes: UInt64) {
        self.lastResultMapped = self.store[p].state == .mmapped
        self.store[p].requested = bytes
        self.stats.liveBytes += bytes
        self.stats.liveAllocations += 1
        if self.stats.liveBytes > self.stats.peakLiveBytes { self.stats.peakLiveBytes = self.stats.liveBytes }
    }

    @inline(__always) func noteFreed(_ p: Int32) {
        self.stats.liveBytes -= self.store[p].requested
        self.stats.liveAllocations -= 1
        self.store[p].requested = 0
    }

    /// The record of the allocated chunk whose user memory starts at `mem`, or the abort glibc
    /// gives (or would give, or would not: then a "vmsim:" message) for any other pointer.
    func chunk(of mem: UInt64, for call: String) throws(MallocAbort) -> Int32 {
        guard mem % Ptmalloc.alignment == 0, mem >= Ptmalloc.chunkHeader,
            let p = self.store.find(mem - Ptmalloc.chunkHeader), p >= ChunkStore.binHeaders
        else { throw .abort("\(call)(): invalid pointer") }
        switch self.store[p].state {
        case .inUse, .mmapped: return p
        case .tcache: throw .abort("free(): double free detected in tcache 2")
        case .fastbin:
            if self.fastbins[Int(self.store[p].bin)] == p {
                throw .abort("double free or corruption (fasttop)")
            }
            throw .abort("vmsim: double free of a fastbin chunk (glibc would corrupt the fastbin)")
        case .top: throw .abort("double free or corruption (top)")
        case .unsorted, .smallbin, .largebin: throw .abort("double free or corruption (!prev)")
        case .fencepost, .none: throw .abort("\(call)(): invalid pointer")
        }
    }

    // MARK: Accesses

    @inline(__always) func read(_ address: UInt64, _ length: UInt64) {
        if !self.system.access(address, length: length, kind: .read) { self.killed = true }
    }

    @inline(__always) func write(_ address: UInt64, _ length: UInt64) {
        if !self.system.access(address, length: length, kind: .write) { self.killed = true }
    }

    @inline(__always) func update(_ address: UInt64, _ length: UInt64) {
        if !self.system.access(address, length: length, kind: .update) { self.killed = true }
    }

    /// `set_head`/`set_head_size` of chunk `p`: its size word.
    @inline(__always) func writeHead(_ p: Int32) { self.write(self.store[p].address + 8, 8) }

    /// `set_foot`/`set_inuse_bit_at_offset` touch the chunk at `p + offset`: its `prev_size`
    /// (`foot`) or its size word.
    @inline(__always) func writeFoot(_ p: Int32) {
        self.write(self.store[p].address + self.store[p].size, 8)
    }
    @inline(__always) func writeSizeWord(at address: UInt64) { self.write(address + 8, 8) }

    /// `alloc_perturb`/`free_perturb` (`M_PERTURB`): fill the user memory.
    @inline(__always) func perturb(_ mem: UInt64, _ n: UInt64) {
        if self.perturbByte != 0 && n > 0 { self.write(mem, n) }
    }

    // MARK: Chunk neighbours (the flag bits glibc keeps in size words)

    /// `prev_inuse(p)`: false only when the chunk before `p` is in a doubly linked bin.
    @inline(__always) func prevInUse(_ p: Int32) -> Bool {
        let q = self.store[p].physPrev
        return q < 0 || !self.store[q].state.isBinned
    }

    /// Splits `p`, keeping its first `keep` bytes, and returns the record of the rest (state
    /// `.inUse` until the caller decides). Metadata only: the caller reports the accesses.
    func splitOff(_ p: Int32, keep: UInt64) -> Int32 {
        let c = self.store[p]
        precondition(keep < c.size, "splitOff: keeping \(keep) of \(c.size)")
        let r = self.store.make(address: c.address + keep, size: c.size - keep, state: .inUse)
        self.store[r].physPrev = p
        self.store[r].physNext = c.physNext
        if c.physNext >= 0 { self.store[c.physNext].physPrev = r }
        self.store[p].physNext = r
        self.store[p].size = keep
        return r
    }

    /// `p` absorbs its next chunk `q` (coalescing): `p` grows, `q`'s record goes. If `q` was top,
    /// `p` becomes top.
    func absorb(_ p: Int32, _ q: Int32) {
        precondition(self.store[p].physNext == q, "absorb: chunks are not neighbours")
        let next = self.store[q].physNext
        self.store[p].size += self.store[q].size
        self.store[p].physNext = next
        if next >= 0 { self.store[next].physPrev = p }
        if q == self.top {
            self.top = p
            self.store[p].state = .top
        }
        self.store.discard(q)
    }

    /// `chunksize(av->top)`: 0 for `initial_top`.
    @inline(__always) var topSize: UInt64 { self.top < 0 ? 0 : self.store[self.top].size }
}

/// glibc's constants for x86-64 (`SIZE_SZ` 8, `MALLOC_ALIGNMENT` 16) and its size arithmetic.
enum Ptmalloc {
    static let sizeSz: UInt64 = 8
    static let alignment: UInt64 = 16
    static let alignMask: UInt64 = 15
    /// `CHUNK_HDR_SZ`: `prev_size` and `size`.
    static let chunkHeader: UInt64 = 16
    /// `MINSIZE`.
    static let minSize: UInt64 = 32
    /// `IS_MMAPPED`, bit 1 of the size word.
    static let isMmapped: UInt64 = 2
    static let nBins = 128
    /// `MIN_LARGE_SIZE`.
    static let minLargeSize: UInt64 = 1024
    static let nFastbins = 10
    /// `MAX_FAST_SIZE` (the most `M_MXFAST` accepts).
    static let maxFastSize: UInt64 = 160
    /// `set_max_fast(DEFAULT_MXFAST)` for 128: `(128 + 8) & ~15`.
    static let defaultMaxFast: UInt64 = 128
    static let tcacheMaxBins = 64
    static let tcacheFillCount = 7
    static let tcacheStructSize: UInt64 = 2 * 64 + 8 * 64
    static let fastbinConsolidationThreshold: UInt64 = 65536
    static let defaultTrimThreshold: UInt64 = 128 * 1024
    /// `DEFAULT_TOP_PAD` from sysdeps/generic/malloc-machine.h (malloc.c's own default is 0).
    static let defaultTopPad: UInt64 = 128 * 1024
    static let defaultMmapThreshold: UInt64 = 128 * 1024
    /// `DEFAULT_MMAP_THRESHOLD_MAX`: `4 * 1024 * 1024 * sizeof(long)`.
    static let mmapThresholdMax: UInt64 = 32 * 1024 * 1024
    static let defaultMmapMax: Int32 = 65536
    /// `MMAP_AS_MORECORE_SIZE`: the least a mapped heap segment gets when `brk` fails.
    static let mmapAsMorecoreSize: UInt64 = 1024 * 1024
    /// `MAX_ITERS` of the unsorted loop.
    static let maxIters = 10000

    /// `request2size`.
    @inline(__always) static func request2size(_ req: UInt64) -> UInt64 {
        req + sizeSz + alignMask < minSize ? minSize : (req + sizeSz + alignMask) & ~alignMask
    }

    /// `checked_request2size`: nil for requests over `PTRDIFF_MAX`.
    @inline(__always) static func checkedRequest2size(_ req: UInt64) -> UInt64? {
        req > UInt64(Int64.max) ? nil : request2size(req)
    }

    /// `csize2tidx`.
    @inline(__always) static func csize2tidx(_ size: UInt64) -> Int {
        Int((size &- minSize &+ alignment &- 1) / alignment)
    }

    @inline(__always) static func fastbinIndex(_ size: UInt64) -> Int { Int(size >> 4) - 2 }
    @inline(__always) static func inSmallbinRange(_ size: UInt64) -> Bool { size < minLargeSize }
    @inline(__always) static func smallbinIndex(_ size: UInt64) -> Int { Int(size >> 4) }

    /// `largebin_index_64`.
    static func largebinIndex(_ size: UInt64) -> Int {
        if size >> 6 <= 48 { return 48 + Int(size >> 6) }
        if size >> 9 <= 20 { return 91 + Int(size >> 9) }
        if size >> 12 <= 10 { return 110 + Int(size >> 12) }
        if size >> 15 <= 4 { return 119 + Int(size >> 15) }
        if size >> 18 <= 2 { return 124 + Int(size >> 18) }
        return 126
    }

    @inline(__always) static func binIndex(_ size: UInt64) -> Int {
        inSmallbinRange(size) ? smallbinIndex(size) : largebinIndex(size)
    }

    @inline(__always) static func alignUp(_ v: UInt64, _ a: UInt64) -> UInt64 { (v + a - 1) & ~(a - 1) }
    @inline(__always) static func alignDown(_ v: UInt64, _ a: UInt64) -> UInt64 { v & ~(a - 1) }
}

extension GlibcMalloc {
    /// What `((size_t *)mem)[-1]` holds for an allocated chunk: its size with `PREV_INUSE` (bit 0)
    /// and `IS_MMAPPED` (bit 1); nil if `mem` is not a chunk's user pointer.
    public func sizeWord(of mem: UInt64) -> UInt64? {
        guard mem >= 16, let p = self.store.find(mem - Ptmalloc.chunkHeader), p >= ChunkStore.binHeaders
        else {
            return nil
        }
        let c = self.store[p]
        if c.state == .mmapped { return c.size | Ptmalloc.isMmapped }
        return c.size | (self.prevInUse(p) ? 1 : 0)
    }

    /// What `((size_t *)mem)[-2]` holds for a mapped chunk: the bytes from the mapping's start to
    /// the chunk (`prev_size`); nil for other chunks, whose `prev_size` is the previous chunk's.
    public func mmapOffset(of mem: UInt64) -> UInt64? {
        guard mem >= 16, let p = self.store.find(mem - Ptmalloc.chunkHeader), self.store[p].state == .mmapped
        else {
            return nil
        }
        return self.store[p].mmapOffset
    }
}
