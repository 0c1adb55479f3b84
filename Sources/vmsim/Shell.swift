import ArgumentParser
import Foundation
import VMCore
import VMPhys
import VMSim

struct Shell: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An interactive session: type scenario lines and see their effect at once.")

    @OptionGroup var machine: MachineOptions

    @Flag(help: "Print one line per kernel event.")
    var trace = false

    func run() throws {
        _ = try self.machine.apply(to: MachineConfig())
        let interactive = isatty(STDIN_FILENO) != 0
        let session: ShellSession
        do {
            session = try ShellSession(overrides: self.machine.settings, trace: self.trace) { print($0) }
        } catch {
            throw CLIError(message: error.description)
        }
        ShellExercises(write: { print($0) }).install(on: session)
        if interactive { print("vmsim shell — type 'help' for commands, 'quit' to leave.") }
        while true {
            if interactive {
                print("vmsim> ", terminator: "")
                fflush(nil)
            }
            guard let line = readLine(strippingNewline: true) else { break }
            if !session.handle(line.hasSuffix("\r") ? String(line.dropLast()) : line) { break }
        }
        if session.exitStatus != 0 { throw ExitCode(session.exitStatus) }
    }
}
