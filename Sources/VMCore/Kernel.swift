import VMPaging
import VMPhys
import VMTypes

/// The simulated kernel: one machine's physical memory and everything built on it.
///
/// The facade later layers and front ends talk to. It owns the `PhysicalMemory` of a booted
/// machine; processes, page tables, the page cache and reclaim hang off it as they are added.
public final class Kernel {
    public let phys: PhysicalMemory
    public var architecture: Architecture { self.phys.architecture }
    public var config: MachineConfig { self.phys.config }

    /// Boots a machine described by `config`; throws if the configuration cannot describe one.
    public init(config: MachineConfig) throws(ConfigError) {
        self.phys = try PhysicalMemory(config: config)
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
