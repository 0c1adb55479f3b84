import Testing
import VMTypes

@testable import VMPhys

@Suite struct BootTests {
    /// The DMA zone of a PC: PFN 0 is BIOS-owned, 0x9f–0xff is a hole, the first MiB is reserved —
    /// the same spanned/present/managed as a real x86_64 machine's zoneinfo.
    @Test func pcDMAZoneMatchesARealMachine() {
        let m = machine(memory: 1 << 30)
        let dma = m.zone(.dma)
        #expect(dma.startPFN == 1)
        #expect(dma.spannedPages == 4095)
        #expect(dma.presentPages == 3998)
        #expect(dma.managedPages == 3840)
        #expect(m.checkInvariants().isEmpty)
    }

    @Test func memTotalIsLessThanRAMByTheKernelImageAndMemMap() {
        let m = machine(memory: 1 << 30)
        let ram: UInt64 = (1 << 30) / 4096
        let memmapPages = (m.presentPages * 64 + 4095) / 4096
        #expect(m.boot.memmap?.count == Int(memmapPages))
        #expect(m.boot.kernelImage == 0x1000..<0x1C00)
        #expect(m.totalRAMPages == m.presentPages - m.boot.reservedPages)
        #expect(m.totalRAMPages < ram)
        #expect(m.boot.reservedPages == 158 + 3072 + memmapPages)
        // Every managed page starts out free (or on its way there through the slab bootstrap).
        #expect(
            UInt64(m.freePages + m.pcp.reduce(0) { $0 + $1.count }) + UInt64(m.state(.nrSlabUnreclaimable))
                == m.totalRAMPages)
    }

    @Test func bootBlocksAreTheLargestAlignedOnesInAscendingOrder() {
        let m = machine(memory: 64 << 20)
        // DMA: [0x100, 0x1000) is free except nothing: orders 8 (0x100), 9 (0x200), 10 (0x400, 0x800, 0xc00).
        let dma = m.zone(.dma)
        #expect(dma.freeArea.map(\.count) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3])
        #expect(m.untouchedBootBlocks(zone: 0) == 3)
    }

    @Test func x86ZonesSplitAt16MiBAnd4GiB() {
        let m = machine(memory: 6 << 30)
        #expect(m.zone(.dma).endPFN == 4096)
        #expect(m.zone(.dma32).startPFN == 4096)
        #expect(m.zone(.dma32).endPFN == 1 << 20)
        #expect(m.zone(.normal).startPFN == 1 << 20)
        #expect(m.zone(.normal).spannedPages == 2 << 18)
        #expect(!m.zone(.movable).isPopulated)
        #expect(m.checkInvariants(deep: false).isEmpty)
    }

    @Test func i386HasHighMemAbove896MiB() {
        let m = machine(memory: 2 << 30, arch: .i386)
        #expect(m.zones.map(\.type) == [.dma, .normal, .highMem, .movable])
        #expect(m.zone(.normal).endPFN == (896 << 20) >> 12)
        #expect(m.zone(.highMem).startPFN == (896 << 20) >> 12)
        // mem_map must be direct-mapped: it sits at the top of low memory, not of RAM.
        #expect(m.boot.memmap!.upperBound == (896 << 20) >> 12)
        #expect(m.zone(.highMem).managedPages == m.zone(.highMem).presentPages)
    }

    @Test func explicitZonesAreTakenExactly() {
        let m = machine(memory: nil, zones: [(.dma, 1000), (.dma32, 5000)])
        #expect(m.zone(.dma).managedPages == 1000)
        #expect(m.zone(.dma32).managedPages == 5000)
        #expect(m.zone(.dma32).startPFN == 4096)
        #expect(m.totalRAMPages == 6000)
        #expect(m.boot.reservedPages == 0)
    }

    enum BadConfig: CaseIterable {
        case notPageMultiple, tooSmall, tooLarge, kernelImageTooBig, zoneTooLarge, zoneNotOnArch,
            zonesBeyondRAM
        case scaleFactorZero, wrongRatioCount

        var config: MachineConfig {
            var c = MachineConfig()
            switch self {
            case .notPageMultiple: c.memory = 3
            case .tooSmall: c.memory = 8 << 20
            case .tooLarge: c.memory = 2 << 40
            case .kernelImageTooBig:
                c.memory = 64 << 20
                c.kernelImage = 128 << 20
            case .zoneTooLarge: c.zoneSizes = [.init(zone: .dma, managedPages: 5000)]
            case .zoneNotOnArch: c.zoneSizes = [.init(zone: .highMem, managedPages: 5)]
            case .zonesBeyondRAM:
                c.memory = 16 << 20
                c.zoneSizes = [.init(zone: .dma32, managedPages: 5)]
            case .scaleFactorZero: c.watermarkScaleFactor = 0
            case .wrongRatioCount: c.lowmemReserveRatio = [1, 2]
            }
            return c
        }
        var setting: String {
            switch self {
            case .notPageMultiple, .tooSmall, .tooLarge, .kernelImageTooBig: return "memory"
            case .zoneTooLarge, .zoneNotOnArch, .zonesBeyondRAM: return "zones"
            case .scaleFactorZero: return "watermark-scale-factor"
            case .wrongRatioCount: return "lowmem-reserve-ratio"
            }
        }
    }

    @Test(arguments: BadConfig.allCases)
    func badConfigurationsNameTheSetting(bad: BadConfig) {
        #expect(throws: ConfigError.self) { try bad.config.validate() }
        do {
            try bad.config.validate()
        } catch {
            #expect(error.setting == bad.setting)
        }
    }

    /// A 1 TiB machine boots and allocates without committing host memory for its frame table:
    /// mem_map for 1 TiB would be 16 GiB in Linux and ~13 GiB in vmsim if it were all touched.
    @Test func oneTebibyteMachineUsesLittleHostMemory() {
        let m = machine(memory: 1 << 40)
        #expect(m.totalRAMPages > 260_000_000)
        var pages: [PFN] = []
        for order in [0, 0, 3, 10, 0] {
            if let pfn = m.allocPages(.kernel, order: order) { pages.append(pfn) }
        }
        #expect(pages.count == 5)
        let resident = m.memMap.hostResidentBytes()
        #expect(resident < 32 << 20, "frame table holds \(resident) bytes of host memory")
        #expect(m.checkInvariants(deep: false).isEmpty)
    }
}
