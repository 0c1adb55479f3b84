import PropertyBased
import Testing

@testable import VMTrace

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a whole trace from text: (page, write) per access, and the reader's counters.
func readAll(
    _ text: String, _ format: TraceFormat?, name: String = "t",
    configure: (inout TraceOptions) -> Void = { _ in }
)
    throws -> (accesses: [(UInt64, Bool)], stats: ReaderStats, format: TraceFormat)
{
    try readAll(bytes: Array(text.utf8), format, name: name, configure: configure)
}

func readAll(
    bytes: [UInt8], _ format: TraceFormat?, name: String = "t",
    configure: (inout TraceOptions) -> Void = { _ in }
)
    throws -> (accesses: [(UInt64, Bool)], stats: ReaderStats, format: TraceFormat)
{
    var options = TraceOptions()
    options.format = format
    configure(&options)
    let reader = try openTrace(bytes: bytes, name: name, options: options)
    let batch = AccessBatch(capacity: 512)
    var out: [(UInt64, Bool)] = []
    while try reader.read(into: batch) {
        for i in 0..<batch.count { out.append((batch.keys[i], batch.writes[i] != 0)) }
    }
    return (out, reader.stats, reader.format)
}

/// The error reading `text` gives.
func readError(_ text: String, _ format: TraceFormat?, configure: (inout TraceOptions) -> Void = { _ in })
    -> String
{
    do {
        _ = try readAll(text, format, name: "t.trace", configure: configure)
        return "no error"
    } catch {
        return "\(error)"
    }
}

@Suite struct ReaderTests {
    @Test func lackeyLinesBecomePageAccesses() throws {
        let text = """
            ==1234== Lackey, an example Valgrind tool
            ==1234== Command: ./a.out
            I  0400d7d4,8
             L 1ffefffb80,8
             S 04222cac,4
             M 0421d9f8,4
            I  00400ffe,4
             L 7ff000ff8,16
            ==1234== 
            """
        let (accesses, stats, _) = try readAll(text, .lackey)
        let pages = accesses.map(\.0)
        let writes = accesses.map(\.1)
        // I, L, S, M (load then store), I crossing 0x400fff/0x401000, L crossing a page.
        #expect(pages == [0x400d, 0x1ffefff, 0x4222, 0x421d, 0x421d, 0x400, 0x401, 0x7ff000, 0x7ff001])
        #expect(writes == [false, false, true, false, true, false, false, false, false])
        #expect(stats.lines == 9)
        #expect(stats.noise == 3)
        let data = try readAll(text, .lackey) { $0.instructions = false }
        #expect(data.accesses.map(\.0) == [0x1ffefff, 0x4222, 0x421d, 0x421d, 0x7ff000, 0x7ff001])
        #expect(data.stats.instructionsSkipped == 2)
    }

    /// Each kind of malformed lackey line is reported with its line, column and what was
    /// expected there.
    @Test(arguments: [
        (" X 0400,4", "t.trace:1:2: expected I, L, S or M, or a ==PID== line, found 'X 0400,4'"),
        (" L0400,4", "t.trace:1:3: expected a space after the access kind, found '0400,4'"),
        (" L zz,4", "t.trace:1:4: expected a hex address, found 'zz,4'"),
        (" L 0400;4", "t.trace:1:8: expected ',' after the address, found ';4'"),
        (" L 0400,", "t.trace:1:9: expected a decimal size, found end of line"),
        (" L 0400,4 junk", "t.trace:1:11: expected end of line, found 'junk'"),
        (" L 12345678901234567,4", "t.trace:1:4: expected a hex address, found '12345678901234567,4'"),
        (
            "I  0400d7d4,8\n S 04,999999",
            "t.trace:2:7: expected a size spanning at most 64 pages, found '999999'"
        ),
    ])
    func malformedLackeyLinesAreReported(_ text: String, _ expected: String) {
        #expect(readError(text, .lackey) == expected)
    }

    @Test func skipBadCountsAndKeepsTheGoodLines() throws {
        let text = " L 1000,4\n L zz,4\nnonsense\n S 2000,4\n"
        let (accesses, stats, _) = try readAll(text, .lackey) { $0.skipBad = true }
        #expect(accesses.map(\.0) == [1, 2])
        #expect(stats.bad == 2)
        #expect(stats.firstBad.map(\.line) == [2, 3])
    }

