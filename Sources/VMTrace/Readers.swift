import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The trace formats vmsim reads and writes.
public enum TraceFormat: String, CaseIterable, Sendable {
    /// `valgrind --tool=lackey --trace-mem=yes`: `I  0400d7d4,8`, ` L 1ffefffb80,8`, ` S …`, ` M …`.
    case lackey
    /// One address per line — hex with `0x` (or with hex letters), else decimal — optionally
    /// followed by `R` or `W`; page numbers instead with `--page-numbers`.
    case text
    /// libCacheSim's `txt`: one object id per line (a page number, used as is).
    case txt
    /// libCacheSim's `csv`: an id column (and optionally an operation column) per row.
    case csv
    /// libCacheSim's `oracleGeneral`: packed 24-byte little-endian records
    /// (u32 time, u64 id, u32 size, i64 next access).
    case oracleGeneral
    /// Dinero III `din`: `label address` per line (0 read, 1 write, 2 instruction fetch).
    case din

    /// Parses a format name as the command line gives it (case-insensitive).
    public init?(name: String) {
        guard let f = TraceFormat.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() })
        else {
            return nil
        }
        self = f
    }
}

/// How a trace is to be read.
public struct TraceOptions: Sendable {
    /// The format, or nil to detect it from the name and content.
    public var format: TraceFormat?
    /// Bytes per page, for formats that give addresses (lackey, text, din).
    public var pageSize = 4096
    /// Whether lackey `I` lines and din label 2 (instruction fetches) are accesses.
    public var instructions = true
    /// Text traces: the numbers are page numbers, not addresses.
    public var pageNumbers = false
    /// Count and skip malformed lines instead of stopping at the first.
    public var skipBad = false
    /// CSV: 1-based column of the id; nil: the header's `id`, `obj_id`, `page`, `key` or
    /// `address` column, else the first.
    public var csvIDColumn: Int?
    /// CSV: 1-based column of the operation (a value starting with `w`, `W`, `s` or `S`, or `1`,
    /// is a write); nil: the header's `op`, `operation`, `type` or `rw` column, else none.
    public var csvOpColumn: Int?
    /// CSV: the delimiter, or nil to detect (tab, comma, bar, colon — libCacheSim's order).
    public var csvDelimiter: UInt8?
    /// CSV: whether the first row is a header, or nil to detect.
    public var csvHeader: Bool?

    public init() {}

    var pageShift: Int { self.pageSize.trailingZeroBitCount }
}

/// What a reader saw besides accesses.
public struct ReaderStats: Sendable, Equatable {
    /// Lines (records for binary traces) read.
    public var lines = 0
    /// Lines that carry no access: valgrind's `==PID==` lines, blank lines, comments, din
    /// escapes, libCacheSim records of size 0.
    public var noise = 0
    /// Instruction fetches left out (`--no-instructions`).
    public var instructionsSkipped = 0
    /// Malformed lines skipped (`--skip-bad`).
    public var bad = 0
    /// The first few malformed lines.
    public var firstBad: [TraceError] = []
    public init() {}
}

/// A batch of page accesses in reading order.
public final class AccessBatch {
    public let capacity: Int
    public var count = 0
    /// Page numbers (or object ids).
    public let keys: UnsafeMutablePointer<UInt64>
    /// 1 for a write.
    public let writes: UnsafeMutablePointer<UInt8>
    /// The (trace-relative) time of the next access to the same page, or `Int64.max` for
    /// never; only oracleGeneral traces carry it.
    public let next: UnsafeMutablePointer<Int64>
    public var hasNext = false

    public init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        self.keys = .allocate(capacity: capacity)
        self.writes = .allocate(capacity: capacity)
        self.next = .allocate(capacity: capacity)
        self.keys.initialize(repeating: 0, count: capacity)
        self.writes.initialize(repeating: 0, count: capacity)
        self.next.initialize(repeating: 0, count: capacity)
    }
    deinit {
        self.keys.deallocate()
        self.writes.deallocate()
        self.next.deallocate()
    }

    @inline(__always) func append(_ key: UInt64, write: Bool) {
        self.keys[self.count] = key
        self.writes[self.count] = write ? 1 : 0
        self.count += 1
    }
}

