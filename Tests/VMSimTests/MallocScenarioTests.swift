import Foundation
import Testing
import VMCore
import VMLibc

@testable import VMSim

/// The programs of tools/malloc-truth, written as scenarios, run through the simulated kernel
/// (brk, mmap, page faults, RSS) and compared with what glibc 2.36 did on Linux 6.18.
///
/// Each step is a scenario line; a labelled step records, like the C programs' `before()`/
/// `after()`, the minor faults, resident anonymous pages and `brk` movement it caused
/// (`LABEL.minflt`, `LABEL.rss_pages`, `LABEL.brk_delta`); every allocation records its pointer
/// (`NAME.off` from the initial break for heap chunks, `NAME.mod` in its page, `NAME.mmapped`).
/// Every key both sides have must agree, and at least `minimum` must be compared.
struct MallocTruthRun {
    var steps: [(line: String, label: String?)]
    var extra: (ScenarioRunner, Task, inout [String: Int64]) -> Void = { _, _, _ in }

    func facts() throws -> (model: [String: Int64], log: String) {
        var text = "spawn p\n"
        for s in self.steps { text += s.line + "\n" }
        var log = ""
        let scenario = try ScenarioParser.parse(text, file: "truth.vmsim")
        let runner = try ScenarioRunner(scenario: scenario) { log += $0 + "\n" }
        var out: [String: Int64] = [:]
        runner.execute(scenario.statements[0])
        let task = try #require(runner.processes["p"])
        let brk0 = try #require(task.mm).brk
        out["brk0_mod_page"] = Int64(brk0 % 4096)
        for (i, statement) in scenario.statements.dropFirst().enumerated() {
            let label = self.steps[i].label
            let mm = try #require(task.mm)
            let (flt, anon, brk) = (task.minorFaults, mm.counter(.anonPages), mm.brk)
            runner.execute(statement)
            if let label {
                out["\(label).minflt"] = Int64(task.minorFaults - flt)
                out["\(label).rss_pages"] = Int64(mm.counter(.anonPages) - anon)
                out["\(label).brk_delta"] = Int64(mm.brk) - Int64(brk)
            }
            if let command = statement.command as? MallocCommand, case .free = command.call {
            } else if let command = statement.command as? MallocCommand,
                let pointer = runner.regions[task.pid]?[command.name]?.start
            {
                let inHeap = pointer >= brk0 && pointer < mm.brk
                out["\(command.name).mmapped"] = inHeap ? 0 : 1
                out["\(command.name).mod"] = Int64(pointer % 4096)
                if inHeap { out["\(command.name).off"] = Int64(pointer - brk0) }
                out["ptr:\(command.name)"] = Int64(bitPattern: pointer)
            }
        }
        out["heap_size"] = Int64(task.mm!.brk - brk0)
        self.extra(runner, task, &out)
        return (out, log)
    }
}

/// `mallinfo2()` of the process's allocator as `PREFIX.FIELD` keys.
func putMallinfo(_ runner: ScenarioRunner, _ task: Task, _ prefix: String, _ out: inout [String: Int64]) {
    guard let glibc = runner.allocator(for: task) as? GlibcMalloc else { return }
    let m = glibc.mallinfo2()
    let fields: [(String, UInt64)] = [
        ("arena", m.arena), ("ordblks", m.ordblks), ("smblks", m.smblks), ("hblks", m.hblks),
        ("hblkhd", m.hblkhd),
        ("usmblks", m.usmblks), ("fsmblks", m.fsmblks), ("uordblks", m.uordblks), ("fordblks", m.fordblks),
        ("keepcost", m.keepcost),
    ]
    for (k, v) in fields { out["\(prefix).\(k)"] = Int64(v) }
}

/// tools/malloc-truth/results/NAME.txt as key → value.
func mallocTruth(_ name: String) throws -> [String: Int64] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tools/malloc-truth/results/\(name).txt")
    var facts: [String: Int64] = [:]
    for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1)
        if parts.count == 2, let v = Int64(parts[1]) { facts[String(parts[0])] = v }
    }
    return facts
}

func expectTruth(
    _ run: MallocTruthRun, _ name: String, minimum: Int, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let real = try mallocTruth(name)
    let (model, log) = try run.facts()
    var compared = 0
    for (key, value) in real.sorted(by: { $0.key < $1.key }) {
        guard let mine = model[key] else { continue }
        compared += 1
        #expect(
            mine == value, "\(name): \(key) is \(mine) in vmsim, \(value) on Linux 6.18",
            sourceLocation: sourceLocation)
    }
    #expect(
        compared >= minimum, "\(name): only \(compared) facts compared\n\(log)",
        sourceLocation: sourceLocation)
}

