import VMCore
import VMTypes

/// `expect SUBJECT OP VALUE` (a counter of the machine or a process), and in a process
/// `NAME: expect REF OP VALUE` (its memory, read with real loads) or `NAME: expect FILEREF OP
/// VALUE` (a file, read with `read(2)`).
struct ExpectCommand: ScenarioCommand {
    enum Target: Sendable {
        case subject(ExpectSubject)
        case memory(MemoryRef)
        case file(FileRef)
    }
    var target: Target
    var comparison: Comparison
    /// The right side: a number, or (`other`) another subject's value at the same moment
    /// (`expect p.pagemap[buf].pfn == q.pagemap[buf].pfn`).
    var value: UInt64
    var other: ExpectSubject?

    /// The right side of a comparison as written.
    enum Operand {
        case number(UInt64)
        case subject(ExpectSubject)
    }

    /// Names a right side may use for a number, as in C: `si_code` and `si_signo` values
    /// (include/uapi/asm-generic/siginfo.h, arch/x86/include/uapi/asm/signal.h). The codes of
    /// different signals overlap (`SEGV_ACCERR` and `BUS_ADRERR` are both 2).
    static let namedConstants: [String: UInt64] = [
        "SEGV_MAPERR": 1, "SEGV_ACCERR": 2, "BUS_ADRERR": 2, "SI_KERNEL": 0x80, "SIGSEGV": 11, "SIGBUS": 7,
    ]

    static let processFields = [
        "minflt", "majflt", "cminflt", "cmajflt", "rss", "rssanon", "rssfile", "rssshmem", "vmsize", "vmpeak",
        "vmdata", "vmstk",
        "vmexe", "vmpte", "vmswap", "vmlck", "vmhwm", "alive", "killed", "pid", "vmas", "iowait",
        "heap.size", "heap.live", "heap.mmapped", "heap.top", "heap.brk",
        "signals", "signals[segv]", "signals[sigbus]", "si_signo", "si_code", "si_addr",
    ]
    /// Facts `expect NAME.pagemap[REF].FIELD` reads from a page's pagemap entry.
    static let pagemapFields = ["pfn", "present", "swap", "file", "exclusive", "soft_dirty", "entry"]
    /// Fields of a C library allocation, `p: expect ALLOC.FIELD % N == V`.
    static let allocationFields = ["ptr", "size", "usable"]
    static let fileFields = ["cached", "dirty", "writeback", "mapped", "size"]
    static let diskFields = ["reads", "writes", "read_bytes", "written_bytes", "seeks", "busy"]

