import VMPhys
import VMTypes

/// One line of `/proc/meminfo`.
public struct MemInfoField: Sendable, Equatable {
    public enum Unit: Sendable { case kB, count }
    public var name: String
    public var value: UInt64
    public var unit: Unit
    public init(_ name: String, _ value: UInt64, _ unit: Unit = .kB) {
        self.name = name
        self.value = value
        self.unit = unit
    }
}

/// System-wide memory accounting (fs/proc/meminfo.c, mm/show_mem.c, mm/page-writeback.c).
extension Kernel {
    /// `si_mem_available()`: free pages above the reserves, plus the part of the page cache and
    /// reclaimable slab that could be freed without going below the low watermarks.
    public func memAvailablePages() -> Int {
        let phys = self.phys
        let wmarkLow = phys.zones.reduce(0) { $0 + $1.watermarkPages(.low) }
        var available = phys.freePages - phys.totalReservePages
        var pagecache = phys.state(.nrActiveFile) + phys.state(.nrInactiveFile)
        pagecache -= min(pagecache / 2, wmarkLow)
        available += pagecache
        var reclaimable = phys.state(.nrSlabReclaimable) + phys.state(.nrKernelMiscReclaimable)
        reclaimable -= min(reclaimable / 2, wmarkLow)
        available += reclaimable
        return max(available, 0)
    }

    /// `global_dirtyable_memory()`: free pages plus file LRU pages, minus the reserves, minus
    /// HighMem (`vm_highmem_is_dirtyable` is 0).
    public func dirtyableMemory() -> Int {
        let phys = self.phys
        var x = phys.freePages + phys.state(.nrInactiveFile) + phys.state(.nrActiveFile)
        x -= min(x, phys.totalReservePages)
        if let hz = phys.zoneIndex(of: .highMem) {
            let zone = phys.zones[hz]
            var high =
                zone.freePages + zone.state(.nrZoneInactiveFile)
                + zone.state(.nrZoneActiveFile)
            high -= min(high, zone.highWatermark)
            x -= min(x, high)
        }
        return x
    }

    /// `global_dirty_limits()`: (background, dirty) thresholds in pages from
    /// `vm.dirty_background_ratio` and `vm.dirty_ratio`, scaled through PAGE_SIZE exactly as
    /// `domain_dirty_limits()` does; a background threshold not below the hard one is halved.
    public func globalDirtyLimits() -> (background: Int, dirty: Int) {
        let dirtyRatio = self.sysctl.dirtyRatio
        let backgroundRatio = self.sysctl.dirtyBackgroundRatio
        let available = self.dirtyableMemory()
        let page = Int(self.phys.pageSize)
        let ratio = dirtyRatio * page / 100
        let bgRatio = backgroundRatio * page / 100
        let thresh = ratio * available / page
        var bg = bgRatio * available / page
        if bg >= thresh { bg = thresh / 2 }
        return (bg, thresh)
    }

    /// `DirectMap4k`/`2M`/`1G` (x86-64, PAE) or `4k`/`4M` (i386): how the direct map of RAM is
    /// mapped. The first 2 MiB (4 MiB on i386) use small pages, whole aligned gigabytes use 1 GiB
    /// pages, the rest large pages. Simplified: no later splits (kernel text protection).
    public func directMapCounts() -> [(String, UInt64)] {
        let arch = self.architecture
        let end = min(self.phys.ramBytes, arch.directMapLimit ?? self.phys.ramBytes)
        let large: UInt64 = arch.paging.largePageSize ?? arch.pageSize
        let giga: UInt64 = arch.is64Bit ? 1 << 30 : 0
        let small = min(end, large)
        // Whole gigabytes above the first use 1 GiB pages; the first holds the 4k region.
        let gig: UInt64 = giga > 0 && end >= 2 * giga ? end / giga * giga - giga : 0
        let rest = end - small - gig
        let largeBytes = rest / large * large
        let smallBytes = small + (rest - largeBytes)
        var result: [(String, UInt64)] = [("DirectMap4k", smallBytes >> 10)]
        result.append(("DirectMap\(large >> 20)M", largeBytes >> 10))
        if arch.is64Bit { result.append(("DirectMap1G", gig >> 10)) }
        return result
    }

