import PropertyBased
import Testing
import VMTypes

@testable import VMPhys

@Suite struct SlabTests {
    /// Slot size → (objects per slab, pages per slab) from a real Linux 6.18 x86_64 /proc/slabinfo
    /// on a 2-CPU machine; SLUB's `calculate_order()` must give the same geometry.
    @Test(arguments: [
        ("task_struct", 5888, 5, 8), ("mm_struct", 1600, 20, 8), ("vm_area_struct", 192, 21, 1),
        ("inode_cache", 624, 13, 2), ("dentry", 192, 21, 1), ("anon_vma", 104, 39, 1),
        ("anon_vma_chain", 64, 64, 1), ("bio-312", 320, 12, 1), ("btrfs_ordered_extent", 416, 19, 2),
        ("kmalloc-8k", 8192, 4, 8), ("kmalloc-4k", 4096, 8, 8), ("kmalloc-1k", 1024, 16, 4),
        ("kmalloc-512", 512, 16, 2), ("kmalloc-96", 96, 42, 1), ("kmalloc-8", 8, 512, 1),
    ])
    func slabGeometryMatchesARealKernel(name: String, size: Int, objects: Int, pages: Int) {
        let m = machine()
        let id = m.kmemCacheCreate(name + "-test", objectSize: size, size: size)
        let cache = m.slabCache(id)
        #expect(cache.objectsPerSlab == objects)
        #expect(1 << cache.order == pages)
    }

    @Test func kmallocCachesExistInTheKernelsOrder() {
        let m = machine()
        let names = m.slab.caches.map(\.name)
        #expect(
            names == [
                "kmem_cache", "kmem_cache_node", "kmalloc-96", "kmalloc-192", "kmalloc-8", "kmalloc-16",
                "kmalloc-32",
                "kmalloc-64", "kmalloc-128", "kmalloc-256", "kmalloc-512", "kmalloc-1k", "kmalloc-2k",
                "kmalloc-4k",
                "kmalloc-8k",
            ])
        // Each cache is described by a kmem_cache object, and a kmem_cache_node per node.
        #expect(m.slabCache(m.slabCache(named: "kmem_cache")!).activeObjects == names.count)
        #expect(m.slabCache(m.slabCache(named: "kmem_cache_node")!).activeObjects == names.count)
    }

    @Test(arguments: [
        (1, "kmalloc-8"), (8, "kmalloc-8"), (9, "kmalloc-16"), (65, "kmalloc-96"), (97, "kmalloc-128"),
        (129, "kmalloc-192"), (193, "kmalloc-256"), (4097, "kmalloc-8k"), (8192, "kmalloc-8k"),
    ])
    func kmallocPicksTheSmallestSizeClass(size: Int, cache: String) {
        let m = machine()
        #expect(m.slabCache(m.kmallocCache(for: size)!).name == cache)
    }

    @Test func largeKmallocComesFromTheBuddyAllocator() {
        let m = machine()
        let before = m.state(.nrSlabUnreclaimable)
        let va = m.kmalloc(9000)!
        #expect(m.kmallocCache(for: 9000) == nil)
        #expect(m.state(.nrSlabUnreclaimable) == before + 4)  // order 2, accounted as unreclaimable slab
        m.kfree(va)
        #expect(m.state(.nrSlabUnreclaimable) == before)
        #expect(m.checkInvariants().isEmpty)
    }

    @Test func emptySlabsBeyondMinPartialGoBackAndShrinkReturnsTheRest() {
        let m = machine()
        let id = m.kmemCacheCreate("test_obj", objectSize: 512)
        let perSlab = m.slabCache(id).objectsPerSlab
        let minPartial = m.slabCache(id).minPartial
        let freeBefore = m.freePages + m.pcp.reduce(0) { $0 + $1.count }
        var objects: [UInt64] = []
        for _ in 0..<(perSlab * 12) { objects.append(m.kmemCacheAlloc(id)!) }
        #expect(m.slabCache(id).slabCount == 12)
        #expect(m.slabCache(id).full.count == 12)
        for va in objects { m.kmemCacheFree(id, va) }
        // SLUB keeps min_partial empty slabs around; the rest went back to the buddy allocator.
        #expect(m.slabCache(id).slabCount == minPartial)
        #expect(m.slabCache(id).activeObjects == 0)
        #expect(m.kmemCacheShrink(id) == minPartial * (1 << m.slabCache(id).order))
        #expect(m.slabCache(id).slabCount == 0)
        #expect(m.freePages + m.pcp.reduce(0) { $0 + $1.count } == freeBefore)
        #expect(m.checkInvariants().isEmpty)
    }

    @Test func doubleFreeStopsTheSimulator() async {
        await #expect(processExitsWith: .failure) {
            let m = machine()
            let va = m.kmalloc(64)!
            m.kfree(va)
            m.kfree(va)
        }
    }

    /// Random allocations and frees across caches: objects never overlap, are aligned to their
    /// slot size inside their slab, counters stay consistent, and freeing everything then
    /// shrinking returns every page.
    @Test func slabObjectsNeverOverlapAndPagesComeBack() async {
        await propertyCheck(count: 30, input: Gen.int(in: 0...1_000_000).array(of: 1...300)) { ops in
            let m = machine(cpus: 1)
            let caches = [
                m.kmemCacheCreate("a", objectSize: 24), m.kmemCacheCreate("b", objectSize: 700),
                m.kmemCacheCreate("c", objectSize: 3000), m.kmallocCache(for: 96)!,
            ]
            let freeBefore = m.freePages + m.pcp.reduce(0) { $0 + $1.count }
            var live: [(SlabCacheID, UInt64)] = []
            var ranges: [UInt64: UInt64] = [:]
            for op in ops {
                if op % 4 != 0 || live.isEmpty {
                    let id = caches[op % caches.count]
                    let va = m.kmemCacheAlloc(id)!
                    let size = UInt64(m.slabCache(id).size)
                    let overlapping = ranges.filter { va + size > $0.key && va < $0.value }
                    #expect(overlapping.isEmpty, "object \(hex(va)) overlaps another")
                    ranges[va] = va + size
                    live.append((id, va))
                } else {
                    let (id, va) = live.remove(at: (op / 4) % live.count)
                    ranges.removeValue(forKey: va)
                    m.kmemCacheFree(id, va)
                }
            }
            let problems = m.checkInvariants()
            #expect(problems.isEmpty, "\(problems.prefix(3))")
            for (id, va) in live { m.kmemCacheFree(id, va) }
            for id in caches { m.kmemCacheShrink(id) }
            #expect(m.freePages + m.pcp.reduce(0) { $0 + $1.count } == freeBefore)
        }
    }
}
