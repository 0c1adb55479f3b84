import VMPaging
import VMPhys
import VMTypes

/// Slab caches for the kernel objects memory management creates, with the object sizes of a
/// Linux 6.18 x86-64 kernel's `/proc/slabinfo`.
public struct KernelCaches: Sendable {
    public let vmAreaStruct: SlabCacheID
    public let mmStruct: SlabCacheID
    public let taskStruct: SlabCacheID
    public let anonVMA: SlabCacheID
    public let anonVMAChain: SlabCacheID
    public let dentry: SlabCacheID
    public let inodeCache: SlabCacheID
    public let shmemInodeCache: SlabCacheID
    public let filp: SlabCacheID
    public let radixTreeNode: SlabCacheID
}

/// Something that happened inside the kernel, for `--trace` and the visualiser.
public enum KernelEvent: Sendable {
    /// A page fault handled for `pid` at `address`: the frame mapped there before (nil: none,
    /// or not present) and after — a COW shows the old frame and its copy.
    case fault(pid: Int, address: UInt64, access: Access, kind: FaultKind, major: Bool, old: PFN?, new: PFN?)
    /// A fault signal delivered to `pid`: fatal, or `caught` by its handler (which returns past
    /// the access).
    case signal(pid: Int, SignalInfo, caught: Bool)
    case fork(parent: Int, child: Int)
    case exec(pid: Int, path: String)
    case exit(pid: Int, reason: ExitReason)
    case reap(pid: Int)
    case mmap(pid: Int, start: UInt64, end: UInt64, flags: VMFlags)
    case munmap(pid: Int, start: UInt64, end: UInt64)
    case log(String)
    /// A disk request submitted at `time`, completing at `completes`.
    case blockIO(write: Bool, block: UInt64, pages: UInt64, time: UInt64, completes: UInt64)
    /// A readahead window read for `path` (synchronous: a reader waits for it).
    case readahead(path: String, start: UInt64, pages: UInt64, async: Bool)
    /// Writeback of `pages` pages of `path` started, and why.
    case writeback(path: String, pages: Int, reason: String)
    /// A task slept `nanoseconds` waiting for I/O.
    case ioWait(pid: Int, nanoseconds: UInt64)
    /// kswapd or a task in direct reclaim (`pid`) scanned and reclaimed pages.
    case reclaim(pid: Int?, scanned: Int, reclaimed: Int)
    /// The OOM killer chose a victim.
    case oomKill(pid: Int, name: String, points: Int)
}

/// What a handled fault did (the handler that ran).
public enum FaultKind: String, Sendable {
    case anonymous = "do_anonymous_page: new zeroed page"
    case zeroPage = "do_anonymous_page: map the zero page"
    case hugeAnonymous = "do_huge_pmd_anonymous_page: new 2 MiB page"
    case hugeZeroPage = "do_huge_pmd_anonymous_page: map the huge zero page"
    case hugeZeroWrite = "do_huge_zero_wp_pmd: new 2 MiB page"
    case hugeReuse = "do_huge_pmd_wp_page: reuse"
    case copyOnWrite = "do_wp_page: copy"
    case reuse = "do_wp_page: reuse (wp_page_reuse)"
    case sharedWrite = "do_wp_page: shared, make writable"
    case readFault = "do_read_fault"
    case cowFault = "do_cow_fault"
    case sharedFault = "do_shared_fault"
    case swapIn = "do_swap_page"
    case spurious = "spurious (entry already updated)"
    case stackGrowth = "expand_stack"
    case sigsegv = "SIGSEGV"
    case sigbus = "SIGBUS"
    case oom = "VM_FAULT_OOM"
}

