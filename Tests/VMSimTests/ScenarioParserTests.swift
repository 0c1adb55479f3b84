import Testing
import VMCore

@testable import VMSim

@Suite struct ScenarioParserTests {
    @Test(arguments: [
        ("bogus thing", "s.vmsim:1:1: unknown command 'bogus'"),
        ("web: read buf", "s.vmsim:1:1: unknown process 'web' (none is running"),
        ("spawn web\nweb: mmap buf 3bananas anon", "s.vmsim:2:16: '3bananas' is not a size"),
        ("spawn web\nweb: read nope", "s.vmsim:2:11: web has no region 'nope'"),
        (
            "spawn web\nweb: mmap buf 1MiB anon private rw\nweb: write buf[0:2MiB]",
            "s.vmsim:3:16: range 0:2MiB is outside buf (1 MiB)"
        ),
        (
            "spawn web\nweb: mmap buf 1MiB anon private rw\nweb: write buf[4MiB]",
            "s.vmsim:3:16: range 4MiB is outside buf"
        ),
        ("spawn web\nweb: mprotect text rwz", "s.vmsim:2:20: 'rwz' is not a protection"),
        ("spawn web\nweb: madvise text sideways", "s.vmsim:2:19: unknown advice 'sideways'"),
        ("spawn web\nspawn web", "s.vmsim:2:7: a process named 'web' is already running"),
        ("spawn web\nweb: exit\nweb: read text", "s.vmsim:3:1: unknown process 'web'"),
        ("spawn web\nweb read text", "s.vmsim:2:1: missing ':' after the process name 'web'"),
        ("spawn web\nexpect web.frobs == 1", "s.vmsim:2:12: unknown field 'frobs'"),
        ("spawn web\nexpect web.rss ~ 1", "s.vmsim:2:16: '~' is not a comparison"),
        ("spawn web\nmachine memory=1GiB", "s.vmsim:2:1: 'machine' must be the first command"),
        ("machine memory=1GiB colour=blue", "s.vmsim:1:21: unknown machine setting 'colour'"),
        ("spawn web\nweb: mmap buf 1MiB anon sideways", "s.vmsim:2:25: unexpected 'sideways'"),
        (
            "spawn web\nweb: write text[0] expect doom",
            "s.vmsim:2:27: expected 'segv', 'sigbus' or 'oom' after 'expect'"
        ),
        ("spawn web\nshow web mapz", "s.vmsim:2:10: unknown report 'mapz'"),
        ("spawn web\nweb: fork", "s.vmsim:2:10: expected the child's name"),
        (
            "spawn web\nweb: mmap buf 1MiB anon private rw\nweb: mmap buf 1MiB anon private rw",
            "s.vmsim:3:11: web already has a region 'buf'"
        ),
        ("file data/db size=1p", "s.vmsim:1:6: 'data/db' is not an absolute path"),
        ("file /data/db", "s.vmsim:1:14: expected size=SIZE"),
        ("file /data/../db size=1p", "s.vmsim:1:6: '/data/../db': path components must be names"),
        ("spawn web\nweb: fread /d[8KiB:4KiB]", "s.vmsim:2:20: range end must be after its start"),
        ("spawn web\nweb: fadvise /d soon", "s.vmsim:2:17: unknown advice 'soon'"),
        ("spawn web\nweb: shm seg", "s.vmsim:2:13: expected a size after the region name"),
        ("spawn web\nweb: shm seg 1p key=-3", "s.vmsim:2:21: '-3' is not a key"),
        ("spawn web\nweb: shmdt seg", "s.vmsim:2:12: web has no region 'seg'"),
        ("spawn web\nweb: msync text later", "s.vmsim:2:17: expected 'sync' or 'async'"),
        ("drop caches 4", "s.vmsim:1:13: expected 1 (page cache), 2 (dentries and inodes) or 3 (both)"),
        ("drop everything", "s.vmsim:1:1: expected 'drop caches [1|2|3]'"),
        ("tick soon", "s.vmsim:1:6: 'soon' is not a duration"),
        ("sysctl vm.turbo=1", "s.vmsim:1:8: unknown sysctl 'vm.turbo'"),
        ("expect /d:colour == 1", "s.vmsim:1:11: unknown file field 'colour'"),
        ("expect disk.speed == 1", "s.vmsim:1:13: unknown disk field 'speed'"),
        ("truncate /d", "s.vmsim:1:9: expected 'truncate PATH SIZE'"),
        ("shmrm key=0", "s.vmsim:1:6: expected 'shmrm key=KEY'"),
        ("spawn disk", "s.vmsim:1:7: 'disk' is not a process name"),
        ("swapon /swapfile", "s.vmsim:1:17: expected size=SIZE"),
        ("swapon /s size=1MiB priority=-40000", "s.vmsim:1:30: '-40000' is not a priority"),
        ("swapon /s size=1MiB floppy", "s.vmsim:1:21: unexpected 'floppy'"),
        ("swapoff", "s.vmsim:1:8: expected 'swapoff PATH'"),
        ("spawn web\nweb: oom_score_adj 2000", "s.vmsim:2:20: expected a value from -1000 to 1000"),
    ])
    func errorsNameFileLineAndColumn(text: String, prefix: String) {
        let message = parseError(text)
        #expect(message.hasPrefix(prefix), "\(message)")
    }

