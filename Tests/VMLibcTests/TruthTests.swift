import Testing

@testable import VMLibc

/// glibc 2.36 facts measured on Debian 12 (Linux 6.18) by the C programs in tools/malloc-truth/,
/// checked against the model: each test is a line-by-line Swift port of one program, and every
/// value the program recorded in tools/malloc-truth/results/ must come out the same — pointer
/// offsets, chunk sizes, brk movements, minor faults, RSS pages and mallinfo2 fields.
@Suite struct TruthTests {
    /// tools/malloc-truth/first.c: the first malloc puts the 0x290-byte tcache struct first and
    /// grows brk by request + 128 KiB pad, page-rounded.
    @Test(arguments: [1, 24, 25, 1000, 100000, 131048] as [UInt64])
    func firstMalloc(_ n: UInt64) throws {
        let t = Probe()
        t.put("request", Int64(n))
        var s = t.before()
        let p = t.malloc(n)
        t.after("first", s)
        t.ptr("p", p)
        t.put("heap_size", t.heap)
        t.put("usable", t.m.usableSize(p!))
        s = t.before()
        let q = t.malloc(n)
        t.after("second", s)
        t.ptr("q", q)
        t.put("heap_size2", t.heap)
        t.mallinfo("mi")
        try expectAgreement(t, "first-\(n)")
    }

    /// tools/malloc-truth/threshold.c: the mmap threshold and its dynamic raise.
    @Test func mmapThresholdAndItsDynamicRaise() throws {
        let t = Probe()
        t.ptr("guard", t.malloc(16))
        var s = t.before()
        let below = t.malloc(131048)
        t.after("below", s)
        t.ptr("below", below)
        s = t.before()
        let at = t.malloc(131049)
        t.after("at", s)
        t.ptr("at", at)
        t.put("at.usable", t.m.usableSize(at!))
        s = t.before()
        t.touch(at, 131049)
        t.after("at_touch", s)
        s = t.before()
        t.free(at)
        t.after("at_free", s)
        s = t.before()
        let again = t.malloc(131049)
        t.after("again", s)
        t.ptr("again", again)

        s = t.before()
        let m1 = t.malloc(1 << 20)
        t.after("m1", s)
        t.ptr("m1", m1)
        t.free(m1)
        s = t.before()
        let h1 = t.malloc(1 << 20)
        t.after("h1", s)
        t.ptr("h1", h1)
        s = t.before()
        let edgeHeap = t.malloc(0x101000 - 24)
        t.after("edge_heap", s)
        t.ptr("edge_heap", edgeHeap)
        s = t.before()
        let edgeMmap = t.malloc(0x101000 - 8)
        t.after("edge_mmap", s)
        t.ptr("edge_mmap", edgeMmap)
        t.free(edgeMmap)
        s = t.before()
        t.free(edgeHeap)
        t.after("edge_heap_free", s)
        s = t.before()
        t.free(h1)
        t.after("h1_free", s)

        let big1 = t.malloc((32 << 20) - 4096 - 24)
        t.ptr("big1", big1)
        t.free(big1)
        s = t.before()
        let afterBig1 = t.malloc(16 << 20)
        t.after("after_big1", s)
        t.ptr("after_big1", afterBig1)
        t.free(afterBig1)
        t.put("heap_size", t.heap)
        t.mallinfo("mi")
        try expectAgreement(t, "threshold")
    }

    /// tools/malloc-truth/threshold_max.c: only mapped chunks of at most 32 MiB (size word and
    /// IS_MMAPPED) raise the threshold.
    @Test(arguments: ["32m", "32m-4k", "40m"])
    func dynamicThresholdCeiling(_ which: String) throws {
        let n: UInt64 =
            which == "32m" ? (32 << 20) - 4096 - 8 : which == "32m-4k" ? (32 << 20) - 4096 - 24 : 40 << 20
        let t = Probe()
        t.ptr("guard", t.malloc(16))
        let big = t.malloc(n)
        t.ptr("big", big)
        t.free(big)
        let s = t.before()
        let probe = t.malloc(1 << 20)
        t.after("probe", s)
        t.ptr("probe", probe)
        try expectAgreement(t, "threshold-max-\(which)")
    }

