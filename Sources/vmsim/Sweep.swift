import ArgumentParser
import Foundation
import VMSweep
import VMTrace
import VMTypes

/// Turns sweep errors into CLI errors (exit 2, `file:line:col: message`).
func sweepErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as SweepError { throw CLIError(message: error.description) }
}

/// Reads and checks a sweep spec; errors name the file, line and column.
func loadPlan(_ path: String) throws -> SweepPlan {
    try sweepErrors { try SweepPlan(spec: try SweepSpec.load(path: path)) }
}

/// `i/n` → (i, n).
func parseShard(_ text: String) throws -> (index: Int, count: Int) {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
        throw CLIError(
            message: "--shard: expected INDEX/COUNT with 0 ≤ INDEX < COUNT (e.g. 3/16), not '\(text)'")
    }
    return (i, n)
}

/// `vmsim sweep`: one spec crossed into many runs, run locally or as a Slurm array.
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a sweep — a spec crossed into cells — on all cores here or as a Slurm job array.",
        discussion: """
            A sweep spec (YAML) names the kind of run (replay, kernel, scenario), fixed arguments and axes \
            to cross. `plan` validates it and lists the cells; `run` runs them on all cores into a directory, \
            one result file per cell, so an interrupted sweep resumes and a re-run skips finished cells; \
            `slurm` writes (and with --submit submits) a job array whose tasks run shards of the cells; \
            `status` counts done, failed and pending cells; `collect` writes results.csv and SVG plots. \
            See docs/SWEEPS.md.
            """,
        subcommands: [
            SweepPlanCommand.self, SweepRun.self, SweepStatus.self, SweepCollect.self, SweepSlurm.self,
        ])
}

/// `vmsim sweep plan SPEC`: the cells and an estimate of the work, without running them.
struct SweepPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Validate a sweep spec and print its cells and an estimate of the work.")

    @Argument(help: "The sweep spec (YAML).")
    var spec: String

    @Flag(help: "List every cell with its id.")
    var cells = false

    /// Prints the plan (or every cell with `--cells`).
    func run() throws {
        let plan = try loadPlan(self.spec)
        print(plan.report(listCells: self.cells).joined(separator: "\n"))
    }
}

/// `vmsim sweep run SPEC --out DIR`: runs every cell (or a shard) on all cores.
struct SweepRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a sweep's unfinished cells on all cores (or one shard of them).",
        discussion: """
            Exit status 0 when every cell of the share finished, 1 when some failed (each failure is recorded \
            in DIR with its error and the other cells still run), 2 for a bad spec or flag.
            """)

    @Argument(help: "The sweep spec (YAML).")
    var spec: String

    @Option(help: "The output directory (created; shared by every shard).")
    var out: String

    @Option(help: "Worker threads (default: every core).")
    var jobs: Int?

    @Option(
        name: .customLong("memory-limit"),
        help: "Bound on the running cells' estimated footprints (e.g. 8GiB; default half the RAM).")
    var memoryLimit: String?

    @Option(help: "Run only shard INDEX/COUNT of the cells (0-based; consecutive cells).")
    var shard: String?

    @Flag(name: .customLong("keep-failed"), help: "Leave failed cells failed instead of running them again.")
    var keepFailed = false

    @Flag(name: .customLong("no-progress"), help: "No progress bar on standard error.")
    var noProgress = false

    @Flag(help: "Print the time taken to standard error.")
    var timing = false

    /// Runs the cells not done yet, writing one result file per cell.
    func run() throws {
        let plan = try loadPlan(self.spec)
        var options = SweepRunOptions()
        if let j = self.jobs {
            guard j >= 1 && j <= 4096 else { throw CLIError(message: "--jobs: expected 1…4096") }
            options.jobs = j
        }
        if let m = self.memoryLimit {
            guard let v = try? ByteSize.parse(m), v > 0 else {
                throw CLIError(message: "--memory-limit: '\(m)' is not a size")
            }
            options.memoryLimit = Int(clamping: v)
        }
        if let s = self.shard { options.shard = try parseShard(s) }
        options.retryFailed = !self.keepFailed
        if self.noProgress { options.progress = false }
        let start = monotonicSeconds()
        let runner = SweepRunner(plan: plan, store: SweepStore(directory: self.out), options: options)
        let summary = try sweepErrors { try runner.run() }
        let seconds = monotonicSeconds() - start
        var line = "sweep: \(summary.cells) cells"
        if options.shard != nil { line += " in this shard" }
        line +=
            ": \(summary.ran - summary.failed) ran, \(summary.skipped) already done, \(summary.failed) failed"
        print(line)
        if self.timing {
            writeStderr(
                "sweep: \(summary.ran) cells, \(formatCount(summary.accesses)) accesses in \(fixed(seconds, 3)) s\n"
            )
        }
        if summary.failed > 0 { throw ExitCode(1) }
    }
}

/// `vmsim sweep status DIR`: how many cells are done, failed and pending.
struct SweepStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Count a sweep directory's done, failed and pending cells.")

    @Argument(help: "The sweep's output directory.")
    var dir: String

    @Flag(help: "List the failed cells with their errors.")
    var failed = false

    /// Prints the counts (and the failures with `--failed`).
    func run() throws {
        let table = try sweepErrors { try SweepTable(store: SweepStore(directory: self.dir)) }
        print(table.status(listFailed: self.failed).joined(separator: "\n"))
    }
}

