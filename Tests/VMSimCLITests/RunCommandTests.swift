import ArgumentParser
import Foundation
import Testing

@testable import VMSimCLI

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Runs `vmsim run ARGS` in-process: the printed lines and the exit status.
func runCommand(_ args: [String]) -> (text: String, status: Int32) {
    var lines: [String] = []
    do {
        let command = try Run.parse(args)
        let (result, status) = try command.output { lines.append($0) }
        if command.json { return (result, status) }
        return (lines.joined(separator: "\n") + "\n", status)
    } catch {
        let (message, status) = VMSimCommand.report(for: error)
        return (message, status)
    }
}

/// Writes a scenario to a temporary file and returns its path.
func scenarioFile(_ text: String, name: String = "test.vmsim") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
        "vmsim-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try? text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

@Suite struct RunCommandTests {
    /// The demo narrated: each line with its effect, each expectation with its value, the
    /// reports it asks for, a summary.
    @Test func runWithoutArgumentsRunsTheDemoNarrated() {
        let (text, status) = runCommand([])
        #expect(status == 0)
        #expect(text.contains("      # Demand paging: reading untouched memory maps the shared zero page"))
        #expect(text.contains("  13  web: read buf[0:1MiB]\n        → 256 minor faults (256 zero page)\n"))
        #expect(text.contains("  14  expect web.minflt == 256\n        → ✓ 256\n"))
        #expect(text.contains("→ 16 minor faults (16 COW copy)"))
        #expect(text.contains("==> /proc/3/maps (web) <=="))
        #expect(text.contains("SIGSEGV to crasher at 0x"))
        #expect(text.contains("kswapd ran ×"))
        #expect(text.contains("summary:\n  process"))
        #expect(text.hasSuffix("demo: 25 expectations passed, 0 failed\n"))
        #expect(!text.contains("==> /proc/zoneinfo <=="))
        #expect(text.split(separator: "\n").count < 260)
    }

