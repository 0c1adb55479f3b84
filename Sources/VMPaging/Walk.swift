import VMTypes

/// What a memory access wants to do.
public enum Access: String, Sendable, CaseIterable, Codable {
    case read
    case write
    case execute
    /// 0, 1, 2: an index for tables by access.
    @inlinable public var index: Int {
        switch self {
        case .read: return 0
        case .write: return 1
        case .execute: return 2
        }
    }
}

/// The privilege the CPU runs at (CPL 3 or 0).
public enum CPUMode: String, Sendable, CaseIterable, Codable {
    case user
    case kernel
}

/// The bits of the x86 page-fault error code (`X86_PF_*`, arch/x86/include/asm/trap_pf.h).
public struct PFErrorCode: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `X86_PF_PROT`: the page was present; the access violated its protection.
    @inlinable public static var protection: PFErrorCode { PFErrorCode(rawValue: 1 << 0) }
    /// `X86_PF_WRITE`.
    @inlinable public static var write: PFErrorCode { PFErrorCode(rawValue: 1 << 1) }
    /// `X86_PF_USER`: the access came from user mode.
    @inlinable public static var user: PFErrorCode { PFErrorCode(rawValue: 1 << 2) }
    /// `X86_PF_RSVD`: a reserved bit was set in an entry.
    @inlinable public static var reserved: PFErrorCode { PFErrorCode(rawValue: 1 << 3) }
    /// `X86_PF_INSTR`: an instruction fetch.
    @inlinable public static var instruction: PFErrorCode { PFErrorCode(rawValue: 1 << 4) }

    public var description: String {
        let parts = [
            (PFErrorCode.protection, "PROT"), (.write, "WRITE"), (.user, "USER"), (.reserved, "RSVD"),
            (.instruction, "INSTR"),
        ]
        .filter { self.contains($0.0) }.map(\.1)
        return hex(UInt64(self.rawValue)) + (parts.isEmpty ? "" : " [" + parts.joined(separator: "|") + "]")
    }
}

/// Why a translation failed.
public enum FaultCause: Hashable, Sendable, CustomStringConvertible {
    /// The entry at `level` (0 = root) is not present.
    case notPresent(level: Int)
    /// A write to a page that is read-only at some level.
    case writeToReadOnly
    /// A user-mode access to a page that is supervisor-only at some level.
    case userToSupervisor
    /// An instruction fetch from a page with NX set at some level.
    case executeNoExecute
    /// Kernel-mode instruction fetch from a user page (SMEP).
    case supervisorExecutesUser
    /// Kernel-mode data access to a user page (SMAP).
    case supervisorAccessesUser
    /// An x86-64 address whose top bits are not a sign extension: #GP, not a page fault.
    case nonCanonical

    public var description: String {
        switch self {
        case .notPresent(let level): return "not present at level \(level)"
        case .writeToReadOnly: return "write to a read-only page"
        case .userToSupervisor: return "user access to a supervisor page"
        case .executeNoExecute: return "instruction fetch from a no-execute page"
        case .supervisorExecutesUser: return "kernel instruction fetch from a user page (SMEP)"
        case .supervisorAccessesUser: return "kernel access to a user page (SMAP)"
        case .nonCanonical: return "non-canonical address (#GP)"
        }
    }
}

/// A failed translation: the address, the cause and the error code the CPU pushes.
public struct PageFault: Hashable, Sendable, CustomStringConvertible {
    public var address: UInt64
    public var access: Access
    public var mode: CPUMode
    public var cause: FaultCause
    /// The #PF error code (empty for #GP).
    public var errorCode: PFErrorCode
    @inlinable public init(
        address: UInt64, access: Access, mode: CPUMode, cause: FaultCause, errorCode: PFErrorCode
    ) {
        self.address = address
        self.access = access
        self.mode = mode
        self.cause = cause
        self.errorCode = errorCode
    }
    public var description: String {
        "fault at \(hex(self.address)): \(self.cause), error code \(self.errorCode)"
    }
}

