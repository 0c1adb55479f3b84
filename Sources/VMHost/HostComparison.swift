import Foundation
import VMCore
import VMSim
import VMTypes

/// A scenario run in the simulation and `repeats` times on the host, line by line: for each line
/// the simulated and the host's faults (minor, major) per process, RSS changes, the `expect`
/// verdicts and signals, with the host's spread over the runs. A quantity agrees when the
/// simulated value lies within the host's range; a line agrees when all its quantities do.
public struct HostComparison: Encodable {
    /// One compared quantity of a line: `parent.minor`, `child.rss`, `expect`, `signal`.
    public struct Quantity: Encodable {
        public var name: String
        public var simulated: Int64
        public var hostMin: Int64
        public var hostMax: Int64
        public var agrees: Bool { self.simulated >= self.hostMin && self.simulated <= self.hostMax }
    }
    public struct Line: Encodable {
        public var line: Int
        public var text: String
        public var skipped: String?
        public var note: String?
        public var quantities: [Quantity] = []
        public var simulatedExpectation: Bool?
        public var hostExpectation: Bool?
        public var simulatedActual: String?
        public var hostActual: String?
        public var simulatedSignal: String?
        public var hostSignal: String?
        /// The touched mapping's smaps fields and pagemap facts on the host (first run).
        public var hostSmaps: [String: UInt64]?
        public var hostPagemap: [String: UInt64]?
        public var compared: Bool { self.skipped == nil && !self.quantities.isEmpty }
        public var agrees: Bool { self.quantities.allSatisfy(\.agrees) }
    }
    public var file: String
    public var repeats: Int
    public var kernel: String
    public var lines: [Line]
    /// The host settings vmsim could not express, when `--like-host` was given.
    public var notApplied: [String]

    public var compared: Int { self.lines.filter(\.compared).count }
    public var agreeing: Int { self.lines.filter { $0.compared && $0.agrees }.count }
    public var skipped: Int { self.lines.filter { $0.skipped != nil }.count }
    public var allAgree: Bool { self.agreeing == self.compared }

    /// Runs the simulation, then the host `repeats` times, and compares them.
    public static func run(
        _ scenario: Scenario, file: String, overrides: [(String, String)] = [], likeHost: HostSettings? = nil,
        repeats: Int = 1, helper: String, options: HostExecutor.Options = HostExecutor.Options(),
        memoryLimit: UInt64? = nil
    ) throws -> HostComparison {
        var overrides = overrides
        if let likeHost {
            // The host's zones describe an x86_64 machine; a scenario for another architecture
            // keeps its own memory and zones.
            var host = likeHost.machineSettings
            if case .machine(let settings) = scenario.statements.first?.operation,
                let arch = settings.first(where: { $0.key == "arch" })?.value, arch != "x86_64"
            {
                host.removeAll { $0.0 == "zones" || $0.0 == "memory" }
            }
            overrides = host + overrides
        }
        let runner = try ScenarioRunner(scenario: scenario, overrides: overrides, write: { _ in })
        if let likeHost {
            for (name, value) in likeHost.sysctls { try? runner.kernel.setSysctl(name, value) }
        }
        let narrator = Narrator(source: nil, printing: false)
        runner.narrator = narrator
        runner.run(scenario)
        var simulated: [Int: LineEffect] = [:]
        for effect in narrator.effects { simulated[effect.line] = effect }

        let settings = HostSettings.read()
        let footprint = Self.footprint(scenario)
        let available = settings.memAvailable ?? 0
        let limit = memoryLimit ?? available / 2
        guard footprint <= limit else {
            throw HostError.refused(
                "the scenario maps and writes \(ByteSize.human(footprint)), more than the bound of \(ByteSize.human(limit)) (half of the host's \(ByteSize.human(available)) available); raise it with --host-memory-limit"
            )
        }
        var runs: [[HostLineResult]] = []
        for _ in 0..<max(repeats, 1) {
            let sandbox = try HostSandbox()
            defer { sandbox.close() }
            let executor = HostExecutor(helper: helper, sandbox: sandbox, options: options)
            runs.append(executor.run(scenario, simulated: simulated))
        }
        var lines: [Line] = []
        for (i, statement) in scenario.statements.enumerated() {
            lines.append(Self.compare(statement, simulated[statement.location.line], runs.map { $0[i] }))
        }
        return HostComparison(
            file: file, repeats: max(repeats, 1), kernel: Self.kernelRelease(), lines: lines,
            notApplied: likeHost?.unexpressed ?? [])
    }

