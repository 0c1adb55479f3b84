import VMCore
import VMTypes

/// `cgroup PATH [memory.max=SIZE|max] [memory.high=…] [memory.low=…] [memory.min=…]
/// [memory.swap.max=…] [memory.oom.group=0|1] [memory.reclaim=SIZE]`: `mkdir` of a memory cgroup
/// (cgroup v2) and writes to its files, in the order written.
///
/// The first line naming a path creates the cgroup (its parent must have been declared, `/`
/// always is); a later line writes the files then, with the kernel's consequences: lowering
/// `memory.max` below `memory.current` reclaims the subtree and then OOM-kills inside it
/// (`memory_max_write()`), `memory.high` reclaims without killing, `memory.reclaim` is proactive
/// reclaim (`memory_reclaim()`, EAGAIN when it falls short). Sizes round down to pages, as
/// `page_counter_memparse()` does. After mm/memcontrol.c (`Kernel.memcgWrite`).
struct CgroupCommand: ScenarioCommand {
    var path: String
    /// The files written, in order: bytes, `UInt64.max` for `max` (0/1 for `memory.oom.group`).
    var writes: [(setting: MemcgSetting, value: UInt64)]

    /// Files that take `max`.
    static let limitFiles: Set<MemcgSetting> = [.max, .high, .low, .min, .swapMax]

    static let syntax = CommandSyntax(
        names: ["cgroup"], scope: .global, group: .cgroups,
        usage: [
            "cgroup PATH [memory.max=SIZE|max] [memory.high=SIZE|max] [memory.low=SIZE] [memory.min=SIZE]",
            "            [memory.swap.max=SIZE|max] [memory.oom.group=0|1] [memory.reclaim=SIZE]",
        ],
        summary: "create a memory cgroup (parent first) or write its files now")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let p = try words.next("a cgroup path (e.g. /app or /app/web)")
        try context.checkCgroupPath(p, words)
        guard p.text != "/" else {
            throw words.error(at: p, "the root cgroup / has no memory.* files to write (cgroup v2)")
        }
        if !context.cgroups.contains(p.text) {
            let parent = ParseContext.cgroupParent(p.text)
            guard context.cgroups.contains(parent) else {
                throw words.error(
                    at: p, "no cgroup \(parent) to create \(p.text) in (declare it first: 'cgroup \(parent)')"
                )
            }
            context.declareCgroup(p.text)
        }
        var writes: [(MemcgSetting, UInt64)] = []
        let names = MemcgSetting.allCases.map(\.rawValue)
        for t in words.takeRest() {
            guard let eq = t.text.firstIndex(of: "=") else {
                throw words.error(at: t, "expected FILE=VALUE (files: \(names.joined(separator: ", ")))")
            }
            let key = String(t.text[..<eq])
            guard let setting = MemcgSetting(rawValue: key) else {
                throw words.error(
                    at: t, "unknown cgroup file '\(key)' (expected \(names.joined(separator: ", ")))")
            }
            let valueText = String(t.text[t.text.index(after: eq)...])
            let v = Token(text: valueText, column: t.column + key.count + 1)
            guard !valueText.isEmpty else { throw words.error(v.column, "expected a value after '\(key)='") }
            switch setting {
            case .oomGroup:
                guard valueText == "0" || valueText == "1" else {
                    throw words.error(at: v, "memory.oom.group is 0 or 1, not '\(valueText)'")
                }
                writes.append((setting, valueText == "1" ? 1 : 0))
            case .reclaim:
                writes.append((setting, try words.size(v, pageSize: context.pageSize)))
            default:
                if valueText == "max" {
                    writes.append((setting, UInt64.max))
                } else {
                    writes.append((setting, try words.size(v, pageSize: context.pageSize, allowZero: true)))
                }
            }
        }
        return CgroupCommand(path: p.text, writes: writes)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        let kernel = runner.kernel
        let group: MemCgroup
        do {
            group = try kernel.memcgCreate(self.path)
        } catch {
            runner.refuse(statement, "mkdir \(self.path): \(error)")
            return
        }
        let page = kernel.phys.pageSize
        for (setting, value) in self.writes {
            let pages =
                value == UInt64.max && Self.limitFiles.contains(setting)
                ? Int.max : setting == .oomGroup ? Int(value) : Int(min(value / page, UInt64(Int.max)))
            if !kernel.memcgWrite(group, setting, pages: pages) {
                runner.refuse(
                    statement, "EAGAIN: memory.reclaim of \(ByteSize.human(value)) fell short in \(self.path)"
                )
            }
        }
    }
}

