import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Comma-separated (or tab, bar, colon) rows, libCacheSim's csv reader: the id in one column
/// (a number, `0x…` hex, or any text hashed), an optional operation column (`w…`, `s…` or 1 is a
/// write), an optional header row naming them.
struct CSVFormat: LineFormat {
    static let format = TraceFormat.csv
    /// The field separator.
    let delimiter: UInt8
    /// The 1-based column of the id.
    let idColumn: Int
    /// The 1-based column of the operation, if any.
    let opColumn: Int?
    /// A header row is still to be skipped.
    var headerPending: Bool
    /// The hex-digit table.
    let hex = hexTable
    let maxPerLine = 1

    func explain(_ reason: UInt8) -> String {
        switch reason {
        case 0: return "expected an id in column \(self.idColumn)"
        case 1: return "expected at least \(self.idColumn) columns"
        default: return "expected at least \(self.opColumn ?? 0) columns"
        }
    }

    mutating func parse(_ p: UnsafePointer<UInt8>, into batch: AccessBatch) -> (LineOutcome, Int) {
        let end = findNewline(p, 0)
        var n = end
        if n > 0 && p[n - 1] == UInt8(ascii: "\r") { n -= 1 }
        if self.headerPending {
            self.headerPending = false
            return (.noise, end)
        }
        if n == 0 { return (.noise, end) }
        var column = 1
        var fieldStart = 0
        var id: UInt64?
        var write = false
        var i = 0
        while true {
            if i == n || p[i] == self.delimiter {
                if column == self.idColumn {
                    var s = fieldStart
                    while s < i && isBlank(p[s]) { s += 1 }
                    var e = i
                    while e > s && isBlank(p[e - 1]) { e -= 1 }
                    if e - s >= 2 && p[s] == UInt8(ascii: "\"") && p[e - 1] == UInt8(ascii: "\"") {
                        s += 1
                        e -= 1
                    }
                    if s == e { return (.bad(fieldStart, 0), 0) }
                    id = csvID(p, s, e)
                }
                if let op = self.opColumn, column == op {
                    var s = fieldStart
                    while s < i && isBlank(p[s]) { s += 1 }
                    if s < i {
                        let c = p[s] | 0x20
                        write = c == UInt8(ascii: "w") || c == UInt8(ascii: "s") || p[s] == UInt8(ascii: "1")
                    }
                }
                if i == n { break }
                column += 1
                fieldStart = i + 1
            }
            i += 1
        }
        guard let key = id else { return (.bad(n, 1), 0) }
        if let op = self.opColumn, column < op { return (.bad(n, 2), 0) }
        batch.append(key, write: write)
        return (.accesses, end)
    }

    /// A number (decimal or 0x hex) is its own id; other text is hashed.
    func csvID(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> UInt64 {
        var hexV: UInt64 = 0
        var ok =
            e - s > 2 && e - s <= 18 && p[s] == UInt8(ascii: "0") && (p[s + 1] | 0x20) == UInt8(ascii: "x")
        if ok {
            for k in (s + 2)..<e {
                let d = self.hex[Int(p[k])]
                if d > 15 {
                    ok = false
                    break
                }
                hexV = hexV << 4 | UInt64(d)
            }
            if ok { return hexV }
        }
        var v: UInt64 = 0
        ok = e - s <= 19
        for k in s..<e where ok {
            let d = p[k] &- UInt8(ascii: "0")
            if d > 9 { ok = false } else { v = v &* 10 &+ UInt64(d) }
        }
        if ok { return v }
        return fnv1a(p + s, e - s) | (1 << 63)
    }
}

/// libCacheSim's delimiter guess: the most frequent of tab, comma, bar and colon in the first
/// line, weighted 4, 3, 2, 1.
func detectDelimiter(_ line: [UInt8]) -> UInt8 {
    let candidates: [(UInt8, Int)] = [
        (9, 4), (UInt8(ascii: ","), 3), (UInt8(ascii: "|"), 2), (UInt8(ascii: ":"), 1),
    ]
    var best: (UInt8, Int) = (UInt8(ascii: ","), 0)
    for (c, w) in candidates {
        let score = line.filter { $0 == c }.count * w
        if score > best.1 { best = (c, score) }
    }
    return best.0
}

/// The first row's fields, trimmed and lower-cased (header names).
func csvFieldNames(_ line: [UInt8], delimiter: UInt8) -> [String] {
    line.split(separator: delimiter, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self).trimmingCharacters(in: " \t\r\"").lowercased()
    }
}

/// A header row: its id field is not a number.
func csvLooksLikeHeader(_ line: [UInt8], delimiter: UInt8, column: Int) -> Bool {
    let fields = line.split(separator: delimiter, omittingEmptySubsequences: false)
    guard column >= 1 && column <= fields.count else { return false }
    let field = String(decoding: fields[column - 1], as: UTF8.self).trimmingCharacters(in: " \t\r\"")
    if field.isEmpty { return false }
    if field.allSatisfy({ $0.isASCII && $0.isNumber }) { return false }
    if field.hasPrefix("0x") && field.dropFirst(2).allSatisfy(\.isHexDigit) { return false }
    return field.contains(where: \.isLetter)
}

extension String {
    /// The string without leading and trailing characters of `set`.
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
