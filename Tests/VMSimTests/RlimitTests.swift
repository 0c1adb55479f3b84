import Testing

@testable import VMSim

/// `setrlimit` of `RLIMIT_STACK`, `RLIMIT_AS` and `RLIMIT_DATA`, against what Linux 6.18.44 on
/// this machine does: tools/kernel-truth/ops.c, cases `stack`, `rlimit_as` and `rlimit_data`
/// (results/ops.txt). The real limits there were the process's VmSize + 64 MiB and VmData + 16
/// MiB; here a simulated process starts with 252 KiB mapped and 32 KiB of data, so the limits are
/// those plus the same margins.
@Suite struct RlimitTests {
    /// The lines a run refused, by number, and its output.
    func refusedLines(_ text: String) -> (Set<Int>, String) {
        let (runner, output) = runScenario(text)
        guard let runner else { return ([], output) }
        #expect(runner.expectationsFailed == 0, "\(output)")
        let refused = output.split(separator: "\n").compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 2)
            guard parts.count == 3, parts[0] == "test.vmsim",
                line.contains("ENOMEM") || line.contains("refused")
            else { return nil }
            return Int(parts[1])
        }
        #expect(refused.count == runner.runtimeErrors, "\(output)")
        return (Set(refused), output)
    }

    /// ops.txt: `stack.default.grow32M.signal=SIGSEGV` (SEGV_MAPERR) and, after `setrlimit` to
    /// 64 MiB, `stack.raised.grow32M.signal=none` with one fault per new page.
    @Test func aRaisedStackLimitLetsTheStackGrowPast8MiB() {
        expectScenario(
            """
            spawn small
            small: write 0x7ffffdfff000 expect segv
            expect small.killed == 11
            spawn big
            big: setrlimit stack 64MiB
            reset counters
            big: write 0x7ffffdfff000 value=7
            expect big.alive == 1
            expect big.vmstk >= 32MiB
            expect big.minflt == 1
            big: expect 0x7ffffdfff000 == 7
            big: fork child
            child: write 0x7ffffcfff000 value=1
            expect child.alive == 1
            """)
    }

    /// ops.txt `rlimit_as`: 32 MiB fits, 128 MiB is ENOMEM whether private, PROT_NONE,
    /// MAP_NORESERVE or shared; brk 32 MiB fits, 128 MiB does not.
    @Test func rlimitASCountsEveryMapping() {
        let (refused, output) = self.refusedLines(
            """
            spawn a
            expect a.vmsize == 252KiB
            a: setrlimit as 65788KiB
            a: mmap m32 32MiB anon private rw
            a: mmap m128 128MiB anon private rw
            a: mmap n128 128MiB anon private none
            a: mmap r128 128MiB anon private rw noreserve
            a: mmap s128 128MiB anon shared rw
            a: brk +32MiB
            a: brk +128MiB
            expect a.vmsize == 65788KiB
            """)
        #expect(refused == [5, 6, 7, 8, 10], "\(output)")
        #expect(output.contains("ENOMEM: over RLIMIT_AS (64.2 MiB)"), "\(output)")
    }

    /// ops.txt `rlimit_data`: private writable mappings and the heap count (8 MiB fits, 64 MiB
    /// does not, MAP_NORESERVE or not); read-only and shared ones do not; making the read-only
    /// mapping writable is ENOMEM. A child inherits the limit.
    @Test func rlimitDataCountsPrivateWritableMappingsAndTheHeap() {
        let (refused, output) = self.refusedLines(
            """
            spawn d
            expect d.vmdata == 32KiB
            d: setrlimit data 16416KiB
            d: mmap m8 8MiB anon private rw
            d: mmap m64 64MiB anon private rw
            d: mmap ro64 64MiB anon private r
            d: mmap s64 64MiB anon shared rw
            d: mmap nr64 64MiB anon private rw noreserve
            d: brk +4MiB
            d: brk +64MiB
            d: mprotect ro64 rw
            d: fork c
            c: mmap c64 64MiB anon private rw
            d: setrlimit data unlimited
            d: mmap late 64MiB anon private rw
            d: mprotect ro64 rw
            """)
        #expect(refused == [5, 8, 10, 11, 13], "\(output)")
        #expect(output.contains("ENOMEM: over RLIMIT_DATA (16.0 MiB)"), "\(output)")
    }

    @Test func badResourcesAndSizesAreParseErrors() {
        for (text, message) in [
            ("spawn a\na: setrlimit nofile 10\n", "1:14: unknown resource 'nofile'"),
            ("spawn a\na: setrlimit stack\n", "expected a size or 'unlimited'"),
            ("spawn a\na: setrlimit stack 1MiB extra\n", "extra"),
        ] {
            do {
                _ = try ScenarioParser.parse(text, file: "t.vmsim")
                Issue.record("parsed: \(text)")
            } catch {
                #expect(
                    "\(error)".contains(message.replacingOccurrences(of: "1:14", with: "2:14")), "\(error)")
            }
        }
    }
}
