import VMTypes

/// What boot reserved and where, for the boot summary and reports.
public struct BootLayout: Sendable {
    /// RAM ranges the firmware reported (`memblock.memory`), in PFNs.
    public var memory: [Range<UInt64>]
    /// The kernel image (text, data, bss) in PFNs, if reserved.
    public var kernelImage: Range<UInt64>?
    /// `mem_map`: 64 bytes of `struct page` per present frame, allocated top-down.
    public var memmap: Range<UInt64>?
    /// The first MiB, reserved on every x86 boot (BIOS data, real-mode trampoline).
    public var lowReserve: Range<UInt64>?
    /// Every frame reserved at boot.
    public var reservedPages: UInt64
}

/// Something that can free memory when the allocator runs short: kswapd, direct reclaim and
/// the OOM killer. Installed by the core layer; without one, allocations just fail.
public protocol ReclaimDelegate: AnyObject {
    /// `wakeup_kswapd()`: an allocation found `zone` below its low watermark.
    func wakeKswapd(zone: Int, order: Int, gfp: GFP)
    /// `__alloc_pages_direct_reclaim()`: try to free at least `1 << order` pages; returns the
    /// number of pages reclaimed.
    func directReclaim(gfp: GFP, order: Int, highestZone: Int) -> Int
    /// `__alloc_pages_may_oom()`: returns true if a task was killed (memory will come back).
    func outOfMemory(gfp: GFP, order: Int) -> Bool
    /// `zone_reclaimable_pages()`: the pages on zone `zone`'s LRU lists reclaim could still
    /// free — the file lists, and the anonymous ones while swap has room.
    func reclaimablePages(zone: Int) -> Int
}

/// A booted machine's physical memory: frame table, zones, buddy allocator, slab and vmalloc.
///
/// Models one node (`pg_data_t`) with its zones, as set up by `setup_arch()`,
/// `free_area_init()` and `memblock_free_all()` (mm/mm_init.c, mm/memblock.c) and then managed
/// by mm/page_alloc.c, mm/slub.c and mm/vmalloc.c. The mechanisms live in extensions, one file
/// each: PageAlloc.swift, Watermarks.swift, Slab.swift, Vmalloc.swift.
public final class PhysicalMemory {
    public let config: MachineConfig
    public let architecture: Architecture
    public let pageShift: Int
    public let pageSize: UInt64
    /// `MAX_PAGE_ORDER`: the largest buddy block is `1 << maxOrder` pages (4 MiB).
    public let maxOrder = 10
    /// `pageblock_order`: blocks at least this large count in `nr_free_pages_blocks`.
    public let pageblockOrder = 9
    /// `PAGE_ALLOC_COSTLY_ORDER`.
    public let costlyOrder = 3
    /// RAM size in bytes and one past the highest PFN.
    public let ramBytes: UInt64
    public let maxPFN: UInt64
    public let memMap: MemMap
    /// The zones in index order, stored out of line so the allocator's fast path reads and
    /// writes them in place: no copy of a `Zone`, no exclusivity bookkeeping.
    @usableFromInline let zoneStorage: UnsafeMutablePointer<Zone>
    public let zoneCount: Int
    /// A copy of the zones, for reports.
    /// Copies of every zone (for reports; loops read `zone(_:)`, which copies one).
    public var zones: [Zone] { Array(UnsafeBufferPointer(start: self.zoneStorage, count: self.zoneCount)) }
    /// Zone `z` (`pgdat->node_zones[z]`), without building the whole array.
    @inlinable public func zone(_ z: Int) -> Zone { self.zoneStorage[z] }
    /// Whether any populated zone is below its low watermark (the periodic kswapd's test).
    public var anyZoneBelowLow: Bool {
        (0..<self.zoneCount).contains {
            self.zoneStorage[$0].managedPages > 0
                && self.zoneStorage[$0].freePages < self.zoneStorage[$0].lowWatermark
        }
    }
    /// Zone index by `ZoneType.rawValue` (nil where the layout has no such zone).
    let zoneIndexByType: [Int?]
    public let boot: BootLayout
    /// Per-node counters (`node_stat_item`), indexed by `NodeStatItem`.
    public var nodeStats: [Int] {
        Array(UnsafeBufferPointer(start: self.nodeStatStorage, count: NodeStatItem.allCases.count))
    }
    @usableFromInline let nodeStatStorage: UnsafeMutablePointer<Int>
    /// Event counters (`vm_event_item`), indexed by `VMEvent`.
    public var events: [UInt64] {
        Array(UnsafeBufferPointer(start: self.eventStorage, count: VMEvent.allCases.count))
    }
    @usableFromInline let eventStorage: UnsafeMutablePointer<UInt64>
    /// `vm.min_free_kbytes`, `vm.watermark_scale_factor`, `vm.lowmem_reserve_ratio`.
    public internal(set) var minFreeKbytes: Int
    public internal(set) var watermarkScaleFactor: Int
    public internal(set) var lowmemReserveRatio: [Int]
    /// `totalreserve_pages`: pages MemAvailable treats as unusable (high watermarks + reserves).
    public internal(set) var totalReservePages: Int = 0
    /// Per-CPU page lists of CPU 0, one per zone (`zone->per_cpu_pageset`).
    @usableFromInline let pcpStorage: UnsafeMutablePointer<PerCPUPages>
    /// A copy of the per-CPU lists' state, for reports.
    public var pcp: [PerCPUPages] {
        Array(UnsafeBufferPointer(start: self.pcpStorage, count: self.zoneCount))
    }
    /// Slab allocator state (mm/slub.c).
    public internal(set) var slab = SlabState()
    /// vmalloc state (mm/vmalloc.c).
    public internal(set) var vmallocState: VmallocState
    /// The kernel log (`dmesg`).
    public internal(set) var log = KernelLog()
    /// Simulated time in nanoseconds; the layer that owns the clock advances it.
    public var now: UInt64 = 0
    /// Who frees memory when allocation runs short (kswapd, direct reclaim, OOM killer): the
    /// kernel that owns this memory. `unowned`, not `weak`: a weak reference gives the kernel
    /// object a side table, which sends every retain and release of it down the slow path (5%
    /// of reclaim's time); the kernel outlives its physical memory's use.
    public unowned var reclaimer: (any ReclaimDelegate)?
    /// Allocations that failed (`warn_alloc()` calls).
    public internal(set) var allocFailures = 0

