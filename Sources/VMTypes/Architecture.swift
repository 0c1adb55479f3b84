/// How physical memory is divided into zones on a machine of this architecture.
///
/// Models the zone boundaries of arch/x86: `MAX_DMA_PFN` (16 MiB), `MAX_DMA32_PFN` (4 GiB) on
/// x86-64; on i386 the end of the direct-mapped low memory (`MAXMEM`, taken as 896 MiB, the figure
/// every textbook gives) starts ZONE_HIGHMEM.
public enum ZoneLayout: String, Sendable, Hashable {
    /// DMA (first 16 MiB), DMA32 (up to 4 GiB), Normal (the rest), Movable and Device (empty).
    case pc64
    /// DMA (first 16 MiB), Normal (up to 896 MiB), HighMem (the rest), Movable (empty).
    case pc32
}

/// The shape of a page-table tree: address width, page size, bits per level and entry size.
///
/// Levels are listed from the root (the table CR3 points at) down to the leaf page table.
/// ```
///  x86-64, 4 levels:   47      39 38      30 29      21 20      12 11         0
///                     +----------+----------+----------+----------+------------+
///                     | PGD (9)  | PUD (9)  | PMD (9)  | PTE (9)  | offset(12) |
///                     +----------+----------+----------+----------+------------+
///  i386, 2 levels:     31      22 21      12 11         0
///                     +----------+----------+------------+
///                     | PGD (10) | PTE (10) | offset(12) |
///                     +----------+----------+------------+
/// ```
public struct PagingGeometry: Sendable, Hashable {
    /// Width of a virtual address in bits (32, 48, 57, or a teaching width such as 15).
    public var addressBits: Int
    /// log2 of the page size (12 for 4 KiB).
    public var pageShift: Int { didSet { self.derive() } }
    /// Index bits per level, root first.
    public var levelBits: [Int] { didSet { self.derive() } }
    /// `levelBits.count`, kept beside it so the hot paths read no array.
    public private(set) var levels: Int = 0
    /// Shift and index bits of each level, root first, one byte per level (up to 8 levels; the
    /// slow path serves deeper teaching geometries). Derived from `pageShift` and `levelBits`.
    @usableFromInline private(set) var shiftBytes: UInt64 = 0
    @usableFromInline private(set) var bitBytes: UInt64 = 0
    /// Whether the packed form holds every level.
    @usableFromInline private(set) var packed = false
    /// Size of one entry in bytes (4 for i386, 8 for PAE and x86-64).
    public var entryBytes: Int
    /// Width of a physical address in bits (32 i386, 36 PAE, 52 x86-64).
    public var physicalBits: Int
    /// Levels (0 = root) whose entries map a large page when PS is set: the page directory on
    /// i386 (4 MiB, PSE) and PAE (2 MiB), PMD and PUD on x86-64 (2 MiB, 1 GiB); none for
    /// teaching geometries.
    public var largePageLevels: [Int]
    /// The root's entries are PAE PDPTEs: only Present counts (no R/W, U/S, NX, Accessed), and
    /// a table under one is reached whatever the access (Intel SDM §4.4.1).
    public var rootIsPDPT: Bool

    public init(
        addressBits: Int, pageShift: Int, levelBits: [Int], entryBytes: Int, physicalBits: Int,
        largePageLevels: [Int] = [], rootIsPDPT: Bool = false
    ) {
        self.addressBits = addressBits
        self.pageShift = pageShift
        self.levelBits = levelBits
        self.entryBytes = entryBytes
        self.physicalBits = physicalBits
        self.largePageLevels = largePageLevels
        self.rootIsPDPT = rootIsPDPT
        self.derive()
    }

