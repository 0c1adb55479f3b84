/// Allocation flags: which zones may be used and what the allocator may do to succeed.
///
/// Models `gfp_t` (include/linux/gfp_types.h). Zone modifiers pick the highest usable zone
/// (`gfp_zone()`); the rest say whether the caller may sleep, reclaim, or dip into reserves.
public struct GFP: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let dma = GFP(rawValue: 1 << 0)
    public static let highmem = GFP(rawValue: 1 << 1)
    public static let dma32 = GFP(rawValue: 1 << 2)
    public static let movable = GFP(rawValue: 1 << 3)
    /// `__GFP_RECLAIMABLE`: slab pages a shrinker can free.
    public static let reclaimable = GFP(rawValue: 1 << 4)
    /// `__GFP_HIGH`: may use part of the min reserve (`ALLOC_MIN_RESERVE`).
    public static let high = GFP(rawValue: 1 << 5)
    public static let io = GFP(rawValue: 1 << 6)
    public static let fs = GFP(rawValue: 1 << 7)
    public static let zero = GFP(rawValue: 1 << 8)
    /// `__GFP_DIRECT_RECLAIM`: the caller may sleep and reclaim itself.
    public static let directReclaim = GFP(rawValue: 1 << 10)
    /// `__GFP_KSWAPD_RECLAIM`: wake kswapd when a zone falls below its low watermark.
    public static let kswapdReclaim = GFP(rawValue: 1 << 11)
    public static let noWarn = GFP(rawValue: 1 << 13)
    public static let noRetry = GFP(rawValue: 1 << 16)
    /// `__GFP_COMP`: make a compound page.
    public static let comp = GFP(rawValue: 1 << 18)
    /// `__GFP_NOMEMALLOC`: never use reserves.
    public static let noMemalloc = GFP(rawValue: 1 << 19)
    public static let hardwall = GFP(rawValue: 1 << 20)
    public static let account = GFP(rawValue: 1 << 22)

    /// `__GFP_RECLAIM`.
    public static let reclaim: GFP = [.directReclaim, .kswapdReclaim]
    /// `GFP_ATOMIC`: cannot sleep, may use reserves.
    public static let atomic: GFP = [.high, .kswapdReclaim]
    /// `GFP_NOWAIT`: cannot sleep, no reserves.
    public static let nowait: GFP = [.kswapdReclaim]
    /// `GFP_KERNEL`: normal kernel allocation.
    public static let kernel: GFP = [.directReclaim, .kswapdReclaim, .io, .fs]
    /// `GFP_KERNEL_ACCOUNT`.
    public static let kernelAccount: GFP = [.directReclaim, .kswapdReclaim, .io, .fs, .account]
    /// `GFP_USER`: user pages that must stay in low memory.
    public static let user: GFP = [.directReclaim, .kswapdReclaim, .io, .fs, .hardwall]
    /// `GFP_HIGHUSER`.
    public static let highUser: GFP = [.directReclaim, .kswapdReclaim, .io, .fs, .hardwall, .highmem]
    /// `GFP_HIGHUSER_MOVABLE`: anonymous and page-cache pages of user processes.
    public static let highUserMovable: GFP = [
        .directReclaim, .kswapdReclaim, .io, .fs, .hardwall, .highmem, .movable,
    ]

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
