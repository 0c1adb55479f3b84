import Foundation
import Testing
import VMHost
import VMSim

/// Scenarios run in the simulation and on this machine's real kernel (`--on-host --like-host`):
/// one per mechanism, and the examples' host-runnable parts. They must agree. On a host that
/// cannot run them (not Linux, no helper) each test says why it did not run; on Linux with the
/// helper built (CI's Linux 6.18, as root) none of them skips.
@Suite(.serialized) struct HostComparisonTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The helper, or why the host suite cannot run here (printed, and the test records an issue
    /// unless the host is not Linux).
    static func helper() -> String? {
        #if os(Linux)
            guard let h = HostHelperLocation.find() else {
                Issue.record("vmsim-host-helper was not built next to the test bundle")
                return nil
            }
            guard FileManager.default.isReadableFile(atPath: "/proc/self/pagemap") else {
                Issue.record("/proc/self/pagemap is not readable")
                return nil
            }
            return h
        #else
            print("skipped: the host executor needs Linux")
            return nil
        #endif
    }

    static func compare(_ text: String, name: String, repeats: Int = 1) throws -> HostComparison? {
        guard let helper = Self.helper() else { return nil }
        let scenario = try ScenarioParser.parse(text, file: name)
        return try HostComparison.run(
            scenario, file: name, likeHost: HostSettings.read(blockDeviceFor: NSTemporaryDirectory()),
            repeats: repeats, helper: helper)
    }

    /// Every compared line agrees except `known` (line numbers of disagreements between vmsim and
    /// the host that are real and reported, each explained where it is listed): those must differ,
    /// so a fix on either side shows here. The host runs three times and a simulated value agrees
    /// when it lies in the host's min..max: one host run now and then reads +8 KiB of RSS on a line
    /// that maps nothing (zeroPageThenWrite's zero-page read, seen in CI and in the full suite with
    /// smaps_rollup too, while the fault counts agree), so a single run made these tests flaky.
    static func expectAgreement(_ text: String, _ name: String, minimumCompared: Int, known: Set<Int> = [])
        throws
    {
        guard let c = try Self.compare(text, name: name, repeats: 3) else { return }
        let differing = Set(c.lines.filter { $0.compared && !$0.agrees }.map(\.line))
        #expect(differing == known, "\(c.text)")
        #expect(c.compared >= minimumCompared, "\(c.text)")
    }

    @Test func zeroPageThenWrite() throws {
        try Self.expectAgreement(
            """
            spawn p
            p: mmap buf 16p anon private rw
            p: read buf
            p: write buf value=3
            p: expect buf == 3
            expect p.minflt == 32
            """, "zero-page", minimumCompared: 4)
    }

    @Test func copyOnWriteAndReuseAfterExit() throws {
        let text = try String(contentsOfFile: Self.root + "/examples/cow.vmsim", encoding: .utf8)
        try Self.expectAgreement(text, "examples/cow.vmsim", minimumCompared: 10)
    }

    /// pagemap on the host: the child's read sees the parent's frames (shared, not exclusive),
    /// and after the child exits the parent's writes reuse the very same frames.
    @Test func frameIdentityAcrossCopyOnWrite() throws {
        let text = try String(contentsOfFile: Self.root + "/examples/cow.vmsim", encoding: .utf8)
        guard let c = try Self.compare(text, name: "examples/cow.vmsim") else { return }
        func facts(_ line: Int) -> [String: UInt64] { c.lines.first { $0.line == line }?.hostPagemap ?? [:] }
        #expect(facts(5)["present"] == 64 && facts(5)["exclusive"] == 64)
        #expect(facts(8)["pfnhash"] == facts(5)["pfnhash"] && facts(8)["exclusive"] == 0)
        #expect(facts(10)["present"] == 16 && facts(10)["exclusive"] == 16)
        #expect(facts(21)["pfnhash"] == facts(5)["pfnhash"] && facts(21)["exclusive"] == 64)
        #expect(c.lines.first { $0.line == 5 }?.hostSmaps?["Anonymous"] ?? 0 >= 64 * 4096)
    }

    @Test func munmapAndDontneedFaultAgain() throws {
        try Self.expectAgreement(
            """
            spawn p
            p: mmap a 32p anon private rw
            p: write a value=1
            p: madvise a[0:16p] dontneed
            p: write a value=2
            p: munmap a[16p:32p]
            p: read a[0:16p]
            p: expect a[0] == 2
            """, "dontneed", minimumCompared: 5)
    }

    @Test func populateAndMlock() throws {
        try Self.expectAgreement(
            """
            spawn p
            p: mmap a 32p anon private rw populate
            p: write a value=1
            p: mmap b 16p anon private rw
            p: mlock b
            p: write b value=2
            p: mmap c 8p anon private rw locked
            p: read c
            """, "populate-mlock", minimumCompared: 6)
    }

    @Test func mprotectThenSigsegv() throws {
        try Self.expectAgreement(
            """
            spawn app
            app: mmap table 16p anon private rw
            app: write table value=5
            app: fork reader
            reader: mprotect table r
            reader: expect table == 5
            reader: write table[4p] expect segv
            expect reader.killed == 11
            app: mmap guard 1p anon private none
            app: fork prober
            prober: read guard expect segv
            expect prober.killed == 11
            """, "mprotect-segv", minimumCompared: 6)
    }

    /// `on segv|sigbus continue`: the helper installs a handler that siglongjmps out of the access
    /// loop, so the faults before the bad page, the signal, its si_code and the process living on
    /// are compared line by line (tools/kernel-truth/signals.c measured the same cases).
    @Test func caughtSignalsLetTheProcessRunOn() throws {
        try Self.expectAgreement(
            """
            file /f size=8KiB cached
            spawn app
            app: on segv continue
            app: on sigbus continue
            app: mmap buf 16KiB anon private rw
            app: mprotect buf[8KiB:12KiB] r
            app: write buf expect segv
            app: write buf expect segv
            app: mmap fm 16KiB file=/f shared rw
            app: read fm expect sigbus
            app: write fm expect sigbus
            expect app.signals[segv] == 2
            expect app.signals[sigbus] == 2
            expect app.si_code == BUS_ADRERR
            expect app.si_signo == SIGBUS
            expect app.alive == 1
            expect app.minflt >= 0
            app: fork child
            child: write buf[8KiB] expect segv
            expect child.signals[segv] == 3
            expect app.smaps[buf].Rss == 8KiB
            expect app.pagemap[buf[12KiB]].present == 0
            expect app.pagemap[fm[4KiB]].present == 1
            """, "caught-signals", minimumCompared: 14)
    }

    @Test func sharedAnonymousAcrossFork() throws {
        try Self.expectAgreement(
            """
            spawn db
            db: mmap pool 64p anon shared rw
            db: write pool value=9
            db: fork worker
            reset counters
            worker: read pool
            worker: expect pool[32p] == 9
            worker: write pool[0:8p] value=4
            db: expect pool[4p] == 4
            """, "shared-anon", minimumCompared: 4)
    }

    @Test func stackGrowth() throws {
        try Self.expectAgreement(
            """
            spawn app
            reset counters
            app: write stack[6MiB:7MiB] stride=1p
            expect app.minflt == 256
            """, "stack", minimumCompared: 2)
    }

    @Test func privateAndSharedFileWrites() throws {
        try Self.expectAgreement(
            """
            file /d/table size=256p cached
            spawn db
            db: mmap scratch 64p file=/d/table private rw
            db: write scratch value=1
            expect /d/table:dirty == 0
            db: mmap live 32p file=/d/table shared rw
            db: write live value=2
            expect /d/table:dirty == 32p
            db: msync live
            expect /d/table:dirty == 0
            db: write live value=3
            """, "file-writes", minimumCompared: 6)
    }

    @Test func faultAroundOnACachedFile() throws {
        try Self.expectAgreement(
            """
            file /srv/index size=1000p cached
            spawn web
            web: mmap index 1000p file=/srv/index shared r
            web: read index
            """, "fault-around", minimumCompared: 1)
    }

    @Test func readaheadOnAColdFile() throws {
        try Self.expectAgreement(
            """
            file /srv/archive size=512p
            spawn web
            web: mmap archive 512p file=/srv/archive private r
            web: read archive
            expect /srv/archive:cached == 512p
            """, "readahead", minimumCompared: 2,
            // vmsim: 1 major + 33 minor faults; Linux 6.18: 1 major + 31 minor (readahead folios).
            known: [4])
    }

    @Test func madviseRandomOnAColdFile() throws {
        try Self.expectAgreement(
            """
            file /srv/data size=64p
            spawn web
            web: mmap d 64p file=/srv/data private r
            web: madvise d random
            web: read d
            """, "madv-random", minimumCompared: 1)
    }

    /// A simulation set up differently from the host (readahead off in the simulated machine
    /// only) must show up as a difference on the read of the cold file.
    @Test func aWrongSimulationShowsTheDifference() throws {
        guard
            let c = try Self.compare(
                """
                file /srv/archive size=512p
                sysctl block.read_ahead_kb=0
                spawn web
                web: mmap archive 512p file=/srv/archive private r
                web: read archive
                """, name: "wrong")
        else { return }
        #expect(!c.allAgree, "\(c.text)")
        let read = c.lines.first { $0.text == "web: read archive" }
        #expect(read?.agrees == false)
        #expect(c.text.contains("≠ web major"), "\(c.text)")
    }

    @Test func repeatedRunsShowTheSpreadAndCleanUp() throws {
        guard
            let c = try Self.compare(
                """
                spawn p
                p: mmap a 8p anon private rw
                p: write a value=1
                """, name: "repeat", repeats: 3)
        else { return }
        #expect(c.repeats == 3)
        #expect(c.allAgree, "\(c.text)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? []
        #expect(!left.contains { $0.hasPrefix("vmsim-host.") }, "temporary directories left: \(left)")
    }

    @Test func examplesHostRunnablePartsAgree() throws {
        guard Self.helper() != nil else { return }
        // The lines where vmsim and Linux 6.18 really differ (see the README's host section):
        // demo 50 and stack-and-heap 4, the stack's top pages execve filled (3 on the host, 1 in
        // vmsim); demo 63, a cold file's readahead (131 vs 128 minor faults). (Demo 72, a SysV shm
        // read fault, agrees since vmsim no longer faults around in SysV attachments.)
        let known: [String: Set<Int>] = ["demo": [50, 63], "stack-and-heap": [4]]
        var agreeing = 0
        var compared = 0
        for name in [
            "cow", "demo", "files", "protection", "signals", "stack-and-heap", "oom", "thrash", "swapfile",
            "malloc",
            "i386",
        ] {
            let text = try String(contentsOfFile: Self.root + "/examples/\(name).vmsim", encoding: .utf8)
            guard let c = try Self.compare(text, name: "examples/\(name).vmsim") else { return }
            print("examples/\(name).vmsim: \(c.agreeing)/\(c.compared) agree, \(c.skipped) skipped")
            agreeing += c.agreeing
            compared += c.compared
            let differing = Set(c.lines.filter { $0.compared && !$0.agrees }.map(\.line))
            #expect(differing == known[name, default: []], "\(c.text)")
        }
        print("examples: \(agreeing)/\(compared) compared lines agree")
    }
}
