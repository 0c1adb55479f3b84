import ArgumentParser
import Foundation
import VMExercise
import VMTrace

/// `vmsim exercise`: homework simulators reproduced byte for byte (OSTEP's).
struct Exercise: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exercises with answer keys.",
        subcommands: [OSTEPExercise.self])
}

/// `vmsim exercise ostep [--python 2|3] SCRIPT FLAGS…`: an OSTEP homework script, byte for byte.
///
/// Everything after SCRIPT belongs to the script (its own optparse flags, `-h` included), so the
/// command line is read here rather than by the argument parser: `VMSimCommand.main` hands
/// `exercise ostep …` straight to `OSTEPExercise.main(arguments:)`.
struct OSTEPExercise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ostep",
        abstract: "Run an OSTEP virtual-memory homework script exactly as python would.",
        discussion: """
            SCRIPT is one of paging-policy, paging-linear-translate, paging-multilevel-translate, \
            relocation, segmentation, malloc; the flags \
            after it are the script's own (try -h). Output, errors and exit status are those of \
            `python3 SCRIPT.py FLAGS` (of Python 2.7 with --python 2), with a traceback reduced to its \
            last line.
            """)

    @Option(help: "The Python whose behaviour to reproduce: 3 (default) or 2.")
    var python: Int = 3
    @Argument(help: "The script.")
    var script: String
    @Argument(parsing: .captureForPassthrough, help: "The script's own flags.")
    var flags: [String] = []

    /// Runs the script with its own flags under the chosen Python's rules; exits with its status.
    func run() throws {
        guard let version = PythonVersion(rawValue: self.python) else {
            throw CLIError(message: "--python: expected 2 or 3, got \(self.python)")
        }
        guard let which = OSTEPScript(rawValue: self.script) else {
            throw CLIError(
                message: "exercise ostep: unknown script '\(self.script)' (expected "
                    + OSTEPScript.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        let environment = ScriptEnvironment(
            columns: ProcessInfo.processInfo.environment["COLUMNS"],
            readFile: { path in FileManager.default.contents(atPath: path).map { Array($0) } })
        let outcome = runOSTEP(
            which, arguments: self.flags, python: version, environment: environment,
            sink: { text in print(text, terminator: "") })
        writeStderr(outcome.stderr)
        if outcome.status != 0 { throw ExitCode(outcome.status) }
    }

    /// Parses `[--python N] SCRIPT FLAGS…` by hand (so the script's flags are never touched)
    /// and runs it; exits with the script's status.
    static func main(arguments: [String]) -> Never {
        var rest = arguments[...]
        var python = "3"
        while let first = rest.first, first.hasPrefix("--python") || first == "-h" || first == "--help" {
            if first == "-h" || first == "--help" {
                print(Self.helpMessage(columns: nil))
                Foundation.exit(0)
            }
            rest.removeFirst()
            if first == "--python" {
                guard let value = rest.first else {
                    writeStderr("vmsim: --python: expected 2 or 3\n")
                    Foundation.exit(2)
                }
                python = value
                rest.removeFirst()
            } else if first.hasPrefix("--python=") {
                python = String(first.dropFirst("--python=".count))
            } else {
                break
            }
        }
        guard let script = rest.first else {
            writeStderr(
                "vmsim: exercise ostep: missing SCRIPT ("
                    + OSTEPScript.allCases.map(\.rawValue).joined(separator: ", ") + ")\n")
            Foundation.exit(2)
        }
        guard let version = Int(python) else {
            writeStderr("vmsim: --python: expected 2 or 3, got '\(python)'\n")
            Foundation.exit(2)
        }
        let command = OSTEPExercise(python: version, script: script, flags: Array(rest.dropFirst()))
        do {
            try command.run()
        } catch {
            let (message, status) = VMSimCommand.report(for: error)
            if !message.isEmpty { writeStderr(message + "\n") }
            Foundation.exit(status)
        }
        Foundation.exit(0)
    }

    /// An empty command (the argument parser's decoding sets the fields).
    init() {}

    /// The command for `script` under Python `python` with `flags`.
    init(python: Int, script: String, flags: [String]) {
        self.python = python
        self.script = script
        self.flags = flags
    }
}
