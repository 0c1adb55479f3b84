import ArgumentParser
import Foundation
import Testing

@testable import VMSimCLI

/// Runs `vmsim sweep ARGS` in-process: the exit status and the error line, if any.
func sweepCommand(_ args: [String]) -> (status: Int32, message: String) {
    do {
        var command = try VMSimCommand.parseAsRoot(["sweep"] + args)
        try command.run()
        return (0, "")
    } catch {
        let (message, status) = VMSimCommand.report(for: error)
        return (status, message)
    }
}

@Suite struct SweepCommandTests {
    @Test func aBadSpecExitsTwoNamingTheLineAndColumn() {
        let (_, spec) = sweepFixture("kind: replay\naxes:\n  trace: [a.txt]\n  frames: [4, -2]\n")
        let (status, message) = sweepCommand(["plan", spec])
        #expect(status == 2)
        #expect(message.hasPrefix("vmsim: \(spec):4:15: frames: '-2' is not a positive frame count"))
        let run = sweepCommand(["run", spec, "--out", spec + ".out"])
        #expect(run.status == 2 && run.message == message)
        #expect(!FileManager.default.fileExists(atPath: spec + ".out"))
    }

    @Test func badFlagsExitTwo() {
        let (dir, spec) = sweepFixture("kind: replay\naxes:\n  trace: [a.txt]\n  frames: [4]\n")
        #expect(
            sweepCommand(["run", spec, "--out", dir + "/o", "--shard", "3/3"]).message.contains(
                "--shard: expected"))
        #expect(sweepCommand(["run", spec, "--out", dir + "/o", "--memory-limit", "lots"]).status == 2)
        #expect(sweepCommand(["status", dir + "/nothing"]).message.contains("no sweep here"))
        #expect(
            sweepCommand(["slurm", spec, "--out", dir + "/o", "--wait"]).message.contains(
                "--wait needs --submit"))
    }

    @Test func aRunWithAFailedCellExitsOne() {
        let (dir, spec) = sweepFixture("kind: replay\naxes:\n  trace: [a.txt, bad.txt]\n  frames: [4]\n")
        _ = FileManager.default.createFile(atPath: dir + "/bad.txt", contents: Data("0x10 Q\n".utf8))
        #expect(sweepCommand(["run", spec, "--out", dir + "/o", "--no-progress"]).status == 1)
        #expect(sweepCommand(["collect", dir + "/o"]).status == 0)
        #expect(read(dir + "/o/results.csv").contains("bad.txt,4,failed,"))
    }
}
