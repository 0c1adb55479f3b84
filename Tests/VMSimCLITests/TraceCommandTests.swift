import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The `vmsim` executable `swift test` built next to the tests.
let vmsimExecutable: URL = {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("vmsim")
    if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/vmsim")
}()

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Runs the `vmsim` executable: standard output, standard error, exit status.
func vmsim(_ args: [String]) throws -> (out: String, err: String, status: Int32) {
    let process = Process()
    process.executableURL = vmsimExecutable
    process.arguments = args
    process.currentDirectoryURL = repositoryRoot
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes before waiting, so a large output cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self),
        process.terminationStatus
    )
}

/// A fresh temporary directory.
func temporaryDirectory() -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
        "vmsim-trace-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// The fields of a flat JSON object.
func jsonFields(_ text: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

@Suite struct TraceCommandTests {
    /// Belady's anomaly through the command line: FIFO misses 9 times with 3 frames, 10 with 4.
    @Test func replayPrintsTheCountsAndJSON() throws {
        let dir = temporaryDirectory()
        let trace = dir.appendingPathComponent("belady.txt").path
        try "1\n2\n3\n4\n1\n2\n5\n1\n2\n3\n4\n5\n".write(toFile: trace, atomically: true, encoding: .utf8)
        let text = try vmsim(["replay", trace, "--frames", "3", "--policy", "fifo"])
        #expect(text.status == 0 && text.err.isEmpty)
        #expect(text.out.contains("misses     9 (miss ratio 0.7500)"))
        #expect(text.out.contains("evictions  6 (0 dirty)"))
        let json = try vmsim(["replay", trace, "--frames", "4", "--policy", "fifo", "--json"])
        #expect(json.status == 0)
        let fields = try jsonFields(json.out)
        #expect(fields["accesses"] as? Int == 12)
        #expect(fields["hits"] as? Int == 2)
        #expect(fields["misses"] as? Int == 10)
        #expect(fields["evictions"] as? Int == 6)
        #expect((fields["missRatio"] as? Double).map { abs($0 - 10.0 / 12) < 1e-6 } == true)
        // Frames as a share of the distinct pages: 60% of 5 = 3.
        let share = try jsonFields(
            try vmsim(["replay", trace, "--frames", "60%", "--policy", "fifo", "--json"]).out)
        #expect(share["frames"] as? Int == 3 && share["misses"] as? Int == 9)
    }

    /// A malformed line stops the replay with file:line:column and nothing on standard output;
    /// `--skip-bad` counts it and reports the first.
    @Test func malformedTracesFailWithTheirPlace() throws {
        let dir = temporaryDirectory()
        let trace = dir.appendingPathComponent("bad.lackey").path
        try "I  0400d7d4,8\n L 1ffefffb80,8\n S zz,8\n".write(
            toFile: trace, atomically: true, encoding: .utf8)
        let failed = try vmsim(["replay", trace, "--frames", "2"])
        #expect(failed.status != 0)
        #expect(failed.out.isEmpty)
        #expect(failed.err == "vmsim: \(trace):3:4: expected a hex address, found 'zz,8'\n")
        let skipped = try vmsim(["replay", trace, "--frames", "2", "--skip-bad", "--json"])
        #expect(skipped.status == 0)
        let fields = try jsonFields(skipped.out)
        #expect(fields["badLines"] as? Int == 1 && fields["accesses"] as? Int == 2)
        let unknown = try vmsim(["replay", trace, "--frames", "2", "--policy", "bogus"])
        #expect(
            unknown.status != 0
                && unknown.err.hasPrefix("vmsim: --policy: unknown policy 'bogus' (expected fifo"))
        let missing = try vmsim(["replay", dir.appendingPathComponent("nope.txt").path, "--frames", "2"])
        #expect(missing.status != 0 && missing.out.isEmpty && missing.err.contains("nope.txt"))
    }

    /// trace-gen writes a trace every command reads; compare's CSV has one row per policy and
    /// size, agreeing with replay; mrc's exact LRU column agrees with replay at every size; the
    /// SVG has the curves.
    @Test func generateCompareAndCurve() throws {
        let dir = temporaryDirectory()
        let trace = dir.appendingPathComponent("zipf.lackey").path
        let gen = try vmsim([
            "trace-gen", "--pattern", "zipf", "--length", "20000", "--pages", "500", "--write-ratio", "0.25",
            "--seed", "3", "--format", "lackey", "-o", trace,
        ])
        #expect(gen.status == 0)
        let csv = try vmsim(["compare", trace, "--policies", "lru,arc,opt", "--frames", "10%,50", "--csv"])
        #expect(csv.status == 0)
        let rows = csv.out.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        #expect(
            rows.first == [
                "policy", "frames", "accesses", "hits", "misses", "missRatio", "evictions", "dirtyEvictions",
            ])
        #expect(rows.count == 1 + 3 * 2)
        let lru50 = try #require(rows.first { $0[0] == "lru" && $0[1] == "50" })
        let replay = try jsonFields(
            try vmsim(["replay", trace, "--frames", "50", "--policy", "lru", "--json"]).out)
        #expect(Int(lru50[4]) == replay["misses"] as? Int)
        #expect(Int(lru50[7]) == replay["dirtyEvictions"] as? Int)
        let opt50 = try #require(rows.first { $0[0] == "opt" && $0[1] == "50" })
        #expect(Int(opt50[4])! <= Int(lru50[4])!)

        let svg = dir.appendingPathComponent("mrc.svg").path
        let mrc = try vmsim(["mrc", trace, "--csv", "-", "--svg", svg, "--policies", "fifo"])
        #expect(mrc.status == 0)
        let curve = mrc.out.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        #expect(curve.first == ["policy", "frames", "miss_ratio"])
        for size in ["7", "50", "200"] {
            let exact = try #require(
                curve.first { $0[0] == "lru" && $0[1] == size }, "no row for \(size) frames")
            let r = try jsonFields(
                try vmsim(["replay", trace, "--frames", size, "--policy", "lru", "--json"]).out)
            #expect(abs(Double(exact[2])! - (r["missRatio"] as! Double)) < 1e-6, "\(size) frames")
        }
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(picture.hasPrefix("<svg") && picture.contains("LRU (exact)") && picture.contains("FIFO"))
    }

    /// The same trace and seed give byte-identical output.
    @Test func outputIsDeterministic() throws {
        let dir = temporaryDirectory()
        let trace = dir.appendingPathComponent("u.txt").path
        _ = try vmsim([
            "trace-gen", "--pattern", "uniform", "--length", "5000", "--pages", "300", "-o", trace,
        ])
        let args = [
            "compare", trace, "--policies", "random,lru,s3fifo", "--frames", "5%,20%", "--seed", "9",
            "--json",
        ]
        let first = try vmsim(args)
        #expect(first.status == 0 && !first.out.isEmpty)
        #expect(try vmsim(args).out == first.out)
    }

    /// Kernel mode on the committed trace of touch.c: one minor fault per page it touches; with
    /// a policy the report names it.
    @Test func kernelModeReplaysARealProgram() throws {
        let r = try vmsim(["replay", "examples/traces/touch.lackey", "--kernel", "--json"])
        #expect(r.status == 0)
        let fields = try jsonFields(r.out)
        #expect(fields["faults"] as? Int == 65 && fields["majorFaults"] as? Int == 0)
        #expect(fields["policy"] as? String == "linux")
        let text = try vmsim([
            "replay", "examples/traces/touch.lackey", "--kernel", "--policy", "clock", "--maps",
            "examples/traces/touch.maps", "--no-instructions", "--show", "meminfo",
        ])
        #expect(text.status == 0)
        #expect(text.out.contains("faults     64 (64 minor, 0 major)"))
        #expect(text.out.contains("policy     clock chooses the anonymous pages reclaim takes"))
        #expect(text.out.contains("MemTotal:"))
        let wrong = try vmsim(["replay", "examples/traces/touch.lackey", "--frames", "4", "--kernel"])
        #expect(wrong.status != 0 && wrong.err.contains("--frames is for policy mode"))
    }

    /// The committed .gz and .zst copies of touch.lackey replay exactly like the plain trace,
    /// in policy mode, kernel mode, compare and mrc.
    @Test func compressedTracesGiveIdenticalResults() throws {
        let base = "examples/traces/touch.lackey"
        let commands: [[String]] = [
            ["replay", "TRACE", "--frames", "16", "--policy", "lru", "--json"],
            ["replay", "TRACE", "--kernel", "--json"],
            ["compare", "TRACE", "--policies", "lru,arc,opt", "--frames", "10%,50%", "--csv"],
            ["mrc", "TRACE", "--csv", "-", "--policies", "fifo"],
        ]
        for command in commands {
            let plain = try vmsim(command.map { $0 == "TRACE" ? base : $0 })
            #expect(plain.status == 0, "\(command)")
            for suffix in [".gz", ".zst"] {
                let packed = try vmsim(command.map { $0 == "TRACE" ? base + suffix : $0 })
                #expect(packed.status == 0 && packed.err.isEmpty, "\(command) \(suffix): \(packed.err)")
                #expect(
                    packed.out.replacingOccurrences(of: base + suffix, with: base) == plain.out,
                    "\(command) \(suffix)")
            }
        }
    }

    /// --format that contradicts the content, and binary data that is no trace, are refused.
    @Test func contradictingFormatsAreRefused() throws {
        let csv = try vmsim(["replay", "examples/traces/touch.lackey.gz", "--format", "csv", "--frames", "4"])
        #expect(csv.status == 2)
        #expect(csv.err.contains("--format csv contradicts the content: it looks like lackey"))
        let binary = try vmsim([
            "replay", "examples/traces/touch.c", "--frames", "4", "--format", "oracleGeneral",
        ])
        #expect(binary.status == 2 && binary.err.contains("--format oracleGeneral contradicts the content"))
    }

    /// Kernel mode warns when a trace has no writes (every page would be the zero page), and
    /// --first-touch write turns each page's first access into a store.
    @Test func kernelModeWarnsOfTracesWithoutWrites() throws {
        let dir = temporaryDirectory()
        let trace = dir.appendingPathComponent("u.txt").path
        let gen = try vmsim([
            "trace-gen", "--pattern", "uniform", "--length", "5000", "--pages", "2000", "-o", trace,
        ])
        #expect(gen.status == 0)
        let plain = try vmsim(["replay", trace, "--kernel", "--json"])
        #expect(plain.status == 0)
        #expect(plain.err.contains("has no writes: every page it touches maps the shared zero page"))
        #expect(plain.err.contains("--first-touch write"))
        let zero = try jsonFields(plain.out)
        #expect(zero["stores"] as? Int == 0)
        let touched = try vmsim(["replay", trace, "--kernel", "--json", "--first-touch", "write"])
        #expect(touched.status == 0 && touched.err.isEmpty)
        let fields = try jsonFields(touched.out)
        let pages = try #require(fields["distinctPages"] as? Int)
        #expect(pages > 1000)
        #expect(fields["stores"] as? Int == pages && fields["firstTouchStores"] as? Int == pages)
        let text = try vmsim(["replay", trace, "--kernel", "--first-touch", "write"])
        #expect(text.out.contains("VmRSS:\t    \(pages * 4) kB"))
        let lackey = try vmsim(["replay", "examples/traces/touch.lackey", "--kernel"])
        #expect(lackey.err.isEmpty)
        let policyMode = try vmsim(["replay", trace, "--frames", "4", "--first-touch", "write"])
        #expect(policyMode.status == 2 && policyMode.err.contains("--first-touch needs --kernel"))
        let bad = try vmsim(["replay", trace, "--kernel", "--first-touch", "read"])
        #expect(bad.status == 2 && bad.err.contains("--first-touch: expected write or trace"))
    }

    /// A kernel-mode replay streams a trace file (read twice) and holds one from standard input
    /// in memory (read once): the report is the same, byte for byte, and a process killed early
    /// in a streamed replay ends the reading cleanly (exit 1 with the outcome).
    @Test func kernelModeStreamsFilesAndHoldsStandardInput() throws {
        let trace = "examples/traces/touch.lackey"
        let args = [
            "--kernel", "--memory", "16MiB", "--cgroup-max", "128KiB", "--swap", "1MiB", "--policy", "lru",
        ]
        let file = try vmsim(["replay", trace] + args)
        #expect(file.status == 0)
        let process = Process()
        process.executableURL = vmsimExecutable
        process.arguments = ["replay", "-"] + args
        process.currentDirectoryURL = repositoryRoot
        process.standardInput = FileHandle(
            forReadingAtPath: repositoryRoot.appendingPathComponent(trace).path)
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(
            String(decoding: data, as: UTF8.self).replacingOccurrences(
                of: "replay of - ", with: "replay of \(trace) ")
                == file.out)
        #expect(file.out.contains("reclaim    ") && !file.out.contains("reclaim    0 pages"))
        // One small area from a maps file: the first access outside it is a segfault.
        let maps = temporaryDirectory().appendingPathComponent("tiny.maps").path
        try "00400000-00401000 r-xp 00000000 00:00 0 /bin/x\n".write(
            toFile: maps, atomically: true, encoding: .utf8)
        for t in [trace, trace + ".gz", trace + ".zst"] {
            let killed = try vmsim(["replay", t, "--kernel", "--maps", maps])
            #expect(killed.status == 1)
            #expect(killed.out.contains("outcome    killed by SIGSEGV"))
        }
    }

    /// compare's table notes the policies whose tiny-cache rule makes them cache nothing, with the rule.
    @Test func compareNotesTinyCacheRules() throws {
        let r = try vmsim([
            "compare", "examples/traces/touch.lackey", "--policies", "lru,lirs,s3fifo,twoq", "--frames",
            "1,3,30",
        ])
        #expect(r.status == 0)
        #expect(r.out.contains("note: lirs at 1 frame: lirs caches nothing with 1 frame"))
        #expect(r.out.contains("note: s3fifo at 1, 3 frames: s3fifo caches nothing below 20 frames"))
        #expect(r.out.contains("note: twoq at 1, 3 frames: twoq caches nothing below 4 frames"))
        #expect(!r.out.contains("note: lru"))
    }

    /// mrc's CSV has every simulated point of every policy, and exact LRU at every size; the
    /// SVG parses and --log-x labels its axis.
    @Test func mrcCSVHasEveryPoint() throws {
        let dir = temporaryDirectory()
        let svg = dir.appendingPathComponent("m.svg").path
        let r = try vmsim([
            "mrc", "examples/traces/touch.lackey.zst", "--csv", "-", "--svg", svg, "--log-x", "--policies",
            "s3fifo,opt", "--points", "13",
        ])
        #expect(r.status == 0)
        let rows = r.out.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        #expect(rows.filter { $0[0] == "lru" }.map { Int($0[1])! } == Array(1...65))
        let s3 = rows.filter { $0[0] == "s3fifo" }.map { Int($0[1])! }
        #expect(s3.count == 13 && s3 == rows.filter { $0[0] == "opt" }.map { Int($0[1])! })
        #expect(rows.allSatisfy { $0.count == 3 && Double($0[2]) != nil })
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(picture.contains("memory size (frames) (log scale)") && picture.contains("id=\"x-axis\""))
    }

    /// A misspelt option is reported as unknown, not as a missing one of the mode it was meant
    /// for.
    @Test func aMisspeltOptionIsUnknown() throws {
        let r = try vmsim(["replay", "examples/traces/touch.lackey", "--polcy", "lru"])
        #expect(r.status == 2)
        #expect(r.err.contains("Unknown option '--polcy'"), "\(r.err)")
        #expect(!r.err.contains("needs --frames"))
        let modes = try vmsim(["replay", "examples/traces/touch.lackey", "--policy", "lru"])
        #expect(modes.status == 2 && modes.err.contains("policy mode needs --frames"))
    }

    /// Policy replay's timeline: one row per window of --interval accesses, accesses rising by
    /// the window, the windows' misses adding up to the replay's; the SVG parses.
    @Test func policyReplayTimeline() throws {
        let dir = temporaryDirectory()
        let csv = dir.appendingPathComponent("t.csv").path
        let r = try vmsim([
            "replay", "examples/traces/touch.lackey", "--frames", "16", "--timeline", csv, "--interval",
            "1000",
            "--json",
        ])
        #expect(r.status == 0)
        let misses = try #require(jsonFields(r.out)["misses"] as? Int)
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(
            lines[0] == "accesses,window,misses,miss_ratio,cumulative_miss_ratio,evictions,dirty_evictions")
        let rows = lines.dropFirst().map { $0.split(separator: ",").map { Double($0)! } }
        #expect(rows.count == 22)  // 21256 accesses: 21 windows of 1000 and one of 256
        #expect(rows.map { Int($0[0]) } == Array(stride(from: 1000, through: 21000, by: 1000)) + [21256])
        #expect(rows.reduce(0) { $0 + Int($1[2]) } == misses)
        #expect(abs(rows.last![4] - Double(misses) / 21256) < 1e-6)
        // Streamed (a frame count) and in memory (a share of the pages) give the same windows.
        let dense = dir.appendingPathComponent("d.csv").path
        _ = try vmsim([
            "replay", "examples/traces/touch.lackey", "--frames", "16", "--timeline", dense, "--interval",
            "1000", "--policy", "opt",
        ])
        let share = dir.appendingPathComponent("s.csv").path
        _ = try vmsim([
            "replay", "examples/traces/touch.lackey", "--frames", "25%", "--timeline", share, "--interval",
            "1000", "--policy", "opt",
        ])
        #expect(
            try String(contentsOfFile: dense, encoding: .utf8)
                == String(contentsOfFile: share, encoding: .utf8))
        let svg = dir.appendingPathComponent("t.svg").path
        #expect(
            try vmsim(["replay", "examples/traces/touch.lackey", "--frames", "16", "--timeline", svg]).status
                == 0)
        let parser = XMLParser(data: try #require(FileManager.default.contents(atPath: svg)))
        #expect(parser.parse())
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(picture.contains(">Miss ratio<") && picture.contains(">per window<"))
        #expect(picture.components(separatedBy: "class=\"y-axis\"").count == 3)
    }

    /// Kernel replay's timeline: the process's RSS and the fault counters every --interval
    /// accesses, ending with the replay's fault count.
    @Test func kernelReplayTimeline() throws {
        let dir = temporaryDirectory()
        let csv = dir.appendingPathComponent("k.csv").path
        let r = try vmsim([
            "replay", "examples/traces/touch.lackey", "--kernel", "--timeline", csv, "--interval", "4096",
            "--json",
        ])
        #expect(r.status == 0)
        let faults = try #require(jsonFields(r.out)["faults"] as? Int)
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(header.starts(with: ["accesses", "time_ns", "line", "trace_anon_kb"]))
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let accesses = rows.map { Int($0[0])! }
        #expect(accesses == [0, 4096, 8192, 12288, 16384, 20480, 21256])
        let fault = header.firstIndex(of: "pgfault")!
        #expect(Int(rows.last![fault])! == faults)
        #expect(Int(rows.last![header.firstIndex(of: "trace_anon_kb")!])! > 0)
        let svg = dir.appendingPathComponent("k.svg").path
        #expect(
            try vmsim(["replay", "examples/traces/touch.lackey", "--kernel", "--timeline", svg]).status == 0)
        #expect(XMLParser(data: try #require(FileManager.default.contents(atPath: svg))).parse())
    }
}
