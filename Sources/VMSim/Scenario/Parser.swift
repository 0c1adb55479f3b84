import VMCore
import VMPaging
import VMPhys
import VMTypes

/// A word of a scenario line and where it starts.
struct Token: Sendable {
    var text: String
    var column: Int
}

/// Reads scenarios: splits lines into words, parses each command, and checks statically that
/// every process and region a line names exists at that point and that every range lies inside
/// its region — so a scenario with an error runs nothing.
public struct ScenarioParser {
    public let file: String
    let pageSize: UInt64

    /// What the static check knows about a live process: its regions and their sizes.
    struct ProcessShape {
        var regions: [String: UInt64]
    }
    var processes: [String: ProcessShape] = [:]
    /// Every process name used so far, live or not (`expect NAME.killed` asks about dead ones).
    var everSeen: Set<String> = []
    var sawCommand = false

    public init(file: String, pageSize: UInt64 = 4096) {
        self.file = file
        self.pageSize = pageSize
    }

    /// The commands and words the language knows, for `help` and completion.
    public static let processCommands = [
        "mmap", "munmap", "mprotect", "madvise", "mlock", "munlock", "brk", "read", "write", "fetch", "fork",
        "exit", "wait", "expect", "fread", "fwrite", "fsync", "close", "fadvise", "msync", "shm", "shmdt",
        "oom_score_adj",
    ]
    public static let globalCommands = [
        "machine", "spawn", "expect", "reset", "show", "translate", "file", "mkdir", "truncate", "unlink",
        "sync",
        "drop", "tick", "sysctl", "shmrm", "swapon", "swapoff",
    ]
    public static let globalReports = ProcFS.globalReports
    public static let processReports = ["maps", "smaps", "status", "pagetable", "pagemap"]
    public static let processFields = [
        "minflt", "majflt", "rss", "rssanon", "rssfile", "rssshmem", "vmsize", "vmpeak", "vmdata", "vmstk",
        "vmexe", "vmpte", "vmswap", "vmlck", "vmhwm", "alive", "killed", "pid", "vmas", "iowait",
    ]
    public static let fileFields = ["cached", "dirty", "writeback", "mapped", "size"]
    public static let diskFields = ["reads", "writes", "read_bytes", "written_bytes", "seeks", "busy"]