    @Test func textTracesTakeHexDecimalAndPageNumbers() throws {
        let text = "0x1000 R\n8192 W\n  0x3fff r\n\n# comment\n12288\n"
        let (accesses, stats, _) = try readAll(text, .text)
        #expect(accesses.map(\.0) == [1, 2, 3, 3])
        #expect(accesses.map(\.1) == [false, true, false, false])
        #expect(stats.noise == 2)
        let pages = try readAll("5 R\n6 W\n", .text) { $0.pageNumbers = true }
        #expect(pages.accesses.map(\.0) == [5, 6])
        // The course-project format: bare hex (detected from a hex letter).
        let bare = try readAll("0041f7a0 R\n13f5e2c0 W\n00041000 R\n", nil)
        #expect(bare.format == .text)
        #expect(bare.accesses.map(\.0) == [0x41f, 0x13f5e, 0x41])
        #expect(readError("0x1000 X\n", .text) == "t.trace:1:8: expected R or W, found 'X'")
        #expect(readError("0x\n", .text) == "t.trace:1:3: expected hex digits after 0x, found end of line")
    }

    /// libCacheSim's txt reader interns lines as strings: "01" and "1" are different objects.
    @Test func txtIdsAreTheirText() throws {
        let (accesses, stats, _) = try readAll("1\n2\n01\n1\nabc\n\n2\n", .txt)
        let ids = accesses.map(\.0)
        #expect(ids[0] == 1 && ids[1] == 2 && ids[3] == 1 && ids[5] == 2)
        #expect(ids[2] != 1 && ids[4] != ids[2])
        #expect(stats.noise == 1)
    }

