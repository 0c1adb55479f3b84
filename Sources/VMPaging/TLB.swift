import VMTypes

/// Size and shape of one TLB level.
public struct TLBGeometry: Hashable, Sendable {
    public var entries: Int
    public var ways: Int
    public init(entries: Int, ways: Int) {
        precondition(
            entries > 0 && ways > 0 && entries % ways == 0,
            "TLBGeometry: \(entries) entries cannot be split into \(ways) ways")
        let sets = entries / ways
        precondition(sets & (sets - 1) == 0, "TLBGeometry: \(sets) sets is not a power of two")
        self.entries = entries
        self.ways = ways
    }
    public var sets: Int { self.entries / self.ways }
    /// A current x86 core's first-level data TLB: 64 entries, 4-way.
    public static let l1Data = TLBGeometry(entries: 64, ways: 4)
    /// A current x86 core's shared second-level TLB: 1536 entries, 12-way.
    public static let l2Shared = TLBGeometry(entries: 1536, ways: 12)
}

/// What a TLB entry remembers about a translation: the frame and the effective rights.
@frozen
public struct TLBEntryBits: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static var writable: TLBEntryBits { TLBEntryBits(rawValue: 1 << 0) }
    @inlinable public static var user: TLBEntryBits { TLBEntryBits(rawValue: 1 << 1) }
    @inlinable public static var noExecute: TLBEntryBits { TLBEntryBits(rawValue: 1 << 2) }
    @inlinable public static var dirty: TLBEntryBits { TLBEntryBits(rawValue: 1 << 3) }
    @inlinable public static var global: TLBEntryBits { TLBEntryBits(rawValue: 1 << 4) }

    /// Why cached rights refuse an access, or nil if they permit it — the same checks, in the
    /// same order, as the page walk: U/S, R/W (for the kernel only with CR0.WP), NX, SMEP, SMAP.
    @inlinable @inline(__always)
    public func faultCause(_ access: Access, mode: CPUMode, features: CPUFeatures) -> FaultCause? {
        let user = self.contains(.user)
        if mode == .user && !user { return .userToSupervisor }
        if access == .write && !self.contains(.writable) && (mode == .user || features.writeProtect) {
            return .writeToReadOnly
        }
        if access == .execute && self.contains(.noExecute) { return .executeNoExecute }
        if mode == .kernel && user && access == .execute && features.smep { return .supervisorExecutesUser }
        if mode == .kernel && user && access != .execute && features.smap { return .supervisorAccessesUser }
        return nil
    }

    /// The bits a successful walk leaves in the TLB.
    @inlinable public init(_ m: Mapping) {
        var bits: TLBEntryBits = []
        if m.writable { bits.insert(.writable) }
        if m.user { bits.insert(.user) }
        if m.noExecute { bits.insert(.noExecute) }
        if m.dirty { bits.insert(.dirty) }
        if m.global { bits.insert(.global) }
        self = bits
    }
}

/// TLB counters.
public struct TLBStats: Hashable, Sendable {
    /// Lookups answered by the first level, by the second level, and by neither.
    public var l1Hits: UInt64 = 0
    public var l2Hits: UInt64 = 0
    public var misses: UInt64 = 0
    /// Page walks: one per miss, plus one per write through an entry not yet dirty.
    public var walks: UInt64 = 0
    /// Entries dropped by `invlpg` (single-address invalidations) and full or per-PCID flushes.
    public var invalidations: UInt64 = 0
    public var flushes: UInt64 = 0
    public var lookups: UInt64 { self.l1Hits + self.l2Hits + self.misses }
    public init() {}
}

/// One set-associative TLB level, as a struct of arrays: tag, translation and LRU stamp per entry.
///
/// A tag is the virtual page number and the PCID, with bit 63 marking a valid entry; a global
/// entry carries PCID 0xFFF so it matches whatever PCID is current. Replacement is LRU within
/// the set (invalid entries first).
@usableFromInline
final class TLBLevel {
    @usableFromInline let geometry: TLBGeometry
    @usableFromInline let ways: Int
    @usableFromInline let setMask: UInt64
    @usableFromInline let tags: UnsafeMutablePointer<UInt64>
    @usableFromInline let values: UnsafeMutablePointer<UInt64>
    @usableFromInline let stamps: UnsafeMutablePointer<UInt64>

    init(_ geometry: TLBGeometry) {
        self.geometry = geometry
        self.ways = geometry.ways
        self.setMask = UInt64(geometry.sets - 1)
        self.tags = .allocate(capacity: geometry.entries)
        self.tags.initialize(repeating: 0, count: geometry.entries)
        self.values = .allocate(capacity: geometry.entries)
        self.values.initialize(repeating: 0, count: geometry.entries)
        self.stamps = .allocate(capacity: geometry.entries)
        self.stamps.initialize(repeating: 0, count: geometry.entries)
    }

