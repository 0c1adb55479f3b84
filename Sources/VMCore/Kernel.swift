import VMPaging
import VMPhys
import VMTypes

/// The simulated kernel: one machine's physical memory and everything built on it.
///
/// The facade later layers and front ends talk to. It owns the `PhysicalMemory` of a booted
/// machine, the page-table arena with the kernel's own tables (`init_mm`: the direct map), and
/// the CPU's MMU and TLB.
public final class Kernel {
    public let phys: PhysicalMemory
    /// Every page table of the machine lives in this arena.
    public let pageTables: PageTableArena
    /// `init_mm.pgd`: the kernel's root table, whose upper half every address space shares.
    public let kernelRoot: PFN
    /// The CPU's MMU (CR3, TLB, walker).
    public let mmu: MMU
    public var architecture: Architecture { self.phys.architecture }
    public var config: MachineConfig { self.phys.config }

    /// Boots a machine described by `config`; throws if the configuration cannot describe one.
    public init(config: MachineConfig, tlb: TLB = TLB()) throws(ConfigError) {
        self.phys = try PhysicalMemory(config: config)
        self.pageTables = PageTableArena(phys: self.phys, geometry: config.architecture.paging)
        guard
            let root = self.pageTables.buildKernelTables(
                architecture: config.architecture, ramBytes: self.phys.ramBytes)
        else {
            throw ConfigError(setting: "memory", message: "too small to hold the kernel's page tables")
        }
        self.kernelRoot = root
        self.mmu = MMU(arena: self.pageTables, architecture: config.architecture, root: root, tlb: tlb)
    }
}

extension Kernel {
    /// Pages of block-device buffers (`nr_blockdev_pages()`); vmsim's file system keeps its
    /// metadata in the page cache, so this stays 0 until a block device caches buffers.
    public var bufferPages: Int { 0 }
    /// Swap space configured and free, in pages (0 without swap).
    public var swapTotalPages: Int { 0 }
    public var swapFreePages: Int { 0 }
    /// `vm_committed_as`: pages of accountable mappings (private writable, stacks, shmem).
    public var committedPages: Int { 0 }
}