/// A streaming trace reader.
public protocol TraceReader: AnyObject {
    var format: TraceFormat { get }
    var name: String { get }
    var stats: ReaderStats { get }
    /// Replaces the batch's contents with the next accesses; false when the trace is over (the
    /// batch is then empty).
    func read(into batch: AccessBatch) throws -> Bool
    /// How far reading has got in the file (compressed bytes for a compressed file), for progress.
    var position: InputPosition { get }
    /// How the file is compressed (told by its magic number).
    var compression: Compression { get }
}

// MARK: - Text formats

/// What one line held.
enum LineOutcome: Equatable {
    case accesses
    case noise
    case instructionSkipped
    /// Malformed: the 0-based column and a reason code the format explains.
    case bad(Int, UInt8)
}

/// One text format: parses a line in place, in one pass.
protocol LineFormat {
    static var format: TraceFormat { get }
    /// At most this many accesses come from one line.
    var maxPerLine: Int { get }
    /// Parses the line starting at `p` (a newline follows somewhere, so scanning stops at it
    /// without bounds checks). Returns the outcome and, except for `.bad`, the index of the
    /// line's newline.
    mutating func parse(_ p: UnsafePointer<UInt8>, into batch: AccessBatch) -> (LineOutcome, Int)
    /// What a `.bad` reason expected.
    func explain(_ reason: UInt8) -> String
}

/// Reads a line-oriented trace: whole lines out of the source's buffer, parsed in place.
final class LineReader<F: LineFormat>: TraceReader {
    let source: ByteSource
    var parser: F
    let skipBad: Bool
    var stats = ReaderStats()
    /// Skipping the rest of an over-long line (`skipBad`).
    var discarding = false
    var format: TraceFormat { F.format }
    var name: String { self.source.name }
    var position: InputPosition { self.source.position }
    var compression: Compression { self.source.compression }

    init(source: ByteSource, parser: F, skipBad: Bool) {
        self.source = source
        self.parser = parser
        self.skipBad = skipBad
    }

    /// The longest line read: 1 MiB (the read chunk), far more than any trace format needs. A
    /// longer one is an error (or, with `skipBad`, skipped), so a file without newlines cannot
    /// make the reader hold all of it.
    static var maxLineBytes: Int { 1 << 20 }

    func read(into batch: AccessBatch) throws -> Bool {
        batch.count = 0
        batch.hasNext = false
        let room = batch.capacity - self.parser.maxPerLine
        while batch.count <= room {
            // Complete lines available?
            var limit = self.completeLinesEnd()
            if limit < 0 && self.discarding {
                // The rest of an over-long line: drop what was read and look further.
                self.source.start = self.source.end
                if self.source.eof { break }
                try self.source.refill()
                continue
            }
            if self.discarding {
                self.source.start = self.nextLineStart()
                self.discarding = false
                continue
            }
            if limit < 0 && !self.source.eof && self.source.available >= Self.maxLineBytes {
                let error = TraceError(
                    file: self.source.name, line: self.stats.lines + 1, column: 1,
                    message: "line longer than \(Self.maxLineBytes >> 20) MiB (is this a trace?)")
                self.stats.lines += 1
                if !self.skipBad { throw error }
                self.stats.bad += 1
                if self.stats.firstBad.count < 5 { self.stats.firstBad.append(error) }
                self.discarding = true
                continue
            }
            if limit < 0 {
                if self.source.eof {
                    if self.source.available == 0 { break }
                    // The last line lacks a newline: give it one (there is a spare byte).
                    self.source.buffer[self.source.end] = UInt8(ascii: "\n")
                    self.source.end += 1
                    limit = self.source.end
                } else {
                    try self.source.refill()
                    continue
                }
            }
            try self.parseLines(upTo: limit, batch: batch, room: room)
        }
        return batch.count > 0
    }

    /// One past the first newline in the unconsumed bytes (which hold one).
    func nextLineStart() -> Int {
        let s = self.source
        var i = s.start
        while s.buffer[i] != UInt8(ascii: "\n") { i += 1 }
        return i + 1
    }

