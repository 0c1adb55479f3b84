import Foundation
import Testing

@testable import VMLibc

/// examples/traces/python-json.malloc.gz, decompressed once into a temporary file.
let pythonTrace: String = {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent(
        "vmlibc-python-json-\(getpid()).malloc")
    let gz = repositoryRoot.appendingPathComponent("examples/traces/python-json.malloc.gz").path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", "gzip -dc '\(gz)' > '\(out.path)'"]
    try! p.run()
    p.waitUntilExit()
    precondition(p.terminationStatus == 0, "gzip -dc \(gz) failed")
    return out.path
}()

@Suite struct MallocReplayTests {
    /// The captured Python run (tools/malloc-trace/README.md) replays through the glibc model
    /// with the real process's heap size after every one of its 596,855 calls. Tolerance: none —
    /// the model's break equals the real one after every call, every mmapped-or-not decision
    /// agrees, and every heap pointer has the same offset from the heap's start.
    @Test func capturedPythonRunReplaysWithTheRealHeapAtEveryStep() throws {
        let report = try replayMallocTrace(try AllocationTraceReader(path: pythonTrace))
        #expect(report.calls == 596_855)
        #expect(report.skipped == 0 && report.modelFailures == 0)
        #expect(report.comparedSteps == report.calls)
        #expect(report.brkAgreeingSteps == report.comparedSteps, "\(report.disagreements.prefix(3))")
        #expect(report.maxHeapDifference == 0)
        #expect(report.mmapAgreeing == report.mmapCompared)
        #expect(report.pointersEqual == report.pointersCompared)
        #expect(report.realPeakHeap == report.peakHeap && report.realFinalHeap == report.finalHeap)
        #expect(report.peakHeap == 6_979_584 && report.finalHeap == 4_939_776)
    }

    /// The sort run traced by valgrind replays under every allocator: no call is skipped (every
    /// freed pointer was returned earlier), and the teaching allocators, which never give memory
    /// back, end with a heap at least as big as their peak need.
    @Test(arguments: ["glibc", "freelist:first", "freelist:best", "freelist:worst", "freelist:next"])
    func valgrindTraceReplaysUnderEveryAllocator(_ allocator: String) throws {
        var options = MallocReplayOptions()
        options.allocator = allocator
        options.timelineEvery = 100
        let report = try replayMallocTrace(
            try AllocationTraceReader(
                path: repositoryRoot.appendingPathComponent("examples/traces/sort.valgrind").path),
            options: options)
        #expect(report.calls == 506)
        #expect(report.skipped == 0)
        #expect(report.modelFailures == 0)
        #expect(report.comparedSteps == 0)
        #expect(report.timeline.count == 5)
        #expect(report.stats.peakLiveBytes > 0)
        #expect(report.stats.liveBytes <= report.stats.peakLiveBytes)
        if allocator != "glibc" { #expect(report.finalHeap == report.peakHeap) }
    }

    @Test func writingAllocationsMakesTheirPagesResident() throws {
        let text = header + "m 200000 7ffff7d00010 555555559000 M\nm 100000 5555555592a0 55555557a000 h\n"
        var options = MallocReplayOptions()
        let quiet = try replayMallocTrace(
            AllocationTraceReader(bytes: Array(text.utf8), name: "t"), options: options)
        options.writeAllocations = true
        let busy = try replayMallocTrace(
            AllocationTraceReader(bytes: Array(text.utf8), name: "t"), options: options)
        #expect(quiet.finalResidentPages == 3)  // the tcache page, the mapped header, top's header
        #expect(busy.finalResidentPages == 49 + 25)
    }

    @Test func otherThreadsAndUnknownPointersAreSkipped() throws {
        let text =
            header + "m 10 5555555592a0 55555557a000 h\n# thread 8\nm 10 7fff00000b70 55555557a000 h\n"
            + "# thread 7\nf 123450 55555557a000 h\nf 5555555592a0 55555557a000 h\n"
        let report = try replayMallocTrace(AllocationTraceReader(bytes: Array(text.utf8), name: "t"))
        #expect(report.calls == 3 && report.skipped == 2)
        #expect(report.brkAgreeingSteps == 3)
    }

    @Test func aPointerFreedTwiceIsSkippedTheSecondTime() throws {
        let text =
            header + "m 10 5555555592a0 55555557a000 h\nf 5555555592a0 55555557a000 h\n"
            + "f 5555555592a0 55555557a000 h\n"
        #expect(try replayMallocTrace(AllocationTraceReader(bytes: Array(text.utf8), name: "t")).skipped == 1)
    }

    @Test func unknownAllocatorIsAnError() {
        var options = MallocReplayOptions()
        options.allocator = "jemalloc"
        #expect(throws: AllocationTraceError.self) {
            try replayMallocTrace(
                AllocationTraceReader(bytes: Array(header.utf8), name: "t"), options: options)
        }
    }
}
