import ArgumentParser
import Foundation
import VMCore
import VMExercise
import VMPhys
import VMSim
import VMTrace
import VMTypes

/// An error the CLI reports in one line, with its exit status.
struct CLIError: Error, CustomStringConvertible {
    /// What went wrong, in one line.
    var message: String
    /// The exit status: 2, bad input.
    var status: Int32 = 2
    /// The message.
    var description: String { self.message }
}

/// `vmsim`: the root command and its subcommands.
struct VMSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmsim",
        abstract: "The Linux memory manager as a program you can run, step through and measure.",
        version: "vmsim 0.5.0 (a model of the Linux 6.18 memory manager; glibc 2.36 malloc)",
        subcommands: [
            Run.self, Shell.self, Translate.self, Replay.self, Compare.self, MRC.self, TraceGen.self,
            ReplayMalloc.self, Sweep.self, Exercise.self, Serve.self, HostSettingsCommand.self,
        ])

    /// Parses and runs; prints errors in one line to stderr and exits 2 (bad input) or the
    /// status the error carries. Help and version go to stdout with status 0.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.count >= 2 && arguments[0] == "exercise" && arguments[1] == "ostep" {
            OSTEPExercise.main(arguments: Array(arguments.dropFirst(2)))
        }
        if arguments.count >= 2 && arguments[0] == "exercise",
            let script = OSTEPScript(rawValue: arguments[1]),
            OSTEPWorked.supported.contains(script)
        {
            OSTEPWorkedCommand.main(script: script, arguments: Array(arguments.dropFirst(2)))
        }
        do {
            var command = try Self.parseAsRoot(
                Self.rewritingTraceLists(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            let (message, status) = Self.report(for: error)
            if message.isEmpty {
                // Nothing to add (an ExitCode after complete output).
            } else if status == 0 {
                print(message)
            } else {
                writeStderr(message + "\n")
            }
            Foundation.exit(status)
        }
    }

    /// `--trace fault,reclaim` and `--trace=fault,reclaim` become `--trace --trace-only LIST`
    /// (the argument parser has no options with an optional value). The word after `--trace`
    /// is taken as a list only when every comma-separated part is a category, so `--trace FILE`
    /// still runs FILE.
    static func rewritingTraceLists(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        func isList(_ s: String) -> Bool {
            let parts = s.split(separator: ",", omittingEmptySubsequences: false)
            return !parts.isEmpty
                && parts.allSatisfy { $0 == "all" || EventCategory(rawValue: String($0)) != nil }
        }
        while i < arguments.count {
            let a = arguments[i]
            if a.hasPrefix("--trace=") {
                out += ["--trace", "--trace-only", String(a.dropFirst("--trace=".count))]
            } else if a == "--trace", i + 1 < arguments.count, isList(arguments[i + 1]) {
                out += ["--trace", "--trace-only", arguments[i + 1]]
                i += 1
            } else {
                out.append(a)
            }
            i += 1
        }
        return out
    }

    /// The one-line message (or help text, with status 0) and exit status for an error.
    static func report(for error: any Error) -> (message: String, status: Int32) {
        if let error = error as? CLIError { return ("vmsim: " + error.message, error.status) }
        // A run that finished but whose expectations failed: its output already said why.
        if let code = error as? ExitCode { return ("", code.rawValue) }
        if Self.exitCode(for: error) == .success { return (Self.fullMessage(for: error), 0) }
        var text = Self.message(for: error)
        if text.hasPrefix("Error: ") { text.removeFirst(7) }
        return ("vmsim: " + text.split(separator: "\n").joined(separator: " "), 2)
    }
}

