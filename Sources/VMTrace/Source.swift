import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A malformed trace: where, and what was expected there.
public struct TraceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The trace (or maps) file.
    public var file: String
    /// 1-based line (for binary traces: the record number), 0 when the error is about the file.
    public var line: Int
    /// 1-based column (for binary traces: the byte offset in the record + 1), 0 if none.
    public var column: Int
    /// What was expected or wrong.
    public var message: String

    /// An error at `line`, `column` of `file` (0: the file as a whole).
    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:column: message`.
    public var description: String {
        if self.line == 0 { return "\(self.file): \(self.message)" }
        return "\(self.file):\(self.line):\(self.column): \(self.message)"
    }
}

/// Reads a file (or standard input, named "-") in large chunks — decompressed first when it is
/// gzip or zstd (`TraceInput`) — : constant memory for any size of trace.
final class ByteSource {
    /// The file's name, for errors.
    let name: String
    /// The file, decompressed as it is read.
    let input: InputFile
    /// `capacity` bytes plus one spare, so a last line without a newline can be given one.
    var buffer: UnsafeMutablePointer<UInt8>
    /// The buffer's size.
    var capacity: Int
    /// The unconsumed bytes are `buffer[start..<end]`.
    var start = 0
    /// The end of the valid bytes in the buffer.
    var end = 0
    /// The input has ended.
    var eof = false
    /// Bytes consumed before `buffer[0]`.
    var offset: Int64 = 0

    /// Opens `path` (`-`: standard input), reading `chunk` bytes at a time.
    init(path: String, chunk: Int = 1 << 20) throws {
        do {
            self.input = try InputFile(path: path)
        } catch {
            throw TraceError(file: error.file, line: 0, column: 0, message: error.message)
        }
        self.name = self.input.name
        self.capacity = chunk
        self.buffer = .allocate(capacity: chunk + 1)
    }

    /// Bytes `range` of the plain file `path`.
    init(path: String, range: Range<Int64>, chunk: Int = 1 << 20) throws {
        do {
            self.input = try InputFile(path: path, range: range)
        } catch {
            throw TraceError(file: error.file, line: 0, column: 0, message: error.message)
        }
        self.name = self.input.name
        self.capacity = chunk
        self.buffer = .allocate(capacity: chunk + 1)
    }

    /// For tests: a source over bytes in memory (compressed or not).
    init(name: String, bytes: [UInt8]) throws {
        do {
            self.input = try InputFile(name: name, bytes: bytes)
        } catch {
            throw TraceError(file: error.file, line: 0, column: 0, message: error.message)
        }
        self.name = name
        self.capacity = max(bytes.count, 1 << 16)
        self.buffer = .allocate(capacity: self.capacity + 1)
    }

    deinit { self.buffer.deallocate() }

    /// The longest line a text trace may have.
    static let maxLine = 64 << 20

    /// Bytes in the buffer not consumed yet.
    var available: Int { self.end - self.start }

    /// How the file is compressed.
    var compression: Compression { self.input.compression }

    /// Where reading stands in the file (compressed bytes for a compressed file).
    var position: InputPosition { self.input.position }

    /// Moves the unconsumed bytes to the front and reads until the buffer is full or the input
    /// ends. Returns the number of new bytes.
    @discardableResult
    func refill() throws -> Int {
        if self.start > 0 {
            let n = self.end - self.start
            if n > 0 { self.buffer.update(from: self.buffer + self.start, count: n) }
            self.offset += Int64(self.start)
            self.start = 0
            self.end = n
        }
        if self.end == self.capacity && !self.eof {
            // A line longer than the buffer: grow it, up to a bound (a file without newlines,
            // or a decompression bomb, must not take all memory).
            guard self.capacity < Self.maxLine else {
                throw TraceError(
                    file: self.name, line: 0, column: 0,
                    message: "a line longer than \(Self.maxLine >> 20) MiB: not a text trace")
            }
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity * 2 + 1)
            bigger.update(from: self.buffer, count: self.end)
            self.buffer.deallocate()
            self.buffer = bigger
            self.capacity *= 2
        }
        var total = 0
        while !self.eof && self.end < self.capacity {
            let n: Int
            do {
                n = try self.input.read(into: self.buffer + self.end, count: self.capacity - self.end)
            } catch {
                throw TraceError(file: error.file, line: 0, column: 0, message: error.message)
            }
            if n == 0 {
                self.eof = true
                break
            }
            self.end += n
            total += n
        }
        return total
    }
}
