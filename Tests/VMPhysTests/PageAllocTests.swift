import PropertyBased
import Testing
import VMTypes

@testable import VMPhys

@Suite struct PageAllocTests {
    @Test func expandKeepsTheLowestPartAndPutsUpperHalvesOnTheLists() {
        let m = machine(memory: 64 << 20)
        let z = m.zoneIndex(of: .dma32)!
        for order in [2, 0, 5, 1] {
            let before = m.zones[z].freeArea
            // __rmqueue_smallest(): the smallest order ≥ `order` with a block; its first block.
            let source = (order...m.maxOrder).first { before[$0].count > 0 }!
            let expectedPFN = before[source].head != 0 ? UInt64(before[source].head) : nil
            guard let pfn = m.rmqueueSmallest(order: order, zone: z) else {
                Issue.record("no block")
                return
            }
            if let expectedPFN { #expect(pfn.rawValue == expectedPFN) }
            let after = m.zones[z].freeArea
            #expect(after[source].count == before[source].count - 1)
            // Every order between gained the upper half of one split, at the head of its list.
            for o in order..<source {
                #expect(after[o].count == before[o].count + 1)
                #expect(UInt64(after[o].head) == pfn.rawValue + (1 << UInt64(o)))
            }
            m.prepNewPage(pfn, order: order, gfp: .kernel)
            #expect(m.checkInvariants().isEmpty)
        }
    }

    @Test func freeingBothBuddiesMergesThem() {
        let m = machine(memory: 64 << 20)
        m.drainAllPages()
        let before = m.freeListSnapshot()
        // Allocate order-3 blocks until two of them are buddies (pfn ^ 8).
        var blocks: [PFN] = []
        var pair: (PFN, PFN)?
        while pair == nil, let pfn = m.allocPages(.kernel, order: 3) {
            if let other = blocks.first(where: { $0.rawValue == pfn.rawValue ^ 8 }) { pair = (other, pfn) }
            blocks.append(pfn)
        }
        guard let (a, b) = pair else {
            Issue.record("no buddies found")
            return
        }
        for pfn in blocks where pfn != a && pfn != b { m.freePages(pfn, order: 3) }
        m.freePages(a, order: 3)
        #expect(m.memMap.test(a, .buddy) && m.memMap.order(a) == 3, "a alone stays an order-3 block")
        m.freePages(b, order: 3)
        let merged = PFN(rawValue: a.rawValue & b.rawValue)
        #expect(!(m.memMap.test(merged, .buddy) && m.memMap.order(merged) == 3), "the pair merged upwards")
        // … all the way back to the boot-time lists.
        #expect(m.freeListSnapshot() == before)
        #expect(m.checkInvariants().isEmpty)
    }

    /// `buddy_merge_likely()`: a block whose buddy is busy goes to the tail of its list when the
    /// buddy of its parent (one order up) is free — a merge is likely soon, so keep it unallocated.
    @Test func mergedBlockGoesToTheTailWhenItsParentsBuddyIsFree() {
        let m = machine(memory: nil, zones: [(.dma32, 4096)], cpus: 1)
        let z = m.zoneIndex(of: .dma32)!
        let base = m.takeFirstFree(order: 10, zone: z)!.rawValue  // a whole untouched 4 MiB block
        func free(_ offset: UInt64, order: Int) {
            m.freeOnePage(PFN(rawValue: base + offset), order: order, zone: z, toTail: false)
        }
        free(4, order: 2)  // parent's buddy (order 3 at +8) busy → head
        #expect(UInt64(m.zones[z].freeArea[2].head) == base + 4)
        free(16, order: 1)  // parent's buddy (order 2 at +20) busy → head
        #expect(UInt64(m.zones[z].freeArea[1].head) == base + 16)
        free(2, order: 1)  // buddy +0 busy; parent's buddy (order 2 at +4) free → tail
        #expect(UInt64(m.zones[z].freeArea[1].tail) == base + 2)
        #expect(UInt64(m.zones[z].freeArea[1].head) == base + 16)
        free(24, order: 1)  // parent's buddy (order 2 at +28) busy → head
        #expect(UInt64(m.zones[z].freeArea[1].head) == base + 24)
        free(0, order: 1)  // now merges with +2 (order 1) and +4 (order 2) into an order-3 block
        #expect(m.memMap.test(PFN(rawValue: base), .buddy) && m.memMap.order(PFN(rawValue: base)) == 3)
        #expect(!m.memMap.test(PFN(rawValue: base + 2), .buddy))
    }

    @Test func orderZeroFreesGoToThePerCPUListNotTheBuddyLists() {
        let m = machine(memory: 64 << 20)
        let z = m.zoneIndex(of: .dma32)!
        let pfn = m.allocPages(.kernel, order: 0)!
        let free = m.zones[z].freePages
        let pcp = m.pcp[z].count
        m.freePages(pfn, order: 0)
        #expect(m.zones[z].freePages == free, "pages on per-CPU lists are not in NR_FREE_PAGES")
        #expect(m.pcp[z].count == pcp + 1)
        #expect(UInt64(m.pcp[z].head) == pfn.rawValue)
        // The next order-0 allocation reuses it (LIFO, cache-hot).
        #expect(m.allocPages(.kernel, order: 0) == pfn)
        m.drainAllPages()
        #expect(m.pcp[z].count == 0)
        #expect(m.checkInvariants().isEmpty)
    }

    @Test func perCPUListIsTrimmedByABatchWhenItReachesHigh() {
        let m = machine(memory: 64 << 20)
        let z = m.zoneIndex(of: .dma32)!
        let high = m.pcp[z].high
        let batch = m.pcp[z].batch
        var pages: [PFN] = []
        for _ in 0..<(high + batch) { pages.append(m.allocPages(.kernel, order: 0)!) }
        m.drainAllPages()
        for pfn in pages { m.freePages(pfn, order: 0) }
        #expect(m.pcp[z].count < high)
        #expect(m.pcp[z].count >= high - batch)
        #expect(m.checkInvariants().isEmpty)
    }

    @Test func zonelistFallsBackFromNormalToDMA32ToDMA() {
        let m = machine(memory: nil, zones: [(.dma, 1024), (.dma32, 2048), (.normal, 2048)])
        var zonesUsed: [ZoneType] = []
        var pages: [PFN] = []
        while let pfn = m.allocPages(.kernel, order: 0) {
            pages.append(pfn)
            let type = m.zones[m.zoneIndex(of: pfn)!].type
            if zonesUsed.last != type { zonesUsed.append(type) }
        }
        // Fast path (low watermark) walks Normal → DMA32 → DMA; once every zone is below low,
        // the slow path walks them again against the min watermark.
        #expect(zonesUsed == [.normal, .dma32, .dma, .normal, .dma32, .dma])
        for type in [ZoneType.normal, .dma32, .dma] {
            let zone = m.zone(type)
            #expect(
                zone.freePages <= zone.watermarkPages(.min) + zone.lowmemReserve[m.zoneIndex(of: .normal)!]
                    + 1)
        }
        // Lowmem reserves keep part of DMA32 and DMA away from a Normal-capable allocation.
        let dma32 = m.zone(.dma32)
        #expect(dma32.freePages >= dma32.lowmemReserve[m.zoneIndex(of: .normal)!])
        // … which a DMA32 allocation may still use.
        #expect(m.allocPages([.directReclaim, .kswapdReclaim, .io, .fs, .dma32], order: 0) != nil)
        #expect(m.allocFailures == 1)
        #expect(m.checkInvariants().isEmpty)
    }

