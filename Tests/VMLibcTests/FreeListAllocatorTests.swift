import Testing

@testable import VMLibc

@Suite struct FreeListAllocatorTests {
    /// Holes of 128, 528, 224, 320 and 624 bytes (blocks of requests 100, 500, 200, 300, 600,
    /// each kept apart by a live 32-byte block) and the 2112 bytes left of the first page (index
    /// 5), then 200-byte requests (224-byte blocks).
    func holes(_ policy: FitPolicy) throws -> (FreeListAllocator, [UInt64]) {
        let a = FreeListAllocator(system: InMemorySystem(), policy: policy)
        var holes: [UInt64] = []
        var last: UInt64 = 0
        for n in [100, 500, 200, 300, 600] as [UInt64] {
            holes.append(try a.malloc(n)!)
            last = try a.malloc(16)!
        }
        for h in holes { try a.free(h) }
        holes.append(last + 16 + 16)
        return (a, holes)
    }

    @Test(arguments: [
        (FitPolicy.first, [1, 1]), (.best, [2, 3]), (.worst, [5, 5]), (.next, [5, 5]),
    ])
    func eachPolicyPicksItsHole(_ policy: FitPolicy, _ expected: [Int]) throws {
        let (a, holes) = try self.holes(policy)
        let p = try a.malloc(200)!
        #expect(p == holes[expected[0]])
        // The second: first fit takes what is left of hole 1 (304 bytes), best fit hole 3 (320,
        // the smallest that fits), worst fit the rest of the page again. Next fit started where
        // the last search ended — at the rest of the page, where the last 16-byte block came
        // from — and stays there.
        let q = try a.malloc(200)!
        #expect(q >= holes[expected[1]] && q < holes[expected[1]] + 624)
        #expect(a.checkInvariants() == nil)
    }

    @Test func freeingNeighboursCoalescesThemInAddressOrder() throws {
        let a = FreeListAllocator(system: InMemorySystem(), policy: .first)
        let x = try a.malloc(100)!
        let y = try a.malloc(100)!
        let z = try a.malloc(100)!
        _ = try a.malloc(100)
        try a.free(x)
        try a.free(z)
        #expect(a.heapDump().bins[0].chunks.count == 3)  // x, z, and the rest of the heap
        try a.free(y)
        let free = a.heapDump().chunks.filter { $0.state == .free }
        #expect(free.count == 2 && free[0].address == x - 16 && free[0].size == 3 * 128)
        #expect(a.checkInvariants() == nil)
    }

    @Test func theHeapGrowsByPagesAndNeverShrinks() throws {
        let sys = InMemorySystem()
        let a = FreeListAllocator(system: sys, policy: .best)
        let p = try a.malloc(10_000)!
        #expect(sys.currentBrk - sys.startBrk == 12288)
        try a.free(p)
        #expect(sys.currentBrk - sys.startBrk == 12288)
        let big = try a.malloc(1 << 20)!
        #expect(sys.mappings.isEmpty)
        #expect(a.usableSize(big) >= 1 << 20)
    }

    @Test func reallocGrowsInPlaceIntoAFreeNeighbour() throws {
        let sys = InMemorySystem(keepsBytes: true)
        let a = FreeListAllocator(system: sys, policy: .first)
        let p = try a.malloc(100)!
        sys.write(p, [UInt8](repeating: 7, count: 100))
        #expect(try a.realloc(p, 1000) == p)
        let q = try a.malloc(10)!
        let moved = try a.realloc(p, 5000)!
        #expect(moved != p)
        #expect(sys.read(moved, length: 100) == [UInt8](repeating: 7, count: 100))
        #expect(try a.memalign(4096, 10)! % 4096 == 0)
        #expect(try a.posixMemalign(12, 10) == .failure(.EINVAL))
        #expect(throws: MallocAbort.abort("free(): invalid pointer")) { try a.free(q + 8) }
        #expect(FreeListAllocator(name: "freelist:worst", system: sys)?.policy == .worst)
        #expect(FreeListAllocator(name: "freelist:fastest", system: sys) == nil)
    }
}

@Suite struct InMemorySystemTests {
    /// A read of an untouched page maps the zero page (a fault, no RSS); a write then faults
    /// again and allocates; MADV_DONTNEED drops the page.
    @Test func demandPagingAsLinuxDoesIt() {
        let sys = InMemorySystem()
        _ = sys.brk(sys.startBrk + 8192)
        #expect(sys.access(sys.startBrk, length: 8, kind: .read))
        #expect(sys.minorFaults == 1 && sys.residentPages == 0)
        #expect(sys.access(sys.startBrk, length: 8, kind: .write))
        #expect(sys.minorFaults == 2 && sys.residentPages == 1)
        #expect(sys.access(sys.startBrk + 4090, length: 12, kind: .update))
        #expect(sys.minorFaults == 3 && sys.residentPages == 2)
        sys.madviseDontNeed(sys.startBrk, length: 4096)
        #expect(sys.residentPages == 1)
        _ = sys.brk(sys.startBrk)
        #expect(sys.residentPages == 0)
        #expect(!sys.access(sys.startBrk, length: 1, kind: .read))
        #expect(sys.segfaults == 1 && sys.isDead)
    }

    @Test func mappingsGoTopDownAndMremapMovesWithoutFaults() throws {
        let sys = InMemorySystem(keepsBytes: true)
        let a = try sys.mmap(length: 8192).get()
        let b = try sys.mmap(length: 4096).get()
        #expect(a == sys.mmapBase - 8192 && b == a - 4096)
        sys.write(b, [1, 2, 3])
        let faults = sys.minorFaults
        let moved = try sys.mremap(b, oldLength: 4096, newLength: 16384).get()
        #expect(moved != b && sys.minorFaults == faults)
        #expect(sys.read(moved, length: 3) == [1, 2, 3])
        #expect(try sys.mremap(a, oldLength: 8192, newLength: 4096).get() == a)
        #expect(sys.mmap(length: 100) == .failure(.invalidArgument))
        // The heap cannot grow into a mapping.
        #expect(sys.brk(moved) == sys.startBrk)
    }
}
