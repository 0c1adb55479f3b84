import VMCore
import VMTypes

/// `file PATH size=SIZE [cached]`: a file on disk, as if written long ago.
struct FileCommand: ScenarioCommand {
    var path: String
    var size: UInt64
    var cached: Bool

    static let syntax = CommandSyntax(
        names: ["file"], scope: .global, group: .files, usage: ["file PATH size=SIZE [cached]"],
        summary: "a file on disk (cached: also in the page cache)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let p = try words.next("'file PATH size=SIZE [cached]'")
        try context.checkPath(p, words)
        let (opts, flags) = try words.options(allowed: ["size"], flags: ["cached"])
        guard let sizeToken = opts["size"] else { throw words.error(p.endColumn, "expected size=SIZE") }
        return FileCommand(
            path: p.text, size: try words.size(sizeToken, pageSize: context.pageSize, allowZero: true),
            cached: flags.contains("cached"))
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.global(statement) { () throws(MMError) in
            try runner.kernel.installFile(self.path, size: self.size, cached: self.cached)
        }
    }
}

/// Commands that take exactly one path: `mkdir`, `unlink`, and a process's `fsync`, `close`.
protocol PathCommand: ScenarioCommand {
    var path: String { get }
    init(path: String)
}

extension PathCommand {
    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let usage = "expected '\(Self.syntax.usage[0])'"
        guard let p = words.peek() else { throw words.error(words.endColumn, usage) }
        if Self.syntax.scope == .global {
            guard words.count == 1 else { throw words.error(words.head.endColumn, usage) }
        }
        try context.checkPath(p, words)
        _ = try words.next("a path")
        try words.finish()
        return Self(path: p.text)
    }
}

/// `mkdir PATH`: directories, as `mkdir -p`.
struct MkdirCommand: PathCommand {
    var path: String
    static let syntax = CommandSyntax(
        names: ["mkdir"], scope: .global, group: .files, usage: ["mkdir PATH"],
        summary: "create directories (-p)")
    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.global(statement) { () throws(MMError) in try runner.kernel.makeDirectory(self.path) }
    }
}

/// `unlink PATH`: an open or mapped file lives on, `(deleted)`.
struct UnlinkCommand: PathCommand {
    var path: String
    static let syntax = CommandSyntax(
        names: ["unlink"], scope: .global, group: .files, usage: ["unlink PATH"],
        summary: "unlink(2); open and mapped files live on")
    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.global(statement) { () throws(MMError) in try runner.kernel.unlink(self.path) }
    }
}

/// `NAME: fsync PATH`: writes the file back and waits.
struct FsyncCommand: PathCommand {
    var path: String
    static let syntax = CommandSyntax(
        names: ["fsync"], scope: .process, group: .files, usage: ["fsync PATH"],
        summary: "fsync(2): write back and wait")
    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withActor(statement) { task throws(MMError) in
            try runner.kernel.fsync(task, fd: try runner.descriptor(task, self.path, create: false))
        }
    }
}

/// `NAME: close PATH`: closes the descriptor `fread`/`fwrite` opened.
struct CloseCommand: PathCommand {
    var path: String
    static let syntax = CommandSyntax(
        names: ["close"], scope: .process, group: .files, usage: ["close PATH"], summary: "close(2)")
    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withActor(statement) { task throws(MMError) in
            guard let fd = runner.descriptors[task.pid]?[self.path] else {
                throw .badFile("\(self.path) is not open")
            }
            runner.descriptors[task.pid]?[self.path] = nil
            try runner.kernel.close(task, fd: fd)
        }
    }
}

/// `NAME: fread FILEREF`: `pread(2)` through `filemap_read()` and readahead.
struct FreadCommand: ScenarioCommand {
    var ref: FileRef

    static let syntax = CommandSyntax(
        names: ["fread"], scope: .process, group: .files, usage: ["fread FILEREF"],
        summary: "pread(2) of the range (the whole file if none)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let ref = try context.fileRef(try words.next("a file (PATH or PATH[START:END])"), words)
        try words.finish()
        return FreadCommand(ref: ref)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withActor(statement) { task throws(MMError) in
            let fd = try runner.descriptor(task, self.ref.path, create: false)
            let range = runner.byteRange(self.ref, size: try runner.fileSize(task, fd))
            guard !range.isEmpty else { return }
            try runner.kernel.read(
                task, fd: fd, offset: range.lowerBound, length: range.upperBound - range.lowerBound)
        }
    }
}

/// `NAME: fwrite FILEREF [value=N]`: `pwrite(2)`, creating the file if missing.
struct FwriteCommand: ScenarioCommand {
    var ref: FileRef
    var value: UInt64?

    static let syntax = CommandSyntax(
        names: ["fwrite"], scope: .process, group: .files, usage: ["fwrite FILEREF [value=N]"],
        summary: "pwrite(2): dirty the pages (may be throttled)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let ref = try context.fileRef(try words.next("a file (PATH or PATH[START:END])"), words)
        let (opts, _) = try words.options(allowed: ["value"])
        let value = try opts["value"].map { (t: Token) throws(ScenarioError) in
            try words.number(t, pageSize: context.pageSize)
        }
        return FwriteCommand(ref: ref, value: value)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withActor(statement) { task throws(MMError) in
            let fd = try runner.descriptor(task, self.ref.path, create: true)
            let range = runner.byteRange(self.ref, size: try runner.fileSize(task, fd))
            guard !range.isEmpty else {
                throw .invalid("nothing to write: give a range, e.g. \(self.ref.path)[0:64KiB]")
            }
            try runner.kernel.write(
                task, fd: fd, offset: range.lowerBound, length: range.upperBound - range.lowerBound,
                value: self.value ?? UInt64(task.pid))
        }
    }
}

