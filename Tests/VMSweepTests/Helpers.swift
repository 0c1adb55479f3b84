import Foundation
import Synchronization
import Testing

@testable import VMSweep

extension Tag {
    /// Tests that submit jobs to a real Slurm (scripts/slurm-up.sh starts one).
    @Tag static var slurm: Self
}

/// A fresh temporary directory.
func temporaryDirectory(_ name: String = "sweep") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
        "vmsim-\(name)-\(UUID().uuidString)"
    ).path
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes a text trace (`0xADDRESS R|W` lines) of `length` accesses over `pages` pages: a
/// seeded mix of a hot set and a sweep, so policies and sizes give different miss counts.
func writeTrace(_ path: String, length: Int, pages: Int, seed: UInt64) {
    var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var lines = ""
    for i in 0..<length {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        let page = x % 4 == 0 ? UInt64(i % pages) : (x >> 8) % UInt64(max(1, pages / 4))
        lines += "0x\(String(page << 12 | (x & 0xFF8), radix: 16)) \(x & 0x30 == 0 ? "W" : "R")\n"
    }
    _ = FileManager.default.createFile(atPath: path, contents: Data(lines.utf8))
}

/// A directory with traces `a.txt`, `b.txt` and the spec text in `sweep.yaml`.
func sweepFixture(_ spec: String, length: Int = 3000) -> (dir: String, spec: String) {
    let dir = temporaryDirectory()
    writeTrace(dir + "/a.txt", length: length, pages: 200, seed: 1)
    writeTrace(dir + "/b.txt", length: length, pages: 120, seed: 2)
    let path = dir + "/sweep.yaml"
    _ = FileManager.default.createFile(atPath: path, contents: Data(spec.utf8))
    return (dir, path)
}

/// Parses spec text; the error's text when it is refused.
func specError(_ text: String, directory: String = ".") -> String? {
    do {
        _ = try SweepSpec.parse(text, file: "s.yaml", directory: directory)
        return nil
    } catch {
        return error.description
    }
}

/// Runs a sweep in-process and returns its collected CSV.
func runLocally(_ spec: String, out: String, jobs: Int = 2, shard: (Int, Int)? = nil, stopAfter: Int? = nil)
    throws -> (SweepRunSummary, String)
{
    let plan = try SweepPlan(spec: try SweepSpec.load(path: spec))
    var options = SweepRunOptions()
    options.jobs = jobs
    options.progress = false
    options.shard = shard.map { (index: $0.0, count: $0.1) }
    options.stopAfter = stopAfter
    let store = SweepStore(directory: out)
    let summary = try SweepRunner(plan: plan, store: store, options: options).run()
    return (summary, try SweepTable(store: store).csv)
}

/// The vmsim binary next to the test bundle (swift build puts both in the same directory).
func vmsimBinary() -> String? {
    if let env = ProcessInfo.processInfo.environment["VMSIM_BINARY"] { return env }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("vmsim").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

/// Whether a program is on PATH.
func onPath(_ program: String) -> Bool {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    return path.split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/\(program)")
    }
}

/// Whether a Slurm controller answers: `sbatch` is on PATH and `sinfo` succeeds within 20 s.
func slurmAnswers() -> Bool {
    guard onPath("sbatch"), onPath("sinfo") else { return false }
    let result = try? runProgram("/usr/bin/env", ["sinfo", "-h"], timeout: 20)
    return result?.status == 0
}

/// Runs a program to completion: its exit status and standard output. A program still running
/// after `timeout` seconds is killed (status -1), so a stuck scheduler cannot hang the tests.
@discardableResult
func runProgram(_ path: String, _ args: [String], timeout: Double = 600) throws -> (
    status: Int32, output: String
) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    let pid = p.processIdentifier
    let timedOut = Atomic<Bool>(false)
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
        if p.isRunning {
            timedOut.store(true, ordering: .relaxed)
            kill(pid, SIGKILL)
        }
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let status = timedOut.load(ordering: .relaxed) ? -1 : p.terminationStatus
    return (status, String(decoding: data, as: UTF8.self))
}

func read(_ path: String) -> String {
    String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
}