/// `move NAME CGROUP`: writes the process's pid to the cgroup's `cgroup.procs`. What it charged
/// so far stays with the old cgroup (cgroup v2 has no charge migration); new charges go to the
/// new one.
struct MoveCommand: ScenarioCommand {
    var process: String
    var path: String

    static let syntax = CommandSyntax(
        names: ["move"], scope: .global, group: .cgroups, usage: ["move NAME CGROUP"],
        summary: "move a process to a cgroup (its charges stay behind)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let p = try words.next("a process")
        if context.processes[p.text] == nil && context.everSeen.contains(p.text) {
            throw words.error(at: p, "process '\(p.text)' has exited: it cannot be moved")
        }
        try context.requireProcess(p, words)
        let g = try words.next("a cgroup path")
        try context.requireCgroup(g, words, rootAllowed: true)
        try words.finish()
        return MoveCommand(process: p.text, path: g.text)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.task(statement, self.process) else { return }
        guard let group = runner.kernel.memcg.group(at: self.path) else {
            runner.refuse(statement, "no cgroup \(self.path)")
            return
        }
        runner.kernel.memcgMove(task, to: group)
    }
}

/// The cgroup files `expect /PATH:FILE` and `show /PATH FILE` read (after the kernel's
/// `memory_files[]` of mm/memcontrol.c, cgroup v2).
enum CgroupFiles {
    /// Single-number files an `expect` compares (bytes).
    static let numbers = ["memory.current", "memory.peak", "memory.swap.current", "memory.swap.peak"]
    /// `memory.events.NAME`, `memory.events.local.NAME`, `memory.swap.events.NAME`, `memory.stat.NAME`.
    static let keyed = ["memory.events.", "memory.events.local.", "memory.swap.events.", "memory.stat."]

    /// Whether `field` names something `expect` can read; nil if so, else why not.
    /// `memory.pressure`'s totals (µs stalled), which `expect` can compare.
    static let pressure = ["memory.pressure.some.total", "memory.pressure.full.total"]

    static func checkExpectField(_ field: String) -> String? {
        if Self.numbers.contains(field) || Self.pressure.contains(field) { return nil }
        let events = MemcgEvent.memoryEvents.map(\.name)
        let swapEvents = MemcgEvent.swapEvents.map(\.name)
        let expected =
            "expected \(Self.numbers.joined(separator: ", ")), memory.events[.local].{\(events.joined(separator: ","))}, memory.swap.events.{\(swapEvents.joined(separator: ","))}, memory.pressure.{some,full}.total or memory.stat.FIELD"
        for prefix in Self.keyed.sorted(by: { $0.count > $1.count }) where field.hasPrefix(prefix) {
            let key = String(field.dropFirst(prefix.count))
            let keys =
                prefix == "memory.stat."
                ? Kernel.memcgStatNames : prefix == "memory.swap.events." ? swapEvents : events
            return keys.contains(key) ? nil : "'\(key)' is not a field of \(prefix.dropLast()) (\(expected))"
        }
        return "unknown cgroup file '\(field)' (\(expected))"
    }

    /// Whether a `memory.stat` value is a size in bytes (the rest are event counts).
    static func isSize(_ field: String) -> Bool {
        if Self.numbers.contains(field) { return true }
        guard field.hasPrefix("memory.stat.") else { return false }
        let key = field.dropFirst("memory.stat.".count)
        guard let i = Kernel.memcgStatNames.firstIndex(of: String(key)),
            let events = Kernel.memcgStatNames.firstIndex(of: "workingset_refault_anon")
        else { return false }
        return i < events
    }