    /// One past the last newline in the unconsumed bytes, or -1.
    func completeLinesEnd() -> Int {
        let s = self.source
        guard s.available > 0 else { return -1 }
        var i = s.end - 1
        while i >= s.start {
            if s.buffer[i] == UInt8(ascii: "\n") { return i + 1 }
            i -= 1
        }
        return -1
    }

    func parseLines(upTo limit: Int, batch: AccessBatch, room: Int) throws {
        let s = self.source
        let base = s.buffer
        var i = s.start
        var lines = 0
        defer { self.stats.lines += lines }
        while i < limit && batch.count <= room {
            lines += 1
            let before = batch.count
            let (outcome, at) = self.parser.parse(base + i, into: batch)
            switch outcome {
            case .accesses:
                i += at + 1
            case .noise:
                self.stats.noise += 1
                i += at + 1
            case .instructionSkipped:
                self.stats.instructionsSkipped += 1
                i += at + 1
            case .bad(let column, let reason):
                batch.count = before
                var j = i
                while base[j] != UInt8(ascii: "\n") { j += 1 }
                var n = j - i
                if n > 0 && base[j - 1] == UInt8(ascii: "\r") { n -= 1 }
                let col = min(column, n)
                let error = TraceError(
                    file: s.name, line: self.stats.lines + lines, column: col + 1,
                    message: "\(self.parser.explain(reason)), found \(Self.describe(base + i + col, n - col))"
                )
                if !self.skipBad {
                    self.stats.lines += lines
                    lines = 0
                    s.start = j + 1
                    throw error
                }
                self.stats.bad += 1
                if self.stats.firstBad.count < 5 { self.stats.firstBad.append(error) }
                i = j + 1
            }
        }
        s.start = i
    }

    /// The text at a bad spot, quoted and cut short.
    static func describe(_ p: UnsafePointer<UInt8>, _ n: Int) -> String {
        if n <= 0 { return "end of line" }
        var text = ""
        for k in 0..<min(n, 24) {
            let c = p[k]
            if c >= 0x20 && c < 0x7F {
                text.append(Character(UnicodeScalar(c)))
            } else {
                text += "\\x" + String(c, radix: 16, uppercase: false).leftPadded(2)
            }
        }
        return "'" + text + (n > 24 ? "…" : "") + "'"
    }
}

extension String {
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        self.count >= width ? self : String(repeating: pad, count: width - self.count) + self
    }
}

// MARK: Scanning up to the newline

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

@inline(__always) func hexValue(_ c: UInt8) -> UInt64? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(c &- UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(c &- UInt8(ascii: "a") &+ 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(c &- UInt8(ascii: "A") &+ 10)
    default: return nil
    }
}

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

// MARK: lackey

struct LackeyFormat: LineFormat {
    static let format = TraceFormat.lackey
    let shift: Int
    let instructions: Bool
    let hex: UnsafeMutablePointer<UInt8>
    /// Pages one access may span.
    let spanLimit = 64
    var maxPerLine: Int { 2 * self.spanLimit }

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

// MARK: text

struct TextFormat: LineFormat {
    static let format = TraceFormat.text
    let shift: Int
    /// Numbers without `0x` are hex (decided from the first chunk: a hex letter anywhere).
    let bareHex: Bool
    let hex: UnsafeMutablePointer<UInt8>
    let maxPerLine = 1

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

// MARK: txt

/// libCacheSim's txt reader interns each line as a string (without `-t obj-id-is-num=1`): two
/// lines are the same object exactly when their text is equal. A canonical decimal number (no
/// sign, no leading zero, at most 18 digits) is used as its own id; any other text gets a 64-bit
/// FNV-1a hash with the top bit set, so distinct lines stay distinct (up to hash collisions).
/// Only empty lines are skipped (libCacheSim skips lines that are exactly "\n").
struct TxtFormat: LineFormat {
    static let format = TraceFormat.txt
    let maxPerLine = 1