    /// The fields of `/proc/meminfo` in the kernel's order, values in kB (HugePages_* are counts).
    public func memInfo() -> [MemInfoField] {
        let phys = self.phys
        let kb = UInt64(phys.pageSize >> 10)
        func pages(_ n: Int) -> UInt64 { UInt64(max(n, 0)) * kb }
        let state = phys.state
        let swapCache = state(.nrSwapcached)
        let buffers = self.bufferPages
        let cached = max(state(.nrFilePages) - swapCache - buffers, 0)
        var fields: [MemInfoField] = [
            MemInfoField("MemTotal", phys.totalRAMPages * kb),
            MemInfoField("MemFree", pages(phys.freePages)),
            MemInfoField("MemAvailable", pages(self.memAvailablePages())),
            MemInfoField("Buffers", pages(buffers)),
            MemInfoField("Cached", pages(cached)),
            MemInfoField("SwapCached", pages(swapCache)),
            MemInfoField("Active", pages(state(.nrActiveAnon) + state(.nrActiveFile))),
            MemInfoField("Inactive", pages(state(.nrInactiveAnon) + state(.nrInactiveFile))),
            MemInfoField("Active(anon)", pages(state(.nrActiveAnon))),
            MemInfoField("Inactive(anon)", pages(state(.nrInactiveAnon))),
            MemInfoField("Active(file)", pages(state(.nrActiveFile))),
            MemInfoField("Inactive(file)", pages(state(.nrInactiveFile))),
            MemInfoField("Unevictable", pages(state(.nrUnevictable))),
            MemInfoField("Mlocked", pages(phys.zoneState(.nrMlock))),
        ]
        if let hz = phys.zoneIndex(of: .highMem) {
            let high = phys.zones[hz]
            fields += [
                MemInfoField("HighTotal", high.managedPages * kb),
                MemInfoField("HighFree", pages(high.freePages)),
                MemInfoField("LowTotal", (phys.totalRAMPages - high.managedPages) * kb),
                MemInfoField("LowFree", pages(phys.freePages - high.freePages)),
            ]
        }
        let slabReclaimable = state(.nrSlabReclaimable)
        let slabUnreclaimable = state(.nrSlabUnreclaimable)
        let hugeSize: UInt64 = (self.architecture.paging.largePageSize ?? self.phys.pageSize) >> 10
        fields += [
            MemInfoField("SwapTotal", pages(self.swapTotalPages)),
            MemInfoField("SwapFree", pages(self.swapFreePages)),
            MemInfoField("Zswap", 0),
            MemInfoField("Zswapped", 0),
            MemInfoField("Dirty", pages(state(.nrDirty))),
            MemInfoField("Writeback", pages(state(.nrWriteback))),
            MemInfoField("AnonPages", pages(state(.nrAnonPages))),
            MemInfoField("Mapped", pages(state(.nrMapped))),
            MemInfoField("Shmem", pages(state(.nrShmem))),
            MemInfoField("KReclaimable", pages(slabReclaimable + state(.nrKernelMiscReclaimable))),
            MemInfoField("Slab", pages(slabReclaimable + slabUnreclaimable)),
            MemInfoField("SReclaimable", pages(slabReclaimable)),
            MemInfoField("SUnreclaim", pages(slabUnreclaimable)),
            MemInfoField("KernelStack", UInt64(state(.nrKernelStack))),
            MemInfoField("PageTables", pages(state(.nrPageTablePages))),
            MemInfoField("SecPageTables", 0),
            MemInfoField("NFS_Unstable", 0),
            MemInfoField("Bounce", 0),
            MemInfoField("WritebackTmp", 0),
            MemInfoField("CommitLimit", pages(Int(phys.totalRAMPages) * 50 / 100 + self.swapTotalPages)),
            MemInfoField("Committed_AS", pages(self.committedPages)),
            MemInfoField(
                "VmallocTotal", (self.architecture.vmallocEnd - self.architecture.vmallocStart) >> 10),
            MemInfoField("VmallocUsed", pages(phys.vmallocState.nrPages)),
            MemInfoField("VmallocChunk", 0),
            MemInfoField("Percpu", 0),
            MemInfoField("AnonHugePages", pages(phys.state(.nrAnonTransparentHugepages))),
            MemInfoField("ShmemHugePages", 0),
            MemInfoField("ShmemPmdMapped", 0),
            MemInfoField("FileHugePages", 0),
            MemInfoField("FilePmdMapped", 0),
            MemInfoField("Balloon", 0),
            MemInfoField("HugePages_Total", 0, .count),
            MemInfoField("HugePages_Free", 0, .count),
            MemInfoField("HugePages_Rsvd", 0, .count),
            MemInfoField("HugePages_Surp", 0, .count),
            MemInfoField("Hugepagesize", hugeSize),
            MemInfoField("Hugetlb", 0),
        ]
        for (name, value) in self.directMapCounts() { fields.append(MemInfoField(name, value)) }
        return fields
    }
}
