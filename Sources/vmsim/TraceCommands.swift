import ArgumentParser
import Foundation
import VMCore
import VMPhys
import VMSim
import VMTrace
import VMTypes

/// How to read a trace; shared by replay, compare and mrc.
struct TraceReadOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Trace format: lackey, text, txt, csv, oracleGeneral, din (default: detected from the content).",
            valueName: "format"))
    var format: String?
    @Option(
        name: .customLong("page-size"),
        help: "Page size in bytes for address traces: a power of two, 16 … 2^30.")
    var pageSize: Int = 4096
    @Flag(
        name: .customLong("no-instructions"),
        help: "Leave out instruction fetches (lackey I lines, din label 2).")
    var noInstructions = false
    @Flag(name: .customLong("page-numbers"), help: "Text traces hold page numbers, not addresses.")
    var pageNumbers = false
    @Flag(
        name: .customLong("skip-bad"),
        help: "Count and skip malformed lines instead of stopping at the first.")
    var skipBad = false
    @Option(
        name: .customLong("csv-id-column"),
        help:
            "CSV: 1-based column (1 … 65536) of the page or object id (default: the header's id/obj_id/page/key column, else 1)."
    )
    var csvIDColumn: Int?
    @Option(
        name: .customLong("csv-op-column"),
        help:
            "CSV: 1-based column (1 … 65536) of the operation (w…, s…, 1 = write; default: the header's op/type/rw column)."
    )
    var csvOpColumn: Int?
    @Option(
        name: .customLong("csv-delimiter"), help: "CSV: the delimiter (default: detected; 'tab' for a tab).")
    var csvDelimiter: String?
    @Option(name: .customLong("csv-header"), help: "CSV: yes or no (default: detected).")
    var csvHeader: String?

    /// The largest page size a trace may name: 1 GiB, x86's largest page. Larger ones would only
    /// push page numbers toward the ends of the address space.
    static let maxPageSize = 1 << 30
    /// The highest CSV column a trace may name (libCacheSim's readers take far fewer).
    static let maxColumn = 1 << 16

    /// Every flag checked before any file is opened; errors name the flag.
    func validate() throws {
        do { _ = try self.options() } catch let error as CLIError { throw ValidationError(error.message) }
    }

    func options() throws -> TraceOptions {
        var o = TraceOptions()
        if let f = self.format {
            guard let format = TraceFormat(name: f) else {
                throw CLIError(
                    message:
                        "--format: unknown format '\(f)' (expected \(TraceFormat.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            o.format = format
        }
        guard (16...Self.maxPageSize).contains(self.pageSize) && self.pageSize & (self.pageSize - 1) == 0
        else {
            throw CLIError(message: "--page-size: \(self.pageSize) is not a power of two from 16 to 2^30")
        }
        o.pageSize = self.pageSize
        o.instructions = !self.noInstructions
        o.pageNumbers = self.pageNumbers
        o.skipBad = self.skipBad
        if let id = self.csvIDColumn {
            guard (1...Self.maxColumn).contains(id) else {
                throw CLIError(message: "--csv-id-column: expected a column 1…\(Self.maxColumn), got \(id)")
            }
            o.csvIDColumn = id
        }
        if let op = self.csvOpColumn {
            guard (1...Self.maxColumn).contains(op) else {
                throw CLIError(message: "--csv-op-column: expected a column 1…\(Self.maxColumn), got \(op)")
            }
            o.csvOpColumn = op
        }
        if let d = self.csvDelimiter {
            if d == "tab" || d == "\\t" {
                o.csvDelimiter = 9
            } else {
                guard d.utf8.count == 1 else {
                    throw CLIError(message: "--csv-delimiter: expected one character or 'tab'")
                }
                o.csvDelimiter = d.utf8.first
            }
        }
        if let h = self.csvHeader {
            switch h.lowercased() {
            case "yes", "true", "1": o.csvHeader = true
            case "no", "false", "0": o.csvHeader = false
            default: throw CLIError(message: "--csv-header: expected yes or no")
            }
        }
        return o
    }

    func open(_ path: String) throws -> any TraceReader {
        do {
            return try openTrace(path, options: self.options())
        } catch let error as TraceError {
            throw CLIError(message: error.description)
        }
    }
}

/// Checks a `--frames` list (syntax and the range of each size) without a trace; returns the
/// number of sizes. Errors name the flag.
func checkSizes(_ text: String) throws -> Int {
    do { return try parseSizes(text, distinct: 1).count } catch let error as TraceError {
        throw ValidationError(error.description)
    }
}

/// Turns trace errors into CLI errors.
func traceErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as TraceError { throw CLIError(message: error.description) }
}