    deinit {
        self.tags.deallocate()
        self.values.deallocate()
        self.stamps.deallocate()
    }

    /// Index of the entry holding `vpn` for `pcid` (or a global one), or -1.
    @inlinable @inline(__always) func find(vpn: UInt64, tag: UInt64, globalTag: UInt64) -> Int {
        let first = Int(truncatingIfNeeded: vpn & self.setMask) &* self.ways
        var i = first
        let end = first &+ self.ways
        while i < end {
            let t = self.tags[i]
            if t == tag || t == globalTag { return i }
            i &+= 1
        }
        return -1
    }

    /// Installs a translation that is not cached yet, in the way with the oldest stamp (invalid
    /// ways have stamp 0, so they go first).
    @inlinable @inline(__always) func insert(vpn: UInt64, tag: UInt64, value: UInt64, stamp: UInt64) {
        self.place(self.oldest(vpn: vpn), tag: tag, value: value, stamp: stamp)
    }

    /// The way of `vpn`'s set with the oldest stamp (the first of equals): where `insert` puts a
    /// new entry.
    @inlinable @inline(__always) func oldest(vpn: UInt64) -> Int {
        let first = Int(truncatingIfNeeded: vpn & self.setMask) &* self.ways
        var victim = first
        var oldest = self.stamps[first]
        var i = first &+ 1
        let end = first &+ self.ways
        while i < end {
            let s = self.stamps[i]
            if s < oldest {
                victim = i
                oldest = s
            }
            i &+= 1
        }
        return victim
    }

    /// Writes an entry into way `i`.
    @inlinable @inline(__always) func place(_ i: Int, tag: UInt64, value: UInt64, stamp: UInt64) {
        self.tags[i] = tag
        self.values[i] = value
        self.stamps[i] = stamp
    }

    /// Drops the entries of `vpn`'s set whose tag is `tag` or `globalTag`; returns how many.
    func invalidateExact(vpn: UInt64, tag: UInt64, globalTag: UInt64) -> Int {
        let first = Int(vpn & self.setMask) * self.geometry.ways
        var n = 0
        for i in first..<(first + self.geometry.ways) where self.tags[i] == tag || self.tags[i] == globalTag {
            self.tags[i] = 0
            self.stamps[i] = 0
            n += 1
        }
        return n
    }

    /// Drops entries matching `predicate` on their tag; returns how many.
    func invalidate(where predicate: (UInt64) -> Bool) -> Int {
        var n = 0
        for i in 0..<self.geometry.entries where self.tags[i] & TLB.validBit != 0 && predicate(self.tags[i]) {
            self.tags[i] = 0
            self.stamps[i] = 0
            n += 1
        }
        return n
    }

    /// Valid entries, for dumps: (tag, value).
    func validEntries() -> [(UInt64, UInt64)] {
        (0..<self.geometry.entries).compactMap {
            self.tags[$0] & TLB.validBit != 0 ? (self.tags[$0], self.values[$0]) : nil
        }
    }
}

/// A two-level, PCID-tagged TLB, modelled on a current x86 core.
///
/// Lookups go to the first level, then the second; a second-level hit is copied into the first;
/// a miss is filled into both after the walk. Entries are tagged with the PCID current when they
/// were filled, so switching CR3 with PCIDs enabled keeps other address spaces' entries; without
/// PCIDs, every CR3 load flushes all non-global entries. Global entries survive CR3 loads and
/// are dropped only by `flushAll()` (CR4.PGE toggle) or `invlpg` of their address.
///
/// Simplified: one page size per entry (large pages are cached as 4 KiB pieces, as the
/// "splintering" some CPUs do), no separate instruction TLB, no paging-structure caches.
public final class TLB {
    @inlinable static var validBit: UInt64 { 1 << 63 }
    @inlinable static var globalPCID: UInt64 { 0xFFF }
    @usableFromInline let l1: TLBLevel
    @usableFromInline let l2: TLBLevel?
    /// Whether entries are tagged with PCIDs.
    public let pcidEnabled: Bool
    /// Mutable scalars (current PCID, LRU clock, counters), kept out of line so lookups update
    /// them in place without exclusivity bookkeeping.
    @usableFromInline struct State {
        @usableFromInline var currentPCID: UInt64 = 0
        @usableFromInline var clock: UInt64 = 0
        @usableFromInline var stats = TLBStats()
        /// The last lookup that missed both levels: its page, the clock it ran at, and the
        /// victim way of each level its scans found. A fill of that page with nothing in
        /// between (no lookup, fill, invalidation or flush) reuses them instead of scanning the
        /// sets again — the same ways LRU would choose, found once.
        @usableFromInline var missVPN: UInt64 = .max
        @usableFromInline var missClock: UInt64 = 0
        @usableFromInline var l1Victim = 0
        @usableFromInline var l2Victim = 0
    }
    @usableFromInline let state: UnsafeMutablePointer<State>
    /// The PCID of the current address space (0 when PCIDs are disabled).
    public var currentPCID: UInt64 { self.state.pointee.currentPCID }
    public var stats: TLBStats { self.state.pointee.stats }