    static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) {
            String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
        }
        return "Linux \(release)"
    }

    /// Bytes the scenario maps, writes to files and allocates in shared memory (an upper bound
    /// of what the host run makes resident).
    static func footprint(_ scenario: Scenario) -> UInt64 {
        var total: UInt64 = 0
        for s in scenario.statements {
            switch s.operation {
            case .mmap(_, let length, _, _, _, _, _, _, _, _, _): total &+= length
            case .file(_, let size, _): total &+= size
            case .fwrite(let ref, _): total &+= (ref.end ?? ref.start) - ref.start
            case .shm(_, let size, _, _): total &+= size
            case .brkGrow(let n): total &+= n
            default: break
            }
        }
        return total
    }

    static func compare(_ statement: Statement, _ sim: LineEffect?, _ host: [HostLineResult]) -> Line {
        var line = Line(line: statement.location.line, text: statement.text)
        line.note = host.first?.note
        line.hostSmaps = host.first?.smaps
        line.hostPagemap = host.first?.pagemap
        if let why = host.first(where: { $0.skipped != nil })?.skipped {
            line.skipped = why
            return line
        }
        guard let sim else {
            line.skipped = "the simulation did not run this line"
            return line
        }
        if let refused = sim.refused {
            line.skipped = "the simulation refused it: \(refused)"
            return line
        }
        func range(_ values: [Int64]) -> (Int64, Int64) { (values.min() ?? 0, values.max() ?? 0) }
        if case .spawn = statement.operation {
            line.skipped =
                "execve of the helper is not the scenario's image (its start-up faults are its own)"
            return line
        }
        var names = Set(sim.processes.map(\.name))
        for h in host { names.formUnion(h.minor.keys) }
        if case .fork(let child) = statement.operation {
            // The parent's count on the host includes getrusage() writing its result to a stack
            // page fork has just write-protected: a fault of the measurement, not of the scenario.
            names = [child]
            line.note = "the parent's faults are not compared: measuring them after fork(2) faults by itself"
        }
        for name in names.sorted() {
            let s = sim.processes.first { $0.name == name }
            let (minLo, minHi) = range(host.map { Int64($0.minor[name] ?? 0) })
            line.quantities.append(
                Quantity(
                    name: "\(name) minor", simulated: Int64(s?.minorFaults ?? 0), hostMin: minLo,
                    hostMax: minHi))
            let (majLo, majHi) = range(host.map { Int64($0.major[name] ?? 0) })
            if majHi > 0 || (s?.majorFaults ?? 0) > 0 {
                line.quantities.append(
                    Quantity(
                        name: "\(name) major", simulated: Int64(s?.majorFaults ?? 0), hostMin: majLo,
                        hostMax: majHi))
            }
        }
        // RSS of processes that ran before and after the line (not across spawn, fork, exit).
        switch statement.operation {
        case .spawn, .fork, .exit, .wait: break
        default:
            var rssNames = Set<String>()
            for h in host { rssNames.formUnion(h.rssDelta.keys) }
            for name in rssNames.sorted() {
                let s = sim.processes.first { $0.name == name }?.rssDelta ?? 0
                let (lo, hi) = range(host.map { $0.rssDelta[name] ?? 0 })
                if s != 0 || lo != 0 || hi != 0 {
                    line.quantities.append(
                        Quantity(name: "\(name) RSS", simulated: s, hostMin: lo, hostMax: hi))
                }
            }
        }
        line.simulatedExpectation = sim.expectation
        line.simulatedActual = sim.actual
        line.hostExpectation = host.first?.expectation
        line.hostActual = host.first?.actual
        if let s = sim.expectation, host.allSatisfy({ $0.expectation != nil }) {
            let held = host.map { $0.expectation! ? Int64(1) : 0 }
            line.quantities.append(
                Quantity(name: "expect", simulated: s ? 1 : 0, hostMin: held.min()!, hostMax: held.max()!))
        }
        line.simulatedSignal = sim.signals.first
        line.hostSignal = host.first?.signal
        let simSignal: Int64 = sim.signals.isEmpty ? 0 : 1
        let hostSignals = host.map { $0.signal == nil ? Int64(0) : 1 }
        if simSignal == 1 || hostSignals.contains(1) {
            line.quantities.append(
                Quantity(
                    name: "signal", simulated: simSignal, hostMin: hostSignals.min()!,
                    hostMax: hostSignals.max()!))
        }
        return line
    }

    // MARK: Output

    /// The side-by-side text: each line, what the simulation and the host did, and a mark
    /// (`=` agree, `≠` differ, `·` skipped, with the reason).
    public var text: String {
        var out: [String] = []
        out.append(
            "\(self.file) on \(self.kernel), \(self.repeats) host run\(self.repeats == 1 ? "" : "s") (host values: min..max over the runs)"
        )
        for n in self.notApplied { out.append("not applied from the host: \(n)") }
        out.append(
            "line  " + "scenario".padding(toLength: 36, withPad: " ", startingAt: 0) + " "
                + "simulated".padding(toLength: 34, withPad: " ", startingAt: 0) + " host")
        for line in self.lines {
            let number = String(line.line)
            let head =
                String(repeating: " ", count: max(0, 4 - number.count)) + number + "  "
                + Self.fit(line.text, 36) + " "
            if let why = line.skipped {
                out.append(head + "· skipped: " + why)
                continue
            }
            if line.quantities.isEmpty {
                out.append(head + "(nothing to compare)" + (line.note.map { " — \($0)" } ?? ""))
                continue
            }
            let sim = line.quantities.map {
                Self.describe($0.name, $0.simulated, $0.simulated, line, simulated: true)
            }
            let host = line.quantities.map {
                Self.describe($0.name, $0.hostMin, $0.hostMax, line, simulated: false)
            }
            let mark = line.agrees ? "=" : "≠"
            out.append(
                head + Self.fit(sim.joined(separator: ", "), 34) + " " + host.joined(separator: ", ") + "  "
                    + mark)
            if !line.agrees {
                for q in line.quantities where !q.agrees {
                    out.append(
                        "        ≠ \(q.name): simulated \(q.simulated), host \(q.hostMin == q.hostMax ? "\(q.hostMin)" : "\(q.hostMin)..\(q.hostMax)")"
                            + (q.name == "expect"
                                ? " (simulated: \(line.simulatedActual ?? "?"); host: \(line.hostActual ?? "?"))"
                                : ""))
                }
            }
            if let note = line.note { out.append("        note: \(note)") }
        }
        out.append(
            "\(self.file): \(self.agreeing) of \(self.compared) compared lines agree, \(self.skipped) skipped"
                + (self.allAgree ? "" : " — the simulation and the host differ"))
        return out.joined(separator: "\n")
    }

    static func fit(_ s: String, _ width: Int) -> String {
        s.count > width
            ? String(s.prefix(width - 1)) + "…" : s.padding(toLength: width, withPad: " ", startingAt: 0)
    }

    static func describe(_ name: String, _ lo: Int64, _ hi: Int64, _ line: Line, simulated: Bool) -> String {
        let value = lo == hi ? "\(lo)" : "\(lo)..\(hi)"
        if name == "expect" {
            return lo == hi ? (lo == 1 ? "expect ✓" : "expect ✗") : "expect ✓/✗"
        }
        if name == "signal" { return lo == hi ? (lo == 1 ? "signal" : "no signal") : "signal?" }
        if name.hasSuffix(" RSS") {
            func kib(_ v: Int64) -> String { (v < 0 ? "−" : "+") + ByteSize.human(v.magnitude) }
            return "\(name) " + (lo == hi ? kib(lo) : "\(kib(lo))..\(kib(hi))")
        }
        return "\(name) \(value)"
    }

    /// The comparison as one JSON object.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    enum CodingKeys: String, CodingKey {
        case file, repeats, kernel, lines, notApplied, compared, agreeing, skipped, allAgree
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(self.file, forKey: .file)
        try c.encode(self.repeats, forKey: .repeats)
        try c.encode(self.kernel, forKey: .kernel)
        try c.encode(self.lines, forKey: .lines)
        try c.encode(self.notApplied, forKey: .notApplied)
        try c.encode(self.compared, forKey: .compared)
        try c.encode(self.agreeing, forKey: .agreeing)
        try c.encode(self.skipped, forKey: .skipped)
        try c.encode(self.allAgree, forKey: .allAgree)
    }
}

extension HostComparison.Quantity {
    enum CodingKeys: String, CodingKey { case name, simulated, hostMin, hostMax, agrees }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(self.name, forKey: .name)
        try c.encode(self.simulated, forKey: .simulated)
        try c.encode(self.hostMin, forKey: .hostMin)
        try c.encode(self.hostMax, forKey: .hostMax)
        try c.encode(self.agrees, forKey: .agrees)
    }
}

/// Where the helper binary is: `$VMSIM_HOST_HELPER`, or next to the running executable (the
/// build directory holds `vmsim`, the test bundle and `vmsim-host-helper` side by side).
public enum HostHelperLocation {
    public static func find() -> String? {
        if let env = ProcessInfo.processInfo.environment["VMSIM_HOST_HELPER"], !env.isEmpty { return env }
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return nil
        }
        var dir = (exe as NSString).deletingLastPathComponent
        for _ in 0..<4 {
            let candidate = dir + "/vmsim-host-helper"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = (dir as NSString).deletingLastPathComponent
        }
        return nil
    }
}
