import ArgumentParser
import Foundation
import VMCore
import VMPhys
import VMSim
import VMTrace
import VMTypes

/// `vmsim compare TRACE`: policies × sizes on one trace read into memory once, in parallel.
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

    /// Checks that the output forms exclude each other and the sizes parse.
    func validate() throws {
        if self.csv && self.json { throw ValidationError("--csv and --json exclude each other") }
        _ = try checkSizes(self.frames)
    }

    /// Reads the trace, runs every cell and prints the table, CSV or JSON.
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