/// Flags that describe the machine; shared by every command that boots one.
struct MachineOptions: ParsableArguments {
    @Option(help: "RAM size (16MiB … 1TiB; units B, KiB, MiB, GiB, TiB or K, M, G).")
    var memory: String?
    @Option(help: "Architecture: x86_64, x86_64-la57, i386, i386-pae.")
    var arch: String?
    @Option(help: "Explicit zone sizes in managed pages, e.g. DMA=3840,DMA32=772917,Normal=5394266.")
    var zones: String?
    @Option(
        name: .customLong("min-free-kbytes"),
        help: "vm.min_free_kbytes (0 … 1073741824; default: the kernel's formula).")
    var minFreeKbytes: String?
    @Option(
        name: .customLong("watermark-scale-factor"), help: "vm.watermark_scale_factor (1…3000, default 10).")
    var watermarkScaleFactor: String?
    @Option(
        name: .customLong("lowmem-reserve-ratio"),
        help: "vm.lowmem_reserve_ratio, one per zone (each ≥ 0; 0 reserves nothing), e.g. 256,256,32,0,0.")
    var lowmemReserveRatio: String?
    @Option(
        name: .customLong("kernel-image"),
        help:
            "Size of the kernel image reserved at boot: whole pages, and it must fit in RAM (default 12MiB).")
    var kernelImage: String?
    @Option(help: "Possible CPUs (1 … 64); sizes per-CPU lists and slab orders (default 2).")
    var cpus: String?
    @Option(help: "The disk under the file system: hdd, ssd, nvme (default ssd).")
    var disk: String?
    @Option(
        help:
            "A swap partition of this size, enabled at boot (e.g. 512MiB; default none). Like Linux, swapon uses at most the slots a swap entry can name."
    )
    var swap: String?
    @Option(help: "kswapd model: modern (woken by allocations) or periodic (every second, as in 2.4).")
    var kswapd: String?
    @Option(
        help:
            "Page reclaim: classic (the active/inactive lists) or mglru (the multi-generational LRU, lru_gen); default classic, as the measured 6.18 kernel."
    )
    var reclaim: String?

    /// Each flag's syntax and the range it has whatever else is set, before any work; ranges that
    /// depend on other settings (RAM against the architecture, zones against RAM, a scenario's
    /// `machine` line) are checked when the machine boots. Errors name the flag.
    func validate() throws {
        do { _ = try self.apply(to: MachineConfig()) } catch let error as CLIError {
            throw ValidationError(error.message)
        }
    }

    /// The flags as (setting, value) pairs, in the order arch first (others depend on its page size).
    var settings: [(String, String)] {
        var result: [(String, String)] = []
        if let arch { result.append(("arch", arch)) }
        if let memory { result.append(("memory", memory)) }
        if let zones { result.append(("zones", zones)) }
        if let minFreeKbytes { result.append(("min-free-kbytes", minFreeKbytes)) }
        if let watermarkScaleFactor { result.append(("watermark-scale-factor", watermarkScaleFactor)) }
        if let lowmemReserveRatio { result.append(("lowmem-reserve-ratio", lowmemReserveRatio)) }
        if let kernelImage { result.append(("kernel-image", kernelImage)) }
        if let cpus { result.append(("cpus", cpus)) }
        if let disk { result.append(("disk", disk)) }
        if let swap { result.append(("swap", swap)) }
        if let kswapd { result.append(("kswapd", kswapd)) }
        if let reclaim { result.append(("reclaim", reclaim)) }
        return result
    }

    /// Applies the flags on top of `base`; errors name the flag.
    func apply(to base: MachineConfig) throws -> MachineConfig {
        var config = base
        for (name, value) in self.settings {
            do {
                try MachineSpec.apply(name, value, to: &config)
            } catch {
                throw CLIError(message: "--\(error.setting): \(error.message)")
            }
        }
        return config
    }
}

/// Boots a machine, turning configuration errors into a one-line CLI error naming the flag.
func bootKernel(_ config: MachineConfig) throws -> Kernel {
    do {
        return try Kernel(config: config)
    } catch {
        throw CLIError(message: "--\(error.setting): \(error.message)")
    }
}

/// The reports named by `--show` (comma-separated), each checked against `ReportName.all`.
func parseReportList(_ text: String?) throws -> [String] {
    guard let text else { return [] }
    return try text.split(separator: ",").map { s -> String in
        let report = String(s).trimmingSpaces
        guard ReportName.all.contains(report) else {
            throw CLIError(
                message:
                    "--show: unknown report '\(report)' (expected \(ReportName.all.joined(separator: ", ")))")
        }
        return report
    }
}
