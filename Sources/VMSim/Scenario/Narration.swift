import VMCore
import VMPhys
import VMTypes

/// What one scenario line did to the machine: the faults it caused (by handler), how each
/// process's RSS changed, free memory and the watermarks it crossed, reclaim, swap traffic,
/// signals and OOM kills, simulated time, and for an `expect` the value it found. Measured by
/// comparing counters before and after the line and by counting the kernel events it raised,
/// so it is exactly what the kernel model did — nothing is estimated.
public struct LineEffect: Sendable, Equatable, Encodable {
    public struct ProcessChange: Sendable, Equatable, Encodable {
        public var name: String
        public var pid: Int
        public var minorFaults: Int
        public var majorFaults: Int
        /// Resident bytes after the line, and the change.
        public var rss: UInt64
        public var rssDelta: Int64
    }
    /// The line's number and text as written.
    public var line: Int
    public var text: String
    /// Faults handled per handler (`do_anonymous_page`, `zero page`, `do_wp_page copy` …).
    public var faultsByHandler: [String: Int] = [:]
    public var processes: [ProcessChange] = []
    /// Free pages before and after.
    public var freePagesBefore = 0
    public var freePagesAfter = 0
    /// Zones whose free pages crossed a watermark: `Normal: below low`, `DMA32: above high`.
    public var watermarks: [String] = []
    public var kswapdRuns: UInt64 = 0
    public var pagesScanned: UInt64 = 0
    public var pagesReclaimed: UInt64 = 0
    public var directReclaims: UInt64 = 0
    public var swapOuts: UInt64 = 0
    public var swapIns: UInt64 = 0
    /// Signals delivered and OOM kills, as sentences.
    public var signals: [String] = []
    public var oomKills: [String] = []
    /// Simulated nanoseconds the line took.
    public var nanoseconds: UInt64 = 0
    /// For an `expect`: whether it held and the value it saw.
    public var expectation: Bool?
    public var actual: String?
    /// The refusal, if the system refused the operation.
    public var refused: String?

    /// What the line did to one memory cgroup: its charges, the reclaim done on its own lists,
    /// and its `memory.events` (local to it) — after mm/memcontrol.c's counters.
    public struct CgroupChange: Sendable, Equatable, Encodable {
        public var path: String
        /// The line made the cgroup (`mkdir`).
        public var created: Bool
        /// `memory.current` after the line (bytes), and the change.
        public var current: UInt64
        public var currentDelta: Int64
        /// Pages scanned and reclaimed from the cgroup's own LRU lists (`memory.stat` pgscan,
        /// pgsteal, local).
        public var scanned: Int
        public var reclaimed: Int
        /// `memory.events.local`: charges that hit `memory.max`, charges over `memory.high`
        /// handled, OOMs inside the cgroup and tasks OOM-killed in it.
        public var maxEvents: Int
        public var highEvents: Int
        public var oomEvents: Int
        public var oomKills: Int
        /// Simulated nanoseconds its tasks slept for being over `memory.high`.
        public var throttledNanos: UInt64
    }
    /// The memory cgroups the line changed; nil (absent from the JSON) on a machine without
    /// cgroups, so the effects of scenarios that declare none are as before.
    public var cgroups: [CgroupChange]?

