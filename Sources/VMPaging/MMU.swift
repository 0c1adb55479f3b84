import VMPhys
import VMTypes

/// A CPU's memory-management unit: CR3, the TLB and the page walker over a machine's tables.
///
/// Every simulated load, store and instruction fetch goes through `access(_:_:_:)` (the hot
/// path: physical address or `MMU.faulted`) or `translate(_:access:mode:)` (the same, with the
/// details). A TLB hit with sufficient rights is the whole cost; a hit whose cached rights refuse
/// the access faults without a walk and drops the entry (Intel SDM §4.10.4.1), so the fault
/// handler's fix is seen on retry without a flush; a miss walks the tables from CR3 (setting
/// Accessed/Dirty) and fills the TLB; a write through an entry whose Dirty bit is not yet set
/// walks again to set it, as hardware must.
///
/// Models one CPU. Kernel code that changes a PTE must flush (see `invalidatePage`,
/// `flushRange`), or the old translation stays in use — exactly as on hardware.
public final class MMU {
    public let arena: PageTableArena
    public let rules: PagingRules
    public let tlb: TLB
    @usableFromInline let pageShift: Int
    @usableFromInline let offsetMask: UInt64
    /// CR3, the feature bits, permission masks and the last fault, out of line so the
    /// translation path reads them without exclusivity bookkeeping.
    @usableFromInline struct State {
        @usableFromInline var cr3: PFN
        /// The arena's handle of CR3's table.
        @usableFromInline var rootTable: Int
        @usableFromInline var features: CPUFeatures
        /// Per (access, mode): TLB bits that must be set, and bits that must be clear, for a hit
        /// to complete without a walk. `index = access.index * 2 + (mode == .user ? 1 : 0)`.
        @usableFromInline var required: InlineArray<6, UInt64>
        @usableFromInline var forbidden: InlineArray<6, UInt64>
        @usableFromInline var lastFault: PageFault?
    }
    @usableFromInline let state: UnsafeMutablePointer<State>

    /// The value `access` returns for a fault; `lastFault` says why.
    public static let faulted = UInt64.max

    /// The root table of the current address space (CR3's frame).
    public var cr3: PFN { self.state.pointee.cr3 }
    /// The fault of the last `access` that returned `MMU.faulted`.
    public var lastFault: PageFault? { self.state.pointee.lastFault }
    /// CR0.WP, CR4.SMEP/SMAP, EFER.NXE.
    public var features: CPUFeatures {
        get { self.state.pointee.features }
        set {
            self.state.pointee.features = newValue
            self.computeMasks()
        }
    }

    public init(
        arena: PageTableArena, architecture: Architecture, root: PFN, tlb: TLB = TLB(),
        features: CPUFeatures? = nil
    ) {
        self.arena = arena
        self.rules = PagingRules(architecture)
        self.tlb = tlb
        self.pageShift = architecture.pageShift
        self.offsetMask = architecture.pageSize - 1
        self.state = .allocate(capacity: 1)
        let defaults =
            architecture.is64Bit
            ? CPUFeatures.modernX86_64 : CPUFeatures(noExecute: architecture.hasNoExecute)
        self.state.initialize(
            to: State(
                cr3: root, rootTable: arena.slot(of: root), features: features ?? defaults,
                required: .init(repeating: 0),
                forbidden: .init(repeating: 0), lastFault: nil))
        self.computeMasks()
    }

    deinit {
        self.state.deinitialize(count: 1)
        self.state.deallocate()
    }

    /// Fills the permission masks from the features (the same rules as `TLBEntryBits.faultCause`,
    /// plus Dirty for writes so a clean entry takes the slow path).
    func computeMasks() {
        let f = self.state.pointee.features
        for access in Access.allCases {
            for mode in CPUMode.allCases {
                var required: TLBEntryBits = []
                var forbidden: TLBEntryBits = []
                if mode == .user { required.insert(.user) }
                if access == .write {
                    required.insert(.dirty)
                    if mode == .user || f.writeProtect { required.insert(.writable) }
                }
                if access == .execute { forbidden.insert(.noExecute) }
                if mode == .kernel && (access == .execute ? f.smep : f.smap) { forbidden.insert(.user) }
                let k = access.index * 2 + (mode == .user ? 1 : 0)
                self.state.pointee.required[k] = required.rawValue
                self.state.pointee.forbidden[k] = forbidden.rawValue
            }
        }
    }

    /// Loads CR3: switches to the address space rooted at `root` with `pcid` (ignored without
    /// PCIDs). `flush` requests the new PCID's entries be dropped (CR3 bit 63 clear).
    public func loadCR3(_ root: PFN, pcid: UInt64 = 0, flush: Bool = true) {
        self.state.pointee.cr3 = root
        self.state.pointee.rootTable = self.arena.slot(of: root)
        self.tlb.switchTo(pcid: pcid, flush: flush)
    }