    @Test func quietAndJSONRunsAreNotNarrated() throws {
        let file = scenarioFile("spawn a\na: mmap m 64KiB\na: write m\nexpect a.minflt == 17\n")
        let quiet = runCommand([file, "--quiet"])
        #expect(quiet.status == 0)
        #expect(quiet.text == "\(file): 1 expectation passed, 0 failed\n")
        let json = runCommand([file, "--json"])
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.text.utf8)) as? [String: Any])
        let lines = try #require(object["lines"] as? [[String: Any]])
        #expect(lines.count == 4)
        #expect((lines[2]["faultsByHandler"] as? [String: Int])?["do_anonymous_page"] == 16)
        #expect(lines[3]["expectation"] as? Bool == true && lines[3]["actual"] as? String == "17")
        #expect(!json.text.contains("→"))
    }

    /// A failed expectation shows the value it found, on its line.
    @Test func failedExpectationIsNarratedWithItsValue() {
        let file = scenarioFile("spawn a\nexpect a.minflt == 5\n")
        let (text, status) = runCommand([file])
        #expect(status == 1)
        #expect(text.contains("   2  expect a.minflt == 5\n"))
        #expect(text.contains("        → ✗ a.minflt is 1\n"))
    }

    @Test func machineFlagsOverrideTheScenario() {
        let (text, status) = runCommand(["--memory", "256MiB", "--arch", "i386", "--show", "buddyinfo"])
        #expect(status == 0)
        #expect(text.contains("Node 0, zone   Normal"))
        #expect(!text.contains("DMA32"))
        let file = scenarioFile("spawn a\n")
        let zones = runCommand([
            file, "--zones", "DMA=3840,DMA32=772917,Normal=5394266", "--min-free-kbytes", "67584", "--show",
            "zoneinfo",
        ])
        #expect(
            zones.text.contains("        min      14769\n        low      20163\n        high     25557\n"))
    }

    @Test(arguments: [
        (["--memory", "3bananas"], "vmsim: --memory: '3bananas' is not a size"),
        (["--zones", "DMA=999999"], "vmsim: --zones: zone DMA of 999999 pages is larger"),
        (["--zones", "Bogus=1"], "vmsim: --zones: unknown zone 'Bogus'"),
        (
            ["--memory", "16MiB", "--kernel-image", "15MiB"],
            "vmsim: --memory: 16 MiB is smaller than the kernel image"
        ),
        (["--arch", "mips"], "vmsim: --arch: unknown architecture 'mips'"),
        (["--show", "meminfo,bogus"], "vmsim: --show: unknown report 'bogus'"),
        (["--watermark-scale-factor", "0"], "vmsim: --watermark-scale-factor: expected 1…3000"),
        (["--memory"], "vmsim: Missing value for '--memory <memory>'"),
        (["--frobnicate"], "vmsim: Unknown option '--frobnicate'"),
        (["/nonexistent/scenario.vmsim"], "vmsim: /nonexistent/scenario.vmsim: cannot open the file"),
    ])
    func badInputGivesOneLineAndStatusTwo(args: [String], prefix: String) {
        let (message, status) = runCommand(args)
        #expect(status == 2)
        #expect(message.hasPrefix(prefix), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test func scenarioErrorsNameFileLineAndColumnAndRunNothing() {
        let file = scenarioFile(
            "spawn web\nweb: mmap buf 4MiB anon private rw\nweb: write buf[8MiB] value=1\n", name: "bad.vmsim"
        )
        let (message, status) = runCommand([file])
        #expect(status == 2)
        #expect(message.hasPrefix("vmsim: \(file):3:"), "\(message)")
        #expect(message.contains("outside buf"))
    }

    @Test func failedExpectationsExitOne() {
        let file = scenarioFile(
            "spawn web\nweb: mmap buf 1MiB anon private rw\nweb: write buf\nexpect web.minflt == 1\n")
        let (text, status) = runCommand([file])
        #expect(status == 1)
        #expect(text.contains("expectation failed: expect web.minflt == 1 — web.minflt is 257"))
        #expect(text.contains("0 expectations passed, 1 failed"))
    }

    @Test func refusedOperationsExitOne() {
        let file = scenarioFile("spawn web\nweb: munmap 0x7000000\nweb: write heap\n")
        let (text, status) = runCommand([file])
        #expect(status == 1)
        #expect(text.contains("\(file):3: web: write heap: heap is not mapped"), "\(text)")
        #expect(text.contains("1 operation refused"), "\(text)")
    }

    @Test func anExitCodeKeepsItsStatusAndAddsNoMessage() {
        let (message, status) = VMSimCommand.report(for: ExitCode(1))
        #expect(status == 1)
        #expect(message.isEmpty)
    }

    @Test func anEmptyScenarioFromADeviceBootsTheMachine() {
        let (text, status) = runCommand(["/dev/null", "--show", "buddyinfo"])
        #expect(status == 0)
        #expect(text.contains("Node 0, zone    DMA32"), "\(text)")
        #expect(text.contains("/dev/null: 0 expectations passed, 0 failed"))
    }

    @Test func traceShowsKernelEvents() {
        let file = scenarioFile(
            "spawn web\nweb: mmap buf 8KiB anon private rw\nweb: read buf[0]\nweb: write buf[0]\n")
        let (text, _) = runCommand([file, "--trace"])
        #expect(text.contains("[trace] fault pid=3 read 0x"))
        #expect(text.contains("do_anonymous_page: map the zero page"))
        #expect(text.contains("do_wp_page: copy"))
    }

    @Test func jsonOutputIsOneObjectWithProcessesAndCounters() throws {
        let file = scenarioFile("spawn web\nweb: mmap buf 1MiB anon private rw\nweb: write buf\n")
        let (text, status) = runCommand([file, "--json"])
        #expect(status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let processes = try #require(object["processes"] as? [[String: Any]])
        let web = try #require(processes.first { $0["name"] as? String == "web" })
        #expect(web["minflt"] as? Int == 257)
        #expect((object["machine"] as? [String: Any])?["meminfo"] != nil)
    }
}

