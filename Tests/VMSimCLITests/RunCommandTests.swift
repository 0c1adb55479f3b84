import Testing

@testable import VMSimCLI

@Suite struct RunCommandTests {
    func output(_ args: [String]) throws -> String {
        let command = try Run.parse(args)
        return try command.output()
    }

    func failure(_ args: [String]) -> (message: String, status: Int32) {
        do {
            let command = try Run.parse(args)
            _ = try command.output()
            return ("no error", 0)
        } catch {
            return VMSimCommand.report(for: error)
        }
    }

    @Test func runWithoutArgumentsBootsTheDefaultMachineAndPrintsTheReports() throws {
        let text = try output([])
        for report in ["meminfo", "buddyinfo", "zoneinfo", "slabinfo", "vmallocinfo"] {
            #expect(text.contains("==> /proc/\(report) <=="))
        }
        #expect(text.contains("MemTotal:        1018884 kB"))
        #expect(text.contains("Zone ranges:"))
    }

    @Test func flagsChangeTheMachine() throws {
        let text = try output(["--memory", "256MiB", "--arch", "i386", "--show", "buddyinfo"])
        #expect(text.contains("Node 0, zone   Normal"))
        #expect(!text.contains("DMA32"))
        let wsf = try output([
            "--zones", "DMA=3840,DMA32=772917,Normal=5394266", "--min-free-kbytes", "67584",
            "--watermark-scale-factor", "10", "--show", "zoneinfo",
        ])
        #expect(wsf.contains("        min      14769\n        low      20163\n        high     25557\n"))
    }

    @Test(arguments: [
        (["--memory", "3bananas"], "vmsim: --memory: '3bananas' is not a size"),
        (["--zones", "DMA=999999"], "vmsim: --zones: zone DMA of 999999 pages is larger"),
        (["--zones", "Bogus=1"], "vmsim: --zones: unknown zone 'Bogus'"),
        (
            ["--memory", "16MiB", "--kernel-image", "15MiB"],
            "vmsim: --memory: 16 MiB is smaller than the kernel image"
        ),
        (["--arch", "mips"], "vmsim: --arch: unknown architecture 'mips'"),
        (["--show", "meminfo,bogus"], "vmsim: --show: unknown report 'bogus'"),
        (["--watermark-scale-factor", "0"], "vmsim: --watermark-scale-factor: expected 1…3000"),
        (["--memory"], "vmsim: Missing value for '--memory <memory>'"),
        (["--frobnicate"], "vmsim: Unknown option '--frobnicate'"),
    ])
    func badFlagsGiveOneLineAndStatusTwo(args: [String], prefix: String) {
        let (message, status) = failure(args)
        #expect(status == 2)
        #expect(message.hasPrefix(prefix), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test func jsonOutputIsOneObject() throws {
        let text = try output(["--json"])
        #expect(text.hasPrefix("{"))
        #expect(text.hasSuffix("}\n"))
        #expect(text.contains("\"meminfo\""))
    }
}
