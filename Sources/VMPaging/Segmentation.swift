import VMTypes

/// A segment selector: index into the GDT or LDT and the requested privilege level.
public struct SegmentSelector: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(index: Int, ldt: Bool = false, rpl: Int) {
        self.rawValue = UInt16(index << 3) | (ldt ? 4 : 0) | UInt16(rpl & 3)
    }
    public var index: Int { Int(self.rawValue >> 3) }
    public var usesLDT: Bool { self.rawValue & 4 != 0 }
    public var rpl: Int { Int(self.rawValue & 3) }
    public var isNull: Bool { self.index == 0 && !self.usesLDT }
    public var description: String { hex(UInt64(self.rawValue), width: 4) }
}

/// A segment descriptor (Intel SDM vol. 3 §3.4.5): base, limit, type, DPL, present.
public struct SegmentDescriptor: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case code(readable: Bool)
        case data(writable: Bool, expandDown: Bool)
    }
    public var base: UInt32
    /// The 20-bit limit field; in 4 KiB units when `granularity4K`.
    public var limit: UInt32
    public var granularity4K: Bool
    public var kind: Kind
    public var dpl: Int
    public var present: Bool
    public init(base: UInt32, limit: UInt32, granularity4K: Bool, kind: Kind, dpl: Int, present: Bool = true)
    {
        self.base = base
        self.limit = limit & 0xFFFFF
        self.granularity4K = granularity4K
        self.kind = kind
        self.dpl = dpl
        self.present = present
    }
    /// The last valid offset: `limit`, or `limit × 4096 + 4095` with 4 KiB granularity.
    public var effectiveLimit: UInt32 { self.granularity4K ? (self.limit << 12) | 0xFFF : self.limit }
}

/// Why segmentation refused an access: #GP, #SS or #NP with the selector as error code.
public enum SegmentFault: Error, Hashable, Sendable, CustomStringConvertible {
    case generalProtection(selector: UInt16, reason: String)
    case stackFault(selector: UInt16, reason: String)
    case notPresent(selector: UInt16)
    public var description: String {
        switch self {
        case .generalProtection(let s, let r): return "#GP(\(hex(UInt64(s), width: 4))): \(r)"
        case .stackFault(let s, let r): return "#SS(\(hex(UInt64(s), width: 4))): \(r)"
        case .notPresent(let s): return "#NP(\(hex(UInt64(s), width: 4))): segment not present"
        }
    }
}

