import ArgumentParser
import Foundation
import VMCore
import VMPhys
import VMSim
import VMTrace
import VMTypes

/// `vmsim replay TRACE`: a trace against one policy and frame count (policy mode), or through
/// the whole simulated kernel (`--kernel`, in `KernelReplayCommand.swift`).
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Replay a memory trace against a replacement policy, or through the whole simulated kernel.",
        discussion: """
            Policy mode (the default) runs the trace's page stream against --frames frames with --policy, \
            like libCacheSim. Kernel mode (--kernel) runs it as a process in the simulated kernel — VMAs from \
            the touched regions (or --maps), page tables, TLB, faults, reclaim and swap — and prints the \
            faults, TLB hit rate, swap traffic and /proc views. TRACE '-' reads standard input; gzip and \
            zstd traces are read directly (told by their magic number, not their name).
            """)

    @Argument(help: "The trace file ('-' for standard input).")
    var trace: String

    @OptionGroup var read: TraceReadOptions

    @Option(
        help:
            "Frames: a count (1 … 2^40), or a share of the trace's distinct pages (10%, 0.1). Policy mode.")
    var frames: String?

    @Option(
        help:
            "Replacement policy: \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", ")) (default lru; in kernel mode linux, the kernel's own reclaim: another policy chooses its anonymous victims)."
    )
    var policy: String?

    @Option(help: "Seed of the random policy (0 … 2^64 − 1).")
    var seed: UInt64 = 1

    @Flag(help: "Print one JSON object instead of the text report.")
    var json = false

    @Flag(help: "Print the time taken and accesses per second to standard error.")
    var timing = false

    @Flag(help: "Kernel mode: run the trace as a process in the simulated kernel.")
    var kernel = false

    @OptionGroup var machine: MachineOptions

    @Option(help: "Kernel mode: a /proc/PID/maps file captured with the trace; its areas become the VMAs.")
    var maps: String?

    @Option(help: "Kernel mode: reports to print at the end, comma-separated (meminfo, vmstat, swaps, …).")
    var show: String?

    @Option(
        name: .customLong("first-touch"),
        help: ArgumentHelp(
            "Kernel mode: 'write' replays each page's first access as a store (for traces without writes, "
                + "whose reads would all map the zero page); 'trace' (the default) as the trace says.",
            valueName: "write|trace"))
    var firstTouch: String?

    @Option(
        help: ArgumentHelp(
            "Write a timeline to this file (.csv or .svg): policy mode, the miss ratio and evictions per "
                + "window of --interval accesses; kernel mode, RSS, free memory, LRU lists, swap and the "
                + "fault and reclaim counters every --interval accesses.",
            valueName: "file"))
    var timeline: String?

    @Option(help: "Accesses per timeline sample or window (1 … 1000000000).")
    var interval: Int = 65536

    @Option(
        name: .customLong("cgroup-max"),
        help: ArgumentHelp(
            "Kernel mode: run the process in a memory cgroup with this memory.max (4KiB … 1TiB): it "
                + "reclaims its own pages past it, then is OOM-killed inside the cgroup.",
            valueName: "size"))
    var cgroupMax: String?

    @Option(
        name: .customLong("cgroup-high"),
        help: ArgumentHelp(
            "Kernel mode: the cgroup's memory.high (4KiB … 1TiB): past it the process is throttled.",
            valueName: "size"))
    var cgroupHigh: String?

    /// `--cgroup-max` and `--cgroup-high` in bytes (nil: not given), range-checked.
    func cgroupLimits() throws -> ReplayCgroupLimits? {
        func size(_ text: String?, _ flag: String) throws -> UInt64? {
            guard let text else { return nil }
            let bytes: UInt64
            do { bytes = try ByteSize.parse(text) } catch {
                throw ValidationError("--\(flag): '\(text)' is not a size (\(error.reason))")
            }
            guard (4096...(1 << 40)).contains(bytes) else {
                throw ValidationError("--\(flag): \(text) is out of range (4KiB … 1TiB)")
            }
            return bytes
        }
        let max = try size(self.cgroupMax, "cgroup-max")
        let high = try size(self.cgroupHigh, "cgroup-high")
        return max == nil && high == nil ? nil : ReplayCgroupLimits(max: max, high: high)
    }

    /// Checks of single values. The checks that relate flags to each other wait for `run()`:
    /// the argument parser validates before it reports unknown options, so `--polcy lru` would
    /// otherwise be answered with "policy mode needs --frames".
    func validate() throws {
        guard (1...1_000_000_000).contains(self.interval) else {
            throw ValidationError("--interval: \(self.interval) is out of range (1 … 1000000000)")
        }
        if let path = self.timeline, !path.hasSuffix(".csv") && !path.hasSuffix(".svg") {
            throw ValidationError("--timeline: '\(path)' must end in .csv or .svg")
        }
        if let frames = self.frames {
            // The syntax and range of every size, before the trace is read (shares need the
            // trace's page count, so they are computed later).
            let sizes = try checkSizes(frames)
            guard sizes == 1 else { throw ValidationError("--frames: one size (compare takes several)") }
        }
        _ = try self.cgroupLimits()
        if let t = self.firstTouch, t != "write" && t != "trace" {
            throw ValidationError("--first-touch: expected write or trace, not '\(t)'")
        }
    }

    /// The flags that belong to one mode, checked once every flag is known to exist.
    func checkModes() throws {
        if !self.kernel && self.frames == nil {
            throw CLIError(message: "policy mode needs --frames (or use --kernel)")
        }
        if self.kernel && self.frames != nil {
            throw CLIError(message: "--frames is for policy mode; kernel mode takes --memory")
        }
        if !self.kernel && (self.maps != nil || self.show != nil || !self.machine.settings.isEmpty) {
            throw CLIError(message: "--maps, --show and machine flags need --kernel")
        }
        if self.firstTouch != nil && !self.kernel { throw CLIError(message: "--first-touch needs --kernel") }
        if (self.cgroupMax != nil || self.cgroupHigh != nil) && !self.kernel {
            throw CLIError(message: "--cgroup-max and --cgroup-high need --kernel")
        }
    }

    /// Writes a timeline (CSV or SVG by the file's name) to `--timeline`.
    func writeTimeline(csv: String, svg: () -> String) throws {
        guard let path = self.timeline else { return }
        let text = path.hasSuffix(".svg") ? svg() : csv
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CLIError(message: "--timeline: cannot write \(path)")
        }
    }

    /// Checks the modes, then replays: streamed for a frame count, in memory for a share.
    func run() throws {
        try self.checkModes()
        if self.kernel {
            try self.runKernel()
            return
        }
        let policy = try parsePolicy(self.policy ?? "lru")
        let framesText = self.frames!
        let timeline = self.timeline.map { _ in MissTimeline(interval: self.interval) }
        var options = PolicyOptions()
        options.seed = self.seed
        let progress = Progress(label: "replay")
        let start = monotonicSeconds()
        var counts: ReplayCounts
        var distinct: Int
        var stats: ReaderStats
        var frames: Int
        var format: TraceFormat
        let reader = try self.read.open(self.trace)
        format = reader.format
        if sizesAreRelative(framesText) {
            // A share of the distinct pages: the trace must be read (into memory) first.
            let dense = try traceErrors { try DenseTrace(reader: reader, progress: progress) }
            let sizes = try traceErrors { try parseSizes(framesText, distinct: dense.distinct) }
            guard sizes.count == 1 else {
                throw CLIError(message: "--frames: one size (compare takes several)")
            }
            frames = sizes[0]
            progress.finish()
            let simulating = Progress(label: "replay", total: dense.count)
            counts = simulate(
                policy, frames: frames, trace: dense, options: options, progress: simulating,
                timeline: timeline)
            simulating.finish()
            distinct = dense.distinct
            stats = dense.stats
        } else {
            let sizes = try traceErrors { try parseSizes(framesText, distinct: 0) }
            guard sizes.count == 1 else {
                throw CLIError(message: "--frames: one size (compare takes several)")
            }
            frames = sizes[0]
            (counts, distinct) = try traceErrors {
                try simulate(
                    policy, frames: frames, reader: reader, options: options, progress: progress,
                    timeline: timeline)
            }
            stats = reader.stats
        }
        progress.finish()
        let seconds = monotonicSeconds() - start
        if self.timing {
            writeStderr(
                "replay: \(counts.accesses) accesses in \(fixed(seconds, 3)) s, "
                    + "\(fixed(Double(counts.accesses) / max(seconds, 1e-9) / 1e6, 2)) M accesses/s\n")
        }
        if let timeline {
            try self.writeTimeline(csv: timeline.csv) {
                timeline.svg(
                    title:
                        "\((self.trace as NSString).lastPathComponent): \(policy.rawValue) with \(frames) frame\(frames == 1 ? "" : "s")",
                    subtitle:
                        "\(counts.accesses) accesses to \(distinct) distinct pages, miss ratio \(fixed(counts.missRatio, 4))"
                )
            }
        }
        if self.json {
            var fields: [(String, String)] = [
                ("trace", jsonString(self.trace)), ("format", jsonString(format.rawValue)),
                ("policy", jsonString(policy.rawValue)), ("frames", "\(frames)"),
                ("accesses", "\(counts.accesses)"), ("hits", "\(counts.hits)"),
                ("misses", "\(counts.misses)"),
                ("missRatio", fixed(counts.missRatio, 6)), ("evictions", "\(counts.evictions)"),
                ("dirtyEvictions", "\(counts.dirtyEvictions)"), ("distinctPages", "\(distinct)"),
                ("lines", "\(stats.lines)"), ("noiseLines", "\(stats.noise)"),
                ("instructionsSkipped", "\(stats.instructionsSkipped)"), ("badLines", "\(stats.bad)"),
            ]
            if policy == .random { fields.append(("seed", "\(self.seed)")) }
            print("{" + fields.map { "\(jsonString($0.0)): \($0.1)" }.joined(separator: ", ") + "}")
            return
        }
        var lines: [String] = []
        lines.append("trace      \(self.trace) (\(format.rawValue))")
        var lineNote = "\(stats.lines) lines"
        var notes: [String] = []
        if stats.noise > 0 { notes.append("\(stats.noise) without an access") }
        if stats.instructionsSkipped > 0 {
            notes.append("\(stats.instructionsSkipped) instruction fetches left out")
        }
        if stats.bad > 0 { notes.append("\(stats.bad) malformed, skipped") }
        if !notes.isEmpty { lineNote += " (" + notes.joined(separator: ", ") + ")" }
        lines.append("read       \(lineNote)")
        lines.append("accesses   \(counts.accesses) to \(distinct) distinct pages")
        lines.append(
            "policy     \(policy.rawValue) with \(frames) frame\(frames == 1 ? "" : "s")\(policy == .random ? " (seed \(self.seed))" : "")"
        )
        lines.append("hits       \(counts.hits)")
        lines.append("misses     \(counts.misses) (miss ratio \(fixed(counts.missRatio, 4)))")
        lines.append("evictions  \(counts.evictions) (\(counts.dirtyEvictions) dirty)")
        lines += readerSummary(stats)
        print(lines.joined(separator: "\n"))
    }
}
