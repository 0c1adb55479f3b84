import VMCore
import VMTypes

/// `NAME: mmap REGION SIZE …`: a new mapping, named REGION for later lines.
struct MmapCommand: ScenarioCommand {
    var region: String
    var request: MapRequest
    var filePath: String?

    static let syntax = CommandSyntax(
        names: ["mmap"], scope: .process, group: .memory,
        usage: [
            "mmap REGION SIZE [anon|file=PATH] [private|shared] [r|rw|rx|rwx|none] [at=ADDR] [offset=SIZE]",
            "     [populate] [locked] [noreserve] [fixed] [name=NAME]",
        ],
        summary: "mmap(2): map memory and name it REGION")

    static let usageText =
        "expected 'mmap NAME SIZE [anon|file=PATH] [private|shared] [PROT] [at=ADDR] [populate] [locked]'"

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard words.count >= 2 else { throw words.error(words.head.column + 5, Self.usageText) }
        let name = try words.next("a region name")
        try context.checkNewRegionName(name, words)
        let size = try words.size(try words.next("a size"), pageSize: context.pageSize)
        var request = MapRequest(length: size, protection: [.read, .write], shared: false)
        var filePath: String?
        for t in words.takeRest() {
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
                    let path = String(t.text.dropFirst(5))
                    try context.checkPath(path, column: t.column + 5, words)
                    filePath = path
                } else if t.text.hasPrefix("at=") {
                    request.address = try words.address(
                        Token(text: String(t.text.dropFirst(3)), column: t.column + 3))
                    request.fixed = true
                    request.noReplace = true
                } else if t.text.hasPrefix("offset=") {
                    let off = try words.size(
                        Token(text: String(t.text.dropFirst(7)), column: t.column + 7),
                        pageSize: context.pageSize,
                        allowZero: true)
                    request.backing = .file(fd: -1, offset: off)
                } else if t.text.hasPrefix("name=") {
                    request.name = String(t.text.dropFirst(5))
                } else if let prot = Protection(text: t.text) {
                    request.protection = prot
                } else {
                    throw words.error(
                        at: t,
                        "unexpected '\(t.text)' (expected anon, file=PATH, private, shared, a protection such as rw, at=ADDR, offset=SIZE, populate, locked)"
                    )
                }
            }
        }
        context.setRegion(name.text, size: context.pageRounded(size))
        return MmapCommand(region: name.text, request: request, filePath: filePath)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        let kernel = runner.kernel
        var request = self.request
        var fd: Int?
        if let filePath {
            // open(), mmap(), close(): the mapping keeps the file open.
            do { fd = try kernel.open(task, filePath) } catch {
                runner.refuse(statement, "open \(filePath) failed: \(error)")
                return
            }
            var offset: UInt64 = 0
            if case .file(_, let o) = request.backing { offset = o }
            request.backing = .file(fd: fd!, offset: offset)
        } else if case .file = request.backing {
            runner.refuse(statement, "offset= needs file=PATH")
            return
        }
        defer { if let fd { try? kernel.close(task, fd: fd) } }
        do {
            let start = try kernel.mmap(task, request)
            runner.regions[task.pid, default: [:]][self.region] = (start, kernel.pageAlign(request.length))
        } catch {
            runner.refuse(statement, "mmap failed: \(error)")
        }
    }
}

/// `NAME: munmap REF`.
struct MunmapCommand: ScenarioCommand {
    var ref: MemoryRef

    static let syntax = CommandSyntax(
        names: ["munmap"], scope: .process, group: .memory, usage: ["munmap REF"],
        summary: "munmap(2): unmap (a whole region is forgotten)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let ref = try context.memoryRef(try words.next("a region to unmap"), words)
        try words.finish()
        if ref.isWholeRegion, let region = ref.region { context.setRegion(region, size: nil) }
        return MunmapCommand(ref: ref)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withSpan(statement, self.ref) { task, address, length throws(MMError) in
            try runner.kernel.munmap(task, address: address, length: length)
            if self.ref.isWholeRegion, let region = self.ref.region {
                runner.regions[task.pid]?[region] = nil
            }
        }
    }
}

/// `NAME: mprotect REF PROT`.
struct MprotectCommand: ScenarioCommand {
    var ref: MemoryRef
    var protection: Protection

    static let syntax = CommandSyntax(
        names: ["mprotect"], scope: .process, group: .memory, usage: ["mprotect REF r|rw|rx|rwx|none"],
        summary: "mprotect(2): change the protection")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard words.count >= 2 else {
            throw words.error(words.endColumn, "expected a region and a protection (r, rw, rx, rwx, none)")
        }
        let ref = try context.memoryRef(try words.next("a region"), words)
        let p = try words.next("a protection")
        guard let prot = Protection(text: p.text) else {
            throw words.error(at: p, "'\(p.text)' is not a protection (expected r, rw, rx, rwx, none)")
        }
        try words.finish()
        return MprotectCommand(ref: ref, protection: prot)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withSpan(statement, self.ref) { task, address, length throws(MMError) in
            try runner.kernel.mprotect(task, address: address, length: length, protection: self.protection)
        }
    }
}

