import ArgumentParser
import Foundation
import VMCore
import VMPhys
import VMSim
import VMTrace
import VMTypes

/// `vmsim mrc TRACE`: miss-ratio curves — exact LRU, SHARDS, other policies by simulation.
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

    /// Checks `--points` and `--shards` ranges.
    func validate() throws {
        guard self.points >= 1 && self.points <= 10_000 else { throw ValidationError("--points: 1 to 10000") }
        if let r = self.shards, !(r > 0 && r <= 1) { throw ValidationError("--shards: a rate in (0, 1]") }
    }

    /// Computes the curves and prints the table; writes the CSV and SVG asked for.
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

    /// Writes `text` to `path` (`-`: standard output).
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