    /// Appends a message to the kernel log at the current simulated time.
    public func printk(_ text: String) { self.log.printk(at: self.now, text) }

    /// Boots a machine: lays out zones, reserves the kernel and `mem_map`, frees the rest to the
    /// buddy allocator, computes watermarks and creates the kmalloc caches.
    public init(config: MachineConfig) throws(ConfigError) {
        try config.validate()
        self.config = config
        self.architecture = config.architecture
        self.pageShift = config.pageShift
        self.pageSize = config.pageSize
        self.ramBytes = config.effectiveMemory
        self.maxPFN = self.ramBytes >> UInt64(config.pageShift)
        self.memMap = MemMap(capacity: Int(self.maxPFN) + 1)
        let zoneTypes = ZoneType.zones(for: config.architecture.zoneLayout)
        self.zoneCount = zoneTypes.count
        self.zoneStorage = .allocate(capacity: zoneTypes.count)
        for (i, type) in zoneTypes.enumerated() {
            (self.zoneStorage + i).initialize(to: Zone(type: type, zoneCount: zoneTypes.count))
        }
        self.zoneIndexByType = ZoneType.allCases.map { type in zoneTypes.firstIndex(of: type) }
        self.pcpStorage = .allocate(capacity: zoneTypes.count)
        self.pcpStorage.initialize(repeating: PerCPUPages(), count: zoneTypes.count)
        self.nodeStatStorage = .allocate(capacity: NodeStatItem.allCases.count)
        self.nodeStatStorage.initialize(repeating: 0, count: NodeStatItem.allCases.count)
        self.eventStorage = .allocate(capacity: VMEvent.allCases.count)
        self.eventStorage.initialize(repeating: 0, count: VMEvent.allCases.count)
        self.watermarkScaleFactor = config.watermarkScaleFactor
        self.lowmemReserveRatio = config.effectiveLowmemReserveRatio
        self.minFreeKbytes = 0
        self.vmallocState = VmallocState(
            start: config.architecture.vmallocStart, end: config.architecture.vmallocEnd)
        self.boot = PhysicalMemory.layOut(config: config, maxPFN: self.maxPFN, memMap: self.memMap)
        self.initZones()
        self.freeBootMemory()
        self.minFreeKbytes = config.minFreeKbytes ?? self.calculateMinFreeKbytes()
        self.setupPerZoneWatermarks()
        self.setupPerZoneLowmemReserve()
        self.setupPerCPUPagesets()
        self.createKmallocCaches()
        self.logBootLayout()
    }