    /// The effect as one line: `256 minor faults (256 zero page) · web RSS +4 KiB · …`.
    public var summary: String {
        var parts: [String] = []
        if let held = self.expectation {
            let actual = self.actual ?? ""
            parts.append((held ? "✓" : "✗") + (actual.isEmpty ? "" : " " + actual))
        }
        let minor = self.processes.reduce(0) { $0 + $1.minorFaults }
        let major = self.processes.reduce(0) { $0 + $1.majorFaults }
        if minor + major > 0 {
            var s =
                [
                    minor > 0 ? "\(group(minor)) minor" : nil, major > 0 ? "\(group(major)) major" : nil,
                ].compactMap { $0 }.joined(separator: " + ") + " fault\(minor + major == 1 ? "" : "s")"
            let handlers = self.faultsByHandler.sorted {
                $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key
            }
            if !handlers.isEmpty {
                s +=
                    " (" + handlers.prefix(3).map { "\(group($0.value)) \($0.key)" }.joined(separator: ", ")
                    + ")"
            }
            parts.append(s)
        }
        let changed = self.processes.filter { $0.rssDelta != 0 }
        if !changed.isEmpty {
            parts.append(
                changed.prefix(3).map { "\($0.name) RSS \(signed($0.rssDelta)) → \(ByteSize.human($0.rss))" }
                    .joined(separator: ", "))
        }
        if self.freePagesAfter != self.freePagesBefore {
            let d = self.freePagesAfter - self.freePagesBefore
            parts.append("free \(d > 0 ? "+" : "−")\(group(abs(d))) pages → \(group(self.freePagesAfter))")
        }
        parts += self.watermarks
        if self.kswapdRuns > 0 || self.pagesScanned > 0 {
            var s = self.kswapdRuns > 0 ? "kswapd ran ×\(self.kswapdRuns)" : "reclaim"
            if self.directReclaims > 0 { s += ", direct reclaim ×\(self.directReclaims)" }
            s += ": scanned \(group(Int(self.pagesScanned))), reclaimed \(group(Int(self.pagesReclaimed)))"
            parts.append(s)
        }
        if self.swapOuts > 0 { parts.append("swap-out \(group(Int(self.swapOuts))) pages") }
        if self.swapIns > 0 { parts.append("swap-in \(group(Int(self.swapIns))) pages") }
        parts += self.signals
        parts += self.oomKills
        for c in self.cgroups ?? [] { parts.append(c.summary) }
        // Time matters when the line waited (I/O, tick), not for the 1 ns per access.
        if self.nanoseconds >= 1_000_000 { parts.append("+\(shortDuration(self.nanoseconds))") }
        if self.refused != nil { parts.append("refused") }
        return parts.joined(separator: " · ")
    }
}

extension LineEffect.CgroupChange {
    /// `cgroup /app +4 MiB → 64 MiB: at memory.max ×3, reclaimed 512 of 640 scanned, OOM ×1, 1 killed`.
    public var summary: String {
        var s =
            "cgroup \(self.path) " + (self.created ? "made, " : "")
            + (self.currentDelta != 0
                ? "\(signed(self.currentDelta)) → \(ByteSize.human(self.current))"
                : ByteSize.human(self.current))
        var details: [String] = []
        if self.maxEvents > 0 { details.append("at memory.max ×\(group(self.maxEvents))") }
        if self.scanned > 0 {
            details.append("reclaimed \(group(self.reclaimed)) of \(group(self.scanned)) scanned")
        }
        if self.highEvents > 0 { details.append("over memory.high ×\(group(self.highEvents))") }
        if self.throttledNanos > 0 { details.append("throttled \(shortDuration(self.throttledNanos))") }
        if self.oomEvents > 0 { details.append("OOM ×\(group(self.oomEvents))") }
        if self.oomKills > 0 { details.append("\(self.oomKills) killed") }
        if !details.isEmpty { s += ": " + details.joined(separator: ", ") }
        return s
    }
}

/// Measures each line's `LineEffect` (before/after counters and the events in between) and
/// prints the narrated run: comments of the scenario, each line with its effect, and a summary
/// at the end.
public final class Narrator {
    /// The scenario's source lines, for its comments (nil: none shown).
    let sourceLines: [Substring]?
    /// Every line's effect, in order.
    public private(set) var effects: [LineEffect] = []
    /// Whether to print (false: only record, e.g. for `--json`).
    let printing: Bool
    var nextSourceLine = 1

    struct Snapshot {
        var events: [UInt64]
        var freePages: Int
        var zoneLevels: [Int]
        var processes: [(name: String, task: Task, minor: Int, major: Int, rss: Int)]
        var now: UInt64
        /// Per cgroup below the root, by id: usage, scanned, reclaimed, max/high/oom/oom_kill
        /// local events, throttled time.
        var cgroups: [CgroupCounters]
    }
    struct CgroupCounters {
        var usage: Int
        var scanned: Int
        var reclaimed: Int
        var events: [Int]
        var throttled: UInt64
    }

    static func counters(_ g: MemCgroup) -> CgroupCounters {
        let stat = { (s: MemcgStat) in g.stat[s.rawValue] }
        return CgroupCounters(
            usage: g.memory.usage,
            scanned: stat(.pgscanKswapd) + stat(.pgscanDirect) + stat(.pgscanProactive),
            reclaimed: stat(.pgstealKswapd) + stat(.pgstealDirect) + stat(.pgstealProactive),
            events: [MemcgEvent.max, .high, .oom, .oomKill].map { g.localEvents[$0.rawValue] },
            throttled: g.throttledNanos)
    }
    var before: Snapshot?
    var current: LineEffect?
    static let tracked: [VMEvent] = [
        .pageoutrun, .pgscanKswapd, .pgscanDirect, .pgstealKswapd, .pgstealDirect, .pswpin, .pswpout,
        .allocstallDma, .allocstallDma32, .allocstallNormal, .allocstallMovable,
    ]

