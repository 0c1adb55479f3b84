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

    /// The reader options the flags describe; errors name the flag.
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

    /// Opens `path` with these options; trace errors become one-line CLI errors.
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

/// The policy named `name` (case-insensitive); errors name `flag` and list the policies.
func parsePolicy(_ name: String, flag: String = "--policy") throws -> PolicyKind {
    guard let p = PolicyKind(rawValue: name.lowercased()) else {
        throw CLIError(
            message:
                "\(flag): unknown policy '\(name)' (expected \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", ")))"
        )
    }
    return p
}

/// A comma-separated list of policies, at least one.
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
