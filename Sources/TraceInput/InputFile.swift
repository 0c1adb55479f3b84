#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How the bytes of an input file are packed, told by the first bytes (the magic number), never
/// by the file's name.
public enum Compression: String, Sendable, Equatable {
    case none
    /// RFC 1952 gzip members (`1f 8b 08`), one after another as `cat a.gz b.gz` or pigz write them.
    case gzip
    /// Zstandard frames (`28 b5 2f fd`), and skippable frames (`5? 2a 4d 18`).
    case zstd

    /// The compression the first bytes announce; throws for compressed formats vmsim does not
    /// read (xz, bzip2, lz4, …), naming them. Fewer than four bytes are never compressed.
    static func detect(_ p: UnsafePointer<UInt8>, _ n: Int, file: String) throws(InputError) -> Compression {
        func starts(_ magic: [UInt8]) -> Bool {
            n >= magic.count && (0..<magic.count).allSatisfy { p[$0] == magic[$0] }
        }
        if starts([0x1F, 0x8B]) {
            guard n >= 3 && p[2] == 8 else {
                throw InputError(
                    file: file,
                    message:
                        "gzip header with compression method \(n >= 3 ? "\(p[2])" : "missing"), not deflate (8)"
                )
            }
            return .gzip
        }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        if n >= 4 && p[0] & 0xF0 == 0x50 && p[1] == 0x2A && p[2] == 0x4D && p[3] == 0x18 { return .zstd }
        let unsupported: [([UInt8], String, String)] = [
            ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], "xz", "xz -dc"),
            ([0x42, 0x5A, 0x68], "bzip2", "bzip2 -dc"),
            ([0x04, 0x22, 0x4D, 0x18], "lz4", "lz4 -dc"),
            ([0x1F, 0x9D], "compress (.Z)", "zcat"),
            ([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C], "7-Zip", "7z x -so"),
            ([0x50, 0x4B, 0x03, 0x04], "zip", "unzip -p"),
            ([0x5D, 0x00, 0x00], "lzma", "xz --format=lzma -dc"),
        ]
        for (magic, name, tool) in unsupported where starts(magic) {
            throw InputError(
                file: file,
                message:
                    "\(name)-compressed data: vmsim reads gzip and zstd; decompress it into a pipe "
                    + "(\(tool) \(file == "<stdin>" ? "FILE" : file) | vmsim … -)")
        }
        return .none
    }

    /// The compressed format whose magic number `bytes` start with ("gzip", "zstd", "xz", …),
    /// or nil: tells data compressed twice.
    public static func named(inMagicOf bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard let base = bytes.baseAddress else { return nil }
        do {
            let c = try Compression.detect(base, bytes.count, file: "")
            return c == .none ? nil : c.rawValue
        } catch {
            return String(error.message.prefix { $0 != "-" && $0 != " " })
        }
    }
}

/// Why an input file cannot be read: the file and what went wrong.
public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var message: String
    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(self.file): \(self.message)" }
}

/// How far reading has got: bytes of the file consumed (compressed bytes for a compressed
/// file) and the file's size, nil when it is not known (a pipe).
public struct InputPosition: Sendable, Equatable {
    public var consumed: Int64
    public var size: Int64?
    public init(consumed: Int64, size: Int64?) {
        self.consumed = consumed
        self.size = size
    }
}

/// A file (or standard input, named "-"), or bytes in memory, read as one stream of bytes —
/// decompressed on the fly when it is gzip or zstd, detected by its magic number.
///
/// A compressed file is decompressed on a second thread, up to four 1 MiB chunks ahead of the
/// reader (`DecompressionPipeline`), so inflating and parsing overlap on two cores. Memory is
/// bounded whatever the input: a 256 KiB buffer of file bytes, the four chunks, and the
/// decompressor's state (zlib: a 32 KiB window; zstd: the frame's window, which libzstd refuses
/// beyond 128 MiB, `ZSTD_WINDOWLOG_LIMIT_DEFAULT`). A corrupt or truncated compressed stream is
/// an `InputError` naming the byte offset, never a partial result passed off as whole.
public final class InputFile {
    let file: FileBytes
    let pipeline: DecompressionPipeline?

