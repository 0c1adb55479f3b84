import Foundation
import PropertyBased
import Testing
import TraceInput

@testable import VMLibc

/// The repository's root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

func events(_ text: String, _ format: AllocationTraceFormat? = nil) throws -> [AllocationEvent] {
    try AllocationTraceReader(bytes: Array(text.utf8), name: "t", format: format).readAll()
}

func traceError(_ text: String, _ format: AllocationTraceFormat? = nil) -> String {
    do {
        _ = try AllocationTraceReader(bytes: Array(text.utf8), name: "t", format: format).readAll()
        return "no error"
    } catch {
        return error.description
    }
}

let header = "# vmsim malloc trace v1 pid=7 tid=7 brk0=555555559000 exe=/usr/bin/true\n"

@Suite struct AllocationTraceTests {
    @Test func shimLinesBecomeCallsWithTheRealBreakAndMmapFlag() throws {
        let r = AllocationTraceReader(
            bytes: Array(
                (header + "m 24 5555555592a0 55555557a000 h\nc 3 10 5555555592c0 55555557a000 h\n"
                    + "r 5555555592a0 200000 7ffff7d00010 55555557a000 M\na 64 100 555555559300 55555557a000 h\n"
                    + "p 4096 10 0 55555557a000 -\n# a comment\nf 7ffff7d00010 55555557a000 M\n").utf8),
            name: "t")
        let e = try r.readAll()
        #expect(
            e.map(\.call) == [
                .malloc(size: 24), .calloc(count: 3, size: 10),
                .realloc(pointer: 0x5555_5555_92a0, size: 200000),
                .memalign(alignment: 64, size: 100), .posixMemalign(alignment: 4096, size: 10),
                .free(pointer: 0x7fff_f7d0_0010),
            ])
        #expect(
            e.map(\.result) == [0x5555_5555_92a0, 0x5555_5555_92c0, 0x7fff_f7d0_0010, 0x5555_5555_9300, 0, 0])
        #expect(e.map(\.mmapped) == [false, false, true, false, nil, true])
        #expect(e.allSatisfy { $0.brk == 0x5555_5557_a000 && !$0.otherThread })
        #expect(e.map(\.line) == [2, 3, 4, 5, 6, 8])
        #expect(r.format == .shim)
        #expect(r.stats.pid == 7 && r.stats.tid == 7 && r.stats.initialBreak == 0x5555_5555_9000)
        #expect(r.stats.executable == "/usr/bin/true")
        #expect(r.stats.noise == 2)
    }

    @Test func threadMarkersFlagOtherThreadsCalls() throws {
        let e = try events(
            header + "m 1 10 20 h\n# thread 8\nm 1 30 20 h\n# thread 7\nf 10 20 h\n")
        #expect(e.map(\.otherThread) == [false, true, false])
    }

    @Test func aSecondHeaderEndsTheTrace() throws {
        let r = AllocationTraceReader(
            bytes: Array((header + "m 1 10 20 h\n" + header + "m 2 10 20 h\n").utf8), name: "t")
        #expect(try r.readAll().count == 1)
        #expect(r.stats.linesAfterExec == 2)
    }

    /// examples/traces/sort.valgrind: `valgrind --trace-malloc=yes sort small.txt`.
    @Test func valgrindTraceOfSortReadsEveryCall() throws {
        let r = try AllocationTraceReader(
            path: repositoryRoot.appendingPathComponent("examples/traces/sort.valgrind").path)
        let e = try r.readAll()
        #expect(r.format == .valgrind)
        #expect(e.count == 506)
        #expect(e.filter { if case .malloc = $0.call { return true } else { return false } }.count == 215)
        #expect(e.filter { if case .realloc = $0.call { return true } else { return false } }.count == 6)
        #expect(e.filter { if case .free = $0.call { return true } else { return false } }.count == 285)
        #expect(e.allSatisfy { $0.brk == nil && $0.mmapped == nil })
        #expect(r.stats.pid == 3274)
        // The first lines: `malloc(5) = 0x4A40040`, `free(0x4A40040)`.
        #expect(e[0] == AllocationEvent(call: .malloc(size: 5), result: 0x4A4_0040, line: 7))
        #expect(e[1].call == .free(pointer: 0x4A4_0040))
    }

    @Test func valgrindNestedReallocForms() throws {
        let e = try events(
            "==5== Memcheck\n--5-- realloc(0x0,50)malloc(50) = 0x4A401B0\n--5-- realloc(0x4A401B0,0)free(0x4A401B0)\n"
                + "--5--  = 0\n--5-- memalign(al 64, size 100) = 0x4A40280\n--6-- malloc(1) = 0x10\n"
                + "--5-- calloc(3,10) = 0x4A400A0\nprogram output\n")
        #expect(
            e.map(\.call) == [
                .realloc(pointer: 0, size: 50), .realloc(pointer: 0x4A4_01B0, size: 0),
                .memalign(alignment: 64, size: 100), .calloc(count: 3, size: 10),
            ])
        #expect(e.map(\.result) == [0x4A4_01B0, 0, 0x4A4_0280, 0x4A4_00A0])
    }

    /// Hostile and malformed input: every error names the file, line and column.
    @Test(arguments: [
        (header + "m 12 abc\n", "t:2:9: expected the program break (hexadecimal)"),
        (header + "x 1 2 3 h\n", "t:2:1: expected an operation (m, c, r, a, p, f) or a # comment"),
        (header + "m 99999999999999999999 1 2 h\n", "t:2:3: a size does not fit in 64 bits"),
        (header + "m 1 2 3 q\n", "t:2:9: expected M, h or - (the chunk's kind)"),
        (header + "m 1 2 3\n", "t:2:8: expected M, h or - (the chunk's kind)"),
        (header + "m 1 2 3 h extra\n", "t:2:11: unexpected text after the line's last field"),
        (header + "m1 2 3 h\n", "t:2:2: expected a space after the operation"),
        (header + "f\n", "t:2:2: expected a pointer (hexadecimal)"),
        (header + "m 1 2\u{0}3 h\n", "t:2:6: NUL byte in a text trace"),
        (header + String(repeating: "a", count: 5000) + "\n", "t:2:4097: line longer than 4096 bytes"),
        (header + String(repeating: "a", count: 5000), "t:2:4097: line longer than 4096 bytes"),
        ("# vmsim malloc trace v2\n", "t:1:22: unknown trace version (expected v1)"),
        ("# vmsim malloc trace v1 pid=x\n", "t:1:29: expected a process id (decimal)"),
        ("--12-- malloc(12 = 0x10\n", "t:1:17: expected ')'"),
        ("--12-- calloc(1 2) = 0x1\n", "t:1:16: expected ','"),
        ("--12-- malloc(12) 0x10\n", "t:1:19: expected '= ' and the returned pointer"),
        ("--12-- free(zz)\n", "t:1:13: expected a pointer (hexadecimal)"),
        ("--12-- memalign(64, size 1) = 0x1\n", "t:1:17: expected 'al ALIGNMENT'"),
        ("hello\nworld\n", "t: not an allocation trace: no shim header and no valgrind --trace-malloc line"),
    ])
    func malformedLinesAreReportedWithTheirPlace(_ text: String, _ message: String) {
        #expect(traceError(text) == message)
    }

    /// gzip and zstd traces are read directly (by their magic number): the same calls as the
    /// plain file.
    @Test func compressedTracesReadLikeThePlainOne() throws {
        let gz = repositoryRoot.appendingPathComponent("examples/traces/python-json.malloc.gz").path
        let packed = try AllocationTraceReader(path: gz).readAll()
        #expect(packed.count == 596_855)
        #expect(packed == (try AllocationTraceReader(path: pythonTrace).readAll()))
        let sort = repositoryRoot.appendingPathComponent("examples/traces/sort.valgrind").path
        let plain = try AllocationTraceReader(path: sort).readAll()
        let zst = FileManager.default.temporaryDirectory.appendingPathComponent("vmlibc-sort-\(getpid()).zst")
        defer { try? FileManager.default.removeItem(at: zst) }
        let bytes = try #require(zstdCompress(Array(try Data(contentsOf: URL(fileURLWithPath: sort)))))
        try Data(bytes).write(to: zst)
        #expect(try AllocationTraceReader(path: zst.path).readAll() == plain)
    }

    @Test func aMissingFileIsAnError() {
        #expect(throws: AllocationTraceError.self) { try AllocationTraceReader(path: "/nonexistent/trace") }
    }

    @Test func anEmptyTraceHasNoCalls() throws {
        #expect(try events("").isEmpty)
    }

    /// Random bytes, and random damage to a valid trace, never crash the reader: it reads or it
    /// reports an error.
    @Test func hostileBytesNeverCrashTheReader() async {
        let valid = Array(
            (header + "m 24 5555555592a0 55555557a000 h\nr 5555555592a0 99 5555555592a0 55555557a000 h\n"
                + "f 5555555592a0 55555557a000 h\n--1-- malloc(5) = 0x10\n").utf8)
        await propertyCheck(
            count: 300, input: Gen.uint8(in: 0...255).array(of: 0...200), Gen.int(in: 0...10_000)
        ) { noise, where_ in
            var damaged = valid
            for (k, b) in noise.enumerated() where k % 3 == 0 {
                damaged[(where_ + k) % damaged.count] = b
            }
            for input in [noise, damaged] {
                for format in [nil, AllocationTraceFormat.shim, .valgrind] {
                    do {
                        _ = try AllocationTraceReader(bytes: input, name: "t", format: format).readAll()
                    } catch {
                        #expect((error as? AllocationTraceError)?.file == "t")
                    }
                }
            }
        }
    }
}