func parsePolicy(_ name: String, flag: String = "--policy") throws -> PolicyKind {
    guard let p = PolicyKind(rawValue: name.lowercased()) else {
        throw CLIError(
            message:
                "\(flag): unknown policy '\(name)' (expected \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", ")))"
        )
    }
    return p
}

func parsePolicies(_ text: String, flag: String) throws -> [PolicyKind] {
    let list = try text.split(separator: ",").map { try parsePolicy(String($0).trimmingSpaces, flag: flag) }
    if list.isEmpty { throw CLIError(message: "\(flag): no policies given") }
    return list
}

/// Notes under a table of miss ratios: the policies whose tiny-cache rule makes them cache
/// nothing at some of the sizes (their miss ratio there is 1 by that rule, not by the trace).
func tinyCacheNotes(_ policies: [PolicyKind], _ sizes: [Int]) -> [String] {
    var notes: [String] = []
    for p in policies {
        let at = sizes.filter { p.cachesNothingRule(frames: $0) != nil }
        guard let first = at.first, let rule = p.cachesNothingRule(frames: first) else { continue }
        let list = at.map(String.init).joined(separator: ", ")
        notes.append("note: \(p.rawValue) at \(list) frame\(at == [1] ? "" : "s"): \(rule)")
    }
    return notes
}

/// The lines the reader skipped or refused, for the report.
func readerSummary(_ stats: ReaderStats) -> [String] {
    var lines: [String] = []
    if stats.bad > 0 {
        lines.append("skipped \(stats.bad) malformed line\(stats.bad == 1 ? "" : "s"), the first:")
        for e in stats.firstBad { lines.append("  \(e)") }
    }
    return lines
}

/// A JSON string literal (the event stream's escaping, shared).
func jsonString(_ s: String) -> String { EventJSON.string(s) }

extension String {
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        self.count >= width ? self : String(repeating: pad, count: width - self.count) + self
    }
    func rightPadded(_ width: Int) -> String {
        self.count >= width ? self : self + String(repeating: " ", count: width - self.count)
    }
}

// MARK: - replay

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

