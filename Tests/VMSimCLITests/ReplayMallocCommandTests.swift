import Foundation
import Testing

@Suite struct ReplayMallocCommandTests {
    /// sort's allocations (valgrind --trace-malloc) through glibc's model inside a simulated
    /// process: every call replayed, the heap grown with brk, faults taken by the process.
    @Test func valgrindTraceReplaysInsideTheKernel() throws {
        let dir = temporaryDirectory()
        let timeline = dir.appendingPathComponent("t.csv").path
        let r = try vmsim([
            "replay-malloc", "examples/traces/sort.valgrind", "--timeline", timeline, "--timeline-every",
            "100",
        ])
        #expect(r.status == 0, "\(r.err)")
        #expect(
            r.out.contains(
                "allocator glibc: 506 calls (215 malloc, 0 calloc, 6 realloc, 0 memalign, 285 free), 0 skipped"
            ))
        #expect(r.out.contains("process [3] in the simulated kernel:"))
        let csv = try String(contentsOfFile: timeline, encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "call,heap,real_heap,mmapped,live,rss_pages")
        #expect(csv.count == 6)
    }

    /// The same trace through a teaching allocator and over a bare address space.
    @Test func allocatorAndNoKernel() throws {
        let best = try vmsim([
            "replay-malloc", "examples/traces/sort.valgrind", "--allocator", "freelist:best",
        ])
        #expect(best.status == 0 && best.out.hasPrefix("allocator freelist:best: 506 calls"))
        let bare = try vmsim(["replay-malloc", "examples/traces/sort.valgrind", "--no-kernel"])
        #expect(bare.status == 0 && !bare.out.contains("simulated kernel"))
    }

    @Test func badInputExitsTwoWithFileLineAndColumn() throws {
        let dir = temporaryDirectory()
        let bad = dir.appendingPathComponent("bad.malloc").path
        try "--1-- malloc(24) = 0x4A40040\n--1-- malloc(x) = 0x4A40060\n".write(
            toFile: bad, atomically: true, encoding: .utf8)
        let r = try vmsim(["replay-malloc", bad])
        #expect(r.status == 2)
        #expect(r.err.contains("bad.malloc:2:"), "\(r.err)")
        #expect(r.out.isEmpty)
        let unknown = try vmsim(["replay-malloc", bad, "--allocator", "slab"])
        #expect(unknown.status == 2 && unknown.err.contains("--allocator"))
        let every = try vmsim(["replay-malloc", bad, "--timeline-every", "0"])
        #expect(every.status == 2)
        let missing = try vmsim(["replay-malloc", "/nonexistent.malloc"])
        #expect(missing.status == 2 && missing.err.contains("/nonexistent.malloc"))
    }
}