    /// Recomputes `levels` and the packed per-level shifts and widths.
    private mutating func derive() {
        self.levels = self.levelBits.count
        var shifts: UInt64 = 0
        var bits: UInt64 = 0
        var shift = self.pageShift
        var packs = self.levels <= 8 && shift >= 0
        for l in stride(from: self.levels - 1, through: 0, by: -1) {
            packs = packs && (0..<64).contains(self.levelBits[l]) && shift < 256
            guard packs else { break }
            shifts |= UInt64(shift) << UInt64(8 * l)
            bits |= UInt64(self.levelBits[l]) << UInt64(8 * l)
            shift += self.levelBits[l]
        }
        self.packed = packs
        self.shiftBytes = packs ? shifts : 0
        self.bitBytes = packs ? bits : 0
    }

    /// The size of the page an entry at `level` maps (the level's span).
    public func span(ofLevel level: Int) -> UInt64 { 1 << UInt64(self.shift(ofLevel: level)) }
    /// The smallest large page (the one above the leaf level: 2 MiB or 4 MiB), if there is one.
    public var largePageSize: UInt64? {
        self.largePageLevels.contains(self.levels - 2) ? self.span(ofLevel: self.levels - 2) : nil
    }

    public var pageSize: UInt64 { 1 << UInt64(self.pageShift) }
    /// Number of entries in a table of level `level` (0 = root).
    public func entries(atLevel level: Int) -> Int { 1 << self.levelBits[level] }
    /// The lowest address bit indexed by level `level` (0 = root).
    @inlinable @inline(__always) public func shift(ofLevel level: Int) -> Int {
        if self.packed && level < self.levels {
            return Int(
                truncatingIfNeeded: (self.shiftBytes &>> UInt64(truncatingIfNeeded: level &* 8)) & 0xFF)
        }
        return self.unpackedShift(ofLevel: level)
    }
    /// `shift(ofLevel:)` for geometries the packed form cannot hold (out of line, so the packed
    /// path inlines into the walkers).
    @usableFromInline func unpackedShift(ofLevel level: Int) -> Int {
        var shift = self.pageShift
        for l in stride(from: self.levels - 1, to: level, by: -1) { shift += self.levelBits[l] }
        return shift
    }
    /// The index into the table of level `level` for address `va`.
    @inlinable @inline(__always) public func index(of va: UInt64, atLevel level: Int) -> Int {
        if self.packed {
            let byte = UInt64(truncatingIfNeeded: level &* 8)
            let shift = (self.shiftBytes &>> byte) & 0xFF
            let bits = (self.bitBytes &>> byte) & 0xFF
            return Int(truncatingIfNeeded: (va >> shift) & ((1 &<< bits) &- 1))
        }
        return self.unpackedIndex(of: va, atLevel: level)
    }
    /// `index(of:atLevel:)` for geometries the packed form cannot hold.
    @usableFromInline func unpackedIndex(of va: UInt64, atLevel level: Int) -> Int {
        var shift = self.pageShift
        var l = self.levelBits.count - 1
        while l > level {
            shift += self.levelBits[l]
            l -= 1
        }
        return Int((va >> UInt64(shift)) & ((1 << UInt64(self.levelBits[level])) - 1))
    }
    /// Checks that the levels and the page offset add up to the address width.
    public var isConsistent: Bool {
        self.levelBits.allSatisfy { $0 > 0 } && self.levelBits.reduce(self.pageShift, +) == self.addressBits
    }
    /// Linux's names for the levels, leaf last: `PGD P4D PUD PMD PTE` trimmed to `levels`.
    public var levelNames: [String] {
        switch self.levels {
        case 1: return ["PT"]
        case 2: return ["PGD", "PTE"]
        case 3: return ["PGD", "PMD", "PTE"]
        case 4: return ["PGD", "PUD", "PMD", "PTE"]
        case 5: return ["PGD", "P4D", "PUD", "PMD", "PTE"]
        default: return (0..<self.levels).map { "L\(self.levels - $0)" }
        }
    }
}

