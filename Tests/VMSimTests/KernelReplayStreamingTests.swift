import AllocationCounter
import Foundation
import Testing
import VMCore
import VMPhys
import VMTrace
import VMTypes

@testable import VMSim

/// Kernel-mode replay streamed from the file (a survey pass, then the replay's pass read ahead
/// on a second thread) against the same replay from memory; the survey read in two parts
/// against one pass.
@Suite struct KernelReplayStreamingTests {
    /// A lackey trace of `accesses` accesses to 400 pages (stack, heap and code far apart, so
    /// there are several areas), with valgrind's noise lines, 30% stores, and some accesses
    /// spanning two pages.
    static func lackeyText(accesses: Int, seed: UInt64 = 7) -> String {
        var x = seed
        var lines = ["==1== Lackey, an example Valgrind tool", "==1== Command: ./prog"]
        let bases: [UInt64] = [0x0040_0000, 0x0060_0000, 0x1ffe_ff00_0000]
        for i in 0..<accesses {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let base = bases[Int(x >> 60) % 3]
            let page = (x >> 33) % 140
            let offset = (x >> 20) % 4096
            let kind = ["I ", " L", " S", " M", " L", " L", " S", "I ", " L", " L"][Int((x >> 8) % 10)]
            let size = offset > 4088 ? 16 : 8
            lines.append("\(kind) \(String(base + page * 4096 + offset, radix: 16)),\(size)")
            if i % 5000 == 4999 { lines.append("==1== a line of valgrind's own") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func write(_ text: String, name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vmsim-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `memory.max` 1 MiB.
    static let limits = ReplayCgroupLimits(max: 1 << 20, high: nil)

    /// The fields of a result that a replay must reproduce exactly.
    static func summary(_ r: KernelReplayResult) -> [String] {
        [
            "\(r.accesses) \(r.performed) \(r.outcome) \(r.stores) \(r.firstTouchStores)",
            "faults \(r.minorFaults) \(r.majorFaults) tlb \(r.tlb)",
            "swap \(r.pswpin) \(r.pswpout) scan \(r.pgscan) steal \(r.pgsteal) time \(r.simulatedNanoseconds)",
            "areas \(r.areas.map { "\(hex($0.start))-\(hex($0.end))" })",
            "policy \(r.policyVictims) \(r.policyVictimsSkipped)",
        ]
    }

    /// Streamed and in-memory replays of one trace agree in every counter, under memory pressure
    /// (reclaim and swap), with the kernel's LRU and with a policy choosing the victims, with
    /// first touches as stores, and with a timeline.
    @Test(arguments: [PolicyKind.linux, .lru, .arc, .opt], [false, true])
    func streamedEqualsInMemory(policy: PolicyKind, firstTouch: Bool) throws {
        let path = try Self.write(Self.lackeyText(accesses: 30_000), name: "t.lackey")
        let options = TraceOptions()
        let dense = try DenseTrace(reader: try openTrace(path, options: options))
        let survey = try TraceSurvey.read(path: path, options: options)
        #expect(survey == TraceSurvey(dense))
        let streamed = KernelReplayTrace(survey: survey) { try openTrace(path, options: options) }
        #expect(!streamed.isInMemory)
        var results: [[String]] = []
        var samples: [[UInt64]] = []
        for input in [KernelReplayTrace(dense), streamed] {
            // A 1 MiB cgroup for 420 pages touched: reclaim and swap run.
            let kernel = try bootForReplay(memory: 64 << 20, swap: 8 << 20)
            let timeline = Timeline(interval: 4096)
            let r = try KernelReplay.run(
                kernel: kernel, trace: input, traceShift: 12, maps: nil, policy: policy,
                firstTouchWrites: firstTouch, timeline: timeline, cgroup: Self.limits)
            results.append(Self.summary(r))
            samples.append(timeline.samples.map(\.accesses))
        }
        #expect(results[0] == results[1])
        #expect(samples[0] == samples[1])
        #expect(results[0][0].hasPrefix("33124 33124 completed"))
    }

    /// The pressure in the test above is real: pages went to swap and came back.
    @Test func theComparisonRunsUnderPressure() throws {
        let path = try Self.write(Self.lackeyText(accesses: 30_000), name: "t.lackey")
        let options = TraceOptions()
        let input = KernelReplayTrace(survey: try TraceSurvey.read(path: path, options: options)) {
            try openTrace(path, options: options)
        }
        let r = try KernelReplay.run(
            kernel: try bootForReplay(memory: 64 << 20, swap: 8 << 20), trace: input, traceShift: 12,
            maps: nil,
            cgroup: Self.limits)
        #expect(r.outcome == .completed)
        #expect(r.pswpout > 0 && r.pswpin > 0 && r.majorFaults > 0)
    }

    /// Read in two parts on two threads, the survey is what one pass finds: the same pages in
    /// the same order of first appearance, counts and noise lines.
    @Test(arguments: [1_000, 20_000])
    func twoPartsMakeOneSurvey(accesses: Int) throws {
        let path = try Self.write(Self.lackeyText(accesses: accesses), name: "t.lackey")
        var options = TraceOptions()
        let one = try TraceSurvey(reader: try openTrace(path, options: options))
        let two = try TraceSurvey.read(path: path, options: options, splitAbove: 1)
        #expect(one == two)
        #expect(one.count >= accesses && one.stats.noise > 0)
        options.instructions = false
        #expect(
            try TraceSurvey.read(path: path, options: options, splitAbove: 1)
                == TraceSurvey(reader: try openTrace(path, options: options)))
    }

    /// A bad line in the second part is reported at its line in the whole file, as one pass
    /// reports it; a bad line in each part reports the first.
    @Test func anErrorInTheSecondPartNamesItsLineInTheFile() throws {
        var lines = Self.lackeyText(accesses: 4_000).split(separator: "\n").map(String.init)
        lines[3_500] = " L 0x12zz,8"
        let path = try Self.write(lines.joined(separator: "\n") + "\n", name: "bad.lackey")
        let options = TraceOptions()
        func error(_ body: () throws -> TraceSurvey) -> TraceError? {
            do {
                _ = try body()
                return nil
            } catch { return error as? TraceError }
        }
        let one = error { try TraceSurvey(reader: try openTrace(path, options: options)) }
        let two = error { try TraceSurvey.read(path: path, options: options, splitAbove: 1) }
        #expect(one != nil && one?.line == 3_501)
        #expect(two == one)
        lines[100] = " Q 1000,8"
        let both = try Self.write(lines.joined(separator: "\n") + "\n", name: "bad2.lackey")
        let first = error { try TraceSurvey.read(path: both, options: options, splitAbove: 1) }
        #expect(first?.line == 101)
    }

    /// A trace that changes between the survey and the replay is an error, not a report of a
    /// replay of something else.
    @Test func aTraceThatChangesBetweenPassesIsRefused() throws {
        let path = try Self.write(Self.lackeyText(accesses: 3_000), name: "t.lackey")
        let options = TraceOptions()
        let survey = try TraceSurvey.read(path: path, options: options)
        let shorter = Array(Self.lackeyText(accesses: 2_000).utf8)
        let input = KernelReplayTrace(survey: survey) {
            try openTrace(bytes: shorter, name: path, options: options)
        }
        #expect {
            try KernelReplay.run(
                kernel: try bootForReplay(memory: 64 << 20), trace: input, traceShift: 12, maps: nil)
        } throws: { error in
            (error as? TraceError)?.message.contains("the trace changed while it was replayed") == true
        }
    }

    /// The streamed replay's loop allocates nothing per access: ten times the accesses over the
    /// same pages cost the replaying thread no more allocations (the parser's thread fills the
    /// batches; the loop copies them into one batch of its own).
    @Test func theStreamedLoopAllocatesNothingPerAccess() throws {
        var counts: [Int] = []
        for accesses in [30_000, 300_000] {
            let path = try Self.write(Self.lackeyText(accesses: accesses), name: "t.lackey")
            let options = TraceOptions()
            let input = KernelReplayTrace(survey: try TraceSurvey.read(path: path, options: options)) {
                try openTrace(path, options: options)
            }
            let kernel = try bootForReplay(memory: 64 << 20)
            var result: KernelReplayResult?
            vmsim_allocation_counter_start()
            result = try? KernelReplay.run(kernel: kernel, trace: input, traceShift: 12, maps: nil)
            let n = vmsim_allocation_counter_stop()
            guard n >= 0 else { return }
            #expect(result?.outcome == .completed && result!.performed >= accesses)
            counts.append(n)
        }
        #expect(counts[0] > 0)
        #expect(
            counts[1] <= counts[0] + 16, "30,000 accesses: \(counts[0]) allocations; 300,000: \(counts[1])")
    }

    /// The read-ahead reader hands out the inner reader's batches in order, then its error; and
    /// a consumer that stops early does not leave the producer blocked.
    @Test func readAheadDeliversBatchesThenTheError() throws {
        var lines = Self.lackeyText(accesses: 300_000).split(separator: "\n").map(String.init)
        let options = TraceOptions()
        let good = Array((lines.joined(separator: "\n") + "\n").utf8)
        func keys(_ reader: any TraceReader) throws -> [UInt64] {
            let batch = AccessBatch()
            var all: [UInt64] = []
            while try reader.read(into: batch) { all += (0..<batch.count).map { batch.keys[$0] } }
            return all
        }
        let direct = try keys(try openTrace(bytes: good, name: "t", options: options))
        let ahead = ReadAheadReader(try openTrace(bytes: good, name: "t", options: options))
        #expect(try keys(ahead) == direct)
        let stats = try openTrace(bytes: good, name: "t", options: options).drainedStats()
        #expect(ahead.stats == stats)
        lines[250_000] = "nonsense"
        let bad = Array((lines.joined(separator: "\n") + "\n").utf8)
        let failing = ReadAheadReader(try openTrace(bytes: bad, name: "t", options: options))
        let batch = AccessBatch()
        var seen = 0
        #expect(throws: TraceError.self) {
            while try failing.read(into: batch) { seen += batch.count }
        }
        #expect(seen > 200_000)
        // Stopped after one batch: deinit stops the producer waiting for a free slot.
        for _ in 0..<20 {
            let early = ReadAheadReader(try openTrace(bytes: good, name: "t", options: options))
            #expect(try early.read(into: batch))
        }
    }
}

extension TraceReader {
    /// Reads to the end and returns the stats.
    func drainedStats() throws -> ReaderStats {
        let batch = AccessBatch()
        while try self.read(into: batch) {}
        return self.stats
    }
}
