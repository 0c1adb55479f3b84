import VMCore
import VMLibc
import VMTypes

/// `NAME: malloc ALLOC SIZE`, `calloc ALLOC COUNT SIZE`, `memalign ALLOC ALIGNMENT SIZE`,
/// `realloc ALLOC SIZE`, `free ALLOC`: the C library's allocator (glibc 2.36's ptmalloc2 by
/// default; `spawn … allocator=freelist:best` for a teaching one) in the process. Each
/// allocation is named and becomes a region, so `write ALLOC[0:64KiB]` and `expect ALLOC.ptr`
/// work on it.
struct MallocCommand: ScenarioCommand {
    enum Call: Sendable {
        case malloc(UInt64)
        case calloc(UInt64, UInt64)
        case memalign(UInt64, UInt64)
        case realloc(UInt64)
        case free
    }
    var name: String
    var call: Call

    static let syntax = CommandSyntax(
        names: ["malloc", "calloc", "memalign", "realloc", "free"], scope: .process, group: .memory,
        usage: [
            "malloc ALLOC SIZE", "calloc ALLOC COUNT SIZE", "memalign ALLOC ALIGNMENT SIZE",
            "realloc ALLOC SIZE",
            "free ALLOC",
        ],
        summary: "the C library's allocator (glibc malloc) in the process")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let verb = words.head.text
        let name = try words.next("an allocation name")
        let page = context.pageSize
        func size() throws(ScenarioError) -> UInt64 {
            try words.size(try words.next("a size"), pageSize: page, allowZero: true)
        }
        let call: Call
        switch verb {
        case "free", "realloc":
            let shape = context.processes[context.actor]
            let freedBefore = shape?.freed.contains(name.text) == true
            guard shape?.regions[name.text] != nil || (verb == "free" && freedBefore) else {
                throw words.error(at: name, "\(context.actor) has no allocation '\(name.text)'")
            }
            if verb == "free" {
                call = .free
                context.setRegion(name.text, size: nil)
                context.processes[context.actor]?.freed.insert(name.text)
            } else {
                let n = try size()
                call = .realloc(n)
                context.setRegion(name.text, size: n == 0 ? nil : context.pageRounded(max(n, 1)))
            }
        default:
            try context.checkNewRegionName(name, words)
            context.processes[context.actor]?.freed.remove(name.text)
            switch verb {
            case "calloc":
                let count = try words.number(try words.next("a count"), pageSize: page)
                let n = try size()
                call = .calloc(count, n)
                let (total, overflow) = count.multipliedReportingOverflow(by: n)
                if !overflow { context.setRegion(name.text, size: context.pageRounded(max(total, 1))) }
            case "memalign":
                let alignment = try words.size(try words.next("an alignment"), pageSize: page)
                let n = try size()
                call = .memalign(alignment, n)
                context.setRegion(name.text, size: context.pageRounded(max(n, 1)))
            default:
                let n = try size()
                call = .malloc(n)
                context.setRegion(name.text, size: context.pageRounded(max(n, 1)))
            }
        }
        try words.finish()
        return MallocCommand(name: name.text, call: call)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        let allocator = runner.allocator(for: task)
        let old = runner.regions[task.pid]?[self.name]
        let before = runner.trace ? MallocEffect(runner, task, allocator) : nil
        defer {
            if let before {
                let after = MallocEffect(runner, task, allocator)
                let result: String
                if case .free = self.call {
                    result = "\(self.name) freed"
                } else {
                    let pointer = runner.regions[task.pid]?[self.name]?.start
                    result = "\(self.name) = " + (pointer.map { "0x" + String($0, radix: 16) } ?? "NULL")
                }
                runner.write("  [malloc] " + before.effect(result, after: after))
            }
        }
        do {
            let result: UInt64?
            switch self.call {
            case .malloc(let n): result = try allocator.malloc(n)
            case .calloc(let c, let n): result = try allocator.calloc(c, n)
            case .memalign(let a, let n): result = try allocator.memalign(a, n)
            case .realloc(let n): result = try allocator.realloc(old?.start, n)
            case .free:
                // A name freed before still holds its (dangling) pointer: freeing it again is
                // the program's double free, for the allocator to catch.
                let pointer = old?.start ?? runner.danglingPointers[task.pid]?[self.name]
                runner.regions[task.pid]?[self.name] = nil
                runner.mallocNames[task.pid]?.remove(self.name)
                if let pointer { runner.danglingPointers[task.pid, default: [:]][self.name] = pointer }
                try allocator.free(pointer)
                return
            }
            guard let pointer = result else {
                if case .realloc(0) = self.call {
                    runner.regions[task.pid]?[self.name] = nil
                    runner.mallocNames[task.pid]?.remove(self.name)
                    return
                }
                runner.refuse(statement, "returned NULL (\(allocator.errno?.description ?? "ENOMEM"))")
                return
            }
            let size: UInt64
            switch self.call {
            case .malloc(let n), .memalign(_, let n), .realloc(let n): size = max(n, 1)
            case .calloc(let c, let n): size = max(c &* n, 1)
            case .free: size = 0
            }
            runner.regions[task.pid, default: [:]][self.name] = (pointer, size)
            runner.mallocNames[task.pid, default: []].insert(self.name)
        } catch {
            runner.mallocAborted(task, statement, error)
        }
    }
}

