import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Dinero III: `label address [more]`; labels 0 (read), 1 (write), 2 (instruction fetch) are
/// accesses, 3 and 4 (escapes, cache flush) are not.
struct DinFormat: LineFormat {
    static let format = TraceFormat.din
    /// log2 of the page size.
    let shift: Int
    /// Whether instruction fetches (label 2) count.
    let instructions: Bool
    /// The hex-digit table.
    let hex: UnsafeMutablePointer<UInt8>
    let maxPerLine = 1

    /// A parser for pages of `1 << shift` bytes.
    init(shift: Int, instructions: Bool) {
        self.shift = shift
        self.instructions = instructions
        self.hex = hexTable
    }

    func explain(_ reason: UInt8) -> String {
        switch reason {
        case 0: return "expected a label 0-4"
        case 1: return "expected a hex address"
        default: return "expected a space or end of line"
        }
    }

    mutating func parse(_ p: UnsafePointer<UInt8>, into batch: AccessBatch) -> (LineOutcome, Int) {
        var i = skipBlanks(p, 0)
        let c = p[i]
        if c == newline || c == UInt8(ascii: "#") || (c == UInt8(ascii: "\r") && p[i + 1] == newline) {
            return (.noise, findNewline(p, i))
        }
        let label = c &- UInt8(ascii: "0")
        guard label <= 4, isBlank(p[i + 1]) || p[i + 1] == newline else { return (.bad(i, 0), 0) }
        if label >= 3 { return (.noise, findNewline(p, i)) }
        i = skipBlanks(p, i + 1)
        if p[i] == UInt8(ascii: "0") && (p[i + 1] | 0x20) == UInt8(ascii: "x") { i += 2 }
        guard let (address, k) = scanHex(p, i, self.hex) else { return (.bad(i, 1), 0) }
        let end: Int
        if let e = lineEnd(p, k) {
            end = e
        } else {
            guard isBlank(p[k]) else { return (.bad(k, 2), 0) }
            end = findNewline(p, k)  // more fields: ignored
        }
        if label == 2 && !self.instructions { return (.instructionSkipped, end) }
        batch.append(address >> UInt64(self.shift), write: label == 1)
        return (.accesses, end)
    }
}
