import Foundation
import Testing
import VMCore
import VMPhys

@testable import VMSim

/// The scenario language's memory cgroups (`cgroup`, `spawn cgroup=`, `move`, `expect
/// /PATH:memory.*`, `show /PATH FILE`) and their narration, on top of VMCore's memcg
/// (Memcontrol.swift; its own tests are VMCoreTests/MemcgTests).
@Suite struct CgroupScenarioTests {
    @Test(arguments: [
        ("cgroup /a/b", "s.vmsim:1:8: no cgroup /a to create /a/b in"),
        ("cgroup /app memory.maxx=1MiB", "s.vmsim:1:13: unknown cgroup file 'memory.maxx'"),
        ("cgroup /app memory.max=12Q", "s.vmsim:1:26: '12Q' is not a size"),
        ("cgroup /app memory.max", "s.vmsim:1:13: expected FILE=VALUE"),
        ("cgroup /app memory.oom.group=2", "s.vmsim:1:30: memory.oom.group is 0 or 1"),
        ("cgroup /app memory.reclaim=0", "s.vmsim:1:28: size must not be 0"),
        ("cgroup /", "s.vmsim:1:8: the root cgroup / has no memory.* files"),
        ("cgroup app", "s.vmsim:1:8: 'app' is not a cgroup path"),
        ("cgroup /a//b", "s.vmsim:1:8: '/a//b' is not a cgroup path"),
        ("spawn p cgroup=/nope", "s.vmsim:1:16: no cgroup /nope is declared"),
        ("expect /nope:memory.current == 0", "s.vmsim:1:8: no cgroup /nope is declared"),
        ("cgroup /app\nexpect /app:memory.bogus == 1", "s.vmsim:2:13: unknown cgroup file 'memory.bogus'"),
        (
            "cgroup /app\nexpect /app:memory.stat.nope == 1",
            "s.vmsim:2:13: 'nope' is not a field of memory.stat"
        ),
        (
            "cgroup /app\nexpect /app:memory.events.nope == 1",
            "s.vmsim:2:13: 'nope' is not a field of memory.events"
        ),
        ("expect /:memory.current == 0", "s.vmsim:1:8: the root cgroup / has no memory.* files"),
        ("spawn p\np: exit\nmove p /", "s.vmsim:3:6: process 'p' has exited: it cannot be moved"),
        ("move ghost /", "s.vmsim:1:6: unknown process 'ghost'"),
        ("spawn p\nmove p /x", "s.vmsim:2:8: no cgroup /x is declared"),
        ("spawn p\nmove p", "s.vmsim:2:7: expected a cgroup path"),
        ("cgroup /app\nshow /app memory.nope", "s.vmsim:2:11: unknown cgroup file 'memory.nope'"),
        ("cgroup /app\nshow /app", "s.vmsim:2:10: expected a file of /app"),
        ("show /app memory.stat", "s.vmsim:1:6: no cgroup /app is declared"),
        ("cgroup /app\nshow /app memory.stat extra", "s.vmsim:2:23: unexpected 'extra'"),
    ])
    func badCgroupLinesNameFileLineAndColumn(text: String, prefix: String) {
        let error = parseError(text)
        #expect(error.hasPrefix(prefix), "\(error)")
    }

    /// A bad `cgroup` line declares nothing: the next line cannot use the path.
    @Test func aBadCgroupLineDeclaresNothing() throws {
        var parser = ScenarioParser(file: "s.vmsim")
        #expect(throws: ScenarioError.self) { try parser.parseLine("cgroup /app memory.max=oops", number: 1) }
        #expect(!parser.context.cgroups.contains("/app"))
        #expect(throws: ScenarioError.self) { try parser.parseLine("spawn p cgroup=/app", number: 2) }
        _ = try parser.parseLine("cgroup /app memory.max=1MiB", number: 3)
        _ = try parser.parseLine("spawn p cgroup=/app", number: 4)
    }

    /// A path a `cgroup` line declared is a cgroup; any other path is still a file.
    @Test func declaredPathsAreCgroupsOtherPathsFiles() {
        expectScenario(
            """
            file /app size=8KiB cached
            expect /app:cached == 8KiB
            cgroup /web
            spawn p cgroup=/web
            p: mmap buf 1MiB
            p: write buf
            expect /web:memory.stat.anon >= 1MiB
            expect /web:memory.current >= 1MiB
            expect /app:size == 8KiB
            """)
    }

    /// Over memory.max a cgroup reclaims its own page cache only; another cgroup's cache stays.
    @Test func overMaxACgroupReclaimsOnlyItsOwnPages() {
        expectScenario(
            """
            machine memory=256MiB
            cgroup /a memory.max=16MiB
            cgroup /b
            file /fa size=12MiB
            file /fb size=12MiB
            spawn pa cgroup=/a
            spawn pb cgroup=/b
            pa: mmap f 12MiB file=/fa shared r
            pa: read f
            pb: mmap f 12MiB file=/fb shared r
            pb: read f
            pa: mmap heap2 8MiB
            pa: write heap2
            expect /a:memory.current <= 16MiB
            expect /a:memory.peak <= 16MiB
            expect /a:memory.events.max >= 1
            expect /a:memory.stat.pgsteal >= 1
            expect /b:memory.stat.pgsteal == 0
            expect /b:memory.stat.file >= 12MiB
            expect /fb:cached == 12MiB
            expect /fa:cached < 12MiB
            """)
    }

