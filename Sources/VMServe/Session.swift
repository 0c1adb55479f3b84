import Foundation
import VMCore
import VMPaging
import VMPhys
import VMSim
import VMTypes

/// One browser session: a scenario and the machines that run it. Step N is the machine after
/// the first N statements. A step is reached by replaying forward from the nearest machine at
/// or before it (the simulator is deterministic, so replay gives the same state every time);
/// at most `machinesPerSession` machines are kept, and a few built step views are cached, so
/// memory stays bounded however the user jumps around.
final class Session: @unchecked Sendable {
    let id: String
    let lock = NSLock()
    let limits: ServeLimits
    private(set) var lastUsed = Date()
    private(set) var name = ""
    private var loaded: Scenario?
    var scenario: Scenario {
        guard let loaded else { preconditionFailure("Session: no scenario loaded") }
        return loaded
    }
    private(set) var loadJSON = Data()
    private(set) var timelineJSON = Data()
    private var effects: [LineEffect] = []
    private var stopReason: String?
    private var machines: [StepMachine] = []
    private var cache: [StepResult] = []
    /// The step asked for last, and whether a machine is being replayed in the background.
    private var lastStep = 0
    private var prewarming = false
    /// Counts loads, so a background replay of an older scenario is thrown away.
    private var generation = 0
    static let cachedSteps = 4

    init(id: String, limits: ServeLimits) {
        self.id = id
        self.limits = limits
    }

    func touch() { self.lastUsed = Date() }

    var stepCount: Int { self.loaded?.statements.count ?? 0 }

    /// Runs `body` holding the session's lock (one request at a time per machine).
    func locked<T>(_ body: () throws(ServeError) -> T) throws(ServeError) -> T {
        self.lock.lock()
        defer { self.lock.unlock() }
        return try body()
    }

    /// Parses and runs `text` once to the end (for the step list, each line's effect and the
    /// timeline); replaces whatever the session had.
    func load(name: String, text: String) throws(ServeError) {
        let bytes = Array(text.utf8)
        guard bytes.count <= self.limits.scenarioBytes else {
            throw ServeError(
                413,
                "the scenario is \(bytes.count) bytes; this server takes at most \(self.limits.scenarioBytes)"
            )
        }
        let scenario: Scenario
        do {
            scenario = try ScenarioParser.parse(bytes: bytes, file: name)
        } catch {
            throw ServeError(400, error.message, line: error.location.line, column: error.location.column)
        }
        guard scenario.statements.count <= self.limits.statements else {
            let location = scenario.statements[self.limits.statements].location
            throw ServeError(
                413,
                "the scenario has \(scenario.statements.count) statements; this server takes at most \(self.limits.statements)",
                line: location.line, column: location.column)
        }
        let machine = try StepMachine(scenario: scenario, limits: self.limits)
        let narrator = Narrator(source: nil, printing: false)
        machine.runner.narrator = narrator
        let timeline = Timeline(interval: UInt64.max / 4)
        machine.runner.timeline = timeline
        machine.advance(to: scenario.statements.count, scenario)
        machine.runner.timeline = nil
        self.name = name
        self.loaded = scenario
        self.generation += 1
        self.lastStep = 0
        self.effects = narrator.effects
        self.stopReason = machine.runner.stopReason
        self.machines = [machine]
        self.cache = []
        self.loadJSON = self.makeLoadJSON(machine)
        self.timelineJSON = Self.timelineJSON(timeline, pageSize: machine.runner.kernel.phys.pageSize)
    }