    /// Opens `path` ("-": standard input) and reads its first bytes to tell the compression.
    public init(path: String) throws(InputError) {
        self.file = try FileBytes(path: path)
        self.pipeline = self.file.compression == .none ? nil : DecompressionPipeline(self.file)
    }

    /// The bytes `range` of the plain (uncompressed) file `path`, read as if they were all of
    /// it: what a reader of one part of a trace read in parts on several cores needs.
    public init(path: String, range: Range<Int64>) throws(InputError) {
        self.file = try FileBytes(path: path, range: range)
        self.pipeline = nil
    }

    /// Bytes in memory (tests, fuzzing), compressed or not, named `name` in errors.
    public init(name: String, bytes: [UInt8]) throws(InputError) {
        self.file = try FileBytes(name: name, bytes: bytes)
        self.pipeline = self.file.compression == .none ? nil : DecompressionPipeline(self.file)
    }

    deinit { self.pipeline?.shutDown() }

    public var name: String { self.file.name }
    public var compression: Compression { self.file.compression }

    /// How far reading has got, in file bytes (for a compressed file: as of the chunk being read).
    public var position: InputPosition { self.pipeline?.position ?? self.file.position }

    /// Reads up to `count` (decompressed) bytes into `buffer`; returns how many, 0 only at the end.
    public func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(InputError) -> Int {
        if let p = self.pipeline { return try p.read(into: buffer, count: count) }
        return try self.file.read(into: buffer, count: count)
    }
}

/// The bytes of a file or of memory, decompressed in the calling thread.
final class FileBytes {
    let name: String
    private(set) var compression = Compression.none
    let fd: Int32
    let ownsDescriptor: Bool
    let size: Int64?
    /// File bytes read but not yet consumed are `raw[rawStart..<rawEnd]`.
    var raw: UnsafeMutablePointer<UInt8>
    let rawCapacity: Int
    var rawStart = 0
    var rawEnd = 0
    var rawEOF = false
    /// File bytes read from the descriptor so far.
    var rawRead: Int64 = 0
    var gzip: GzipDecoder?
    var zstd: ZstdDecoder?
    /// For a range of a file: the bytes of it not read yet.
    var remaining = Int64.max

    public static let chunk = 1 << 18