/// An architecture as a value: paging geometry, address-space split and zone layout.
///
/// Models what arch/x86 fixes at build time: `TASK_SIZE`, `PAGE_OFFSET` (start of the direct
/// map), `VMALLOC_START`/`VMALLOC_END`, the page-table format and the zones.
public struct Architecture: Sendable, Hashable, CustomStringConvertible {
    /// The name used on the command line (`x86_64`, `i386`, `i386-pae`, `x86_64-la57`, `teach15`).
    public var name: String
    public var paging: PagingGeometry
    /// x86-64: addresses must be sign-extended from bit `addressBits - 1`.
    public var requiresCanonical: Bool
    /// One past the highest user address (`TASK_SIZE`; `TASK_SIZE_MAX` on x86-64).
    public var userTop: UInt64
    /// Start of the kernel's direct map of physical memory (`PAGE_OFFSET`); `__va(pa) = pa + this`.
    public var pageOffset: UInt64
    /// The vmalloc range (`VMALLOC_START`, `VMALLOC_END` inclusive as in Linux).
    public var vmallocStart: UInt64
    public var vmallocEnd: UInt64
    /// Physical memory above this address is not direct-mapped (i386 HighMem); nil = all of it is.
    public var directMapLimit: UInt64?
    public var zoneLayout: ZoneLayout
    /// Whether entries have an NX bit (PAE and x86-64).
    public var hasNoExecute: Bool
    /// `THREAD_SIZE`: 16 KiB on x86-64, 8 KiB on i386.
    public var kernelStackSize: UInt64
    /// Kernel stacks come from vmalloc (`CONFIG_VMAP_STACK`, x86-64 only) rather than the buddy allocator.
    public var vmapStack: Bool
    /// A 64-bit kernel (`CONFIG_64BIT`): longs and pointers of 8 bytes.
    public var is64Bit: Bool
    /// The most RAM vmsim boots on it: 4 GiB for i386 (32-bit physical addresses), 64 GiB
    /// for PAE (36 bits, the limit Linux supports), 1 TiB for x86-64 (a vmsim cap).
    public var maxMemory: UInt64
    /// Bits of a swap entry's offset that survive the trip swp_entry → swap PTE → swp_entry
    /// (`generic_max_swapfile_size()`): PTE bits 14…63 on x86-64 (pgtable_64.h), a 32-bit
    /// `swp_entry_t` minus 5 type bits and the XArray bit on PAE (swapops.h), PTE bits 9…31 on
    /// i386 (pgtable-2level.h).
    public var swapOffsetBits: Int

    public var description: String { self.name }
    public var pageShift: Int { self.paging.pageShift }
    public var pageSize: UInt64 { self.paging.pageSize }

    /// Whether `va` is a canonical address (always true where canonical form is not required).
    @inlinable public func isCanonical(_ va: UInt64) -> Bool {
        if !self.requiresCanonical {
            return self.paging.addressBits >= 64 || va >> UInt64(self.paging.addressBits) == 0
        }
        let shift = UInt64(64 - self.paging.addressBits)
        return UInt64(bitPattern: (Int64(bitPattern: va << shift)) >> Int64(shift)) == va
    }

    /// x86-64 with 4-level paging: 48-bit addresses, 128 TiB for user space.
    public static let x86_64 = Architecture(
        name: "x86_64",
        paging: PagingGeometry(
            addressBits: 48, pageShift: 12, levelBits: [9, 9, 9, 9], entryBytes: 8, physicalBits: 52,
            largePageLevels: [1, 2]),
        requiresCanonical: true, userTop: 0x0000_7fff_ffff_f000, pageOffset: 0xffff_8880_0000_0000,
        vmallocStart: 0xffff_c900_0000_0000, vmallocEnd: 0xffff_e8ff_ffff_ffff, directMapLimit: nil,
        zoneLayout: .pc64, hasNoExecute: true, kernelStackSize: 16384, vmapStack: true, is64Bit: true,
        maxMemory: 1 << 40, swapOffsetBits: 50)

