import TraceInput

/// A whole trace in memory as dense page ids (numbered in order of first appearance), 4 bytes
/// and 1 bit per access: what `compare`, `mrc` and OPT replay need, since they read the trace
/// many times or backwards.
public final class DenseTrace: @unchecked Sendable {
    /// The trace's name.
    public let name: String
    /// Its format.
    public let format: TraceFormat
    /// Each access's dense page id.
    public private(set) var ids: [UInt32] = []
    /// One bit per access: a write.
    public private(set) var writeBits: [UInt64] = []
    /// Distinct pages (ids are below this).
    public private(set) var distinct = 0
    public private(set) var stats = ReaderStats()
    /// The original key (page number or object id) of each dense id.
    public private(set) var keys: [UInt64] = []

    /// Reads the whole trace.
    public init(reader: any TraceReader, progress: Progress? = nil) throws {
        self.name = reader.name
        self.format = reader.format
        let mapper = IDMapper()
        let batch = AccessBatch()
        var bits: UInt64 = 0
        var n = 0
        while try reader.read(into: batch) {
            for i in 0..<batch.count {
                let before = mapper.count
                let id = mapper.map(batch.keys[i])
                if mapper.count != before { self.keys.append(batch.keys[i]) }
                self.ids.append(id)
                bits |= UInt64(batch.writes[i]) << UInt64(n & 63)
                n += 1
                if n & 63 == 0 {
                    self.writeBits.append(bits)
                    bits = 0
                }
            }
            if mapper.count > Int(Int32.max) {
                throw TraceError(
                    file: reader.name, line: 0, column: 0, message: "more than 2^31 distinct pages")
            }
            progress?.update(n, input: reader.position)
        }
        if n & 63 != 0 { self.writeBits.append(bits) }
        self.distinct = mapper.count
        self.stats = reader.stats
    }

    /// A trace of the given page ids (tests, generators).
    public init(name: String, pages: [UInt64], writes: [Bool]? = nil) {
        self.name = name
        self.format = .txt
        let mapper = IDMapper()
        for (i, p) in pages.enumerated() {
            let before = mapper.count
            self.ids.append(mapper.map(p))
            if mapper.count != before { self.keys.append(p) }
            if i & 63 == 0 { self.writeBits.append(0) }
            if writes?[i] == true { self.writeBits[i >> 6] |= 1 << UInt64(i & 63) }
        }
        self.distinct = mapper.count
        self.stats.lines = pages.count
    }

    /// Accesses.
    public var count: Int { self.ids.count }

    /// How many accesses are writes.
    public var writes: Int { self.writeBits.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Whether access `i` is a write.
    @inline(__always) public func isWrite(_ i: Int) -> Bool {
        self.writeBits[i >> 6] >> UInt64(i & 63) & 1 != 0
    }

    /// For each access, the position of the next access to the same page, or `UInt32.max`.
    public func nextUse() -> [UInt32] {
        var next = [UInt32](repeating: .max, count: self.ids.count)
        var last = [UInt32](repeating: .max, count: self.distinct)
        self.ids.withUnsafeBufferPointer { ids in
            next.withUnsafeMutableBufferPointer { next in
                last.withUnsafeMutableBufferPointer { last in
                    var i = ids.count - 1
                    while i >= 0 {
                        let id = Int(ids[i])
                        next[i] = last[id]
                        last[id] = UInt32(truncatingIfNeeded: i)
                        i -= 1
                    }
                }
            }
        }
        return next
    }
}

/// Reads a trace held in memory again, a batch at a time, as any streaming reader would (its
/// keys, writes and stats as when it was read).
public final class DenseTraceReader: TraceReader {
    let trace: DenseTrace
    var next = 0
    public var format: TraceFormat { self.trace.format }
    public var name: String { self.trace.name }
    public var stats: ReaderStats { self.trace.stats }
    public var position: InputPosition {
        InputPosition(consumed: Int64(self.next), size: Int64(self.trace.count))
    }
    public var compression: Compression { .none }

    public init(_ trace: DenseTrace) { self.trace = trace }

    public func read(into batch: AccessBatch) throws -> Bool {
        let n = min(batch.capacity, self.trace.count - self.next)
        batch.count = n
        batch.hasNext = false
        let from = self.next
        self.trace.ids.withUnsafeBufferPointer { ids in
            self.trace.keys.withUnsafeBufferPointer { keys in
                for j in 0..<n {
                    batch.keys[j] = keys[Int(ids[from + j])]
                    batch.writes[j] = self.trace.isWrite(from + j) ? 1 : 0
                }
            }
        }
        self.next += n
        return n > 0
    }
}
