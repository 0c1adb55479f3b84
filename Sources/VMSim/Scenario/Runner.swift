import VMCore
import VMLibc
import VMPaging
import VMPhys
import VMTypes

/// Runs scenarios on a simulated kernel: boots the machine (defaults, then the scenario's
/// `machine` line, then command-line overrides), executes each statement through its command
/// type, and keeps score of expectations and refused operations.
///
/// The runner owns what a scenario names that the kernel does not: process names, region
/// names and the files each process has open by path. Commands read and change it through the
/// helpers here.
public final class ScenarioRunner {
    public let kernel: Kernel
    /// Where output goes, line by line.
    let output: (String) -> Void
    /// Print kernel events as they happen (those of `traceCategories`).
    public var trace: Bool {
        didSet { self.installEventSink() }
    }
    /// The event kinds `--trace LIST` selected (every kind for a plain `--trace`).
    public var traceCategories: Set<EventCategory> = Set(EventCategory.allCases)
    /// Collapses runs of identical faults into one trace line.
    var collapser: TraceCollapser
    /// `--events FILE.jsonl`: every event as a JSON line (whatever `--trace` shows).
    public var eventLog: ((String) -> Void)? {
        didSet { self.installEventSink() }
    }
    var eventSequence = 0
    /// Samples the machine after each line and every few accesses (`--timeline`).
    public var timeline: Timeline?
    /// The scenario line running now, which events are attributed to.
    public private(set) var currentLine: Int?
    /// Processes by scenario name (kept after they die, for `expect NAME.killed`).
    public internal(set) var processes: [String: Task] = [:]
    /// Named regions per pid: start address and length.
    var regions: [Int: [String: (start: UInt64, length: UInt64)]] = [:]
    /// Files a process opened with `fread`/`fwrite`/`fsync`/`fadvise`, per pid: path → fd.
    var descriptors: [Int: [String: Int]] = [:]
    /// Each process's C library allocator (made at its first `malloc`), and the kind
    /// `spawn … allocator=` asked for.
    var allocators: [Int: any UserAllocator] = [:]
    var allocatorKinds: [Int: String] = [:]
    /// The regions of `regions` that are `malloc` allocations, per pid.
    var mallocNames: [Int: Set<String>] = [:]
    /// The last pointer of each freed allocation, per pid (what a second `free` passes).
    var danglingPointers: [Int: [String: UInt64]] = [:]
    public internal(set) var expectationsPassed = 0
    public private(set) var expectationsFailed = 0
    /// Operations the simulated system refused or that hit a dead process (reported, not fatal).
    public private(set) var runtimeErrors = 0
    public private(set) var failures: [String] = []
    /// The most user accesses the run may issue (nil: no limit). A server or a fuzzer sets it
    /// so that a scenario asking for too much simulated work stops with a message.
    public var accessLimit: UInt64?
    /// User accesses issued so far by `read`, `write`, `fetch` and memory `expect` lines.
    public private(set) var accesses: UInt64 = 0
    /// Why the run stopped before its end (the access limit), if it did.
    public private(set) var stopReason: String?

    /// Boots the machine a scenario describes. Settings: `base`, then the scenario's `machine`
    /// line, then `overrides` (command-line flags, which win).
    public init(
        scenario: Scenario?, base: MachineConfig = MachineConfig(), overrides: [(String, String)] = [],
        trace: Bool = false, write: @escaping (String) -> Void
    ) throws(ScenarioError) {
        var config = base
        if let scenario, let first = scenario.statements.first, let machine = first.command as? MachineCommand
        {
            for setting in machine.settings {
                do {
                    try MachineSpec.apply(setting.key, setting.value, to: &config)
                } catch {
                    throw ScenarioError(
                        location: ScenarioLocation(
                            file: first.location.file, line: first.location.line, column: setting.column),
                        message: error.message)
                }
            }
        }
        for (key, value) in overrides {
            do {
                try MachineSpec.apply(key, value, to: &config)
            } catch {
                throw ScenarioError.commandLine("--\(key): \(error.message)")
            }
        }
        do {
            try config.validate()
            self.kernel = try Kernel(config: config)
        } catch {
            // Blame the flag when one set the offending value, else the scenario's machine line.
            if overrides.contains(where: { $0.0 == error.setting }) || scenario == nil {
                throw ScenarioError.commandLine("--\(error.setting): \(error.message)")
            }
            let location =
                scenario?.statements.first?.location ?? ScenarioLocation(file: "", line: 0, column: 0)
            throw ScenarioError(location: location, message: "\(error.setting): \(error.message)")
        }
        self.output = write
        self.trace = trace
        self.collapser = TraceCollapser(pageSize: self.kernel.phys.pageSize)
        self.installEventSink()
    }