/// `vmsim sweep collect DIR`: every result into one CSV and the spec's plots.
struct SweepCollect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Merge a sweep directory's cells into results.csv and draw the plots as SVG.")

    @Argument(help: "The sweep's output directory.")
    var dir: String

    @Flag(help: "Also print the CSV to standard output.")
    var print = false

    /// Writes `results.csv` and the plots (or prints the table with `--print`).
    func run() throws {
        let store = SweepStore(directory: self.dir)
        let files = try sweepErrors { try store.collect() }
        let table = try sweepErrors { try SweepTable(store: store) }
        if self.print {
            Swift.print(table.csv, terminator: "")
        } else {
            Swift.print(table.status(listFailed: false)[0])
            for f in files { Swift.print("wrote \(f)") }
        }
    }
}

/// `vmsim sweep slurm SPEC --out DIR`: a Slurm job-array script for the sweep.
struct SweepSlurm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Write a Slurm job array that runs a sweep's cells, and optionally submit it.",
        discussion: """
            Writes DIR/sweep.sbatch: array task i runs `vmsim sweep run SPEC --out DIR --shard i/N`. Only shards \
            with unfinished cells are in the array, so writing and submitting again after a partial run runs \
            only what is missing. DIR, the spec, its traces and the vmsim binary must be on a file system every \
            node sees.
            """)

    @Argument(help: "The sweep spec (YAML).")
    var spec: String

    @Option(help: "The output directory, shared by every node.")
    var out: String

    @Option(help: "Array tasks (shards of consecutive cells; default one per trace, at most 1000).")
    var tasks: Int?

    @Option(help: "sbatch --partition.")
    var partition: String?

    @Option(help: "sbatch --time (e.g. 1:00:00).")
    var time: String?

    @Option(
        name: .customLong("cpus-per-task"), help: "sbatch --cpus-per-task; each task runs that many workers.")
    var cpusPerTask: Int = 1

    @Option(help: "sbatch --mem per task (e.g. 4G).")
    var mem: String?

    @Option(name: .customLong("max-parallel"), help: "At most N array tasks at once (the %N throttle).")
    var maxParallel: Int?

    @Option(help: "sbatch --account.")
    var account: String?

    @Option(
        name: .customLong("sbatch"), help: "A further #SBATCH line, e.g. --sbatch=--qos=low (repeatable).")
    var sbatchLines: [String] = []

    @Option(help: "The vmsim binary the tasks run (default: this one).")
    var vmsim: String?

    @Flag(help: "Submit the script with sbatch.")
    var submit = false

    @Flag(help: "With --submit: wait until the array has finished (sbatch --wait).")
    var wait = false

    /// Writes the script (and submits it with `--submit`).
    func run() throws {
        let plan = try loadPlan(self.spec)
        if let t = self.tasks, t < 1 { throw CLIError(message: "--tasks: expected at least 1") }
        guard self.cpusPerTask >= 1 else { throw CLIError(message: "--cpus-per-task: expected at least 1") }
        if let m = self.maxParallel, m < 1 { throw CLIError(message: "--max-parallel: expected at least 1") }
        if self.wait && !self.submit { throw CLIError(message: "--wait needs --submit") }
        let store = SweepStore(directory: self.out)
        try sweepErrors {
            try store.prepare(plan: plan)
            try store.recordInfo(plan.spec)
        }
        var options = SlurmOptions()
        options.tasks = self.tasks ?? 0
        options.partition = self.partition
        options.time = self.time
        options.cpusPerTask = self.cpusPerTask
        options.memory = self.mem
        options.maxParallel = self.maxParallel
        options.account = self.account
        options.extra = self.sbatchLines
        for line in self.sbatchLines where line.contains("\n") {
            throw CLIError(message: "--sbatch: '\(line)' holds a line break")
        }
        let executable = try self.vmsim ?? currentExecutable()
        let array = SlurmArray(
            plan: plan, store: store, options: options, executable: executable,
            specPath: absolutePath(self.spec))
        guard let script = array.script() else {
            print("sweep: all \(plan.cells.count) cells are finished; nothing to submit")
            return
        }
        try? FileManager.default.createDirectory(
            atPath: self.out + "/slurm", withIntermediateDirectories: true)
        let path = self.out + "/sweep.sbatch"
        do {
            try script.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CLIError(message: "\(path): cannot write: \(error.localizedDescription)")
        }
        print(
            "wrote \(path): \(array.pendingShards.count) of \(array.taskCount) array tasks, \(plan.cells.count) cells"
        )
        guard self.submit else { return }
        var args = ["sbatch", "--parsable"]
        if self.wait { args.append("--wait") }
        args.append(path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = args
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch {
            throw CLIError(message: "cannot run sbatch: \(error.localizedDescription)")
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let job = output.split(separator: "\n").first.map(String.init) ?? ""
        guard process.terminationStatus == 0 else {
            throw CLIError(
                message:
                    "sbatch exited with status \(process.terminationStatus)\(job.isEmpty ? "" : " (job \(job))")",
                status: 1)
        }
        print("submitted job \(job)")
    }
}

/// The running binary's absolute path (/proc/self/exe).
func currentExecutable() throws -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { throw CLIError(message: "cannot find this vmsim binary; give --vmsim PATH") }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `path` made absolute against the current directory (job scripts run elsewhere).
func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}