// MARK: - compare

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare replacement policies on a trace at several memory sizes, in parallel.",
        discussion: """
            Sizes are frame counts or shares of the trace's distinct pages (1%, 0.5). The trace is read \
            into memory once (4 bytes per access) and every policy × size runs on its own core.
            """)

    @Argument(help: "The trace file ('-' for standard input).")
    var trace: String

    @OptionGroup var read: TraceReadOptions

    @Option(help: "Policies, comma-separated.")
    var policies: String = "lru,fifo,clock,arc,lirs,s3fifo,sieve,opt"

    @Option(
        help:
            "Sizes, comma-separated: frame counts (1 … 2^40) or shares of the distinct pages."
    )
    var frames: String = "1%,10%,50%"

    @Option(help: "Seed of the random policy (0 … 2^64 − 1).")
    var seed: UInt64 = 1

    @Flag(help: "Print CSV (policy,frames,accesses,hits,misses,missRatio,evictions,dirtyEvictions).")
    var csv = false

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(help: "Print the time taken to standard error.")
    var timing = false

    func validate() throws {
        if self.csv && self.json { throw ValidationError("--csv and --json exclude each other") }
        _ = try checkSizes(self.frames)
    }

    func run() throws {
        let policies = try parsePolicies(self.policies, flag: "--policies")
        let reader = try self.read.open(self.trace)
        let progress = Progress(label: "reading")
        let start = monotonicSeconds()
        let dense = try traceErrors { try DenseTrace(reader: reader, progress: progress) }
        progress.finish()
        var sizes = try traceErrors { try parseSizes(self.frames, distinct: dense.distinct) }
        var seen = Set<Int>()
        sizes = sizes.filter { seen.insert($0).inserted }
        var options = PolicyOptions()
        options.seed = self.seed
        let simulating = Progress(label: "simulating \(policies.count * sizes.count) runs")
        let cells = compare(dense, policies: policies, sizes: sizes, options: options, progress: simulating)
        simulating.finish()
        if self.timing {
            let seconds = monotonicSeconds() - start
            let work = dense.count * cells.count
            writeStderr(
                "compare: \(cells.count) runs × \(dense.count) accesses in \(fixed(seconds, 3)) s "
                    + "(\(fixed(Double(work) / max(seconds, 1e-9) / 1e6, 1)) M accesses/s in all)\n")
        }
        if self.csv {
            print("policy,frames,accesses,hits,misses,missRatio,evictions,dirtyEvictions")
            for c in cells {
                print(
                    "\(c.policy.rawValue),\(c.frames),\(c.counts.accesses),\(c.counts.hits),\(c.counts.misses),"
                        + "\(fixed(c.counts.missRatio, 6)),\(c.counts.evictions),\(c.counts.dirtyEvictions)")
            }
            return
        }
        if self.json {
            let rows = cells.map { c in
                "{\"policy\": \(jsonString(c.policy.rawValue)), \"frames\": \(c.frames), "
                    + "\"accesses\": \(c.counts.accesses), \"hits\": \(c.counts.hits), \"misses\": \(c.counts.misses), "
                    + "\"missRatio\": \(fixed(c.counts.missRatio, 6)), \"evictions\": \(c.counts.evictions), "
                    + "\"dirtyEvictions\": \(c.counts.dirtyEvictions)}"
            }
            print(
                "{\"trace\": \(jsonString(self.trace)), \"format\": \(jsonString(dense.format.rawValue)), "
                    + "\"accesses\": \(dense.count), \"distinctPages\": \(dense.distinct), \"results\": ["
                    + rows.joined(separator: ", ") + "]}")
            return
        }
        var out: [String] = []
        out.append(
            "trace \(self.trace) (\(dense.format.rawValue)): \(dense.count) accesses to \(dense.distinct) distinct pages"
        )
        out.append("miss ratio by frames:")
        let headers = sizes.map { "\($0)" }
        let width = max(8, (headers.map(\.count).max() ?? 0) + 2)
        out.append("policy".rightPadded(14) + headers.map { $0.leftPadded(width, with: " ") }.joined())
        for p in policies {
            var row = p.rawValue.rightPadded(14)
            for s in sizes {
                let c = cells.first { $0.policy == p && $0.frames == s }!
                row += fixed(c.counts.missRatio, 4).leftPadded(width, with: " ")
            }
            out.append(row)
        }
        out += tinyCacheNotes(policies, sizes)
        out += readerSummary(dense.stats)
        print(out.joined(separator: "\n"))
    }
}

// MARK: - mrc

