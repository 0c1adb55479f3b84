import Testing

@testable import VMLibc

/// A kernel that kills the process at its `n`th access.
final class KillingSystem: MallocSystem {
    let inner = InMemorySystem()
    var left: Int
    init(after n: Int) { self.left = n }
    var pageSize: UInt64 { self.inner.pageSize }
    func brk(_ b: UInt64) -> UInt64 { self.inner.brk(b) }
    func mmap(length: UInt64) -> Result<UInt64, MallocSystemError> { self.inner.mmap(length: length) }
    func munmap(_ a: UInt64, length: UInt64) -> Result<Void, MallocSystemError> {
        self.inner.munmap(a, length: length)
    }
    func mremap(_ a: UInt64, oldLength: UInt64, newLength: UInt64) -> Result<UInt64, MallocSystemError> {
        self.inner.mremap(a, oldLength: oldLength, newLength: newLength)
    }
    func madviseDontNeed(_ a: UInt64, length: UInt64) { self.inner.madviseDontNeed(a, length: length) }
    func access(_ a: UInt64, length: UInt64, kind: MemoryAccessKind) -> Bool {
        self.left -= 1
        return self.left > 0 && self.inner.access(a, length: length, kind: kind)
    }
    func zero(_ a: UInt64, length: UInt64) -> Bool { self.access(a, length: length, kind: .write) }
    func copy(to d: UInt64, from s: UInt64, length: UInt64) -> Bool {
        self.access(d, length: length, kind: .write)
    }
}