    func explain(_ reason: UInt8) -> String { "expected an id" }

    mutating func parse(_ p: UnsafePointer<UInt8>, into batch: AccessBatch) -> (LineOutcome, Int) {
        if p[0] == newline { return (.noise, 0) }
        if p[0] != UInt8(ascii: "0") || p[1] == newline, let (v, k) = scanDecimal(p, 0), p[k] == newline,
            k <= 18
        {
            batch.append(v, write: false)
            return (.accesses, k)
        }
        let end = findNewline(p, 0)
        batch.append(fnv1a(p, end) | (1 << 63), write: false)
        return (.accesses, end)
    }
}

@inline(__always) func fnv1a(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for k in 0..<n {
        h ^= UInt64(p[k])
        h = h &* 0x100_0000_01b3
    }
    return h
}

// MARK: csv

struct CSVFormat: LineFormat {
    static let format = TraceFormat.csv
    let delimiter: UInt8
    let idColumn: Int
    let opColumn: Int?
    var headerPending: Bool
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

// MARK: din

/// Dinero III: `label address [more]`; labels 0 (read), 1 (write), 2 (instruction fetch) are
/// accesses, 3 and 4 (escapes, cache flush) are not.
struct DinFormat: LineFormat {
    static let format = TraceFormat.din
    let shift: Int
    let instructions: Bool
    let hex: UnsafeMutablePointer<UInt8>
    let maxPerLine = 1

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

// MARK: - oracleGeneral

/// libCacheSim's oracleGeneral reader (`oracleGeneralBin.h`): records of size 0 are skipped;
/// a next access of -1 or `Int64.max` means never.
final class OracleReader: TraceReader {
    let source: ByteSource
    let skipBad: Bool
    var stats = ReaderStats()
    let format = TraceFormat.oracleGeneral
    var name: String { self.source.name }
    var position: InputPosition { self.source.position }
    var compression: Compression { self.source.compression }
    static let recordSize = 24

    init(source: ByteSource, skipBad: Bool) {
        self.source = source
        self.skipBad = skipBad
    }

