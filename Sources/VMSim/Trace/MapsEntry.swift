import VMTrace

/// One line of a `/proc/PID/maps` file.
public struct MapsEntry: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var read: Bool
    public var write: Bool
    public var exec: Bool
    public var shared: Bool
    public var name: String
    /// Where the entry was read: the maps file and its 1-based line (for errors).
    public var file = ""
    public var line = 0

    /// Parses a maps file (`start-end perms offset dev inode [path]` per line); errors name the
    /// line and column.
    public static func parse(_ text: String, file: String) throws(TraceError) -> [MapsEntry] {
        var entries: [MapsEntry] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            func fail(_ column: Int, _ message: String) -> TraceError {
                TraceError(file: file, line: n + 1, column: column + 1, message: message)
            }
            let chars = Array(line.utf8)
            var i = 0
            func hex() -> UInt64? {
                var v: UInt64 = 0
                let s = i
                while i < chars.count, let d = hexValueOf(chars[i]) {
                    if i - s == 16 { return nil }
                    v = v << 4 | d
                    i += 1
                }
                return i == s ? nil : v
            }
            guard let start = hex() else { throw fail(i, "expected the start address (hex)") }
            guard i < chars.count && chars[i] == UInt8(ascii: "-") else { throw fail(i, "expected '-'") }
            i += 1
            guard let end = hex() else { throw fail(i, "expected the end address (hex)") }
            guard end > start else { throw fail(0, "the end address is not above the start") }
            guard i < chars.count && chars[i] == UInt8(ascii: " ") else { throw fail(i, "expected a space") }
            i += 1
            guard i + 4 <= chars.count else { throw fail(i, "expected permissions like r-xp") }
            let p = chars[i..<(i + 4)].map { Character(UnicodeScalar($0)) }
            guard
                (p[0] == "r" || p[0] == "-") && (p[1] == "w" || p[1] == "-") && (p[2] == "x" || p[2] == "-")
                    && (p[3] == "p" || p[3] == "s")
            else { throw fail(i, "expected permissions like r-xp") }
            i += 4
            // offset, dev, inode, then the optional name.
            var fields = 0
            while fields < 3 {
                while i < chars.count && chars[i] == UInt8(ascii: " ") { i += 1 }
                let s = i
                while i < chars.count && chars[i] != UInt8(ascii: " ") { i += 1 }
                if i == s { throw fail(i, "expected the offset, device and inode fields") }
                fields += 1
            }
            while i < chars.count && (chars[i] == UInt8(ascii: " ") || chars[i] == UInt8(ascii: "\t")) {
                i += 1
            }
            let name = String(decoding: chars[i...], as: UTF8.self)
            entries.append(
                MapsEntry(
                    start: start, end: end, read: p[0] == "r", write: p[1] == "w", exec: p[2] == "x",
                    shared: p[3] == "s", name: name, file: file, line: n + 1))
        }
        return entries
    }
}

func hexValueOf(_ c: UInt8) -> UInt64? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(c - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(c - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(c - UInt8(ascii: "A") + 10)
    default: return nil
    }
}
