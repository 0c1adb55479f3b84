import VMCore
import VMPaging
import VMPhys
import VMTypes

/// Runs scenarios on a simulated kernel: boots the machine (defaults, then the scenario's
/// `machine` line, then command-line overrides), executes each statement, prints reports, checks
/// expectations, and keeps score.
public final class ScenarioRunner {
    public let kernel: Kernel
    /// Where output goes, line by line.
    public var write: (String) -> Void
    /// Print kernel events as they happen.
    public let trace: Bool
    /// Processes by scenario name (kept after they die, for `expect NAME.killed`).
    public private(set) var processes: [String: Task] = [:]
    /// Named regions per pid: start address and length.
    var regions: [Int: [String: (start: UInt64, length: UInt64)]] = [:]
    /// Files a process opened with `fread`/`fwrite`/`fsync`/`fadvise`, per pid: path → fd.
    var descriptors: [Int: [String: Int]] = [:]
    public internal(set) var expectationsPassed = 0
    public private(set) var expectationsFailed = 0
    /// Operations the simulated system refused or that hit a dead process (reported, not fatal).
    public private(set) var runtimeErrors = 0
    public private(set) var failures: [String] = []

    /// Boots the machine a scenario describes. Settings: `base`, then the scenario's `machine`
    /// line, then `overrides` (command-line flags, which win).
    public init(
        scenario: Scenario?, base: MachineConfig = MachineConfig(), overrides: [(String, String)] = [],
        trace: Bool = false, write: @escaping (String) -> Void
    ) throws(ScenarioError) {
        var config = base
        if let scenario, let first = scenario.statements.first, case .machine(let settings) = first.command {
            for (key, value, column) in settings {
                do {
                    try MachineSpec.apply(key, value, to: &config)
                } catch {
                    throw ScenarioError(
                        location: ScenarioLocation(
                            file: first.location.file, line: first.location.line, column: column),
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
        self.write = write
        self.trace = trace
        if trace {
            self.kernel.eventSink = { [unowned self] event in
                self.write("  [trace] " + ScenarioRunner.describe(event))
            }
        }
    }

    /// Runs every statement in order.
    public func run(_ scenario: Scenario) {
        for statement in scenario.statements { self.execute(statement) }
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

    func fail(_ statement: Statement, _ message: String) {
        self.expectationsFailed += 1
        let text =
            "\(statement.location.file):\(statement.location.line): expectation failed: \(statement.text) — \(message)"
        self.failures.append(text)
        self.write(text)
    }

    func refuse(_ statement: Statement, _ message: String) {
        self.runtimeErrors += 1
        self.write("\(statement.location.file):\(statement.location.line): \(statement.text): \(message)")
    }

    /// The live task a statement acts for, or nil (reported) if it is no longer running.
    func task(_ statement: Statement, _ name: String) -> Task? {
        guard let task = self.processes[name], task.state == .running, task.mm != nil else {
            self.refuse(statement, "process '\(name)' is not running")
            return nil
        }
        return task
    }

    /// Absolute range of a reference for `task` (start, end; end = start + 1 for one address).
    func resolve(_ ref: MemoryRef, _ task: Task) -> Range<UInt64>? {
        let base: UInt64
        let length: UInt64
        if let region = ref.region {
            if region == "heap", let mm = task.mm {
                base = mm.startBrk
                length = mm.brk - mm.startBrk
            } else {
                guard let r = self.regions[task.pid]?[region] else { return nil }
                base = r.start
                length = r.length
            }
        } else {
            base = ref.address ?? 0
            length = UInt64.max - base
        }
        let start = base + ref.start
        if ref.single { return start..<(start + 1) }
        let end = ref.end.map { base + $0 } ?? base + length
        guard end > start else { return nil }
        return start..<end
    }

    // MARK: Statements

    /// Executes one statement.
    public func execute(_ statement: Statement) {
        let page = self.kernel.phys.pageSize
        switch statement.command {
        case .machine:
            return
        case .spawn(let name, let path, let layout):
            do {
                let task = try self.kernel.spawn(name: name, path: path, layout: layout)
                self.processes[name] = task
                self.recordExecRegions(task)
            } catch {
                self.refuse(statement, "spawn failed: \(error)")
            }
        case .mmap(let region, _, var request, let filePath):
            guard let name = statement.process, let task = self.task(statement, name) else { return }
            var fd: Int?
            if let filePath {
                // open(), mmap(), close(): the mapping keeps the file open.
                do { fd = try self.kernel.open(task, filePath) } catch {
                    self.refuse(statement, "open \(filePath) failed: \(error)")
                    return
                }
                var offset: UInt64 = 0
                if case .file(_, let o) = request.backing { offset = o }
                request.backing = .file(fd: fd!, offset: offset)
            } else if case .file = request.backing {
                self.refuse(statement, "offset= needs file=PATH")
                return
            }
            defer { if let fd { try? self.kernel.close(task, fd: fd) } }
            do {
                let start = try self.kernel.mmap(task, request)
                self.regions[task.pid, default: [:]][region] = (start, self.kernel.pageAlign(request.length))
            } catch {
                self.refuse(statement, "mmap failed: \(error)")
            }
        case .munmap(let ref):
            self.withRange(statement, ref) { task, range throws(MMError) in
                try self.kernel.munmap(
                    task, address: range.lowerBound & ~(page - 1),
                    length: range.upperBound - (range.lowerBound & ~(page - 1)))
                if let region = ref.region, ref.start == 0, ref.end == nil, !ref.single {
                    self.regions[task.pid]?[region] = nil
                }
            }
        case .mprotect(let ref, let prot):
            self.withRange(statement, ref) { task, range throws(MMError) in
                try self.kernel.mprotect(
                    task, address: range.lowerBound & ~(page - 1),
                    length: range.upperBound - (range.lowerBound & ~(page - 1)), protection: prot)
            }
        case .madvise(let ref, let advice):
            self.withRange(statement, ref) { task, range throws(MMError) in
                try self.kernel.madvise(
                    task, address: range.lowerBound & ~(page - 1),
                    length: range.upperBound - (range.lowerBound & ~(page - 1)), advice: advice)
            }
        case .mlock(let ref, let lock):
            self.withRange(statement, ref) { task, range throws(MMError) in
                try self.kernel.mlock(
                    task, address: range.lowerBound, length: range.upperBound - range.lowerBound, lock: lock)
            }
        case .brk(let delta, let absolute):
            guard let name = statement.process, let task = self.task(statement, name), let mm = task.mm else {
                return
            }
            let target = absolute ?? UInt64(max(Int64(mm.startBrk), Int64(mm.brk) + (delta ?? 0)))
            let result = self.kernel.brk(task, to: target)
            if result != target { self.refuse(statement, "brk refused; the break stays at \(hex(result))") }
        case .access(let access, let ref, let stride, let value, let expectSignal):
            guard let name = statement.process, let task = self.task(statement, name) else { return }
            guard let range = self.resolve(ref, task) else {
                self.refuse(statement, "\(ref) is not mapped")
                return
            }
            let step = stride ?? page
            var address = range.lowerBound
            var signal: (Int, UInt64, String)?
            while address < range.upperBound {
                let word =
                    value ?? ((UInt64(task.pid) << 32) | (address >> UInt64(self.kernel.phys.pageShift)))
                let result = self.kernel.userAccess(task, address: address, access: access, value: word)
                switch result {
                case .ok: break
                case .signal(let s, let a, let reason): signal = (s, a, reason)
                case .outOfMemory: signal = (Signal.sigkill, address, "out of memory")
                }
                if signal != nil { break }
                address += step
            }
            let expectedName = { (s: Int) in
                s == Signal.sigsegv ? "SIGSEGV" : s == Signal.sigbus ? "SIGBUS" : "the OOM killer"
            }
            if let (s, a, reason) = signal {
                let what =
                    s == Signal.sigsegv ? "SIGSEGV" : s == Signal.sigbus ? "SIGBUS" : "killed (out of memory)"
                if s == expectSignal {
                    self.expectationsPassed += 1
                    self.write("\(name)[\(task.pid)]: \(what) at \(hex(a)) (\(reason)) — expected")
                } else {
                    self.write(
                        "\(name)[\(task.pid)]: \(what) at \(hex(a)) (\(reason)); the process is killed")
                    if let expectSignal {
                        self.fail(statement, "expected \(expectedName(expectSignal)), got \(what)")
                    }
                }
            } else if let expected = expectSignal {
                self.fail(statement, "expected \(expectedName(expected)), but the access succeeded")
            }
        case .fork(let child):
            guard let name = statement.process, let task = self.task(statement, name) else { return }
            do {
                let c = try self.kernel.fork(task, childName: child)
                self.processes[child] = c
                self.regions[c.pid] = self.regions[task.pid]
                self.descriptors[c.pid] = self.descriptors[task.pid]
            } catch {
                self.refuse(statement, "fork failed: \(error)")
            }
        case .exit(let code):
            guard let name = statement.process, let task = self.task(statement, name) else { return }
            self.kernel.exitTask(task, reason: .exited(code: code))
        case .wait(let child):
            guard let name = statement.process, let task = self.task(statement, name) else { return }
            let pid = child.flatMap { self.processes[$0]?.pid }
            if self.kernel.wait(task, for: pid) == nil { self.refuse(statement, "no child to reap") }
        case .expectMemory(let ref, let op, let expected):
            guard let name = statement.process, let task = self.task(statement, name) else { return }
            guard let range = self.resolve(ref, task) else {
                self.refuse(statement, "\(ref) is not mapped")
                return
            }
            var address = range.lowerBound
            while address < range.upperBound {
                switch self.kernel.userAccess(task, address: address, access: .read) {
                case .ok(let v):
                    if !op.holds(v, expected) {
                        self.fail(statement, "\(hex(address)) holds \(v) (\(hex(v)))")
                        return
                    }
                default:
                    self.fail(statement, "reading \(hex(address)) killed the process")
                    return
                }
                address += page
            }
            self.expectationsPassed += 1
        case .expect(let subject, let op, let expected):
            guard let actual = self.value(of: subject, statement) else { return }
            if op.holds(actual, expected) {
                self.expectationsPassed += 1
            } else {
                self.fail(statement, "\(subject) is \(actual)")
            }
        case .resetCounters:
            self.kernel.resetCounters()
        case .show(let items):
            for item in items { self.show(item, statement) }
        case .translate(let ref, let access):
            let processName = String(ref.text.split(separator: " ").first ?? "")
            guard let task = self.task(statement, processName), let range = self.resolve(ref, task) else {
                return
            }
            self.write("==> translate \(ref.text) (\(access.rawValue)) <==")
            self.write(
                LiveTranslation.explain(self.kernel, task, address: range.lowerBound, access: access),
                terminator: false)
        default:
            self.executeFileCommand(statement)
        }
    }

    func write(_ text: String, terminator: Bool) {
        var t = text
        if t.hasSuffix("\n") { t.removeLast() }
        self.write(t)
    }

    /// Runs a system call over a resolved range, reporting refusals.
    func withRange(
        _ statement: Statement, _ ref: MemoryRef, _ body: (Task, Range<UInt64>) throws(MMError) -> Void
    ) {
        guard let name = statement.process, let task = self.task(statement, name) else { return }
        guard let range = self.resolve(ref, task) else {
            self.refuse(statement, "\(ref) is not mapped")
            return
        }
        do { try body(task, range) } catch { self.refuse(statement, error.description) }
    }

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

    /// The value an `expect` subject has now.
    func value(of subject: ExpectSubject, _ statement: Statement) -> UInt64? {
        let page = self.kernel.phys.pageSize
        switch subject {
        case .vmstat(let name):
            for line in ProcFS.vmstat(self.kernel).split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, parts[0] == name, let v = UInt64(parts[1]) { return v }
            }
            self.refuse(statement, "no vmstat counter '\(name)'")
            return nil
        case .meminfo(let name):
            guard let field = self.kernel.memInfo().first(where: { $0.name == name }) else {
                self.refuse(statement, "no meminfo field '\(name)'")
                return nil
            }
            return field.unit == .kB ? field.value * 1024 : field.value
        case .file(let path, let field):
            guard let file = self.kernel.file(at: path) else {
                self.refuse(statement, "no file '\(path)'")
                return nil
            }
            switch field {
            case "cached": return UInt64(file.cachedPages) * page
            case "dirty": return UInt64(file.dirtyPages) * page
            case "writeback": return UInt64(file.writebackPages) * page
            case "mapped":
                return UInt64(file.pages.values.filter { self.kernel.phys.memMap.mapCount($0) > 0 }.count)
                    * page
            default: return file.size
            }
        case .disk(let field):
            let s = self.kernel.vfs.disk.stats
            switch field {
            case "reads": return s.readsCompleted
            case "writes": return s.writesCompleted
            case "read_bytes": return s.sectorsRead * 512
            case "written_bytes": return s.sectorsWritten * 512
            case "seeks": return s.seeks
            default: return s.busyNanos
            }
        case .slab(let name):
            guard let id = self.kernel.phys.slabCache(named: name) else {
                self.refuse(statement, "no slab cache '\(name)'")
                return nil
            }
            return UInt64(self.kernel.phys.slabCache(id).activeObjects)
        case .time:
            return self.kernel.now
        case .process(let name, let field):
            guard let task = self.processes[name] else {
                if field == "alive" { return 0 }
                self.refuse(statement, "no process '\(name)'")
                return nil
            }
            let mm = task.mm
            func pages(_ n: Int?) -> UInt64 { UInt64(max(n ?? 0, 0)) * page }
            switch field {
            case "minflt": return UInt64(task.minorFaults)
            case "majflt": return UInt64(task.majorFaults)
            case "rss": return pages(mm?.rssPages)
            case "rssanon": return pages(mm?.counter(.anonPages))
            case "rssfile": return pages(mm?.counter(.filePages))
            case "rssshmem": return pages(mm?.counter(.shmemPages))
            case "vmsize": return pages(mm?.totalVM)
            case "vmpeak": return pages(mm.map { max($0.hiwaterVM, $0.totalVM) })
            case "vmhwm": return pages(mm.map { max($0.hiwaterRSS, $0.rssPages) })
            case "vmdata": return pages(mm?.dataVM)
            case "vmstk": return pages(mm?.stackVM)
            case "vmexe": return pages(mm?.execVM)
            case "vmpte": return pages(mm?.pageTablePages)
            case "vmswap": return pages(mm?.counter(.swapEntries))
            case "vmlck": return pages(mm?.lockedVM)
            case "vmas": return UInt64(mm?.mapCount ?? 0)
            case "pid": return UInt64(task.pid)
            case "iowait": return task.blkioDelay
            case "alive": return task.state == .running ? 1 : 0
            case "killed":
                if case .killed(let s) = task.exitReason { return UInt64(s) }
                return 0
            default:
                self.refuse(statement, "no field '\(field)'")
                return nil
            }
        }
    }

    /// Prints one `show` item with a header.
    func show(_ item: ShowItem, _ statement: Statement) {
        switch item {
        case .global(let what):
            let text = ProcFS.global(what, self.kernel)
            self.write("==> \(ProcFS.reportPath(what)) <==")
            self.write(text, terminator: false)
        case .process(let name, let what, let ref):
            guard let task = self.task(statement, name) else { return }
            let text: String
            switch what {
            case "maps": text = ProcFS.maps(self.kernel, task)
            case "smaps": text = ProcFS.smaps(self.kernel, task)
            case "status": text = ProcFS.status(self.kernel, task)
            case "pagetable": text = ProcFS.pageTableDump(self.kernel, task)
            default: text = ProcFS.pagemap(self.kernel, task, range: ref.flatMap { self.resolve($0, task) })
            }
            self.write("==> /proc/\(task.pid)/\(what) (\(name)) <==")
            self.write(text, terminator: false)
        }
    }

    /// A trace line for an event.
    static func describe(_ event: KernelEvent) -> String {
        switch event {
        case .fault(let pid, let address, let access, let kind, let major):
            return
                "fault pid=\(pid) \(access.rawValue) \(hex(address)): \(kind.rawValue)\(major ? " (major)" : "")"
        case .signal(let pid, let address, let signal, let reason):
            return "signal \(signal) to pid \(pid) at \(hex(address)): \(reason)"
        case .fork(let parent, let child): return "fork \(parent) → \(child)"
        case .exec(let pid, let path): return "exec pid=\(pid) \(path)"
        case .exit(let pid, let reason): return "exit pid=\(pid): \(reason)"
        case .reap(let pid): return "reaped pid \(pid)"
        case .mmap(let pid, let start, let end, let flags):
            return "mmap pid=\(pid) \(hex(start))-\(hex(end)) \(flags.permissions)"
        case .munmap(let pid, let start, let end): return "munmap pid=\(pid) \(hex(start))-\(hex(end))"
        case .log(let text): return "printk: \(text)"
        case .blockIO(let write, let block, let pages, let time, let completes):
            return
                "block \(write ? "write" : "read") \(pages) page\(pages == 1 ? "" : "s") at block \(block), completes in \(ProcFS.duration(completes - time))"
        case .readahead(let path, let start, let pages, let async):
            return "\(async ? "async" : "sync") readahead \(path) pages \(start)..<\(start + pages)"
        case .writeback(let path, let pages, let reason):
            return "writeback \(path): \(pages) page\(pages == 1 ? "" : "s") (\(reason))"
        case .ioWait(let pid, let ns):
            return "pid \(pid) waited \(ProcFS.duration(ns)) for I/O"
        case .reclaim(let pid, let scanned, let reclaimed):
            return
                "\(pid.map { "direct reclaim by pid \($0)" } ?? "kswapd0"): scanned \(scanned), reclaimed \(reclaimed)"
        case .oomKill(let pid, let name, let points):
            return "oom-killer chose pid \(pid) (\(name)), badness \(points)"
        }
    }
}