    static let syntax = CommandSyntax(
        names: ["expect"], scope: .either, group: .checks,
        usage: [
            "expect NAME.FIELD|vmstat.NAME|meminfo.NAME|PATH:FIELD|disk.FIELD|slab.NAME|time [% N] OP VALUE",
            "expect CGROUP:memory.current|memory.peak|memory.swap.current|memory.events.oom_kill|memory.stat.anon|… OP VALUE",
            "                                   (CGROUP: a path a 'cgroup' line declared; other paths are files)",
            "NAME: expect REF OP VALUE          (the process loads REF)",
            "NAME: expect ALLOC.ptr|size|usable [% N] OP VALUE   (a malloc allocation)",
            "NAME: expect FILEREF OP VALUE      (read(2) of the file)",
            "expect NAME.smaps[REF].FIELD|NAME.pagemap[REF].pfn|present|swap|file|exclusive|soft_dirty|entry OP VALUE",
            "expect NAME.signals[segv|sigbus]|NAME.si_signo|si_code|si_addr OP VALUE   (what a handler caught)",
            "                                   (VALUE: a number, SEGV_MAPERR …, or a subject: NAME.addr[REF], q.pagemap[REF].pfn)",
        ],
        summary: "check a value; OP is == != < <= > >=")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        if context.process != nil {
            guard words.count >= 3 else { throw words.error(words.endColumn, "expected REF == VALUE") }
            let t = try words.next("a reference")
            if let subject = try Self.allocationSubject(t, words, context) {
                let s = try Self.modulo(subject, &words, context)
                let (op, operand) = try Self.comparison(&words, context)
                return ExpectCommand(subject: s, op, operand)
            }
            let target: Target =
                t.text.hasPrefix("/")
                ? .file(try context.fileRef(t, words)) : .memory(try context.memoryRef(t, words))
            let (op, operand) = try Self.comparison(&words, context)
            guard case .number(let value) = operand else {
                throw words.error(
                    words.endColumn - 1,
                    "a memory or file comparison takes a number (each page's word is compared)")
            }
            return ExpectCommand(target: target, comparison: op, value: value)
        }
        guard words.count >= 3 else {
            throw words.error(words.endColumn, "expected SUBJECT OP VALUE, e.g. web.minflt == 1")
        }
        let s = try words.next("a subject")
        let subject = try Self.modulo(try Self.subject(s, words, context), &words, context)
        let (op, operand) = try Self.comparison(&words, context)
        return ExpectCommand(subject: subject, op, operand)
    }

    init(target: Target, comparison: Comparison, value: UInt64, other: ExpectSubject? = nil) {
        self.target = target
        self.comparison = comparison
        self.value = value
        self.other = other
    }

    init(subject: ExpectSubject, _ op: Comparison, _ operand: Operand) {
        switch operand {
        case .number(let v): self.init(target: .subject(subject), comparison: op, value: v)
        case .subject(let o): self.init(target: .subject(subject), comparison: op, value: 0, other: o)
        }
    }

    /// `ALLOC.FIELD` in a process's `expect`, if the token names one of its allocations
    /// (nil: it is a memory reference).
    static func allocationSubject(_ t: Token, _ words: Words, _ context: ParseContext) throws(ScenarioError)
        -> ExpectSubject?
    {
        guard !t.text.hasPrefix("/"), !t.text.contains("["), let dot = t.text.lastIndex(of: ".") else {
            return nil
        }
        let name = String(t.text[..<dot])
        let field = String(t.text[t.text.index(after: dot)...])
        guard context.processes[context.actor]?.regions[name] != nil else { return nil }
        guard Self.allocationFields.contains(field) else {
            throw words.error(
                t.column + name.count + 1,
                "unknown allocation field '\(field)' (expected \(Self.allocationFields.joined(separator: ", ")))"
            )
        }
        return .allocation(process: context.actor, name: name, field: field)
    }

    /// An optional `% N` after a subject.
    static func modulo(_ subject: ExpectSubject, _ words: inout Words, _ context: ParseContext)
        throws(ScenarioError) -> ExpectSubject
    {
        guard words.peek()?.text == "%" else { return subject }
        _ = try words.next("%")
        let t = try words.next("a divisor")
        let n = try words.number(t, pageSize: context.pageSize)
        guard n > 0 else { throw words.error(at: t, "'% 0' divides by zero") }
        return .modulo(subject, n)
    }

    static func comparison(_ words: inout Words, _ context: ParseContext) throws(ScenarioError) -> (
        Comparison, Operand
    ) {
        guard words.count == 2 else {
            throw words.error(
                words.peek()?.column ?? words.endColumn,
                "expected an operator (==, !=, <, <=, >, >=) and a value")
        }
        let o = try words.next("an operator")
        guard let op = Comparison(rawValue: o.text) else {
            throw words.error(at: o, "'\(o.text)' is not a comparison (expected ==, !=, <, <=, >, >=)")
        }
        let v = try words.next("a value")
        if let named = Self.namedConstants[v.text] { return (op, .number(named)) }
        // A number starts with a digit; anything else is a subject read at the same moment.
        guard let first = v.text.first, !first.isNumber else {
            return (op, .number(try words.number(v, pageSize: context.pageSize)))
        }
        return (op, .subject(try Self.subject(v, words, context)))
    }

    /// The left side of a global `expect`.
    static func subject(_ s: Token, _ words: Words, _ context: ParseContext) throws(ScenarioError)
        -> ExpectSubject
    {
        let text = s.text
        if text == "time" { return .time }
        if text.hasPrefix("/") {
            guard let colon = text.lastIndex(of: ":") else {
                throw words.error(
                    s.endColumn, "expected PATH:FIELD (fields: \(Self.fileFields.joined(separator: ", ")))")
            }
            let path = String(text[..<colon])
            let field = String(text[text.index(after: colon)...])
            if context.cgroups.contains(path) {
                guard path != "/" else {
                    throw words.error(at: s, "the root cgroup / has no memory.* files (cgroup v2)")
                }
                if let problem = CgroupFiles.checkExpectField(field) {
                    throw words.error(s.column + path.count + 1, problem)
                }
                return .cgroup(path, field)
            }
            if field.hasPrefix("memory.") || field.hasPrefix("cgroup.") {
                throw words.error(
                    at: s, "no cgroup \(path) is declared (a 'cgroup \(path)' line must come first)")
            }
            try context.checkPath(path, column: s.column, words)
            guard Self.fileFields.contains(field) else {
                throw words.error(
                    s.column + path.count + 1,
                    "unknown file field '\(field)' (expected \(Self.fileFields.joined(separator: ", ")))")
            }
            return .file(path, field)
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(
            String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw words.error(
                at: s,
                "expected PROCESS.FIELD, vmstat.NAME, meminfo.NAME, PATH:FIELD, disk.FIELD, slab.NAME or time"
            )
        }
        switch parts[0] {
        case "vmstat": return .vmstat(parts[1])
        case "meminfo": return .meminfo(parts[1])
        case "slab": return .slab(parts[1])
        case "disk":
            guard Self.diskFields.contains(parts[1]) else {
                throw words.error(
                    s.column + 5,
                    "unknown disk field '\(parts[1])' (expected \(Self.diskFields.joined(separator: ", ")))")
            }
            return .disk(parts[1])
        default:
            guard context.processes[parts[0]] != nil || context.everSeen.contains(parts[0]) else {
                throw words.error(at: s, "unknown process '\(parts[0])'" + context.knownProcesses())
            }
            if let subject = try Self.procSubject(parts[0], parts[1], s, words, context) { return subject }
            guard Self.processFields.contains(parts[1]) else {
                throw words.error(
                    s.column + parts[0].count + 1,
                    "unknown field '\(parts[1])' (expected \(Self.processFields.joined(separator: ", ")))")
            }
            return .process(parts[0], parts[1])
        }
    }

    /// `NAME.smaps[REF].FIELD`, `NAME.pagemap[REF].FIELD`, `NAME.addr[REF]` (nil: `rest` is an
    /// ordinary field). REF is read as in `NAME: read REF`, against the process's regions.
    static func procSubject(
        _ process: String, _ rest: String, _ s: Token, _ words: Words, _ context: ParseContext
    ) throws(ScenarioError) -> ExpectSubject? {
        guard let kind = ["smaps", "pagemap", "addr"].first(where: { rest.hasPrefix($0 + "[") }) else {
            return nil
        }
        let column = s.column + process.count + 1
        guard context.processes[process] != nil else {
            throw words.error(
                at: s, "\(process) has exited: it has no /proc/PID/\(kind == "addr" ? "maps" : kind)")
        }
        // The reference runs to the bracket matching the one after the kind.
        let chars = Array(rest)
        var depth = 0
        var close: Int?
        for i in kind.count..<chars.count {
            if chars[i] == "[" { depth += 1 }
            if chars[i] == "]" {
                depth -= 1
                if depth == 0 {
                    close = i
                    break
                }
            }
        }
        guard let close, close > kind.count + 1 else {
            throw words.error(
                column + kind.count, "expected \(kind)[REF] with a region or address inside the brackets")
        }
        let inner = String(chars[(kind.count + 1)..<close])
        let ref = try context.memoryRef(
            Token(text: inner, column: column + kind.count + 1), words, process: process)
        let tail = String(chars[(close + 1)...])
        if kind == "addr" {
            guard tail.isEmpty else {
                throw words.error(column + close + 1, "unexpected '\(tail)' after addr[…]")
            }
            return .address(process: process, ref: ref)
        }
        let fields = kind == "smaps" ? ProcFS.smapsFieldNames : Self.pagemapFields
        guard tail.hasPrefix("."), fields.contains(String(tail.dropFirst())) else {
            throw words.error(
                column + close + 1,
                "expected .FIELD after \(kind)[…] (fields: \(fields.joined(separator: ", ")))")
        }
        let field = String(tail.dropFirst())
        return kind == "smaps"
            ? .smaps(process: process, ref: ref, field: field)
            : .pagemap(process: process, ref: ref, field: field)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        switch self.target {
        case .subject(let subject):
            guard let actual = runner.value(of: subject, statement) else { return }
            var expected = self.value
            if let other = self.other {
                guard let v = runner.value(of: other, statement) else { return }
                expected = v
            }
            let shown = runner.describe(subject, actual)
            if self.comparison.holds(actual, expected) {
                runner.pass(shown)
            } else if let other = self.other {
                runner.fail(
                    statement, "\(subject) is \(shown), \(other) is \(runner.describe(other, expected))")
            } else {
                runner.fail(statement, "\(subject) is \(shown)")
            }
        case .memory(let ref): self.expectMemory(ref, runner, statement)
        case .file(let ref): self.expectFile(ref, runner, statement)
        }
    }

    /// Loads one word per page of the range (real accesses, which may fault) and compares each.
    func expectMemory(_ ref: MemoryRef, _ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        guard let range = runner.resolve(ref, task) else {
            runner.refuse(statement, "\(ref) is not mapped")
            return
        }
        let page = runner.kernel.phys.pageSize
        var address = range.lowerBound
        while true {
            guard runner.chargeAccess(statement) else { return }
            switch runner.kernel.userAccess(task, address: address, access: .read) {
            case .ok(let v):
                if !self.comparison.holds(v, self.value) {
                    runner.fail(statement, "\(hex(address)) holds \(v) (\(hex(v)))")
                    return
                }
            case .caught(let info):
                runner.fail(
                    statement,
                    "reading \(hex(address)) raised \(info.signal.name) (\(info)), caught by the handler")
                return
            default:
                runner.fail(statement, "reading \(hex(address)) killed the process")
                return
            }
            let (next, overflow) = (address & ~(page - 1)).addingReportingOverflow(page)
            guard !overflow, next <= range.upperBound else { break }
            address = next
        }
        runner.pass("every page \(self.comparison.rawValue) \(self.value)")
    }

    /// Reads one word per page of the file range with `read(2)`; a range that starts at or past
    /// the end of the file fails (there is nothing to compare).
    func expectFile(_ ref: FileRef, _ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.actor(statement) else { return }
        let kernel = runner.kernel
        let page = kernel.phys.pageSize
        do {
            let fd = try runner.descriptor(task, ref.path, create: false)
            let size = try runner.fileSize(task, fd)
            let range = runner.byteRange(ref, size: size)
            guard range.lowerBound < size, !range.isEmpty else {
                runner.fail(
                    statement, "offset \(range.lowerBound) is beyond the end of \(ref.path) (\(size) bytes)")
                return
            }
            var offset = range.lowerBound
            while offset < range.upperBound {
                let words = try kernel.read(task, fd: fd, offset: offset, length: 1)
                guard let word = words.first else {
                    runner.fail(
                        statement, "offset \(offset) is beyond the end of \(ref.path) (\(size) bytes)")
                    return
                }
                if !self.comparison.holds(word, self.value) {
                    runner.fail(statement, "\(ref.path) at offset \(offset) holds \(word) (\(hex(word)))")
                    return
                }
                let (next, overflow) = (offset / page + 1).multipliedReportingOverflow(by: page)
                guard !overflow else { break }
                offset = next
            }
            runner.pass("every page \(self.comparison.rawValue) \(self.value)")
        } catch {
            runner.refuse(statement, error.description)
        }
    }
}