/// A successful translation.
public struct Mapping: Hashable, Sendable {
    /// The physical address of the byte accessed.
    public var physAddr: UInt64
    /// log2 of the size of the page that maps it (12, 21, 22 or 30; the geometry's page shift
    /// for teaching machines).
    public var pageShift: Int
    /// Level of the leaf entry (0 = root).
    public var leafLevel: Int
    /// Effective rights over every level walked.
    public var writable: Bool
    public var user: Bool
    public var noExecute: Bool
    public var global: Bool
    /// The leaf entry's Dirty bit after this access.
    public var dirty: Bool
    @inlinable public init(
        physAddr: UInt64, pageShift: Int, leafLevel: Int, writable: Bool, user: Bool, noExecute: Bool,
        global: Bool, dirty: Bool
    ) {
        self.physAddr = physAddr
        self.pageShift = pageShift
        self.leafLevel = leafLevel
        self.writable = writable
        self.user = user
        self.noExecute = noExecute
        self.global = global
        self.dirty = dirty
    }
}

/// The outcome of a walk or a translation.
public enum Translation: Hashable, Sendable {
    case mapped(Mapping)
    case fault(PageFault)

    public var physAddr: UInt64? {
        if case .mapped(let m) = self { return m.physAddr }
        return nil
    }
    public var fault: PageFault? {
        if case .fault(let f) = self { return f }
        return nil
    }
}

/// CPU features that change the permission checks.
public struct CPUFeatures: Hashable, Sendable {
    /// CR0.WP: supervisor writes honour read-only pages (Linux always sets it).
    public var writeProtect = true
    /// CR4.SMEP / CR4.SMAP.
    public var smep = false
    public var smap = false
    /// EFER.NXE: the NX bit is honoured (only formats that have it).
    public var noExecute = true
    public init(writeProtect: Bool = true, smep: Bool = false, smap: Bool = false, noExecute: Bool = true) {
        self.writeProtect = writeProtect
        self.smep = smep
        self.smap = smap
        self.noExecute = noExecute
    }
    /// What Linux enables on a current x86-64 CPU: WP, SMEP, SMAP, NX.
    public static let modernX86_64 = CPUFeatures(writeProtect: true, smep: true, smap: true, noExecute: true)
}

/// How an architecture's tables are read: which levels carry permissions, which can map large
/// pages, whether NX exists. Derived from an `Architecture`; only plain numbers, so the walker
/// copies nothing that needs reference counting.
public struct PagingRules: Sendable {
    /// Bit L set: entries at level L carry R/W, U/S (and NX). PAE's PDPT entries do not.
    @usableFromInline let permissionLevels: UInt32
    /// Bit L set: an entry at level L with PS set maps a large page.
    @usableFromInline let largePageLevels: UInt32
    public let levels: Int
    public let pageShift: Int
    /// 64 − address bits when addresses must be canonical (x86-64), else 0.
    @usableFromInline let canonicalShift: UInt64
    /// Address bits, for the range check of non-canonical architectures.
    @usableFromInline let addressBits: Int
    /// The format has an NX bit (PAE, x86-64).
    public let hasNoExecute: Bool
    /// Shift of each level's index, root first, one byte per level; and index bits likewise.
    @usableFromInline let shiftBytes: UInt64
    @usableFromInline let bitBytes: UInt64

    public init(_ arch: Architecture) {
        let g = arch.paging
        self.levels = g.levels
        self.pageShift = g.pageShift
        self.canonicalShift = arch.requiresCanonical ? UInt64(64 - g.addressBits) : 0
        self.addressBits = g.addressBits
        self.hasNoExecute = arch.hasNoExecute
        precondition(g.levels <= 8, "PagingRules: at most 8 levels")
        var shifts: UInt64 = 0
        var bits: UInt64 = 0
        for l in 0..<g.levels {
            shifts |= UInt64(g.shift(ofLevel: l)) << UInt64(8 * l)
            bits |= UInt64(g.levelBits[l]) << UInt64(8 * l)
        }
        self.shiftBytes = shifts
        self.bitBytes = bits
        var perms: UInt32 = (1 << UInt32(g.levels)) - 1
        if g.rootIsPDPT { perms &= ~1 }  // PDPTEs have no R/W, U/S or NX
        var large: UInt32 = 0
        for level in g.largePageLevels { large |= 1 << UInt32(level) }
        self.permissionLevels = perms
        self.largePageLevels = large
    }