    @Test func dmaAllocationsComeOnlyFromTheDMAZone() {
        let m = machine(memory: 64 << 20)
        for _ in 0..<50 {
            let pfn = m.allocPages([.directReclaim, .dma], order: 0)!
            #expect(pfn.rawValue < 4096)
        }
        #expect(m.zoneIndex(of: m.allocPages(.kernel, order: 0)!) == m.zoneIndex(of: .dma32))
    }

    @Test func atomicAllocationsReachBelowTheMinWatermark() {
        let m = machine(memory: nil, zones: [(.dma32, 8192)], minFreeKbytes: 4096)
        let z = m.zoneIndex(of: .dma32)!
        while m.allocPages([.directReclaim, .kswapdReclaim, .io, .fs, .noWarn], order: 0) != nil {}
        let stopped = m.zones[z].freePages
        #expect(stopped <= m.zones[z].watermarkPages(.min) + 1)
        var atomic = 0
        while m.allocPages(.atomic, order: 0) != nil { atomic += 1 }
        #expect(atomic > 0)
        // GFP_ATOMIC may use half, then a quarter more, of the min reserve: it stops near 3/8 min.
        let min = m.zones[z].watermarkPages(.min)
        let floor = min - min / 2 - (min - min / 2) / 4
        #expect(m.zones[z].freePages <= floor + 1 && m.zones[z].freePages >= floor - m.pcp[z].batch)
        #expect(m.checkInvariants().isEmpty)
    }

    @Test func freeingMemoryThatIsStillMappedStopsTheSimulator() async {
        await #expect(processExitsWith: .failure) {
            let m = machine(memory: 64 << 20)
            let pfn = m.allocPages(.kernel, order: 0)!
            m.memMap.incMapCount(pfn)
            m.freePages(pfn, order: 0)
        }
    }

    /// Random alloc/free sequences of mixed orders conserve frames, never hand out overlapping
    /// blocks, keep the structures consistent after every step, and merge back to the boot-time
    /// free lists when everything is freed.
    @Test func randomAllocFreeConservesFramesAndMergesBack() async {
        await propertyCheck(count: 40, input: Gen.int(in: 0...1_000_000).array(of: 1...120)) { ops in
            let m = machine(memory: 32 << 20, cpus: 1)
            m.drainAllPages()
            let boot = m.freeListSnapshot()
            let bootFree = m.freePages
            var live: [(PFN, Int)] = []
            var owned = Set<UInt64>()
            for op in ops {
                if op % 3 != 0 || live.isEmpty {
                    let order = [0, 0, 0, 1, 2, 3, 4, 5, 9, 10][op % 10]
                    guard let pfn = m.allocPages(.kernel, order: order) else { continue }
                    for i in 0..<(UInt64(1) << UInt64(order)) {
                        let inserted = owned.insert(pfn.rawValue + i).inserted
                        #expect(inserted, "frame \(pfn.rawValue + i) handed out twice")
                    }
                    live.append((pfn, order))
                } else {
                    let (pfn, order) = live.remove(at: (op / 3) % live.count)
                    for i in 0..<(UInt64(1) << UInt64(order)) { owned.remove(pfn.rawValue + i) }
                    m.freePages(pfn, order: order)
                }
                let problems = m.checkInvariants()
                #expect(problems.isEmpty, "\(problems.prefix(3))")
                if !problems.isEmpty { return }
            }
            for (pfn, order) in live { m.freePages(pfn, order: order) }
            m.drainAllPages()
            #expect(m.freePages == bootFree)
            #expect(m.freeListSnapshot() == boot)
        }
    }
}
