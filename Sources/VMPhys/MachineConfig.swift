import VMTypes

/// A setting that cannot describe a machine: names the setting and what was expected.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting's name as the command line spells it without dashes (`memory`, `zones`…).
    public var setting: String
    public var message: String
    public init(setting: String, message: String) {
        self.setting = setting
        self.message = message
    }
    public var description: String { "\(self.setting): \(self.message)" }
}

/// Everything that describes a simulated machine before it boots.
///
/// Defaults give an x86-64 PC with 1 GiB of RAM and the kernel's default tunables
/// (`min_free_kbytes` from its formula, `watermark_scale_factor` 10, `lowmem_reserve_ratio`
/// 256 256 32).
public struct MachineConfig: Sendable, Hashable {
    public var architecture: Architecture = .x86_64
    /// RAM in bytes; nil means "the default (1 GiB), or the sum of explicit zones".
    public var memory: UInt64?
    /// Explicit zone sizes in managed pages, taken exactly with no further reservation, so a real
    /// machine's `/proc/zoneinfo` watermarks can be reproduced.
    public var zoneSizes: [ZoneSize]?
    /// Bytes of the kernel image (text, data, bss) reserved at boot.
    public var kernelImage: UInt64 = 12 << 20
    /// `vm.min_free_kbytes`; nil = computed as `calculate_min_free_kbytes()` does.
    public var minFreeKbytes: Int?
    /// `vm.watermark_scale_factor` (1…3000, in units of 0.01%).
    public var watermarkScaleFactor: Int = 10
    /// `vm.lowmem_reserve_ratio`, one per zone; nil = the kernel's defaults.
    public var lowmemReserveRatio: [Int]?
    /// Possible CPUs: sizes per-CPU page lists and SLUB orders as on a machine with this many CPUs.
    /// The simulation itself runs everything on CPU 0.
    public var cpus: Int = 2
    /// The disk under the file system and swap: its latency model.
    public var disk: DiskKind = .ssd
    /// A swap partition of this many bytes, enabled at boot (0: no swap).
    public var swap: UInt64 = 0
    /// kswapd woken once a second (the 2.4-era daemon) instead of by allocations.
    public var periodicKswapd = false
    /// Reclaim with the multi-generational LRU (`CONFIG_LRU_GEN` with `lru_gen` enabled)
    /// instead of the two active/inactive lists. Off by default, as on the measured 6.18
    /// machine (`# CONFIG_LRU_GEN is not set`).
    public var lruGen = false
    /// `/sys/kernel/mm/transparent_hugepage/enabled` (the measured 6.18 machine: madvise).
    public var thp: THPEnabled = .madvise
    /// `/sys/kernel/mm/transparent_hugepage/defrag` (default madvise).
    public var thpDefrag: THPDefrag = .madvise

    public init() {}

    /// One explicit zone size.
    public struct ZoneSize: Sendable, Hashable {
        public var zone: ZoneType
        public var managedPages: UInt64
        public init(zone: ZoneType, managedPages: UInt64) {
            self.zone = zone
            self.managedPages = managedPages
        }
    }

    public static let defaultMemory: UInt64 = 1 << 30
    public static let minMemory: UInt64 = 16 << 20

    /// The largest RAM this architecture can address (vmsim caps x86-64 at 1 TiB).
    public static func maxMemory(for arch: Architecture) -> UInt64 { arch.maxMemory }

    public var pageSize: UInt64 { self.architecture.pageSize }
    public var pageShift: Int { self.architecture.pageShift }

    /// RAM after defaults: explicit, or the sum of explicit zones, or 1 GiB.
    public var effectiveMemory: UInt64 {
        if let memory { return memory }
        if let zoneSizes { return self.explicitZonesEnd(zoneSizes) << UInt64(self.pageShift) }
        return MachineConfig.defaultMemory
    }

    /// `sysctl_lowmem_reserve_ratio[]` defaults (mm/page_alloc.c): 256 for DMA and DMA32, 32 for
    /// Normal, 0 for HighMem, Movable and Device.
    public var effectiveLowmemReserveRatio: [Int] {
        if let lowmemReserveRatio { return lowmemReserveRatio }
        return ZoneType.zones(for: self.architecture.zoneLayout).map { zone in
            switch zone {
            case .dma, .dma32: return 256
            case .normal: return 32
            default: return 0
            }
        }
    }

