import Synchronization
import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A progress line on standard error — only when it is a terminal — redrawn at most ten times
/// a second: the share done and the time left when the total is known (a file's size, a count
/// of accesses), else the count so far; always the rate. Every number goes through
/// `formatCount` (three significant digits, k/M/G), so the units agree. Never part of the
/// (deterministic) output. Safe to update from several threads.
public final class Progress: Sendable {
    /// What the line says it is doing.
    let label: String
    /// What is counted (accesses, runs, …).
    let unit: String
    /// False when standard error is not a terminal: nothing is drawn.
    let enabled: Bool
    /// When the work started (monotonic seconds).
    let start: Double
    /// What has been done, behind a lock (parallel runs share one line).
    let state: Mutex<State>

    /// The counts and when the line was last drawn.
    struct State {
        /// Units done so far.
        var done = 0
        /// Units in all, when known.
        var total: Int?
        /// Where in its input file the reader stands (for a share of the file).
        var input: InputPosition?
        /// When the line was last drawn.
        var lastPrint: Double
        /// Whether a line is on the terminal (to be cleared at the end).
        var printed = false
    }

    /// `total`: the units of work in all, when known (else set later with `setTotal`).
    public init(label: String, unit: String = "accesses", total: Int? = nil, enabled: Bool = isatty(2) != 0) {
        self.label = label
        self.unit = unit
        self.enabled = enabled
        self.start = monotonicSeconds()
        var state = State(lastPrint: self.start)
        state.total = total
        self.state = Mutex(state)
    }

    /// The units of work in all.
    public func setTotal(_ total: Int?) { self.state.withLock { $0.total = total } }

    /// `done` units so far.
    public func update(_ done: Int) {
        guard self.enabled else { return }
        self.state.withLock {
            $0.done = done
            self.redraw(&$0)
        }
    }

    /// `done` units so far, read from a file that stands at `input`: with a known file size,
    /// the share of the file consumed gives the percentage and the time left.
    public func update(_ done: Int, input: InputPosition) {
        guard self.enabled else { return }
        self.state.withLock {
            $0.done = done
            $0.input = input
            self.redraw(&$0)
        }
    }

    /// Adds `n` units (workers of a parallel run report this way).
    public func advance(by n: Int) {
        guard self.enabled else { return }
        self.state.withLock {
            $0.done += n
            self.redraw(&$0)
        }
    }

    /// Draws the line again if a tenth of a second has passed.
    func redraw(_ s: inout State) {
        let now = monotonicSeconds()
        guard now - s.lastPrint >= 0.1 else { return }
        s.lastPrint = now
        var fraction: Double?
        if let input = s.input, let size = input.size, size > 0 {
            fraction = Double(input.consumed) / Double(size)
        } else if let total = s.total, total > 0 {
            fraction = Double(s.done) / Double(total)
        }
        let line = progressLine(
            label: self.label, unit: self.unit, done: s.done, total: s.input == nil ? s.total : nil,
            fileSize: s.input?.size, fraction: fraction, elapsed: now - self.start)
        writeStderr("\r" + line + "\u{1B}[K")
        s.printed = true
    }

    /// Clears the line.
    public func finish() {
        self.state.withLock {
            if $0.printed { writeStderr("\r\u{1B}[K") }
            $0.printed = false
        }
    }
}

/// One progress line: `replay: 42% of 1.21 GiB · 4.21M accesses · 25.3M accesses/s · ETA 0:04`
/// for a file of known size, `kernel replay: 42% · 4.21M of 10.0M accesses · …` for a known
/// count, `replay: 4.21M accesses · 25.3M accesses/s · 0:03` (elapsed) when neither is known.
public func progressLine(
    label: String, unit: String, done: Int, total: Int?, fileSize: Int64?, fraction: Double?,
    elapsed: Double
) -> String {
    var parts: [String] = []
    let share = fraction.map { min(max($0, 0), 1) }
    if let share {
        var p = "\(Int((share * 100).rounded(.down)))%"
        if let fileSize { p += " of " + formatBytes(fileSize) }
        parts.append(p)
    }
    if let total {
        parts.append("\(formatCount(done)) of \(formatCount(total)) \(unit)")
    } else {
        parts.append("\(formatCount(done)) \(unit)")
    }
    let rate = elapsed > 0 ? Double(done) / elapsed : 0
    parts.append("\(formatCount(Int(rate))) \(unit)/s")
    if let share, share > 0.001, share < 1 {
        parts.append("ETA " + formatDuration(elapsed * (1 - share) / share))
    } else {
        parts.append(formatDuration(elapsed))
    }
    return "\(label): " + parts.joined(separator: " · ")
}

/// 1234567 → "1.23M", 13650000 → "13.7M", 5697 → "5.70k": three significant digits.
public func formatCount(_ n: Int) -> String {
    if n < 1000 { return "\(n)" }
    var v = Double(n)
    for unit in ["k", "M", "G", "T"] {
        v /= 1000
        if v < 999.5 || unit == "T" {
            return fixed(v, v < 9.995 ? 2 : v < 99.95 ? 1 : 0) + unit
        }
    }
    return "\(n)"
}

/// Bytes with a binary unit and three significant digits: "912 B", "1.21 GiB".
public func formatBytes(_ n: Int64) -> String {
    if n < 1024 { return "\(n) B" }
    var v = Double(n)
    for unit in ["KiB", "MiB", "GiB", "TiB"] {
        v /= 1024
        if v < 999.5 || unit == "TiB" {
            return fixed(v, v < 9.995 ? 2 : v < 99.95 ? 1 : 0) + " " + unit
        }
    }
    return "\(n) B"
}

/// Seconds as m:ss, or h:mm:ss from an hour.
public func formatDuration(_ seconds: Double) -> String {
    let t = Int(seconds.isFinite ? max(0, seconds.rounded()) : 0)
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60)
    let ss = s < 10 ? "0\(s)" : "\(s)"
    if h > 0 { return "\(h):\(m < 10 ? "0\(m)" : "\(m)"):\(ss)" }
    return "\(m):\(ss)"
}
