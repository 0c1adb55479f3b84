import Testing
import VMTypes

@testable import VMPhys

@Suite struct WatermarksTests {
    /// KERNEL-FACTS.md: a 24 GiB x86_64 machine with min_free_kbytes 67584 and
    /// watermark_scale_factor 10.
    @Test func kernelFactsTableIsReproducedExactly() {
        let m = machine(
            memory: nil, zones: [(.dma, 3840), (.dma32, 772917), (.normal, 5394266)], minFreeKbytes: 67584)
        let expected: [(ZoneType, Int, Int, Int)] = [
            (.dma, 10, 13, 16), (.dma32, 2116, 2888, 3660), (.normal, 14769, 20163, 25557),
        ]
        for (type, min, low, high) in expected {
            let zone = m.zone(type)
            #expect(zone.managedPages == [ZoneType.dma: 3840, .dma32: 772917, .normal: 5394266][type])
            #expect(zone.watermarkPages(.min) == min, "\(type) min")
            #expect(zone.watermarkPages(.low) == low, "\(type) low")
            #expect(zone.watermarkPages(.high) == high, "\(type) high")
        }
    }

    /// This machine's own /proc/zoneinfo (Linux 6.18, 2 CPUs): watermarks, promo, protection
    /// and per-CPU list sizes.
    @Test func realZoneinfoOfThisMachineKindIsReproduced() {
        let m = machine(
            memory: nil, zones: [(.dma, 3840), (.dma32, 772917), (.normal, 294912)], minFreeKbytes: 67584)
        let dma = m.zone(.dma)
        #expect(dma.watermark == [60, 75, 90, 105])
        #expect(dma.lowmemReserve == [0, 3019, 4171, 4171, 4171])
        let dma32 = m.zone(.dma32)
        #expect(dma32.watermark == [12185, 15231, 18277, 21323])
        #expect(dma32.lowmemReserve == [0, 0, 1152, 1152, 1152])
        let normal = m.zone(.normal)
        #expect(normal.watermark == [4649, 5811, 6973, 8135])
        #expect(normal.lowmemReserve == [0, 0, 0, 0, 0])
        let movable = m.zone(.movable)
        #expect(movable.watermark == [32, 32, 32, 32])
        #expect(m.zone(.device).watermark == [0, 0, 0, 0])
        // pagesets: batch 1/63/63, high 37/7615/2905, high_max 240/48307/18432; thresholds 4/24/20.
        #expect(m.pcp.map(\.batch).prefix(3) == [1, 63, 63])
        #expect(m.pcp.map(\.high).prefix(3) == [37, 7615, 2905])
        #expect(m.pcp.map(\.highMax).prefix(3) == [240, 48307, 18432])
        #expect((0..<3).map { m.statThreshold(zone: $0) } == [4, 24, 20])
    }

    @Test(
        arguments: [(0, 0), (1, 1), (15, 3), (16, 4), (17, 4), (1 << 40, 1 << 20), (16302144, 4037)]
            as [(UInt64, UInt64)])
    func integerSquareRootRoundsDown(x: UInt64, root: UInt64) {
        #expect(PhysicalMemory.intSqrt(x) == root)
    }

    @Test func defaultMinFreeKbytesFollowsTheKernelFormula() {
        let m = machine(memory: 1 << 30)
        let lowmemKbytes =
            UInt64(m.zones.filter { $0.type <= .normal }.reduce(0) { $0 + $1.managedPages }) * 4
        let expected = Int(min(max(PhysicalMemory.intSqrt(lowmemKbytes * 16), 128), 262144))
        #expect(m.minFreeKbytes == expected)
        #expect(m.minFreeKbytes == 4037)
    }

    @Test func highMemMinWatermarkIsClampedAndLowmemOnlyCountsLowZones() {
        let m = machine(memory: 4 << 30, arch: .i386)
        let high = m.zone(.highMem)
        #expect(high.managedPages > 128 * 1024)
        #expect(high.watermarkPages(.min) == 128)
        // DMA and Normal share min_free_kbytes; HighMem is not part of lowmem_pages.
        let pagesMin = m.minFreeKbytes / 4
        let lowmem = Int(m.zone(.dma).managedPages + m.zone(.normal).managedPages)
        #expect(m.zone(.normal).watermarkPages(.min) == pagesMin * Int(m.zone(.normal).managedPages) / lowmem)
        // Normal (ratio 32) protects itself from HighMem-capable allocations.
        #expect(m.zone(.normal).lowmemReserve[m.zoneIndex(of: .highMem)!] == Int(high.managedPages) / 32)
    }

    @Test func changingTheSysctlsRecomputesWatermarks() {
        let m = machine(
            memory: nil, zones: [(.dma, 3840), (.dma32, 772917), (.normal, 5394266)], minFreeKbytes: 67584)
        m.setWatermarkScaleFactor(100)
        // gap = max(min/4, managed/100)
        #expect(m.zone(.normal).watermarkPages(.low) == 14769 + 53942)
        m.setMinFreeKbytes(0)
        #expect(m.zone(.normal).watermarkPages(.min) == 0)
        m.setLowmemReserveRatio([0, 0, 0, 0, 0])
        #expect(m.zone(.dma).lowmemReserve == [0, 0, 0, 0, 0])
    }
}