    /// tools/malloc-truth/trim.c: free at the top trims beyond M_TRIM_THRESHOLD, down to the pad.
    @Test func freeAtTheTopTrimsTheHeap() throws {
        let t = Probe()
        let a = t.malloc(100000)
        let b = t.malloc(100000)
        let c = t.malloc(100000)
        t.ptr("a", a)
        t.ptr("b", b)
        t.ptr("c", c)
        t.put("heap_after_abc", t.heap)
        t.touch(c, 100000)
        var s = t.before()
        t.free(c)
        t.after("free_c", s)
        t.put("heap_after_free_c", t.heap)
        let d = t.malloc(60000)
        t.ptr("d", d)
        s = t.before()
        t.free(d)
        t.after("free_d", s)
        s = t.before()
        t.free(b)
        t.after("free_b", s)
        t.put("heap_after_free_b", t.heap)
        s = t.before()
        t.free(a)
        t.after("free_a", s)
        t.put("heap_after_free_a", t.heap)
        t.mallinfo("mi")
        try expectAgreement(t, "trim")
    }

    /// tools/malloc-truth/tcache.c: tcache LIFO, 7 per bin; fastbin leftovers restocked in reverse.
    @Test(arguments: [24, 500] as [UInt64])
    func tcacheReuseOrder(_ n: UInt64) throws {
        let t = Probe()
        var p: [UInt64] = []
        for _ in 0..<10 { p.append(t.malloc(n)!) }
        _ = t.malloc(16)
        t.put("request", Int64(n))
        t.ptr("p0", p[0])
        t.put("stride", Int64(p[1] - p[0]))
        for q in p { t.free(q) }
        t.mallinfo("freed")
        for i in 0..<10 {
            let q = t.malloc(n)
            t.put("reuse\(i)", Int64(p.firstIndex(of: q!) ?? -1))
        }
        t.ptr("fresh", t.malloc(n))
        try expectAgreement(t, "tcache-\(n)")
    }

    /// tools/malloc-truth/fastbin.c: fastbins, and malloc_consolidate on a large request.
    @Test func largeRequestConsolidatesFastbins() throws {
        let t = Probe()
        var p: [UInt64] = []
        for _ in 0..<10 { p.append(t.malloc(40)!) }
        let guardChunk = t.malloc(16)!
        for q in p { t.free(q) }
        t.mallinfo("before")
        let s = t.before()
        let big = t.malloc(2000)!
        t.after("big", s)
        t.ptr("big", big)
        t.put("big_from_top", big > guardChunk)
        t.mallinfo("after")
        let q = t.malloc(100)
        t.put("split_is_p7", q == p[7])
        t.ptr("q", q)
        t.mallinfo("split")
        try expectAgreement(t, "fastbin")
    }

    /// tools/malloc-truth/coalesce.c: splitting, coalescing, the last remainder.
    @Test func neighboursCoalesceAndRemaindersSplit() throws {
        let t = Probe()
        let a = t.malloc(2000)
        let b = t.malloc(2000)
        let c = t.malloc(2000)
        let g = t.malloc(2000)
        t.ptr("a", a)
        t.ptr("g", g)
        t.free(a)
        t.free(c)
        t.mallinfo("ac_free")
        t.free(b)
        t.mallinfo("abc_free")
        let x = t.malloc(6000)
        t.put("x_is_a", x == a)
        t.ptr("x", x)
        t.free(x)
        let y = t.malloc(1200)
        t.put("y_is_a", y == a)
        let z = t.malloc(1200)
        t.put("z_off_from_a", Int64(z! - a!))
        t.mallinfo("split")
        t.free(g)
        t.mallinfo("g_free")
        try expectAgreement(t, "coalesce")
    }