    /// A TLB with the given levels (`l2` nil for a single level).
    public init(l1: TLBGeometry = .l1Data, l2: TLBGeometry? = .l2Shared, pcid: Bool = true) {
        self.l1 = TLBLevel(l1)
        self.l2 = l2.map { TLBLevel($0) }
        self.pcidEnabled = pcid
        self.state = .allocate(capacity: 1)
        self.state.initialize(to: State())
    }

    deinit {
        self.state.deinitialize(count: 1)
        self.state.deallocate()
    }

    public var l1Geometry: TLBGeometry { self.l1.geometry }
    public var l2Geometry: TLBGeometry? { self.l2?.geometry }

    @inlinable static func tag(vpn: UInt64, pcid: UInt64) -> UInt64 { TLB.validBit | (vpn &<< 12) | pcid }

    /// Whether `vpn` is cached for the current PCID, without touching LRU state or counters.
    public func peek(vpn: UInt64) -> UInt64? {
        let tag = TLB.tag(vpn: vpn, pcid: self.state.pointee.currentPCID)
        let globalTag = TLB.tag(vpn: vpn, pcid: TLB.globalPCID)
        let i = self.l1.find(vpn: vpn, tag: tag, globalTag: globalTag)
        if i >= 0 { return self.l1.values[i] }
        if let l2 = self.l2 {
            let j = l2.find(vpn: vpn, tag: tag, globalTag: globalTag)
            if j >= 0 { return l2.values[j] }
        }
        return nil
    }

    /// What `lookupValue` returns on a miss.
    public static let missValue = UInt64.max

    /// Looks `vpn` up for the current PCID. Returns the cached value (frame << 12 | bits) or nil.
    @inlinable public func lookup(vpn: UInt64) -> UInt64? {
        let value = self.lookupValue(vpn: vpn)
        return value == TLB.missValue ? nil : value
    }

    /// Looks `vpn` up: the cached value (frame << 12 | bits), or `TLB.missValue`. A hit refreshes
    /// the entry's LRU stamp; a second-level hit is copied into the first level.
    @inlinable @inline(__always) public func lookupValue(vpn: UInt64) -> UInt64 {
        let state = self.state
        let tag = TLB.validBit | (vpn &<< 12) | state.pointee.currentPCID
        let globalTag = TLB.validBit | (vpn &<< 12) | TLB.globalPCID
        let clock = state.pointee.clock &+ 1
        state.pointee.clock = clock
        let l1 = self.l1
        let ways = l1.ways
        var i = Int(truncatingIfNeeded: vpn & l1.setMask) &* ways
        let end = i &+ ways
        while i < end {
            let t = l1.tags[i]
            if t == tag || t == globalTag {
                l1.stamps[i] = clock
                state.pointee.stats.l1Hits &+= 1
                return l1.values[i]
            }
            i &+= 1
        }
        return self.lookupSecondLevel(vpn: vpn, tag: tag, globalTag: globalTag, clock: clock)
    }

    /// A first-level miss: the first level's LRU victim, then the second level searched (its
    /// victim found in the same pass). A hit is copied into the first level; a miss remembers
    /// both victims for the fill that follows the walk.
    @usableFromInline func lookupSecondLevel(vpn: UInt64, tag: UInt64, globalTag: UInt64, clock: UInt64)
        -> UInt64
    {
        let l1Victim = self.l1.oldest(vpn: vpn)
        if let l2 = self.l2 {
            let first = Int(truncatingIfNeeded: vpn & l2.setMask) &* l2.ways
            var victim = first
            var oldest = UInt64.max
            var j = first
            let end = first &+ l2.ways
            while j < end {
                let t = l2.tags[j]
                if t == tag || t == globalTag {
                    l2.stamps[j] = clock
                    self.state.pointee.stats.l2Hits &+= 1
                    let value = l2.values[j]
                    self.l1.place(l1Victim, tag: t, value: value, stamp: clock)
                    return value
                }
                let s = l2.stamps[j]
                if s < oldest {
                    victim = j
                    oldest = s
                }
                j &+= 1
            }
            self.state.pointee.l2Victim = victim
        }
        self.state.pointee.l1Victim = l1Victim
        self.state.pointee.missVPN = vpn
        self.state.pointee.missClock = clock
        self.state.pointee.stats.misses &+= 1
        return TLB.missValue
    }