struct MRC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mrc",
        abstract: "Miss-ratio curves: exact LRU in one pass, SHARDS sampling, other policies by simulation.",
        discussion: """
            The exact LRU curve comes from stack distances (one pass, O(N log M)). --shards RATE adds the \
            SHARDS estimate (fixed rate, with its adjustment) and reports its error against the exact curve. \
            Other policies are simulated at --points sizes in parallel. The table goes to standard output; \
            --csv and --svg write the curves to files ('-' for standard output).
            """)

    @Argument(help: "The trace file ('-' for standard input).")
    var trace: String

    @OptionGroup var read: TraceReadOptions

    @Option(help: "Policies besides exact LRU to simulate, comma-separated (e.g. fifo,clock,arc,opt).")
    var policies: String?

    @Option(
        help: "Sizes at which to simulate the other policies and print the table (1 … 10000).")
    var points: Int = 20

    @Option(help: "Add the SHARDS estimate of the LRU curve at this sampling rate (0 < rate ≤ 1, e.g. 0.01).")
    var shards: Double?

    @Option(help: "Write the curves as CSV to this file ('-' for standard output, instead of the table).")
    var csv: String?

    @Option(help: "Write the curves as an SVG plot to this file.")
    var svg: String?

    @Flag(name: .customLong("log-x"), help: "SVG: memory size on a log scale.")
    var logX = false

    @Option(help: "Seed of the random policy (0 … 2^64 − 1).")
    var seed: UInt64 = 1

    @Flag(help: "Print the time taken to standard error.")
    var timing = false

    func validate() throws {
        guard self.points >= 1 && self.points <= 10_000 else { throw ValidationError("--points: 1 to 10000") }
        if let r = self.shards, !(r > 0 && r <= 1) { throw ValidationError("--shards: a rate in (0, 1]") }
    }

    func run() throws {
        let policies = try self.policies.map { try parsePolicies($0, flag: "--policies") } ?? []
        let reader = try self.read.open(self.trace)
        let format = reader.format
        let t0 = monotonicSeconds()
        // Exact LRU and SHARDS alone stream the trace (memory O(distinct pages), any length);
        // simulating other policies holds it in memory (4 bytes per access) for the cores to share.
        var dense: DenseTrace?
        let distances: StackDistances
        let estimate: ShardsEstimate?
        let m: Int
        var t1 = t0
        if policies.isEmpty {
            let progress = Progress(label: "mrc")
            let streamed = try traceErrors {
                try streamedCurves(reader: reader, shardsRate: self.shards, progress: progress)
            }
            progress.finish()
            distances = streamed.distances
            estimate = streamed.shards
            m = streamed.distinct
        } else {
            let progress = Progress(label: "reading")
            let trace = try traceErrors { try DenseTrace(reader: reader, progress: progress) }
            progress.finish()
            t1 = monotonicSeconds()
            dense = trace
            let exact = Progress(label: "exact LRU curve")
            distances = lruStackDistances(trace, progress: exact)
            exact.finish()
            estimate = self.shards.map { VMTrace.shards(trace, rate: $0) }
            m = trace.distinct
        }
        let t2 = monotonicSeconds()
        let count = distances.accesses
        let curve = distances.missCurve()
        let n = max(count, 1)
        var sizes: [Int] = []
        for k in 1...self.points {
            let s = max(1, Int((Double(k) * Double(m) / Double(self.points)).rounded()))
            if sizes.last != s { sizes.append(s) }
        }
        var shardsError: (adjusted: Double, plain: Double)?
        if let est = estimate, m > 0 {
            var sum = 0.0
            var plain = 0.0
            for c in 1...m {
                let exact = Double(curve[c]) / Double(n)
                sum += abs(est.missRatio(frames: c) - exact)
                plain += abs(est.missRatio(frames: c, adjusted: false) - exact)
            }
            shardsError = (sum / Double(m), plain / Double(m))
        }
        var options = PolicyOptions()
        options.seed = self.seed
        let simulating = Progress(label: "simulating \(policies.count * sizes.count) runs")
        let cells =
            dense.map {
                compare($0, policies: policies, sizes: sizes, options: options, progress: simulating)
            }
            ?? []
        simulating.finish()
        let t3 = monotonicSeconds()
        if self.timing {
            let curveTime = dense == nil ? "read and " : "read \(fixed(t1 - t0, 3)) s; "
            writeStderr(
                "mrc: \(curveTime)exact LRU curve \(fixed(t2 - t1, 3)) s "
                    + "(\(fixed(Double(count) / max(t2 - t1, 1e-9) / 1e6, 2)) M accesses/s); "
                    + "other policies \(fixed(t3 - t2, 3)) s\n")
        }
        func ratio(_ p: PolicyKind, _ s: Int) -> Double {
            cells.first { $0.policy == p && $0.frames == s }!.counts.missRatio
        }
        // CSV, one row per point: exact LRU (and SHARDS) at every size, each simulated policy at
        // each size it was simulated at.
        if let path = self.csv {
            var rows = ["policy,frames,miss_ratio"]
            for c in 1...max(m, 1) {
                rows.append("lru,\(c),\(fixed(Double(curve[min(c, curve.count - 1)]) / Double(n), 6))")
            }
            if let est = estimate {
                for c in 1...max(m, 1) {
                    rows.append("lru_shards,\(c),\(fixed(est.missRatio(frames: c), 6))")
                }
            }
            for p in policies {
                for c in sizes { rows.append("\(p.rawValue),\(c),\(fixed(ratio(p, c), 6))") }
            }
            try self.write(rows.joined(separator: "\n") + "\n", to: path)
        }
        if let path = self.svg {
            var series: [PlotSeries] = []
            series.append(
                PlotSeries(
                    name: "LRU (exact)",
                    points: (0...max(m, 1)).map {
                        (Double($0), Double(curve[min($0, curve.count - 1)]) / Double(n))
                    }, scaleFrom: 2))
            if let est = estimate {
                series.append(
                    PlotSeries(
                        name: "LRU (SHARDS \(fixed(est.rate * 100, 2))%)",
                        points: (1...max(m, 1)).map { (Double($0), est.missRatio(frames: $0)) }, dashed: true,
                        scaleFrom: 2)
                )
            }
            for p in policies {
                series.append(
                    PlotSeries(
                        name: p.rawValue.uppercased(), points: sizes.map { (Double($0), ratio(p, $0)) },
                        scaleFrom: Double(max(2, p.smallestCachingSize))))
            }
            let svg = renderPlotSVG(
                title: "Miss-ratio curve: \((self.trace as NSString).lastPathComponent)",
                subtitle: "\(count) accesses to \(m) distinct pages (\(format.rawValue))",
                xLabel: "memory size (frames)", yLabel: "miss ratio", series: series, logX: self.logX)
            try self.write(svg, to: path)
        }
        if self.csv == "-" { return }
        var out: [String] = []
        out.append(
            "trace \(self.trace) (\(format.rawValue)): \(count) accesses to \(m) distinct pages")
        out.append(
            "exact LRU: \(distances.cold) cold misses; miss ratio reaches the cold floor at \(self.knee(curve)) frames"
        )
        if let est = estimate, let err = shardsError {
            out.append(
                "SHARDS at rate \(fixed(est.rate, 4)): \(est.sampledAccesses) accesses (\(est.sampledPages) pages) "
                    + "sampled; mean absolute error \(fixed(err.adjusted, 4)) against the exact curve "
                    + "(\(fixed(err.plain, 4)) without SHARDS-adj's correction)")
        }
        var header = "frames".rightPadded(10) + "lru".leftPadded(9, with: " ")
        if estimate != nil { header += "lru~".leftPadded(9, with: " ") }
        for p in policies { header += p.rawValue.leftPadded(max(9, p.rawValue.count + 2), with: " ") }
        out.append(header)
        for s in sizes {
            var row =
                "\(s)".rightPadded(10)
                + fixed(Double(curve[min(s, curve.count - 1)]) / Double(n), 4).leftPadded(9, with: " ")
            if let est = estimate { row += fixed(est.missRatio(frames: s), 4).leftPadded(9, with: " ") }
            for p in policies {
                row += fixed(ratio(p, s), 4).leftPadded(max(9, p.rawValue.count + 2), with: " ")
            }
            out.append(row)
        }
        out += tinyCacheNotes(policies, sizes)
        out += readerSummary(reader.stats)
        print(out.joined(separator: "\n"))
    }

    /// The smallest size with only cold misses.
    func knee(_ curve: [Int]) -> Int {
        guard let floor = curve.last else { return 0 }
        return curve.firstIndex(of: floor) ?? curve.count - 1
    }

    func write(_ text: String, to path: String) throws {
        if path == "-" {
            print(text, terminator: "")
            return
        }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CLIError(message: "\(path): cannot write (\(error.localizedDescription))")
        }
    }
}