@Suite struct MallocScenarioTests {
    @Test(arguments: [1, 24, 25, 1000, 100_000, 131_048])
    func firstAllocationGrowsTheHeapByRequestPlusTopPad(request: Int) throws {
        let run = MallocTruthRun(
            steps: [("p: malloc p \(request)", "first"), ("p: malloc q \(request)", "second")],
            extra: { runner, task, out in
                out["heap_size2"] = out["heap_size"]
                out["heap_size"] = nil
                putMallinfo(runner, task, "mi", &out)
            })
        try expectTruth(run, "first-\(request)", minimum: 20)
    }

    @Test func mmapThresholdAndItsDynamicRaise() throws {
        let run = MallocTruthRun(
            steps: [
                ("p: malloc guard 16", nil),
                ("p: malloc below 131048", "below"),
                ("p: malloc at 131049", "at"),
                ("p: write at", "at_touch"),
                ("p: free at", "at_free"),
                ("p: malloc again 131049", "again"),
                ("p: malloc m1 1MiB", "m1"),
                ("p: free m1", nil),
                ("p: malloc h1 1MiB", "h1"),
                ("p: malloc edge_heap 1052648", "edge_heap"),
                ("p: malloc edge_mmap 1052664", "edge_mmap"),
                ("p: free edge_mmap", nil),
                ("p: free edge_heap", "edge_heap_free"),
                ("p: free h1", "h1_free"),
                ("p: malloc big1 33550312", nil),
                ("p: free big1", nil),
                ("p: malloc after_big1 16MiB", "after_big1"),
                ("p: free after_big1", nil),
            ],
            extra: { runner, task, out in putMallinfo(runner, task, "mi", &out) })
        try expectTruth(run, "threshold", minimum: 60)
    }

    @Test func freeAtTheTopTrimsTheHeap() throws {
        let run = MallocTruthRun(
            steps: [
                ("p: malloc a 100000", nil), ("p: malloc b 100000", nil), ("p: malloc c 100000", nil),
                ("p: write c", nil), ("p: free c", "free_c"), ("p: malloc d 60000", nil),
                ("p: free d", "free_d"),
                ("p: free b", "free_b"), ("p: free a", "free_a"),
            ],
            extra: { runner, task, out in putMallinfo(runner, task, "mi", &out) })
        try expectTruth(run, "trim", minimum: 30)
    }

    @Test(arguments: [24, 500])
    func tcacheReuseOrder(request: Int) throws {
        var steps: [(String, String?)] = (0..<10).map { ("p: malloc p\($0) \(request)", nil) }
        steps.append(("p: malloc guard 16", nil))
        steps += (0..<10).map { ("p: free p\($0)", nil) }
        steps += (0..<10).map { ("p: malloc q\($0) \(request)", nil) }
        steps.append(("p: malloc fresh \(request)", nil))
        let run = MallocTruthRun(
            steps: steps,
            extra: { _, _, out in
                out["p0.off"] = out["p0.mod"].map { _ in out["p0.off"] ?? -1 }
                out["stride"] = (out["ptr:p1"] ?? 0) - (out["ptr:p0"] ?? 0)
                for i in 0..<10 {
                    let q = out["ptr:q\(i)"]
                    out["reuse\(i)"] = Int64((0..<10).first { out["ptr:p\($0)"] == q } ?? -1)
                }
            })
        try expectTruth(run, "tcache-\(request)", minimum: 15)
    }

    @Test func callocOfFreshMemoryIsNotCleared() throws {
        // calloc of a mapped 1 MiB block costs one fault (its header): fresh mmap memory is zero.
        let (runner, _) = runScenario(
            """
            spawn p
            p: malloc guard 16
            reset counters
            p: calloc z 1 1MiB
            expect p.minflt == 1
            expect p.heap.mmapped == 1028KiB
            p: expect z[0:1MiB] == 0
            """)
        #expect(runner?.expectationsFailed == 0, "\(runner?.failures ?? [])")
        #expect(runner?.expectationsPassed == 3)
    }