/// `NAME: madvise REF ADVICE`.
struct MadviseCommand: ScenarioCommand {
    var ref: MemoryRef
    var advice: Advice

    static let syntax = CommandSyntax(
        names: ["madvise"], scope: .process, group: .memory,
        usage: ["madvise REF \(Advice.allCases.map(\.rawValue).joined(separator: "|"))"],
        summary: "madvise(2)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let names = Advice.allCases.map(\.rawValue).joined(separator: ", ")
        guard words.count >= 2 else {
            throw words.error(words.endColumn, "expected a region and advice (\(names))")
        }
        let ref = try context.memoryRef(try words.next("a region"), words)
        let a = try words.next("advice")
        if a.text.lowercased() == "collapse" {
            throw words.error(at: a, "MADV_COLLAPSE: khugepaged collapse is not modelled")
        }
        guard let advice = Advice(rawValue: a.text.lowercased()) else {
            throw words.error(at: a, "unknown advice '\(a.text)' (expected \(names))")
        }
        try words.finish()
        return MadviseCommand(ref: ref, advice: advice)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withSpan(statement, self.ref) { task, address, length throws(MMError) in
            try runner.kernel.madvise(task, address: address, length: length, advice: self.advice)
        }
    }
}

/// `NAME: mlock REF`, `NAME: munlock REF`.
struct MlockCommand: ScenarioCommand {
    var ref: MemoryRef
    var lock: Bool

    static let syntax = CommandSyntax(
        names: ["mlock", "munlock"], scope: .process, group: .memory, usage: ["mlock REF", "munlock REF"],
        summary: "mlock(2) (faults the range in) / munlock(2)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let ref = try context.memoryRef(try words.next("a region"), words)
        try words.finish()
        return MlockCommand(ref: ref, lock: words.head.text == "mlock")
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        guard let range = runner.resolve(self.ref, task) else {
            runner.refuse(statement, "\(self.ref) is not mapped")
            return
        }
        let (length, overflow) = (range.upperBound - range.lowerBound).addingReportingOverflow(1)
        guard !overflow else {
            runner.refuse(statement, "EINVAL: \(self.ref) covers the whole address space")
            return
        }
        do {
            try runner.kernel.mlock(task, address: range.lowerBound, length: length, lock: self.lock)
        } catch {
            runner.refuse(statement, error.description)
        }
    }
}

/// `NAME: brk +SIZE`, `brk -SIZE`, `brk =ADDRESS`: moves the program break.
struct BrkCommand: ScenarioCommand {
    enum Change: Sendable {
        case grow(UInt64)
        case shrink(UInt64)
        case set(UInt64)
    }
    var change: Change

    static let syntax = CommandSyntax(
        names: ["brk"], scope: .process, group: .memory, usage: ["brk +SIZE | -SIZE | =ADDRESS"],
        summary: "brk(2): grow or shrink the heap")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let t = try words.next("+SIZE, -SIZE or =ADDRESS")
        try words.finish()
        let heap = context.processes[context.actor]?.regions["heap"] ?? 0
        if t.text.hasPrefix("+") || t.text.hasPrefix("-") {
            let bytes = try words.size(
                Token(text: String(t.text.dropFirst()), column: t.column + 1), pageSize: context.pageSize)
            if t.text.hasPrefix("+") {
                let (sum, overflow) = heap.addingReportingOverflow(bytes)
                context.setRegion("heap", size: overflow ? .max : sum)
                return BrkCommand(change: .grow(bytes))
            }
            context.setRegion("heap", size: heap > bytes ? heap - bytes : 0)
            return BrkCommand(change: .shrink(bytes))
        }
        if t.text.hasPrefix("=") {
            return BrkCommand(
                change: .set(
                    try words.number(
                        Token(text: String(t.text.dropFirst()), column: t.column + 1),
                        pageSize: context.pageSize)))
        }
        throw words.error(at: t, "expected +SIZE, -SIZE or =ADDRESS")
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement), let mm = task.mm else { return }
        let target: UInt64
        switch self.change {
        case .set(let address): target = address
        case .grow(let bytes):
            let (sum, overflow) = mm.brk.addingReportingOverflow(bytes)
            target = overflow ? .max : sum
        case .shrink(let bytes):
            target = mm.brk - mm.startBrk > bytes ? mm.brk - bytes : mm.startBrk
        }
        let result = runner.kernel.brk(task, to: target)
        if result != target { runner.refuse(statement, "brk refused; the break stays at \(hex(result))") }
    }
}

extension MemoryRef {
    /// The reference names a whole region (`buf`, not `buf[0:4KiB]`).
    var isWholeRegion: Bool { self.region != nil && self.start == 0 && self.end == nil && !self.single }
}