extension ScenarioRunner {
    /// The value an `expect` subject has now (nil, reported, when there is none).
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
        case .cgroup(let path, let field):
            guard let g = self.kernel.memcg.group(at: path),
                let v = CgroupFiles.value(self.kernel, g, field)
            else {
                self.refuse(statement, "no \(field) in cgroup \(path)")
                return nil
            }
            return v
        case .modulo(let inner, let n):
            return self.value(of: inner, statement).map { $0 % n }
        case .smaps(let process, let ref, let field):
            guard let (task, mm, range) = self.procTarget(process, ref, statement) else { return nil }
            let vmas = mm.vmas.filter { $0.start <= range.upperBound && $0.end > range.lowerBound }
            guard !vmas.isEmpty else {
                self.refuse(statement, "\(process) has no mapping at \(ref)")
                return nil
            }
            _ = task
            var total: UInt64 = 0
            for (i, vma) in vmas.enumerated() {
                guard
                    let f = ProcFS.smapsFields(self.kernel, mm: mm, vma: vma).first(where: {
                        $0.name == field
                    })
                else { return nil }
                // Sizes add up; the page sizes and THPeligible are the first VMA's.
                if ["KernelPageSize", "MMUPageSize", "THPeligible"].contains(field) {
                    if i == 0 { total = f.value }
                } else {
                    total += f.value
                }
            }
            return total
        case .pagemap(let process, let ref, let field):
            guard let (_, mm, range) = self.procTarget(process, ref, statement) else { return nil }
            let (entry, _) = ProcFS.pagemapEntry(self.kernel, mm, range.lowerBound)
            switch field {
            case "pfn": return entry >> 63 == 1 ? entry & ((1 << 55) - 1) : 0
            case "present": return entry >> 63 & 1
            case "swap": return entry >> 62 & 1
            case "file": return entry >> 61 & 1
            case "exclusive": return entry >> 56 & 1
            case "soft_dirty": return entry >> 55 & 1
            default: return entry
            }
        case .address(let process, let ref):
            guard let (_, _, range) = self.procTarget(process, ref, statement) else { return nil }
            return range.lowerBound
        case .allocation(let process, let name, let field):
            guard let task = self.processes[process] else {
                self.refuse(statement, "no process '\(process)'")
                return nil
            }
            guard let region = self.regions[task.pid]?[name] else {
                self.refuse(statement, "\(process) has no allocation '\(name)' now")
                return nil
            }
            switch field {
            case "ptr": return region.start
            case "size": return region.length
            default:
                guard self.mallocNames[task.pid]?.contains(name) == true else {
                    self.refuse(statement, "'\(name)' is not a malloc allocation")
                    return nil
                }
                return self.allocator(for: task).usableSize(region.start)
            }
        case .process(let name, let field):
            guard let task = self.processes[name] else {
                if field == "alive" { return 0 }
                self.refuse(statement, "no process '\(name)'")
                return nil
            }
            return self.processField(task, field)
        }
    }

    /// The running process, its mm and the bytes `ref` covers, for a `/proc` subject (nil,
    /// reported, when the process has gone or the reference is not mapped).
    func procTarget(_ process: String, _ ref: MemoryRef, _ statement: Statement)
        -> (Task, AddressSpace, ClosedRange<UInt64>)?
    {
        guard let task = self.processes[process], let mm = task.mm else {
            self.refuse(statement, "no process '\(process)'")
            return nil
        }
        guard let range = self.resolve(ref, task) else {
            self.refuse(statement, "\(ref) is not mapped in \(process)")
            return nil
        }
        return (task, mm, range)
    }

    /// A value of `subject` as a person reads it; `si_code` and `si_signo` also by name, from
    /// the signal the process's handler last caught.
    func describe(_ subject: ExpectSubject, _ value: UInt64) -> String {
        if case .process(let name, let field) = subject, field == "si_code" || field == "si_signo",
            let info = self.processes[name]?.lastCaughtSignal
        {
            return "\(value) (\(field == "si_code" ? info.code.rawValue : info.signal.name))"
        }
        return subject.format(value)
    }

    /// A field of `expect NAME.FIELD` (memory sizes in bytes).
    func processField(_ task: Task, _ field: String) -> UInt64? {
        let page = self.kernel.phys.pageSize
        let mm = task.mm
        func pages(_ n: Int?) -> UInt64 { UInt64(max(n ?? 0, 0)) * page }
        switch field {
        case "minflt": return UInt64(task.minorFaults)
        case "majflt": return UInt64(task.majorFaults)
        case "cminflt": return UInt64(task.childMinorFaults)
        case "cmajflt": return UInt64(task.childMajorFaults)
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
        case "signals": return UInt64(task.signalsCaught.values.reduce(0, +))
        case "signals[segv]": return UInt64(task.signalsCaught[.sigsegv] ?? 0)
        case "signals[sigbus]": return UInt64(task.signalsCaught[.sigbus] ?? 0)
        case "si_signo": return UInt64(task.lastCaughtSignal?.signal.rawValue ?? 0)
        case "si_code": return task.lastCaughtSignal?.code.number ?? 0
        case "si_addr": return task.lastCaughtSignal?.address ?? 0
        case "alive": return task.state == .running ? 1 : 0
        case "killed":
            if case .killed(let s) = task.exitReason { return UInt64(s.rawValue) }
            return 0
        case "heap.size", "heap.live", "heap.mmapped", "heap.top", "heap.brk":
            let heap = self.allocator(for: task).heapDump()
            switch field {
            case "heap.size": return heap.systemBytes
            case "heap.live": return heap.liveBytes
            case "heap.mmapped": return heap.mmappedBytes
            case "heap.top": return heap.top?.size ?? 0
            default: return heap.programBreak
            }
        default: return nil
        }
    }
}