    /// tools/malloc-truth/malloc_trim.c: malloc_trim releases free pages inside the heap.
    @Test func mallocTrimReleasesFreePagesInsideTheHeap() throws {
        let t = Probe()
        _ = t.malloc(100)
        let hole = t.malloc(100000)
        let wall = t.malloc(100)
        t.touch(hole, 100000)
        t.ptr("hole", hole)
        t.ptr("wall", wall)
        t.free(hole)
        t.put("heap_before", t.heap)
        var s = t.before()
        var r = t.checked { try t.m.mallocTrim(0) }
        t.after("trim", s)
        t.put("trim_result", r)
        t.put("heap_after", t.heap)
        s = t.before()
        let again = t.malloc(100000)
        t.after("again", s)
        t.put("again_is_hole", again == hole)
        s = t.before()
        t.touch(again, 100000)
        t.after("again_touch", s)
        let topUser = t.malloc(120000)
        t.touch(topUser, 120000)
        t.free(topUser)
        t.put("heap_before_pad", t.heap)
        s = t.before()
        r = t.checked { try t.m.mallocTrim(65536) }
        t.after("trim_pad", s)
        t.put("trim_pad_result", r)
        t.put("heap_after_pad", t.heap)
        s = t.before()
        r = t.checked { try t.m.mallocTrim(0) }
        t.after("trim0", s)
        t.put("heap_after_trim0", t.heap)
        t.mallinfo("mi")
        try expectAgreement(t, "malloc-trim")
    }

    /// tools/malloc-truth/realloc.c: in place where glibc grows in place; mremap for mapped chunks.
    @Test func reallocInPlaceMovingAndMremap() throws {
        let t = Probe()
        let a = t.malloc(3000)
        let b = t.malloc(3000)
        _ = t.malloc(100)
        t.ptr("a", a)
        t.ptr("b", b)
        t.free(b)
        var s = t.before()
        let a2 = t.realloc(a, 5000)
        t.after("grow_next", s)
        t.put("grow_next_same", a2 == a)
        t.ptr("a2", a2)
        let tail = t.malloc(1000)
        t.put("tail_off_from_a", Int64(tail! - a!))

        let p = t.malloc(100)
        t.ptr("p", p)
        s = t.before()
        let p2 = t.realloc(p, 5000)
        t.after("grow_top", s)
        t.put("grow_top_same", p2 == p)
        t.ptr("p2", p2)
        _ = t.malloc(100)
        s = t.before()
        let p3 = t.realloc(p2, 10000)
        t.after("grow_move", s)
        t.put("grow_move_same", p3 == p2)
        t.ptr("p3", p3)
        s = t.before()
        let p4 = t.realloc(p3, 2000)
        t.after("shrink", s)
        t.put("shrink_same", p4 == p3)
        t.ptr("p4", p4)

        let m = t.malloc(1 << 20)
        t.touch(m, 1 << 20)
        t.ptr("m", m)
        s = t.before()
        let m2 = t.realloc(m, 2 << 20)
        t.after("mremap_grow", s)
        t.ptr("m2", m2)
        s = t.before()
        t.touch(m2, 2 << 20)
        t.after("mremap_grow_touch", s)
        s = t.before()
        let m3 = t.realloc(m2, 200000)
        t.after("mremap_shrink", s)
        t.ptr("m3", m3)
        s = t.before()
        let m4 = t.realloc(m3, 100)
        t.after("mremap_tiny", s)
        t.ptr("m4", m4)
        t.put("heap_size", t.heap)
        t.mallinfo("mi")
        try expectAgreement(t, "realloc")
    }

    /// tools/malloc-truth/calloc.c: no clearing of fresh memory; calloc bypasses the tcache.
    @Test func callocClearsOnlyWhatMayBeDirty() throws {
        let t = Probe(keepsBytes: true)
        let first = t.malloc(16)
        t.ptr("first", first)
        var s = t.before()
        let big = t.calloc(1, 1 << 20)
        t.after("mmap", s)
        t.ptr("mmap", big)
        s = t.before()
        let inside = t.calloc(1, 100000)
        t.after("in_top", s)
        t.ptr("in_top", inside)
        s = t.before()
        let fresh = t.calloc(1, 100000)
        t.after("fresh_top", s)
        t.ptr("fresh_top", fresh)
        t.put("fresh_top_brk", t.heap)
        let d = t.malloc(5000)!
        _ = t.malloc(16)
        t.sys.write(d, [UInt8](repeating: 0xAB, count: 5000))
        t.free(d)
        s = t.before()
        let r = t.calloc(1, 5000)!
        t.after("reused", s)
        t.put("reused_is_d", r == d)
        t.put("reused_zero", t.sys.read(r, length: 5000).allSatisfy { $0 == 0 })
        let tc = t.malloc(24)
        t.free(tc)
        let c = t.calloc(1, 24)
        t.put("calloc_uses_tcache", c == tc)
        let m = t.malloc(24)
        t.put("malloc_uses_tcache", m == tc)
        t.mallinfo("mi")
        try expectAgreement(t, "calloc")
    }