    func read(into batch: AccessBatch) throws -> Bool {
        batch.count = 0
        batch.hasNext = true
        let s = self.source
        while batch.count < batch.capacity {
            if s.available < Self.recordSize {
                if s.eof {
                    if s.available > 0 {
                        let error = TraceError(
                            file: s.name, line: self.stats.lines + 1, column: 1,
                            message:
                                "expected a 24-byte record, found \(s.available) bytes at the end of the file"
                        )
                        s.start = s.end
                        if !self.skipBad { throw error }
                        self.stats.bad += 1
                        if self.stats.firstBad.count < 5 { self.stats.firstBad.append(error) }
                    }
                    break
                }
                try s.refill()
                continue
            }
            let records = min(s.available / Self.recordSize, batch.capacity - batch.count)
            let raw = UnsafeRawPointer(s.buffer + s.start)
            var out = batch.count
            for r in 0..<records {
                let rec = raw + r * Self.recordSize
                let size = UInt32(littleEndian: rec.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                if size == 0 {
                    self.stats.noise += 1
                    continue
                }
                batch.keys[out] = UInt64(littleEndian: rec.loadUnaligned(fromByteOffset: 4, as: UInt64.self))
                batch.writes[out] = 0
                let next = Int64(littleEndian: rec.loadUnaligned(fromByteOffset: 16, as: Int64.self))
                batch.next[out] = next == -1 ? Int64.max : next
                out += 1
            }
            batch.count = out
            self.stats.lines += records
            s.start += records * Self.recordSize
        }
        return batch.count > 0
    }
}

// MARK: - Opening and detection

/// Opens a trace for streaming, detecting its format when `options.format` is nil.
public func openTrace(_ path: String, options: TraceOptions) throws -> any TraceReader {
    let source = try ByteSource(path: path)
    return try makeReader(source, options: options)
}

/// A reader over bytes in memory (tests, fuzzing).
public func openTrace(bytes: [UInt8], name: String, options: TraceOptions) throws -> any TraceReader {
    try makeReader(ByteSource(name: name, bytes: bytes), options: options)
}

func makeReader(_ source: ByteSource, options: TraceOptions) throws -> any TraceReader {
    guard options.pageSize > 0 && options.pageSize & (options.pageSize - 1) == 0 else {
        throw TraceError(
            file: source.name, line: 0, column: 0,
            message: "page size \(options.pageSize) is not a power of two")
    }
    if source.available == 0 && !source.eof { try source.refill() }
    let sample = UnsafeBufferPointer(start: source.buffer + source.start, count: source.available)
    if source.compression != .none, let inner = Compression.named(inMagicOf: sample) {
        throw TraceError(
            file: source.name, line: 0, column: 0,
            message: "the \(source.compression.rawValue) stream holds \(inner)-compressed data "
                + "(compressed twice?); vmsim undoes one layer")
    }
    let guess = guessFormat(sample, name: source.name)
    var format = options.format
    if let given = format {
        if let seen = guess.format, formatContradicts(given: given, content: seen) {
            var what = "it looks like \(seen.rawValue)"
            if let (line, text) = guess.evidence { what += " (line \(line): \(text))" }
            throw TraceError(
                file: source.name, line: 0, column: 0,
                message: "--format \(given.rawValue) contradicts the content: \(what); "
                    + "leave out --format to read it as \(seen.rawValue)")
        }
        if given == .oracleGeneral && !guess.binary && !sample.isEmpty {
            throw TraceError(
                file: source.name, line: 0, column: 0,
                message:
                    "--format oracleGeneral contradicts the content: the file is text, not 24-byte binary records"
            )
        }
        if given != .oracleGeneral && guess.binary {
            throw TraceError(
                file: source.name, line: 0, column: 0,
                message: "--format \(given.rawValue) contradicts the content: the file is binary, not text"
                    + (guess.problem.map { " (\($0))" } ?? ""))
        }
    } else {
        format = guess.format
        if format == nil {
            if let problem = guess.problem {
                throw TraceError(file: source.name, line: 0, column: 0, message: problem)
            }
            throw TraceError(
                file: source.name, line: 1, column: 1,
                message: "cannot tell the trace format; name it with --format "
                    + TraceFormat.allCases.map(\.rawValue).joined(separator: "|"))
        }
    }
    let shift = options.pageShift
    switch format! {
    case .lackey:
        return LineReader(
            source: source, parser: LackeyFormat(shift: shift, instructions: options.instructions),
            skipBad: options.skipBad)
    case .text:
        let parser = TextFormat(shift: options.pageNumbers ? 0 : shift, bareHex: sampleHasBareHex(sample))
        return LineReader(source: source, parser: parser, skipBad: options.skipBad)
    case .txt:
        return LineReader(source: source, parser: TxtFormat(), skipBad: options.skipBad)
    case .csv:
        let firstLine = Array(sample.prefix { $0 != UInt8(ascii: "\n") })
        let delimiter = options.csvDelimiter ?? detectDelimiter(firstLine)
        let names = csvFieldNames(firstLine, delimiter: delimiter)
        let header =
            options.csvHeader
            ?? csvLooksLikeHeader(firstLine, delimiter: delimiter, column: options.csvIDColumn ?? 1)
        var idColumn = options.csvIDColumn
        var opColumn = options.csvOpColumn
        if header {
            if idColumn == nil,
                let i = names.firstIndex(where: {
                    ["id", "obj_id", "obj-id", "objid", "page", "key", "address", "addr"].contains($0)
                })
            {
                idColumn = i + 1
            }
            if opColumn == nil,
                let i = names.firstIndex(where: { ["op", "operation", "type", "rw"].contains($0) })
            {
                opColumn = i + 1
            }
        }
        let parser = CSVFormat(
            delimiter: delimiter, idColumn: max(1, idColumn ?? 1), opColumn: opColumn, headerPending: header)
        return LineReader(source: source, parser: parser, skipBad: options.skipBad)
    case .oracleGeneral:
        return OracleReader(source: source, skipBad: options.skipBad)
    case .din:
        return LineReader(
            source: source, parser: DinFormat(shift: shift, instructions: options.instructions),
            skipBad: options.skipBad)
    }
}

/// What the first chunk of a trace says about its format.
struct FormatGuess {
    var format: TraceFormat?
    /// Binary content (a NUL byte, or bytes that are not UTF-8).
    var binary = false
    /// The first line (1-based) that voted for `format`, quoted.
    var evidence: (Int, String)?
    /// Why no format fits, when that is known.
    var problem: String?
}

/// Guesses the format from the first chunk (decompressed), the name only breaking ties: binary
/// content is oracleGeneral if its first records are plausible ones (times that never go back,
/// next accesses -1 or later than the record); then the first 64 lines that are not blank,
/// comments or `==PID==` noise vote — lackey's `I  addr,size` / ` L addr,size`, din's
/// `label address`, comma-separated rows, `0x…`/`… R|W` addresses, plain decimal ids (txt) —
/// and a format needs more than half of them. A `.din` or `.csv` name (before `.gz`/`.zst`)
/// decides an empty file or a vote without a majority.
public func detectFormat(_ sample: UnsafeBufferPointer<UInt8>, name: String) -> TraceFormat? {
    guessFormat(sample, name: name).format
}

func guessFormat(_ sample: UnsafeBufferPointer<UInt8>, name: String) -> FormatGuess {
    var base = Substring(name)
    for suffix in [".gz", ".zst", ".zstd"] where base.hasSuffix(suffix) { base = base.dropLast(suffix.count) }
    let named: TraceFormat? = base.hasSuffix(".din") ? .din : base.hasSuffix(".csv") ? .csv : nil
    var guess = FormatGuess()
    if sample.isEmpty {
        guess.format = named ?? .txt
        return guess
    }
    let probe = UnsafeBufferPointer(rebasing: sample.prefix(4096))
    if probe.contains(0) || !isUTF8(probe) {
        guess.binary = true
        if let problem = oracleGeneralProblem(sample) {
            guess.problem = "binary data that is not an oracleGeneral trace (\(problem))"
        } else {
            guess.format = .oracleGeneral
        }
        return guess
    }
    var votes: [TraceFormat: Int] = [:]
    var firstVote: [TraceFormat: (Int, String)] = [:]
    var seen = 0
    var lineStart = 0
    var lineNumber = 0
    let bytes = Array(sample.prefix(1 << 16))
    while lineStart < bytes.count && seen < 64 {
        var end = lineStart
        while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
        if end == bytes.count && end - lineStart < 256 && bytes.count == 1 << 16 { break }  // cut line
        var line = Array(bytes[lineStart..<end])
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        lineStart = end + 1
        lineNumber += 1
        let text = String(decoding: line, as: UTF8.self)
        let trimmed = text.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty || trimmed.hasPrefix("==") || trimmed.hasPrefix("#") || trimmed.hasPrefix("--") {
            continue
        }
        seen += 1
        if let f = classifyLine(text) {
            votes[f, default: 0] += 1
            if firstVote[f] == nil {
                firstVote[f] = (
                    lineNumber, "'" + String(text.prefix(40)) + (text.count > 40 ? "…" : "") + "'"
                )
            }
        }
    }
    guard seen > 0 else {
        guess.format = named ?? .lackey
        return guess
    }
    let ranked = votes.sorted {
        $0.value != $1.value ? $0.value > $1.value : $0.key.rawValue < $1.key.rawValue
    }
    if let best = ranked.first, best.value * 2 > seen {
        guess.format = best.key
        guess.evidence = firstVote[best.key]
    } else if let named {
        guess.format = named
    }
    return guess
}

/// Whether the bytes are UTF-8 text (a sequence cut at the end of the sample is allowed).
func isUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
    var i = 0
    while i < b.count {
        let c = b[i]
        if c < 0x80 {
            i += 1
            continue
        }
        let n = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0
        if n == 0 || (c >= 0xE0 && c < 0xF0 && n != 3) { return false }
        for k in 1..<n {
            if i + k >= b.count { return true }
            if b[i + k] & 0xC0 != 0x80 { return false }
        }
        i += n
    }
    return true
}

/// Why the first records of binary data are not oracleGeneral ones, or nil if they look right:
/// at least one whole record; times (u32) that never go back; next accesses (i64) that are -1
/// or later than the record itself (libCacheSim's `next_access_vtime`).
func oracleGeneralProblem(_ sample: UnsafeBufferPointer<UInt8>) -> String? {
    let size = OracleReader.recordSize
    let records = min(sample.count / size, 256)
    guard records > 0 else { return "\(sample.count) bytes, less than one 24-byte record" }
    let raw = UnsafeRawBufferPointer(sample)
    var lastTime: UInt32 = 0
    for r in 0..<records {
        let time = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: r * size, as: UInt32.self))
        let next = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: r * size + 16, as: Int64.self))
        if time < lastTime {
            return "record \(r + 1)'s time \(time) is before the previous record's \(lastTime)"
        }
        if next != -1 && next <= Int64(r) {
            return "record \(r + 1)'s next access \(next) is not after it"
        }
        lastTime = time
    }
    return nil
}

