import VMCore
import VMTypes

/// What the parser knows while it reads a scenario: which processes are alive at this line,
/// the regions each has and their sizes, and every name used so far — so that a line naming a
/// process or region that does not exist, or a range outside its region, is an error before
/// anything runs.
///
/// The picture is static: it follows what each line says it does (a `munmap` of a whole region
/// forgets it, `brk` changes the heap's size, an access that expects a fatal signal ends the
/// process), not what the kernel will decide.
public struct ParseContext: Sendable {
    public let file: String
    public let pageSize: UInt64

    /// A live process's regions and their sizes in bytes (page-rounded).
    public struct ProcessShape: Sendable {
        public var regions: [String: UInt64]
        /// Allocations freed with `free` (a second `free` of one is a double free, which glibc
        /// catches — the line must parse so the program can make the mistake).
        public var freed: Set<String> = []
        /// Signals the process has a handler for (`on segv continue`): an access expecting one
        /// of them leaves the process running.
        public var caught: Set<Signal> = []
    }
    public internal(set) var processes: [String: ProcessShape] = [:]
    /// Every process name used so far, live or not (`expect NAME.killed` asks about dead ones).
    public internal(set) var everSeen: Set<String> = []
    /// A command has been read (so `machine` may no longer come).
    public internal(set) var sawCommand = false
    /// The process the line acts for (`NAME:` prefix), if any.
    public internal(set) var process: String?
    /// The memory cgroups `cgroup` lines declared so far, and the root `/`. A path in this set
    /// is a cgroup wherever a path may stand (`expect /app:memory.current`, `show /app
    /// memory.stat`); any other path is a file.
    public internal(set) var cgroups: Set<String> = ["/"]

    /// What the line being parsed changed, to undo it if the line turns out to be bad.
    enum Change: Sendable {
        case region(process: String, name: String, old: UInt64?)
        case process(name: String, old: ProcessShape?, wasSeen: Bool)
        case cgroup(String)
    }
    var journal: [Change] = []
    var lineStart: (process: String?, sawCommand: Bool) = (nil, false)

    public init(file: String, pageSize: UInt64 = 4096) {
        self.file = file
        self.pageSize = pageSize
    }

    /// The process the current line acts for; only process commands call it.
    var actor: String { self.process ?? "" }

    /// Rounds a checked size up to a page (sizes from `Words.size` always fit).
    func pageRounded(_ size: UInt64) -> UInt64 {
        let (sum, overflow) = size.addingReportingOverflow(self.pageSize - 1)
        return overflow ? UInt64.max & ~(self.pageSize - 1) : sum / self.pageSize * self.pageSize
    }

    func knownProcesses() -> String {
        self.processes.isEmpty
            ? " (none is running; start one with 'spawn NAME')"
            : " (running: \(self.processes.keys.sorted().joined(separator: ", ")))"
    }

    /// Checks that `token` names a process that is running at this line.
    func requireProcess(_ token: Token, _ words: Words) throws(ScenarioError) {
        guard self.processes[token.text] != nil else {
            throw words.error(at: token, "unknown process '\(token.text)'" + self.knownProcesses())
        }
    }

    /// A name for a new process: letters, digits, `_` and `-`, not a reserved subject, not in use.
    func checkNewProcessName(_ token: Token, _ words: Words) throws(ScenarioError) {
        let ok =
            !token.text.isEmpty
            && token.text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        guard ok, !["vmstat", "meminfo", "disk", "slab", "time"].contains(token.text) else {
            throw words.error(at: token, "'\(token.text)' is not a process name")
        }
        guard self.processes[token.text] == nil else {
            throw words.error(at: token, "a process named '\(token.text)' is already running")
        }
    }

    /// A name for a new region of the acting process.
    func checkNewRegionName(_ token: Token, _ words: Words) throws(ScenarioError) {
        guard self.processes[self.actor]?.regions[token.text] == nil else {
            throw words.error(at: token, "\(self.actor) already has a region '\(token.text)'")
        }
        guard !token.text.isEmpty, token.text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
            !token.text.hasPrefix("0x")
        else {
            throw words.error(at: token, "'\(token.text)' is not a region name")
        }
    }

    mutating func setRegion(_ name: String, size: UInt64?, of process: String? = nil) {
        let owner = process ?? self.actor
        guard self.processes[owner] != nil else { return }
        self.journal.append(.region(process: owner, name: name, old: self.processes[owner]?.regions[name]))
        self.processes[owner]?.regions[name] = size
    }

    mutating func startProcess(_ name: String, regions: [String: UInt64], caught: Set<Signal> = []) {
        self.journal.append(
            .process(name: name, old: self.processes[name], wasSeen: self.everSeen.contains(name)))
        self.processes[name] = ProcessShape(regions: regions, caught: caught)
        self.everSeen.insert(name)
    }

