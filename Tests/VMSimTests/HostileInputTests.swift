import Testing
import VMCore

@testable import VMSim

/// One test per class of hostile input the scenario language met (issue 11): each example of
/// the class must end with a located error or a reported outcome, never a trap.
@Suite struct HostileInputTests {
    func parseError(_ text: String) -> String? {
        do {
            _ = try ScenarioParser.parse(text, file: "h.vmsim")
            return nil
        } catch {
            return error.description
        }
    }

    /// Numbers up to 2⁶⁴−1 and beyond become range errors at their column.
    @Test(arguments: [
        (
            "spawn p\np: exit 0xffffffffffffffff",
            "h.vmsim:2:9: '0xffffffffffffffff' is not an exit status (0 … 255)"
        ),
        ("spawn p\np: exit 256", "h.vmsim:2:9: '256' is not an exit status"),
        ("spawn p\np: brk +0xffffffffffffffff", "h.vmsim:2:9: '0xffffffffffffffff' is too large"),
        (
            "spawn p\np: brk -18446744073709551616",
            "h.vmsim:2:28: '18446744073709551616' is not a size (too large)"
        ),
        ("spawn p\np: mmap buf 0xffffffffffffffff", "h.vmsim:2:13: '0xffffffffffffffff' is too large"),
        ("spawn p\np: shm s 0xffffffffffffffff key=1", "h.vmsim:2:10: '0xffffffffffffffff' is too large"),
        ("spawn p text=0xffffffffffffffff", "h.vmsim:1:14: '0xffffffffffffffff' is too large"),
        ("spawn p\np: mmap buf 8KiB\np: expect buf[0xffffffffffffffff] == 1", "h.vmsim:3:15: "),
        ("spawn p\np: mmap buf 8KiB\np: expect buf[8KiB] == 1", "h.vmsim:3:15: range 8KiB is outside buf"),
        ("spawn p\np: read 0xfffffffffffff000[0x2000]", "h.vmsim:2:28: range 0x2000 runs past the end"),
        ("spawn p\np: read 0x10000000000000000", "h.vmsim:2:9: '0x10000000000000000' is out of range"),
        ("spawn p\np: mmap buf 8KiB\np: read buf stride=0xffffffffffffffff", "h.vmsim:3:20: "),
        (
            "spawn p\np: mmap b 1p at=0x1ffffffffffffffff",
            "h.vmsim:2:17: '0x1ffffffffffffffff' is out of range"
        ),
        (
            "spawn p\nexpect p.minflt == 99999999999999999999",
            "h.vmsim:2:20: '99999999999999999999' is out of range"
        ),
        ("tick 99999999999s", "h.vmsim:1:6: '99999999999s' is not a duration"),
        ("spawn p\np: write text value=0x", "h.vmsim:2:21: '0x' is not a number"),
    ])
    func userNumbersBecomeRangeErrors(text: String, prefix: String) {
        let message = self.parseError(text)
        #expect(message?.hasPrefix(prefix) == true, "\(message ?? "no error")")
    }

    /// Values that parse but reach the top of the address space are outcomes of the simulated
    /// program (a signal or a refusal), and the kernel stays consistent.
    @Test(arguments: [
        "spawn p\np: read 0xffffffffffffffff expect segv",
        "spawn p\np: write 0xfffffffffffff000 expect segv",
        "spawn p\np: read 0xffffffffffffff00[0:0x100] expect segv",
        "spawn p\np: mmap buf 8KiB\np: read buf stride=0xfffffffffffff000",
    ])
    func accessesAtTheTopOfTheAddressSpaceAreOutcomes(text: String) {
        expectScenario(text)
    }

    /// Lines end with LF or CRLF; bytes that are not UTF-8 are an error at their line and column.
    @Test func crlfLinesParseAndBadBytesAreLocated() throws {
        let crlf = try ScenarioParser.parse(
            "spawn p\r\np: mmap buf 8KiB\r\np: write buf\r\n", file: "c.vmsim")
        #expect(crlf.statements.count == 3)
        #expect(crlf.statements[1].text == "p: mmap buf 8KiB")
        var bytes = Array("spawn p\np: mmap b".utf8)
        bytes += [0xff, 0xfe]
        bytes += Array(" 8KiB\n".utf8)
        #expect(throws: ScenarioError.self) { try ScenarioParser.parse(bytes: bytes, file: "u.vmsim") }
        do {
            _ = try ScenarioParser.parse(bytes: bytes, file: "u.vmsim")
        } catch {
            #expect(error.description == "u.vmsim:2:10: byte 0xff is not UTF-8 text")
        }
    }

    /// Control characters in input are escaped wherever input is echoed.
    @Test func controlCharactersAreEscapedWhenEchoed() {
        let message = self.parseError("spawn p\np: frob\u{1b}[2J")
        #expect(message?.contains("'frob\\x1b[2J'") == true, "\(message ?? "")")
        #expect(message?.contains("\u{1b}") == false)
        let (_, output) = runScenario("spawn p\np: munmap 0x7f0000000000[0:4KiB]   # fine\nunlink /no\u{7}pe")
        #expect(output.contains("/no\\x07pe"), "\(output)")
        #expect(!output.contains("\u{7}"))
    }

    /// An `expect` on a file range that starts at or beyond the end compares nothing: it fails.
    @Test func expectingFileContentsPastTheEndFails() {
        let (runner, _) = runScenario(
            "file /f size=8KiB cached\nspawn p\np: fwrite /f[0:8KiB] value=5\np: expect /f[8KiB:] == 5\np: expect /f[100KiB] == 5\np: expect /f[0:4KiB] == 5"
        )
        #expect(runner?.expectationsFailed == 2)
        #expect(runner?.expectationsPassed == 1)
    }

    /// A long `tick` with the periodic kswapd and nothing to do costs one check, not one per second.
    @Test func aLongTickOnAnIdleMachineEnds() {
        let runner = expectScenario(
            "machine memory=64MiB kswapd=periodic\ntick 5000000000s\nexpect time >= 5000000000s")
        #expect(runner?.kernel.now == 5_000_000_000 * 1_000_000_000)
    }

    /// The access limit stops a run that asks for more simulated work than allowed, reported.
    @Test func theAccessLimitStopsARunawayScenario() throws {
        let scenario = try ScenarioParser.parse(
            "spawn p\np: mmap buf 64MiB\np: read buf stride=1\np: write buf", file: "w.vmsim")
        var output = ""
        let runner = try ScenarioRunner(scenario: scenario) { output += $0 + "\n" }
        runner.accessLimit = 10_000
        runner.run(scenario)
        #expect(runner.accesses == 10_001)
        #expect(runner.stopReason != nil)
        #expect(runner.runtimeErrors == 1)
        #expect(output.contains("stopped: the scenario asked for more than 10000 memory accesses"))
    }

    /// The shell keeps only the lines it accepted, and ends with status 1 after a failure.
    @Test func theShellRemembersAcceptedLinesAndReportsFailure() throws {
        var output: [String] = []
        let shell = try ShellSession(overrides: [("memory", "64MiB")], trace: false) { output.append($0) }
        _ = shell.handle("spawn p")
        _ = shell.handle("p: frobnicate")
        _ = shell.handle("expect p.minflt == 12345")
        #expect(shell.history == ["spawn p", "expect p.minflt == 12345"])
        #expect(shell.exitStatus == 1)
        #expect(output.contains { $0.hasPrefix("shell:2:4: unknown command 'frobnicate'") })
    }
}