    deinit {
        self.zoneStorage.deinitialize(count: self.zoneCount)
        self.zoneStorage.deallocate()
        self.pcpStorage.deinitialize(count: self.zoneCount)
        self.pcpStorage.deallocate()
        self.nodeStatStorage.deallocate()
        self.eventStorage.deallocate()
    }

    /// `totalram_pages()`: pages managed by the buddy allocator (MemTotal).
    public var totalRAMPages: UInt64 { self.zones.reduce(0) { $0 + $1.managedPages } }
    public var presentPages: UInt64 { self.zones.reduce(0) { $0 + $1.presentPages } }
    /// `global_zone_page_state(NR_FREE_PAGES)`.
    public var freePages: Int { self.zones.reduce(0) { $0 + $1.freePages } }

    /// Adds `delta` to a per-node counter.
    @inlinable public func mod(_ item: NodeStatItem, _ delta: Int) {
        self.nodeStatStorage[item.rawValue] += delta
    }
    /// `node_page_state()`.
    @inlinable public func state(_ item: NodeStatItem) -> Int { self.nodeStatStorage[item.rawValue] }
    /// `count_vm_events()`.
    @inlinable public func count(_ event: VMEvent, _ n: UInt64 = 1) {
        self.eventStorage[event.rawValue] &+= n
    }
    /// The value of an event counter.
    @inlinable public func events(_ event: VMEvent) -> UInt64 { self.eventStorage[event.rawValue] }
    /// Sum of a zone counter over all zones (`global_zone_page_state()`).
    public func zoneState(_ item: ZoneStatItem) -> Int { self.zones.reduce(0) { $0 + $1.state(item) } }
    /// Adds `delta` to a per-zone counter of zone `z`.
    public func modZone(_ z: Int, _ item: ZoneStatItem, _ delta: Int) {
        self.zoneStorage[z].counters[item.rawValue] += delta
    }
    /// Zeroes every event counter (`reset counters` in a scenario); state counters are kept.
    public func resetEvents() {
        self.eventStorage.update(repeating: 0, count: VMEvent.allCases.count)
        for z in 0..<self.zoneCount {
            self.zoneStorage[z].numaCounters = .init(repeating: 0)
        }
    }

    /// The index of the zone that contains `pfn`, or nil for a hole or reserved-only range.
    public func zoneIndex(of pfn: PFN) -> Int? {
        var z = 0
        while z < self.zoneCount {
            if pfn.rawValue >= self.zoneStorage[z].startPFN
                && pfn.rawValue < self.zoneStorage[z].startPFN + self.zoneStorage[z].spannedPages
            {
                return z
            }
            z += 1
        }
        return nil
    }

    /// The index of the zone of a given type, if the layout has one.
    public func zoneIndex(of type: ZoneType) -> Int? { self.zoneIndexByType[type.rawValue] }

    /// Kernel virtual address of a frame in the direct map (`page_address()`/`__va()`), or nil
    /// for a HighMem frame that has no permanent kernel mapping.
    public func directMapAddress(of pfn: PFN) -> UInt64? {
        let pa = pfn.physAddr(pageShift: self.pageShift).rawValue
        if let limit = self.architecture.directMapLimit, pa >= limit { return nil }
        return self.architecture.pageOffset &+ pa
    }

    // MARK: Boot

