import ArgumentParser
import Foundation
import VMCore
import VMPhys
import VMSim
import VMTypes

/// `vmsim run [FILE]`: boots a machine and runs a scenario (the demo without FILE), narrated
/// line by line, traced, timed or as JSON.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario (the built-in demo when no file is given) and print what it shows.",
        discussion:
            "Machine flags override the scenario's 'machine' line. Exit status: 0 when every expectation holds, 1 when one fails or an operation is refused, 2 for bad input."
    )

    @Argument(
        help: "A scenario file (see examples/), or - for standard input. Without one, the built-in demo runs."
    )
    var file: String?

    @OptionGroup var machine: MachineOptions

    @Option(
        help:
            "Reports to print after the scenario, comma-separated: meminfo, vmstat, buddyinfo, zoneinfo, slabinfo, vmallocinfo, dmesg, lru, tlb, processes, diskstats, dentry-state, inode-nr, sysvipc/shm, pagecache, swaps."
    )
    var show: String?

    @Flag(help: "Print the final state (processes, VMAs, counters, reports) as one JSON object.")
    var json = false

    @Flag(
        help:
            "Print kernel events as they happen, runs of one fault handler collapsed. --trace LIST (or --trace=LIST) selects categories: \(EventCategory.allCases.map(\.rawValue).joined(separator: ", "))."
    )
    var trace = false

    @Option(
        name: .customLong("trace-only"),
        help: ArgumentHelp("The categories of --trace (what --trace LIST sets).", visibility: .hidden))
    var traceOnly: String?

    @Option(
        help:
            "Write a timeline of the run to this file: .csv (every sample: RSS per process, free memory per zone, LRU lists, swap, fault/swap/reclaim counters) or .svg (memory, fault rates and swap traffic over user accesses)."
    )
    var timeline: String?

    @Option(help: "User accesses between timeline samples inside a line (1 … 1000000000).")
    var interval: UInt64 = 4096

    @Option(
        help:
            "Write every kernel event to this file as JSON Lines (schema version \(EventJSON.version), one object per event with its scenario line and time; see docs/SCENARIOS.md)."
    )
    var events: String?

    @Flag(
        name: .shortAndLong,
        help: "Do not narrate: print only what the scenario shows, failures and the one-line result.")
    var quiet = false

    @Flag(
        name: .customLong("on-host"),
        help: "Also run the scenario for real on this Linux kernel and print both side by side (see README).")
    var onHost = false

    @Option(
        name: .customLong("repeat"), help: "Host runs for --on-host (1 … 100); the host's spread is shown.")
    var repeatCount = 1

    @Flag(help: "With --on-host: boot the simulated machine with the host's settings (vmsim host-settings).")
    var likeHost = false

    @Option(
        help:
            "With --on-host: the most the scenario may map and write (default: half the host's available memory)."
    )
    var hostMemoryLimit: String?

    /// Checks the flags that take values (interval, timeline name, trace categories).
    func validate() throws {
        guard (1...1_000_000_000).contains(self.interval) else {
            throw ValidationError("--interval: \(self.interval) is out of range (1 … 1000000000)")
        }
        if let path = self.timeline, !path.hasSuffix(".csv") && !path.hasSuffix(".svg") {
            throw ValidationError("--timeline: '\(path)' must end in .csv or .svg")
        }
    }

    /// Parses the scenario, runs it and prints its output; exits 1 when an expectation failed.
    func run() throws {
        if self.onHost { return try self.runOnHost() }
        let (text, status) = try self.output { line in
            if !self.json { print(line) }
        }
        if self.json { print(text) }
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs the scenario; streams lines to `write` (unless JSON) and returns the JSON text (or
    /// the summary) and the exit status.
    func output(write: @escaping (String) -> Void) throws -> (String, Int32) {
        let reports = try parseReportList(self.show)
        let name: String
        let source: [UInt8]
        if let file = self.file {
            name = file == "-" ? "<stdin>" : file
            source = try readInput(file)
        } else {
            name = DemoScenario.name
            source = Array(DemoScenario.text.utf8)
        }
        do {
            // Settings first, so a bad flag is reported before the scenario is parsed.
            _ = try self.machine.apply(to: MachineConfig())
            let scenario = try ScenarioParser.parse(bytes: source, file: name)
            var categories = Set(EventCategory.allCases)
            if let list = self.traceOnly { categories = try EventCategory.parseList(list).get() }
            let runner = try ScenarioRunner(
                scenario: scenario, overrides: self.machine.settings,
                trace: self.trace || self.traceOnly != nil,
                write: write)
            runner.traceCategories = categories
            var eventFile: UnsafeMutablePointer<FILE>?
            if let path = self.events {
                guard let f = fopen(path + ".tmp", "w") else {
                    throw CLIError(message: "--events: cannot write \(path)")
                }
                eventFile = f
                runner.eventLog = { line in
                    fputs(line, f)
                    fputc(10, f)
                }
            }
            defer {
                if let f = eventFile, let path = self.events {
                    // Complete or not at all: the file appears when the run has ended.
                    if fclose(f) == 0 { rename(path + ".tmp", path) } else { unlink(path + ".tmp") }
                }
            }
            if !self.quiet || self.json {
                // Narrated: each line with its effect (in JSON, the effects go in "lines").
                runner.narrator = Narrator(
                    source: String(decoding: source, as: UTF8.self), printing: !self.quiet && !self.json)
            }
            if self.timeline != nil {
                runner.timeline = Timeline(interval: self.interval)
                runner.timeline?.sample(runner)
            }
            runner.run(scenario)
            if !self.json { runner.finishNarration() }
            if let path = self.timeline, let timeline = runner.timeline {
                let text =
                    path.hasSuffix(".svg") ? timeline.svg(title: "\(name): the run over time") : timeline.csv
                guard writeWholeFile(path, text) else {
                    throw CLIError(message: "--timeline: cannot write \(path)")
                }
            }
            for report in reports {
                write("==> \(ProcFS.reportPath(report)) <==")
                var text = ReportName.render(report, runner.kernel)
                if text.hasSuffix("\n") { text.removeLast() }
                write(text)
            }
            // A refused operation means the scenario did not do what it says: that fails the run too.
            let status: Int32 = runner.expectationsFailed > 0 || runner.runtimeErrors > 0 ? 1 : 0
            if self.json { return (ScenarioReport(runner: runner).json(), status) }
            write("\(name): \(runner.summary)")
            return (runner.summary, status)
        } catch let error as ScenarioError {
            throw CLIError(message: error.description)
        }
    }
}

/// The named global reports and how to render them.
enum ReportName {
    /// The global reports `--show` takes.
    static let all = ProcFS.globalReports
    /// The text of report `name` on `kernel`.
    static func render(_ name: String, _ kernel: Kernel) -> String { ProcFS.global(name, kernel) }
}

extension String {
    /// The string without leading and trailing spaces.
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// The bytes of a file named on the command line (`-`: standard input). FileHandle rather than
/// FileManager.contents, so devices and pipes (/dev/null, /dev/stdin) read too.
func readInput(_ path: String) throws -> [UInt8] {
    let handle: FileHandle
    if path == "-" {
        handle = FileHandle.standardInput
    } else {
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw CLIError(message: "\(path): cannot open the file")
        }
        handle = h
    }
    defer { if path != "-" { try? handle.close() } }
    do {
        return Array(try handle.readToEnd() ?? Data())
    } catch {
        throw CLIError(message: "\(path): cannot read the file (\(error.localizedDescription))")
    }
}