    private func makeLoadJSON(_ machine: StepMachine) -> Data {
        struct Step: Encodable {
            var step: Int
            var line: Int
            var text: String
            var summary: String
            var expectation: Bool?
            var refused: String?
        }
        struct Load: Encodable {
            var session: String
            var name: String
            var steps: [Step]
            var stopReason: String?
            var expectationsPassed: Int
            var expectationsFailed: Int
            var arch: String
            var ramBytes: UInt64
            var pageSize: UInt64
            var frames: Int
            var legend: [String]
            var processes: [String]
        }
        let runner = machine.runner
        let steps = self.scenario.statements.enumerated().map { i, s in
            let effect = i < self.effects.count ? self.effects[i] : nil
            return Step(
                step: i + 1, line: s.location.line, text: s.text, summary: effect?.summary ?? "",
                expectation: effect?.expectation, refused: effect?.refused)
        }
        let load = Load(
            session: self.id, name: self.name, steps: steps, stopReason: self.stopReason,
            expectationsPassed: runner.expectationsPassed, expectationsFailed: runner.expectationsFailed,
            arch: runner.kernel.architecture.name, ramBytes: runner.kernel.phys.ramBytes,
            pageSize: runner.kernel.phys.pageSize, frames: Int(runner.kernel.phys.maxPFN),
            legend: FrameUse.names,
            processes: runner.processes.sorted { $0.value.pid < $1.value.pid }.map(\.key))
        return Self.encode(load)
    }