/// `NAME: malloc_trim [PAD]` and `NAME: mallopt PARAM=VALUE …`.
struct MallocTuneCommand: ScenarioCommand {
    enum Call: Sendable {
        case trim(UInt64)
        case mallopt([(MalloptParameter, Int32)])
    }
    var call: Call

    static let syntax = CommandSyntax(
        names: ["malloc_trim", "mallopt"], scope: .process, group: .memory,
        usage: [
            "malloc_trim [PAD]",
            "mallopt M_MMAP_THRESHOLD=SIZE|M_TRIM_THRESHOLD=SIZE|M_TOP_PAD=SIZE|M_MMAP_MAX=N …",
        ],
        summary: "give free heap memory back; tune the allocator")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        if words.head.text == "malloc_trim" {
            var pad: UInt64 = 0
            if let t = words.peek() {
                pad = try words.size(t, pageSize: context.pageSize, allowZero: true)
                _ = try words.next("")
            }
            try words.finish()
            return MallocTuneCommand(call: .trim(pad))
        }
        guard !words.isAtEnd else {
            throw words.error(words.endColumn, "expected PARAM=VALUE, e.g. M_MMAP_THRESHOLD=1MiB")
        }
        var settings: [(MalloptParameter, Int32)] = []
        for t in words.takeRest() {
            guard let eq = t.text.firstIndex(of: "="),
                let param = MalloptParameter(cName: String(t.text[..<eq]))
            else {
                let names = MalloptParameter.allCases.map(\.cName).joined(separator: ", ")
                throw words.error(at: t, "expected PARAM=VALUE with PARAM one of \(names)")
            }
            let key = String(t.text[..<eq])
            let valueToken = Token(
                text: String(t.text[t.text.index(after: eq)...]), column: t.column + key.count + 1)
            let value: Int64
            if let v = Int64(valueToken.text) {
                value = v
            } else {
                value = Int64(
                    clamping: try words.size(valueToken, pageSize: context.pageSize, allowZero: true))
            }
            guard let v32 = Int32(exactly: value) else {
                throw words.error(
                    at: valueToken, "'\(valueToken.text)' does not fit mallopt's int (±2147483647)")
            }
            settings.append((param, v32))
        }
        return MallocTuneCommand(call: .mallopt(settings))
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        guard let glibc = runner.allocator(for: task) as? GlibcMalloc else {
            runner.refuse(statement, "only glibc's allocator has malloc_trim and mallopt")
            return
        }
        switch self.call {
        case .trim(let pad):
            let before = runner.trace ? MallocEffect(runner, task, glibc) : nil
            do {
                let released = try glibc.mallocTrim(pad)
                if let before {
                    let after = MallocEffect(runner, task, glibc)
                    runner.write(
                        "  [malloc] " + before.effect("malloc_trim(\(pad)) = \(released)", after: after))
                }
            } catch {
                runner.mallocAborted(task, statement, error)
            }
        case .mallopt(let settings):
            for (param, value) in settings where glibc.mallopt(param, value) == 0 {
                runner.refuse(statement, "mallopt(\(param.cName), \(value)) returned 0")
            }
        }
    }
}

