import ArgumentParser
import Foundation
import VMCore
import VMPhys
import VMSim
import VMTrace
import VMTypes

/// `vmsim trace-gen`: a synthetic trace of a pattern, in any trace format.
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

    /// Checks every value against its range before anything is written.
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

    /// Generates the trace into `--output`.
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
