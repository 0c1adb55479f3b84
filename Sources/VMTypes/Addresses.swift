/// A virtual address inside one simulated address space (user or kernel half).
///
/// Models the `unsigned long` addresses of mm/ code; on x86-64 a valid address is canonical
/// (bits 63…47 all equal), which `Architecture.isCanonical(_:)` checks.
@frozen
public struct VirtAddr: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(_ value: UInt64) { self.rawValue = value }
    @inlinable public static func < (a: VirtAddr, b: VirtAddr) -> Bool { a.rawValue < b.rawValue }

    /// The virtual page number for pages of `1 << pageShift` bytes.
    @inlinable public func vpn(pageShift: Int) -> VPN { VPN(rawValue: self.rawValue >> UInt64(pageShift)) }
    /// The byte offset inside the page.
    @inlinable public func pageOffset(pageShift: Int) -> UInt64 {
        self.rawValue & ((1 << UInt64(pageShift)) - 1)
    }
    @inlinable public func advanced(by bytes: UInt64) -> VirtAddr {
        VirtAddr(rawValue: self.rawValue &+ bytes)
    }
    public var description: String { "V0x" + String(self.rawValue, radix: 16) }
}

/// A physical (bus) address in simulated RAM.
@frozen
public struct PhysAddr: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(_ value: UInt64) { self.rawValue = value }
    @inlinable public static func < (a: PhysAddr, b: PhysAddr) -> Bool { a.rawValue < b.rawValue }
    /// The frame holding this address.
    @inlinable public func pfn(pageShift: Int) -> PFN { PFN(rawValue: self.rawValue >> UInt64(pageShift)) }
    public var description: String { "P0x" + String(self.rawValue, radix: 16) }
}

/// A physical frame number: the index of a page frame in `mem_map`.
///
/// Linux: `unsigned long pfn` (include/linux/pfn.h). Frame metadata (`MemMap`) is indexed by it.
@frozen
public struct PFN: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, Strideable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(_ value: Int) {
        precondition(value >= 0, "PFN: negative frame number \(value)")
        self.rawValue = UInt64(value)
    }
    @inlinable public static func < (a: PFN, b: PFN) -> Bool { a.rawValue < b.rawValue }
    /// The frame number as an array index.
    @inlinable public var index: Int { Int(truncatingIfNeeded: self.rawValue) }
    /// The physical address of the first byte of the frame.
    @inlinable public func physAddr(pageShift: Int) -> PhysAddr {
        PhysAddr(rawValue: self.rawValue << UInt64(pageShift))
    }
    @inlinable public func advanced(by n: Int) -> PFN {
        PFN(rawValue: UInt64(Int64(self.rawValue) + Int64(n)))
    }
    @inlinable public func distance(to other: PFN) -> Int {
        Int(Int64(other.rawValue) - Int64(self.rawValue))
    }
    public var description: String { "pfn=0x" + String(self.rawValue, radix: 16) }
}

/// A virtual page number (a virtual address shifted right by the page shift).
@frozen
public struct VPN: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible, Strideable {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static func < (a: VPN, b: VPN) -> Bool { a.rawValue < b.rawValue }
    /// The first address of the page.
    @inlinable public func address(pageShift: Int) -> VirtAddr {
        VirtAddr(rawValue: self.rawValue << UInt64(pageShift))
    }
    @inlinable public func advanced(by n: Int) -> VPN {
        VPN(rawValue: UInt64(Int64(self.rawValue) + Int64(n)))
    }
    @inlinable public func distance(to other: VPN) -> Int {
        Int(Int64(other.rawValue) - Int64(self.rawValue))
    }
    public var description: String { "vpn=0x" + String(self.rawValue, radix: 16) }
}

/// Formats `value` as `0x` followed by lower-case hex digits, zero-padded to `width` digits.
@inlinable
public func hex(_ value: UInt64, width: Int = 0) -> String {
    let digits = String(value, radix: 16)
    if digits.count >= width { return "0x" + digits }
    return "0x" + String(repeating: "0", count: width - digits.count) + digits
}

/// Formats `value` as lower-case hex digits without prefix, zero-padded to `width` digits.
@inlinable
public func hexDigits(_ value: UInt64, width: Int) -> String {
    let digits = String(value, radix: 16)
    if digits.count >= width { return digits }
    return String(repeating: "0", count: width - digits.count) + digits
}
