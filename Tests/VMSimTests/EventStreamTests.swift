import Foundation
import Testing
import VMCore

@testable import VMSim

/// Runs `text` with the given trace categories and an event log; the printed lines and the
/// JSON lines.
func traced(_ text: String, categories: Set<EventCategory> = Set(EventCategory.allCases)) throws -> (
    output: [String], events: [String]
) {
    var output: [String] = []
    var events: [String] = []
    let scenario = try ScenarioParser.parse(text, file: "t.vmsim")
    let runner = try ScenarioRunner(scenario: scenario, trace: true) { output.append($0) }
    runner.traceCategories = categories
    runner.eventLog = { events.append($0) }
    runner.run(scenario)
    return (output, events)
}

@Suite struct EventStreamTests {
    static let cow = """
        spawn p
        p: mmap buf 64KiB
        p: write buf value=1
        p: fork c
        c: write buf[0:16KiB] value=2
        c: write buf[32KiB] value=3
        """

    /// Runs of one handler over consecutive pages collapse; a lone fault stays one line and
    /// shows its frames; COW shows the old and the new frame.
    @Test func faultRunsCollapseAndCOWShowsBothFrames() throws {
        let (output, _) = try traced(Self.cow)
        let trace = output.filter { $0.hasPrefix("  [trace] ") }
        #expect(trace.contains { $0.contains("16 × fault pid=3 write ") && $0.contains("do_anonymous_page") })
        let run = try #require(trace.first { $0.contains("4 × fault pid=4 write") })
        #expect(run.contains("do_wp_page: copy; the first, pfn 0x"), "\(run)")
        #expect(run.contains(" → 0x"))
        let single = try #require(trace.first { $0.contains("fault pid=4 write 0x") && !$0.contains(" × ") })
        #expect(single.contains("do_wp_page: copy, pfn 0x") && single.contains(" → 0x"), "\(single)")
        let pfns = single.split(separator: " ").filter { $0.hasPrefix("0x") }
        #expect(pfns.count == 3 && pfns[1] != pfns[2])
    }

    @Test func categoriesSelectWhatIsPrinted() throws {
        let (output, events) = try traced(Self.cow, categories: [.cow])
        let trace = output.filter { $0.hasPrefix("  [trace] ") }
        #expect(!trace.isEmpty)
        #expect(trace.allSatisfy { $0.contains("do_wp_page") }, "\(trace)")
        // The event log keeps everything, whatever is printed.
        #expect(events.contains { $0.contains("\"type\":\"fork\"") })
        #expect(try EventCategory.parseList("fault,oom").get() == [.fault, .oom])
        #expect(try EventCategory.parseList("all").get().count == EventCategory.allCases.count)
        guard case .failure(let e) = EventCategory.parseList("fault,bogus") else {
            Issue.record("bogus accepted")
            return
        }
        #expect(e.message.contains("unknown category 'bogus'"))
    }

    /// Every line is a JSON object of schema version 1 with its scenario line, in sequence,
    /// and a fault carries its frames.
    @Test func eventLinesAreVersionedJSONWithTheirScenarioLine() throws {
        let (_, events) = try traced(Self.cow)
        #expect(events.count > 20)
        var last = -1
        for (i, line) in events.enumerated() {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["v"] as? Int == EventJSON.version)
            #expect(object["seq"] as? Int == i)
            let number = try #require(object["line"] as? Int)
            #expect(number >= last && (1...6).contains(number))
            last = number
            #expect(object["category"] as? String != nil && object["type"] as? String != nil)
        }
        let fault = try #require(
            events.first { $0.contains("\"handler\":\"do_wp_page: copy\"") }.flatMap {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            })
        #expect(fault["line"] as? Int == 5)
        #expect((fault["old_pfn"] as? String)?.hasPrefix("0x") == true)
        #expect(fault["old_pfn"] as? String != fault["new_pfn"] as? String)
        #expect(EventJSON.string("a\"b\\c\n\u{1}") == #""a\"b\\c\n\u0001""#)
    }

    @Test func shellTracesLoadsAndSaves() throws {
        var output: [String] = []
        let shell = try ShellSession(overrides: [("memory", "64MiB")], trace: false) { output.append($0) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vmsim-shell-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let script = dir.appendingPathComponent("s.vmsim").path
        try "spawn p\np: mmap buf 8KiB\n# a comment\np: write buf\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        _ = shell.handle("load \(script)")
        #expect(shell.history == ["spawn p", "p: mmap buf 8KiB", "p: write buf"])
        #expect(output.contains { $0.hasPrefix("→ 2 minor faults (2 do_anonymous_page)") }, "\(output)")
        output.removeAll()
        _ = shell.handle("trace fault")
        _ = shell.handle("p: read buf")
        #expect(output.isEmpty || output.allSatisfy { !$0.contains("[trace] mmap") })
        _ = shell.handle("p: mmap more 4KiB")
        _ = shell.handle("p: write more")
        #expect(output.contains { $0.contains("[trace] fault pid=") }, "\(output)")
        #expect(!output.contains { $0.contains("[trace] mmap") })
        _ = shell.handle("trace off")
        output.removeAll()
        _ = shell.handle("p: write buf value=3")
        #expect(!output.contains { $0.contains("[trace]") })
        _ = shell.handle("trace nonsense")
        #expect(output.last?.contains("unknown category 'nonsense'") == true)
        let saved = dir.appendingPathComponent("saved.vmsim").path
        _ = shell.handle("save \(saved)")
        let text = try String(contentsOfFile: saved, encoding: .utf8)
        #expect(text.hasPrefix("spawn p\np: mmap buf 8KiB\np: write buf\n"))
        #expect(text.hasSuffix("p: write buf value=3\n"))
        // A bad line in a loaded file names the file, its line and column, and stops the load.
        let bad = dir.appendingPathComponent("bad.vmsim").path
        try "p: write buf\np: frobnicate\np: write buf\n".write(
            toFile: bad, atomically: true, encoding: .utf8)
        let before = shell.history.count
        _ = shell.handle("load \(bad)")
        #expect(output.last?.hasPrefix("\(bad):2:4:") == true, "\(output.last ?? "")")
        #expect(shell.history.count == before + 1)
        #expect(ShellSession.help.contains("load FILE") && ShellSession.help.contains("malloc"))
    }
}
