/// Allocation flags: which zones may be used and what the allocator may do to succeed.
///
/// Models `gfp_t` (include/linux/gfp_types.h). Zone modifiers pick the highest usable zone
/// (`gfp_zone()`); the rest say whether the caller may sleep, reclaim, or dip into reserves.
public struct GFP: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable public static var dma: GFP { GFP(rawValue: 1 << 0) }
    @inlinable public static var highmem: GFP { GFP(rawValue: 1 << 1) }
    @inlinable public static var dma32: GFP { GFP(rawValue: 1 << 2) }
    @inlinable public static var movable: GFP { GFP(rawValue: 1 << 3) }
    /// `__GFP_RECLAIMABLE`: slab pages a shrinker can free.
    @inlinable public static var reclaimable: GFP { GFP(rawValue: 1 << 4) }
    /// `__GFP_HIGH`: may use part of the min reserve (`ALLOC_MIN_RESERVE`).
    @inlinable public static var high: GFP { GFP(rawValue: 1 << 5) }
    @inlinable public static var io: GFP { GFP(rawValue: 1 << 6) }
    @inlinable public static var fs: GFP { GFP(rawValue: 1 << 7) }
    @inlinable public static var zero: GFP { GFP(rawValue: 1 << 8) }
    /// `__GFP_DIRECT_RECLAIM`: the caller may sleep and reclaim itself.
    @inlinable public static var directReclaim: GFP { GFP(rawValue: 1 << 10) }
    /// `__GFP_KSWAPD_RECLAIM`: wake kswapd when a zone falls below its low watermark.
    @inlinable public static var kswapdReclaim: GFP { GFP(rawValue: 1 << 11) }
    @inlinable public static var noWarn: GFP { GFP(rawValue: 1 << 13) }
    @inlinable public static var noRetry: GFP { GFP(rawValue: 1 << 16) }
    /// `__GFP_COMP`: make a compound page.
    @inlinable public static var comp: GFP { GFP(rawValue: 1 << 18) }
    /// `__GFP_NOMEMALLOC`: never use reserves.
    @inlinable public static var noMemalloc: GFP { GFP(rawValue: 1 << 19) }
    @inlinable public static var hardwall: GFP { GFP(rawValue: 1 << 20) }
    @inlinable public static var account: GFP { GFP(rawValue: 1 << 22) }

    /// `__GFP_RECLAIM`.
    @inlinable public static var reclaim: GFP { [.directReclaim, .kswapdReclaim] }
    /// `GFP_ATOMIC`: cannot sleep, may use reserves.
    @inlinable public static var atomic: GFP { [.high, .kswapdReclaim] }
    /// `GFP_NOWAIT`: cannot sleep, no reserves.
    @inlinable public static var nowait: GFP { [.kswapdReclaim] }
    /// `GFP_KERNEL`: normal kernel allocation.
    @inlinable public static var kernel: GFP { [.directReclaim, .kswapdReclaim, .io, .fs] }
    /// `GFP_KERNEL_ACCOUNT`.
    @inlinable public static var kernelAccount: GFP { [.directReclaim, .kswapdReclaim, .io, .fs, .account] }
    /// `GFP_USER`: user pages that must stay in low memory.
    @inlinable public static var user: GFP { [.directReclaim, .kswapdReclaim, .io, .fs, .hardwall] }
    /// `GFP_HIGHUSER`.
    @inlinable public static var highUser: GFP {
        [.directReclaim, .kswapdReclaim, .io, .fs, .hardwall, .highmem]
    }
    /// `GFP_HIGHUSER_MOVABLE`: anonymous and page-cache pages of user processes.
    @inlinable public static var highUserMovable: GFP {
        [.directReclaim, .kswapdReclaim, .io, .fs, .hardwall, .highmem, .movable]
    }

    /// Flags written the way the kernel prints them (`%pGg`).
    public var description: String {
        for (flags, name) in [
            (GFP.highUserMovable, "GFP_HIGHUSER_MOVABLE"), (GFP.highUser, "GFP_HIGHUSER"),
            (GFP.user, "GFP_USER"),
            (GFP.kernelAccount, "GFP_KERNEL_ACCOUNT"), (GFP.kernel, "GFP_KERNEL"), (GFP.atomic, "GFP_ATOMIC"),
            (GFP.nowait, "GFP_NOWAIT"),
        ] where self.isSuperset(of: flags) {
            let rest = self.subtracting(flags)
            return rest.isEmpty ? name : name + "|" + GFP.flagNames(rest)
        }
        return GFP.flagNames(self)
    }

    static func flagNames(_ flags: GFP) -> String {
        let names: [(GFP, String)] = [
            (.dma, "__GFP_DMA"), (.highmem, "__GFP_HIGHMEM"), (.dma32, "__GFP_DMA32"),
            (.movable, "__GFP_MOVABLE"),
            (.reclaimable, "__GFP_RECLAIMABLE"), (.high, "__GFP_HIGH"), (.io, "__GFP_IO"), (.fs, "__GFP_FS"),
            (.zero, "__GFP_ZERO"), (.directReclaim, "__GFP_DIRECT_RECLAIM"),
            (.kswapdReclaim, "__GFP_KSWAPD_RECLAIM"),
            (.noWarn, "__GFP_NOWARN"), (.noRetry, "__GFP_NORETRY"), (.comp, "__GFP_COMP"),
            (.noMemalloc, "__GFP_NOMEMALLOC"), (.hardwall, "__GFP_HARDWALL"), (.account, "__GFP_ACCOUNT"),
        ]
        let parts = names.filter { flags.contains($0.0) }.map(\.1)
        return parts.isEmpty ? "0" : parts.joined(separator: "|")
    }
}
