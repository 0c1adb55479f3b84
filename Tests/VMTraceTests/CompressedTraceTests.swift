import Foundation
import Testing
import TraceInput

@testable import VMTrace

/// The repository's root (for the committed example traces).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Every access of a trace file, with the reader's format, counters and compression.
func readFile(_ path: String, _ format: TraceFormat? = nil) throws
    -> (accesses: [UInt64], writes: [Bool], stats: ReaderStats, format: TraceFormat, compression: Compression)
{
    var options = TraceOptions()
    options.format = format
    let reader = try openTrace(path, options: options)
    let batch = AccessBatch()
    var keys: [UInt64] = []
    var writes: [Bool] = []
    while try reader.read(into: batch) {
        for i in 0..<batch.count {
            keys.append(batch.keys[i])
            writes.append(batch.writes[i] != 0)
        }
    }
    return (keys, writes, reader.stats, reader.format, reader.compression)
}

func traceError(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "no error"
    } catch {
        return "\(error)"
    }
}

@Suite struct CompressedTraceTests {
    /// The committed touch.lackey and its .gz and .zst copies are the same trace, detected as
    /// lackey from the decompressed content.
    @Test func committedCompressedTracesReadLikeThePlainOne() throws {
        let base = repositoryRoot + "/examples/traces/touch.lackey"
        let plain = try readFile(base)
        #expect(plain.format == .lackey && plain.compression == .none)
        #expect(plain.accesses.count == 21256)
        for (suffix, kind) in [(".gz", Compression.gzip), (".zst", .zstd)] {
            let packed = try readFile(base + suffix)
            #expect(packed.compression == kind)
            #expect(packed.format == .lackey)
            #expect(packed.accesses == plain.accesses && packed.writes == plain.writes)
            #expect(packed.stats == plain.stats)
        }
    }

    /// Every format, written by the generator and compressed either way, reads back the same
    /// accesses, detected by content under a name that says nothing.
    @Test(arguments: TraceFormat.allCases)
    func everyFormatReadsTheSameCompressed(_ format: TraceFormat) throws {
        var spec = TraceSpec(pattern: .zipf, length: 20_000, pages: 700)
        spec.writeRatio = 0.3
        let dir = NSTemporaryDirectory() + "vmsim-compressed-\(getpid())-\(format.rawValue)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/trace"
        try generateTrace(spec, format: format, path: path)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let plain = try readFile(path)
        #expect(plain.format == format)
        for (packed, kind) in [(gzipCompress(bytes), Compression.gzip), (zstdCompress(bytes), .zstd)] {
            let file = dir + "/trace-\(kind.rawValue)"
            _ = FileManager.default.createFile(atPath: file, contents: Data(try #require(packed)))
            let got = try readFile(file)
            #expect(got.compression == kind)
            #expect(got.format == format)
            #expect(got.accesses == plain.accesses && got.writes == plain.writes)
        }
    }

    /// Binary data is oracleGeneral only when its records look like oracleGeneral records;
    /// text with UTF-8 in a comment is text; data compressed twice is named.
    @Test func detectionLooksAtTheContent() throws {
        var random = [UInt8](repeating: 0, count: 4800)
        var x: UInt64 = 12345
        for i in random.indices {
            x = x &* 6_364_136_223_846_793_005 &+ 1
            random[i] = UInt8(truncatingIfNeeded: x >> 56)
        }
        #expect(
            traceError { _ = try openTrace(bytes: random, name: "r", options: TraceOptions()) }
                .hasPrefix("r: binary data that is not an oracleGeneral trace (record 1"))
        let utf8 = Array("# café – naïve\n1\n2\n3\n".utf8)
        #expect(try readAll(bytes: utf8, nil).format == .txt)
        let lackey = Array("==1== x\nI  0400d7d4,8\n L 1ffefffb80,8\n".utf8)
        let gz = try #require(gzipCompress(lackey))
        #expect(try readAll(bytes: gz, nil, name: "touch.lackey.gz").format == .lackey)
        #expect(try readAll(bytes: try #require(zstdCompress(lackey)), nil).format == .lackey)
        let twice = try #require(gzipCompress(gz))
        #expect(
            traceError { _ = try openTrace(bytes: twice, name: "t", options: TraceOptions()) }
                == "t: the gzip stream holds gzip-compressed data (compressed twice?); vmsim undoes one layer"
        )
    }

    /// A --format the content contradicts is an error that says what the content looks like;
    /// ambiguous pairs (decimal numbers as text addresses or a one-column CSV) are allowed.
    @Test func aContradictingFormatIsRefused() throws {
        let lackey = "==1== x\nI  0400d7d4,8\n L 1ffefffb80,8\n"
        #expect(
            readError(lackey, .csv)
                == "t.trace: --format csv contradicts the content: it looks like lackey (line 2: 'I  0400d7d4,8'); "
                + "leave out --format to read it as lackey")
        #expect(
            readError("0x1000 R\n0x2000 W\n", .txt).hasPrefix("t.trace: --format txt contradicts the content")
        )
        #expect(
            readError("1\n2\n", .oracleGeneral).hasPrefix(
                "t.trace: --format oracleGeneral contradicts the content: it looks like txt"))
        var spec = TraceSpec(pattern: .loop, length: 10, pages: 3)
        spec.seed = 1
        let path = NSTemporaryDirectory() + "vmsim-oracle-\(getpid())"
        defer { unlink(path) }
        try generateTrace(spec, format: .oracleGeneral, path: path)
        #expect(
            traceError { _ = try readFile(path, .txt) }.hasPrefix(
                "\(path): --format txt contradicts the content: it looks like oracleGeneral"))
        #expect(try readAll("1\n2\n3\n", .text).accesses.count == 3)
        #expect(try readAll("1\n2\n3\n", .csv).accesses.count == 3)
    }
}
