import VMCore
import VMTypes

/// `machine KEY=VALUE …`: the machine to boot (the first line only; flags override it).
struct MachineCommand: ScenarioCommand {
    struct Setting: Sendable {
        var key: String
        var value: String
        /// Column of the value, for errors found at boot.
        var column: Int
    }
    var settings: [Setting]

    static let syntax = CommandSyntax(
        names: ["machine"], scope: .global, group: .machine,
        usage: ["machine memory=SIZE arch=ARCH cpus=N disk=hdd|ssd|nvme swap=SIZE kswapd=modern|periodic …"],
        summary: "the machine to boot (first line only; flags override it)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard !context.sawCommand else {
            throw words.error(at: words.head, "'machine' must be the first command")
        }
        var settings: [Setting] = []
        for t in words.takeRest() {
            guard let eq = t.text.firstIndex(of: "=") else {
                throw words.error(
                    at: t, "expected KEY=VALUE (keys: \(MachineSpec.settings.joined(separator: ", ")))")
            }
            let key = String(t.text[..<eq])
            guard MachineSpec.settings.contains(key) else {
                throw words.error(
                    at: t,
                    "unknown machine setting '\(key)' (expected \(MachineSpec.settings.joined(separator: ", ")))"
                )
            }
            settings.append(
                Setting(
                    key: key, value: String(t.text[t.text.index(after: eq)...]),
                    column: t.column + key.count + 1))
        }
        return MachineCommand(settings: settings)
    }

    /// Applied when the runner boots the machine.
    func execute(_ runner: ScenarioRunner, _ statement: Statement) {}
}

/// `sysctl NAME=VALUE …`: `/proc/sys/vm` (and the disk's `read_ahead_kb`) at run time.
struct SysctlCommand: ScenarioCommand {
    var settings: [(name: String, value: String)]

    static let syntax = CommandSyntax(
        names: ["sysctl"], scope: .global, group: .machine, usage: ["sysctl NAME=VALUE …"],
        summary: "set vm.* sysctls (vm.swappiness=10, vm.dirty_ratio=5 …)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard !words.isAtEnd else {
            throw words.error(words.endColumn, "expected NAME=VALUE (e.g. vm.dirty_ratio=10)")
        }
        var settings: [(String, String)] = []
        for t in words.takeRest() {
            guard let eq = t.text.firstIndex(of: "=") else {
                throw words.error(at: t, "expected NAME=VALUE (e.g. vm.dirty_ratio=10)")
            }
            let name = String(t.text[..<eq])
            guard Kernel.sysctlNames.contains(name) else {
                throw words.error(
                    at: t, "unknown sysctl '\(name)' (expected \(Kernel.sysctlNames.joined(separator: ", ")))"
                )
            }
            settings.append((name, String(t.text[t.text.index(after: eq)...])))
        }
        return SysctlCommand(settings: settings)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        for (name, value) in self.settings {
            do { try runner.kernel.setSysctl(name, value) } catch {
                runner.refuse(statement, error.description)
                return
            }
        }
    }
}

/// `tick DURATION`: simulated time passes; I/O completes, the flusher and kswapd run.
struct TickCommand: ScenarioCommand {
    var nanoseconds: UInt64

    static let syntax = CommandSyntax(
        names: ["tick"], scope: .global, group: .machine, usage: ["tick DURATION"],
        summary: "advance the simulated clock (30s, 500ms, 20us)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard words.count == 1, let t = words.peek() else {
            throw words.error(words.endColumn, "expected 'tick DURATION' (e.g. 30s, 5ms)")
        }
        guard let ns = Words.duration(t.text) else {
            throw words.error(at: t, "'\(t.text)' is not a duration (ns, us, ms or s, e.g. 30s)")
        }
        _ = words.takeRest()
        return TickCommand(nanoseconds: ns)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.kernel.advanceClock(by: self.nanoseconds)
    }
}

/// `reset counters`: zero vmstat events, per-process fault counts and iowait, disk statistics.
struct ResetCountersCommand: ScenarioCommand {
    static let syntax = CommandSyntax(
        names: ["reset"], scope: .global, group: .machine, usage: ["reset counters"],
        summary: "zero vmstat events, fault counts, iowait and disk statistics")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard words.count == 1, words.take("counters") else {
            throw words.error(at: words.head, "expected 'reset counters'")
        }
        return ResetCountersCommand()
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) { runner.kernel.resetCounters() }
}
