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
            return true
        case "history":
            for (i, entry) in self.history.enumerated() { self.write("\(Pad.right(i + 1, 4))  \(entry)") }
            return true
        default:
            break
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

    /// `help`: every command of the language (from `CommandTable`) and the shell's own.
    public static var help: String {
        CommandTable.help + "\nShell: help, history, quit."
    }
}
