import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
    /// The bytes, read a chunk at a time.
    let source: ByteSource
    /// The format's line parser.
    var parser: F
    /// Count and skip malformed lines instead of stopping.
    let skipBad: Bool
    /// Lines read, skipped and refused so far.
    var stats = ReaderStats()
    /// Skipping the rest of an over-long line (`skipBad`).
    var discarding = false
    var format: TraceFormat { F.format }
    var name: String { self.source.name }
    var position: InputPosition { self.source.position }
    var compression: Compression { self.source.compression }

    /// A reader of `source` with `parser`.
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

    /// Parses whole lines in the buffer up to `limit`, while the batch has `room`.
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