    /// The acting process installs (or removes) a handler for `signal`.
    mutating func setCaught(_ signal: Signal, _ catching: Bool) {
        let name = self.actor
        guard self.processes[name] != nil else { return }
        self.journal.append(.process(name: name, old: self.processes[name], wasSeen: true))
        if catching {
            self.processes[name]?.caught.insert(signal)
        } else {
            self.processes[name]?.caught.remove(signal)
        }
    }

    /// Does the acting process catch `signal`?
    func catches(_ signal: Signal) -> Bool { self.processes[self.actor]?.caught.contains(signal) == true }

    mutating func endProcess(_ name: String) {
        self.journal.append(
            .process(name: name, old: self.processes[name], wasSeen: self.everSeen.contains(name)))
        self.processes[name] = nil
    }

    mutating func declareCgroup(_ path: String) {
        guard !self.cgroups.contains(path) else { return }
        self.journal.append(.cgroup(path))
        self.cgroups.insert(path)
    }

    /// Starts a line: its changes are journaled from here.
    mutating func beginLine() {
        self.journal.removeAll(keepingCapacity: true)
        self.lineStart = (self.process, self.sawCommand)
    }

    /// Undoes every change since `beginLine()`, newest first.
    mutating func rollBack() {
        for change in self.journal.reversed() {
            switch change {
            case .region(let process, let name, let old): self.processes[process]?.regions[name] = old
            case .process(let name, let old, let wasSeen):
                self.processes[name] = old
                if !wasSeen { self.everSeen.remove(name) }
            case .cgroup(let path): self.cgroups.remove(path)
            }
        }
        self.journal.removeAll(keepingCapacity: true)
        (self.process, self.sawCommand) = self.lineStart
    }

    // MARK: References

    /// `buf`, `buf[8KiB]`, `buf[0:4MiB]`, `buf[1MiB:]`, `0x7f0000000000`, `0x7f0000000000[0:8KiB]`
    /// for `process` (the acting one by default). A region's range must lie inside it; a raw
    /// address range must not run past the end of the 64-bit address space.
    func memoryRef(_ token: Token, _ words: Words, process: String? = nil) throws(ScenarioError) -> MemoryRef
    {
        let process = process ?? self.actor
        let text = token.text
        let base = text.firstIndex(of: "[").map { String(text[..<$0]) } ?? text
        var ref = MemoryRef(region: nil, address: nil, start: 0, end: nil, single: false, text: text)
        var regionSize: UInt64?
        if base.hasPrefix("0x") || base.hasPrefix("0X") {
            ref.address = try words.address(Token(text: base, column: token.column))
        } else {
            guard let size = self.processes[process]?.regions[base] else {
                let known = self.processes[process]?.regions.keys.sorted().joined(separator: ", ") ?? ""
                throw words.error(at: token, "\(process) has no region '\(base)' (regions: \(known))")
            }
            ref.region = base
            regionSize = size
        }
        guard let b = try words.bracket(token, baseLength: base.count, pageSize: self.pageSize) else {
            ref.single = ref.address != nil
            return ref
        }
        ref.start = b.start
        ref.end = b.end
        ref.single = b.single
        if let regionSize {
            let inside = b.start < regionSize && (b.end ?? 0) <= regionSize
            guard inside else {
                throw words.error(
                    b.column, "range \(b.inner) is outside \(base) (\(ByteSize.human(regionSize)))")
            }
        } else if let address = ref.address {
            let last = b.end.map { $0 - 1 } ?? b.start
            guard address.addingReportingOverflow(last).overflow == false else {
                throw words.error(b.column, "range \(b.inner) runs past the end of the 64-bit address space")
            }
        }
        return ref
    }

    /// An absolute path of non-empty components without `.`, `..` or `:`.
    func checkPath(_ token: Token, _ words: Words) throws(ScenarioError) {
        try self.checkPath(token.text, column: token.column, words)
    }

    func checkPath(_ path: String, column: Int, _ words: Words) throws(ScenarioError) {
        guard path.hasPrefix("/"), path.count > 1, !path.hasSuffix("/") else {
            throw words.error(column, "'\(path)' is not an absolute path to a file (e.g. /data/db)")
        }
        for part in path.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            guard !part.isEmpty, part != ".", part != "..", !part.contains(":") else {
                throw words.error(
                    column, "'\(path)': path components must be names (no '', '.', '..' or ':')")
            }
        }
    }

    /// `/data/db`, `/data/db[8KiB]`, `/data/db[0:1MiB]`, `/data/db[1MiB:]`.
    func fileRef(_ token: Token, _ words: Words) throws(ScenarioError) -> FileRef {
        let text = token.text
        let path = text.firstIndex(of: "[").map { String(text[..<$0]) } ?? text
        try self.checkPath(path, column: token.column, words)
        var ref = FileRef(path: path, start: 0, end: nil, single: false, text: text)
        if let b = try words.bracket(token, baseLength: path.count, pageSize: self.pageSize) {
            ref.start = b.start
            ref.end = b.end
            ref.single = b.single
        }
        return ref
    }
}