    @Test func aScenarioWithAnErrorRunsNothing() {
        // The error is on the last line; nothing before it may have run.
        #expect(throws: ScenarioError.self) {
            try ScenarioParser.parse(
                "spawn web\nweb: mmap buf 1MiB anon private rw\nweb: write buf\nweb: frobnicate\n", file: "s")
        }
    }

    /// A line that fails leaves the static picture as it was: the changes it made before the
    /// error (a region named, a process started or ended) are undone from the journal, since
    /// the picture is changed in place rather than copied for every line.
    @Test func aBadLineLeavesThePictureAsItWas() throws {
        func picture(_ c: ParseContext) -> [String: [String: UInt64]] { c.processes.mapValues(\.regions) }
        var parser = ScenarioParser(file: "s")
        for line in ["spawn web", "web: mmap buf 1MiB", "web: mmap old 2p", "spawn db"] {
            _ = try parser.parseLine(line, number: 1)
        }
        let before = picture(parser.context)
        let seen = parser.context.everSeen
        for bad in [
            "web: mmap new 1MiB bogus=1", "web: fork child frobnicate", "spawn cache text=1.5",
            "web: munmap old extra", "web: exit 256", "db: shm seg 1MiB key=x",
        ] {
            #expect(throws: ScenarioError.self) { try parser.parseLine(bad, number: 2) }
            #expect(picture(parser.context) == before, "\(bad)")
            #expect(parser.context.everSeen == seen, "\(bad)")
        }
        // The journal itself: every kind of change, undone newest first.
        var context = parser.context
        context.beginLine()
        context.process = "web"
        context.setRegion("buf", size: nil)
        context.setRegion("fresh", size: 4096)
        context.startProcess("child", regions: ["x": 1])
        context.endProcess("db")
        context.endProcess("web")
        context.rollBack()
        #expect(picture(context) == before)
        #expect(context.everSeen == seen)
        #expect(context.process == nil)
        // A good line after bad ones still sees everything.
        _ = try parser.parseLine("web: munmap old", number: 3)
        #expect(parser.context.processes["web"]?.regions["old"] == nil)
        #expect(parser.context.processes["web"]?.regions["buf"] == 1 << 20)
    }

    @Test func commentsBlankLinesAndRangesParse() throws {
        let s = try ScenarioParser.parse(
            """
            # a comment
            machine memory=256MiB arch=x86_64

            spawn web text=1MiB data=64KiB bss=256KiB   # trailing comment
            web: mmap buf 1024p anon private rw at=0x7f0000000000
            web: write buf[0:4MiB] value=7 stride=1p
            web: read buf[8KiB]
            web: read 0x7f0000001000
            expect web.rss >= 4MiB
            show meminfo | web maps | web pagemap buf[0:8KiB]
            """, file: "s")
        #expect(s.statements.count == 8)
        let write = try #require(s.statements[3].command as? AccessCommand)
        #expect(write.access == .write && write.expectSignal == nil)
        #expect(write.ref.region == "buf" && write.ref.start == 0 && write.ref.end == 4 << 20)
        #expect(write.stride == 4096 && write.value == 7)
        let show = try #require(s.statements[7].command as? ShowCommand)
        #expect(show.items.count == 3)
    }

    @Test func theShippedDemoFileIsTheBuiltInDemo() throws {
        let url = Golden.directory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("examples/demo.vmsim")
        #expect(try String(contentsOf: url, encoding: .utf8) == DemoScenario.text)
    }
}

