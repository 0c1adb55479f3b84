import ArgumentParser
import Foundation
import VMExercise
import VMExerciseKernel
import VMTrace

/// `vmsim exercise`: homework simulators reproduced byte for byte (OSTEP's).
struct Exercise: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exercises with answer keys.",
        discussion: """
            Every exercise prints its problem; --answers prints the key as an answer file, \
            --explain the worked solution, --check FILE grades FILE (docs/exercises.md) and exits 1 \
            unless every answer is right. OSTEP's scripts in vmsim's voice: `vmsim exercise \
            paging-policy [--answers|--explain|--check FILE] [--python 2|3] SCRIPT-FLAGS…` (likewise \
            the other five scripts), the problem the \
            script poses for those flags.
            """,
        subcommands: [
            OSTEPExercise.self, FaultsExercise.self, CopyOnWriteExerciseCommand.self,
            BuddyExerciseCommand.self, WatermarksExercise.self,
            PageTablesExercise.self, ReplacementExerciseCommand.self,
        ])
}

/// What an exercise command prints: the problem, the key, the worked solution or a grade.
enum ExerciseOutput {
    case problem, answers, explain
    case check(String)

    /// What `exercise` prints as asked, and the exit status: `--check` reads the file and gives
    /// 1 unless every answer is right.
    static func render(_ exercise: WorkedExercise, _ mode: ExerciseOutput) throws -> (
        text: String, status: Int32
    ) {
        switch mode {
        case .problem: return (exercise.problemText, 0)
        case .answers: return (exercise.answerKey, 0)
        case .explain: return (exercise.explained, 0)
        case .check(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError(message: "--check: cannot read \(path)")
            }
            let grade: Grade
            do {
                grade = try exercise.grade(Array(data), file: path)
            } catch {
                throw CLIError(message: error.description)
            }
            return (exercise.report(grade), grade.allCorrect ? 0 : 1)
        }
    }

    /// Prints what `render` gives; a status other than 0 becomes the exit status.
    static func emit(_ exercise: WorkedExercise, _ mode: ExerciseOutput) throws {
        let (text, status) = try ExerciseOutput.render(exercise, mode)
        print(text, terminator: "")
        if status != 0 { throw ExitCode(status) }
    }
}

/// The flags every generated exercise takes.
struct NativeExerciseOptions: ParsableArguments {
    @Option(help: "Seed of the generated exercise.")
    var seed: UInt64 = 1
    @Option(help: "1 (easy), 2 or 3 (hard).")
    var difficulty: Int = 2
    @Flag(help: "Print the answer key (an answer file that grades as all correct).")
    var answers = false
    @Flag(help: "Print the worked solution with explanations.")
    var explain = false
    @Option(help: "Grade an answer file (lines `ID: ANSWER`, see docs/exercises.md).")
    var check: String?

    func run(_ kind: NativeExerciseKind) throws {
        let (text, status) = try self.output(kind)
        print(text, terminator: "")
        if status != 0 { throw ExitCode(status) }
    }

    /// The text the command prints and its exit status.
    func output(_ kind: NativeExerciseKind) throws -> (text: String, status: Int32) {
        let modes = [self.answers, self.explain, self.check != nil].filter { $0 }.count
        guard modes <= 1 else { throw CLIError(message: "give at most one of --answers, --explain, --check") }
        let exercise: WorkedExercise
        do {
            exercise = try nativeExercise(kind, seed: self.seed, difficulty: self.difficulty)
        } catch {
            throw CLIError(message: error.message)
        }
        let mode: ExerciseOutput =
            self.answers ? .answers : self.explain ? .explain : self.check.map { .check($0) } ?? .problem
        return try ExerciseOutput.render(exercise, mode)
    }
}

struct FaultsExercise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "Count the minor and major faults and the RSS after each line of a scenario.")
    @OptionGroup var options: NativeExerciseOptions
    func run() throws { try self.options.run(.faults) }
}

struct CopyOnWriteExerciseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cow",
        abstract: "Copy-on-write after fork: which frames are shared, which copied, mapcounts.")
    @OptionGroup var options: NativeExerciseOptions
    func run() throws { try self.options.run(.cow) }
}

struct BuddyExerciseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "buddy", abstract: "The buddy allocator's free lists after each allocation and free.")
    @OptionGroup var options: NativeExerciseOptions
    func run() throws { try self.options.run(.buddy) }
}

struct WatermarksExercise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watermarks",
        abstract: "Zone watermarks and lowmem reserves from min_free_kbytes, and watermark checks.")
    @OptionGroup var options: NativeExerciseOptions
    func run() throws { try self.options.run(.watermarks) }
}

struct PageTablesExercise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "page-tables",
        abstract: "Page tables per level and their size for an address-space layout, and TLB reach.")
    @OptionGroup var options: NativeExerciseOptions
    func run() throws { try self.options.run(.pageTables) }
}

struct ReplacementExerciseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replacement",
        abstract: "Linux's active/inactive lists after each reference, beside FIFO, LRU, CLOCK and OPT.")
    @OptionGroup var options: NativeExerciseOptions
    func run() throws { try self.options.run(.replacement) }
}

/// `vmsim exercise paging-policy|relocation [--answers|--explain|--check FILE] [--python 2|3]
/// FLAGS…`: the problem OSTEP's script poses for FLAGS, in vmsim's voice. The script's flags are
/// read by its own optparse port, so the command line is read here, not by the argument parser.
enum OSTEPWorkedCommand {
    static func main(script: OSTEPScript, arguments: [String]) -> Never {
        var mode = ExerciseOutput.problem
        var python = PythonVersion.three
        var flags: [String] = []
        var i = 0
        func fail(_ message: String) -> Never {
            writeStderr("vmsim: \(message)\n")
            Foundation.exit(2)
        }
        var ended = false
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            if ended || a == "--" {
                if !ended { ended = true }
                flags.append(a)
                continue
            }
            switch a {
            case "--answers": mode = .answers
            case "--explain": mode = .explain
            case "--check":
                guard i < arguments.count else { fail("--check: expected an answer file") }
                mode = .check(arguments[i])
                i += 1
            case "--python":
                guard i < arguments.count, let n = Int(arguments[i]), let v = PythonVersion(rawValue: n)
                else {
                    fail("--python: expected 2 or 3")
                }
                python = v
                i += 1
            default:
                if a.hasPrefix("--check=") {
                    mode = .check(String(a.dropFirst("--check=".count)))
                } else {
                    flags.append(a)
                }
            }
        }
        let environment = ScriptEnvironment(
            columns: ProcessInfo.processInfo.environment["COLUMNS"],
            readFile: { path in FileManager.default.contents(atPath: path).map { Array($0) } })
        switch OSTEPWorked.exercise(script, arguments: flags, python: python, environment: environment) {
        case .success(let exercise):
            do {
                try ExerciseOutput.emit(exercise, mode)
            } catch {
                let (message, status) = VMSimCommand.report(for: error)
                if !message.isEmpty { writeStderr(message + "\n") }
                Foundation.exit(status)
            }
            Foundation.exit(0)
        case .failure(let failure):
            print(failure.outcome.stdout, terminator: "")
            writeStderr(failure.outcome.stderr)
            Foundation.exit(failure.outcome.status)
        }
    }
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
