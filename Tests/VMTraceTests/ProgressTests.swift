import Testing
import TraceInput

@testable import VMTrace

@Suite struct ProgressTests {
    /// One number format for counts and rates: three significant digits with k, M, G.
    @Test(arguments: [
        (999, "999"), (5697, "5.70k"), (13_650_000, "13.7M"), (136_500_000, "137M"), (999_600, "1.00M"),
        (2_500_000_000, "2.50G"),
    ])
    func countsHaveThreeSignificantDigits(_ n: Int, _ text: String) {
        #expect(formatCount(n) == text)
    }

    @Test func linesGiveShareTotalRateAndTimeLeft() {
        #expect(
            progressLine(
                label: "replay", unit: "accesses", done: 4_210_000, total: nil, fileSize: 1_300_000_000,
                fraction: 0.42, elapsed: 3)
                == "replay: 42% of 1.21 GiB · 4.21M accesses · 1.40M accesses/s · ETA 0:04")
        #expect(
            progressLine(
                label: "kernel replay", unit: "accesses", done: 2_500_000, total: 10_000_000, fileSize: nil,
                fraction: 0.25, elapsed: 125)
                == "kernel replay: 25% · 2.50M of 10.0M accesses · 20.0k accesses/s · ETA 6:15")
        // A pipe: no size, no share; the time so far instead of the time left.
        #expect(
            progressLine(
                label: "replay", unit: "accesses", done: 50_000, total: nil, fileSize: nil, fraction: nil,
                elapsed: 3725)
                == "replay: 50.0k accesses · 13 accesses/s · 1:02:05")
    }

    /// A disabled progress (standard error not a terminal) prints nothing and counts nothing.
    @Test func aDisabledProgressStaysQuiet() {
        let p = Progress(label: "x", total: 10, enabled: false)
        p.advance(by: 5)
        p.update(7, input: InputPosition(consumed: 1, size: 2))
        p.finish()
        #expect(p.state.withLock { $0.done } == 0)
    }
}