    /// No swap: nothing to reclaim, so the OOM killer runs inside the cgroup only; with
    /// memory.oom.group every task of the cgroup goes.
    @Test func anOOMInsideACgroupKillsOnlyThere() {
        expectScenario(
            """
            machine memory=256MiB
            cgroup /box memory.max=8MiB
            cgroup /other
            spawn outside cgroup=/other
            outside: mmap keep 16MiB
            outside: write keep value=5
            spawn hog cgroup=/box
            hog: mmap buf 12MiB
            hog: write buf expect oom
            expect hog.killed == 9
            expect outside.alive == 1
            outside: expect keep[8MiB] == 5
            expect /box:memory.events.oom == 1
            expect /box:memory.events.oom_kill == 1
            expect /other:memory.events.oom_kill == 0
            expect /box:memory.current <= 8MiB
            cgroup /grp memory.max=8MiB memory.oom.group=1
            spawn g1 cgroup=/grp
            g1: mmap a 2MiB
            g1: write a
            g1: fork g2
            g2: mmap b 12MiB
            g2: write b expect oom
            expect g1.killed == 9
            expect g2.killed == 9
            expect /grp:memory.events.oom_group_kill == 1
            expect /grp:memory.events.oom_kill == 2
            expect outside.alive == 1
            """)
    }