extension ExpectSubject {
    /// A value of this subject as a person reads it: bytes with a unit, time with one.
    func format(_ value: UInt64) -> String {
        switch self {
        case .time: return ProcFS.duration(value)
        case .modulo, .vmstat, .slab, .disk: return "\(value)"
        case .allocation(_, _, let field):
            return field == "ptr" ? "0x" + String(value, radix: 16) : "\(value)"
        case .meminfo, .file: return value < 1024 ? "\(value)" : "\(value) (\(ByteSize.human(value)))"
        case .cgroup(_, let field):
            return !CgroupFiles.isSize(field) || value < 1024
                ? "\(value)" : "\(value) (\(ByteSize.human(value)))"
        case .smaps(_, _, let field):
            return field == "THPeligible" || value < 1024 ? "\(value)" : "\(value) (\(ByteSize.human(value)))"
        case .pagemap(_, _, let field):
            return field == "pfn" || field == "entry" ? "0x" + String(value, radix: 16) : "\(value)"
        case .address: return "0x" + String(value, radix: 16)
        case .process(_, let field):
            if field == "si_addr" { return "0x" + String(value, radix: 16) }
            let counts = [
                "minflt", "majflt", "cminflt", "cmajflt", "alive", "killed", "pid", "vmas", "signals",
                "signals[segv]",
                "signals[sigbus]", "si_signo", "si_code",
            ]
            if counts.contains(field) || value < 1024 { return "\(value)" }
            if field == "iowait" { return ProcFS.duration(value) }
            return "\(value) (\(ByteSize.human(value)))"
        }
    }
}
