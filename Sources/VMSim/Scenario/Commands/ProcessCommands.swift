import VMCore
import VMTypes

/// `spawn NAME [text=SIZE] [data=SIZE] [bss=SIZE] [image=PATH]`: fork + execve of a static binary.
struct SpawnCommand: ScenarioCommand {
    var name: String
    var path: String?
    var layout: ImageLayout
    /// The C library allocator the process's `malloc` lines use.
    var allocator: String?
    /// The memory cgroup it starts in (`cgroup=/app`; nil: the root).
    var cgroup: String?

    static let syntax = CommandSyntax(
        names: ["spawn"], scope: .global, group: .processes,
        usage: [
            "spawn NAME [text=SIZE] [data=SIZE] [bss=SIZE] [image=PATH] [allocator=glibc|freelist:best|…]",
            "      [cgroup=PATH]   (start inside a declared memory cgroup; fork's children inherit it)",
        ],
        summary: "start a process (fork + execve of a static binary)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let name = try words.next("a process name")
        try context.checkNewProcessName(name, words)
        let (opts, _) = try words.options(allowed: ["text", "data", "bss", "image", "allocator", "cgroup"])
        if let g = opts["cgroup"] { try context.requireCgroup(g, words, rootAllowed: true) }
        if let a = opts["allocator"], !allocatorNames.contains(a.text) {
            throw words.error(
                at: a, "unknown allocator '\(a.text)' (expected \(allocatorNames.joined(separator: ", ")))")
        }
        var layout = ImageLayout()
        if let t = opts["text"] { layout.text = try words.size(t, pageSize: context.pageSize) }
        if let t = opts["data"] {
            layout.data = try words.size(t, pageSize: context.pageSize, allowZero: true)
        }
        if let t = opts["bss"] { layout.bss = try words.size(t, pageSize: context.pageSize, allowZero: true) }
        if let image = opts["image"] { try context.checkPath(image, words) }
        context.startProcess(
            name.text,
            regions: [
                "text": context.pageRounded(layout.text), "data": context.pageRounded(layout.data),
                "bss": context.pageRounded(layout.bss), "heap": 0, "stack": 8 << 20,
            ])
        return SpawnCommand(
            name: name.text, path: opts["image"]?.text, layout: layout, allocator: opts["allocator"]?.text,
            cgroup: opts["cgroup"]?.text)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        do {
            var group: MemCgroup?
            if let path = self.cgroup {
                guard let g = runner.kernel.memcg.group(at: path) else {
                    runner.refuse(statement, "spawn failed: no cgroup \(path)")
                    return
                }
                group = g
            }
            let task = try runner.kernel.spawn(
                name: self.name, path: self.path, layout: self.layout, memcg: group)
            runner.processes[self.name] = task
            runner.recordExecRegions(task)
            if let allocator = self.allocator { runner.allocatorKinds[task.pid] = allocator }
        } catch {
            runner.refuse(statement, "spawn failed: \(error)")
        }
    }
}

/// `NAME: fork CHILD`: the child gets copy-on-write copies of private memory.
struct ForkCommand: ScenarioCommand {
    var child: String

    static let syntax = CommandSyntax(
        names: ["fork"], scope: .process, group: .processes, usage: ["fork CHILD"],
        summary: "fork(2): the child shares private pages copy-on-write")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let child = try words.next("the child's name")
        try words.finish()
        try context.checkNewProcessName(child, words)
        context.startProcess(
            child.text, regions: context.processes[context.actor]?.regions ?? [:],
            caught: context.processes[context.actor]?.caught ?? [])
        return ForkCommand(child: child.text)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        do {
            let c = try runner.kernel.fork(task, childName: self.child)
            runner.processes[self.child] = c
            runner.regions[c.pid] = runner.regions[task.pid]
            runner.descriptors[c.pid] = runner.descriptors[task.pid]
            runner.forkAllocator(parent: task, child: c)
        } catch {
            runner.refuse(statement, "fork failed: \(error)")
        }
    }
}

/// `NAME: exit [CODE]`: the process exits; its zombie keeps the pid until reaped.
struct ExitCommand: ScenarioCommand {
    var code: Int

    static let syntax = CommandSyntax(
        names: ["exit"], scope: .process, group: .processes, usage: ["exit [CODE]"],
        summary: "exit(2) with status CODE (0 … 255)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        var code = 0
        if let t = words.peek() {
            code = try words.integer(t, in: 0...255, what: "an exit status")
            _ = try words.next("")
        }
        try words.finish()
        context.endProcess(context.actor)
        return ExitCommand(code: code)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        runner.kernel.exitTask(task, reason: .exited(code: self.code))
    }
}

/// `NAME: wait [CHILD]`: reaps a child (any, or the one named).
struct WaitCommand: ScenarioCommand {
    var child: String?

