import ArgumentParser
import CEdit
import Foundation
import VMPhys
import VMSim

/// `vmsim shell`: scenario lines typed one at a time, each run at once with its effect printed.
/// On a terminal the lines are read with libedit (line editing, history recall with the arrow
/// keys, the history kept in `~/.vmsim_history` across sessions); from a pipe or file, plainly.
struct Shell: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An interactive session: type scenario lines and see their effect at once.",
        discussion: """
            On a terminal, lines are edited with libedit (arrow keys, Ctrl-A/E/K, …) and the up arrow \
            recalls earlier lines, kept in $VMSIM_HISTORY (default ~/.vmsim_history) across sessions. \
            'help' lists every command; 'load FILE' runs a scenario and keeps going.
            """)

    @OptionGroup var machine: MachineOptions

    @Flag(help: "Print one line per kernel event.")
    var trace = false

    /// Boots the machine and handles lines until `quit` or the end of the input.
    func run() throws {
        _ = try self.machine.apply(to: MachineConfig())
        let session: ShellSession
        do {
            session = try ShellSession(overrides: self.machine.settings, trace: self.trace) { print($0) }
        } catch {
            throw CLIError(message: error.description)
        }
        ShellExercises(write: { print($0) }).install(on: session)
        let input: any ShellInput = isatty(STDIN_FILENO) != 0 ? EditLineInput() : PlainInput()
        input.greet()
        while let line = input.next() {
            if !session.handle(line.hasSuffix("\r") ? String(line.dropLast()) : line) { break }
        }
        input.close()
        if session.exitStatus != 0 { throw ExitCode(session.exitStatus) }
    }
}

/// Where the shell's lines come from.
protocol ShellInput {
    /// Printed once before the first prompt.
    func greet()
    /// The next line without its newline, or nil at the end of the input.
    func next() -> String?
    /// Called once when the session ends.
    func close()
}

/// Lines from a pipe or a file: no prompt, no editing (what a script or test feeds).
struct PlainInput: ShellInput {
    /// No greeting for a script.
    func greet() {}
    /// The next line of standard input.
    func next() -> String? { readLine(strippingNewline: true) }
    /// Nothing to save.
    func close() {}
}

/// Lines from a terminal through libedit's readline interface: editing, history recall, and
/// the history saved to a file (the last `historyLimit` lines) when the session ends.
final class EditLineInput: ShellInput {
    /// `$VMSIM_HISTORY`, else `~/.vmsim_history`; nil (no file) without a home directory.
    let historyPath: String?
    /// The most lines the history file keeps.
    static let historyLimit: Int32 = 1000

    /// Loads the history file and names the program for `~/.editrc`.
    init() {
        let env = ProcessInfo.processInfo.environment
        if let path = env["VMSIM_HISTORY"], !path.isEmpty {
            self.historyPath = path
        } else if let home = env["HOME"], !home.isEmpty {
            self.historyPath = home + "/.vmsim_history"
        } else {
            self.historyPath = nil
        }
        vmsim_edit_set_name()
        using_history()
        stifle_history(Self.historyLimit)
        if let path = self.historyPath { _ = read_history(path) }
    }

    /// The banner before the first prompt.
    func greet() {
        print("vmsim shell — type 'help' for commands, 'quit' to leave.")
        fflush(nil)
    }

    /// Reads an edited line at the `vmsim>` prompt and adds it to the history.
    func next() -> String? {
        fflush(nil)
        guard let raw = readline("vmsim> ") else { return nil }
        defer { free(raw) }
        let line = String(cString: raw)
        // Recall every non-blank line but not a repeat of the one before it.
        if !line.allSatisfy({ $0 == " " || $0 == "\t" }) {
            if vmsim_edit_newest().map({ String(cString: $0) }) != line { add_history(raw) }
        }
        return line
    }

    /// Saves the history to the file.
    func close() {
        if let path = self.historyPath { _ = write_history(path) }
    }
}
