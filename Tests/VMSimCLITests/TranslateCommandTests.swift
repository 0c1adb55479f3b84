import Testing

@testable import VMSimCLI

@Suite struct TranslateCommandTests {
    @Test func i386Seed7PrintsTablesAddressesAndWorkedAnswers() throws {
        let text = try Translate.parse(["--arch", "i386", "--seed", "7", "--answers"]).output()
        #expect(text.hasPrefix("Address translation exercise — i386: 2 levels (10/10/12)"))
        #expect(text.contains("CR3 = "))
        #expect(text.contains("\nAnswers:\n1. "))
        #expect(text.contains("page fault"))
        #expect(!(try Translate.parse(["--arch", "i386", "--seed", "7"]).output()).contains("Answers:"))
    }

    @Test func x86_64AndTeachingGeometriesWork() throws {
        #expect(
            try Translate.parse(["--arch", "x86_64", "--seed", "7", "--answers"]).output().contains("PUD["))
        let teach = try Translate.parse([
            "--address-bits", "15", "--page-size", "32", "--level-bits", "5,5", "--seed", "7", "--answers",
        ]).output()
        #expect(teach.contains("--> pde index:"))
        #expect(teach.contains("PDBR: "))
    }

    @Test(arguments: [
        (["--arch", "sparc"], "vmsim: --arch: unknown architecture 'sparc'"),
        (["--segmentation", "paged"], "vmsim: --segmentation: unknown style 'paged'"),
        (
            ["--arch", "x86_64", "--segmentation", "protected"],
            "vmsim: --segmentation: protected-mode segments need i386"
        ),
        (["--count", "0"], "vmsim: --count: expected 1…64"),
        (
            ["--address-bits", "15", "--page-size", "32", "--level-bits", "5,4"],
            "vmsim: --level-bits: 5+4 index bits + 5 offset bits"
        ),
        (["--address-bits", "15"], "vmsim: --address-bits, --page-size and --level-bits go together"),
        (
            ["--address-bits", "15", "--page-size", "30", "--level-bits", "5,5"],
            "vmsim: --page-size: 30 is not a power of two"
        ),
        (["--seed", "-3"], "vmsim: "),
    ])
    func badArgumentsGiveOneLineAndStatusTwo(args: [String], prefix: String) {
        do {
            _ = try Translate.parse(args).output()
            Issue.record("expected an error")
        } catch {
            let (message, status) = VMSimCommand.report(for: error)
            #expect(status == 2)
            #expect(message.hasPrefix(prefix), "\(message)")
            #expect(!message.contains("\n"))
        }
    }
}
