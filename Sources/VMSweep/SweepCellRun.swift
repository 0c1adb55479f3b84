import Foundation
import VMCore
import VMPhys
import VMSim
import VMTrace
import VMTypes

/// A group's shared input, loaded once for all its cells: the trace in memory (and OPT's next
/// uses when an OPT cell needs them).
final class LoadedGroup: @unchecked Sendable {
    let trace: DenseTrace?
    let nextUse: [UInt32]?
    init(trace: DenseTrace?, nextUse: [UInt32]?) {
        self.trace = trace
        self.nextUse = nextUse
    }
}

/// How cells turn into results: the same arguments `vmsim replay` and `vmsim run` take, so a
/// cell's numbers are those of the single command.
struct CellExecutor: Sendable {
    let plan: SweepPlan

    var kind: SweepKind { self.plan.spec.kind }

    func traceOptions(_ cell: SweepCell) -> TraceOptions {
        var o = TraceOptions()
        if let f = self.plan.value("format", cell) { o.format = TraceFormat(name: f) }
        if let p = self.plan.value("page-size", cell), let v = Int(p) { o.pageSize = v }
        o.instructions = self.plan.value("instructions", cell) != "false"
        o.pageNumbers = self.plan.value("page-numbers", cell) == "true"
        o.skipBad = self.plan.value("skip-bad", cell) == "true"
        return o
    }

    func policy(_ cell: SweepCell) -> PolicyKind {
        PolicyKind(rawValue: self.plan.value("policy", cell) ?? (self.kind == .kernel ? "linux" : "lru"))
            ?? .lru
    }

    func policyOptions(_ cell: SweepCell) -> PolicyOptions {
        var o = PolicyOptions()
        if let s = self.plan.value("seed", cell), let v = UInt64(s) { o.seed = v }
        return o
    }

    /// Loads the trace a group's cells share (nothing for scenarios: each cell parses its own,
    /// a parse being cheap next to running one).
    func load(_ group: SweepGroup) throws -> LoadedGroup {
        guard self.kind != .scenario else { return LoadedGroup(trace: nil, nextUse: nil) }
        let cell = self.plan.cells[group.cells[0]]
        let path = self.plan.spec.resolve(path: self.plan.value("trace", cell) ?? "")
        let reader = try openTrace(path, options: self.traceOptions(cell))
        let trace = try DenseTrace(reader: reader)
        let opt = self.kind == .replay && group.cells.contains { self.policy(self.plan.cells[$0]) == .opt }
        return LoadedGroup(trace: trace, nextUse: opt ? trace.nextUse() : nil)
    }

    /// The frames a replay cell asks for: a count, or a share of the distinct pages.
    func frames(_ cell: SweepCell, distinct: Int) throws -> Int {
        let text = self.plan.value("frames", cell) ?? "1"
        return try parseSizes(text, distinct: distinct)[0]
    }

    /// The metrics of a policy replay, as `vmsim replay --json` names them.
    func replayMetrics(frames: Int, counts: ReplayCounts, distinct: Int) -> [(name: String, value: String)] {
        [
            ("frames", "\(frames)"), ("accesses", "\(counts.accesses)"), ("distinctPages", "\(distinct)"),
            ("hits", "\(counts.hits)"), ("misses", "\(counts.misses)"),
            ("missRatio", fixed(counts.missRatio, 6)),
            ("evictions", "\(counts.evictions)"), ("dirtyEvictions", "\(counts.dirtyEvictions)"),
        ]
    }

    /// LRU at every size of the group in one stack-distance pass.
    func runLRU(_ cells: [SweepCell], _ group: LoadedGroup) -> [CellResult] {
        let trace = group.trace!
        let curves = lruCurves(trace)
        return cells.map { cell in
            do {
                let f = try self.frames(cell, distinct: trace.distinct)
                return CellResult(
                    id: cell.id,
                    metrics: self.replayMetrics(
                        frames: f, counts: curves.counts(frames: f), distinct: trace.distinct))
            } catch {
                return CellResult(id: cell.id, error: describe(error))
            }
        }
    }

    /// Runs one cell.
    func run(_ cell: SweepCell, _ group: LoadedGroup) -> CellResult {
        do {
            switch self.kind {
            case .replay:
                let trace = group.trace!
                let f = try self.frames(cell, distinct: trace.distinct)
                let counts = simulate(
                    self.policy(cell), frames: f, trace: trace, next: group.nextUse,
                    options: self.policyOptions(cell))
                return CellResult(
                    id: cell.id,
                    metrics: self.replayMetrics(frames: f, counts: counts, distinct: trace.distinct))
            case .kernel:
                return CellResult(id: cell.id, metrics: try self.runKernel(cell, group.trace!))
            case .scenario:
                return CellResult(id: cell.id, metrics: try self.runScenario(cell))
            }
        } catch {
            return CellResult(id: cell.id, error: describe(error))
        }
    }