    /// First PFN and architectural limit (exclusive) of each zone of this layout.
    func zoneBounds(_ zone: ZoneType) -> (start: UInt64, limit: UInt64) {
        let shift = UInt64(self.pageShift)
        let dmaEnd = UInt64(16 << 20) >> shift
        switch (self.architecture.zoneLayout, zone) {
        case (_, .dma): return (1, dmaEnd)
        case (.pc64, .dma32): return (dmaEnd, UInt64(4 << 30) >> shift)
        case (.pc64, .normal): return (UInt64(4 << 30) >> shift, UInt64.max >> shift)
        case (.pc32, .normal): return (dmaEnd, (self.architecture.directMapLimit ?? (896 << 20)) >> shift)
        case (.pc32, .highMem):
            return ((self.architecture.directMapLimit ?? (896 << 20)) >> shift, UInt64.max >> shift)
        default: return (0, 0)
        }
    }

    /// The PFN range an explicit zone size occupies. DMA memory sits at the top of the first
    /// 16 MiB (below it a PC has the BIOS area and the reserved first MiB, so a real machine's
    /// free DMA pages are the top ones); every other zone starts at its boundary.
    func explicitRange(_ size: ZoneSize) -> Range<UInt64> {
        let bounds = self.zoneBounds(size.zone)
        if size.zone == .dma { return max(bounds.start, bounds.limit - size.managedPages)..<bounds.limit }
        return bounds.start..<(bounds.start + size.managedPages)
    }

    /// Where explicit zones of these sizes end, in bytes: the least RAM they fit in on this
    /// architecture (DMA32 and Normal start at fixed addresses, so it can exceed their sum).
    public func explicitZonesEndBytes(_ sizes: [ZoneSize]) -> UInt64 {
        self.explicitZonesEnd(sizes) << UInt64(self.pageShift)
    }

    /// One past the last PFN used by explicit zones.
    func explicitZonesEnd(_ sizes: [ZoneSize]) -> UInt64 {
        var end: UInt64 = 0
        for size in sizes where size.managedPages > 0 { end = max(end, self.explicitRange(size).upperBound) }
        return end
    }

