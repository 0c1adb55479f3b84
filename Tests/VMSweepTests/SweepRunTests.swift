import Foundation
import Testing
import VMTrace

@testable import VMSweep

let policySweep = """
    sweep: t
    kind: replay
    axes:
      trace: [a.txt, b.txt]
      policy: [lru, fifo, clock, arc, opt]
      frames: [2, 8, 25%, 32, 64]
    """

@Suite struct SweepRunTests {
    @Test func cellsGiveWhatASingleReplayGives() throws {
        let (dir, spec) = sweepFixture(policySweep)
        let out = dir + "/out"
        let (summary, csv) = try runLocally(spec, out: out)
        #expect(summary == SweepRunSummary(cells: 50, skipped: 0, ran: 50, failed: 0, accesses: 50 * 3000))
        let lines = csv.split(separator: "\n")
        #expect(
            lines[0]
                == "trace,policy,frames,status,framesUsed,accesses,misses,missRatio,evictions,dirtyEvictions,error"
        )
        #expect(lines.count == 51)
        // Every cell equals `simulate` on its own (LRU's from the one-pass curves).
        for line in lines.dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let trace = try DenseTrace(reader: try openTrace(dir + "/" + f[0], options: TraceOptions()))
            let frames = Int(f[4])!
            let c = simulate(PolicyKind(rawValue: f[1])!, frames: frames, trace: trace)
            #expect(f[3] == "ok")
            #expect(
                [f[5], f[6], f[8], f[9]] == [
                    "\(c.accesses)", "\(c.misses)", "\(c.evictions)", "\(c.dirtyEvictions)",
                ], "\(line)")
            if f[2] == "25%" { #expect(frames == trace.distinct / 4) }
        }
    }

    @Test func aReRunSkipsFinishedCellsAndAnInterruptedRunResumes() throws {
        let (dir, spec) = sweepFixture(policySweep)
        let (_, whole) = try runLocally(spec, out: dir + "/whole")
        let (again, same) = try runLocally(spec, out: dir + "/whole")
        #expect(again.ran == 0 && again.skipped == 50)
        #expect(same == whole)
        // Stopped after 7 cells: the rest are pending, then a second run finishes them.
        let (first, partial) = try runLocally(spec, out: dir + "/part", jobs: 1, stopAfter: 7)
        #expect(first.ran >= 7 && first.ran < 50)
        #expect(partial.components(separatedBy: ",pending,").count - 1 == 50 - first.ran)
        let (second, resumed) = try runLocally(spec, out: dir + "/part")
        #expect(second.skipped == first.ran && second.ran == 50 - first.ran)
        #expect(resumed == whole)
    }

    @Test func shardedRunsAndAnyWorkerCountGiveTheSameTable() throws {
        let (dir, spec) = sweepFixture(policySweep)
        let (_, reference) = try runLocally(spec, out: dir + "/one", jobs: 1)
        let (_, parallel) = try runLocally(spec, out: dir + "/four", jobs: 4)
        #expect(parallel == reference)
        for i in 0..<3 { _ = try runLocally(spec, out: dir + "/sharded", shard: (i, 3)) }
        #expect(try SweepTable(store: SweepStore(directory: dir + "/sharded")).csv == reference)
        #expect(read(dir + "/sharded/plan.tsv") == read(dir + "/one/plan.tsv"))
    }

    @Test func aFailedCellIsRecordedWithItsErrorAndTheOthersRun() throws {
        let (dir, spec) = sweepFixture(
            "kind: replay\nfixed: {format: text}\naxes:\n  trace: [a.txt, bad.txt]\n  policy: [lru, fifo]\n  frames: [4, 8]\n"
        )
        _ = FileManager.default.createFile(
            atPath: dir + "/bad.txt", contents: Data("0x1000 R\nnonsense here\n".utf8))
        let (summary, csv) = try runLocally(spec, out: dir + "/out")
        #expect(summary.ran == 8 && summary.failed == 4)
        let failed = csv.split(separator: "\n").filter { $0.contains(",failed,") }
        #expect(failed.count == 4)
        #expect(failed.allSatisfy { $0.hasPrefix("bad.txt,") && $0.contains("bad.txt:2:1: ") })
        #expect(
            csv.split(separator: "\n").filter { $0.hasPrefix("a.txt,") && $0.contains(",ok,") }.count == 4)
        let table = try SweepTable(store: SweepStore(directory: dir + "/out"))
        #expect(table.status(listFailed: true)[0].hasSuffix("8 cells: 4 done, 4 failed, 0 pending"))
        #expect(table.status(listFailed: true).count == 5)
        // Fixed, a re-run retries only the failed cells.
        writeTrace(dir + "/bad.txt", length: 500, pages: 30, seed: 9)
        let (retry, _) = try runLocally(spec, out: dir + "/out")
        #expect(retry.ran == 4 && retry.failed == 0 && retry.skipped == 4)
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/cells/\(try failedID(dir, spec)).failed"))
    }

    func failedID(_ dir: String, _ spec: String) throws -> String {
        let plan = try SweepPlan(spec: try SweepSpec.load(path: spec))
        return plan.cells.first { $0.values[0] == "bad.txt" }!.id
    }

    @Test func aDirectoryOfAnotherSweepIsRefused() throws {
        let (dir, spec) = sweepFixture(policySweep)
        _ = try runLocally(spec, out: dir + "/out")
        let other = dir + "/other.yaml"
        _ = FileManager.default.createFile(
            atPath: other, contents: Data(policySweep.replacingOccurrences(of: "64]", with: "65]").utf8))
        #expect(throws: SweepError.self) { try runLocally(other, out: dir + "/out") }
    }

    @Test func kernelAndScenarioSweepsRun() throws {
        let (dir, spec) = sweepFixture(
            """
            kind: kernel
            fixed: {swap: 64MiB}
            axes:
              trace: [b.txt]
              memory: [16MiB, 24MiB]
              policy: [linux, lru]
            """, length: 400)
        let (summary, csv) = try runLocally(spec, out: dir + "/k")
        #expect(summary.ran == 4 && summary.failed == 0)
        #expect(
            csv.hasPrefix(
                "trace,memory,policy,status,memoryBytes,accesses,outcome,faults,majorFaults,missRatio,pswpout,error\n"
            ))
        #expect(csv.contains("b.txt,16MiB,linux,ok,16777216,400,completed,"))
        _ = FileManager.default.createFile(
            atPath: dir + "/s.vmsim",
            contents: Data("spawn a\na: mmap buf 256p anon private rw\na: write buf value=1\n".utf8))
        let scenario = dir + "/scenario.yaml"
        _ = FileManager.default.createFile(
            atPath: scenario,
            contents: Data("kind: scenario\naxes:\n  scenario: [s.vmsim]\n  memory: [64MiB, 128MiB]\n".utf8))
        let (s, table) = try runLocally(scenario, out: dir + "/s")
        #expect(s.ran == 2 && s.failed == 0, "\(table)")
        #expect(table.contains("s.vmsim,64MiB,ok,0,0,0,"))
        #expect(
            table.hasPrefix(
                "scenario,memory,status,expectationsPassed,expectationsFailed,refused,pgfault,pswpout,error\n"
            ))
    }

    @Test func collectWritesTheTableAndPlots() throws {
        let (dir, spec) = sweepFixture(policySweep)
        _ = try runLocally(spec, out: dir + "/out")
        let files = try SweepStore(directory: dir + "/out").collect()
        #expect(
            files.map { ($0 as NSString).lastPathComponent } == ["results.csv", "missRatio-by-frames.svg"])
        let svg = read(dir + "/out/missRatio-by-frames.svg")
        // One panel per trace, one line per policy in each.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 10)
        #expect(svg.contains(">a.txt</text>") && svg.contains(">b.txt</text>"))
        #expect(
            read(dir + "/out/results.csv") == (try SweepTable(store: SweepStore(directory: dir + "/out")).csv)
        )
        // Two numeric axes: a heatmap as well.
        let (dir2, spec2) = sweepFixture(
            "kind: replay\naxes:\n  trace: [a.txt]\n  page-size: [4096, 8192, 16384]\n  frames: [4, 16, 64]\n"
        )
        _ = try runLocally(spec2, out: dir2 + "/out")
        let names = try SweepStore(directory: dir2 + "/out").collect().map {
            ($0 as NSString).lastPathComponent
        }
        #expect(
            names == ["results.csv", "missRatio-by-frames.svg", "missRatio-heatmap-frames-page-size.svg"])
        let heat = read(dir2 + "/out/missRatio-heatmap-frames-page-size.svg")
        #expect(heat.components(separatedBy: "<title>").count - 1 == 9)
    }

    @Test func theSlurmScriptShardsTheCellsAndListsOnlyUnfinishedShards() throws {
        let (dir, spec) = sweepFixture(policySweep)
        let plan = try SweepPlan(spec: try SweepSpec.load(path: spec))
        let store = SweepStore(directory: dir + "/out")
        var options = SlurmOptions()
        options.tasks = 5
        options.maxParallel = 2
        options.partition = "short"
        options.time = "0:10:00"
        let array = SlurmArray(
            plan: plan, store: store, options: options, executable: "/opt/vmsim", specPath: spec)
        let script = try #require(array.script())
        #expect(script.contains("#SBATCH --array=0-4%2\n"))
        #expect(script.contains("#SBATCH --partition=short\n#SBATCH --time=0:10:00\n"))
        #expect(
            script.contains(
                "exec /opt/vmsim sweep run \(spec) --out \(dir)/out --shard \"$SLURM_ARRAY_TASK_ID/5\""))
        // Shards 1 and 3 done: the array lists the others.
        _ = try runLocally(spec, out: dir + "/out", shard: (1, 5))
        _ = try runLocally(spec, out: dir + "/out", shard: (3, 5))
        #expect(array.script()!.contains("#SBATCH --array=0,2,4%2\n"))
        for i in [0, 2, 4] { _ = try runLocally(spec, out: dir + "/out", shard: (i, 5)) }
        #expect(array.script() == nil)
    }
}