    /// Narrates the run from now on: each line with its effect (`narrator.effects` keeps them).
    public var narrator: Narrator? {
        didSet { self.installEventSink() }
    }

    /// Events go to the trace (when tracing) and to the narrator (when narrating).
    func installEventSink() {
        self.kernel.eventsCarryFrames = self.trace || self.eventLog != nil
        guard self.trace || self.narrator != nil || self.eventLog != nil else {
            self.kernel.eventSink = nil
            return
        }
        self.kernel.eventSink = { [unowned self] event in
            self.narrator?.note(event, self)
            if let log = self.eventLog {
                log(
                    EventJSON.line(
                        event, seq: self.eventSequence, line: self.currentLine, time: self.kernel.now))
                self.eventSequence += 1
            }
            if self.trace && self.traceCategories.contains(EventCategory.of(event)) {
                for line in self.collapser.add(event) { self.output("  [trace] " + line) }
            }
        }
    }

    /// Writes one line of output (after any trace line still being collapsed).
    public func write(_ text: String) {
        self.flushTrace()
        self.output(text)
    }

    func flushTrace() {
        for line in self.collapser.flush() { self.output("  [trace] " + line) }
    }

    /// Runs every statement in order.
    public func run(_ scenario: Scenario) {
        for statement in scenario.statements {
            guard self.stopReason == nil else { break }
            self.execute(statement)
        }
    }

    /// Executes one statement (nothing once the run has stopped).
    public func execute(_ statement: Statement) {
        guard self.stopReason == nil else { return }
        self.currentLine = statement.location.line
        defer {
            self.flushTrace()
            self.timeline?.sample(self)
            self.currentLine = nil
        }
        guard let narrator = self.narrator else {
            statement.command.execute(self, statement)
            return
        }
        narrator.begin(self, statement)
        statement.command.execute(self, statement)
        self.flushTrace()
        narrator.end(self, statement)
    }

    /// The narrated run's closing summary (nothing when not narrating).
    public func finishNarration() {
        guard let narrator = self.narrator else { return }
        for line in narrator.finish(self) { self.write(line) }
    }

    /// Counts one user access; false (and the run stops, reported as refused) once the access
    /// limit is used up.
    func chargeAccess(_ statement: Statement) -> Bool {
        self.accesses += 1
        self.timeline?.maybeSample(self)
        guard let limit = self.accessLimit, self.accesses > limit else { return true }
        if self.stopReason == nil {
            self.stopReason = "stopped: the scenario asked for more than \(limit) memory accesses"
            self.refuse(statement, self.stopReason!)
        }
        return false
    }

    /// One-line summary of the run.
    public var summary: String {
        var s =
            "\(self.expectationsPassed) expectation\(self.expectationsPassed == 1 ? "" : "s") passed, \(self.expectationsFailed) failed"
        if self.runtimeErrors > 0 {
            s += ", \(self.runtimeErrors) operation\(self.runtimeErrors == 1 ? "" : "s") refused"
        }
        return s
    }

    // MARK: Outcomes

    /// An expectation held.
    func pass(_ actual: String = "") {
        self.expectationsPassed += 1
        self.narrator?.expectation(true, actual: actual)
    }

    /// An expectation did not hold: counted, kept and printed with its line.
    func fail(_ statement: Statement, _ message: String) {
        self.expectationsFailed += 1
        let text =
            "\(statement.location.file):\(statement.location.line): expectation failed: \(statement.text) — \(message.escapingControlCharacters)"
        self.failures.append(text)
        self.write(text)
        self.narrator?.expectation(false, actual: message.escapingControlCharacters)
    }

    /// The simulated system refused the operation (or it named something gone): counted and printed.
    func refuse(_ statement: Statement, _ message: String) {
        self.runtimeErrors += 1
        self.narrator?.refused(message)
        self.write(
            "\(statement.location.file):\(statement.location.line): \(statement.text): \(message.escapingControlCharacters)"
        )
    }

