import Glibc
import VMCore
import VMTypes

/// The state of an interactive `vmsim shell`: one booted kernel, the static picture of
/// processes and regions, and the history of the lines it accepted (which is itself a scenario).
public final class ShellSession {
    public let runner: ScenarioRunner
    var parser = ScenarioParser(file: "shell")
    /// Lines that parsed and ran, in order.
    public private(set) var history: [String] = []
    /// Lines read so far (numbers errors like a file's lines).
    var lineNumber = 0
    let write: (String) -> Void

    public init(overrides: [(String, String)], trace: Bool, write: @escaping (String) -> Void)
        throws(ScenarioError)
    {
        self.write = write
        self.runner = try ScenarioRunner(scenario: nil, overrides: overrides, trace: trace, write: write)
        // After every command, its effect (faults, RSS, free memory, reclaim …) on one line.
        self.runner.narrator = Narrator(source: nil, echo: false)
        self.parser.markStarted()
    }

    /// Commands handled above the scenario language, by their first word: the handler gets the
    /// rest of the line. `help` lists `extraHelp` after the shell's own commands.
    public var extraCommands: [String: (String) -> Void] = [:]
    public var extraHelp: [String] = []

    /// The status the shell exits with at the end of its input: 1 if an expectation failed or
    /// an operation was refused, else 0.
    public var exitStatus: Int32 {
        self.runner.expectationsFailed > 0 || self.runner.runtimeErrors > 0 ? 1 : 0
    }

    /// Handles one line; returns false when the session should end.
    public func handle(_ line: String) -> Bool {
        self.lineNumber += 1
        let trimmed = line.trimmingCharacters()
        switch trimmed {
        case "": return true
        case "quit", "exit": return false
        case "help":
            self.write(ShellSession.help)
            for line in self.extraHelp { self.write(line) }
            return true
        case "history":
            for (i, entry) in self.history.enumerated() { self.write("\(Pad.right(i + 1, 4))  \(entry)") }
            return true
        case "trace", "trace on":
            self.runner.traceCategories = Set(EventCategory.allCases)
            self.runner.trace = true
            return true
        case "trace off":
            self.runner.trace = false
            return true
        default:
            break
        }
        if trimmed.hasPrefix("trace ") {
            switch EventCategory.parseList(String(trimmed.dropFirst(6))) {
            case .success(let set):
                self.runner.traceCategories = set
                self.runner.trace = true
            case .failure(let error):
                self.write("shell: " + error.message.replacingOccurrences(of: "--trace: ", with: "trace: "))
            }
            return true
        }
        // Commands a front end adds (the command line's `exercise` and `answer`), by first word.
        let word = String(trimmed.prefix { $0 != " " && $0 != "\t" })
        if let handler = self.extraCommands[word] {
            handler(String(trimmed.dropFirst(word.count)).trimmingCharacters())
            return true
        }
        if trimmed.hasPrefix("load ") { return self.load(String(trimmed.dropFirst(5)).trimmingCharacters()) }
        if trimmed.hasPrefix("save ") {
            let path = String(trimmed.dropFirst(5)).trimmingCharacters()
            let text = self.history.joined(separator: "\n") + "\n"
            if let f = fopen(path, "w") {
                fputs(text, f)
                fclose(f)
                self.write("saved \(self.history.count) lines to \(path)")
            } else {
                self.write("shell: cannot write \(path)")
            }
            return true
        }
        do {
            guard let statement = try self.parser.parseLine(trimmed, number: self.lineNumber) else {
                return true
            }
            if statement.command is MachineCommand {
                self.write("shell: the machine is fixed at start; pass machine flags to 'vmsim shell'")
                return true
            }
            self.history.append(statement.text)
            self.runner.execute(statement)
        } catch {
            self.write(error.description)
        }
        return true
    }

    /// `load FILE`: runs a scenario file's lines in this session (each checked and run like a
    /// typed line, errors naming the file's line and column), then the shell goes on.
    func load(_ path: String) -> Bool {
        guard let f = fopen(path, "r") else {
            self.write("shell: cannot open \(path)")
            return true
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > 64 << 20 { break }
        }
        fclose(f)
        guard bytes.count <= 64 << 20 else {
            self.write("shell: \(path) is larger than 64 MiB")
            return true
        }
        let lines: [String]
        do {
            lines = try ScenarioLexer.lines(bytes, file: path)
        } catch {
            self.write(error.description)
            return true
        }
        for (i, line) in lines.enumerated() {
            do {
                guard var statement = try self.parser.parseLine(line, number: i + 1) else { continue }
                statement.location.file = path
                if statement.command is MachineCommand {
                    self.write("\(path):\(i + 1): the machine is fixed at start; skipped")
                    continue
                }
                self.history.append(statement.text)
                self.runner.execute(statement)
            } catch {
                // The parser numbers the file's lines; the name is the file's, not the shell's.
                var e = error
                e.location.file = path
                self.write(e.description + " (the rest of \(path) is not run)")
                break
            }
        }
        return true
    }

    /// `help`: every command of the language (from `CommandTable`) and the shell's own.
    public static var help: String {
        CommandTable.help
            + "\nShell: help, history, load FILE, save FILE, trace on|off|CATEGORIES (\(EventCategory.allCases.map(\.rawValue).joined(separator: ",")))), quit."
    }
}