    static let syntax = CommandSyntax(
        names: ["wait"], scope: .process, group: .processes, usage: ["wait [CHILD]"],
        summary: "wait(2): reap an exited child")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let child = words.peek()
        if let child {
            guard context.everSeen.contains(child.text) else {
                throw words.error(at: child, "unknown process '\(child.text)'" + context.knownProcesses())
            }
            _ = try words.next("")
        }
        try words.finish()
        return WaitCommand(child: child?.text)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        let pid = self.child.flatMap { runner.processes[$0]?.pid }
        if self.child != nil && pid == nil {
            runner.refuse(statement, "ECHILD: \(self.child!) was never started")
            return
        }
        if runner.kernel.wait(task, for: pid) == nil { runner.refuse(statement, "no child to reap") }
    }
}

/// `NAME: oom_score_adj N`: `/proc/PID/oom_score_adj`.
struct OOMScoreAdjCommand: ScenarioCommand {
    var value: Int

    static let syntax = CommandSyntax(
        names: ["oom_score_adj"], scope: .process, group: .swap, usage: ["oom_score_adj N"],
        summary: "-1000 protects from the OOM killer, 1000 volunteers")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard words.count == 1, let t = words.peek(), let n = Int(t.text), (-1000...1000).contains(n) else {
            throw words.error(
                words.peek()?.column ?? words.head.endColumn, "expected a value from -1000 to 1000")
        }
        _ = words.takeRest()
        return OOMScoreAdjCommand(value: n)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        task.oomScoreAdj = self.value
    }
}

/// `NAME: setrlimit stack|as|data SIZE|unlimited`: `setrlimit(2)` of `RLIMIT_STACK`, `RLIMIT_AS`
/// or `RLIMIT_DATA` (soft and hard together); children inherit it at `fork`.
struct SetrlimitCommand: ScenarioCommand {
    var resource: RlimitResource
    /// Bytes; `Kernel.rlimInfinity` for `unlimited`.
    var value: UInt64

    static let syntax = CommandSyntax(
        names: ["setrlimit"], scope: .process, group: .processes,
        usage: ["setrlimit stack|as|data SIZE|unlimited"],
        summary: "setrlimit(2): RLIMIT_STACK, RLIMIT_AS or RLIMIT_DATA")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let r = try words.next("a resource (stack, as, data)")
        guard let resource = RlimitResource(rawValue: r.text.lowercased()) else {
            throw words.error(at: r, "unknown resource '\(r.text)': expected stack, as or data")
        }
        let v = try words.next("a size or 'unlimited'")
        let value =
            v.text == "unlimited" || v.text == "infinity"
            ? Kernel.rlimInfinity : try words.size(v, pageSize: context.pageSize, allowZero: true)
        try words.finish()
        return SetrlimitCommand(resource: resource, value: value)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        runner.kernel.setrlimit(task, self.resource, self.value)
    }
}

/// `NAME: on segv|sigbus continue|default`: `sigaction(2)` of a SIGSEGV or SIGBUS handler that
/// returns past the faulting access as one ending in `siglongjmp()` does (`continue`), or back to
/// `SIG_DFL` (`default`). With a handler, a bad access is skipped — and with it the rest of its
/// line, since `siglongjmp` leaves the loop that made the accesses — and the process runs on;
/// `expect NAME.signals`, `NAME.si_code` … read what the handler saw. See Signal.swift.
struct SignalActionCommand: ScenarioCommand {
    var signal: Signal
    var catching: Bool

    static let syntax = CommandSyntax(
        names: ["on"], scope: .process, group: .processes,
        usage: ["on segv|sigbus continue|default"],
        summary: "sigaction(2): a handler that siglongjmps past a bad access, or SIG_DFL")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let s = try words.next("a signal (segv or sigbus)")
        let signal: Signal
        switch s.text.lowercased() {
        case "segv", "sigsegv": signal = .sigsegv
        case "sigbus", "bus": signal = .sigbus
        case "kill", "sigkill": throw words.error(at: s, "SIGKILL cannot be caught (sigaction(2): EINVAL)")
        default: throw words.error(at: s, "unknown signal '\(s.text)': expected segv or sigbus")
        }
        let a = try words.next("'continue' or 'default'")
        let catching: Bool
        switch a.text {
        case "continue": catching = true
        case "default": catching = false
        default:
            throw words.error(
                at: a, "expected 'continue' (a handler that returns past the access) or 'default' (SIG_DFL)")
        }
        try words.finish()
        context.setCaught(signal, catching)
        return SignalActionCommand(signal: signal, catching: catching)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        do {
            try runner.kernel.sigaction(task, self.signal, catching: self.catching)
        } catch {
            runner.refuse(statement, error.description)
        }
    }
}