    // MARK: Names

    /// The live task a statement acts for, or nil (reported) if it is no longer running.
    func task(_ statement: Statement, _ name: String) -> Task? {
        guard let task = self.processes[name], task.state == .running, task.mm != nil else {
            self.refuse(statement, "process '\(name)' is not running")
            return nil
        }
        return task
    }

    /// The task of the statement's `NAME:` prefix, if it is running (else reported).
    func actor(_ statement: Statement) -> Task? {
        guard let name = statement.process else { return nil }
        return self.task(statement, name)
    }

    /// The bytes a reference covers for `task`, first and last (inclusive, so a range may end
    /// at the top of the 64-bit space). Nil when the region is not mapped (or is empty, like
    /// a heap nobody grew); a raw address without a range is one byte, and with an open range
    /// runs to the top of the address space.
    func resolve(_ ref: MemoryRef, _ task: Task) -> ClosedRange<UInt64>? {
        let base: UInt64
        var last: UInt64
        if let region = ref.region {
            let length: UInt64
            if region == "heap", let mm = task.mm {
                base = mm.startBrk
                length = mm.brk - mm.startBrk
            } else {
                guard let r = self.regions[task.pid]?[region] else { return nil }
                base = r.start
                length = r.length
            }
            guard length > 0 else { return nil }
            last = base &+ (length - 1)
        } else {
            base = ref.address ?? 0
            last = .max
        }
        let (first, overflow) = base.addingReportingOverflow(ref.start)
        guard !overflow else { return nil }
        if ref.single { return first...first }
        if let end = ref.end {
            let (e, o) = base.addingReportingOverflow(end - 1)
            guard !o else { return nil }
            last = e
        }
        guard last >= first else { return nil }
        return first...last
    }

    /// The page-aligned start and length a system call gets for a byte range; nil when the
    /// range is the whole 64-bit address space (its length does not fit in 64 bits).
    func pageSpan(_ range: ClosedRange<UInt64>) -> (address: UInt64, length: UInt64)? {
        let start = range.lowerBound & ~(self.kernel.phys.pageSize - 1)
        let (length, overflow) = (range.upperBound - start).addingReportingOverflow(1)
        return overflow ? nil : (start, length)
    }

    /// Runs a system call over the page-aligned span of a reference, reporting refusals.
    func withSpan(
        _ statement: Statement, _ ref: MemoryRef,
        _ body: (Task, _ address: UInt64, _ length: UInt64) throws(MMError) -> Void
    ) {
        guard let task = self.actor(statement) else { return }
        guard let range = self.resolve(ref, task) else {
            self.refuse(statement, "\(ref) is not mapped")
            return
        }
        guard let span = self.pageSpan(range) else {
            self.refuse(statement, "EINVAL: \(ref) covers the whole address space")
            return
        }
        do { try body(task, span.address, span.length) } catch { self.refuse(statement, error.description) }
    }

    /// Runs a global operation, reporting a refusal.
    func global(_ statement: Statement, _ body: () throws(MMError) -> Void) {
        do { try body() } catch { self.refuse(statement, error.description) }
    }

    /// Runs an operation of the acting task, reporting a refusal.
    func withActor(_ statement: Statement, _ body: (Task) throws(MMError) -> Void) {
        guard let task = self.actor(statement) else { return }
        do { try body(task) } catch { self.refuse(statement, error.description) }
    }

    /// Names the regions every new image has: text, data, bss and the stack's 8 MiB.
    func recordExecRegions(_ task: Task) {
        guard let mm = task.mm else { return }
        let top = mm.vmas.last { $0.flags.contains(.growsDown) }?.end ?? self.kernel.architecture.userTop
        self.regions[task.pid] = [
            "text": (mm.startCode, mm.endCode - mm.startCode),
            "data": (mm.startData, mm.endData - mm.startData),
            "bss": (mm.endData, mm.startBrk - mm.endData),
            "stack": (top - (8 << 20), 8 << 20),
        ]
    }

    /// Writes a multi-line text (without a trailing newline of its own).
    func write(_ text: String, terminator: Bool) {
        var t = text
        if t.hasSuffix("\n") { t.removeLast() }
        self.write(t)
    }
}