    /// The index into the level-`level` table for `va`.
    @inlinable @inline(__always) public func index(_ va: UInt64, level: Int) -> Int {
        let byte = UInt64(truncatingIfNeeded: level) &* 8
        let shift = (self.shiftBytes &>> byte) & 0xFF
        let bits = (self.bitBytes &>> byte) & 0xFF
        return Int(truncatingIfNeeded: (va &>> shift) & ((1 &<< bits) &- 1))
    }
    /// log2 of the bytes one entry at `level` maps.
    @inlinable @inline(__always) public func shift(ofLevel level: Int) -> Int {
        Int(truncatingIfNeeded: (self.shiftBytes &>> (UInt64(truncatingIfNeeded: level) &* 8)) & 0xFF)
    }
    /// Whether an entry at `level` with PS set maps a large page.
    @inlinable @inline(__always) public func allowsLargePage(atLevel level: Int) -> Bool {
        self.largePageLevels & (1 &<< UInt32(truncatingIfNeeded: level)) != 0
    }
    /// Whether `va` can be translated at all (x86-64: canonical; others: inside the address width).
    @inlinable @inline(__always) public func isValidAddress(_ va: UInt64) -> Bool {
        if self.canonicalShift != 0 {
            return UInt64(
                bitPattern: Int64(bitPattern: va &<< self.canonicalShift) &>> Int64(self.canonicalShift))
                == va
        }
        return true
    }
}

/// Receives each step of a walk; the MMU passes one that does nothing, `vmsim translate` one
/// that records.
public protocol WalkObserver {
    /// The walker read `entry` at `index` of the level-`level` table `table` of `store`.
    mutating func step<S: PageTableStore>(_ store: S, level: Int, table: S.Table, index: Int, entry: PTE)
}

/// An observer that records nothing (compiled away).
public struct NoWalkObserver: WalkObserver {
    @inlinable public init() {}
    @inlinable public mutating func step<S: PageTableStore>(
        _ store: S, level: Int, table: S.Table, index: Int, entry: PTE
    ) {}
}

/// One recorded step of a walk.
public struct WalkStep: Hashable, Sendable {
    public var level: Int
    public var table: PFN
    public var index: Int
    /// The entry as read, before the walk set Accessed or Dirty.
    public var entry: PTE
}

/// An observer that records every step, for explanations.
public struct WalkRecorder: WalkObserver {
    public var steps: [WalkStep] = []
    public init() {}
    public mutating func step<S: PageTableStore>(
        _ store: S, level: Int, table: S.Table, index: Int, entry: PTE
    ) {
        self.steps.append(WalkStep(level: level, table: store.frame(of: table), index: index, entry: entry))
    }
}

/// The compact outcome of a walk: what the MMU needs to fill its TLB, or the fault.
public struct WalkResult: Sendable {
    /// The physical address (meaningless when `cause` is set).
    public var physAddr: UInt64
    /// Effective rights and the leaf's Global and Dirty bits, as the TLB caches them.
    public var bits: TLBEntryBits
    public var pageShift: Int
    public var leafLevel: Int
    public var cause: FaultCause?
    public var errorCode: PFErrorCode
    @inlinable init(
        physAddr: UInt64, bits: TLBEntryBits, pageShift: Int, leafLevel: Int, cause: FaultCause?,
        errorCode: PFErrorCode
    ) {
        self.physAddr = physAddr
        self.bits = bits
        self.pageShift = pageShift
        self.leafLevel = leafLevel
        self.cause = cause
        self.errorCode = errorCode
    }

    /// The same outcome as a `Translation` value.
    @inlinable public func translation(address va: UInt64, access: Access, mode: CPUMode) -> Translation {
        if let cause = self.cause {
            return .fault(
                PageFault(address: va, access: access, mode: mode, cause: cause, errorCode: self.errorCode))
        }
        return .mapped(
            Mapping(
                physAddr: self.physAddr, pageShift: self.pageShift, leafLevel: self.leafLevel,
                writable: self.bits.contains(.writable), user: self.bits.contains(.user),
                noExecute: self.bits.contains(.noExecute), global: self.bits.contains(.global),
                dirty: self.bits.contains(.dirty)))
    }
}

/// The page walk of an x86 MMU (Intel SDM vol. 3 §4.5, §4.6, §4.8), generic over where the
/// tables are stored.
///
/// From the root, each level's index selects an entry; a non-present entry ends the walk with a
/// not-present fault at that level. Rights accumulate: writable and user only if every level
/// says so, no-execute if any level says so (PAE's PDPTEs carry no rights). A PS entry at a level
/// that allows it maps a large page. Then the access is checked (user vs supervisor, write vs
/// read-only with CR0.WP, NX, SMEP, SMAP). When `setAccessedDirty` is true the walk sets Accessed
/// on every present entry it passes, and on the leaf sets Accessed — and Dirty for a write — only
/// if the access is allowed, as hardware does.
@inlinable
public func walkPageTables<S: PageTableStore, O: WalkObserver>(
    _ store: S, rules: PagingRules, features: CPUFeatures, root: PFN, address va: UInt64,
    access: Access, mode: CPUMode, setAccessedDirty: Bool, observer: inout O
) -> Translation {
    pageWalk(
        store, rules: rules, features: features, rootTable: store.table(root), address: va, access: access,
        mode: mode,
        setAccessedDirty: setAccessedDirty, observer: &observer
    ).translation(address: va, access: access, mode: mode)
}