    /// Caches a translation of `vpn` to frame `pfn` with `bits`, in both levels.
    @inlinable @inline(__always) public func fill(vpn: UInt64, pfn: UInt64, bits: TLBEntryBits) {
        let pcid = bits.contains(.global) ? TLB.globalPCID : self.state.pointee.currentPCID
        let tag = TLB.tag(vpn: vpn, pcid: pcid)
        let value = (pfn &<< 12) | bits.rawValue
        let state = self.state
        if state.pointee.missVPN == vpn && state.pointee.missClock == state.pointee.clock {
            // The fill after a miss: the victims the lookup found are still the LRU ones.
            let clock = state.pointee.clock &+ 1
            state.pointee.clock = clock
            state.pointee.missVPN = .max
            self.l1.place(state.pointee.l1Victim, tag: tag, value: value, stamp: clock)
            self.l2?.place(state.pointee.l2Victim, tag: tag, value: value, stamp: clock)
            return
        }
        state.pointee.clock &+= 1
        let clock = state.pointee.clock
        self.l1.insert(vpn: vpn, tag: tag, value: value, stamp: clock)
        self.l2?.insert(vpn: vpn, tag: tag, value: value, stamp: clock)
    }

    /// Forgets the victims of the last miss (the sets changed).
    @inlinable func forgetMiss() { self.state.pointee.missVPN = .max }

    @inlinable func countWalk() { self.state.pointee.stats.walks &+= 1 }

    /// `invlpg`: drops the entries for `vpn` in the current PCID and any global entry for it.
    public func invalidatePage(vpn: UInt64) {
        self.forgetMiss()
        let tag = TLB.tag(vpn: vpn, pcid: self.state.pointee.currentPCID)
        let globalTag = TLB.tag(vpn: vpn, pcid: TLB.globalPCID)
        var n = self.l1.invalidateExact(vpn: vpn, tag: tag, globalTag: globalTag)
        n += self.l2?.invalidateExact(vpn: vpn, tag: tag, globalTag: globalTag) ?? 0
        self.state.pointee.stats.invalidations += UInt64(n)
    }

    /// `invpcid` single-context: drops every non-global entry of `pcid`.
    public func flushPCID(_ pcid: UInt64) {
        self.forgetMiss()
        let match: (UInt64) -> Bool = { $0 & 0xFFF == pcid }
        _ = self.l1.invalidate(where: match)
        _ = self.l2?.invalidate(where: match)
        self.state.pointee.stats.flushes += 1
    }

    /// Drops every non-global entry (a CR3 load without PCIDs).
    public func flushNonGlobal() {
        self.forgetMiss()
        let match: (UInt64) -> Bool = { $0 & 0xFFF != TLB.globalPCID }
        _ = self.l1.invalidate(where: match)
        _ = self.l2?.invalidate(where: match)
        self.state.pointee.stats.flushes += 1
    }

    /// Drops everything, global entries included (CR4.PGE toggle).
    public func flushAll() {
        self.forgetMiss()
        _ = self.l1.invalidate { _ in true }
        _ = self.l2?.invalidate { _ in true }
        self.state.pointee.stats.flushes += 1
    }

    /// Makes `pcid` current (a CR3 load). Without PCIDs this flushes all non-global entries;
    /// with PCIDs it flushes the new PCID's entries only if `flush` (CR3 bit 63 clear).
    public func switchTo(pcid: UInt64, flush: Bool) {
        self.forgetMiss()
        if !self.pcidEnabled {
            self.state.pointee.currentPCID = 0
            self.flushNonGlobal()
            return
        }
        precondition(pcid < TLB.globalPCID, "TLB.switchTo: PCID \(pcid) out of range")
        self.state.pointee.currentPCID = pcid
        if flush { self.flushPCID(pcid) }
    }

    /// Resets the counters.
    public func resetStats() { self.state.pointee.stats = TLBStats() }

    /// The valid entries of each level: (level, vpn, pcid or nil for global, frame, bits).
    public func dump() -> [(level: Int, vpn: UInt64, pcid: UInt64?, pfn: UInt64, bits: TLBEntryBits)] {
        var result: [(level: Int, vpn: UInt64, pcid: UInt64?, pfn: UInt64, bits: TLBEntryBits)] = []
        for (level, tlb) in [self.l1, self.l2].enumerated() {
            guard let tlb else { continue }
            for (tag, value) in tlb.validEntries() {
                let pcid = tag & 0xFFF
                result.append(
                    (
                        level + 1, (tag & ~TLB.validBit) >> 12, pcid == TLB.globalPCID ? nil : pcid,
                        value >> 12,
                        TLBEntryBits(rawValue: value & 0xFFF)
                    ))
            }
        }
        return result.sorted { ($0.level, $0.vpn) < ($1.level, $1.vpn) }
    }
}