    @Test func forkGivesTheChildTheParentsHeapCopyOnWrite() throws {
        let runner = expectScenario(
            """
            spawn p
            p: malloc a 64KiB
            p: write a value=5
            p: fork c
            reset counters
            c: free a
            c: malloc b 1000
            c: write b value=9
            c: expect b[0] == 9
            p: expect a[0] == 5
            p: expect a[60KiB] == 5
            expect c.minflt >= 1
            expect p.minflt == 0
            expect p.heap.live == 65536
            expect c.heap.live == 1000
            """)
        #expect(runner != nil)
    }

    @Test func allocationFieldsAndModulo() throws {
        expectScenario(
            """
            spawn p
            p: malloc a 100
            p: expect a.ptr % 4096 == 0x2a0
            p: expect a.size == 100
            p: expect a.usable == 104
            p: memalign al 4096 100
            p: expect al.ptr % 4096 == 0
            expect p.heap.size == 132KiB
            expect p.heap.live > 199
            p: realloc a 300KiB
            p: expect a.ptr % 4096 == 16
            expect p.heap.mmapped == 304KiB
            """)
    }

    @Test func teachingAllocatorOnTheSameProgram() throws {
        // Best fit puts the 50 bytes into a's 100-byte hole, not into the big free tail.
        let runner = try #require(
            expectScenario(
                """
                spawn p allocator=freelist:best
                p: malloc a 100
                p: malloc b 5000
                p: malloc guard 16
                p: malloc tail 9000
                p: free a
                p: free tail
                p: malloc c 50
                expect p.heap.live == 5066
                """))
        let pid = try #require(runner.processes["p"]).pid
        #expect(runner.danglingPointers[pid]?["a"] == runner.regions[pid]?["c"]?.start)
    }

    @Test func badMallocLinesNameLineAndColumn() {
        let cases: [(String, String)] = [
            ("spawn p\np: malloc a\n", "2:12"),
            ("spawn p\np: free a\n", "2:9"),
            ("spawn p\np: malloc a 10\np: malloc a 10\n", "3:11"),
            ("spawn p\np: mallopt M_FOO=1\n", "2:12"),
            ("spawn p\np: mallopt M_TOP_PAD=99999999999\n", "2:22"),
            ("spawn p allocator=slab\n", "1:19"),
            ("spawn p\np: malloc a 10\np: expect a.bogus == 1\n", "3:13"),
            ("spawn p\nexpect p.heap.size % 0 == 1\n", "2:22"),
        ]
        for (text, place) in cases {
            do {
                _ = try ScenarioParser.parse(text, file: "bad.vmsim")
                Issue.record("parsed: \(text)")
            } catch {
                #expect("\(error)".contains("bad.vmsim:\(place)"), "\(text): \(error)")
            }
        }
    }

    @Test func heapAndMallinfoReports() {
        let (runner, output) = runScenario(
            """
            spawn p
            p: malloc a 100
            p: malloc b 200
            p: free a
            show p heap | p mallinfo
            """)
        #expect(runner?.runtimeErrors == 0)
        #expect(output.contains("glibc: heap 0x"))
        #expect(output.contains("+0x0        0x290     in use"))
        #expect(output.contains("+0x290      0x70      tcache[5]"))
        #expect(output.contains("+0x300      0xd0      in use (200)"))
        #expect(output.contains("tcache[5] 1: +0x290"))
        #expect(output.contains("uordblks="))
    }

    /// Requests no heap can hold get NULL and ENOMEM, as glibc's do (its sums are in size_t and
    /// sbrk refuses what would wrap), with M_TOP_PAD raised.
    @Test(arguments: ["9223372036854775807", "9223372036854771712", "16EiB"])
    func hugeRequestsReturnNull(size: String) {
        let size = size == "16EiB" ? "18446744073709547520" : size
        let (runner, output) = runScenario(
            """
            spawn p
            p: mallopt M_TOP_PAD=1MiB
            p: malloc small 10
            p: malloc huge \(size)
            p: calloc huge2 4294967296 4294967296
            p: memalign huge3 1GiB \(size)
            p: malloc after 10
            expect p.alive == 1
            """)
        #expect(runner?.expectationsFailed == 0, "\(output)")
        #expect(output.components(separatedBy: "returned NULL (ENOMEM)").count == 4, "\(output)")
    }

    @Test func doubleFreeAbortsTheProcessWithSIGABRT() {
        let (runner, output) = runScenario(
            """
            spawn p
            p: malloc a 100000
            p: malloc b 100000
            p: write a value=1
            p: free a
            p: free a
            expect p.killed == 6
            """)
        #expect(runner?.expectationsFailed == 0, "\(output)")
        #expect(output.contains("SIGABRT"), "\(output)")
    }
}
