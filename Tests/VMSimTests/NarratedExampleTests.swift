import Foundation
import Testing

@testable import VMSim

/// Every shipped example runs without a failed expectation or a refused operation, and its
/// narrated output — what `vmsim run examples/NAME.vmsim` prints — is golden
/// (Golden/narrated/NAME.txt; `VMSIM_RECORD_GOLDEN=1` re-records, then review the diff).
@Suite struct NarratedExampleTests {
    @Test func everyShippedExampleRunsAndIsNarratedAsRecorded() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
            $0.hasSuffix(".vmsim")
        }
        .sorted()
        #expect(files.count >= 3)
        for name in files {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            let file = "examples/\(name)"
            var output = ""
            let scenario = try ScenarioParser.parse(text, file: file)
            let runner = try ScenarioRunner(scenario: scenario) { output += $0 + "\n" }
            runner.narrator = Narrator(source: text)
            runner.run(scenario)
            runner.finishNarration()
            output += "\(file): \(runner.summary)\n"
            #expect(
                runner.expectationsFailed == 0 && runner.runtimeErrors == 0, "\(name): \(output.suffix(300))")
            Golden.check(output, "narrated/\(name.dropLast(6)).txt")
        }
    }
}