    /// tools/malloc-truth/memalign.c: posix_memalign, memalign, aligned_alloc.
    @Test func alignedAllocationsFreeTheirLeaderAndTail() throws {
        let t = Probe()
        t.ptr("first", t.malloc(16))
        var r = t.checked { try t.m.posixMemalign(4096, 100) }
        t.put("pm_result", r.errorCode)
        t.ptr("pm", try r.get())
        t.ptr("m64", t.memalign(64, 100))
        t.ptr("m32", t.memalign(32, 40))
        t.ptr("aa", t.checked { try t.m.alignedAlloc(256, 1000) })
        t.ptr("after", t.malloc(2000))
        r = t.checked { try t.m.posixMemalign(65536, 200000) }
        let big = try r.get()
        t.put("big.mmapped", t.m.sizeWord(of: big)! & 2 != 0)
        t.put("big.mod", Int64(big % 4096))
        t.put("big_mapping", Int64(t.m.mmapOffset(of: big)! + (t.m.sizeWord(of: big)! & ~7)))
        t.put("big_mod64k", Int64(big % 65536))
        r = t.checked { try t.m.posixMemalign(24, 100) }
        t.put("bad_align_result", r.errorCode)
        t.put("heap_size", t.heap)
        t.mallinfo("mi")
        try expectAgreement(t, "memalign")
    }

    /// tools/malloc-truth/mallopt.c: M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_TRIM_THRESHOLD.
    @Test(arguments: ["default", "toppad0", "toppad1m", "mmap1m", "mmapmax0", "trim0", "trim1m"])
    func malloptChangesTheThresholds(_ v: String) throws {
        let t = Probe()
        var r = -1
        switch v {
        case "toppad0": r = t.m.mallopt(.topPad, 0)
        case "toppad1m": r = t.m.mallopt(.topPad, 1 << 20)
        case "mmap1m": r = t.m.mallopt(.mmapThreshold, 1 << 20)
        case "mmapmax0": r = t.m.mallopt(.mmapMax, 0)
        case "trim0": r = t.m.mallopt(.trimThreshold, 0)
        case "trim1m": r = t.m.mallopt(.trimThreshold, 1 << 20)
        default: break
        }
        t.put("mallopt_result", r)
        var s = t.before()
        let a = t.malloc(100)
        t.after("first", s)
        t.ptr("a", a)
        t.put("heap1", t.heap)
        s = t.before()
        let b = t.malloc(500000)
        t.after("b", s)
        t.ptr("b", b)
        t.put("heap2", t.heap)
        let c = t.malloc(100000)
        let e = t.malloc(100000)
        t.ptr("c", c)
        t.ptr("e", e)
        t.put("heap3", t.heap)
        s = t.before()
        t.free(e)
        t.after("free_e", s)
        s = t.before()
        t.free(c)
        t.after("free_c", s)
        t.put("heap4", t.heap)
        s = t.before()
        t.free(b)
        t.after("free_b", s)
        t.put("heap5", t.heap)
        t.ptr("d", t.malloc(500000))
        t.mallinfo("mi")
        try expectAgreement(t, "mallopt-\(v)")
    }
}

extension Result where Failure == MallocErrno {
    /// posix_memalign's return value: 0 or the error number.
    var errorCode: Int64 {
        switch self {
        case .success: return 0
        case .failure(let e): return Int64(e.rawValue)
        }
    }
}