    /// Parses a whole scenario; throws the first error.
    public static func parse(_ text: String, file: String, pageSize: UInt64 = 4096) throws(ScenarioError)
        -> Scenario
    {
        var parser = ScenarioParser(file: file, pageSize: pageSize)
        var statements: [Statement] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let statement = try parser.parseLine(String(line), number: i + 1) {
                statements.append(statement)
            }
        }
        return Scenario(name: file, statements: statements)
    }

    /// Splits a line into words with their columns; `#` starts a comment.
    static func tokenize(_ line: String) -> [Token] {
        var tokens: [Token] = []
        var current = ""
        var start = 0
        var column = 0
        var depth = 0
        for ch in line {
            column += 1
            if ch == "#" && depth == 0 { break }
            if ch == "[" { depth += 1 }
            if ch == "]" { depth = max(0, depth - 1) }
            if (ch == " " || ch == "\t") && depth == 0 {
                if !current.isEmpty { tokens.append(Token(text: current, column: start)) }
                current = ""
                continue
            }
            if current.isEmpty { start = column }
            current.append(ch)
        }
        if !current.isEmpty { tokens.append(Token(text: current, column: start)) }
        return tokens
    }

    func error(_ line: Int, _ column: Int, _ message: String) -> ScenarioError {
        ScenarioError(
            location: ScenarioLocation(file: self.file, line: line, column: column), message: message)
    }

    /// Parses one line (nil for blank lines and comments) and updates the static picture.
    public mutating func parseLine(_ line: String, number: Int) throws(ScenarioError) -> Statement? {
        var tokens = ScenarioParser.tokenize(line)
        guard !tokens.isEmpty else { return nil }
        let location = ScenarioLocation(file: self.file, line: number, column: tokens[0].column)
        var process: String?
        if tokens[0].text.hasSuffix(":") && !tokens[0].text.contains("=") {
            let name = String(tokens[0].text.dropLast())
            guard self.processes[name] != nil else {
                throw self.error(
                    number, tokens[0].column, "unknown process '\(name)'" + self.knownProcesses())
            }
            process = name
            tokens.removeFirst()
            guard !tokens.isEmpty else {
                throw self.error(
                    number, location.column + name.count + 1, "expected a command after '\(name):'")
            }
        }
        let command = try self.parseCommand(tokens, process: process, line: number)
        self.sawCommand = true
        return Statement(
            location: location, process: process, command: command, text: line.trimmingCharacters())
    }

    func knownProcesses() -> String {
        self.processes.isEmpty
            ? " (none is running; start one with 'spawn NAME')"
            : " (running: \(self.processes.keys.sorted().joined(separator: ", ")))"
    }

    // MARK: Values

    func size(_ token: Token, line: Int, allowZero: Bool = false) throws(ScenarioError) -> UInt64 {
        let bytes: UInt64
        do {
            bytes = try ByteSize.parse(token.text, pageSize: self.pageSize)
        } catch {
            throw self.error(
                line, token.column + error.position, "'\(token.text)' is not a size (\(error.reason))")
        }
        if !allowZero && bytes == 0 { throw self.error(line, token.column, "size must not be 0") }
        return bytes
    }

    func number(_ text: String, column: Int, line: Int) throws(ScenarioError) -> UInt64 {
        if text.hasPrefix("0x"), let v = UInt64(text.dropFirst(2), radix: 16) { return v }
        if let v = UInt64(text) { return v }
        if let v = try? ByteSize.parse(text, pageSize: self.pageSize) { return v }
        if let v = ScenarioParser.duration(text) { return v }
        throw self.error(line, column, "'\(text)' is not a number")
    }

    /// `30s`, `5ms`, `100us`, `250ns`, `1.5s` in nanoseconds.
    static func duration(_ text: String) -> UInt64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0, value.isFinite else {
                return nil
            }
            let ns = value * scale
            guard ns < 1.8e19 else { return nil }
            return UInt64(ns.rounded())
        }
        return nil
    }

    /// `key=value` options after the fixed words.
    func options(_ tokens: ArraySlice<Token>, allowed: [String], flags: [String] = [], line: Int)
        throws(ScenarioError) -> ([String: Token], Set<String>)
    {
        var values: [String: Token] = [:]
        var set = Set<String>()
        for token in tokens {
            if let eq = token.text.firstIndex(of: "=") {
                let key = String(token.text[..<eq])
                guard allowed.contains(key) else {
                    throw self.error(
                        line, token.column,
                        "unknown option '\(key)' (expected \((allowed + flags).joined(separator: ", ")))")
                }
                let valueColumn = token.column + key.count + 1
                values[key] = Token(
                    text: String(token.text[token.text.index(after: eq)...]), column: valueColumn)
            } else {
                guard flags.contains(token.text) else {
                    throw self.error(
                        line, token.column,
                        "unexpected '\(token.text)' (expected \((allowed.map { $0 + "=…" } + flags).joined(separator: ", ")))"
                    )
                }
                set.insert(token.text)
            }
        }
        return (values, set)
    }

    // MARK: References

    /// `buf`, `buf[8KiB]`, `buf[0:4MiB]`, `buf[1MiB:]`, `0x7f0000000000`, `0x7f0000000000[0:8KiB]`.
    func ref(_ token: Token, process: String, line: Int) throws(ScenarioError) -> MemoryRef {
        let text = token.text
        var base = text
        var bracket: String?
        if let open = text.firstIndex(of: "[") {
            guard text.hasSuffix("]") else {
                throw self.error(line, token.column + text.count, "expected ']'")
            }
            base = String(text[..<open])
            bracket = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
        }
        var ref = MemoryRef(region: nil, address: nil, start: 0, end: nil, single: false, text: text)
        var regionSize: UInt64?
        if base.hasPrefix("0x") {
            guard let address = UInt64(base.dropFirst(2), radix: 16) else {
                throw self.error(line, token.column, "'\(base)' is not an address")
            }
            ref.address = address
            if bracket == nil { ref.single = true }
        } else {
            guard let shape = self.processes[process], let size = shape.regions[base] else {
                let known = self.processes[process]?.regions.keys.sorted().joined(separator: ", ") ?? ""
                throw self.error(line, token.column, "\(process) has no region '\(base)' (regions: \(known))")
            }
            ref.region = base
            regionSize = size
        }
        if let inner = bracket {
            let innerColumn = token.column + base.count + 1
            if let colon = inner.firstIndex(of: ":") {
                let a = String(inner[..<colon])
                let b = String(inner[inner.index(after: colon)...])
                ref.start =
                    a.isEmpty
                    ? 0 : try self.size(Token(text: a, column: innerColumn), line: line, allowZero: true)
                if !b.isEmpty {
                    let bColumn = innerColumn + a.count + 1
                    ref.end = try self.size(Token(text: b, column: bColumn), line: line, allowZero: true)
                    guard ref.end! > ref.start else {
                        throw self.error(line, bColumn, "range end must be after its start")
                    }
                }
            } else {
                ref.start = try self.size(
                    Token(text: inner, column: innerColumn), line: line, allowZero: true)
                ref.single = true
            }
            if let regionSize {
                let end = ref.end ?? (ref.single ? ref.start + 1 : regionSize)
                guard ref.start < regionSize, end <= regionSize else {
                    throw self.error(
                        line, innerColumn, "range \(inner) is outside \(base) (\(ByteSize.human(regionSize)))"
                    )
                }
            }
        }
        return ref
    }

    // MARK: Commands

    mutating func parseCommand(_ tokens: [Token], process: String?, line: Int) throws(ScenarioError)
        -> Command
    {
        let head = tokens[0]
        let rest = tokens.dropFirst()
        func need(_ count: Int, _ what: String) throws(ScenarioError) {
            if rest.count < count {
                throw self.error(
                    line, (tokens.last?.column ?? head.column) + (tokens.last?.text.count ?? 0),
                    "expected \(what)")
            }
        }
        if let process {
            switch head.text {
            case "mmap": return try self.parseMmap(rest, process: process, line: line, head: head)
            case "munmap":
                try need(1, "a region to unmap")
                let r = try self.ref(rest.first!, process: process, line: line)
                if let region = r.region, r.start == 0, r.end == nil, !r.single {
                    self.processes[process]!.regions[region] = nil
                }
                return .munmap(r)
            case "mprotect":
                try need(2, "a region and a protection (r, rw, rx, rwx, none)")
                let r = try self.ref(rest.first!, process: process, line: line)
                let p = rest[rest.startIndex + 1]
                guard let prot = Protection(text: p.text) else {
                    throw self.error(
                        line, p.column, "'\(p.text)' is not a protection (expected r, rw, rx, rwx, none)")
                }
                return .mprotect(r, prot)
            case "madvise":
                try need(
                    2, "a region and advice (\(Advice.allCases.map(\.rawValue).joined(separator: ", ")))")
                let r = try self.ref(rest.first!, process: process, line: line)
                let a = rest[rest.startIndex + 1]
                if ["hugepage", "nohugepage", "collapse"].contains(a.text.lowercased()) {
                    throw self.error(
                        line, a.column, "MADV_\(a.text.uppercased()): transparent huge pages are not modelled"
                    )
                }
                guard let advice = Advice(rawValue: a.text.lowercased()) else {
                    throw self.error(
                        line, a.column,
                        "unknown advice '\(a.text)' (expected \(Advice.allCases.map(\.rawValue).joined(separator: ", ")))"
                    )
                }
                return .madvise(r, advice)
            case "mlock", "munlock":
                try need(1, "a region")
                return .mlock(
                    try self.ref(rest.first!, process: process, line: line), lock: head.text == "mlock")
            case "brk":
                try need(1, "+SIZE, -SIZE or =ADDRESS")
                let t = rest.first!
                if t.text.hasPrefix("+") || t.text.hasPrefix("-") {
                    let bytes = try self.size(
                        Token(text: String(t.text.dropFirst()), column: t.column + 1), line: line)
                    let delta = t.text.hasPrefix("+") ? Int64(bytes) : -Int64(bytes)
                    let heap = Int64(self.processes[process]!.regions["heap"] ?? 0)
                    self.processes[process]!.regions["heap"] = UInt64(max(0, heap + delta))
                    return .brk(delta: delta, absolute: nil)
                }
                if t.text.hasPrefix("=") {
                    return .brk(
                        delta: nil,
                        absolute: try self.number(
                            String(t.text.dropFirst()), column: t.column + 1, line: line))
                }
                throw self.error(line, t.column, "expected +SIZE, -SIZE or =ADDRESS")
            case "read", "write", "fetch":
                try need(1, "a region or address")
                let r = try self.ref(rest.first!, process: process, line: line)
                var remaining = Array(rest.dropFirst())
                var expectSignal: Int?
                if remaining.count >= 2, remaining[remaining.count - 2].text == "expect" {
                    let s = remaining.last!
                    switch s.text {
                    case "segv": expectSignal = Signal.sigsegv
                    case "sigbus", "bus": expectSignal = Signal.sigbus
                    case "oom", "sigkill": expectSignal = Signal.sigkill
                    default:
                        throw self.error(line, s.column, "expected 'segv', 'sigbus' or 'oom' after 'expect'")
                    }
                    remaining.removeLast(2)
                }
                let (opts, _) = try self.options(
                    remaining[...], allowed: head.text == "write" ? ["value", "stride"] : ["stride"],
                    line: line)
                let stride = try opts["stride"].map { (t: Token) throws(ScenarioError) -> UInt64 in
                    try self.size(t, line: line)
                }
                let value = try opts["value"].map { (t: Token) throws(ScenarioError) -> UInt64 in
                    try self.number(t.text, column: t.column, line: line)
                }
                let access: Access = head.text == "read" ? .read : head.text == "write" ? .write : .execute
                // A process killed by the expected signal is gone for the rest of the scenario.
                if expectSignal != nil { self.processes[process] = nil }
                return .access(access, r, stride: stride, value: value, expectSignal: expectSignal)
            case "fork":
                try need(1, "the child's name")
                let child = rest.first!
                try self.checkNewName(child, line: line)
                self.processes[child.text] = self.processes[process]
                self.everSeen.insert(child.text)
                return .fork(child.text)
            case "exit":
                let code =
                    try rest.first.map { (t: Token) throws(ScenarioError) -> UInt64 in
                        try self.number(t.text, column: t.column, line: line)
                    } ?? 0
                self.processes[process] = nil
                return .exit(Int(code))
            case "wait":
                return .wait(rest.first?.text)
            case "expect":
                try need(3, "REF == VALUE")
                if rest.first!.text.hasPrefix("/") {
                    let r = try self.fileRef(rest.first!, line: line)
                    let (op, value) = try self.comparison(Array(rest.dropFirst()), line: line)
                    return .expectFile(r, op, value)
                }
                let r = try self.ref(rest.first!, process: process, line: line)
                let (op, value) = try self.comparison(Array(rest.dropFirst()), line: line)
                return .expectMemory(r, op, value)
            case "fread", "fwrite", "fsync", "close", "fadvise", "msync", "shm", "shmdt":
                return try self.parseFileCommand(head, rest, process: process, line: line)
            case "oom_score_adj":
                guard rest.count == 1, let t = rest.first, let n = Int(t.text), (-1000...1000).contains(n)
                else {
                    throw self.error(
                        line, (rest.first?.column ?? head.column + head.text.count),
                        "expected a value from -1000 to 1000")
                }
                return .oomScoreAdj(n)
            default:
                throw self.error(
                    line, head.column,
                    "unknown command '\(head.text)' (expected \(ScenarioParser.processCommands.joined(separator: ", ")))"
                )
            }
        }
        switch head.text {
        case "machine":
            guard !self.sawCommand else {
                throw self.error(line, head.column, "'machine' must be the first command")
            }
            var settings: [(String, String, Int)] = []
            for t in rest {
                guard let eq = t.text.firstIndex(of: "=") else {
                    throw self.error(
                        line, t.column,
                        "expected KEY=VALUE (keys: \(MachineSpec.settings.joined(separator: ", ")))")
                }
                let key = String(t.text[..<eq])
                guard MachineSpec.settings.contains(key) else {
                    throw self.error(
                        line, t.column,
                        "unknown machine setting '\(key)' (expected \(MachineSpec.settings.joined(separator: ", ")))"
                    )
                }
                settings.append((key, String(t.text[t.text.index(after: eq)...]), t.column + key.count + 1))
            }
            return .machine(settings)
        case "spawn":
            try need(1, "a process name")
            let name = rest.first!
            try self.checkNewName(name, line: line)
            self.everSeen.insert(name.text)
            let (opts, _) = try self.options(
                rest.dropFirst(), allowed: ["text", "data", "bss", "image"], line: line)
            var layout = ImageLayout()
            if let t = opts["text"] { layout.text = try self.size(t, line: line) }
            if let t = opts["data"] { layout.data = try self.size(t, line: line, allowZero: true) }
            if let t = opts["bss"] { layout.bss = try self.size(t, line: line, allowZero: true) }
            let page = self.pageSize
            let align = { (x: UInt64) in (x + page - 1) / page * page }
            self.processes[name.text] = ProcessShape(regions: [
                "text": align(layout.text), "data": align(layout.data), "bss": align(layout.bss), "heap": 0,
                "stack": 8 << 20,
            ])
            return .spawn(name: name.text, path: opts["image"]?.text, layout: layout)
        case "expect":
            try need(3, "SUBJECT OP VALUE, e.g. web.minflt == 1")
            let s = rest.first!
            let parts = s.text.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2 || s.text == "time" || s.text.hasPrefix("/") else {
                throw self.error(
                    line, s.column,
                    "expected PROCESS.FIELD, vmstat.NAME, meminfo.NAME, PATH:FIELD, disk.FIELD, slab.NAME or time"
                )
            }
            let subject: ExpectSubject
            if let special = try self.specialSubject(s, line: line) {
                let (op, value) = try self.comparison(Array(rest.dropFirst()), line: line)
                return .expect(special, op, value)
            }
            switch parts[0] {
            case "vmstat":
                subject = .vmstat(parts[1])
            case "meminfo":
                subject = .meminfo(parts[1])
            default:
                guard self.processes[parts[0]] != nil || self.everSeen.contains(parts[0]) else {
                    throw self.error(line, s.column, "unknown process '\(parts[0])'" + self.knownProcesses())
                }
                guard ScenarioParser.processFields.contains(parts[1]) else {
                    throw self.error(
                        line, s.column + parts[0].count + 1,
                        "unknown field '\(parts[1])' (expected \(ScenarioParser.processFields.joined(separator: ", ")))"
                    )
                }
                subject = .process(parts[0], parts[1])
            }
            let (op, value) = try self.comparison(Array(rest.dropFirst()), line: line)
            return .expect(subject, op, value)
        case "reset":
            guard rest.first?.text == "counters", rest.count == 1 else {
                throw self.error(line, head.column, "expected 'reset counters'")
            }
            return .resetCounters
        case "show":
            try need(
                1,
                "what to show (\(ScenarioParser.globalReports.joined(separator: ", ")), or PROCESS \(ScenarioParser.processReports.joined(separator: "|")))"
            )
            var items: [ShowItem] = []
            var group: [Token] = []
            func flush() throws(ScenarioError) {
                guard let first = group.first else {
                    throw self.error(line, head.column, "empty item in 'show'")
                }
                if group.count == 1 {
                    guard ScenarioParser.globalReports.contains(first.text) else {
                        throw self.error(
                            line, first.column,
                            "unknown report '\(first.text)' (expected \(ScenarioParser.globalReports.joined(separator: ", ")), or PROCESS \(ScenarioParser.processReports.joined(separator: "|")))"
                        )
                    }
                    items.append(.global(first.text))
                } else {
                    guard self.processes[first.text] != nil else {
                        throw self.error(
                            line, first.column, "unknown process '\(first.text)'" + self.knownProcesses())
                    }
                    let what = group[1]
                    guard ScenarioParser.processReports.contains(what.text) else {
                        throw self.error(
                            line, what.column,
                            "unknown report '\(what.text)' (expected \(ScenarioParser.processReports.joined(separator: ", ")))"
                        )
                    }
                    let r = group.count > 2 ? try self.ref(group[2], process: first.text, line: line) : nil
                    items.append(.process(first.text, what.text, r))
                }
                group = []
            }
            for t in rest {
                if t.text == "|" { try flush() } else { group.append(t) }
            }
            try flush()
            return .show(items)
        case "translate":
            try need(2, "PROCESS REF [read|write|execute]")
            let p = rest.first!
            guard self.processes[p.text] != nil else {
                throw self.error(line, p.column, "unknown process '\(p.text)'" + self.knownProcesses())
            }
            let r = try self.ref(rest[rest.startIndex + 1], process: p.text, line: line)
            var access = Access.read
            if rest.count > 2 {
                let a = rest[rest.startIndex + 2]
                guard let parsed = Access(rawValue: a.text) else {
                    throw self.error(line, a.column, "expected read, write or execute")
                }
                access = parsed
            }
            return .translate(
                MemoryRef(
                    region: r.region, address: r.address, start: r.start, end: r.end, single: r.single,
                    text: p.text + " " + r.text), access)
        case "file", "mkdir", "truncate", "unlink", "sync", "drop", "tick", "sysctl", "shmrm", "swapon",
            "swapoff":
            return try self.parseGlobalFileCommand(head, rest, line: line)
        default:
            if self.processes[head.text] != nil {
                throw self.error(line, head.column, "missing ':' after the process name '\(head.text)'")
            }
            throw self.error(
                line, head.column,
                "unknown command '\(head.text)' (expected \(ScenarioParser.globalCommands.joined(separator: ", ")), or PROCESS: COMMAND)"
            )
        }
    }

    func checkNewName(_ token: Token, line: Int) throws(ScenarioError) {
        let ok =
            !token.text.isEmpty
            && token.text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        guard ok, !["vmstat", "meminfo", "disk", "slab", "time"].contains(token.text) else {
            throw self.error(line, token.column, "'\(token.text)' is not a process name")
        }
        guard self.processes[token.text] == nil else {
            throw self.error(line, token.column, "a process named '\(token.text)' is already running")
        }
    }

    func comparison(_ tokens: [Token], line: Int) throws(ScenarioError) -> (Comparison, UInt64) {
        guard tokens.count == 2 else {
            throw self.error(
                line, tokens.first?.column ?? 0, "expected an operator (==, !=, <, <=, >, >=) and a value")
        }
        guard let op = Comparison(rawValue: tokens[0].text) else {
            throw self.error(
                line, tokens[0].column,
                "'\(tokens[0].text)' is not a comparison (expected ==, !=, <, <=, >, >=)")
        }
        return (op, try self.number(tokens[1].text, column: tokens[1].column, line: line))
    }

    mutating func parseMmap(_ rest: ArraySlice<Token>, process: String, line: Int, head: Token)
        throws(ScenarioError) -> Command
    {
        guard rest.count >= 2 else {
            throw self.error(
                line, head.column + 5,
                "expected 'mmap NAME SIZE [anon|file=PATH] [private|shared] [PROT] [at=ADDR] [populate] [locked]'"
            )
        }
        let name = rest.first!
        guard self.processes[process]!.regions[name.text] == nil else {
            throw self.error(line, name.column, "\(process) already has a region '\(name.text)'")
        }
        guard name.text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !name.text.hasPrefix("0x")
        else {
            throw self.error(line, name.column, "'\(name.text)' is not a region name")
        }
        let size = try self.size(rest[rest.startIndex + 1], line: line)
        var request = MapRequest(length: size, protection: [.read, .write], shared: false)
        var filePath: String?
        for t in rest.dropFirst(2) {
            switch t.text {
            case "anon": continue
            case "private": request.shared = false
            case "shared": request.shared = true
            case "populate": request.populate = true
            case "locked": request.locked = true
            case "noreserve": request.noReserve = true
            case "fixed": request.fixed = true
            default:
                if t.text.hasPrefix("file=") {
                    filePath = String(t.text.dropFirst(5))
                } else if t.text.hasPrefix("at=") {
                    request.address = try self.number(
                        String(t.text.dropFirst(3)), column: t.column + 3, line: line)
                    request.fixed = true
                    request.noReplace = true
                } else if t.text.hasPrefix("offset=") {
                    let off = try self.size(
                        Token(text: String(t.text.dropFirst(7)), column: t.column + 7), line: line,
                        allowZero: true)
                    request.backing = .file(fd: -1, offset: off)
                } else if t.text.hasPrefix("name=") {
                    request.name = String(t.text.dropFirst(5))
                } else if let prot = Protection(text: t.text) {
                    request.protection = prot
                } else {
                    throw self.error(
                        line, t.column,
                        "unexpected '\(t.text)' (expected anon, file=PATH, private, shared, a protection such as rw, at=ADDR, offset=SIZE, populate, locked)"
                    )
                }
            }
        }
        self.processes[process]!.regions[name.text] =
            (size + self.pageSize - 1) / self.pageSize * self.pageSize
        return .mmap(region: name.text, size: size, request: request, filePath: filePath)
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
