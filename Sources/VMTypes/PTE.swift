/// Permission and status bits of a page-table entry.
///
/// Bit positions follow x86 (`_PAGE_BIT_*` in arch/x86/include/asm/pgtable_types.h) so a dump
/// reads like a real one. The low 12 bits are the same for 32-bit (i386), PAE and 64-bit entries;
/// `noExecute` (bit 63) exists only in 8-byte entries (PAE and x86-64).
///
/// ```
///  63  62…52  51 ………………… 12  11 10  9   8   7   6   5   4    3    2   1   0
/// +--+-------+--------------+---+---+--+---+---+---+---+----+----+---+---+---+
/// |NX| avail | frame number |av |av |av| G |PS | D | A |PCD |PWT |U/S|R/W| P |
/// +--+-------+--------------+---+---+--+---+---+---+---+----+----+---+---+---+
/// ```
@frozen
public struct PTEFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// `_PAGE_PRESENT`: the entry maps something.
    @inlinable public static var present: PTEFlags { PTEFlags(rawValue: 1 << 0) }
    /// `_PAGE_RW`: writes allowed.
    @inlinable public static var writable: PTEFlags { PTEFlags(rawValue: 1 << 1) }
    /// `_PAGE_USER`: user-mode access allowed.
    @inlinable public static var user: PTEFlags { PTEFlags(rawValue: 1 << 2) }
    /// `_PAGE_PWT`: write-through caching.
    @inlinable public static var writeThrough: PTEFlags { PTEFlags(rawValue: 1 << 3) }
    /// `_PAGE_PCD`: caching disabled.
    @inlinable public static var cacheDisable: PTEFlags { PTEFlags(rawValue: 1 << 4) }
    /// `_PAGE_ACCESSED`: set by the MMU on every walk that uses the entry.
    @inlinable public static var accessed: PTEFlags { PTEFlags(rawValue: 1 << 5) }
    /// `_PAGE_DIRTY`: set by the MMU on a write through a leaf entry.
    @inlinable public static var dirty: PTEFlags { PTEFlags(rawValue: 1 << 6) }
    /// `_PAGE_PSE`: a large page in a non-leaf level (PAT bit in a leaf PTE).
    @inlinable public static var pageSize: PTEFlags { PTEFlags(rawValue: 1 << 7) }
    /// `_PAGE_GLOBAL`: the TLB entry survives CR3 loads.
    @inlinable public static var global: PTEFlags { PTEFlags(rawValue: 1 << 8) }
    /// `_PAGE_SOFTW1` (bit 9): vmsim uses it, like Linux's `_PAGE_SOFT_DIRTY`/special bits, for
    /// "copy on write": a write-protected private page that may be copied.
    @inlinable public static var software1: PTEFlags { PTEFlags(rawValue: 1 << 9) }
    /// `_PAGE_NX`: instruction fetches not allowed (8-byte entries only).
    @inlinable public static var noExecute: PTEFlags { PTEFlags(rawValue: 1 << 63) }

    /// Every flag that has a position in the low 12 bits or bit 63.
    public static let allFlags: PTEFlags = [
        .present, .writable, .user, .writeThrough, .cacheDisable, .accessed, .dirty, .pageSize,
        .global, .software1, .noExecute,
    ]

    /// The letters of a dump, in bit order: `P RW US PWT PCD A D PS G NX`.
    public var description: String {
        var parts: [String] = []
        for (flag, name) in PTEFlags.names where self.contains(flag) { parts.append(name) }
        return parts.joined(separator: " ")
    }

    /// Short names in bit order, as a page-table dump prints them.
    public static let names: [(PTEFlags, String)] = [
        (.present, "P"), (.writable, "RW"), (.user, "US"), (.writeThrough, "PWT"), (.cacheDisable, "PCD"),
        (.accessed, "A"), (.dirty, "D"), (.pageSize, "PS"), (.global, "G"), (.software1, "SW1"),
        (.noExecute, "NX"),
    ]
}