    static func timelineJSON(_ timeline: Timeline, pageSize: UInt64) -> Data {
        struct Point: Encodable {
            var step: Int
            var line: Int
            var rssKB: UInt64
            var freeKB: UInt64
            var swapUsedKB: UInt64
            var faults: UInt64
            var majorFaults: UInt64
            var swapOuts: UInt64
            var swapIns: UInt64
        }
        let kb = pageSize >> 10
        let points = timeline.samples.enumerated().map { i, s in
            Point(
                step: i + 1, line: s.line,
                rssKB: UInt64(s.processes.values.reduce(0) { $0 + $1.anon + $1.file + $1.shmem }) * kb,
                freeKB: UInt64(s.freeByZone.reduce(0, +)) * kb, swapUsedKB: s.swapUsed * kb, faults: s.faults,
                majorFaults: s.majorFaults, swapOuts: s.swapOuts, swapIns: s.swapIns)
        }
        return Self.encode(["points": points])
    }

    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { preconditionFailure("Session: encoding failed") }
        return data
    }

    func checkStep(_ step: Int) throws(ServeError) {
        guard step >= 0 && step <= self.stepCount else {
            throw ServeError(400, "step \(step) is out of range 0…\(self.stepCount)")
        }
    }

    /// A machine exactly at `target`: the nearest at or before it, replayed forward (a new one
    /// booted when none is, replacing the least recently used when the session has its fill).
    private func machine(at target: Int) throws(ServeError) -> StepMachine {
        let candidates = self.machines.filter { $0.position <= target }
        let machine: StepMachine
        if let best = candidates.max(by: { $0.position < $1.position }) {
            machine = best
        } else {
            machine = try StepMachine(scenario: self.scenario, limits: self.limits)
            if self.machines.count >= self.limits.machinesPerSession,
                let oldest = self.machines.indices.min(by: {
                    self.machines[$0].lastUsed < self.machines[$1].lastUsed
                })
            {
                self.machines.remove(at: oldest)
            }
            self.machines.append(machine)
        }
        machine.advance(to: target, self.scenario)
        machine.lastUsed = Date()
        return machine
    }

    /// The view of step `step` (built and cached if needed).
    func step(_ step: Int) throws(ServeError) -> StepResult {
        try self.checkStep(step)
        if let hit = self.cache.firstIndex(where: { $0.step == step }) {
            let result = self.cache.remove(at: hit)
            self.cache.append(result)
            return result
        }
        let result: StepResult
        if step == 0 {
            let machine = try self.machine(at: 0)
            result = self.view(machine, step: 0, previous: nil, counters: [:], capture: nil)
        } else {
            let machine = try self.machine(at: step - 1)
            let kernel = machine.runner.kernel
            let previous = FrameMap(kernel: kernel)
            var counters: [String: Int] = [:]
            for (name, value) in MachineView.vmstat(kernel) { counters[name] = value }
            let capture = EventCapture(limit: self.limits.eventsPerStep)
            machine.output.lines = []
            machine.output.dropped = 0
            // The kernel's sink (the narrator's) is wrapped for this one step; faults carry
            // their frames while it runs.
            let kernel2 = machine.runner.kernel
            let sink = kernel2.eventSink
            let line = self.scenario.statements[step - 1].location.line
            kernel2.eventsCarryFrames = true
            kernel2.eventSink = { [unowned kernel2] event in
                sink?(event)
                capture.add(event, line: line, time: kernel2.now)
            }
            machine.advance(to: step, self.scenario)
            kernel2.eventSink = sink
            kernel2.eventsCarryFrames = false
            result = self.view(machine, step: step, previous: previous, counters: counters, capture: capture)
        }
        self.cache.append(result)
        if self.cache.count > Self.cachedSteps { self.cache.removeFirst() }
        // Stepping back: replay a machine to two steps before this one in the background, so
        // the next step back replays one line instead of everything before it.
        if step < self.lastStep && step >= 1 && !self.machines.contains(where: { $0.position == step - 2 }) {
            self.prewarm(to: step - 2)
        }
        self.lastStep = step
        return result
    }

    /// Boots a machine and runs it to `target` off the request path; it joins the session's
    /// machines (replacing the least recently used) if the scenario has not changed meanwhile.
    private func prewarm(to target: Int) {
        guard !self.prewarming, let scenario = self.loaded else { return }
        self.prewarming = true
        let limits = self.limits
        let generation = self.generation
        DispatchQueue.global(qos: .utility).async {
            let machine = try? StepMachine(scenario: scenario, limits: limits)
            machine?.advance(to: target, scenario)
            self.lock.lock()
            defer { self.lock.unlock() }
            self.prewarming = false
            guard let machine, self.generation == generation else { return }
            if self.machines.count >= self.limits.machinesPerSession,
                let oldest = self.machines.indices.min(by: {
                    self.machines[$0].lastUsed < self.machines[$1].lastUsed
                })
            {
                self.machines.remove(at: oldest)
            }
            self.machines.append(machine)
        }
    }

    private func view(
        _ machine: StepMachine, step: Int, previous: FrameMap?, counters: [String: Int],
        capture: EventCapture?
    ) -> StepResult {
        struct StepJSON: Encodable {
            var step: Int
            var steps: Int
            var line: Int?
            var text: String?
            var effect: LineEffect?
            var summary: String?
            var output: [String]
            var outputDropped: Int
            var stopReason: String?
            var machine: MachineView
        }
        let frames = FrameMap(kernel: machine.runner.kernel)
        let statement = step > 0 ? self.scenario.statements[step - 1] : nil
        let effect = step > 0 && step - 1 < self.effects.count ? self.effects[step - 1] : nil
        let view = MachineView(
            runner: machine.runner, frames: frames, previous: previous, previousCounters: counters)
        let json = StepJSON(
            step: step, steps: self.stepCount, line: statement?.location.line, text: statement?.text,
            effect: effect,
            summary: effect?.summary, output: step > 0 ? machine.output.lines : [],
            outputDropped: step > 0 ? machine.output.dropped : 0,
            stopReason: machine.runner.stopReason, machine: view)
        var events = "{\"step\":\(step),\"total\":\(capture?.total ?? 0),\"byType\":"
        events += String(decoding: Self.encode(capture?.byType ?? [:]), as: UTF8.self)
        events += ",\"truncated\":\((capture?.total ?? 0) > (capture?.events.count ?? 0)),\"events\":["
        events += (capture?.events ?? []).joined(separator: ",") + "]}"
        // The cache keeps the uses (for the hover), not the signatures (only the next step needs them).
        var kept = frames
        kept.signatures = []
        return StepResult(step: step, json: Self.encode(json), eventsJSON: Data(events.utf8), frames: kept)
    }

    /// One frame's `struct page` at `step`.
    func frame(step: Int, pfn: UInt64) throws(ServeError) -> Data {
        let result = try self.step(step)
        let machine = try self.machine(at: step)
        guard let view = FrameView(runner: machine.runner, pfn: pfn, frames: result.frames) else {
            throw ServeError(
                404, "frame \(hex(pfn)) is beyond the end of memory (\(result.frames.uses.count) frames)")
        }
        return Self.encode(view)
    }

    /// The page-table walk of `address` in process `pid` at `step`.
    func walk(step: Int, pid: Int, address: UInt64, access: Access) throws(ServeError) -> Data {
        try self.checkStep(step)
        let machine = try self.machine(at: step)
        guard let view = WalkView(runner: machine.runner, pid: pid, address: address, access: access) else {
            throw ServeError(404, "no process with pid \(pid) and an address space at step \(step)")
        }
        return Self.encode(view)
    }

    /// The page strip of the VMA at `vmaStart` in process `pid` at `step`.
    func pages(step: Int, pid: Int, vmaStart: UInt64) throws(ServeError) -> Data {
        try self.checkStep(step)
        let machine = try self.machine(at: step)
        guard let view = PageStripView(runner: machine.runner, pid: pid, vmaStart: vmaStart) else {
            throw ServeError(404, "process \(pid) has no VMA at \(hex(vmaStart)) at step \(step)")
        }
        return Self.encode(view)
    }

    var machineCount: Int { self.machines.count }

    /// When this session's least recently used machine was last used (nil: none).
    var oldestMachineUse: Date? { self.machines.map(\.lastUsed).min() }

    /// Drops the least recently used machine (the server's machine budget is spent).
    func dropOldestMachine() {
        guard
            let i = self.machines.indices.min(by: { self.machines[$0].lastUsed < self.machines[$1].lastUsed })
        else { return }
        self.machines.remove(at: i)
    }
}

