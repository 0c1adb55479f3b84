import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Byte-level scanning the line formats share: hex and decimal numbers read in place, up to
// the newline that always follows, and pages spanned by an access.

/// The byte every line ends with.
let newline = UInt8(ascii: "\n")

/// 0…15 for a hex digit, 0xFF otherwise.
let hexDigits: [UInt8] = (0..<256).map { c -> UInt8 in
    switch c {
    case 48...57: return UInt8(c - 48)
    case 65...70: return UInt8(c - 55)
    case 97...102: return UInt8(c - 87)
    default: return 0xFF
    }
}

/// The value of a hex digit, or nil.
@inline(__always) func hexValue(_ c: UInt8) -> UInt64? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(c &- UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(c &- UInt8(ascii: "a") &+ 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(c &- UInt8(ascii: "A") &+ 10)
    default: return nil
    }
}

/// A space or a tab.
@inline(__always) func isBlank(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }

/// The index after the blanks at `p[i...]`.
@inline(__always) func skipBlanks(_ p: UnsafePointer<UInt8>, _ i: Int) -> Int {
    var j = i
    while isBlank(p[j]) { j &+= 1 }
    return j
}

/// The newline's index if only blanks (and a carriage return) are left at `p[i...]`.
@inline(__always) func lineEnd(_ p: UnsafePointer<UInt8>, _ i: Int) -> Int? {
    var j = skipBlanks(p, i)
    if p[j] == UInt8(ascii: "\r") { j &+= 1 }
    return p[j] == newline ? j : nil
}

/// The index of the newline at or after `p[i]`.
@inline(__always) func findNewline(_ p: UnsafePointer<UInt8>, _ i: Int) -> Int {
    var j = i
    while p[j] != newline { j &+= 1 }
    return j
}

/// Hex digits at `p[i...]`: the value and the index after them; nil if none or more than 16.
@inline(__always) func scanHex(_ p: UnsafePointer<UInt8>, _ i: Int, _ table: UnsafePointer<UInt8>) -> (
    UInt64, Int
)? {
    var v: UInt64 = 0
    var j = i
    while true {
        let d = table[Int(p[j])]
        if d > 15 { break }
        v = v &<< 4 | UInt64(d)
        j &+= 1
    }
    return j == i || j &- i > 16 ? nil : (v, j)
}

/// Decimal digits at `p[i...]`: the value and the index after them; nil if none or the value
/// overflows 64 bits.
@inline(__always) func scanDecimal(_ p: UnsafePointer<UInt8>, _ i: Int) -> (UInt64, Int)? {
    var v: UInt64 = 0
    var j = i
    while true {
        let d = p[j] &- UInt8(ascii: "0")
        if d > 9 { break }
        if j &- i >= 19 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = a
        } else {
            v = v &* 10 &+ UInt64(d)
        }
        j &+= 1
    }
    return j == i ? nil : (v, j)
}

/// `hexDigits` behind a plain pointer (no array bounds checks or retains in the parsers);
/// allocated once, never freed, never written after.
nonisolated(unsafe) let hexTable: UnsafeMutablePointer<UInt8> = {
    let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    t.initialize(from: hexDigits, count: 256)
    return t
}()

/// Appends the pages `[address, address + size)` touches; false if that is more than `limit`.
@inline(__always) func appendSpan(
    _ batch: AccessBatch, address: UInt64, size: UInt64, shift: Int, write: Bool, limit: Int
) -> Bool {
    let first = address >> UInt64(shift)
    let lastByte = size <= 1 ? address : address &+ (size - 1)
    let last = lastByte < address ? UInt64.max >> UInt64(shift) : lastByte >> UInt64(shift)
    if last == first {
        batch.append(first, write: write)
        return true
    }
    if last - first >= UInt64(limit) { return false }
    var page = first
    while true {
        batch.append(page, write: write)
        if page == last { break }
        page += 1
    }
    return true
}
