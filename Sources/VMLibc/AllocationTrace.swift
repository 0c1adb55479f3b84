import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The allocation-trace formats VMLibc reads.
public enum AllocationTraceFormat: String, Sendable, CaseIterable {
    /// tools/malloc-trace/shim.c's log: every call with its result, the real program break after
    /// it, and whether glibc's chunk was mmapped (tools/malloc-trace/README.md).
    case shim
    /// `valgrind --trace-malloc=yes` output: `--PID-- malloc(24) = 0x4A40040` and so on.
    /// Valgrind replaces the allocator, so these traces carry no break or mmap information.
    case valgrind
}

/// One allocation call of a traced program.
public enum AllocationCall: Sendable, Equatable {
    case malloc(size: UInt64)
    case calloc(count: UInt64, size: UInt64)
    case realloc(pointer: UInt64, size: UInt64)
    /// `memalign`, `aligned_alloc`, `valloc`, `pvalloc` (with its rounded size).
    case memalign(alignment: UInt64, size: UInt64)
    case posixMemalign(alignment: UInt64, size: UInt64)
    case free(pointer: UInt64)
}

/// A traced call and what the real process saw.
public struct AllocationEvent: Sendable, Equatable {
    public var call: AllocationCall
    /// The pointer the call returned (0 for NULL, and for `free`).
    public var result: UInt64
    /// The program break after the call (shim traces), or nil.
    public var brk: UInt64?
    /// Whether the returned (for `free`: the freed) chunk was mmapped (shim traces), or nil.
    public var mmapped: Bool?
    /// Whether another thread than the one that started the trace made the call.
    public var otherThread: Bool
    /// The 1-based line of the trace.
    public var line: Int

    public init(
        call: AllocationCall, result: UInt64, brk: UInt64? = nil, mmapped: Bool? = nil,
        otherThread: Bool = false,
        line: Int = 0
    ) {
        self.call = call
        self.result = result
        self.brk = brk
        self.mmapped = mmapped
        self.otherThread = otherThread
        self.line = line
    }
}

/// Why an allocation trace could not be read: the file, the 1-based line and column, and what
/// was expected there.
public struct AllocationTraceError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 0 when the error is about the file as a whole.
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        self.line == 0
            ? "\(self.file): \(self.message)" : "\(self.file):\(self.line):\(self.column): \(self.message)"
    }
}

/// What a reader saw besides calls.
public struct AllocationTraceStats: Sendable, Equatable {
    /// Lines read.
    public var lines = 0
    /// Lines that are not calls: comments, valgrind's own messages, the program's output.
    public var noise = 0
    /// valgrind lines of another process (`--trace-children=yes`).
    public var otherProcessLines = 0
    /// Shim lines after a second trace header (the process exec'd a new program into the same
    /// file): not read.
    public var linesAfterExec = 0
    /// The process id, the first thread's id and initial break from the header (shim), or the
    /// process id of the first valgrind line.
    public var pid: Int?
    public var tid: Int?
    public var initialBreak: UInt64?
    /// The traced executable (shim header).
    public var executable: String?
    public init() {}
}

/// Reads an allocation trace one call at a time, in constant memory.
///
/// Input is never trusted: a malformed line is an `AllocationTraceError` naming the file, line
/// and column; a line longer than `maxLineLength` bytes, a number that overflows, NUL bytes or
/// invalid UTF-8 end the read the same way, never with a trap.
public final class AllocationTraceReader {
    public let name: String
    @exclusivity(unchecked) public private(set) var format: AllocationTraceFormat?
    @exclusivity(unchecked) public private(set) var stats = AllocationTraceStats()
    /// The longest line accepted.
    public static let maxLineLength = 4096