    /// The hot path: the physical address for an access, or `MMU.faulted` (see `lastFault`).
    /// Allocates nothing.
    @inlinable
    public func access(_ va: UInt64, _ access: Access, _ mode: CPUMode) -> UInt64 {
        let shift = UInt64(truncatingIfNeeded: self.pageShift)
        let value = self.tlb.lookupValue(vpn: va &>> shift)
        if value != TLB.missValue {
            let k = access.index &* 2 &+ (mode == .user ? 1 : 0)
            let required = self.state.pointee.required[k]
            if value & required == required && value & self.state.pointee.forbidden[k] == 0 {
                return ((value &>> 12) &<< shift) | (va & self.offsetMask)
            }
        }
        return self.slowAccess(va, access, mode, cached: value)
    }

    @usableFromInline
    func slowAccess(_ va: UInt64, _ access: Access, _ mode: CPUMode, cached: UInt64) -> UInt64 {
        let result = self.slowPath(va, access: access, mode: mode, cached: cached)
        if let cause = result.cause {
            self.state.pointee.lastFault = PageFault(
                address: va, access: access, mode: mode, cause: cause, errorCode: result.errorCode)
            return MMU.faulted
        }
        return result.physAddr
    }

    /// Translates a virtual address for an access, through the TLB, with every detail.
    public func translate(_ va: UInt64, access: Access, mode: CPUMode) -> Translation {
        let value = self.tlb.lookupValue(vpn: va >> UInt64(self.pageShift))
        if value != TLB.missValue {
            let k = access.index * 2 + (mode == .user ? 1 : 0)
            let required = self.state.pointee.required[k]
            if value & required == required && value & self.state.pointee.forbidden[k] == 0 {
                let bits = TLBEntryBits(rawValue: value & 0xFFF)
                return .mapped(
                    Mapping(
                        physAddr: ((value >> 12) << UInt64(self.pageShift)) | (va & self.offsetMask),
                        pageShift: self.pageShift,
                        leafLevel: self.rules.levels - 1, writable: bits.contains(.writable),
                        user: bits.contains(.user),
                        noExecute: bits.contains(.noExecute), global: bits.contains(.global),
                        dirty: bits.contains(.dirty)))
            }
        }
        return self.slowPath(va, access: access, mode: mode, cached: value).translation(
            address: va, access: access, mode: mode)
    }

    /// Everything but a clean TLB hit: a hit refused by cached rights (fault, entry dropped), a
    /// write through a clean entry (walk to set Dirty), or a miss (walk and fill).
    @inline(__always)
    func slowPath(_ va: UInt64, access: Access, mode: CPUMode, cached: UInt64) -> WalkResult {
        let vpn = va &>> UInt64(truncatingIfNeeded: self.pageShift)
        let features = self.state.pointee.features
        if cached != TLB.missValue {
            let bits = TLBEntryBits(rawValue: cached & 0xFFF)
            if let cause = bits.faultCause(access, mode: mode, features: features) {
                self.tlb.invalidatePage(vpn: vpn)
                var code: PFErrorCode = [.protection]
                if access == .write { code.insert(.write) }
                if mode == .user { code.insert(.user) }
                if access == .execute && (features.noExecute && self.rules.hasNoExecute || features.smep) {
                    code.insert(.instruction)
                }
                return WalkResult(
                    physAddr: 0, bits: bits, pageShift: 0, leafLevel: 0, cause: cause, errorCode: code)
            }
            // A write through a clean entry: the walk below sets Dirty and refills it.
            self.tlb.invalidatePage(vpn: vpn)
        }
        self.tlb.countWalk()
        var observer = NoWalkObserver()
        let result = pageWalk(
            self.arena, rules: self.rules, features: features, rootTable: self.state.pointee.rootTable,
            address: va, access: access, mode: mode, setAccessedDirty: true, observer: &observer)
        if result.cause == nil {
            self.tlb.fill(
                vpn: vpn, pfn: result.physAddr &>> UInt64(truncatingIfNeeded: self.pageShift),
                bits: result.bits)
        } else {
            self.tlb.invalidatePage(vpn: vpn)
        }
        return result
    }

    /// `invlpg`.
    public func invalidatePage(_ va: UInt64) { self.tlb.invalidatePage(vpn: va >> UInt64(self.pageShift)) }
    /// `flush_tlb_all()`: every entry, global ones included.
    public func flushAll() { self.tlb.flushAll() }
    /// `flush_tlb_mm()` for the current address space: every non-global entry of the current PCID.
    public func flushCurrentAddressSpace() {
        if self.tlb.pcidEnabled {
            self.tlb.flushPCID(self.tlb.currentPCID)
        } else {
            self.tlb.flushNonGlobal()
        }
    }
    /// `flush_tlb_range()`: invalidates each page of a range of the current address space
    /// (a full flush of the address space when the range is large, as Linux does above
    /// `tlb_single_page_flush_ceiling` = 33 pages).
    public func flushRange(_ range: Range<UInt64>) {
        let pages = (range.upperBound - range.lowerBound + self.offsetMask) >> UInt64(self.pageShift)
        if pages > 33 {
            self.flushCurrentAddressSpace()
            return
        }
        var va = range.lowerBound
        while va < range.upperBound {
            self.invalidatePage(va)
            va += 1 << UInt64(self.pageShift)
        }
    }
}