/// Every live session, by id; unused ones are dropped after `idleSeconds`, and no more than
/// `sessions` live at once.
public final class SessionStore: @unchecked Sendable {
    let lock = NSLock()
    public let limits: ServeLimits
    private var sessions: [String: Session] = [:]

    public init(limits: ServeLimits = ServeLimits()) { self.limits = limits }

    public var count: Int { self.lock.withLock { self.sessions.count } }

    /// Drops sessions unused for longer than the idle limit.
    public func sweep(now: Date = Date()) {
        self.lock.withLock {
            self.sessions = self.sessions.filter {
                now.timeIntervalSince($0.value.lastUsed) < self.limits.idleSeconds
            }
        }
    }

    func create() throws(ServeError) -> Session {
        self.sweep()
        var id = ""
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<16 { id += String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }
        let session = Session(id: id, limits: self.limits)
        let full: Bool = self.lock.withLock {
            guard self.sessions.count < self.limits.sessions else { return true }
            self.sessions[id] = session
            return false
        }
        if full {
            throw ServeError(503, "too many open sessions (\(self.limits.sessions)); try again later")
        }
        return session
    }

    func get(_ id: String) throws(ServeError) -> Session {
        guard let session = self.lock.withLock({ self.sessions[id] }) else {
            throw ServeError(
                404, "no session '\(id.prefix(64))' (it may have been idle too long); load the scenario again"
            )
        }
        session.touch()
        return session
    }

    /// Keeps the booted machines of all sessions within `limits.machines`, dropping the least
    /// recently used first (a session that loses all its machines replays on its next request).
    public func enforceMachineBudget() {
        let sessions = self.lock.withLock { Array(self.sessions.values) }
        var counts = sessions.map { s in s.lock.withLock { (s, s.machineCount, s.oldestMachineUse) } }
        var total = counts.reduce(0) { $0 + $1.1 }
        while total > self.limits.machines {
            guard
                let i = counts.indices.filter({ counts[$0].1 > 0 && counts[$0].2 != nil }).min(by: {
                    counts[$0].2! < counts[$1].2!
                })
            else { break }
            let session = counts[i].0
            counts[i] = session.lock.withLock {
                session.dropOldestMachine()
                return (session, session.machineCount, session.oldestMachineUse)
            }
            total -= 1
        }
    }

    /// Booted machines over all sessions.
    public var machineCount: Int {
        let sessions = self.lock.withLock { Array(self.sessions.values) }
        return sessions.reduce(0) { total, s in total + s.lock.withLock { s.machineCount } }
    }

    func remove(_ id: String) -> Bool {
        self.lock.withLock { self.sessions.removeValue(forKey: id) != nil }
    }

    /// Marks a session as last used at `date` (tests of the idle limit).
    public func setLastUsed(_ id: String, _ date: Date) {
        self.lock.withLock { self.sessions[id]?.setLastUsed(date) }
    }
}

extension Session {
    func setLastUsed(_ date: Date) { self.lastUsed = date }
}
