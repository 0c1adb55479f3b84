import ArgumentParser
import Foundation
import VMHost
import VMPhys
import VMSim
import VMTypes

/// `vmsim run FILE --on-host`: the scenario in the simulation and on the host kernel, side by
/// side (VMHost). Exit status 0 only when every compared line agrees.
extension Run {
    func runOnHost() throws {
        guard let file = self.file else { throw CLIError(message: "--on-host: give a scenario file") }
        guard (1...100).contains(self.repeatCount) else {
            throw CLIError(message: "--repeat: \(self.repeatCount) is out of range (1 … 100)")
        }
        #if !os(Linux)
            throw CLIError(
                message: "--on-host: the host executor needs Linux (/proc, cachestat, MAP_FIXED_NOREPLACE)")
        #endif
        guard let helper = HostHelperLocation.find() else {
            throw CLIError(
                message:
                    "--on-host: vmsim-host-helper not found next to vmsim (build it: swift build) or in $VMSIM_HOST_HELPER"
            )
        }
        var limit: UInt64?
        if let text = self.hostMemoryLimit {
            do { limit = try ByteSize.parse(text) } catch {
                throw CLIError(message: "--host-memory-limit: '\(text)' is not a size (e.g. 2GiB)")
            }
        }
        let name = file == "-" ? "<stdin>" : file
        let source = try readInput(file)
        HostSandbox.installInterruptHandlers()
        let comparison: HostComparison
        do {
            _ = try self.machine.apply(to: MachineConfig())
            let scenario = try ScenarioParser.parse(bytes: source, file: name)
            let likeHost = self.likeHost ? HostSettings.read(blockDeviceFor: NSTemporaryDirectory()) : nil
            comparison = try HostComparison.run(
                scenario, file: name, overrides: self.machine.settings, likeHost: likeHost,
                repeats: self.repeatCount, helper: helper, memoryLimit: limit)
        } catch let error as ScenarioError {
            throw CLIError(message: error.description)
        } catch let error as HostError {
            throw CLIError(message: error.description)
        }
        print(self.json ? comparison.json : comparison.text)
        if !comparison.allAgree { throw ExitCode(1) }
    }
}

/// `vmsim host-settings`: the host's settings as a `machine` line (and a `sysctl` line), with
/// the ones vmsim cannot express as comments.
struct HostSettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host-settings",
        abstract: "Print this host's memory settings as a scenario 'machine' line (what --like-host applies)."
    )

    @Option(help: "The directory whose block device gives read_ahead_kb (default: the temporary directory).")
    var directory: String?

    func run() throws {
        let settings = HostSettings.read(blockDeviceFor: self.directory ?? NSTemporaryDirectory())
        print(settings.machineLine)
    }
}
