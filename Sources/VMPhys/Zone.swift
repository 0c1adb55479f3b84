import VMTypes

/// The kind of a memory zone, in Linux's order (`enum zone_type`, include/linux/mmzone.h).
public enum ZoneType: Int, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    case dma = 0
    case dma32
    case normal
    case highMem
    case movable
    case device

    /// The name `/proc/zoneinfo` prints (`zone_names[]`).
    public var name: String {
        switch self {
        case .dma: return "DMA"
        case .dma32: return "DMA32"
        case .normal: return "Normal"
        case .highMem: return "HighMem"
        case .movable: return "Movable"
        case .device: return "Device"
        }
    }
    public var description: String { self.name }
    public static func < (a: ZoneType, b: ZoneType) -> Bool { a.rawValue < b.rawValue }

    /// Parses a zone name as `--zones` accepts it (case-insensitive).
    public init?(name: String) {
        guard let zone = ZoneType.allCases.first(where: { $0.name.lowercased() == name.lowercased() }) else {
            return nil
        }
        self = zone
    }

    /// The zones a machine of this layout has, in index order (`MAX_NR_ZONES` of that kernel).
    public static func zones(for layout: ZoneLayout) -> [ZoneType] {
        switch layout {
        case .pc64: return [.dma, .dma32, .normal, .movable, .device]
        case .pc32: return [.dma, .normal, .highMem, .movable]
        }
    }
}

/// Which watermark an allocation must stay above (`enum zone_watermarks`).
public enum WatermarkLevel: Int, Sendable {
    case min = 0
    case low
    case high
    case promo
}

/// One buddy free list: blocks of a single order, linked through `MemMap.lruPrev/lruNext`.
///
/// Models `struct free_area` (include/linux/mmzone.h) without migrate types: Linux keeps one list
/// per migrate type, vmsim one list per order (all blocks behave as `MIGRATE_MOVABLE`).
public struct FreeArea: Sendable {
    /// The blocks on the list (`free_list`).
    public internal(set) var list = PFNList()
    /// First and last block on the list (PFNs; 0 = empty).
    public var head: UInt32 { self.list.head }
    public var tail: UInt32 { self.list.tail }
    /// `nr_free`: number of blocks of this order, including not-yet-touched boot blocks.
    public internal(set) var count: Int = 0
}

/// A run of aligned `MAX_PAGE_ORDER` blocks freed at boot but never touched since.
///
/// Boot hands memory to the buddy allocator in the largest aligned blocks, each added to the
/// *tail* of its free list in ascending address order (`memblock_free_all()` →
/// `__free_pages_core()` with `FPI_TO_TAIL`). vmsim does the same for the small blocks at the
/// edges of each free range, but keeps the long middle run of max-order blocks as a range that
/// forms the tail of the max-order list, so booting a 1 TiB machine does not touch a frame
/// descriptor for every 4 MiB. A block leaves the run only by being allocated, from the front.
struct LazyBlockRun: Sendable {
    var next: UInt64
    var end: UInt64
}

/// A memory zone: a PFN range with its own free lists, watermarks and counters.
///
/// Models `struct zone` (include/linux/mmzone.h). One node (`pg_data_t`) holds all zones.
/// Small fixed tables are `InlineArray`s so that reading a zone on the allocation fast path
/// never touches the heap or a reference count.
public struct Zone: Sendable {
    public static let maxZones = 6
    public let type: ZoneType
    /// Number of zones of the machine's layout (length of `lowmemReserve`).
    public let zoneCount: Int
    /// `zone_start_pfn` and `spanned_pages`: the PFN range the zone covers, holes included.
    public internal(set) var startPFN: UInt64
    public internal(set) var spannedPages: UInt64
    /// Pages that exist (spanned minus holes).
    public internal(set) var presentPages: UInt64
    /// Pages given to the buddy allocator at boot (present minus boot reservations).
    public internal(set) var managedPages: UInt64
    /// `_watermark[]`: min, low, high, promo, in pages.
    var watermarks: InlineArray<4, Int> = .init(repeating: 0)
    /// `watermark_boost` (always 0: vmsim does not model fragmentation events that boost it).
    public internal(set) var watermarkBoost: Int = 0
    /// `lowmem_reserve[]`, indexed by the highest zone an allocation may use.
    var reserves: InlineArray<6, Int> = .init(repeating: 0)
    /// `free_area[]`, orders 0…10.
    var areas: InlineArray<11, FreeArea> = .init(repeating: FreeArea())
    var lazyRuns: [LazyBlockRun] = []
    var lazyRunIndex = 0
    /// Per-zone counters (`vm_stat[]`), indexed by `ZoneStatItem`.
    var counters: InlineArray<11, Int> = .init(repeating: 0)
    /// Per-zone NUMA counters, indexed by `NUMAStatItem`.
    var numaCounters: InlineArray<6, Int> = .init(repeating: 0)

    init(type: ZoneType, zoneCount: Int) {
        precondition(
            ZoneStatItem.allCases.count == 11 && NUMAStatItem.allCases.count == 6
                && zoneCount <= Zone.maxZones,
            "Zone: counter tables out of step with the generated item lists")
        self.type = type
        self.zoneCount = zoneCount
        self.startPFN = 0
        self.spannedPages = 0
        self.presentPages = 0
        self.managedPages = 0
    }

    /// `_watermark[]` as an array: min, low, high, promo.
    public var watermark: [Int] { (0..<4).map { self.watermarks[$0] } }
    /// `lowmem_reserve[]` as an array, one entry per zone of the layout.
    public var lowmemReserve: [Int] { (0..<self.zoneCount).map { self.reserves[$0] } }
    /// `free_area[]` as an array, orders 0…10.
    public var freeArea: [FreeArea] { (0..<11).map { self.areas[$0] } }
    /// Per-zone counters as an array, indexed by `ZoneStatItem`.
    public var stats: [Int] { (0..<11).map { self.counters[$0] } }
    /// NUMA counters as an array, indexed by `NUMAStatItem`.
    public var numaStats: [Int] { (0..<6).map { self.numaCounters[$0] } }
    /// `zone_page_state(zone, item)`.
    public func state(_ item: ZoneStatItem) -> Int { self.counters[item.rawValue] }
    /// Pages allocated from this zone and not yet freed (managed − free).
    public var allocatedPages: Int { Int(self.managedPages) - self.freePages }

    public var endPFN: UInt64 { self.startPFN + self.spannedPages }
    public var isPopulated: Bool { self.presentPages > 0 }
    public func contains(_ pfn: PFN) -> Bool {
        pfn.rawValue >= self.startPFN && pfn.rawValue < self.startPFN + self.spannedPages
    }

    /// `zone_page_state(zone, NR_FREE_PAGES)`.
    public var freePages: Int { self.counters[ZoneStatItem.nrFreePages.rawValue] }
    public var minWatermark: Int { self.watermarks[WatermarkLevel.min.rawValue] }
    public var lowWatermark: Int { self.watermarks[WatermarkLevel.low.rawValue] }
    public var highWatermark: Int { self.watermarks[WatermarkLevel.high.rawValue] }
    /// `wmark_pages(zone, level)`: the watermark plus the boost.
    public func watermarkPages(_ level: WatermarkLevel) -> Int {
        self.watermarks[level.rawValue] + self.watermarkBoost
    }
    public var isBelowLowWatermark: Bool { self.freePages < self.watermarkPages(.low) }
    public var isBelowMinWatermark: Bool { self.freePages < self.watermarkPages(.min) }

    mutating func add(_ item: ZoneStatItem, _ delta: Int) { self.counters[item.rawValue] += delta }
}
