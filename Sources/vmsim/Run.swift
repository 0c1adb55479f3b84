import ArgumentParser
import VMCore
import VMPhys
import VMSim
import VMTypes

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a machine and print its memory reports.")

    @OptionGroup var machine: MachineOptions

    @Option(
        help:
            "Reports to print: meminfo, buddyinfo, zoneinfo, slabinfo, vmallocinfo, vmstat, dmesg (comma-separated)."
    )
    var show: String = "meminfo,buddyinfo,zoneinfo,slabinfo,vmallocinfo"

    @Flag(help: "Print the final state as one JSON object instead of text.")
    var json = false

    func run() throws {
        print(try self.output(), terminator: "")
    }

    /// Everything `run` prints.
    func output() throws -> String {
        let reports = self.show.split(separator: ",").map { String($0).trimmingSpaces }
        for report in reports where !ReportName.all.contains(report) {
            throw CLIError(
                message:
                    "--show: unknown report '\(report)' (expected \(ReportName.all.joined(separator: ", ")))")
        }
        let kernel = try bootKernel(try self.machine.apply(to: MachineConfig()))
        if self.json { return MachineReport(kernel: kernel).json() + "\n" }
        var out = kernel.phys.log.text + "\n"
        for report in reports {
            out += "\n==> /proc/\(report) <==\n"
            out += ReportName.render(report, kernel)
        }
        return out
    }
}

/// The named global reports and how to render them.
enum ReportName {
    static let all = ["meminfo", "buddyinfo", "zoneinfo", "slabinfo", "vmallocinfo", "vmstat", "dmesg"]
    static func render(_ name: String, _ kernel: Kernel) -> String {
        switch name {
        case "meminfo": return ProcFS.meminfo(kernel)
        case "buddyinfo": return ProcFS.buddyinfo(kernel)
        case "zoneinfo": return ProcFS.zoneinfo(kernel)
        case "slabinfo": return ProcFS.slabinfo(kernel)
        case "vmallocinfo": return ProcFS.vmallocinfo(kernel)
        case "vmstat": return ProcFS.vmstat(kernel)
        default: return kernel.phys.log.text + "\n"
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