    /// Whether each line itself is printed before its effect (not in the shell, where the user
    /// just typed it).
    let echo: Bool

    public init(source: String?, printing: Bool = true, echo: Bool = true) {
        self.sourceLines = source.map { $0.split(separator: "\n", omittingEmptySubsequences: false) }
        self.printing = printing
        self.echo = echo
    }

    func snapshot(_ runner: ScenarioRunner) -> Snapshot {
        let phys = runner.kernel.phys
        let processes = runner.processes.sorted { $0.value.pid < $1.value.pid }.map { name, task in
            (
                name: name, task: task, minor: task.minorFaults, major: task.majorFaults,
                rss: task.mm?.rssPages ?? 0
            )
        }
        let memcg = runner.kernel.memcg
        return Snapshot(
            events: Self.tracked.map { phys.events($0) }, freePages: phys.freePages,
            zoneLevels: phys.zones.map(Self.level), processes: processes, now: runner.kernel.now,
            cgroups: memcg.isActive ? memcg.groups.map(Self.counters) : [])
    }

    /// 0 below min, 1 below low, 2 below high, 3 at or above high.
    static func level(_ zone: Zone) -> Int {
        let free = zone.freePages
        if free < zone.watermarkPages(.min) { return 0 }
        if free < zone.watermarkPages(.low) { return 1 }
        if free < zone.watermarkPages(.high) { return 2 }
        return 3
    }

    func begin(_ runner: ScenarioRunner, _ statement: Statement) {
        if self.printing, let lines = self.sourceLines {
            // The comments since the previous line, as the scenario's own narration.
            var n = self.nextSourceLine
            while n < statement.location.line && n <= lines.count {
                let text = lines[n - 1].trimmingCharacters
                if text.hasPrefix("#") { runner.write("      " + text.escapingControlCharacters) }
                n += 1
            }
            self.nextSourceLine = statement.location.line + 1
        }
        self.before = self.snapshot(runner)
        self.current = LineEffect(line: statement.location.line, text: statement.text)
        for i in self.handlerCounts.indices { self.handlerCounts[i] = 0 }
        if self.printing && self.echo { runner.write(Self.label(statement)) }
    }

    static func label(_ statement: Statement) -> String {
        let number = String(statement.location.line)
        return String(repeating: " ", count: max(0, 4 - number.count)) + number + "  " + statement.text
    }

    /// Counts an event raised by the current line.
    func note(_ event: KernelEvent, _ runner: ScenarioRunner) {
        guard self.current != nil else { return }
        switch event {
        case .fault(_, _, _, let kind, _, _, _):
            // Counted in a fixed array per fault; named in `end`.
            if let i = Self.handlers.firstIndex(of: kind) { self.handlerCounts[i] += 1 }
        case .signal(let pid, let info, let caught):
            let name = runner.processes.first { $0.value.pid == pid }?.key ?? "pid \(pid)"
            self.current!.signals.append(
                "\(info.signal.name) to \(name) at \(hex(info.address)) (\(info))"
                    + (caught ? ", caught by its handler" : ""))
        case .oomKill(let pid, let name, let points):
            self.current!.oomKills.append("OOM killer chose \(name) [\(pid)], badness \(points)")
        default: break
        }
    }

    /// The handlers a line's faults are counted by (the signal outcomes are not faults).
    static let handlers: [FaultKind] = [
        .anonymous, .zeroPage, .copyOnWrite, .reuse, .sharedWrite, .readFault, .cowFault, .sharedFault,
        .swapIn,
        .spurious, .stackGrowth, .hugeAnonymous, .hugeZeroPage, .hugeZeroWrite, .hugeReuse,
    ]
    var handlerCounts = [Int](repeating: 0, count: Narrator.handlers.count)

