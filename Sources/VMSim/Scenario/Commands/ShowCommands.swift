import VMCore
import VMLibc
import VMPaging
import VMTypes

/// `show REPORT | NAME REPORT [REF] | …`: reports in the kernel's own format.
struct ShowCommand: ScenarioCommand {
    var items: [ShowItem]

    static let processReports = ["maps", "smaps", "status", "pagetable", "pagemap", "heap", "mallinfo"]

    static let syntax = CommandSyntax(
        names: ["show"], scope: .global, group: .checks,
        usage: [
            "show \(ProcFS.globalReports.joined(separator: "|"))",
            "show NAME \(Self.processReports.joined(separator: "|")) [REF]   (several: separate with |)",
            "show CGROUP memory.stat|memory.events|memory.current|memory.peak|memory.max|…  (a declared cgroup)",
        ],
        summary: "print /proc reports")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let expected =
            "\(ProcFS.globalReports.joined(separator: ", ")), or PROCESS \(Self.processReports.joined(separator: "|"))"
        guard !words.isAtEnd else {
            throw words.error(words.endColumn, "expected what to show (\(expected))")
        }
        var items: [ShowItem] = []
        var group: [Token] = []
        func flush() throws(ScenarioError) {
            guard let first = group.first else { throw words.error(at: words.head, "empty item in 'show'") }
            if first.text.hasPrefix("/") {
                try context.requireCgroup(first, words, rootAllowed: false)
                guard group.count >= 2 else {
                    throw words.error(
                        first.endColumn,
                        "expected a file of \(first.text) (\(Kernel.memcgFiles.joined(separator: ", ")))")
                }
                guard Kernel.memcgFiles.contains(group[1].text) else {
                    throw words.error(
                        at: group[1],
                        "unknown cgroup file '\(group[1].text)' (expected \(Kernel.memcgFiles.joined(separator: ", ")))"
                    )
                }
                if group.count > 2 { throw words.error(at: group[2], "unexpected '\(group[2].text)'") }
                items.append(.cgroup(first.text, group[1].text))
            } else if group.count == 1 {
                guard ProcFS.globalReports.contains(first.text) else {
                    throw words.error(at: first, "unknown report '\(first.text)' (expected \(expected))")
                }
                items.append(.global(first.text))
            } else {
                try context.requireProcess(first, words)
                let what = group[1]
                guard Self.processReports.contains(what.text) else {
                    throw words.error(
                        at: what,
                        "unknown report '\(what.text)' (expected \(Self.processReports.joined(separator: ", ")))"
                    )
                }
                if group.count > 3 { throw words.error(at: group[3], "unexpected '\(group[3].text)'") }
                let r = group.count > 2 ? try context.memoryRef(group[2], words, process: first.text) : nil
                items.append(.process(first.text, what.text, r))
            }
            group = []
        }
        for t in words.takeRest() {
            if t.text == "|" { try flush() } else { group.append(t) }
        }
        try flush()
        return ShowCommand(items: items)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        for item in self.items { runner.show(item, statement) }
    }
}

/// `translate NAME REF [read|write|execute]`: the MMU's walk from the process's CR3, explained.
struct TranslateCommand: ScenarioCommand {
    var process: String
    var ref: MemoryRef
    var access: Access

    static let syntax = CommandSyntax(
        names: ["translate"], scope: .global, group: .checks,
        usage: ["translate NAME REF [read|write|execute]"],
        summary: "explain the page-table walk for an address")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard words.count >= 2 else {
            throw words.error(words.endColumn, "expected PROCESS REF [read|write|execute]")
        }
        let p = try words.next("a process")
        try context.requireProcess(p, words)
        let r = try context.memoryRef(try words.next("a reference"), words, process: p.text)
        var access = Access.read
        if let a = words.peek() {
            guard let parsed = Access(rawValue: a.text) else {
                throw words.error(at: a, "expected read, write or execute")
            }
            access = parsed
            _ = try words.next("")
        }
        try words.finish()
        return TranslateCommand(process: p.text, ref: r, access: access)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let task = runner.task(statement, self.process) else { return }
        guard let range = runner.resolve(self.ref, task) else {
            runner.refuse(statement, "\(self.ref) is not mapped")
            return
        }
        runner.write("==> translate \(self.process) \(self.ref.text) (\(self.access.rawValue)) <==")
        runner.write(
            LiveTranslation.explain(runner.kernel, task, address: range.lowerBound, access: self.access),
            terminator: false)
    }
}

extension ScenarioRunner {
    /// Prints one `show` item with a header.
    func show(_ item: ShowItem, _ statement: Statement) {
        switch item {
        case .cgroup(let path, let file):
            guard let g = self.kernel.memcg.group(at: path) else {
                self.refuse(statement, "no cgroup \(path)")
                return
            }
            self.write("==> \(CgroupFiles.sysfsPath(path, file)) <==")
            self.write(CgroupFiles.text(self.kernel, g, file), terminator: false)
        case .global(let what):
            let text = ProcFS.global(what, self.kernel)
            self.write("==> \(ProcFS.reportPath(what)) <==")
            self.write(text, terminator: false)
        case .process(let name, let what, let ref):
            guard let task = self.task(statement, name) else { return }
            if what == "heap" || what == "mallinfo" {
                self.showAllocator(what, task, name)
                return
            }
            let text: String
            switch what {
            case "maps": text = ProcFS.maps(self.kernel, task)
            case "smaps": text = ProcFS.smaps(self.kernel, task)
            case "status": text = ProcFS.status(self.kernel, task)
            case "pagetable": text = ProcFS.pageTableDump(self.kernel, task)
            default:
                text = ProcFS.pagemap(
                    self.kernel, task,
                    range: ref.flatMap { self.resolve($0, task) }.map { $0.lowerBound..<($0.upperBound &+ 1) }
                )
            }
            self.write("==> /proc/\(task.pid)/\(what) (\(name)) <==")
            self.write(text, terminator: false)
        }
    }

    /// `show p heap` (the allocator's chunks, bins, top and system bytes) and `show p mallinfo`
    /// (glibc's `mallinfo2()`), as the C library in the process sees its heap.
    private func showAllocator(_ what: String, _ task: Task, _ name: String) {
        let allocator = self.allocator(for: task)
        if what == "heap" {
            self.write("==> malloc heap (\(name)[\(task.pid)]) <==")
            self.write(allocator.heapDump().text, terminator: false)
        } else {
            self.write("==> mallinfo2() (\(name)[\(task.pid)]) <==")
            guard let glibc = allocator as? GlibcMalloc else {
                self.write("(\(allocator.name) is not glibc's allocator: no mallinfo2)")
                return
            }
            self.write(glibc.mallinfo2().description)
        }
    }
}
