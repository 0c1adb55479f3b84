import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// libCacheSim's oracleGeneral reader (`oracleGeneralBin.h`): records of size 0 are skipped;
/// a next access of -1 or `Int64.max` means never.
final class OracleReader: TraceReader {
    /// The bytes.
    let source: ByteSource
    /// Count and skip malformed records instead of stopping.
    let skipBad: Bool
    /// Records read and skipped.
    var stats = ReaderStats()
    let format = TraceFormat.oracleGeneral
    var name: String { self.source.name }
    var position: InputPosition { self.source.position }
    var compression: Compression { self.source.compression }
    /// Bytes per record: u32 time, u64 id, u32 size, i64 next access.
    static let recordSize = 24

    /// A reader of `source`.
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