    static func handlerName(_ kind: FaultKind) -> String? {
        switch kind {
        case .anonymous: return "do_anonymous_page"
        case .zeroPage: return "zero page"
        case .copyOnWrite: return "COW copy"
        case .reuse: return "wp_page_reuse"
        case .sharedWrite: return "shared write"
        case .readFault: return "do_read_fault"
        case .cowFault: return "do_cow_fault"
        case .sharedFault: return "do_shared_fault"
        case .swapIn: return "do_swap_page"
        case .spurious: return "spurious"
        case .stackGrowth: return "expand_stack"
        case .hugeAnonymous: return "THP fault"
        case .hugeZeroPage: return "huge zero page"
        case .hugeZeroWrite: return "THP on huge zero page"
        case .hugeReuse: return "THP reuse"
        case .sigsegv, .sigbus, .oom: return nil
        }
    }

    func expectation(_ held: Bool, actual: String) {
        self.current?.expectation = held
        self.current?.actual = actual
    }

    func refused(_ message: String) { self.current?.refused = message }

    func end(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let before = self.before, var effect = self.current else { return }
        let after = self.snapshot(runner)
        let page = runner.kernel.phys.pageSize
        for (i, kind) in Self.handlers.enumerated() where self.handlerCounts[i] > 0 {
            if let name = Self.handlerName(kind) { effect.faultsByHandler[name] = self.handlerCounts[i] }
        }
        // Counters a `reset counters` line zeroed count from zero.
        func delta(_ i: Int) -> UInt64 {
            after.events[i] >= before.events[i] ? after.events[i] - before.events[i] : after.events[i]
        }
        effect.kswapdRuns = delta(0)
        effect.pagesScanned = delta(1) + delta(2)
        effect.pagesReclaimed = delta(3) + delta(4)
        effect.swapIns = delta(5)
        effect.swapOuts = delta(6)
        effect.directReclaims = (7..<11).reduce(0) { $0 + delta($1) }
        effect.freePagesBefore = before.freePages
        effect.freePagesAfter = after.freePages
        let zones = runner.kernel.phys.zones
        let names = ["below min", "below low", "below high", "above high"]
        for (i, zone) in zones.enumerated() where i < before.zoneLevels.count {
            let (b, a) = (before.zoneLevels[i], after.zoneLevels[i])
            guard a != b, zone.isPopulated else { continue }
            effect.watermarks.append("\(zone.type.name) free pages \(a < b ? "fell" : "rose") \(names[a])")
        }
        var old: [Int: (minor: Int, major: Int, rss: Int)] = [:]
        for p in before.processes { old[p.task.pid] = (p.minor, p.major, p.rss) }
        for p in after.processes {
            let o = old[p.task.pid] ?? (0, 0, 0)
            let minor = p.minor >= o.minor ? p.minor - o.minor : p.minor
            let major = p.major >= o.major ? p.major - o.major : p.major
            let rssDelta = Int64(p.rss - o.rss) * Int64(page)
            guard minor > 0 || major > 0 || rssDelta != 0 else { continue }
            effect.processes.append(
                LineEffect.ProcessChange(
                    name: p.name, pid: p.task.pid, minorFaults: minor, majorFaults: major,
                    rss: UInt64(max(p.rss, 0)) * page, rssDelta: rssDelta))
        }
        effect.nanoseconds = after.now >= before.now ? after.now - before.now : 0
        if !after.cgroups.isEmpty {
            let groups = runner.kernel.memcg.groups
            var changes: [LineEffect.CgroupChange] = []
            for (id, a) in after.cgroups.enumerated() where id > 0 {
                let b =
                    id < before.cgroups.count
                    ? before.cgroups[id]
                    : CgroupCounters(usage: 0, scanned: 0, reclaimed: 0, events: [0, 0, 0, 0], throttled: 0)
                let d = { (x: Int, y: Int) in max(x - y, 0) }
                let created = id >= before.cgroups.count
                let change = LineEffect.CgroupChange(
                    path: groups[id].path, created: created, current: UInt64(a.usage) * page,
                    currentDelta: Int64(a.usage - b.usage) * Int64(page), scanned: d(a.scanned, b.scanned),
                    reclaimed: d(a.reclaimed, b.reclaimed), maxEvents: d(a.events[0], b.events[0]),
                    highEvents: d(a.events[1], b.events[1]), oomEvents: d(a.events[2], b.events[2]),
                    oomKills: d(a.events[3], b.events[3]),
                    throttledNanos: a.throttled >= b.throttled ? a.throttled - b.throttled : 0)
                if created || change.currentDelta != 0 || change.scanned > 0 || change.maxEvents > 0
                    || change.highEvents > 0 || change.oomEvents > 0 || change.oomKills > 0
                    || change.throttledNanos > 0
                {
                    changes.append(change)
                }
            }
            effect.cgroups = changes
        }
        self.effects.append(effect)
        self.current = nil
        if self.printing {
            let summary = effect.summary
            if !summary.isEmpty { runner.write((self.echo ? "        → " : "→ ") + summary) }
        }
    }