    /// The file, decompressed when it is gzip or zstd; nil for bytes in memory.
    let input: InputFile?
    @exclusivity(unchecked) var buffer: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) var capacity: Int
    @exclusivity(unchecked) var start = 0
    @exclusivity(unchecked) var end = 0
    @exclusivity(unchecked) var eof = false
    @exclusivity(unchecked) var currentThread = 0
    @exclusivity(unchecked) var sawCall = false
    @exclusivity(unchecked) var stopped = false
    /// A valgrind `realloc(P,0)free(P)` waits for its ` = 0` line.
    @exclusivity(unchecked) var pendingReallocFree = false

    /// Reads the file at `path` ("-" for standard input), plain or gzip/zstd-compressed (told
    /// by its magic number); nil format detects it from the first line that decides.
    public init(path: String, format: AllocationTraceFormat? = nil) throws(AllocationTraceError) {
        self.name = path
        self.format = format
        do {
            self.input = try InputFile(path: path)
        } catch {
            throw AllocationTraceError(file: path, line: 0, column: 0, message: error.message)
        }
        self.capacity = 1 << 20
        self.buffer = .allocate(capacity: self.capacity)
    }

    /// Reads `bytes` (a test's or a caller's in-memory trace), named `name` in errors.
    public init(bytes: [UInt8], name: String, format: AllocationTraceFormat? = nil) {
        self.name = name
        self.format = format
        self.input = nil
        self.capacity = max(bytes.count, 1)
        self.buffer = .allocate(capacity: self.capacity)
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { self.buffer.update(from: base, count: b.count) }
        }
        self.end = bytes.count
        self.eof = true
    }

    deinit { self.buffer.deallocate() }

    /// Reads every call.
    public func readAll() throws(AllocationTraceError) -> [AllocationEvent] {
        var out: [AllocationEvent] = []
        while let e = try self.next() { out.append(e) }
        return out
    }

    func error(_ column: Int, _ message: String) -> AllocationTraceError {
        AllocationTraceError(file: self.name, line: self.stats.lines, column: column, message: message)
    }

    /// The next line as a range of `buffer`, without its newline; nil at the end.
    func nextLine() throws(AllocationTraceError) -> Range<Int>? {
        while true {
            if self.end > self.start,
                let found = memchr(self.buffer + self.start, Int32(UInt8(ascii: "\n")), self.end - self.start)
            {
                let nl = found.assumingMemoryBound(to: UInt8.self) - self.buffer
                let line = self.start..<nl
                self.start = nl + 1
                self.stats.lines += 1
                if line.count > Self.maxLineLength {
                    throw self.error(Self.maxLineLength + 1, "line longer than \(Self.maxLineLength) bytes")
                }
                return line
            }
            if self.end - self.start > Self.maxLineLength {
                self.stats.lines += 1
                throw self.error(Self.maxLineLength + 1, "line longer than \(Self.maxLineLength) bytes")
            }
            if self.eof {
                guard self.start < self.end else { return nil }
                let line = self.start..<self.end
                self.start = self.end
                self.stats.lines += 1
                return line
            }
            // Move the partial line to the front and read more.
            let rest = self.end - self.start
            if self.start > 0 {
                _ = memmove(self.buffer, self.buffer + self.start, rest)
                self.start = 0
                self.end = rest
            }
            guard let input = self.input else {
                self.eof = true
                continue
            }
            let n: Int
            do {
                n = try input.read(into: self.buffer + self.end, count: self.capacity - self.end)
            } catch {
                throw AllocationTraceError(file: self.name, line: 0, column: 0, message: error.message)
            }
            if n == 0 { self.eof = true } else { self.end += n }
        }
    }

    /// The next call, or nil at the end of the trace.
    public func next() throws(AllocationTraceError) -> AllocationEvent? {
        while !self.stopped, let range = try self.nextLine() {
            let line = UnsafeBufferPointer(start: self.buffer + range.lowerBound, count: range.count)
            if let nul = memchr(self.buffer + range.lowerBound, 0, range.count) {
                throw self.error(
                    nul.assumingMemoryBound(to: UInt8.self) - (self.buffer + range.lowerBound) + 1,
                    "NUL byte in a text trace")
            }
            if self.format == nil { self.format = Self.detect(line) }
            let event: AllocationEvent?
            switch self.format {
            case .shim: event = try self.parseShim(line)
            case .valgrind: event = try self.parseValgrind(line)
            case nil:
                self.stats.noise += 1
                event = nil
            }
            if let event {
                self.sawCall = true
                return event
            }
        }
        if self.format == nil && self.stats.lines > 0 {
            throw AllocationTraceError(
                file: self.name, line: 0, column: 0,
                message: "not an allocation trace: no shim header and no valgrind --trace-malloc line")
        }
        return nil
    }

    static func detect(_ line: UnsafeBufferPointer<UInt8>) -> AllocationTraceFormat? {
        if line.starts(with: Array("# vmsim malloc trace".utf8)) { return .shim }
        if line.count > 4 && line[0] == UInt8(ascii: "-") && line[1] == UInt8(ascii: "-")
            && (line[2] >= UInt8(ascii: "0") && line[2] <= UInt8(ascii: "9"))
        {
            return .valgrind
        }
        if line.count > 4 && line[0] == UInt8(ascii: "=") && line[1] == UInt8(ascii: "=") { return .valgrind }
        return nil
    }

    // MARK: Fields

    /// Cursor over one line's bytes; columns are 1-based.
    struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        var column: Int { self.i + 1 }
        var atEnd: Bool { self.i >= self.bytes.count }

        mutating func skipSpaces() {
            while self.i < self.bytes.count && (self.bytes[self.i] == 32 || self.bytes[self.i] == 9) {
                self.i += 1
            }
        }

        @inline(__always) mutating func take(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard self.bytes.count - self.i >= n,
                memcmp(self.bytes.baseAddress! + self.i, s.utf8Start, n) == 0
            else {
                return false
            }
            self.i += n
            return true
        }
    }

    /// The value of an ASCII digit (hexadecimal when `hex`), or 255.
    @inline(__always) static func digit(_ b: UInt8, hex: Bool) -> UInt8 {
        let d = b &- UInt8(ascii: "0")
        if d < 10 { return d }
        if hex {
            let l = (b | 0x20) &- UInt8(ascii: "a")
            if l < 6 { return l + 10 }
        }
        return 255
    }

    func number(_ c: inout Cursor, hex: Bool, what: String) throws(AllocationTraceError) -> UInt64 {
        c.skipSpaces()
        var isHex = hex
        let bytes = c.bytes
        if c.i + 1 < bytes.count && bytes[c.i] == UInt8(ascii: "0")
            && bytes[c.i + 1] | 0x20 == UInt8(ascii: "x")
        {
            isHex = true
            c.i += 2
        }
        let start = c.i
        var end = start
        while end < bytes.count && Self.digit(bytes[end], hex: isHex) != 255 { end += 1 }
        if end == start {
            throw self.error(c.column, "expected \(what) (\(isHex ? "hexadecimal" : "decimal"))")
        }
        var v: UInt64 = 0
        // Up to 15 hexadecimal or 19 decimal digits cannot overflow.
        if end - start <= (isHex ? 15 : 19) {
            for k in start..<end { v = v &* (isHex ? 16 : 10) &+ UInt64(Self.digit(bytes[k], hex: isHex)) }
        } else {
            for k in start..<end {
                let (m, o1) = v.multipliedReportingOverflow(by: isHex ? 16 : 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(Self.digit(bytes[k], hex: isHex)))
                if o1 || o2 { throw self.error(start + 1, "\(what) does not fit in 64 bits") }
                v = a
            }
        }
        c.i = end
        return v
    }

    // MARK: The shim's format

    func parseShim(_ line: UnsafeBufferPointer<UInt8>) throws(AllocationTraceError) -> AllocationEvent? {
        var c = Cursor(bytes: line)
        if line.isEmpty {
            self.stats.noise += 1
            return nil
        }
        if line[0] == UInt8(ascii: "#") {
            try self.parseShimComment(&c)
            return nil
        }
        let op = line[0]
        c.i = 1
        guard c.atEnd || line[1] == 32 else { throw self.error(2, "expected a space after the operation") }
        let call: AllocationCall
        switch op {
        case UInt8(ascii: "m"): call = .malloc(size: try self.number(&c, hex: false, what: "a size"))
        case UInt8(ascii: "c"):
            let n = try self.number(&c, hex: false, what: "a count")
            call = .calloc(count: n, size: try self.number(&c, hex: false, what: "a size"))
        case UInt8(ascii: "r"):
            let p = try self.number(&c, hex: true, what: "a pointer")
            call = .realloc(pointer: p, size: try self.number(&c, hex: false, what: "a size"))
        case UInt8(ascii: "a"), UInt8(ascii: "p"):
            let a = try self.number(&c, hex: false, what: "an alignment")
            let n = try self.number(&c, hex: false, what: "a size")
            call =
                op == UInt8(ascii: "a")
                ? .memalign(alignment: a, size: n) : .posixMemalign(alignment: a, size: n)
        case UInt8(ascii: "f"): call = .free(pointer: try self.number(&c, hex: true, what: "a pointer"))
        default:
            throw self.error(1, "expected an operation (m, c, r, a, p, f) or a # comment")
        }
        var result: UInt64 = 0
        if case .free = call {} else { result = try self.number(&c, hex: true, what: "the returned pointer") }
        let brk = try self.number(&c, hex: true, what: "the program break")
        c.skipSpaces()
        guard !c.atEnd else { throw self.error(c.column, "expected M, h or - (the chunk's kind)") }
        let mmapped: Bool?
        switch line[c.i] {
        case UInt8(ascii: "M"): mmapped = true
        case UInt8(ascii: "h"): mmapped = false
        case UInt8(ascii: "-"): mmapped = nil
        default: throw self.error(c.column, "expected M, h or - (the chunk's kind)")
        }
        c.i += 1
        c.skipSpaces()
        guard c.atEnd else { throw self.error(c.column, "unexpected text after the line's last field") }
        return AllocationEvent(
            call: call, result: result, brk: brk, mmapped: mmapped,
            otherThread: self.currentThread != 0 && self.currentThread != self.stats.tid,
            line: self.stats.lines)
    }

    func parseShimComment(_ c: inout Cursor) throws(AllocationTraceError) {
        if c.take("# vmsim malloc trace") {
            if self.sawCall || self.stats.pid != nil {
                // A second header: the process exec'd another program (or a second process
                // shares the file). Stop; count what is left.
                self.stopped = true
                self.stats.linesAfterExec = 1
                while let _ = try? self.nextLine() { self.stats.linesAfterExec += 1 }
                return
            }
            c.skipSpaces()
            guard c.take("v1") else { throw self.error(c.column, "unknown trace version (expected v1)") }
            while true {
                c.skipSpaces()
                if c.atEnd { break }
                if c.take("pid=") {
                    self.stats.pid = Int(try self.number(&c, hex: false, what: "a process id"))
                } else if c.take("tid=") {
                    self.stats.tid = Int(try self.number(&c, hex: false, what: "a thread id"))
                } else if c.take("brk0=") {
                    self.stats.initialBreak = try self.number(&c, hex: true, what: "the initial break")
                } else if c.take("exe=") {
                    self.stats.executable = String(
                        decoding: UnsafeBufferPointer(rebasing: c.bytes[c.i...]), as: UTF8.self)
                    break
                } else {
                    // Unknown fields of later versions: skip the word.
                    while !c.atEnd && c.bytes[c.i] != 32 { c.i += 1 }
                }
            }
            self.stats.noise += 1
            return
        }
        if c.take("# thread") {
            self.currentThread = Int(try self.number(&c, hex: false, what: "a thread id"))
        }
        self.stats.noise += 1
    }

    // MARK: valgrind --trace-malloc=yes

    func parseValgrind(_ line: UnsafeBufferPointer<UInt8>) throws(AllocationTraceError) -> AllocationEvent? {
        var c = Cursor(bytes: line)
        // "--PID-- " prefix; anything else is valgrind's chatter or the program's output.
        guard c.take("--"), c.i < line.count, line[c.i] >= UInt8(ascii: "0"), line[c.i] <= UInt8(ascii: "9")
        else {
            self.stats.noise += 1
            return nil
        }
        let pid = Int(try self.number(&c, hex: false, what: "a process id"))
        guard c.take("--") else {
            self.stats.noise += 1
            return nil
        }
        if self.stats.pid == nil { self.stats.pid = pid }
        if pid != self.stats.pid {
            self.stats.otherProcessLines += 1
            return nil
        }
        c.skipSpaces()
        if self.pendingReallocFree {
            self.pendingReallocFree = false
            if c.take("= ") {
                self.stats.noise += 1
                return nil
            }
        }
        let line0 = self.stats.lines
        func result(_ c: inout Cursor) throws(AllocationTraceError) -> UInt64 {
            c.skipSpaces()
            guard c.take("=") else { throw self.error(c.column, "expected '= ' and the returned pointer") }
            return try self.number(&c, hex: true, what: "the returned pointer")
        }
        func close(_ c: inout Cursor) throws(AllocationTraceError) {
            guard c.take(")") else { throw self.error(c.column, "expected ')'") }
        }
        func comma(_ c: inout Cursor) throws(AllocationTraceError) {
            guard c.take(",") else { throw self.error(c.column, "expected ','") }
        }
        if c.take("malloc(") || c.take("__builtin_new(") || c.take("__builtin_vec_new(") {
            let n = try self.number(&c, hex: false, what: "a size")
            try close(&c)
            return AllocationEvent(call: .malloc(size: n), result: try result(&c), line: line0)
        }
        if c.take("calloc(") {
            let n = try self.number(&c, hex: false, what: "a count")
            try comma(&c)
            let s = try self.number(&c, hex: false, what: "a size")
            try close(&c)
            return AllocationEvent(call: .calloc(count: n, size: s), result: try result(&c), line: line0)
        }
        if c.take("realloc(") {
            let p = try self.number(&c, hex: true, what: "a pointer")
            try comma(&c)
            let n = try self.number(&c, hex: false, what: "a size")
            try close(&c)
            if c.take("malloc(") {
                // realloc(0x0,N) prints the malloc it becomes.
                _ = try self.number(&c, hex: false, what: "a size")
                try close(&c)
            } else if c.take("free(") {
                // realloc(P,0) prints the free it becomes; " = 0" follows on the next line.
                _ = try self.number(&c, hex: true, what: "a pointer")
                try close(&c)
                self.pendingReallocFree = true
                return AllocationEvent(call: .realloc(pointer: p, size: n), result: 0, line: line0)
            }
            return AllocationEvent(call: .realloc(pointer: p, size: n), result: try result(&c), line: line0)
        }
        if c.take("memalign(") {
            c.skipSpaces()
            guard c.take("al") else { throw self.error(c.column, "expected 'al ALIGNMENT'") }
            let a = try self.number(&c, hex: false, what: "an alignment")
            try comma(&c)
            c.skipSpaces()
            guard c.take("size") else { throw self.error(c.column, "expected 'size SIZE'") }
            let n = try self.number(&c, hex: false, what: "a size")
            try close(&c)
            return AllocationEvent(
                call: .memalign(alignment: a, size: n), result: try result(&c), line: line0)
        }
        if c.take("free(") || c.take("__builtin_delete(") || c.take("__builtin_vec_delete(") {
            let p = try self.number(&c, hex: true, what: "a pointer")
            try close(&c)
            return AllocationEvent(call: .free(pointer: p), result: 0, line: line0)
        }
        // malloc_usable_size, valgrind's own messages.
        self.stats.noise += 1
        return nil
    }
}