    /// The machine settings of a cell, arch first (the others depend on its page size).
    func settings(_ cell: SweepCell) -> [(String, String)] {
        let names = ["arch"] + MachineSpec.settings.filter { $0 != "arch" }
        return names.compactMap { n in self.plan.value(n, cell).map { (n, $0) } }
    }

    func runKernel(_ cell: SweepCell, _ trace: DenseTrace) throws -> [(name: String, value: String)] {
        var config = MachineConfig()
        for (name, value) in self.settings(cell) {
            do { try MachineSpec.apply(name, value, to: &config) } catch {
                throw CellError("\(name): \(error.message)")
            }
        }
        // As `vmsim replay --kernel`: 64 MiB unless the memory is given.
        if self.plan.value("memory", cell) == nil && config.zoneSizes == nil { config.memory = 64 << 20 }
        let kernel: Kernel
        do { kernel = try Kernel(config: config) } catch {
            throw CellError("\(error.setting): \(error.message)")
        }
        var maps: [MapsEntry]?
        if let m = self.plan.value("maps", cell) {
            let path = self.plan.spec.resolve(path: m)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CellError("\(path): cannot read the maps file")
            }
            maps = try MapsEntry.parse(String(decoding: data, as: UTF8.self), file: path)
        }
        let pageSize = Int(self.plan.value("page-size", cell) ?? "") ?? 4096
        let result = try KernelReplay.run(
            kernel: kernel, trace: trace, traceShift: pageSize.trailingZeroBitCount, maps: maps,
            policy: self.policy(cell), options: self.policyOptions(cell))
        let outcome: String
        switch result.outcome {
        case .completed: outcome = "completed"
        case .signal(let info, let access):
            outcome = "\(info.signal.name)@\(access + 1)"
        case .outOfMemory(let access): outcome = "OOM@\(access + 1)"
        }
        let faults = result.minorFaults + result.majorFaults
        let hits = result.tlb.l1Hits + result.tlb.l2Hits
        let tlbRate = result.tlb.lookups == 0 ? 0 : Double(hits) / Double(result.tlb.lookups)
        return [
            ("memoryBytes", "\(config.memory ?? 0)"), ("accesses", "\(result.performed)"),
            ("distinctPages", "\(trace.distinct)"), ("outcome", outcome),
            ("minorFaults", "\(result.minorFaults)"), ("majorFaults", "\(result.majorFaults)"),
            ("faults", "\(faults)"),
            ("missRatio", fixed(result.performed == 0 ? 0 : Double(faults) / Double(result.performed), 6)),
            ("tlbHitRate", fixed(tlbRate, 6)), ("pswpin", "\(result.pswpin)"),
            ("pswpout", "\(result.pswpout)"),
            ("pgscan", "\(result.pgscan)"), ("pgsteal", "\(result.pgsteal)"),
            ("simulatedNanoseconds", "\(result.simulatedNanoseconds)"),
        ]
    }

    func runScenario(_ cell: SweepCell) throws -> [(name: String, value: String)] {
        let path = self.plan.spec.resolve(path: self.plan.value("scenario", cell) ?? "")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CellError("\(path): cannot read the scenario")
        }
        let scenario = try ScenarioParser.parse(bytes: Array(data), file: path)
        let runner = try ScenarioRunner(scenario: scenario, overrides: self.settings(cell), write: { _ in })
        // A scenario that loops forever is stopped, as `vmsim run` stops it.
        runner.accessLimit = 1 << 32
        runner.run(scenario)
        var metrics: [(name: String, value: String)] = [
            ("expectationsPassed", "\(runner.expectationsPassed)"),
            ("expectationsFailed", "\(runner.expectationsFailed)"), ("refused", "\(runner.runtimeErrors)"),
        ]
        for line in ProcFS.vmstat(runner.kernel).split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { metrics.append((String(parts[0]), String(parts[1]))) }
        }
        return metrics
    }
}

/// A cell's own error (bad combination of settings, unreadable file).
struct CellError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { self.description = message }
}

func describe(_ error: any Error) -> String {
    String(describing: error)
}
