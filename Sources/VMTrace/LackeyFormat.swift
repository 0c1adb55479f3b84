import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// valgrind's lackey (`--tool=lackey --trace-mem=yes`): `I  addr,size` (instruction fetch),
/// ` L addr,size` (load), ` S addr,size` (store), ` M addr,size` (modify: a load and a store);
/// `==PID==` lines and anything else valgrind prints are noise. An access spanning pages counts
/// once per page it touches.
struct LackeyFormat: LineFormat {
    static let format = TraceFormat.lackey
    /// log2 of the page size.
    let shift: Int
    /// Whether instruction fetches (`I` lines) count.
    let instructions: Bool
    /// The hex-digit table.
    let hex: UnsafeMutablePointer<UInt8>
    /// Pages one access may span.
    let spanLimit = 64
    var maxPerLine: Int { 2 * self.spanLimit }

    /// A parser for pages of `1 << shift` bytes.
    init(shift: Int, instructions: Bool) {
        self.shift = shift
        self.instructions = instructions
        self.hex = hexTable
    }

    func explain(_ reason: UInt8) -> String {
        switch reason {
        case 0: return "expected I, L, S or M, or a ==PID== line"
        case 1: return "expected a space after the access kind"
        case 2: return "expected a hex address"
        case 3: return "expected ',' after the address"
        case 4: return "expected a decimal size"
        case 5: return "expected end of line"
        default: return "expected a size spanning at most \(self.spanLimit) pages"
        }
    }

    mutating func parse(_ p: UnsafePointer<UInt8>, into batch: AccessBatch) -> (LineOutcome, Int) {
        var i = skipBlanks(p, 0)
        let kind = p[i]
        switch kind {
        case UInt8(ascii: "I"), UInt8(ascii: "L"), UInt8(ascii: "S"), UInt8(ascii: "M"): break
        case UInt8(ascii: "="), UInt8(ascii: "-"), UInt8(ascii: "#"), newline, UInt8(ascii: "\r"):
            return (.noise, findNewline(p, i))
        default: return (.bad(i, 0), 0)
        }
        i &+= 1
        let afterKind = i
        i = skipBlanks(p, i)
        if i == afterKind { return (.bad(i, 1), 0) }
        guard let (address, k) = scanHex(p, i, self.hex) else { return (.bad(i, 2), 0) }
        i = k
        guard p[i] == UInt8(ascii: ",") else { return (.bad(i, 3), 0) }
        i &+= 1
        let sizeStart = i
        guard let (size, k2) = scanDecimal(p, i) else { return (.bad(i, 4), 0) }
        guard let end = lineEnd(p, k2) else { return (.bad(skipBlanks(p, k2), 5), 0) }
        if kind == UInt8(ascii: "I") && !self.instructions { return (.instructionSkipped, end) }
        if !appendSpan(
            batch, address: address, size: size, shift: self.shift, write: kind == UInt8(ascii: "S"),
            limit: self.spanLimit)
        {
            return (.bad(sizeStart, 6), 0)
        }
        if kind == UInt8(ascii: "M") {
            _ = appendSpan(
                batch, address: address, size: size, shift: self.shift, write: true, limit: self.spanLimit)
        }
        return (.accesses, end)
    }
}