    @Test func csvColumnsHeadersAndOperations() throws {
        let text = "time,obj,size,op\n1,42,4096,read\n2,0x2a,4096,write\n3,43,4096,WRITE\n"
        let (accesses, stats, _) = try readAll(text, nil, name: "t.csv") {
            $0.csvIDColumn = 2
            $0.csvOpColumn = 4
        }
        #expect(accesses.map(\.0) == [42, 42, 43])
        #expect(accesses.map(\.1) == [false, true, true])
        #expect(stats.noise == 1)
        let tabs = try readAll("7\tx\n8\ty\n", .csv)
        #expect(tabs.accesses.map(\.0) == [7, 8])
        #expect(
            readError("1,2\n3\n", .csv) { $0.csvIDColumn = 2 }
                == "t.trace:2:2: expected at least 2 columns, found end of line")
    }

    @Test func dinLabelsAreReadsWritesAndFetches() throws {
        let (accesses, stats, format) = try readAll("2 400100\n0 7fff0010\n1 0x7fff1010\n3 0\n4 0\n", nil)
        #expect(format == .din)
        #expect(accesses.map(\.0) == [0x400, 0x7fff0, 0x7fff1])
        #expect(accesses.map(\.1) == [false, false, true])
        #expect(stats.noise == 2)
        #expect(readError("7 1000\n", .din) == "t.trace:1:1: expected a label 0-4, found '7 1000'")
        #expect(readError("0 xyz\n", .din) == "t.trace:1:3: expected a hex address, found 'xyz'")
    }

    @Test func oracleGeneralRecordsSkipSizeZeroAndMapNever() throws {
        func record(_ time: UInt32, _ id: UInt64, _ size: UInt32, _ next: Int64) -> [UInt8] {
            var b: [UInt8] = []
            withUnsafeBytes(of: time.littleEndian) { b += $0 }
            withUnsafeBytes(of: id.littleEndian) { b += $0 }
            withUnsafeBytes(of: size.littleEndian) { b += $0 }
            withUnsafeBytes(of: next.littleEndian) { b += $0 }
            return b
        }
        let bytes =
            record(0, 9, 4096, 3) + record(1, 10, 0, -1) + record(2, 9, 1, -1) + record(3, 11, 7, Int64.max)
        var options = TraceOptions()
        options.format = .oracleGeneral
        let reader = try openTrace(bytes: bytes, name: "x", options: options)
        let batch = AccessBatch()
        #expect(try reader.read(into: batch))
        #expect(batch.count == 3)
        #expect(batch.keys[0] == 9 && batch.keys[1] == 9 && batch.keys[2] == 11)
        #expect(batch.next[0] == 3 && batch.next[1] == Int64.max && batch.next[2] == Int64.max)
        #expect(reader.stats.noise == 1)
        // Detected from binary content; a cut record is an error naming the record.
        #expect(try readAll(bytes: bytes, nil, name: "anything").format == .oracleGeneral)
        #expect(
            throws: TraceError(
                file: "x", line: 5, column: 1,
                message: "expected a 24-byte record, found 10 bytes at the end of the file")
        ) {
            _ = try readAll(bytes: bytes + Array(repeating: 1, count: 10), .oracleGeneral, name: "x")
        }
    }

    /// Format detection from content, and a refusal when nothing fits.
    @Test(arguments: [
        ("==1== x\nI  0400d7d4,8\n L 1ffefffb80,8\n", TraceFormat?.some(.lackey)),
        ("0x1000 R\n0x2000 W\n", .some(.text)),
        ("1\n2\n3\n", .some(.txt)),
        ("0 1000\n1 2000\n2 3000\n", .some(.din)),
        ("1,2,3\n4,5,6\n", .some(.csv)),
        ("hello world\nfoo bar\n", .none),
    ])
    func formatsAreDetected(_ text: String, _ expected: TraceFormat?) {
        let bytes = Array(text.utf8)
        let got = bytes.withUnsafeBufferPointer { detectFormat($0, name: "t") }
        #expect(got == expected)
    }

    @Test func undetectableTracesAskForAFormat() {
        #expect(
            readError("hello world\nfoo bar\n", nil).hasPrefix("t.trace:1:1: cannot tell the trace format"))
    }

    /// Lines split across the reader's buffer refills, and a last line without a newline, read
    /// the same as in one piece.
    @Test func longTracesReadAcrossChunks() throws {
        var text = ""
        for i in 0..<30_000 { text += " L \(String(i * 4096 + 8, radix: 16)),8\n" }
        text += " S 0,4"
        let (accesses, _, _) = try readAll(text, .lackey)
        #expect(accesses.count == 30_001)
        #expect(accesses[29_999].0 == 29_999)
        #expect(accesses.last! == (0, true))
    }

    /// Whatever the bytes, every reader either reads them or throws a TraceError — no trap, no
    /// hang.
    @Test func randomBytesNeverCrashAReader() async {
        await propertyCheck(count: 200, input: Gen.uint8().array(of: 0...400), Gen.int(in: 0...6)) {
            bytes, f in
            let format: TraceFormat? = f == 6 ? nil : TraceFormat.allCases[f]
            do {
                _ = try readAll(bytes: bytes, format) { $0.skipBad = f % 2 == 0 }
            } catch is TraceError {
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }

    /// Text made of trace-like pieces (digits, hex, commas, L/S/M/I, spaces, newlines) is the
    /// harder fuzz: it reaches deep into each parser.
    @Test func traceLikeTextNeverCrashesAReader() async {
        let alphabet = Array(" \n\n0123456789abcdefxX,LSMIRW=-#\t\r".utf8)
        await propertyCheck(
            count: 200, input: Gen.int(in: 0...(alphabet.count - 1)).array(of: 0...300), Gen.int(in: 0...6)
        ) {
            picks, f in
            let bytes = picks.map { alphabet[$0] }
            let format: TraceFormat? = f == 6 ? nil : TraceFormat.allCases[f]
            do {
                _ = try readAll(bytes: bytes, format) { $0.skipBad = f % 2 == 1 }
            } catch is TraceError {
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }

    /// Every format the generator writes reads back as the same page accesses.
    @Test(arguments: TraceFormat.allCases)
    func generatedTracesReadBack(_ format: TraceFormat) throws {
        var spec = TraceSpec(pattern: .zipf, length: 3000, pages: 500)
        spec.writeRatio = 0.25
        spec.seed = 3
        var gen = TraceGenerator(spec)
        var expected: [(UInt64, Bool)] = []
        while let a = gen.next() { expected.append((a.page, a.write)) }
        let path = "/tmp/vmsim-test-gen-\(format.rawValue)-\(getpid())"
        defer { unlink(path) }
        try generateTrace(spec, format: format, path: path)
        var options = TraceOptions()
        options.format = format
        let reader = try openTrace(path, options: options)
        let batch = AccessBatch()
        var got: [(UInt64, Bool)] = []
        while try reader.read(into: batch) {
            for i in 0..<batch.count { got.append((batch.keys[i], batch.writes[i] != 0)) }
        }
        #expect(got.count == expected.count)
        #expect(got.map(\.0).elementsEqual(expected.map(\.0)), "pages differ")
        // txt and oracleGeneral carry no writes.
        if format != .txt && format != .oracleGeneral {
            #expect(got.map(\.1).elementsEqual(expected.map(\.1)), "writes differ")
        }
        // Detection agrees with what was written.
        let again = try openTrace(path, options: TraceOptions())
        #expect(again.format == format || (format == .csv && again.format == .csv))
    }

    /// The same seed generates the same trace; another seed another.
    @Test func generatorsAreDeterministic() {
        for pattern in TracePattern.allCases {
            var spec = TraceSpec(pattern: pattern, length: 500, pages: 50)
            spec.seed = 9
            var a = TraceGenerator(spec)
            var b = TraceGenerator(spec)
            var same = true
            while let x = a.next() {
                let y = b.next()!
                same = same && x == y
            }
            #expect(same)
        }
        var s1 = TraceSpec(pattern: .uniform, length: 100, pages: 1000)
        s1.seed = 1
        var s2 = s1
        s2.seed = 2
        var g1 = TraceGenerator(s1)
        var g2 = TraceGenerator(s2)
        var differ = false
        while let x = g1.next() { differ = differ || x != g2.next()! }
        #expect(differ)
    }
}