/// glibc behaviour read from malloc/malloc.c (2.36) that the measurements do not reach: bin
/// indexing, brk and mmap failures, aborts, mallopt's return values, perturbation, the dump.
@Suite struct GlibcMallocTests {
    /// request2size, csize2tidx, fastbin_index, smallbin_index and largebin_index_64.
    @Test func sizeClassesFollowGlibcsMacros() {
        #expect(
            [0, 24, 25, 40, 1000, 1032, 1033].map(Ptmalloc.request2size) == [
                32, 32, 48, 48, 1008, 1040, 1056,
            ])
        #expect([32, 48, 1040, 1056].map(Ptmalloc.csize2tidx) == [0, 1, 63, 64])
        #expect([32, 128, 176].map(Ptmalloc.fastbinIndex) == [0, 6, 9])
        #expect(
            [32, 1008, 1024, 3072, 3136, 10240, 40960, 45056, 163840, 196608, 786432, 1 << 30].map(
                Ptmalloc.binIndex) == [
                    2, 63, 64, 96, 97, 111, 120, 120, 124, 124, 126, 126,
                ])
        #expect(Ptmalloc.checkedRequest2size(UInt64(Int64.max) + 1) == nil)
    }

    /// sysmalloc_mmap_fallback: when brk fails the heap continues in a mapping of at least
    /// MMAP_AS_MORECORE_SIZE (1 MiB), the arena becomes non-contiguous, and each later segment
    /// fences off the old top with two 16-byte fenceposts.
    @Test func brkFailureContinuesTheHeapInMappedSegments() throws {
        let sys = InMemorySystem()
        sys.brkLimit = sys.startBrk
        let m = GlibcMalloc(system: sys)
        let p = try m.malloc(100)!
        let first = sys.mappings
        #expect(first.count == 1 && first[0].length == 1 << 20)
        #expect(p == first[0].start + 0x2a0)
        #expect(m.mallinfo2().arena == 1 << 20)
        #expect(!m.contiguous)
        var blocks: [UInt64] = []
        for _ in 0..<12 { blocks.append(try m.malloc(100_000)!) }
        #expect(sys.mappings.count == 2)
        #expect(m.mallinfo2().arena == 2 << 20)
        let dump = m.heapDump()
        #expect(dump.chunks.filter { $0.state == .fencepost }.count == 2)
        #expect(dump.chunks.filter { $0.state == .top }.count == 1)
        #expect(m.checkInvariants() == nil)
        for b in blocks { try m.free(b) }
        #expect(m.checkInvariants() == nil)
        #expect(sys.currentBrk == sys.startBrk)
    }

    @Test func whenBrkAndMmapBothFailMallocReturnsNullWithENOMEM() throws {
        let sys = InMemorySystem()
        sys.brkLimit = sys.startBrk
        sys.mmapLimit = 0
        let m = GlibcMalloc(system: sys)
        #expect(try m.malloc(10) == nil)
        #expect(m.errno == .ENOMEM)
        #expect(try m.malloc(UInt64(Int64.max) + 1) == nil)
        #expect(m.checkInvariants() == nil)
    }

    /// Without mremap, realloc of a mapped chunk mallocs, copies `oldsize - 16` bytes and unmaps.
    @Test func reallocOfAMappedChunkCopiesWhenMremapFails() throws {
        let sys = InMemorySystem(keepsBytes: true)
        sys.supportsMremap = false
        let m = GlibcMalloc(system: sys)
        let p = try m.malloc(1 << 20)!
        let data = (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        sys.write(p, data)
        let q = try m.realloc(p, 2 << 20)!
        #expect(q != p)
        #expect(sys.read(q, length: 4096) == data)
        #expect(m.stats.munmapCalls == 1 && m.stats.mremapCalls == 1 && m.stats.mmapCalls == 2)
        // Shrinking keeps the chunk when mremap fails and it is big enough.
        #expect(try m.realloc(q, 100) == q)
    }

    @Test func invalidFreesAbortWithGlibcsMessages() throws {
        let m = GlibcMalloc(system: InMemorySystem())
        let a = try m.malloc(24)!
        try m.free(a)
        #expect(throws: MallocAbort.abort("free(): double free detected in tcache 2")) { try m.free(a) }
        #expect(throws: MallocAbort.abort("free(): invalid pointer")) { try m.free(a + 8) }
        #expect(throws: MallocAbort.abort("free(): invalid pointer")) { try m.free(0x1234_5670) }
        // Fill the tcache bin, then the next free goes to the fastbin's head.
        var ps: [UInt64] = []
        for _ in 0..<9 { ps.append(try m.malloc(24)!) }
        for p in ps { try m.free(p) }
        #expect(throws: MallocAbort.abort("double free or corruption (fasttop)")) { try m.free(ps[8]) }
        let big = try m.malloc(5000)!
        _ = try m.malloc(100)  // keeps big away from top
        try m.free(big)
        #expect(throws: MallocAbort.abort("double free or corruption (!prev)")) { try m.free(big) }
        #expect(throws: MallocAbort.abort("realloc(): invalid pointer")) { try m.realloc(big + 16, 10) }
    }

    @Test func anAccessThatKillsTheProcessEndsTheCall() {
        let m = GlibcMalloc(system: KillingSystem(after: 3))
        #expect(throws: MallocAbort.killed) { try m.malloc(100) }
    }

    @Test func reallocOfNullMallocsAndReallocToZeroFrees() throws {
        let m = GlibcMalloc(system: InMemorySystem())
        let p = try m.realloc(nil, 100)!
        #expect(m.stats.liveAllocations == 1)
        #expect(try m.realloc(p, 0) == nil)
        #expect(m.stats.liveAllocations == 0 && m.stats.liveBytes == 0)
        #expect(try m.calloc(UInt64.max / 2, 3) == nil)
        #expect(m.errno == .ENOMEM)
    }

    /// pvalloc masks with -(pagesize - 1), so bit 0 of the rounded size survives.
    @Test func pvallocRoundsAsGlibc236Does() throws {
        let m = GlibcMalloc(system: InMemorySystem())
        let a = try m.pvalloc(1)!
        let b = try m.pvalloc(2)!
        #expect(a % 4096 == 0 && b % 4096 == 0)
        #expect(m.usableSize(a) >= 4096 && m.usableSize(a) < 4096 + 32)
        #expect(m.usableSize(b) >= 4097 && m.usableSize(b) < 4097 + 32)
    }

    @Test func malloptReturnValues() {
        let m = GlibcMalloc(system: InMemorySystem())
        #expect(m.mallopt(.mxfast, 161) == 0)
        #expect(m.mallopt(.mxfast, 160) == 1)
        #expect(m.mallopt(.arenaMax, 4) == 1)
        #expect(m.mallopt(12345, 1) == 1)
        #expect(m.thresholds.dynamic)
        #expect(m.mallopt(.mmapMax, 0) == 1)
        #expect(!m.thresholds.dynamic)
        #expect(MalloptParameter(cName: "M_MMAP_THRESHOLD") == .mmapThreshold)
        #expect(MalloptParameter(cName: "top_pad") == .topPad)
    }

    /// With M_MXFAST 0 (global_max_fast 16), a full tcache bin sends frees to the unsorted bin.
    @Test func noFastbinsWithMxfastZero() throws {
        let m = GlibcMalloc(system: InMemorySystem())
        m.mallopt(.mxfast, 0)
        var ps: [UInt64] = []
        for _ in 0..<10 { ps.append(try m.malloc(24)!) }
        _ = try m.malloc(24)
        // Seven frees fill the tcache bin; the last three merge into one unsorted chunk.
        for p in ps { try m.free(p) }
        #expect(m.mallinfo2().smblks == 0)
        #expect(m.heapDump().bins.contains { $0.name == "unsorted" })
        #expect(m.checkInvariants() == nil)
    }

    /// M_PERTURB fills malloc'd memory with ~byte and freed memory with byte; calloc still zeroes.
    @Test func perturbFillsMemoryButCallocStillZeroes() throws {
        let sys = InMemorySystem(keepsBytes: true)
        let m = GlibcMalloc(system: sys)
        m.mallopt(.perturb, 0x5A)
        let p = try m.malloc(2000)!
        #expect(sys.read(p, length: 2000).allSatisfy { $0 == InMemorySystem.metadataByte })
        let c = try m.calloc(1, 3000)!
        #expect(sys.read(c, length: 3000).allSatisfy { $0 == 0 })
        let big = try m.calloc(1, 200_000)!
        #expect(sys.read(big, length: 200_000).allSatisfy { $0 == 0 })
    }

    /// musable: tcache and fastbin chunks are in use to the arena, so their usable size shows.
    @Test func usableSizeOfAChunkInTheTcache() throws {
        let m = GlibcMalloc(system: InMemorySystem())
        let p = try m.malloc(100)!
        #expect(m.usableSize(p) == 104)
        try m.free(p)
        #expect(m.usableSize(p) == 104)
        #expect(m.usableSize(0) == 0)
        let big = try m.malloc(200_000)!
        #expect(m.usableSize(big) == 200_704 - 16)
    }

    @Test func theDynamicThresholdFollowsFreedMappedChunks() throws {
        let m = GlibcMalloc(system: InMemorySystem())
        try m.free(try m.malloc(1 << 20))
        #expect(m.thresholds.mmap == 0x101000 && m.thresholds.trim == 0x202000)
    }

    @Test func heapDumpListsChunksBinsAndTop() throws {
        let m = GlibcMalloc(system: InMemorySystem())
        let a = try m.malloc(100)!
        _ = try m.malloc(5000)
        let c = try m.malloc(3000)!
        _ = try m.malloc(10)
        try m.free(a)
        try m.free(c)
        // A large request sorts the unsorted chunk into its large bin before it goes to mmap.
        _ = try m.malloc(300_000)
        #expect(
            m.heapDump().text == """
                glibc: heap 0x555555559000-0x55555557a000 (132 KiB), mmapped 296 KiB, live 297.9 KiB
                +0x0        0x290     in use
                +0x290      0x70      tcache[5]
                +0x300      0x1390    in use (5000)
                +0x1690     0xbc0     largebin[95]
                +0x2250     0x20      in use (10)
                +0x2270     0x1ed90   top
                0x7ffff7fb5000 0x4a000   mmapped (300000)
                tcache[5] 1: +0x290
                largebin[95] 1: +0x1690

                """)
        #expect(
            m.mallinfo2().description.hasPrefix("arena=135168\nordblks=2\nsmblks=0\nhblks=1\nhblkhd=303104\n")
        )
    }
}