extension ScenarioRunner {
    /// The process's allocator, made on its first use (the kind `spawn … allocator=` chose).
    func allocator(for task: Task) -> any UserAllocator {
        if let a = self.allocators[task.pid] { return a }
        let system = KernelMallocSystem(kernel: self.kernel, task: task)
        let kind = self.allocatorKinds[task.pid] ?? "glibc"
        let allocator = allocatorNamed(kind, system: system) ?? GlibcMalloc(system: system)
        self.allocators[task.pid] = allocator
        return allocator
    }

    /// The child of a fork inherits the parent's allocator state, over its own memory.
    func forkAllocator(parent: Task, child: Task) {
        self.allocatorKinds[child.pid] = self.allocatorKinds[parent.pid]
        self.mallocNames[child.pid] = self.mallocNames[parent.pid]
        if let a = self.allocators[parent.pid] {
            self.allocators[child.pid] = a.forked(onto: KernelMallocSystem(kernel: self.kernel, task: child))
        }
    }

    /// A C library call ended the process: glibc's abort (SIGABRT) or a fatal access.
    func mallocAborted(_ task: Task, _ statement: Statement, _ error: MallocAbort) {
        let name = statement.process ?? task.name
        switch error {
        case .abort(let message):
            self.write("\(name)[\(task.pid)]: \(message); SIGABRT, the process is killed")
            if task.state == .running { self.kernel.exitTask(task, reason: .killed(.sigabrt)) }
        case .killed:
            self.write("\(name)[\(task.pid)]: killed during the call")
        }
    }
}

/// What a C library call did to the process, for `--trace`: the pointer, the system calls it
/// made, and the fragmentation it leaves (heap and RSS against the bytes the program holds).
struct MallocEffect {
    var heap: UInt64
    var mmapped: UInt64
    var live: UInt64
    var rss: UInt64
    var brkCalls: Int
    var mmapCalls: Int
    var munmapCalls: Int
    var madviseCalls: Int
    var minorFaults: Int

    init(_ runner: ScenarioRunner, _ task: Task, _ allocator: any UserAllocator) {
        let dump = allocator.heapDump()
        let stats = allocator.stats
        self.heap = dump.systemBytes
        self.mmapped = dump.mmappedBytes
        self.live = dump.liveBytes
        self.rss = UInt64(task.mm?.rssPages ?? 0) * runner.kernel.phys.pageSize
        self.brkCalls = stats.brkCalls
        self.mmapCalls = stats.mmapCalls
        self.munmapCalls = stats.munmapCalls
        self.madviseCalls = stats.madviseCalls
        self.minorFaults = task.minorFaults
    }

    /// `result` (what the call returned), then what changed from `self` to `after`.
    func effect(_ result: String, after: MallocEffect) -> String {
        var calls: [String] = []
        if after.brkCalls > self.brkCalls { calls.append("brk×\(after.brkCalls - self.brkCalls)") }
        if after.mmapCalls > self.mmapCalls { calls.append("mmap×\(after.mmapCalls - self.mmapCalls)") }
        if after.munmapCalls > self.munmapCalls {
            calls.append("munmap×\(after.munmapCalls - self.munmapCalls)")
        }
        if after.madviseCalls > self.madviseCalls {
            calls.append("madvise×\(after.madviseCalls - self.madviseCalls)")
        }
        func delta(_ a: UInt64, _ b: UInt64) -> String {
            b == a ? "" : b > a ? " (+\(ByteSize.human(b - a)))" : " (−\(ByteSize.human(a - b)))"
        }
        func ratio(_ x: UInt64) -> String {
            guard after.live > 0 else { return "–" }
            let hundredths = Int((Double(x) / Double(after.live) * 100).rounded())
            return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)×"
        }
        return "\(result): heap \(ByteSize.human(after.heap))\(delta(self.heap, after.heap)), "
            + "mmapped \(ByteSize.human(after.mmapped))\(delta(self.mmapped, after.mmapped)), "
            + "live \(ByteSize.human(after.live)), RSS \(ByteSize.human(after.rss))\(delta(self.rss, after.rss)); "
            + "system calls: \(calls.isEmpty ? "none" : calls.joined(separator: " ")); "
            + "\(after.minorFaults - self.minorFaults) faults; "
            + "(heap + mmapped)/live \(ratio(after.heap + after.mmapped)), RSS/live \(ratio(after.rss))"
    }
}