/// The simulated kernel: one machine's physical memory and everything built on it.
///
/// The facade later layers and front ends talk to. It owns the `PhysicalMemory` of a booted
/// machine, the page-table arena with the kernel's own tables (`init_mm`: the direct map), the
/// CPU's MMU and TLB, the tasks and their address spaces, files and their page cache, and the
/// reverse-map structures. The mechanisms live in extensions named after the kernel files they
/// model: Memory.swift and Fault.swift (mm/memory.c), Mmap.swift (mm/mmap.c),
/// VMASplitMerge.swift (mm/vma.c), Mprotect.swift, Madvise.swift, Mlock.swift, Fork.swift
/// (kernel/fork.c), Exec.swift (fs/exec.c), Exit.swift (kernel/exit.c), Rmap.swift (mm/rmap.c),
/// PageCache.swift (mm/filemap.c), Swapfile.swift, SwapState.swift, PageIO.swift (mm/swapfile.c,
/// mm/swap_state.c, mm/page_io.c), Shmem.swift (mm/shmem.c), Vmscan.swift and Kswapd.swift
/// (mm/vmscan.c), Dcache.swift and Inode.swift (fs/dcache.c, fs/inode.c).
public final class Kernel {
    public let phys: PhysicalMemory
    /// Every page table of the machine lives in this arena.
    public let pageTables: PageTableArena
    /// The leaf (PTE) level of the page tables, `levels - 1`: read on every fault, so kept as a
    /// number rather than derived from the architecture each time.
    let leafLevel: Int
    /// `init_mm.pgd`: the kernel's root table, whose upper half every address space shares.
    public let kernelRoot: PFN
    /// The CPU's MMU (CR3, TLB, walker).
    public let mmu: MMU
    public var architecture: Architecture { self.phys.architecture }
    public var config: MachineConfig { self.phys.config }
    public let caches: KernelCaches
    /// `ZERO_PAGE(0)`: the shared page of zeros mapped by read faults on anonymous memory.
    public let zeroPFN: PFN

    /// Tasks by pid.
    public internal(set) var tasks: [Int: Task] = [:]
    var nextPID = 1
    /// Address spaces by id.
    public internal(set) var addressSpaces: [Int: AddressSpace] = [:]
    var nextMMID = 1
    /// Files (inodes) by id.
    public internal(set) var files: [SimFile] = []
    /// anon_vmas by id (each counts the pages filed under it).
    public internal(set) var anonVMAs: [AnonVMA?] = []
    var freeAnonVMAIDs: [AnonVMAID] = []

    /// The LRU lists and reclaim costs: one lruvec per memory cgroup (index = the cgroup's
    /// id); without cgroups only the root's, which is the node's.
    public internal(set) var lruvecs: [LRUVec] = [LRUVec()]
    /// The root cgroup's lruvec (the node's, on a machine without cgroups).
    public var lruvec: LRUVec { self.lruvecs[0] }
    /// The memory controller: cgroups, and the cgroup each page is charged to.
    public let memcg = MemcgState()

    /// The task running on the CPU.
    public internal(set) var current: Task?
    /// The address space whose tables CR3 holds (kernel threads borrow the previous one).
    public internal(set) var loadedMM: AddressSpace?
    /// `cpu_tlbstate.ctxs[]`: the six dynamic ASIDs of the CPU — which mm holds each and the
    /// `tlb_gen` its TLB entries are current with.
    var asids: [(mm: Int, tlbGen: UInt64)?] = Array(repeating: nil, count: 6)
    var nextASID = 0

    /// `vm.max_map_count`.
    public var maxMapCount = 65530
    /// `stack_guard_gap` in bytes (256 pages).
    public var stackGuardGap: UInt64 = 256 << 12
    /// `fault_around_bytes` (64 KiB: 16 pages).
    public var faultAroundBytes: UInt64 = 65536
    /// `/sys/kernel/mm/transparent_hugepage/` (HugeMemory.swift).
    public var thp = THPSettings()
    /// The simulated clock and the kernel's timers.
    public let clock = Clock()
    /// Simulated time in nanoseconds.
    public var now: UInt64 { self.clock.now }
    /// The block layer: the disk and the requests in flight.
    public let block: BlockLayer
    /// The file system and its caches.
    public let vfs: VFS
    /// SysV shared-memory segment ids.
    public let shm = ShmIDs()
    /// `/proc/sys/vm` settings.
    public internal(set) var sysctl = VMSysctl()
    /// Swap areas and the swap cache.
    public let swap = SwapState()
    /// kswapd, reclaim costs and the OOM killer's pending kills.
    public let reclaim = ReclaimState()
    /// Receives every `KernelEvent` (set it to trace; nil costs nothing).
    public var eventSink: ((KernelEvent) -> Void)?