@Suite struct DemoTests {
    @Test func theDemoPassesAndItsReportsMatchTheirGoldenFiles() throws {
        let runner = try #require(expectScenario(DemoScenario.text))
        let web = try #require(runner.processes["web"])
        Golden.check(ProcFS.maps(runner.kernel, web), "demo/web-maps")
        Golden.check(ProcFS.smaps(runner.kernel, web), "demo/web-smaps")
        Golden.check(ProcFS.status(runner.kernel, web), "demo/web-status")
        Golden.check(ProcFS.meminfo(runner.kernel), "demo/meminfo")
    }

    /// The file-heavy example: its expectations hold and its meminfo and smaps are the golden ones.
    @Test func theFilesExampleMatchesItsGoldenFiles() throws {
        let url = Golden.directory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("examples/files.vmsim")
        let runner = try #require(expectScenario(try String(contentsOf: url, encoding: .utf8)))
        let db = try #require(runner.processes["db"])
        Golden.check(ProcFS.smaps(runner.kernel, db), "files/db-smaps")
        Golden.check(ProcFS.meminfo(runner.kernel), "files/meminfo")
        Golden.check(ProcFS.pageCache(runner.kernel), "files/pagecache")
    }

    /// Narrated twice: every effect (faults by handler, reclaim, swap, times) byte-identical.
    @Test func theDemoIsDeterministic() throws {
        func narrated() throws -> String {
            var out = ""
            let scenario = try ScenarioParser.parse(DemoScenario.text, file: "demo")
            let runner = try ScenarioRunner(scenario: scenario) { out += $0 + "\n" }
            runner.narrator = Narrator(source: DemoScenario.text)
            runner.run(scenario)
            runner.finishNarration()
            return out
        }
        let a = try narrated()
        #expect(a == (try narrated()))
        #expect(a.count > 5000)
        #expect(a.contains("→ ✓ 256"))
    }

    @Test func mapsLinesPadTheNameToColumn73() {
        let line = ProcFS.mapsLine(
            start: 0x7f2c_6a9d_5000, end: 0x7f2c_6a9f_7000, perms: "r--p", offset: 0, dev: "08:01",
            inode: 2_490_412, name: "/usr/lib/libc.so.6", is64: true)
        #expect(
            line
                == "7f2c6a9d5000-7f2c6a9f7000 r--p 00000000 08:01 2490412                    /usr/lib/libc.so.6"
        )
        #expect(line.firstIndex(of: "/")!.utf16Offset(in: line) == 73)
        let anon = ProcFS.mapsLine(
            start: 0x1000, end: 0x2000, perms: "rw-p", offset: 0, dev: "00:00", inode: 0, name: nil,
            is64: false)
        #expect(anon == "00001000-00002000 rw-p 00000000 00:00 0 ")
    }
}

@Suite struct ShellSessionTests {
    @Test func linesRunAsTheyAreEnteredAndErrorsDoNotEndTheSession() throws {
        var output: [String] = []
        let shell = try ShellSession(overrides: [("memory", "256MiB")], trace: false) { output.append($0) }
        #expect(shell.handle("spawn web"))
        #expect(shell.handle("web: mmap buf 64KiB anon private rw"))
        #expect(shell.handle("web: write buf value=3"))
        #expect(shell.handle("web: frobnicate"))
        #expect(output.last?.hasPrefix("shell:4:6: unknown command 'frobnicate'") == true)
        #expect(shell.handle("expect web.minflt == 17"))
        #expect(shell.runner.expectationsPassed == 1)
        #expect(shell.handle("help"))
        #expect(output.last?.contains("translate NAME REF") == true)
        #expect(shell.handle("history"))
        #expect(output.last?.contains("expect web.minflt == 17") == true)
        #expect(!shell.handle("quit"))
    }
}