    /// memory.high throttles the task (simulated time grows) and never kills it.
    @Test func memoryHighThrottlesWithoutOOM() throws {
        let runner = try #require(
            expectScenario(
                """
                machine memory=256MiB
                cgroup /batch memory.high=4MiB
                spawn job cgroup=/batch
                job: mmap work 8MiB
                job: write work
                expect job.alive == 1
                expect /batch:memory.current >= 8MiB
                expect /batch:memory.events.high >= 1
                expect /batch:memory.events.oom_kill == 0
                """))
        let g = try #require(runner.kernel.memcg.group(at: "/batch"))
        #expect(g.throttledNanos > 1_000_000_000)
        #expect(runner.kernel.now >= g.throttledNanos)
    }

    /// fork inherits the cgroup; `move` leaves the charges made so far behind.
    @Test func forkInheritsAndMoveLeavesChargesBehind() {
        expectScenario(
            """
            cgroup /a
            cgroup /b
            spawn p cgroup=/a
            p: mmap x 2MiB
            p: write x
            p: fork c
            c: mmap y 1MiB
            c: write y
            expect /a:memory.stat.anon >= 3MiB
            expect /b:memory.current == 0
            move p /b
            p: mmap z 1MiB
            p: write z
            expect /a:memory.stat.anon >= 3MiB
            expect /b:memory.stat.anon == 1MiB
            """)
    }

    /// A later `cgroup` line writes the limit then: lowering memory.max below the usage reclaims
    /// (here it swaps out) down to it; memory.reclaim reclaims proactively.
    @Test func aLaterCgroupLineWritesTheLimitThen() {
        expectScenario(
            """
            machine memory=256MiB swap=64MiB
            cgroup /app
            spawn p cgroup=/app
            p: mmap buf 16MiB
            p: write buf value=9
            expect /app:memory.current >= 16MiB
            cgroup /app memory.max=8MiB
            expect /app:memory.current <= 8MiB
            expect /app:memory.swap.current >= 8MiB
            expect p.alive == 1
            cgroup /app memory.reclaim=2MiB
            expect /app:memory.current <= 6MiB
            expect /app:memory.stat.pgsteal_proactive >= 512
            p: expect buf == 9
            """)
    }

    /// The narrated effect of a line names the cgroup's charges, reclaim and OOM; a scenario
    /// without cgroups has no `cgroups` in its effects (the JSON is as before).
    @Test func narrationMentionsCgroupEffectsAndOldJSONIsUnchanged() throws {
        let text = """
            machine memory=256MiB
            cgroup /box memory.max=8MiB
            spawn hog cgroup=/box
            hog: mmap buf 12MiB
            hog: write buf expect oom
            """
        let scenario = try ScenarioParser.parse(text, file: "t.vmsim")
        var output = ""
        let runner = try ScenarioRunner(scenario: scenario) { output += $0 + "\n" }
        runner.narrator = Narrator(source: text)
        runner.run(scenario)
        runner.finishNarration()
        #expect(output.contains("cgroup /box made, 0 B"), "\(output)")
        #expect(output.contains("cgroup /box +"), "\(output)")
        #expect(output.contains("at memory.max ×"), "\(output)")
        #expect(output.contains("OOM ×1, 1 killed"), "\(output)")
        #expect(output.contains("  cgroup /box: memory.current"), "\(output)")
        let effects = try #require(runner.narrator?.effects)
        let oomLine = try #require(effects.first { $0.line == 5 })
        let change = try #require(oomLine.cgroups?.first { $0.path == "/box" })
        #expect(change.oomKills == 1 && change.maxEvents >= 1)

        let plain = try ScenarioParser.parse("spawn p\np: mmap b 8KiB\np: write b\n", file: "p.vmsim")
        let r2 = try ScenarioRunner(scenario: plain) { _ in }
        r2.narrator = Narrator(source: nil, printing: false)
        r2.run(plain)
        let json = String(decoding: try JSONEncoder().encode(r2.narrator!.effects), as: UTF8.self)
        #expect(!json.contains("cgroups"))
        #expect(r2.narrator!.effects.allSatisfy { $0.cgroups == nil })
    }

    /// `show /PATH FILE` prints the kernel's file under its sysfs name.
    @Test func showPrintsTheCgroupFiles() {
        let (runner, output) = runScenario(
            """
            cgroup /app memory.max=64MiB
            spawn p cgroup=/app
            show /app memory.max | /app memory.events | /app cgroup.procs
            show /app memory.stat
            """)
        #expect(runner?.runtimeErrors == 0)
        #expect(output.contains("==> /sys/fs/cgroup/app/memory.max <==\n67108864\n"), "\(output)")
        #expect(output.contains("==> /sys/fs/cgroup/app/memory.events <==\nlow 0\nhigh 0\nmax 0\n"))
        #expect(output.contains("==> /sys/fs/cgroup/app/cgroup.procs <==\n3\n"), "\(output)")
        #expect(output.contains("==> /sys/fs/cgroup/app/memory.stat <==\nanon "))
    }

    /// The static list of memory.stat names is the file's.
    @Test func memoryStatNamesAreTheFilesRows() throws {
        let k = try Kernel(config: MachineConfig())
        let g = try k.memcgCreate("/x")
        #expect(k.memcgStat(g).map(\.0) == Kernel.memcgStatNames)
    }

    /// tools/kernel-truth/memcg.c on Linux 6.18 (results/memcg.txt, 3 runs), v1 memory cgroup
    /// of 32 MiB, read_ahead_kb 8192: a 64 MiB file read through a shared mapping 3 times took
    /// 889–1025 minor and 4–9 major faults a pass, memory.max_usage_in_bytes exactly 32 MiB;
    /// 48 MiB of anonymous memory written without swap was SIGKILLed by the cgroup's OOM killer
    /// (oom_kill 1, the cgroup's pgfault 8187 counting the child's own start-up), the parent
    /// outside untouched. vmsim agrees within the tolerances below: minor faults within 20 % of
    /// the kernel's range (fault-around maps 16 pages a fault in both), the peak exactly at the
    /// limit, the OOM at the same point within 5 %. It differs in major faults: 1–2 a pass
    /// against 4–9, because vmsim's readahead brings each 8 MiB window in with one major fault
    /// and later faults in it are minor, where the real kernel also waits on pages still under
    /// read I/O (counted major) and reads large folios in several requests.
    ///
    /// Refaults (memory.stat `workingset_refault_file`, cumulative): the kernel's second pass
    /// refaulted 14,384–25,144 pages and its third 19,904–21,868 (deltas of the three runs);
    /// vmsim must land within 20 % of those ranges (it takes 16,432 and 16,369). The kernel's
    /// first pass already refaults 5,472–13,375 pages, left as shadows when memcg.c wrote the
    /// file inside the cgroup; vmsim's `file` line writes no pages, so its first pass has none.
    @Test func agreesWithTheRealKernelsMemcgMeasurement() throws {
        let refaults = [(0, 0), (11_507, 30_173), (27_430, 56_415)]
        var passes = ""
        for i in 1...3 {
            passes += """
                reset counters
                p: read f
                expect p.minflt >= 711
                expect p.minflt <= 1230
                expect p.majflt >= 1
                expect p.majflt <= 9
                expect /kt:memory.peak == 32MiB
                expect /kt:memory.current <= 32MiB
                expect /kt:memory.stat.workingset_refault_file >= \(refaults[i - 1].0)
                expect /kt:memory.stat.workingset_refault_file <= \(refaults[i - 1].1)
                \(i == 3 ? "expect /kt:memory.events.oom_kill == 0" : "")

                """
        }
        let runner = try #require(
            expectScenario(
                """
                machine memory=512MiB
                sysctl block.read_ahead_kb=8192
                cgroup /kt memory.max=32MiB
                file /data size=64MiB
                spawn p cgroup=/kt
                p: mmap f 64MiB file=/data shared r
                \(passes)
                p: munmap f
                spawn outside
                outside: mmap own 8MiB
                outside: write own value=90
                spawn q cgroup=/kt
                q: mmap a 48MiB
                q: write a expect oom
                expect q.killed == 9
                expect q.minflt >= 7777
                expect q.minflt <= 8597
                expect /kt:memory.events.oom_kill == 1
                expect /kt:memory.peak == 32MiB
                expect outside.alive == 1
                outside: expect own[4MiB] == 90
                """))
        #expect(runner.kernel.memcg.group(at: "/kt")!.memory.failcnt > 0)
    }
}