    /// Boots a machine described by `config`; throws if the configuration cannot describe one.
    /// Boot builds the kernel's page tables, creates the slab caches for kernel objects, and
    /// starts `init` (pid 1) and `kthreadd` (pid 2).
    public init(config: MachineConfig, tlb: TLB = TLB()) throws(ConfigError) {
        self.phys = try PhysicalMemory(config: config)
        self.pageTables = PageTableArena(phys: self.phys, geometry: config.architecture.paging)
        self.leafLevel = config.architecture.paging.levels - 1
        guard
            let root = self.pageTables.buildKernelTables(
                architecture: config.architecture, ramBytes: self.phys.ramBytes)
        else {
            throw ConfigError(setting: "memory", message: "too small to hold the kernel's page tables")
        }
        self.kernelRoot = root
        self.mmu = MMU(arena: self.pageTables, architecture: config.architecture, root: root, tlb: tlb)
        let phys = self.phys
        self.caches = KernelCaches(
            vmAreaStruct: phys.kmemCacheCreate("vm_area_struct", objectSize: 184, size: 192),
            mmStruct: phys.kmemCacheCreate("mm_struct", objectSize: 1536, size: 1600),
            taskStruct: phys.kmemCacheCreate("task_struct", objectSize: 5888, size: 5888),
            anonVMA: phys.kmemCacheCreate("anon_vma", objectSize: 104, size: 104),
            anonVMAChain: phys.kmemCacheCreate("anon_vma_chain", objectSize: 64, size: 64),
            dentry: phys.kmemCacheCreate("dentry", objectSize: 192, size: 192, reclaimable: true),
            inodeCache: phys.kmemCacheCreate("inode_cache", objectSize: 624, size: 624, reclaimable: true),
            shmemInodeCache: phys.kmemCacheCreate("shmem_inode_cache", objectSize: 752, size: 752),
            filp: phys.kmemCacheCreate("filp", objectSize: 192, size: 192),
            radixTreeNode: phys.kmemCacheCreate(
                "radix_tree_node", objectSize: 576, size: 584, reclaimable: true))
        // A 256 GiB disk under the root file system.
        let disk = BlockDevice(kind: config.disk, capacityBlocks: (256 << 30) >> UInt64(config.pageShift))
        self.block = BlockLayer(disk: disk)
        self.vfs = VFS(disk: disk)
        // empty_zero_page lives in the kernel image's .bss; with explicit zones (no image) it is
        // an ordinary page allocated at boot and never freed.
        if let image = phys.boot.kernelImage {
            self.zeroPFN = PFN(rawValue: image.upperBound - 1)
        } else {
            guard let pfn = phys.allocPages([.directReclaim, .zero], order: 0) else {
                throw ConfigError(setting: "zones", message: "no room for the zero page")
            }
            self.zeroPFN = pfn
        }
        phys.memMap.insertFlags(self.zeroPFN, .zeroPage)
        phys.memMap.setContent(self.zeroPFN, 0)
        self.reclaim.lruGen = config.lruGen
        self.thp.enabled = config.thp
        self.thp.defrag = config.thpDefrag
        self.pageTables.zeroPagePFN = self.zeroPFN
        self.mountRoot()
        guard self.bootTasks() else {
            throw ConfigError(setting: "memory", message: "too small to start init")
        }
        self.pageTables.onPMDLeafGone = { [unowned self] pmd, split in self.pmdLeafGone(pmd, split: split) }
        // From now on an allocation that runs short wakes kswapd, reclaims, or kills.
        phys.reclaimer = self
        if config.periodicKswapd { self.setKswapdMode(.periodic) }
        if config.swap > 0 {
            let device = "/dev/" + config.disk.deviceName + (config.disk == .nvme ? "p2" : "2")
            do { try self.swapon(device, size: config.swap, kind: .partition) } catch {
                throw ConfigError(setting: "swap", message: error.description)
            }
        }
    }