@Suite struct TraceArgumentTests {
    @Test func traceListsAreRewrittenOnlyWhenTheyAreLists() {
        #expect(
            VMSimCommand.rewritingTraceLists(["run", "--trace", "fault,reclaim", "x.vmsim"])
                == ["run", "--trace", "--trace-only", "fault,reclaim", "x.vmsim"])
        #expect(
            VMSimCommand.rewritingTraceLists(["run", "--trace=cow"]) == [
                "run", "--trace", "--trace-only", "cow",
            ])
        #expect(
            VMSimCommand.rewritingTraceLists(["run", "--trace", "x.vmsim"]) == ["run", "--trace", "x.vmsim"])
        #expect(VMSimCommand.rewritingTraceLists(["run", "--trace"]) == ["run", "--trace"])
    }

    @Test func eventsFileIsWrittenWholeAndUnknownCategoriesAreErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vmsim-ev-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let events = dir.appendingPathComponent("e.jsonl").path
        let file = scenarioFile("spawn a\na: mmap m 8KiB\na: write m\n")
        let (_, status) = runCommand([file, "--quiet", "--events", events])
        #expect(status == 0)
        let lines = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines.last?.contains("\"line\":3") == true)
        #expect(!FileManager.default.fileExists(atPath: events + ".tmp"))
        let bad = runCommand([file, "--trace", "--trace-only", "fault,nope"])
        #expect(bad.status == 2 && bad.text.contains("unknown category 'nope'"))
    }
}

@Suite struct TimelineTests {
    static let scenario = """
        machine memory=64MiB swap=128MiB
        spawn app
        app: mmap ws 96MiB
        app: write ws[0:32MiB] value=1
        app: write ws[0:80MiB] value=2
        app: read ws[0:80MiB]
        """

    /// Every sample in the CSV, with the columns the header names, accesses and time never
    /// going back, and the major faults of the thrashing pass showing.
    @Test func csvTimelineHasEverySampleInOrder() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("t.csv").path
        let (_, status) = runCommand([
            scenarioFile(Self.scenario), "--quiet", "--timeline", path, "--interval", "1024",
        ])
        #expect(status == 0)
        let rows = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let header = try #require(rows.first)
        #expect(header.prefix(3) == ["accesses", "time_ns", "line"])
        #expect(
            header.contains("app_anon_kb") && header.contains("free_DMA32_kb")
                && header.contains("pgmajfault"))
        #expect(rows.count > 50)
        var last = (0, 0)
        for row in rows.dropFirst() {
            #expect(row.count == header.count)
            let (a, t) = (Int(row[0]) ?? -1, Int(row[1]) ?? -1)
            #expect(a >= last.0 && t >= last.1)
            last = (a, t)
        }
        let major = header.firstIndex(of: "pgmajfault")!
        #expect(Int(rows.last![major])! > 1000)
    }

    @Test func svgTimelineIsXMLWithItsPanelsAndAxes() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("t.svg").path
        let (_, status) = runCommand([scenarioFile(Self.scenario), "--quiet", "--timeline", path])
        #expect(status == 0)
        let data = try #require(FileManager.default.contents(atPath: path))
        let parser = XMLParser(data: data)
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        let text = String(decoding: data, as: UTF8.self)
        for title in ["Memory", "Page faults", "Swap traffic", "user accesses", "app RSS", "major faults"] {
            #expect(text.contains(">\(title)<"), "\(title)")
        }
        #expect(text.components(separatedBy: "class=\"x-axis\"").count == 4)
        #expect(text.components(separatedBy: "class=\"y-axis\"").count == 4)
        let bad = runCommand([scenarioFile(Self.scenario), "--timeline", "/tmp/x.png"])
        #expect(bad.status == 2)
    }
}