    /// x86-64 with 5-level paging (LA57): 57-bit addresses, 64 PiB for user space.
    public static let x86_64LA57 = Architecture(
        name: "x86_64-la57",
        paging: PagingGeometry(
            addressBits: 57, pageShift: 12, levelBits: [9, 9, 9, 9, 9], entryBytes: 8, physicalBits: 52,
            largePageLevels: [2, 3]),
        requiresCanonical: true, userTop: 0x00ff_ffff_ffff_f000, pageOffset: 0xff11_0000_0000_0000,
        vmallocStart: 0xffa0_0000_0000_0000, vmallocEnd: 0xffd1_ffff_ffff_ffff, directMapLimit: nil,
        zoneLayout: .pc64, hasNoExecute: true, kernelStackSize: 16384, vmapStack: true, is64Bit: true,
        maxMemory: 1 << 40, swapOffsetBits: 50)

    /// i386 without PAE: the two-level 10/10/12 tables of the notes, the 3G/1G split at 0xC0000000.
    public static let i386 = Architecture(
        name: "i386",
        paging: PagingGeometry(
            addressBits: 32, pageShift: 12, levelBits: [10, 10], entryBytes: 4, physicalBits: 32,
            largePageLevels: [0]),
        requiresCanonical: false, userTop: 0xC000_0000, pageOffset: 0xC000_0000,
        vmallocStart: 0xF880_0000, vmallocEnd: 0xFF7F_DFFF, directMapLimit: 896 << 20,
        zoneLayout: .pc32, hasNoExecute: false, kernelStackSize: 8192, vmapStack: false, is64Bit: false,
        maxMemory: 4 << 30, swapOffsetBits: 23)

    /// i386 with PAE: 2/9/9/12 with 8-byte entries and NX, 36-bit physical addresses.
    public static let i386PAE = Architecture(
        name: "i386-pae",
        paging: PagingGeometry(
            addressBits: 32, pageShift: 12, levelBits: [2, 9, 9], entryBytes: 8, physicalBits: 36,
            largePageLevels: [1], rootIsPDPT: true),
        requiresCanonical: false, userTop: 0xC000_0000, pageOffset: 0xC000_0000,
        vmallocStart: 0xF880_0000, vmallocEnd: 0xFF7F_DFFF, directMapLimit: 896 << 20,
        zoneLayout: .pc32, hasNoExecute: true, kernelStackSize: 8192, vmapStack: false, is64Bit: false,
        maxMemory: 64 << 30, swapOffsetBits: 26)

    /// The architectures known by name.
    public static let named: [Architecture] = [.x86_64, .x86_64LA57, .i386, .i386PAE]

    /// Looks an architecture up by its command-line name.
    public static func named(_ name: String) -> Architecture? {
        Architecture.named.first { $0.name == name }
    }

    /// A small teaching geometry: `addressBits`-bit addresses, pages of `1 << pageShift` bytes,
    /// the given bits per level, 1- to 8-byte entries, no canonical rule, no kernel half.
    public static func teaching(
        addressBits: Int, pageShift: Int, levelBits: [Int], entryBytes: Int = 1,
        physicalBits: Int? = nil
    ) -> Architecture {
        let top: UInt64 = addressBits >= 64 ? UInt64.max : 1 << UInt64(addressBits)
        return Architecture(
            name: "teach\(addressBits)",
            paging: PagingGeometry(
                addressBits: addressBits, pageShift: pageShift, levelBits: levelBits,
                entryBytes: entryBytes, physicalBits: physicalBits ?? addressBits),
            requiresCanonical: false, userTop: top, pageOffset: top, vmallocStart: top, vmallocEnd: top,
            directMapLimit: nil, zoneLayout: .pc64, hasNoExecute: false, kernelStackSize: 0, vmapStack: false,
            is64Bit: false, maxMemory: 0, swapOffsetBits: 0)
    }
}
