import Foundation
import Testing
import VMCore
import VMTypes

@testable import VMSim

/// Hostile scenarios must end cleanly: a `file:line:column` error before anything runs, or a
/// run whose every step leaves the kernel's invariants intact — never a trap, a hang or an
/// unbounded allocation. Deterministic (fixed seeds); `VMSIM_FUZZ=N` runs N inputs per test
/// instead of the CI count, for a longer local run.
@Suite struct ScenarioFuzzTests {
    /// Inputs per test in CI (a few seconds each in a debug build).
    static var count: Int {
        ProcessInfo.processInfo.environment["VMSIM_FUZZ"].flatMap(Int.init) ?? 120
    }

    /// What one input did: parsed or not, and how the run ended.
    enum Outcome: Equatable {
        case badInput(String)
        case ran(output: String, passed: Int, failed: Int, refused: Int)
    }

    /// Parses and runs one input with the invariant checker after every statement; records an
    /// issue (with the input, so it can be replayed) when an invariant breaks or an error has
    /// no location.
    @discardableResult
    static func check(_ bytes: [UInt8], _ label: String) -> Outcome {
        // VMSIM_FUZZ_DUMP=DIR writes the inputs instead, for a run of the release binary out of
        // process (scripts/fuzz-scenarios.sh), where a trap or a hang is seen, not suffered.
        if let dir = ProcessInfo.processInfo.environment["VMSIM_FUZZ_DUMP"] {
            let name = label.replacingOccurrences(of: " ", with: "-") + ".vmsim"
            FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes))
            return .badInput("dumped")
        }
        let scenario: Scenario
        do {
            scenario = try ScenarioParser.parse(bytes: bytes, file: "fuzz.vmsim")
        } catch {
            #expect(error.location.line >= 1 && error.location.column >= 1, "\(label): \(error)")
            #expect(
                error.description.hasPrefix("fuzz.vmsim:\(error.location.line):\(error.location.column): "))
            return .badInput(error.description)
        }
        var output = ""
        let runner: ScenarioRunner
        do {
            runner = try ScenarioRunner(scenario: scenario) { output += $0 + "\n" }
        } catch {
            // A machine line the kernel cannot boot: a located error, like a parse error.
            #expect(!error.description.isEmpty, "\(label)")
            return .badInput(error.description)
        }
        runner.accessLimit = 1 << 20
        for statement in scenario.statements {
            runner.execute(statement)
            let problems = runner.kernel.checkInvariants(deep: false)
            if !problems.isEmpty {
                Issue.record(
                    "\(label): invariants broken after line \(statement.location.line) '\(statement.text)': \(problems.prefix(3))\n--- input ---\n\(String(decoding: bytes, as: UTF8.self))"
                )
                break
            }
        }
        return .ran(
            output: output, passed: runner.expectationsPassed, failed: runner.expectationsFailed,
            refused: runner.runtimeErrors)
    }

    @Test func generatedScenariosEndCleanly() {
        var ran = 0
        for seed in 0..<UInt64(Self.count) {
            var fuzzer = ScenarioFuzzer(seed: seed)
            let text = fuzzer.scenario(lines: 30)
            if case .ran = Self.check(Array(text.utf8), "seed \(seed)") { ran += 1 }
        }
        // Most generated scenarios are valid, so the fuzzer really exercises the kernel.
        #expect(ran * 3 >= Self.count, "only \(ran) of \(Self.count) scenarios got past the parser")
    }

    @Test func hostileScenariosEndCleanly() {
        for seed in 0..<UInt64(Self.count) {
            var fuzzer = ScenarioFuzzer(seed: 1_000_000 + seed, hostility: 0.6)
            Self.check(Array(fuzzer.scenario(lines: 20).utf8), "hostile seed \(seed)")
        }
    }

    @Test func mutatedExamplesEndCleanly() throws {
        let dir = Golden.directory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples")
        // The big workloads (thrash, oom) are left out of CI's count: they are slow, not hostile.
        let names = ["cow", "protection", "stack-and-heap", "i386", "files", "swapfile", "demo"]
        let texts = try names.map {
            try String(contentsOf: dir.appendingPathComponent("\($0).vmsim"), encoding: .utf8)
        }
        let perExample = max(1, Self.count / (4 * names.count))
        for (i, text) in texts.enumerated() {
            for round in 0..<perExample {
                var fuzzer = ScenarioFuzzer(seed: UInt64(i * 10_000 + round))
                let bytes = fuzzer.mutate(text, count: 1 + round % 4)
                Self.check(bytes, "\(names[i]) mutation \(round)")
            }
        }
    }

    @Test func theSameInputGivesTheSameOutput() {
        for seed in 0..<UInt64(max(4, Self.count / 20)) {
            var a = ScenarioFuzzer(seed: 77 + seed)
            let text = Array(a.scenario(lines: 25).utf8)
            #expect(Self.check(text, "determinism \(seed)") == Self.check(text, "determinism \(seed)"))
        }
    }
}