    /// The boot messages Linux prints about memory (`e820__print_table()`, `zone_sizes_init()`,
    /// `mem_init_print_info()`), with this machine's numbers.
    func logBootLayout() {
        let shift = UInt64(self.pageShift)
        let w = self.architecture.is64Bit ? 16 : 8
        func mem(_ lo: UInt64, _ hi: UInt64) -> String {
            "[mem " + hex(lo << shift, width: w) + "-" + hex((hi << shift) - 1, width: w) + "]"
        }
        if self.config.zoneSizes == nil {
            self.log.printk(at: 0, "BIOS-provided physical RAM map:")
            var last: UInt64 = 0
            for m in self.boot.memory {
                if m.lowerBound > last {
                    self.log.printk(at: 0, "BIOS-e820: " + mem(last, m.lowerBound) + " reserved")
                }
                self.log.printk(at: 0, "BIOS-e820: " + mem(m.lowerBound, m.upperBound) + " usable")
                last = m.upperBound
            }
        }
        self.log.printk(at: 0, "Zone ranges:")
        for zone in self.zones where zone.type != .movable {
            let range = zone.isPopulated ? mem(zone.startPFN, zone.endPFN) : "empty"
            self.log.printk(
                at: 0,
                "  " + zone.type.name + String(repeating: " ", count: max(0, 8 - zone.type.name.count)) + " "
                    + range)
        }
        self.log.printk(at: 0, "Early memory node ranges")
        for m in self.boot.memory { self.log.printk(at: 0, "  node   0: " + mem(m.lowerBound, m.upperBound)) }
        if let kernel = self.boot.kernelImage {
            self.log.printk(
                at: 0,
                "Kernel image at " + mem(kernel.lowerBound, kernel.upperBound) + ", mem_map at "
                    + (self.boot.memmap.map { mem($0.lowerBound, $0.upperBound) } ?? "none"))
        }
        for zone in self.zones where zone.isPopulated && zone.spannedPages > zone.presentPages {
            self.log.printk(
                at: 0,
                "On node 0, zone \(zone.type.name): \(zone.spannedPages - zone.presentPages) pages in unavailable ranges"
            )
        }
        let kb = UInt64(self.pageShift - 10)
        self.log.printk(
            at: 0,
            "Memory: \(self.totalRAMPages << kb)K/\(self.presentPages << kb)K available (\(self.config.kernelImage >> 10)K kernel image, \(self.boot.reservedPages << kb)K reserved)"
        )
        self.log.printk(
            at: 0,
            "min_free_kbytes \(self.minFreeKbytes), watermark_scale_factor \(self.watermarkScaleFactor)")
    }

    /// Decides which frames exist and which are reserved (the memblock phase of `setup_arch()`).
    ///
    /// A PC reports RAM from PFN 1 (page 0 is BIOS-owned, `trim_bios_range()`) with a hole from
    /// 0x9f000 to 1 MiB (EBDA, VGA, BIOS ROM). x86 reserves the whole first MiB, loads the kernel at
    /// `CONFIG_PHYSICAL_START` (16 MiB; relocated to 1 MiB on machines too small for that), and
    /// allocates `mem_map` (64 bytes per frame) top-down from the end of direct-mapped memory.
    /// With explicit zone sizes, each zone is one RAM range (see `MachineConfig.explicitRange`)
    /// and nothing is reserved.
    ///
    /// Simplified: no PCI hole below 4 GiB, no ACPI tables, initrd, per-CPU areas or early page
    /// tables (together a few MiB on a real machine).
    static func layOut(config: MachineConfig, maxPFN: UInt64, memMap: MemMap) -> BootLayout {
        let shift = UInt64(config.pageShift)
        if let sizes = config.zoneSizes {
            var ranges: [Range<UInt64>] = []
            for size in sizes.sorted(by: { $0.zone < $1.zone }) where size.managedPages > 0 {
                ranges.append(config.explicitRange(size))
            }
            memMap.reserve(0..<1)
            return BootLayout(
                memory: ranges, kernelImage: nil, memmap: nil, lowReserve: nil, reservedPages: 0)
        }
        let lowHoleStart = UInt64(0x9f000) >> shift
        let oneMiB = UInt64(1 << 20) >> shift
        var memory: [Range<UInt64>] = [1..<min(lowHoleStart, maxPFN)]
        if maxPFN > oneMiB { memory.append(oneMiB..<maxPFN) }
        let present = memory.reduce(0) { $0 + UInt64($1.count) }
        let memmapPages = (present * 64 + config.pageSize - 1) >> shift
        let directEnd = min(maxPFN, (config.architecture.directMapLimit ?? UInt64.max) >> min(shift, 63))
        let memmap = (directEnd - memmapPages)..<directEnd
        let imagePages = config.kernelImage >> shift
        var kernelStart = UInt64(16 << 20) >> shift
        if kernelStart + imagePages > memmap.lowerBound { kernelStart = oneMiB }
        let kernel = kernelStart..<(kernelStart + imagePages)
        let low = 0..<oneMiB
        memMap.reserve(low)
        memMap.reserve(kernel)
        memMap.reserve(memmap)
        var reserved: UInt64 = 0
        for r in memMap.reservedRanges {
            for m in memory {
                let lo = max(r.lowerBound, m.lowerBound)
                let hi = min(r.upperBound, m.upperBound)
                if lo < hi { reserved += hi - lo }
            }
        }
        return BootLayout(
            memory: memory, kernelImage: kernel, memmap: memmap, lowReserve: low, reservedPages: reserved)
    }