    /// The value of `field` of `g` now.
    static func value(_ kernel: Kernel, _ g: MemCgroup, _ field: String) -> UInt64? {
        if Self.numbers.contains(field) { return kernel.memcgFile(g, field).flatMap { UInt64($0) } }
        func lookup(_ text: String, _ key: Substring) -> UInt64? {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, parts[0] == key { return UInt64(parts[1]) }
            }
            return nil
        }
        if field.hasPrefix("memory.stat.") {
            let key = field.dropFirst("memory.stat.".count)
            return kernel.memcgStat(g).first { $0.0 == key }.map { UInt64(max($0.1, 0)) }
        }
        if Self.pressure.contains(field) {
            let kind = field.split(separator: ".")[2]
            for line in kernel.psiText(g).split(separator: "\n") where line.hasPrefix(kind) {
                return line.split(separator: "=").last.flatMap { UInt64($0) }
            }
            return nil
        }
        if field.hasPrefix("memory.events.local.") {
            return lookup(
                kernel.memcgEventsText(g, local: true), field.dropFirst("memory.events.local.".count))
        }
        if field.hasPrefix("memory.swap.events.") {
            return lookup(kernel.memcgEventsText(g, swap: true), field.dropFirst("memory.swap.events.".count))
        }
        if field.hasPrefix("memory.events.") {
            return lookup(kernel.memcgEventsText(g), field.dropFirst("memory.events.".count))
        }
        return nil
    }

    /// The text of a whole file for `show`.
    static func text(_ kernel: Kernel, _ g: MemCgroup, _ file: String) -> String {
        switch file {
        case "memory.stat": return kernel.memcgStatText(g)
        case "memory.events": return kernel.memcgEventsText(g)
        case "memory.events.local": return kernel.memcgEventsText(g, local: true)
        case "memory.swap.events": return kernel.memcgEventsText(g, swap: true)
        case "memory.pressure": return kernel.psiText(g)
        default:
            let v = kernel.memcgFile(g, file) ?? ""
            return v.isEmpty ? "" : v + "\n"
        }
    }

    /// `/sys/fs/cgroup/app/memory.stat`.
    static func sysfsPath(_ path: String, _ file: String) -> String { "/sys/fs/cgroup" + path + "/" + file }
}

extension ParseContext {
    /// `/app` → `/`, `/app/web` → `/app`.
    static func cgroupParent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// `/` or an absolute path of names (letters, digits, `_`, `-`, `.`; no `.`/`..` alone).
    func checkCgroupPath(_ token: Token, _ words: Words) throws(ScenarioError) {
        let path = token.text
        if path == "/" { return }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let ok =
            path.hasPrefix("/") && !path.hasSuffix("/")
            && parts.allSatisfy { part in
                !part.isEmpty && part != "." && part != ".."
                    && part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }
            }
        guard ok else {
            throw words.error(at: token, "'\(path)' is not a cgroup path (/NAME[/NAME…], e.g. /app/web)")
        }
    }

    /// Checks that `token` names a cgroup a `cgroup` line declared (`/` with `rootAllowed`).
    func requireCgroup(_ token: Token, _ words: Words, rootAllowed: Bool) throws(ScenarioError) {
        try self.checkCgroupPath(token, words)
        if token.text == "/" && !rootAllowed {
            throw words.error(at: token, "the root cgroup / has no memory.* files (cgroup v2)")
        }
        guard self.cgroups.contains(token.text) else {
            throw words.error(at: token, "no cgroup \(token.text) is declared" + self.knownCgroups())
        }
    }

    func knownCgroups() -> String {
        let declared = self.cgroups.subtracting(["/"]).sorted()
        return declared.isEmpty
            ? " (none is; declare one first with 'cgroup /NAME …')"
            : " (declared: \(declared.joined(separator: ", ")))"
    }
}
