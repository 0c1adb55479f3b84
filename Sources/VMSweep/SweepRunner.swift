import Foundation
import VMTrace

/// How a local run goes.
public struct SweepRunOptions: Sendable {
    /// Worker threads (default: every core).
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    /// Bytes the running cells' estimated footprints may add up to (one group and one cell
    /// always run, whatever their estimate).
    public var memoryLimit = Int(ProcessInfo.processInfo.physicalMemory / 2)
    /// Run only shard `index` of `count`.
    public var shard: (index: Int, count: Int)?
    /// Run failed cells again (the default); false leaves them failed.
    public var retryFailed = true
    /// A progress bar on standard error (only when it is a terminal).
    public var progress = isatty(2) != 0
    /// Stop taking new work after this many cells were recorded (tests of resuming).
    public var stopAfter: Int?
    public init() {}
}

/// What a run did.
public struct SweepRunSummary: Sendable, Equatable {
    /// Cells in this run's share of the plan.
    public var cells = 0
    /// Finished before this run started.
    public var skipped = 0
    public var ran = 0
    public var failed = 0
    /// Accesses simulated (cells × trace length; LRU's one-pass cells count once each).
    public var accesses = 0
}

/// Runs a plan's cells on all cores.
///
/// Work is in groups (the cells of one trace): a worker loads a group's trace once (`DenseTrace`,
/// and OPT's next-use array if an OPT cell needs it), then the group's cells become tasks any
/// worker takes — each policy × size its own task, except that all LRU sizes of a replay group
/// are one task, one stack-distance pass (`lruCurves`). Workers prefer tasks of loaded groups to
/// loading the next, so traces leave memory as soon as their cells are done; a group is loaded,
/// and a task started, only while the estimated footprints of everything loaded or running stay
/// under `memoryLimit` (or nothing else is running). Each cell's result is written atomically as
/// soon as it is known; cells already finished in the directory are not run again.
public final class SweepRunner: @unchecked Sendable {
    let plan: SweepPlan
    let store: SweepStore
    let options: SweepRunOptions
    let executor: CellExecutor

    enum TaskKind { case single(Int), lru([Int]) }
    struct Task {
        var kind: TaskKind
        var footprint: Int
        var cellCount: Int {
            switch self.kind {
            case .single: return 1
            case .lru(let c): return c.count
            }
        }
    }
    struct GroupState {
        var group: SweepGroup
        var footprint: Int
        var tasks: [Task] = []
        var loaded: LoadedGroup?
        var loading = false
        var running = 0
        var finished = false
    }

    let condition = NSCondition()
    var groups: [GroupState] = []
    var bytesInUse = 0
    var activeTasks = 0
    var stop = false
    var summary = SweepRunSummary()
    var firstError: SweepError?
    var lastDraw = 0.0
    let start = monotonicSeconds()

    public init(plan: SweepPlan, store: SweepStore, options: SweepRunOptions = SweepRunOptions()) {
        self.plan = plan
        self.store = store
        self.options = options
        self.executor = CellExecutor(plan: plan)
    }

    /// The cells this run is responsible for: its shard, or every cell.
    var share: [SweepCell] {
        guard let s = self.options.shard else { return self.plan.cells }
        return self.plan.shard(s.index, of: s.count)
    }