    /// Emits an event if anyone listens.
    /// Whether fault events carry the frames before and after (two page-table lookups per
    /// fault): only a trace or an event log shows them, so a narrated run does not pay for them.
    public var eventsCarryFrames = false

    @inline(__always) func emit(_ event: @autoclosure () -> KernelEvent) {
        if let sink = self.eventSink { sink(event()) }
    }

    /// Appends a message to the kernel log (dmesg) at the current simulated time.
    public func printk(_ text: String) {
        self.phys.printk(text)
        self.emit(.log(text))
    }

    /// Live tasks in pid order.
    public var taskList: [Task] { self.tasks.keys.sorted().map { self.tasks[$0]! } }

    /// The live task named `name` with the highest pid, if any.
    public func task(named name: String) -> Task? {
        self.taskList.last { $0.name == name && $0.state != .dead }
    }

    // MARK: Context switches and TLB coherence

    /// `switch_mm_irqs_off()`: runs `task`; if its address space differs from the loaded one,
    /// loads CR3 with the mm's root and an ASID. An mm keeps its ASID (and its TLB entries)
    /// while it has one; a mm whose PTEs changed while it was not loaded has its ASID flushed
    /// (`tlb_gen` behind), and a mm that needs a new ASID takes the next of the six round-robin
    /// and flushes it (`choose_new_asid()`).
    public func switchTo(_ task: Task) {
        self.current = task
        guard let mm = task.mm, mm !== self.loadedMM else { return }
        if let slot = self.asids.firstIndex(where: { $0?.mm == mm.id }) {
            let flush = self.asids[slot]!.tlbGen != mm.tlbGen
            self.asids[slot] = (mm.id, mm.tlbGen)
            self.mmu.loadCR3(mm.pgd, pcid: UInt64(slot + 1), flush: flush)
        } else {
            let slot = self.nextASID
            self.nextASID = (self.nextASID + 1) % self.asids.count
            self.asids[slot] = (mm.id, mm.tlbGen)
            self.mmu.loadCR3(mm.pgd, pcid: UInt64(slot + 1), flush: true)
        }
        self.loadedMM = mm
    }

    /// `flush_tlb_mm_range()`: after PTEs of `mm` in `range` changed. The loaded mm is flushed now
    /// (`invlpg` per page, or the whole PCID for large ranges); any other mm gets a newer
    /// `tlb_gen`, so its stale entries go when it is next switched to.
    func flushTLB(_ mm: AddressSpace, range: Range<UInt64>) {
        mm.tlbGen &+= 1
        if mm === self.loadedMM {
            self.mmu.flushRange(range)
            if let slot = self.asids.firstIndex(where: { $0?.mm == mm.id }) {
                self.asids[slot] = (mm.id, mm.tlbGen)
            }
        }
    }

    /// Drops the ASID of an mm that is going away.
    func forgetASID(_ mm: AddressSpace) {
        if let slot = self.asids.firstIndex(where: { $0?.mm == mm.id }) {
            self.mmu.tlb.flushPCID(UInt64(slot + 1))
            self.asids[slot] = nil
        }
        if self.loadedMM === mm {
            self.loadedMM = nil
            self.mmu.loadCR3(self.kernelRoot, pcid: 0, flush: false)
        }
    }
}

extension Kernel {
    /// Pages of block-device buffers (`nr_blockdev_pages()`): the file system's directory and
    /// inode-table blocks cached through the block device.
    public var bufferPages: Int { self.file(self.vfs.blockDevice).cachedPages }
    /// `vm_committed_as`: pages of accountable mappings (private writable, stacks, shmem).
    public var committedPages: Int { self.addressSpaces.values.reduce(0) { $0 + $1.committedPages } }
}

extension Kernel {
    /// `reset counters`: zeroes vmstat events, every task's fault counters and block-I/O delay,
    /// the TLB's counters and the disk's statistics.
    public func resetCounters() {
        self.phys.resetEvents()
        for task in self.tasks.values {
            task.minorFaults = 0
            task.majorFaults = 0
            task.childMinorFaults = 0
            task.childMajorFaults = 0
            task.blkioDelay = 0
        }
        self.mmu.tlb.resetStats()
        self.vfs.disk.resetStats()
    }
}