// MARK: - trace-gen

struct TraceGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace-gen",
        abstract:
            "Generate a synthetic page trace (sequential, loop, uniform, zipf, phases) in any trace format.")

    @Option(help: "Pattern: \(TracePattern.allCases.map(\.rawValue).joined(separator: ", ")).")
    var pattern: String

    @Option(help: "Number of accesses (0 … 2^40).")
    var length: Int

    @Option(help: "Number of distinct pages (1 … 2^31).")
    var pages: Int

    @Option(help: "Zipf exponent α (0 … 100).")
    var alpha: Double = 0.9

    @Option(help: "Phases: number of phases (1 … 2^31).")
    var phases: Int = 4

    @Option(
        name: .customLong("working-set"),
        help: "Phases: pages per phase (1 … --pages; 0, the default: pages/4).")
    var workingSet: Int = 0

    @Option(
        name: .customLong("write-ratio"), help: "Fraction of accesses that are writes (0 … 1).")
    var writeRatio: Double = 0

    @Option(help: "Random seed (0 … 2^64 − 1).")
    var seed: UInt64 = 1

    @Option(
        help: "Output format: \(TraceFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: String = "txt"

    @Option(
        name: .customLong("page-size"),
        help: "Page size for address formats: a power of two, 16 … 2^30.")
    var pageSize: Int = 4096

    @Option(name: [.short, .long], help: "Output file ('-' for standard output, the default).")
    var output: String = "-"

    /// The longest trace generated: 2^40 accesses (hours of output; more is not a request
    /// anyone can replay).
    static let maxLength = 1 << 40

    func validate() throws {
        guard (0...Self.maxLength).contains(self.length) else {
            throw ValidationError("--length: expected 0…2^40 accesses, got \(self.length)")
        }
        guard (1...(1 << 31)).contains(self.pages) else {
            throw ValidationError("--pages: expected 1…2^31 (page ids are 32-bit), got \(self.pages)")
        }
        guard (0...1).contains(self.writeRatio) else {
            throw ValidationError("--write-ratio: between 0 and 1")
        }
        guard (0...100).contains(self.alpha) else {
            throw ValidationError("--alpha: expected 0…100, got \(self.alpha)")
        }
        guard (1...(1 << 31)).contains(self.phases) else {
            throw ValidationError("--phases: expected 1…2^31, got \(self.phases)")
        }
        // 0 is the default (pages / 4).
        guard (0...self.pages).contains(self.workingSet) else {
            throw ValidationError("--working-set: expected 1…--pages (\(self.pages)), got \(self.workingSet)")
        }
        guard
            (16...TraceReadOptions.maxPageSize).contains(self.pageSize)
                && self.pageSize & (self.pageSize - 1) == 0
        else {
            throw ValidationError("--page-size: a power of two from 16 to 2^30, got \(self.pageSize)")
        }
    }

    func run() throws {
        guard let pattern = TracePattern(rawValue: self.pattern) else {
            throw CLIError(
                message:
                    "--pattern: unknown pattern '\(self.pattern)' (expected \(TracePattern.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        guard let format = TraceFormat(name: self.format) else {
            throw CLIError(
                message:
                    "--format: unknown format '\(self.format)' (expected \(TraceFormat.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        var spec = TraceSpec(pattern: pattern, length: self.length, pages: self.pages)
        spec.alpha = self.alpha
        spec.phases = self.phases
        spec.workingSet = self.workingSet
        spec.writeRatio = self.writeRatio
        spec.seed = self.seed
        // No progress line when the trace itself goes to the terminal.
        let progress = Progress(
            label: "trace-gen", total: self.length,
            enabled: isatty(2) != 0 && (self.output != "-" || isatty(1) == 0))
        try traceErrors {
            try generateTrace(
                spec, format: format, path: self.output, pageSize: self.pageSize, progress: progress)
        }
        progress.finish()
    }
}

// MARK: - replay --kernel

extension Replay {
    func runKernel() throws {
        let policy = try parsePolicy(self.policy ?? "linux")
        var options = PolicyOptions()
        options.seed = self.seed
        var config = try self.machine.apply(to: MachineConfig())
        if self.machine.memory == nil && config.zoneSizes == nil { config.memory = 64 << 20 }
        let kernel = try bootKernel(config)
        let reports = try parseReportList(self.show)
        var maps: [MapsEntry]?
        if let path = self.maps {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CLIError(message: "\(path): cannot read the maps file")
            }
            maps = try traceErrors { try MapsEntry.parse(text, file: path) }
        }
        let reader = try self.read.open(self.trace)
        let progress = Progress(label: "reading")
        let dense = try traceErrors { try DenseTrace(reader: reader, progress: progress) }
        progress.finish()
        let firstTouchWrites = self.firstTouch == "write"
        if dense.count > 0 && dense.writes == 0 && !firstTouchWrites {
            writeStderr(
                "vmsim: warning: \(self.trace) has no writes: every page it touches maps the shared zero page "
                    + "(no RSS, nothing to reclaim or swap); --first-touch write replays each page's first "
                    + "access as a store\n")
        }
        let timeline = self.timeline.map { _ in Timeline(interval: UInt64(self.interval)) }
        let replayProgress = Progress(label: "kernel replay")
        let start = monotonicSeconds()
        let result = try traceErrors {
            try KernelReplay.run(
                kernel: kernel, trace: dense, traceShift: self.read.pageSize.trailingZeroBitCount, maps: maps,
                policy: policy, options: options, firstTouchWrites: firstTouchWrites,
                progress: replayProgress,
                timeline: timeline)
        }
        replayProgress.finish()
        let seconds = monotonicSeconds() - start
        if self.timing {
            writeStderr(
                "kernel replay: \(result.performed) accesses in \(fixed(seconds, 3)) s, "
                    + "\(fixed(Double(result.performed) / max(seconds, 1e-9) / 1e6, 2)) M accesses/s\n")
        }
        if let timeline {
            try self.writeTimeline(csv: timeline.csv) {
                timeline.svg(title: "\((self.trace as NSString).lastPathComponent): kernel replay over time")
            }
        }
        let tlbHits = result.tlb.l1Hits + result.tlb.l2Hits
        let tlbRate = result.tlb.lookups == 0 ? 0 : Double(tlbHits) / Double(result.tlb.lookups)
        let outcome: String
        switch result.outcome {
        case .completed: outcome = "completed"
        case .signal(let info, let access):
            outcome =
                "killed by \(info.signal.name) at \(hex(info.address)) on access \(access + 1) (\(info))"
        case .outOfMemory(let access): outcome = "killed by the OOM killer on access \(access + 1)"
        }
        let task = kernel.tasks[result.pid]
        if self.json {
            var fields: [(String, String)] = [
                ("trace", jsonString(self.trace)), ("format", jsonString(dense.format.rawValue)),
                ("mode", jsonString("kernel")), ("policy", jsonString(policy.rawValue)),
                ("memoryBytes", "\(config.memory ?? 0)"),
                ("accesses", "\(result.performed)"), ("traceAccesses", "\(result.accesses)"),
                ("distinctPages", "\(dense.distinct)"), ("outcome", jsonString(outcome)),
                ("areas", "\(result.areas.count)"), ("minorFaults", "\(result.minorFaults)"),
                ("majorFaults", "\(result.majorFaults)"),
                ("faults", "\(result.minorFaults + result.majorFaults)"),
                ("tlbLookups", "\(result.tlb.lookups)"), ("tlbHits", "\(tlbHits)"),
                ("tlbHitRate", fixed(tlbRate, 6)), ("pswpin", "\(result.pswpin)"),
                ("pswpout", "\(result.pswpout)"),
                ("pgscan", "\(result.pgscan)"), ("pgsteal", "\(result.pgsteal)"),
                ("simulatedNanoseconds", "\(result.simulatedNanoseconds)"),
                ("stores", "\(result.stores)"), ("firstTouchStores", "\(result.firstTouchStores)"),
            ]
            // Policy-mode names for the same quantities, so scripts can read either mode.
            fields.append(("hits", "\(result.performed - result.minorFaults - result.majorFaults)"))
            fields.append(("misses", "\(result.minorFaults + result.majorFaults)"))
            let ratio =
                result.performed == 0
                ? 0 : Double(result.minorFaults + result.majorFaults) / Double(result.performed)
            fields.append(("missRatio", fixed(ratio, 6)))
            fields.append(("evictions", "\(result.pgsteal)"))
            if result.policy != nil {
                fields.append(("policyFrames", "\(result.policyFrames)"))
                fields.append(("policyVictims", "\(result.policyVictims)"))
                fields.append(("policyVictimsSkipped", "\(result.policyVictimsSkipped)"))
            }
            print("{" + fields.map { "\(jsonString($0.0)): \($0.1)" }.joined(separator: ", ") + "}")
            return
        }
        var out: [String] = []
        out.append(
            "kernel replay of \(self.trace) (\(dense.format.rawValue)): \(result.accesses) accesses to "
                + "\(dense.distinct) distinct pages, as pid \(result.pid) on \(ByteSize.format(config.memory ?? 0)) of RAM"
        )
        if result.relocation != 0 {
            out.append(
                "addresses  moved up by \(hex(result.relocation)) (the trace's pages start below mmap_min_addr)"
            )
        }
        out.append(
            "areas      \(result.areas.count) VMA\(result.areas.count == 1 ? "" : "s") "
                + (maps == nil ? "from the touched regions" : "from \(self.maps!)"))
        for a in result.areas.prefix(12) {
            out.append(
                "             \(hex(a.start))-\(hex(a.end)) \(ByteSize.human(a.end - a.start))\(a.name.isEmpty ? "" : " " + a.name)"
            )
        }
        if result.areas.count > 12 { out.append("             … \(result.areas.count - 12) more") }
        if result.policy != nil {
            out.append(
                "policy     \(policy.rawValue) chooses the anonymous pages reclaim takes (sized for "
                    + "\(result.policyFrames) frames; named \(result.policyVictims) victims, "
                    + "\(result.policyVictimsSkipped) not reclaimable)")
        } else {
            out.append("policy     linux (the kernel's active/inactive LRU lists)")
        }
        out.append(
            "stores     \(result.stores) of the accesses"
                + (firstTouchWrites ? " (\(result.firstTouchStores) first touches made stores)" : ""))
        out.append("outcome    \(outcome)")
        out.append(
            "faults     \(result.minorFaults + result.majorFaults) (\(result.minorFaults) minor, \(result.majorFaults) major)"
        )
        out.append(
            "TLB        \(result.tlb.lookups) lookups, hit rate \(fixed(tlbRate * 100, 2))% "
                + "(L1 \(result.tlb.l1Hits), L2 \(result.tlb.l2Hits), misses \(result.tlb.misses))")
        out.append(
            "reclaim    \(result.pgscan) pages scanned, \(result.pgsteal) reclaimed; swap \(result.pswpin) in, \(result.pswpout) out"
        )
        out.append("time       \(ProcFS.duration(result.simulatedNanoseconds)) simulated")
        out += readerSummary(dense.stats)
        if let task {
            out.append("")
            out.append("/proc/\(task.pid)/status (memory lines):")
            for line in ProcFS.status(kernel, task).split(separator: "\n")
            where line.hasPrefix("Vm") || line.hasPrefix("Rss") {
                out.append("  " + line)
            }
        }
        for r in reports {
            out.append("")
            out.append("\(r):")
            out.append(ReportName.render(r, kernel).trimmingSuffixNewlines)
        }
        print(out.joined(separator: "\n"))
        if result.outcome != .completed { throw ExitCode(1) }
    }
}

extension String {
    var trimmingSuffixNewlines: String {
        var s = Substring(self)
        while s.last == "\n" { s.removeLast() }
        return String(s)
    }
}