    /// Runs every unfinished cell of the share; throws only when results cannot be written.
    public func run() throws(SweepError) -> SweepRunSummary {
        try self.store.prepare(plan: self.plan)
        try self.store.recordInfo(self.plan.spec)
        let share = self.share
        let mine = Set(share.map(\.index))
        self.summary.cells = share.count
        for g in self.plan.groups {
            var todo: [Int] = []
            for i in g.cells where mine.contains(i) {
                let id = self.plan.cells[i].id
                if self.store.isFinished(id) || (!self.options.retryFailed && self.store.hasFailed(id)) {
                    self.summary.skipped += 1
                } else {
                    todo.append(i)
                }
            }
            guard !todo.isEmpty else { continue }
            let group = SweepGroup(cells: todo)
            var state = GroupState(group: group, footprint: self.plan.estimatedFootprint(group: group))
            let lru =
                self.plan.spec.kind == .replay
                ? todo.filter { self.executor.policy(self.plan.cells[$0]) == .lru } : []
            if lru.count >= 2 {
                state.tasks.append(Task(kind: .lru(lru), footprint: 16 * (1 << 16)))
            }
            for i in todo where !(lru.count >= 2 && lru.contains(i)) {
                state.tasks.append(
                    Task(kind: .single(i), footprint: self.plan.estimatedFootprint(cell: self.plan.cells[i])))
            }
            self.groups.append(state)
        }
        let workers = max(1, min(self.options.jobs, self.groups.reduce(0) { $0 + $1.tasks.count }))
        let done = DispatchGroup()
        for _ in 0..<workers {
            done.enter()
            let thread = Thread { [self] in
                self.work()
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        if self.options.progress { writeStderr("\r\u{1B}[K") }
        if let e = self.firstError { throw e }
        return self.summary
    }

    func work() {
        self.condition.lock()
        defer { self.condition.unlock() }
        while !self.stop {
            if let (g, task) = self.takeTask() {
                self.condition.unlock()
                let results = self.execute(task, self.groups[g].loaded!)
                self.condition.lock()
                self.finish(g, task, results)
                continue
            }
            if let g = self.nextGroupToLoad() {
                self.groups[g].loading = true
                self.bytesInUse += self.groups[g].footprint
                let group = self.groups[g].group
                self.condition.unlock()
                let loaded: Result<LoadedGroup, any Error> = Result { try self.executor.load(group) }
                self.condition.lock()
                self.groups[g].loading = false
                switch loaded {
                case .success(let l): self.groups[g].loaded = l
                case .failure(let error):
                    // Every cell of the trace fails with the trace's error; the others go on.
                    let message = describe(error)
                    let results = group.cells.map { CellResult(id: self.plan.cells[$0].id, error: message) }
                    self.groups[g].tasks = []
                    self.groups[g].finished = true
                    self.bytesInUse -= self.groups[g].footprint
                    self.recordLocked(results, accesses: 0)
                }
                self.condition.broadcast()
                continue
            }
            if self.groups.allSatisfy({ $0.finished }) { break }
            self.condition.wait()
        }
        self.condition.broadcast()
    }

    /// A task of the earliest loaded group that fits in memory.
    func takeTask() -> (Int, Task)? {
        for g in self.groups.indices where self.groups[g].loaded != nil && !self.groups[g].tasks.isEmpty {
            let task = self.groups[g].tasks[0]
            guard self.activeTasks == 0 || self.bytesInUse + task.footprint <= self.options.memoryLimit else {
                return nil
            }
            self.groups[g].tasks.removeFirst()
            self.groups[g].running += 1
            self.activeTasks += 1
            self.bytesInUse += task.footprint
            return (g, task)
        }
        return nil
    }

    /// The next group to load, if the memory bound allows it.
    func nextGroupToLoad() -> Int? {
        guard
            let g = self.groups.indices.first(where: {
                !self.groups[$0].finished && self.groups[$0].loaded == nil && !self.groups[$0].loading
            })
        else { return nil }
        let busy =
            self.activeTasks > 0 || self.groups.contains { $0.loading || ($0.loaded != nil && !$0.finished) }
        guard !busy || self.bytesInUse + self.groups[g].footprint <= self.options.memoryLimit else {
            return nil
        }
        return g
    }

    func execute(_ task: Task, _ loaded: LoadedGroup) -> [CellResult] {
        switch task.kind {
        case .single(let i): return [self.executor.run(self.plan.cells[i], loaded)]
        case .lru(let cells): return self.executor.runLRU(cells.map { self.plan.cells[$0] }, loaded)
        }
    }

    func finish(_ g: Int, _ task: Task, _ results: [CellResult]) {
        self.activeTasks -= 1
        self.bytesInUse -= task.footprint
        self.groups[g].running -= 1
        let accesses = self.groups[g].loaded?.trace?.count ?? 0
        if self.groups[g].tasks.isEmpty && self.groups[g].running == 0 {
            self.groups[g].finished = true
            self.groups[g].loaded = nil
            self.bytesInUse -= self.groups[g].footprint
        }
        self.recordLocked(results, accesses: accesses)
        self.condition.broadcast()
    }

    /// Writes results (under the lock: the counts and the progress line stay consistent).
    func recordLocked(_ results: [CellResult], accesses: Int) {
        for r in results {
            do {
                try self.store.record(r)
            } catch {
                if self.firstError == nil { self.firstError = error }
                self.stop = true
            }
            self.summary.ran += 1
            if r.error != nil { self.summary.failed += 1 } else { self.summary.accesses += accesses }
            if let limit = self.options.stopAfter, self.summary.ran >= limit { self.stop = true }
        }
        self.drawProgress()
    }

    func drawProgress() {
        guard self.options.progress else { return }
        let now = monotonicSeconds()
        let todo = self.summary.cells - self.summary.skipped
        guard now - self.lastDraw >= 0.1 || self.summary.ran == todo else { return }
        self.lastDraw = now
        let width = 30
        let filled = todo == 0 ? width : width * self.summary.ran / todo
        var line =
            "\rsweep [" + String(repeating: "#", count: filled)
            + String(repeating: "-", count: width - filled)
        line += "] \(self.summary.ran)/\(todo) cells"
        if self.summary.failed > 0 { line += ", \(self.summary.failed) failed" }
        let seconds = now - self.start
        line += ", \(formatCount(self.summary.accesses)) accesses, \(fixed(seconds, 1)) s   "
        writeStderr(line)
    }
}