    /// Sizes each zone: spanned (range incl. holes), present (RAM) and managed (RAM not reserved),
    /// as `calculate_node_totalpages()` and `memblock_free_all()` do.
    func initZones() {
        for z in 0..<self.zoneCount {
            let bounds = self.config.zoneBounds(self.zoneStorage[z].type)
            var first: UInt64?
            var last: UInt64 = 0
            var present: UInt64 = 0
            for m in self.boot.memory {
                let lo = max(m.lowerBound, bounds.start)
                let hi = min(m.upperBound, bounds.limit)
                guard lo < hi else { continue }
                first = first.map { min($0, lo) } ?? lo
                last = max(last, hi)
                present += hi - lo
            }
            guard let first else { continue }
            self.zoneStorage[z].startPFN = first
            self.zoneStorage[z].spannedPages = last - first
            self.zoneStorage[z].presentPages = present
        }
    }

    /// The PFN ranges that are RAM and not reserved, ascending (`for_each_free_mem_range()`).
    func freeRanges() -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        for m in self.boot.memory {
            var cursor = m.lowerBound
            for r in self.memMap.reservedRanges where r.upperBound > cursor && r.lowerBound < m.upperBound {
                if r.lowerBound > cursor { result.append(cursor..<r.lowerBound) }
                cursor = max(cursor, r.upperBound)
            }
            if cursor < m.upperBound { result.append(cursor..<m.upperBound) }
        }
        return result
    }

    /// Gives every free range to the buddy allocator in the largest aligned blocks, ascending, each
    /// to the tail of its free list: `__free_pages_memory()` (mm/memblock.c) →
    /// `__free_pages_core()` → `__free_one_page(…, FPI_TO_TAIL)`. Max-order blocks are kept as lazy
    /// runs (see `LazyBlockRun`); their place at the tail of the max-order list is the same.
    func freeBootMemory() {
        for range in self.freeRanges() {
            // Split at zone boundaries; they are all aligned to the largest block.
            var pieces: [Range<UInt64>] = []
            for zone in self.zones where zone.spannedPages > 0 {
                let lo = max(range.lowerBound, zone.startPFN)
                let hi = min(range.upperBound, zone.endPFN)
                if lo < hi { pieces.append(lo..<hi) }
            }
            for piece in pieces {
                guard let z = self.zoneIndex(of: PFN(rawValue: piece.lowerBound)) else { continue }
                var start = piece.lowerBound
                let end = piece.upperBound
                var run: LazyBlockRun?
                while start < end {
                    var order = start == 0 ? self.maxOrder : min(self.maxOrder, start.trailingZeroBitCount)
                    while start + (1 << UInt64(order)) > end { order -= 1 }
                    let size = UInt64(1) << UInt64(order)
                    self.zoneStorage[z].managedPages += size
                    if order == self.maxOrder {
                        if run == nil { run = LazyBlockRun(next: start, end: start) }
                        run!.end = start + size
                        self.zoneStorage[z].areas[order].count += 1
                        self.zoneStorage[z].add(.nrFreePages, Int(size))
                        self.zoneStorage[z].add(.nrFreePagesBlocks, Int(size))
                    } else {
                        if let finished = run {
                            self.zoneStorage[z].lazyRuns.append(finished)
                            run = nil
                        }
                        self.freeOnePage(PFN(rawValue: start), order: order, zone: z, toTail: true)
                    }
                    start += size
                }
                if let finished = run { self.zoneStorage[z].lazyRuns.append(finished) }
            }
        }
    }
}

/// The kernel's message buffer (`printk`, read with `dmesg`).
public struct KernelLog: Sendable {
    public struct Entry: Sendable {
        /// Simulated time in nanoseconds.
        public var time: UInt64
        public var text: String
    }
    public private(set) var entries: [Entry] = []

    /// Appends a message at simulated time `time` (nanoseconds).
    public mutating func printk(at time: UInt64, _ text: String) {
        self.entries.append(Entry(time: time, text: text))
    }

    /// The log as `dmesg` prints it: `[    1.234567] message`.
    public var text: String {
        self.entries.map { entry in
            let seconds = entry.time / 1_000_000_000
            let micros = (entry.time / 1000) % 1_000_000
            let secText = String(seconds)
            let microText = String(micros)
            return "[" + String(repeating: " ", count: max(0, 5 - secText.count)) + secText + "."
                + String(repeating: "0", count: 6 - microText.count) + microText + "] " + entry.text
        }.joined(separator: "\n")
    }
}
