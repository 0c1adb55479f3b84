import Foundation
import VMCore
import VMPhys
import VMSim

/// What the server allows one posted scenario: its size and the simulated work it may ask for.
public struct ServeLimits: Sendable {
    /// Bytes of scenario text.
    public var scenarioBytes = 64 * 1024
    /// Statements (steps).
    public var statements = 2000
    /// User memory accesses over the whole run (`ScenarioRunner.accessLimit`).
    public var accesses: UInt64 = 4_000_000
    /// Simulated RAM.
    public var ramBytes: UInt64 = 1 << 30
    /// Live sessions at once, and how long an unused one is kept.
    public var sessions = 64
    public var idleSeconds: Double = 600
    /// Booted machines a session keeps for stepping (one of them at the current step), and
    /// over all sessions (the least recently used are dropped first).
    public var machinesPerSession = 3
    public var machines = 24
    /// Events kept per step (the rest are counted by type).
    public var eventsPerStep = 2000
    /// Output lines kept per step.
    public var outputLinesPerStep = 400

    public init() {}
}

/// A request the server refuses: an HTTP status and a message; for a scenario error, the line
/// and column.
public struct ServeError: Error, Sendable {
    public var status: Int
    public var message: String
    public var line: Int?
    public var column: Int?

    public init(_ status: Int, _ message: String, line: Int? = nil, column: Int? = nil) {
        self.status = status
        self.message = message
        self.line = line
        self.column = column
    }

    /// `{"error": "…", "line": 3, "column": 7}`.
    public var json: String {
        var s = "{\"error\":" + EventJSON.string(self.message)
        if let line { s += ",\"line\":\(line)" }
        if let column { s += ",\"column\":\(column)" }
        if let line, let column { s += ",\"location\":\"\(line):\(column)\"" }
        return s + "}"
    }
}

/// Collects a runner's output lines (bounded).
final class OutputBuffer {
    var lines: [String] = []
    var dropped = 0
    var limit: Int
    init(limit: Int) { self.limit = limit }
    func add(_ line: String) {
        if self.lines.count < self.limit { self.lines.append(line) } else { self.dropped += 1 }
    }
}

/// One booted machine running a scenario, `position` statements in. The simulator is
/// deterministic, so a machine at step k is the same whichever way it got there; the session
/// keeps a few of them at different steps and replays forward from the nearest one.
final class StepMachine {
    let runner: ScenarioRunner
    let output: OutputBuffer
    private(set) var position = 0
    var lastUsed = Date()

    init(scenario: Scenario, limits: ServeLimits) throws(ServeError) {
        let output = OutputBuffer(limit: limits.outputLinesPerStep)
        do {
            self.runner = try ScenarioRunner(scenario: scenario, write: { output.add($0) })
        } catch {
            throw ServeError(
                422, error.message, line: error.location.line == 0 ? nil : error.location.line,
                column: error.location.line == 0 ? nil : error.location.column)
        }
        self.output = output
        self.runner.accessLimit = limits.accesses
        let ram = self.runner.kernel.phys.ramBytes
        if ram > limits.ramBytes {
            let line = scenario.statements.first?.location
            throw ServeError(
                422,
                "machine memory \(ram >> 20) MiB is more than this server simulates (\(limits.ramBytes >> 20) MiB)",
                line: line?.line, column: line?.column)
        }
    }

    /// Runs statements until `position == target` (target ≥ position).
    func advance(to target: Int, _ scenario: Scenario) {
        while self.position < target {
            self.runner.execute(scenario.statements[self.position])
            self.position += 1
        }
    }
}

/// A step's view, built once when the step is reached and kept (a few per session).
struct StepResult {
    var step: Int
    var json: Data
    var eventsJSON: Data
    var frames: FrameMap
}

/// The events one step raised: the first `limit` as EventJSON objects, all counted by type.
/// Fed by the kernel's event sink directly, so events past the limit cost a count, not a JSON line.
final class EventCapture {
    var events: [String] = []
    var total = 0
    var byType: [String: Int] = [:]
    let limit: Int
    init(limit: Int) { self.limit = limit }

    func add(_ event: KernelEvent, line: Int?, time: UInt64) {
        if self.events.count < self.limit {
            self.events.append(EventJSON.line(event, seq: self.total, line: line, time: time))
        }
        self.total += 1
        self.byType[Self.type(event), default: 0] += 1
    }

    /// The `type` field EventJSON gives the event.
    static func type(_ event: KernelEvent) -> String {
        switch event {
        case .fault: return "fault"
        case .signal: return "signal"
        case .fork: return "fork"
        case .exec: return "exec"
        case .exit: return "exit"
        case .reap: return "reap"
        case .mmap: return "mmap"
        case .munmap: return "munmap"
        case .log: return "log"
        case .blockIO: return "block_io"
        case .readahead: return "readahead"
        case .writeback: return "writeback"
        case .ioWait: return "io_wait"
        case .reclaim: return "reclaim"
        case .oomKill: return "oom_kill"
        }
    }
}
