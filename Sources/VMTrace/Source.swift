#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A malformed trace: where, and what was expected there.
public struct TraceError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line (for binary traces: the record number), 0 when the error is about the file.
    public var line: Int
    /// 1-based column (for binary traces: the byte offset in the record + 1), 0 if none.
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        if self.line == 0 { return "\(self.file): \(self.message)" }
        return "\(self.file):\(self.line):\(self.column): \(self.message)"
    }
}

/// Reads a file (or standard input, named "-") in large chunks through `read(2)`: constant
/// memory for any size of trace.
final class ByteSource {
    let name: String
    let fd: Int32
    let ownsDescriptor: Bool
    /// `capacity` bytes plus one spare, so a last line without a newline can be given one.
    var buffer: UnsafeMutablePointer<UInt8>
    var capacity: Int
    /// The unconsumed bytes are `buffer[start..<end]`.
    var start = 0
    var end = 0
    var eof = false
    /// Bytes consumed before `buffer[0]`.
    var offset: Int64 = 0

    init(path: String, chunk: Int = 1 << 20) throws {
        if path == "-" {
            self.name = "<stdin>"
            self.fd = 0
            self.ownsDescriptor = false
        } else {
            self.name = path
            let fd = open(path, O_RDONLY)
            if fd < 0 {
                throw TraceError(
                    file: path, line: 0, column: 0,
                    message: "cannot open: \(String(cString: strerror(errno)))")
            }
            var st = stat()
            if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                close(fd)
                throw TraceError(file: path, line: 0, column: 0, message: "is a directory")
            }
            self.fd = fd
            self.ownsDescriptor = true
        }
        self.capacity = chunk
        self.buffer = .allocate(capacity: chunk + 1)
    }

    /// For tests: a source over bytes in memory.
    init(name: String, bytes: [UInt8]) {
        self.name = name
        self.fd = -1
        self.ownsDescriptor = false
        self.capacity = max(bytes.count, 1)
        self.buffer = .allocate(capacity: self.capacity + 1)
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { self.buffer.update(from: base, count: b.count) }
        }
        self.end = bytes.count
        self.eof = true
    }

    deinit {
        self.buffer.deallocate()
        if self.ownsDescriptor { close(self.fd) }
    }

    var available: Int { self.end - self.start }

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
            // A line longer than the buffer: grow it.
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity * 2 + 1)
            bigger.update(from: self.buffer, count: self.end)
            self.buffer.deallocate()
            self.buffer = bigger
            self.capacity *= 2
        }
        var total = 0
        while !self.eof && self.end < self.capacity {
            let n = read(self.fd, self.buffer + self.end, self.capacity - self.end)
            if n < 0 {
                if errno == EINTR { continue }
                throw TraceError(
                    file: self.name, line: 0, column: 0,
                    message: "read failed: \(String(cString: strerror(errno)))")
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