/// The walk itself, from the root table's handle, returning the compact `WalkResult` (see
/// `walkPageTables`).
@inlinable @inline(__always)
public func pageWalk<S: PageTableStore, O: WalkObserver>(
    _ store: S, rules: PagingRules, features: CPUFeatures, rootTable: S.Table, address va: UInt64,
    access: Access, mode: CPUMode, setAccessedDirty: Bool, observer: inout O
) -> WalkResult {
    var code: PFErrorCode = []
    if access == .write { code.insert(.write) }
    if mode == .user { code.insert(.user) }
    if access == .execute && (features.noExecute && rules.hasNoExecute || features.smep) {
        code.insert(.instruction)
    }
    if !rules.isValidAddress(va) {
        return WalkResult(
            physAddr: 0, bits: [], pageShift: 0, leafLevel: 0, cause: .nonCanonical, errorCode: [])
    }
    let honourNX = features.noExecute && rules.hasNoExecute
    var table = rootTable
    var rights: UInt64 = PTEFlags.writable.rawValue | PTEFlags.user.rawValue
    var noExecute = false
    var level = 0
    var index = 0
    var entry = PTE.none
    let last = rules.levels &- 1
    while true {
        index = rules.index(va, level: level)
        entry = store.readEntry(table, index, level: level)
        observer.step(store, level: level, table: table, index: index, entry: entry)
        guard entry.isPresent else {
            return WalkResult(
                physAddr: 0, bits: [], pageShift: 0, leafLevel: level, cause: .notPresent(level: level),
                errorCode: code)
        }
        if rules.permissionLevels & (1 &<< UInt32(truncatingIfNeeded: level)) != 0 {
            rights &= entry.rawValue
            if honourNX && entry.rawValue & PTEFlags.noExecute.rawValue != 0 { noExecute = true }
        }
        if level == last || (rules.allowsLargePage(atLevel: level) && entry.contains(.pageSize)) { break }
        if setAccessedDirty && !entry.contains(.accessed) {
            store.writeEntry(
                table, index, level: level, PTE(rawValue: entry.rawValue | PTEFlags.accessed.rawValue))
        }
        table = store.child(of: table, index, entry: entry)
        level &+= 1
    }
    var bits: TLBEntryBits = []
    if rights & PTEFlags.writable.rawValue != 0 { bits.insert(.writable) }
    if rights & PTEFlags.user.rawValue != 0 { bits.insert(.user) }
    if noExecute { bits.insert(.noExecute) }
    if let cause = bits.faultCause(access, mode: mode, features: features) {
        code.insert(.protection)
        return WalkResult(
            physAddr: 0, bits: bits, pageShift: 0, leafLevel: level, cause: cause, errorCode: code)
    }
    var leaf = entry.rawValue | PTEFlags.accessed.rawValue
    if access == .write { leaf |= PTEFlags.dirty.rawValue }
    if setAccessedDirty && leaf != entry.rawValue {
        store.writeEntry(table, index, level: level, PTE(rawValue: leaf))
    }
    let dirty = (setAccessedDirty ? leaf : entry.rawValue) & PTEFlags.dirty.rawValue != 0
    if dirty { bits.insert(.dirty) }
    if entry.contains(.global) { bits.insert(.global) }
    let shift = level == last ? rules.pageShift : rules.shift(ofLevel: level)
    let offsetMask: UInt64 = (1 &<< UInt64(truncatingIfNeeded: shift)) &- 1
    let frameBase: UInt64
    if level == last {
        frameBase = entry.pfn.rawValue &<< UInt64(truncatingIfNeeded: rules.pageShift)
    } else {
        frameBase = (entry.rawValue & PTE.frameMask) & ~offsetMask
    }
    return WalkResult(
        physAddr: frameBase | (va & offsetMask), bits: bits, pageShift: shift, leafLevel: level,
        cause: nil, errorCode: [])
}
