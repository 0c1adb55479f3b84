import Foundation
import Testing

@testable import VMSweep

/// Tests that run the vmsim binary: killed mid-sweep, and through a real Slurm.
@Suite(.serialized) struct SweepProcessTests {
    @Test(.enabled(if: vmsimBinary() != nil, "the vmsim binary is not built next to the tests"))
    func aSweepKilledMidwayResumesToTheSameResults() throws {
        let vmsim = vmsimBinary()!
        let (dir, spec) = sweepFixture(
            """
            kind: replay
            axes:
              trace: [a.txt, b.txt]
              policy: [fifo, clock, arc, lirs, opt, sieve]
              frames: {from: 2, to: 40, step: 2}
            """, length: 40000)
        let (_, reference) = try runLocally(spec, out: dir + "/reference")
        let out = dir + "/killed"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: vmsim)
        p.arguments = ["sweep", "run", spec, "--out", out, "--jobs", "2", "--no-progress"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Kill it once some cells are finished and before all are.
        var finished = 0
        for _ in 0..<2000 {
            finished =
                ((try? FileManager.default.contentsOfDirectory(atPath: out + "/cells")) ?? [])
                .filter { $0.hasSuffix(".ok") }.count
            if finished >= 5 || !p.isRunning { break }
            usleep(5000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal, "the sweep finished before it could be killed")
        let table = try SweepTable(store: SweepStore(directory: out))
        #expect(table.finished >= 5 && table.finished < 240)
        let (status, output) = try runProgram(vmsim, ["sweep", "run", spec, "--out", out, "--no-progress"])
        #expect(status == 0)
        #expect(output.contains("\(table.finished) already done"))
        #expect(try SweepTable(store: SweepStore(directory: out)).csv == reference)
    }

    @Test(
        .tags(.slurm),
        .enabled(
            if: onPath("sbatch"), "sbatch is not on PATH: start a one-node Slurm with scripts/slurm-up.sh"),
        .enabled(if: slurmAnswers(), "no Slurm controller answers sinfo: start one with scripts/slurm-up.sh"),
        .enabled(if: vmsimBinary() != nil, "the vmsim binary is not built next to the tests"))
    func aSlurmJobArrayGivesTheLocalRunsTable() throws {
        let vmsim = vmsimBinary()!
        let (dir, spec) = sweepFixture(policySweep)
        let (_, local) = try runLocally(spec, out: dir + "/local")
        let out = dir + "/slurm"
        let (status, output) = try runProgram(
            vmsim,
            [
                "sweep", "slurm", spec, "--out", out, "--tasks", "4", "--max-parallel", "2", "--submit",
                "--wait",
            ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("submitted job "))
        #expect(read(out + "/sweep.sbatch").contains("#SBATCH --array=0-3%2\n"))
        // Every array task wrote its log and ran its quarter of the cells.
        let logs = try FileManager.default.contentsOfDirectory(atPath: out + "/slurm").sorted()
        #expect(logs.count == 4)
        for log in logs {
            #expect(read(out + "/slurm/" + log).contains("cells in this shard: "))
        }
        let (collected, _) = try runProgram(vmsim, ["sweep", "collect", out])
        #expect(collected == 0)
        #expect(read(out + "/results.csv") == local)
        // Submitted again, nothing is left to run.
        let (_, again) = try runProgram(vmsim, ["sweep", "slurm", spec, "--out", out, "--submit"])
        #expect(again.contains("nothing to submit"))
    }
}