    init(path: String) throws(InputError) {
        if path == "-" {
            self.name = "<stdin>"
            self.fd = 0
            self.ownsDescriptor = false
            self.size = nil
        } else {
            self.name = path
            let fd = open(path, O_RDONLY)
            if fd < 0 {
                throw InputError(file: path, message: "cannot open: \(String(cString: strerror(errno)))")
            }
            var st = stat()
            var size: Int64?
            if fstat(fd, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    close(fd)
                    throw InputError(file: path, message: "is a directory")
                }
                if (st.st_mode & S_IFMT) == S_IFREG { size = Int64(st.st_size) }
            }
            self.fd = fd
            self.ownsDescriptor = true
            self.size = size
        }
        self.rawCapacity = Self.chunk
        self.raw = .allocate(capacity: self.rawCapacity)
        // Enough bytes to see any magic number (a pipe may deliver fewer per read).
        // (Fully initialised from here: a throw runs deinit, which frees and closes.)
        while !self.rawEOF && self.rawEnd < 8 { try self.readRaw() }
        self.compression = try Compression.detect(self.raw, self.rawEnd, file: self.name)
        try self.startDecoder()
    }

    /// Bytes `range` of the file at `path`, taken as plain (no magic number is looked for: the
    /// range may start anywhere in the file).
    init(path: String, range: Range<Int64>) throws(InputError) {
        self.name = path
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            throw InputError(file: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        self.ownsDescriptor = true
        self.size = Int64(range.count)
        self.remaining = Int64(range.count)
        self.rawCapacity = Self.chunk
        self.raw = .allocate(capacity: self.rawCapacity)
        if lseek(fd, off_t(range.lowerBound), SEEK_SET) < 0 {
            throw InputError(file: path, message: "cannot seek: \(String(cString: strerror(errno)))")
        }
    }

    init(name: String, bytes: [UInt8]) throws(InputError) {
        self.name = name
        self.fd = -1
        self.ownsDescriptor = false
        self.size = Int64(bytes.count)
        self.rawCapacity = max(bytes.count, 1)
        let raw = UnsafeMutablePointer<UInt8>.allocate(capacity: self.rawCapacity)
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { raw.update(from: base, count: b.count) }
        }
        self.raw = raw
        self.rawEnd = bytes.count
        self.rawRead = Int64(bytes.count)
        self.rawEOF = true
        self.compression = try Compression.detect(self.raw, self.rawEnd, file: name)
        try self.startDecoder()
    }

    deinit {
        self.raw.deallocate()
        if self.ownsDescriptor { close(self.fd) }
    }

    func startDecoder() throws(InputError) {
        switch self.compression {
        case .none: break
        case .gzip: self.gzip = try GzipDecoder(file: self.name)
        case .zstd: self.zstd = try ZstdDecoder(file: self.name)
        }
    }

    /// How far reading has got, in file bytes.
    var position: InputPosition {
        InputPosition(consumed: self.rawRead - Int64(self.rawEnd - self.rawStart), size: self.size)
    }

    /// Reads up to `count` (decompressed) bytes into `buffer`; returns how many, 0 only at the end.
    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(InputError) -> Int {
        guard count > 0 else { return 0 }
        switch self.compression {
        case .none:
            if self.rawEnd > self.rawStart {
                let n = min(count, self.rawEnd - self.rawStart)
                buffer.update(from: self.raw + self.rawStart, count: n)
                self.rawStart += n
                return n
            }
            if self.rawEOF { return 0 }
            // Straight into the caller's buffer: no copy for plain files.
            let n = try self.readDescriptor(buffer, count)
            if n == 0 { self.rawEOF = true }
            return n
        case .gzip:
            return try self.gzip!.read(self, into: buffer, count: count)
        case .zstd:
            return try self.zstd!.read(self, into: buffer, count: count)
        }
    }

    /// Moves the unconsumed file bytes to the front and reads more (at least one byte, or
    /// sets `rawEOF`).
    func readRaw() throws(InputError) {
        if self.rawStart > 0 {
            let n = self.rawEnd - self.rawStart
            if n > 0 { self.raw.update(from: self.raw + self.rawStart, count: n) }
            self.rawStart = 0
            self.rawEnd = n
        }
        guard !self.rawEOF && self.rawEnd < self.rawCapacity else { return }
        let n = try self.readDescriptor(self.raw + self.rawEnd, self.rawCapacity - self.rawEnd)
        if n == 0 { self.rawEOF = true } else { self.rawEnd += n }
    }

    func readDescriptor(_ p: UnsafeMutablePointer<UInt8>, _ count: Int) throws(InputError) -> Int {
        guard self.fd >= 0, self.remaining > 0 else { return 0 }
        let count = Int(min(Int64(count), self.remaining))
        while true {
            let n = systemRead(self.fd, p, count)
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError(file: self.name, message: "read failed: \(String(cString: strerror(errno)))")
            }
            self.rawRead += Int64(n)
            if self.remaining != .max { self.remaining -= Int64(n) }
            return n
        }
    }
}

/// `read(2)` (a free function, so the methods named `read` do not hide it).
func systemRead(_ fd: Int32, _ p: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    read(fd, p, count)
}
