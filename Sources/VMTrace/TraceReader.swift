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

    /// The defaults: detected format, 4 KiB pages, instruction fetches counted.
    public init() {}

    /// log2 of the page size.
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
    /// Nothing read yet.
    public init() {}
}

/// A batch of page accesses in reading order.
public final class AccessBatch {
    /// The most accesses a batch holds.
    public let capacity: Int
    /// Accesses in the batch.
    public var count = 0
    /// Page numbers (or object ids).
    public let keys: UnsafeMutablePointer<UInt64>
    /// 1 for a write.
    public let writes: UnsafeMutablePointer<UInt8>
    /// The (trace-relative) time of the next access to the same page, or `Int64.max` for
    /// never; only oracleGeneral traces carry it.
    public let next: UnsafeMutablePointer<Int64>
    /// Whether `next` holds each access's next use (oracleGeneral).
    public var hasNext = false

    /// An empty batch of `capacity` accesses.
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

    /// Adds one access to page (or object) `key`.
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
