import Testing
import VMCore

@testable import VMSim

/// The parse error of a scenario text at `file` (`FILE:LINE:COL: message`), or "no error".
func parseError(_ text: String, file: String = "s.vmsim") -> String {
    do {
        _ = try ScenarioParser.parse(text, file: file)
        return "no error"
    } catch {
        return error.description
    }
}

/// Runs a scenario text; returns the runner and everything it printed.
func runScenario(
    _ text: String, file: String = "test.vmsim", sourceLocation: SourceLocation = #_sourceLocation
) -> (ScenarioRunner?, String) {
    var output = ""
    do {
        let scenario = try ScenarioParser.parse(text, file: file)
        let runner = try ScenarioRunner(scenario: scenario) { output += $0 + "\n" }
        runner.run(scenario)
        return (runner, output)
    } catch {
        Issue.record("scenario did not run: \(error)", sourceLocation: sourceLocation)
        return (nil, output)
    }
}

/// Runs a scenario whose every `expect` must hold; returns the runner.
@discardableResult
func expectScenario(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ScenarioRunner? {
    let (runner, output) = runScenario(text, sourceLocation: sourceLocation)
    guard let runner else { return nil }
    let expects = text.split(separator: "\n").filter {
        let line = String($0).trimmingCharacters()
        return line.hasPrefix("expect ") || line.contains(": expect ") || line.hasSuffix("expect segv")
            || line.hasSuffix("expect sigbus") || line.hasSuffix("expect oom")
    }.count
    #expect(
        runner.expectationsFailed == 0, "\(runner.failures)\n\(output.suffix(1500))",
        sourceLocation: sourceLocation)
    #expect(
        runner.expectationsPassed == expects, "ran \(runner.expectationsPassed) of \(expects) expectations",
        sourceLocation: sourceLocation)
    #expect(runner.runtimeErrors == 0, "\(output.suffix(800))", sourceLocation: sourceLocation)
    #expect(
        runner.kernel.checkInvariants(deep: false).isEmpty,
        "\(runner.kernel.checkInvariants(deep: false).prefix(3))", sourceLocation: sourceLocation)
    return runner
}