    /// Checks every setting; throws the first problem found, naming the setting.
    public func validate() throws(ConfigError) {
        let arch = self.architecture
        let page = self.pageSize
        if let memory {
            guard memory % page == 0 else {
                throw ConfigError(
                    setting: "memory",
                    message: "\(memory) bytes is not a multiple of the page size (\(ByteSize.format(page)))")
            }
        }
        let maxMemory = MachineConfig.maxMemory(for: arch)
        if let zoneSizes {
            let allowed = ZoneType.zones(for: arch.zoneLayout).filter { $0 != .movable && $0 != .device }
            var seen: Set<ZoneType> = []
            for size in zoneSizes {
                guard allowed.contains(size.zone) else {
                    throw ConfigError(
                        setting: "zones",
                        message:
                            "\(arch.name) has no zone \(size.zone.name) (expected \(allowed.map(\.name).joined(separator: ", ")))"
                    )
                }
                guard seen.insert(size.zone).inserted else {
                    throw ConfigError(setting: "zones", message: "zone \(size.zone.name) given twice")
                }
                let bounds = self.zoneBounds(size.zone)
                let limit = min(bounds.limit, maxMemory >> UInt64(self.pageShift))
                guard size.managedPages <= limit - bounds.start else {
                    throw ConfigError(
                        setting: "zones",
                        message:
                            "zone \(size.zone.name) of \(size.managedPages) pages is larger than the zone can be on \(arch.name) (\(limit - bounds.start) pages)"
                    )
                }
            }
            guard zoneSizes.contains(where: { $0.managedPages > 0 }) else {
                throw ConfigError(setting: "zones", message: "every zone is empty")
            }
            if let memory {
                let needed = self.explicitZonesEnd(zoneSizes) << UInt64(self.pageShift)
                guard needed <= memory else {
                    throw ConfigError(
                        setting: "zones",
                        message:
                            "zones end at \(ByteSize.human(needed)), larger than RAM (\(ByteSize.human(memory)))"
                    )
                }
            }
        } else {
            let memory = self.effectiveMemory
            guard memory >= MachineConfig.minMemory else {
                throw ConfigError(
                    setting: "memory", message: "\(ByteSize.human(memory)) is too small (at least 16 MiB)")
            }
            guard memory <= maxMemory else {
                throw ConfigError(
                    setting: "memory",
                    message:
                        "\(ByteSize.human(memory)) is more than \(arch.name) supports (at most \(ByteSize.human(maxMemory)))"
                )
            }
            guard self.kernelImage > 0, self.kernelImage % page == 0 else {
                throw ConfigError(
                    setting: "kernel-image", message: "must be a positive multiple of the page size")
            }
            // Before the sum below, which a kernel image near 2^64 would overflow.
            guard self.kernelImage < memory else {
                throw ConfigError(
                    setting: "memory",
                    message:
                        "\(ByteSize.human(memory)) is smaller than the kernel image (\(ByteSize.human(self.kernelImage)))"
                )
            }
            let memmapBytes = (memory >> UInt64(self.pageShift)) * 64
            let needed = UInt64(1 << 20) + self.kernelImage + memmapBytes + (1 << 20)
            guard needed <= min(memory, arch.directMapLimit ?? memory) else {
                throw ConfigError(
                    setting: "memory",
                    message:
                        "\(ByteSize.human(memory)) is smaller than the kernel image (\(ByteSize.human(self.kernelImage))), mem_map (\(ByteSize.human(memmapBytes))) and the first MiB reserved at boot"
                )
            }
        }
        if let minFreeKbytes {
            guard minFreeKbytes >= 0 && minFreeKbytes <= 1 << 30 else {
                throw ConfigError(
                    setting: "min-free-kbytes", message: "expected 0…1073741824, got \(minFreeKbytes)")
            }
            // A reserve of all of RAM leaves nothing to boot with (not even the kernel's page
            // tables): refused here, naming the setting, rather than as a failed boot.
            let ram = self.zoneSizes == nil ? self.effectiveMemory : (self.memory ?? UInt64.max)
            guard UInt64(minFreeKbytes) << 10 < ram / 2 else {
                throw ConfigError(
                    setting: "min-free-kbytes",
                    message:
                        "\(ByteSize.human(UInt64(minFreeKbytes) << 10)) is more than half of RAM (\(ByteSize.human(ram)))"
                )
            }
        }
        guard (1...3000).contains(self.watermarkScaleFactor) else {
            throw ConfigError(
                setting: "watermark-scale-factor",
                message: "expected 1…3000, got \(self.watermarkScaleFactor)")
        }
        if let ratios = self.lowmemReserveRatio {
            let zones = ZoneType.zones(for: arch.zoneLayout)
            guard ratios.count == zones.count, ratios.allSatisfy({ $0 >= 0 }) else {
                throw ConfigError(
                    setting: "lowmem-reserve-ratio",
                    message:
                        "expected \(zones.count) non-negative numbers (\(zones.map(\.name).joined(separator: " ")))"
                )
            }
        }
        guard (1...64).contains(self.cpus) else {
            throw ConfigError(setting: "cpus", message: "expected 1…64, got \(self.cpus)")
        }
    }
}

/// `/sys/kernel/mm/transparent_hugepage/enabled` (mm/huge_memory.c `enabled_store()`): whether
/// anonymous faults may map a PMD-sized page — in every area (`always`, unless MADV_NOHUGEPAGE),
/// only in areas with MADV_HUGEPAGE (`madvise`), or never.
public enum THPEnabled: String, Sendable, Hashable, CaseIterable {
    case always, madvise, never
}

/// `/sys/kernel/mm/transparent_hugepage/defrag` (mm/huge_memory.c `vma_thp_gfp_mask()`): how hard
/// a THP fault's allocation tries. vmsim has no compaction, so this only decides whether the
/// order-9 allocation may reclaim directly (`always`; `madvise`, `defer+madvise` for MADV_HUGEPAGE
/// areas) — the others wake kswapd (`defer`, `defer+madvise`) or nothing, and fall back to 4 KiB
/// pages at once.
public enum THPDefrag: String, Sendable, Hashable, CaseIterable {
    case always
    case `defer`
    case deferMadvise = "defer+madvise"
    case madvise, never
}