    /// The end of a narrated run: each process and the machine in a few lines.
    func finish(_ runner: ScenarioRunner) -> [String] {
        let kernel = runner.kernel
        let phys = kernel.phys
        let page = phys.pageSize
        var lines = ["", "summary:"]
        let processes = runner.processes.sorted { $0.value.pid < $1.value.pid }
        if !processes.isEmpty {
            lines.append(
                "  " + "process".padded(12) + "pid".leftPadded(6) + "  " + "state".padded(30)
                    + "RSS".leftPadded(9)
                    + "minflt".leftPadded(9) + "majflt".leftPadded(8))
            for (name, task) in processes {
                let state: String
                if let reason = task.exitReason { state = "\(reason)" } else { state = "running" }
                let rss = ByteSize.human(UInt64(task.mm?.rssPages ?? 0) * page)
                lines.append(
                    "  " + name.padded(12) + String(task.pid).leftPadded(6) + "  " + state.padded(30)
                        + rss.leftPadded(9) + String(task.minorFaults).leftPadded(9)
                        + String(task.majorFaults).leftPadded(8))
            }
        }
        let total = phys.zones.reduce(UInt64(0)) { $0 + $1.managedPages }
        lines.append(
            "  memory: \(ByteSize.human(UInt64(phys.freePages) * page)) free of \(ByteSize.human(total * page)); "
                + "swap-out \(group(Int(phys.events(.pswpout)))) pages, swap-in \(group(Int(phys.events(.pswpin)))); "
                + "reclaimed \(group(Int(phys.events(.pgstealKswapd) + phys.events(.pgstealDirect)))) pages; "
                + "OOM kills \(phys.events(.oomKill)); simulated time \(shortDuration(kernel.now))")
        for g in kernel.memcg.groups where !g.isRoot {
            let e = { (x: MemcgEvent) in g.events[x.rawValue] }
            let limit = { (pages: Int) in pages == Int.max ? "max" : ByteSize.human(UInt64(pages) * page) }
            var s =
                "  cgroup \(g.path): memory.current \(ByteSize.human(UInt64(g.memory.usage) * page)), "
                + "peak \(ByteSize.human(UInt64(g.memory.peak) * page)), max \(limit(g.memory.max)), "
                + "high \(limit(g.memory.high)); events max \(e(.max)) high \(e(.high)) oom \(e(.oom)) "
                + "oom_kill \(e(.oomKill))"
            if g.throttledNanos > 0 { s += "; throttled \(shortDuration(g.throttledNanos))" }
            lines.append(s)
        }
        return lines
    }
}

/// `31 s`, `21.4 ms`, `250 µs`, `12 ns`: three significant digits at most.
func shortDuration(_ ns: UInt64) -> String {
    func three(_ x: Double) -> String {
        let digits = x >= 100 ? 0 : x >= 10 ? 1 : 2
        var scaled = (x * [1.0, 10, 100][digits]).rounded() / [1.0, 10, 100][digits]
        if scaled == scaled.rounded() { return String(Int(scaled)) }
        scaled = (scaled * 100).rounded() / 100
        var text = String(scaled)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
    let x = Double(ns)
    if ns >= 1_000_000_000 { return three(x / 1e9) + " s" }
    if ns >= 1_000_000 { return three(x / 1e6) + " ms" }
    if ns >= 1000 { return three(x / 1e3) + " µs" }
    return "\(ns) ns"
}

/// `1,234,567`.
func group(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "−" : "") + out
}

/// `+4 MiB`, `−12 KiB`.
func signed(_ bytes: Int64) -> String {
    (bytes < 0 ? "−" : "+") + ByteSize.human(bytes.magnitude)
}

extension String {
    func padded(_ width: Int) -> String {
        self.count >= width ? self + " " : self + String(repeating: " ", count: width - self.count)
    }
    func leftPadded(_ width: Int) -> String {
        self.count >= width ? " " + self : String(repeating: " ", count: width - self.count) + self
    }
}

extension Substring {
    var trimmingCharacters: String {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