/// `NAME: fadvise FILEREF ADVICE`: `posix_fadvise(2)`.
struct FadviseCommand: ScenarioCommand {
    var ref: FileRef
    var advice: FileAdvice

    static let syntax = CommandSyntax(
        names: ["fadvise"], scope: .process, group: .files,
        usage: ["fadvise FILEREF \(FileAdvice.allCases.map(\.rawValue).joined(separator: "|"))"],
        summary: "posix_fadvise(2)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let names = FileAdvice.allCases.map(\.rawValue).joined(separator: ", ")
        let ref = try context.fileRef(try words.next("a file and advice"), words)
        guard words.count == 1 else {
            throw words.error(at: words.head, "expected 'fadvise PATH[RANGE] ADVICE' (\(names))")
        }
        let a = try words.next("advice")
        guard let advice = FileAdvice(rawValue: a.text) else {
            throw words.error(at: a, "unknown advice '\(a.text)' (expected \(names))")
        }
        return FadviseCommand(ref: ref, advice: advice)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withActor(statement) { task throws(MMError) in
            let fd = try runner.descriptor(task, self.ref.path, create: false)
            let length = self.ref.single ? 1 : self.ref.end.map { $0 - self.ref.start } ?? 0
            try runner.kernel.fadvise(
                task, fd: fd, offset: self.ref.start, length: length, advice: self.advice)
        }
    }
}

/// `NAME: msync REF [sync|async]`.
struct MsyncCommand: ScenarioCommand {
    var ref: MemoryRef
    var sync: Bool

    static let syntax = CommandSyntax(
        names: ["msync"], scope: .process, group: .files, usage: ["msync REF [sync|async]"],
        summary: "msync(2): MS_SYNC writes back shared file pages and waits")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let ref = try context.memoryRef(try words.next("a region"), words)
        var sync = true
        if let t = words.peek() {
            guard t.text == "async" || t.text == "sync", words.count == 1 else {
                throw words.error(at: t, "expected 'sync' or 'async'")
            }
            sync = t.text == "sync"
            _ = words.takeRest()
        }
        return MsyncCommand(ref: ref, sync: sync)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withSpan(statement, self.ref) { task, address, length throws(MMError) in
            try runner.kernel.msync(task, address: address, length: length, sync: self.sync)
        }
    }
}

/// `truncate PATH SIZE`: pages past the end are unmapped everywhere (later access: SIGBUS).
struct TruncateCommand: ScenarioCommand {
    var path: String
    var size: UInt64

    static let syntax = CommandSyntax(
        names: ["truncate"], scope: .global, group: .files, usage: ["truncate PATH SIZE"],
        summary: "truncate(2)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard words.count == 2 else {
            throw words.error(words.head.endColumn, "expected 'truncate PATH SIZE'")
        }
        let p = try words.next("a path")
        try context.checkPath(p, words)
        let size = try words.size(try words.next("a size"), pageSize: context.pageSize, allowZero: true)
        return TruncateCommand(path: p.text, size: size)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.global(statement) { () throws(MMError) in
            try runner.kernel.truncate(self.path, size: self.size)
        }
    }
}

/// `sync`: writes back everything and waits.
struct SyncCommand: ScenarioCommand {
    static let syntax = CommandSyntax(
        names: ["sync"], scope: .global, group: .files, usage: ["sync"],
        summary: "sync(2): write back everything")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        try words.finish()
        return SyncCommand()
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) { runner.kernel.sync() }
}

/// `drop caches [1|2|3]`: `echo N > /proc/sys/vm/drop_caches`.
struct DropCachesCommand: ScenarioCommand {
    var mode: Int

    static let syntax = CommandSyntax(
        names: ["drop"], scope: .global, group: .files, usage: ["drop caches [1|2|3]"],
        summary: "1 clean page cache, 2 dentries and inodes, 3 both")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard words.peek()?.text == "caches", words.count <= 2 else {
            throw words.error(at: words.head, "expected 'drop caches [1|2|3]'")
        }
        _ = try words.next("caches")
        var mode = 1
        if let t = words.peek() {
            guard let m = Int(t.text), (1...3).contains(m) else {
                throw words.error(at: t, "expected 1 (page cache), 2 (dentries and inodes) or 3 (both)")
            }
            mode = m
            _ = words.takeRest()
        }
        return DropCachesCommand(mode: mode)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.global(statement) { () throws(MMError) in try runner.kernel.dropCaches(self.mode) }
    }
}

extension ScenarioRunner {
    /// The process's descriptor for `path`, opening it (creating it with `create`) on first use.
    func descriptor(_ task: Task, _ path: String, create: Bool) throws(MMError) -> Int {
        if let fd = self.descriptors[task.pid]?[path], task.files[fd] != nil { return fd }
        let fd = try self.kernel.open(task, path, create: create)
        self.descriptors[task.pid, default: [:]][path] = fd
        return fd
    }

    /// The size of the file open as `fd`.
    func fileSize(_ task: Task, _ fd: Int) throws(MMError) -> UInt64 {
        guard let open = task.files[fd].flatMap(self.kernel.openFile) else {
            throw .badFile("fd \(fd) is not open")
        }
        return self.kernel.file(open.file).size
    }

    /// The byte range of a file reference: a range as written, one byte, or the whole file.
    /// Clamped so that its end never wraps.
    func byteRange(_ ref: FileRef, size: UInt64) -> Range<UInt64> {
        if ref.single { return ref.start..<(ref.start == .max ? .max : ref.start + 1) }
        let end = ref.end ?? size
        return ref.start..<max(end, ref.start)
    }
}
