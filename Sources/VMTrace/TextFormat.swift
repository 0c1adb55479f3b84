import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Plain text addresses, one per line: `0x7ffd1234 [R|W]` or a bare number (hex if the trace
/// writes hex letters anywhere in its first chunk), optionally followed by R or W.
struct TextFormat: LineFormat {
    static let format = TraceFormat.text
    /// log2 of the page size.
    let shift: Int
    /// Numbers without `0x` are hex (decided from the first chunk: a hex letter anywhere).
    let bareHex: Bool
    /// The hex-digit table.
    let hex: UnsafeMutablePointer<UInt8>
    let maxPerLine = 1

    /// A parser for pages of `1 << shift` bytes.
    init(shift: Int, bareHex: Bool) {
        self.shift = shift
        self.bareHex = bareHex
        self.hex = hexTable
    }

    func explain(_ reason: UInt8) -> String {
        switch reason {
        case 0: return "expected hex digits after 0x"
        case 1: return "expected an address"
        case 2: return "expected an address (0x… or decimal)"
        case 3: return "expected a space, R or W, or end of line"
        case 4: return "expected R or W"
        default: return "expected end of line"
        }
    }

    mutating func parse(_ p: UnsafePointer<UInt8>, into batch: AccessBatch) -> (LineOutcome, Int) {
        var i = skipBlanks(p, 0)
        let c = p[i]
        if c == newline || c == UInt8(ascii: "#") || (c == UInt8(ascii: "\r") && p[i + 1] == newline) {
            return (.noise, findNewline(p, i))
        }
        var value: UInt64
        if c == UInt8(ascii: "0") && (p[i + 1] | 0x20) == UInt8(ascii: "x") {
            guard let (v, k) = scanHex(p, i + 2, self.hex) else { return (.bad(i + 2, 0), 0) }
            value = v
            i = k
        } else if self.bareHex {
            guard let (v, k) = scanHex(p, i, self.hex) else { return (.bad(i, 1), 0) }
            value = v
            i = k
        } else {
            guard let (v, k) = scanDecimal(p, i) else { return (.bad(i, 2), 0) }
            value = v
            i = k
        }
        var write = false
        if let end = lineEnd(p, i) {
            batch.append(value >> UInt64(self.shift), write: false)
            return (.accesses, end)
        }
        let k = skipBlanks(p, i)
        if k == i { return (.bad(i, 3), 0) }
        i = k
        switch p[i] {
        case UInt8(ascii: "R"), UInt8(ascii: "r"): write = false
        case UInt8(ascii: "W"), UInt8(ascii: "w"): write = true
        default: return (.bad(i, 4), 0)
        }
        guard let end = lineEnd(p, i + 1) else { return (.bad(skipBlanks(p, i + 1), 5), 0) }
        batch.append(value >> UInt64(self.shift), write: write)
        return (.accesses, end)
    }
}