/// A page-table entry: a raw integer with typed views of its frame, flags and swap entry.
///
/// Models `pte_t`/`pmd_t`/`pud_t`/`p4d_t`/`pgd_t` (arch/x86/include/asm/pgtable_types.h). The
/// frame field occupies bits 12…51 (x86-64 and PAE) or 12…31 (i386); 4-byte i386 entries are
/// stored in the low half of the 64-bit value. A non-present entry that is not zero holds a swap
/// entry (see `SwapEntry`), as `pte_to_swp_entry()` decodes it.
@frozen
public struct PTE: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Frame bits 12…51, shared by all x86 formats (i386 entries never set bits above 31).
    @inlinable public static var frameMask: UInt64 { 0x000F_FFFF_FFFF_F000 }
    @inlinable public static var none: PTE { PTE(rawValue: 0) }

    /// An entry mapping `pfn` with `flags`. The frame number is stored in bits 12 and up whatever
    /// the page size; teaching geometries print their own, narrower entry format.
    @inlinable public init(pfn: PFN, flags: PTEFlags) {
        self.rawValue = ((pfn.rawValue << 12) & PTE.frameMask) | flags.rawValue
    }
    /// An entry that maps nothing but records where the page went in swap. `exclusive`
    /// (`_PAGE_SWP_EXCLUSIVE`) says the page was exclusively this mapping's when it went out,
    /// so swapping it back in may map it writable without a copy.
    @inlinable public init(swap entry: SwapEntry, exclusive: Bool = false) {
        self.rawValue = entry.pteBits | (exclusive ? PTE.swapExclusiveBit : 0)
    }
    /// The bit marking an exclusive swap entry (bit 7; the type and offset use bits 1–5 and 9+).
    @inlinable public static var swapExclusiveBit: UInt64 { 1 << 7 }
    /// `pte_swp_exclusive()`.
    @inlinable public var isSwapExclusive: Bool { self.isSwap && self.rawValue & PTE.swapExclusiveBit != 0 }

    @inlinable public var isNone: Bool { self.rawValue == 0 }
    @inlinable public var isPresent: Bool { self.rawValue & PTEFlags.present.rawValue != 0 }
    /// A `PROT_NONE` entry (`_PAGE_PROTNONE`, which shares bit 8 with Global): not present for
    /// the MMU, but it still maps its frame for the kernel.
    @inlinable public var isProtNone: Bool {
        self.rawValue & (PTEFlags.present.rawValue | PTEFlags.global.rawValue) == PTEFlags.global.rawValue
    }
    /// Present for the kernel (`pte_present()`): present or PROT_NONE.
    @inlinable public var mapsFrame: Bool { self.isPresent || self.isProtNone }
    /// A non-present, non-empty entry that is not PROT_NONE: a swap entry.
    @inlinable public var isSwap: Bool { !self.isPresent && self.rawValue != 0 && !self.isProtNone }
    @inlinable public var pfn: PFN { PFN(rawValue: (self.rawValue & PTE.frameMask) >> 12) }
    @inlinable public var flags: PTEFlags {
        get { PTEFlags(rawValue: self.rawValue & ~PTE.frameMask) }
        set { self.rawValue = (self.rawValue & PTE.frameMask) | (newValue.rawValue & ~PTE.frameMask) }
    }
    @inlinable public var swapEntry: SwapEntry? { self.isSwap ? SwapEntry(pteBits: self.rawValue) : nil }
    @inlinable public func contains(_ flag: PTEFlags) -> Bool {
        self.rawValue & flag.rawValue == flag.rawValue
    }

    public var description: String {
        if self.isNone { return "none" }
        if self.isProtNone { return "\(self.pfn) PROTNONE" }
        if let swap = self.swapEntry { return "swap \(swap)" }
        return "\(self.pfn) \(self.flags)"
    }
}

/// Where a swapped-out page lives: a swap area (type) and a slot in it (offset).
///
/// Models `swp_entry_t` (include/linux/swapops.h). In a non-present x86-64 PTE Linux stores the
/// inverted offset in bits 9…63 and the type in bits 1…5 (arch/x86/include/asm/pgtable_64.h);
/// vmsim keeps the same fields un-inverted: type in bits 1…5, offset in bits 9…58, and sets bit 6
/// so that type 0, offset 0 is not mistaken for an empty entry (Linux gets this from the inversion).
@frozen
public struct SwapEntry: Hashable, Sendable, CustomStringConvertible {
    /// Index of the swap area (`swap_info[type]`), 0…31.
    public var type: Int
    /// Slot number in the area, in pages.
    public var offset: UInt64
    @inlinable public static var maxTypes: Int { 32 }
    @inlinable public static var maxOffset: UInt64 { (1 << 50) - 1 }

    @inlinable public init(type: Int, offset: UInt64) {
        precondition(type >= 0 && type < SwapEntry.maxTypes, "SwapEntry: type \(type) out of range")
        precondition(offset <= SwapEntry.maxOffset, "SwapEntry: offset \(offset) out of range")
        self.type = type
        self.offset = offset
    }
    @inlinable init(pteBits: UInt64) {
        self.type = Int((pteBits >> 1) & 0x1F)
        self.offset = (pteBits >> 9) & SwapEntry.maxOffset
    }
    @inlinable var pteBits: UInt64 { (UInt64(self.type) << 1) | (self.offset << 9) | (1 << 6) }
    public var description: String { "type=\(self.type) offset=\(hex(self.offset))" }
}
