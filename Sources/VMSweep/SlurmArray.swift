import Foundation

/// The `sbatch` options of a sweep's job array.
public struct SlurmOptions: Sendable {
    /// Array tasks (shards of consecutive cells); at most the number of cells.
    public var tasks = 0
    public var partition: String?
    /// `--time`, e.g. `1:00:00`.
    public var time: String?
    public var cpusPerTask = 1
    /// `--mem` per task, e.g. `4G`.
    public var memory: String?
    /// The `%N` throttle: at most this many tasks at once.
    public var maxParallel: Int?
    public var account: String?
    /// Further `#SBATCH` lines, verbatim.
    public var extra: [String] = []
    public init() {}
}

/// A Slurm job array for a sweep: task i of n runs `vmsim sweep run SPEC --out DIR --shard i/n`
/// (shards of consecutive cells, so a task parses few traces), every task writing its cells
/// into the shared DIR. A task skips cells that are already finished, so submitting the script
/// again — or a script written after part of the sweep ran — runs only what is missing: the
/// array lists only the shards that still have unfinished cells.
public struct SlurmArray: Sendable {
    public var plan: SweepPlan
    public var store: SweepStore
    public var options: SlurmOptions
    /// The vmsim binary the tasks run (an absolute path on the shared file system).
    public var executable: String
    /// The spec's path as the tasks will open it.
    public var specPath: String

    public init(
        plan: SweepPlan, store: SweepStore, options: SlurmOptions, executable: String, specPath: String
    ) {
        self.plan = plan
        self.store = store
        self.options = options
        self.executable = executable
        self.specPath = specPath
    }

    /// How many array tasks: the option, else one per group of cells sharing a trace (capped
    /// at 1000, Slurm's default MaxArraySize is 1001), never more than the cells.
    public var taskCount: Int {
        let wanted = self.options.tasks > 0 ? self.options.tasks : min(1000, max(1, self.plan.groups.count))
        return max(1, min(wanted, self.plan.cells.count))
    }

    /// The shards that still have cells to run.
    public var pendingShards: [Int] {
        (0..<self.taskCount).filter { i in
            self.plan.shard(i, of: self.taskCount).contains { !self.store.isFinished($0.id) }
        }
    }

    /// `0-3,7,9-10`, the `--array` syntax.
    static func ranges(_ xs: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < xs.count {
            var j = i
            while j + 1 < xs.count && xs[j + 1] == xs[j] + 1 { j += 1 }
            parts.append(i == j ? "\(xs[i])" : "\(xs[i])-\(xs[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// The sbatch script (nil when every cell is finished).
    public func script() -> String? {
        let shards = self.pendingShards
        guard !shards.isEmpty else { return nil }
        let n = self.taskCount
        let dir = absolute(self.store.directory)
        var array = Self.ranges(shards)
        if let m = self.options.maxParallel { array += "%\(m)" }
        var s = "#!/bin/bash\n"
        s += "# vmsim sweep \(self.plan.spec.name): \(self.plan.cells.count) cells in \(n) shards; "
        s += "\(shards.count) with unfinished cells.\n"
        s += "# Written by `vmsim sweep slurm`; submit with `sbatch \(dir)/sweep.sbatch`.\n"
        s += "#SBATCH --job-name=\(shellWord("vmsim-" + self.plan.spec.name))\n"
        s += "#SBATCH --array=\(array)\n"
        s += "#SBATCH --cpus-per-task=\(self.options.cpusPerTask)\n"
        s += "#SBATCH --output=\(dir)/slurm/%A_%a.out\n"
        if let p = self.options.partition { s += "#SBATCH --partition=\(p)\n" }
        if let t = self.options.time { s += "#SBATCH --time=\(t)\n" }
        if let m = self.options.memory { s += "#SBATCH --mem=\(m)\n" }
        if let a = self.options.account { s += "#SBATCH --account=\(a)\n" }
        for e in self.options.extra { s += "#SBATCH \(e)\n" }
        s += "set -euo pipefail\n"
        s +=
            "exec \(shellWord(self.executable)) sweep run \(shellWord(self.specPath)) --out \(shellWord(dir)) "
        s +=
            "--shard \"$SLURM_ARRAY_TASK_ID/\(n)\" --jobs \"${SLURM_CPUS_PER_TASK:-\(self.options.cpusPerTask)}\"\n"
        return s
    }
}

/// `path` made absolute against the current directory.
func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    let cwd = FileManager.default.currentDirectoryPath
    return path == "." ? cwd : cwd + "/" + path
}

/// A shell word: as is when safe, else single-quoted.
func shellWord(_ s: String) -> String {
    let safe = s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:@%+,".contains($0) }
    return safe && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
