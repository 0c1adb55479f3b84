import VMPhys
import VMTypes

@testable import VMPaging

/// A booted machine with an arena and an empty user address space (root shares the kernel half).
struct PagingFixture {
    let phys: PhysicalMemory
    let arena: PageTableArena
    let kernelRoot: PFN
    let root: PFN
    let mmu: MMU
    var tables = 0

    init(
        arch: Architecture = .x86_64, memory: UInt64 = 64 << 20, tlb: TLB = TLB(),
        features: CPUFeatures? = nil
    ) {
        var config = MachineConfig()
        config.architecture = arch
        config.memory = memory
        do { self.phys = try PhysicalMemory(config: config) } catch { fatalError("boot: \(error)") }
        self.arena = PageTableArena(phys: self.phys, geometry: arch.paging)
        self.kernelRoot = self.arena.buildKernelTables(architecture: arch, ramBytes: self.phys.ramBytes)!
        var t = 0
        self.root = self.arena.allocRoot(
            sharingKernelHalfOf: self.kernelRoot, userTop: arch.userTop, tables: &t)!
        self.tables = t
        self.mmu = MMU(arena: self.arena, architecture: arch, root: self.root, tlb: tlb, features: features)
    }

    /// Maps user page `va` to a fresh frame with `flags` (present and user implied).
    mutating func map(_ va: UInt64, _ flags: PTEFlags = [.writable]) -> PFN {
        let pfn = self.phys.allocPages(.highUserMovable, order: 0)!
        self.arena.setPTE(
            root: self.root, va: va, PTE(pfn: pfn, flags: flags.union([.present, .user])),
            tables: &self.tables)
        return pfn
    }
}