/// Whether reading content that looks like `content` as `given` would give a wrong answer
/// rather than an error — or an error less clear than saying so. Ambiguous pairs are allowed:
/// decimal numbers (txt) read as text addresses or a one-column CSV, and din-looking rows as a
/// tab-separated CSV; and lackey's parser names the first line that is not lackey itself.
func formatContradicts(given: TraceFormat, content: TraceFormat) -> Bool {
    if given == content || given == .lackey { return false }
    switch (content, given) {
    case (.txt, .text), (.txt, .csv), (.txt, .din), (.din, .csv): return false
    default: return true
    }
}

func classifyLine(_ line: String) -> TraceFormat? {
    let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
    func isHex(_ s: Substring) -> Bool { !s.isEmpty && s.count <= 16 && s.allSatisfy(\.isHexDigit) }
    func isDec(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber) }
    if fields.count == 2, ["I", "L", "S", "M"].contains(fields[0]) {
        let parts = fields[1].split(separator: ",", omittingEmptySubsequences: false)
        if parts.count == 2 && isHex(parts[0]) && isDec(parts[1]) { return .lackey }
    }
    if fields.count >= 2, fields[0].count == 1, "01234".contains(fields[0]) {
        var a = fields[1]
        if a.hasPrefix("0x") || a.hasPrefix("0X") { a = a.dropFirst(2) }
        if isHex(a) && !(fields.count == 2 && ["R", "W", "r", "w"].contains(fields[1])) { return .din }
    }
    if line.contains(",") && !line.contains(" L ") { return .csv }
    if fields.count == 1 || (fields.count == 2 && ["R", "W", "r", "w"].contains(fields[1])) {
        let a = fields[0]
        if a.hasPrefix("0x") || a.hasPrefix("0X") { return isHex(a.dropFirst(2)) ? .text : nil }
        if fields.count == 2 { return isHex(a) ? .text : nil }
        if isDec(a) { return .txt }
        if isHex(a) { return .text }
    }
    return nil
}

/// Whether a text trace writes hex without `0x`: some number in the sample has a hex letter.
func sampleHasBareHex(_ sample: UnsafeBufferPointer<UInt8>) -> Bool {
    var i = 0
    let n = min(sample.count, 1 << 16)
    while i < n {
        // Start of a line: skip blanks, then look at the first token.
        while i < n && isBlank(sample[i]) { i += 1 }
        var j = i
        if j + 1 < n && sample[j] == UInt8(ascii: "0") && (sample[j + 1] | 0x20) == UInt8(ascii: "x") {
            // 0x-prefixed: says nothing about bare numbers.
        } else {
            while j < n && !isBlank(sample[j]) && sample[j] != UInt8(ascii: "\n")
                && sample[j] != UInt8(ascii: "\r")
            {
                let c = sample[j] | 0x20
                if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f") { return true }
                j += 1
            }
        }
        while i < n && sample[i] != UInt8(ascii: "\n") { i += 1 }
        i += 1
    }
    return false
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
    fileprivate func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