/// Segmentation: logical address (segment, offset) → linear address, as the notes describe it
/// for the 80386 — real mode (`segment × 16 + offset`) and protected mode with descriptors.
/// Linux uses the flat model: every base is 0 and every limit 4 GiB, so linear = offset.
public struct Segmentation: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// 8086-compatible: 20-bit addresses (21 with the A20 gate open), no protection.
        case real
        /// Descriptors from the GDT with base, limit, type and DPL checks.
        case protected
        /// x86-64 long mode: bases of CS, DS, ES, SS are 0 and limits are not checked.
        case long
    }
    public var mode: Mode
    /// The GDT; entry 0 is the null descriptor.
    public var gdt: [SegmentDescriptor?]
    /// Current privilege level (0 kernel, 3 user).
    public var cpl: Int
    /// Real mode: whether the A20 gate is open (addresses above 1 MiB do not wrap).
    public var a20: Bool

    public init(mode: Mode, gdt: [SegmentDescriptor?] = [nil], cpl: Int = 0, a20: Bool = false) {
        self.mode = mode
        self.gdt = gdt
        self.cpl = cpl
        self.a20 = a20
    }

    /// The linear address of `offset` in the segment named by `selector` (a paragraph number in
    /// real mode), for an access of `size` bytes. `stack` marks SS accesses (#SS instead of #GP).
    public func linearAddress(
        selector: UInt16, offset: UInt64, access: Access, size: UInt64 = 1,
        stack: Bool = false
    ) -> Result<UInt64, SegmentFault> {
        switch self.mode {
        case .real:
            guard offset + size - 1 <= 0xFFFF else {
                return .failure(
                    stack
                        ? .stackFault(selector: 0, reason: "offset beyond 64 KiB")
                        : .generalProtection(selector: 0, reason: "offset beyond 64 KiB"))
            }
            let linear = (UInt64(selector) << 4) + offset
            return .success(self.a20 ? linear & 0x1F_FFFF : linear & 0xF_FFFF)
        case .long:
            return .success(offset)
        case .protected:
            let sel = SegmentSelector(rawValue: selector)
            func gp(_ reason: String) -> Result<UInt64, SegmentFault> {
                .failure(
                    stack
                        ? .stackFault(selector: selector, reason: reason)
                        : .generalProtection(selector: selector, reason: reason))
            }
            if sel.isNull { return .failure(.generalProtection(selector: 0, reason: "null selector")) }
            guard !sel.usesLDT else { return gp("no LDT is loaded") }
            guard sel.index < self.gdt.count, let d = self.gdt[sel.index] else {
                return gp("index \(sel.index) beyond the GDT")
            }
            guard d.present else {
                return .failure(
                    stack
                        ? .stackFault(selector: selector, reason: "segment not present")
                        : .notPresent(selector: selector))
            }
            switch d.kind {
            case .code(let readable):
                if access == .write { return gp("write to a code segment") }
                if access == .read && !readable { return gp("read from an execute-only segment") }
            case .data(let writable, _):
                if access == .execute { return gp("execute from a data segment") }
                if access == .write && !writable { return gp("write to a read-only data segment") }
                if max(self.cpl, sel.rpl) > d.dpl {
                    return gp("privilege: max(CPL \(self.cpl), RPL \(sel.rpl)) > DPL \(d.dpl)")
                }
            }
            let limit = UInt64(d.effectiveLimit)
            let last = offset + size - 1
            if case .data(_, true) = d.kind {
                guard offset > limit && last <= 0xFFFF_FFFF else {
                    return gp("offset \(hex(offset)) outside expand-down limit \(hex(limit))")
                }
            } else {
                guard last <= limit else { return gp("offset \(hex(offset)) beyond limit \(hex(limit))") }
            }
            return .success((UInt64(d.base) + offset) & 0xFFFF_FFFF)
        }
    }

    /// Linux's flat GDT (arch/x86/include/asm/segment.h): kernel and user code and data
    /// segments with base 0 and a 4 GiB limit. i386: `__KERNEL_CS` 0x60, `__KERNEL_DS` 0x68,
    /// `__USER_CS` 0x73, `__USER_DS` 0x7b. x86-64 (long mode): 0x10, 0x18, 0x33, 0x2b.
    public static func linuxFlat(for arch: Architecture, cpl: Int) -> Segmentation {
        func flat(_ kind: SegmentDescriptor.Kind, dpl: Int) -> SegmentDescriptor {
            SegmentDescriptor(base: 0, limit: 0xFFFFF, granularity4K: true, kind: kind, dpl: dpl)
        }
        var gdt = [SegmentDescriptor?](repeating: nil, count: 16)
        if arch.is64Bit {
            gdt[2] = flat(.code(readable: true), dpl: 0)
            gdt[3] = flat(.data(writable: true, expandDown: false), dpl: 0)
            gdt[5] = flat(.data(writable: true, expandDown: false), dpl: 3)
            gdt[6] = flat(.code(readable: true), dpl: 3)
            return Segmentation(mode: .long, gdt: gdt, cpl: cpl)
        }
        gdt[12] = flat(.code(readable: true), dpl: 0)
        gdt[13] = flat(.data(writable: true, expandDown: false), dpl: 0)
        gdt[14] = flat(.code(readable: true), dpl: 3)
        gdt[15] = flat(.data(writable: true, expandDown: false), dpl: 3)
        return Segmentation(mode: .protected, gdt: gdt, cpl: cpl)
    }

    /// The selectors Linux loads: (code, data) for the given privilege.
    public static func linuxSelectors(for arch: Architecture, user: Bool) -> (code: UInt16, data: UInt16) {
        if arch.is64Bit { return user ? (0x33, 0x2b) : (0x10, 0x18) }
        return user ? (0x73, 0x7b) : (0x60, 0x68)
    }
}
