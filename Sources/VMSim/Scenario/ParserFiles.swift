import VMCore
import VMPaging
import VMPhys
import VMTypes

/// The file, page-cache and shared-memory commands of the scenario language.
extension ScenarioParser {
    /// `/data/db`, `/data/db[8KiB]`, `/data/db[0:1MiB]`, `/data/db[1MiB:]`.
    func fileRef(_ token: Token, line: Int) throws(ScenarioError) -> FileRef {
        let text = token.text
        var path = text
        var bracket: String?
        if let open = text.firstIndex(of: "[") {
            guard text.hasSuffix("]") else {
                throw self.error(line, token.column + text.count, "expected ']'")
            }
            path = String(text[..<open])
            bracket = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
        }
        try self.checkPath(path, column: token.column, line: line)
        var ref = FileRef(path: path, start: 0, end: nil, single: false, text: text)
        guard let inner = bracket else { return ref }
        let innerColumn = token.column + path.count + 1
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
            ref.start = try self.size(Token(text: inner, column: innerColumn), line: line, allowZero: true)
            ref.single = true
        }
        return ref
    }

    /// An absolute path of non-empty components without `.` or `..`.
    func checkPath(_ path: String, column: Int, line: Int) throws(ScenarioError) {
        guard path.hasPrefix("/"), path.count > 1, !path.hasSuffix("/") else {
            throw self.error(line, column, "'\(path)' is not an absolute path to a file (e.g. /data/db)")
        }
        for part in path.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            guard !part.isEmpty, part != ".", part != "..", !part.contains(":") else {
                throw self.error(
                    line, column, "'\(path)': path components must be names (no '', '.', '..' or ':')")
            }
        }
    }

    /// `expect` subjects beyond processes, vmstat and meminfo: `PATH:FIELD`, `disk.FIELD`,
    /// `slab.NAME`, `time`. Nil when the token is none of these.
    func specialSubject(_ token: Token, line: Int) throws(ScenarioError) -> ExpectSubject? {
        let text = token.text
        if text == "time" { return .time }
        if text.hasPrefix("/") {
            guard let colon = text.lastIndex(of: ":") else {
                throw self.error(
                    line, token.column + text.count,
                    "expected PATH:FIELD (fields: \(ScenarioParser.fileFields.joined(separator: ", ")))")
            }
            let path = String(text[..<colon])
            let field = String(text[text.index(after: colon)...])
            try self.checkPath(path, column: token.column, line: line)
            guard ScenarioParser.fileFields.contains(field) else {
                throw self.error(
                    line, token.column + path.count + 1,
                    "unknown file field '\(field)' (expected \(ScenarioParser.fileFields.joined(separator: ", ")))"
                )
            }
            return .file(path, field)
        }
        if text.hasPrefix("disk.") {
            let field = String(text.dropFirst(5))
            guard ScenarioParser.diskFields.contains(field) else {
                throw self.error(
                    line, token.column + 5,
                    "unknown disk field '\(field)' (expected \(ScenarioParser.diskFields.joined(separator: ", ")))"
                )
            }
            return .disk(field)
        }
        if text.hasPrefix("slab.") {
            let name = String(text.dropFirst(5))
            guard !name.isEmpty else {
                throw self.error(line, token.column + 5, "expected a slab cache name")
            }
            return .slab(name)
        }
        return nil
    }

    /// `NAME: fread …`, `fwrite`, `fsync`, `close`, `fadvise`, `msync`, `shm`, `shmdt`.
    mutating func parseFileCommand(_ head: Token, _ rest: ArraySlice<Token>, process: String, line: Int)
        throws(ScenarioError) -> Command
    {
        func need(_ what: String) throws(ScenarioError) -> Token {
            guard let first = rest.first else {
                throw self.error(line, head.column + head.text.count, "expected \(what)")
            }
            return first
        }
        switch head.text {
        case "fread":
            let r = try self.fileRef(try need("a file (PATH or PATH[START:END])"), line: line)
            guard rest.count == 1 else {
                throw self.error(
                    line, rest[rest.startIndex + 1].column, "unexpected '\(rest[rest.startIndex + 1].text)'")
            }
            return .fileRead(r)
        case "fwrite":
            let r = try self.fileRef(try need("a file (PATH or PATH[START:END])"), line: line)
            let (opts, _) = try self.options(rest.dropFirst(), allowed: ["value"], line: line)
            let value = try opts["value"].map { (t: Token) throws(ScenarioError) -> UInt64 in
                try self.number(t.text, column: t.column, line: line)
            }
            return .fileWrite(r, value: value)
        case "fsync", "close":
            let t = try need("a path")
            try self.checkPath(t.text, column: t.column, line: line)
            if rest.count > 1 {
                throw self.error(
                    line, rest[rest.startIndex + 1].column, "unexpected '\(rest[rest.startIndex + 1].text)'")
            }
            return head.text == "fsync" ? .fsync(t.text) : .close(t.text)
        case "fadvise":
            let r = try self.fileRef(try need("a file and advice"), line: line)
            guard rest.count == 2 else {
                throw self.error(
                    line, head.column,
                    "expected 'fadvise PATH[RANGE] ADVICE' (\(FileAdvice.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            let a = rest[rest.startIndex + 1]
            guard let advice = FileAdvice(rawValue: a.text) else {
                throw self.error(
                    line, a.column,
                    "unknown advice '\(a.text)' (expected \(FileAdvice.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            return .fadvise(r, advice)
        case "msync":
            let r = try self.ref(try need("a region"), process: process, line: line)
            var sync = true
            if rest.count > 1 {
                let t = rest[rest.startIndex + 1]
                guard t.text == "async" || t.text == "sync", rest.count == 2 else {
                    throw self.error(line, t.column, "expected 'sync' or 'async'")
                }
                sync = t.text == "sync"
            }
            return .msync(r, sync: sync)
        case "shm":
            let name = try need("'shm REGION SIZE key=KEY [r|rw]'")
            guard rest.count >= 2 else {
                throw self.error(line, name.column + name.text.count, "expected a size after the region name")
            }
            guard self.processes[process]!.regions[name.text] == nil else {
                throw self.error(line, name.column, "\(process) already has a region '\(name.text)'")
            }
            guard name.text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
                !name.text.hasPrefix("0x")
            else {
                throw self.error(line, name.column, "'\(name.text)' is not a region name")
            }
            let size = try self.size(rest[rest.startIndex + 1], line: line)
            let (opts, flags) = try self.options(
                rest.dropFirst(2), allowed: ["key"], flags: ["r", "rw"], line: line)
            var key = 0
            if let k = opts["key"] {
                guard let v = Int(k.text), v >= 0, v <= Int(Int32.max) else {
                    throw self.error(
                        line, k.column, "'\(k.text)' is not a key (0 … 2147483647; 0 is IPC_PRIVATE)")
                }
                key = v
            }
            self.processes[process]!.regions[name.text] =
                (size + self.pageSize - 1) / self.pageSize * self.pageSize
            return .shmAttach(region: name.text, size: size, key: key, readOnly: flags.contains("r"))
        default:  // shmdt
            let t = try need("a region attached with 'shm'")
            guard self.processes[process]!.regions[t.text] != nil else {
                let known = self.processes[process]!.regions.keys.sorted().joined(separator: ", ")
                throw self.error(line, t.column, "\(process) has no region '\(t.text)' (regions: \(known))")
            }
            self.processes[process]!.regions[t.text] = nil
            return .shmDetach(t.text)
        }
    }

    /// `file`, `truncate`, `unlink`, `sync`, `drop caches`, `tick`, `sysctl`, `shmrm`.
    func parseGlobalFileCommand(_ head: Token, _ rest: ArraySlice<Token>, line: Int) throws(ScenarioError)
        -> Command
    {
        let end = head.column + head.text.count
        switch head.text {
        case "file":
            guard let p = rest.first else {
                throw self.error(line, end, "expected 'file PATH size=SIZE [cached]'")
            }
            try self.checkPath(p.text, column: p.column, line: line)
            let (opts, flags) = try self.options(
                rest.dropFirst(), allowed: ["size"], flags: ["cached"], line: line)
            guard let sizeToken = opts["size"] else {
                throw self.error(line, p.column + p.text.count, "expected size=SIZE")
            }
            return .file(
                path: p.text, size: try self.size(sizeToken, line: line, allowZero: true),
                cached: flags.contains("cached"))
        case "swapon":
            guard let p = rest.first else {
                throw self.error(line, end, "expected 'swapon PATH size=SIZE [partition|file] [priority=N]'")
            }
            try self.checkPath(p.text, column: p.column, line: line)
            let (opts, flags) = try self.options(
                rest.dropFirst(), allowed: ["size", "priority"], flags: ["partition", "file"], line: line)
            guard let sizeToken = opts["size"] else {
                throw self.error(line, p.column + p.text.count, "expected size=SIZE")
            }
            var priority: Int?
            if let t = opts["priority"] {
                guard let n = Int(t.text), (-32768...32767).contains(n) else {
                    throw self.error(line, t.column, "'\(t.text)' is not a priority (-32768 … 32767)")
                }
                priority = n
            }
            return .swapon(
                path: p.text, size: try self.size(sizeToken, line: line),
                kind: flags.contains("file") ? .file : .partition, priority: priority)
        case "swapoff":
            guard rest.count == 1 else { throw self.error(line, end, "expected 'swapoff PATH'") }
            try self.checkPath(rest.first!.text, column: rest.first!.column, line: line)
            return .swapoff(rest.first!.text)
        case "mkdir":
            guard rest.count == 1 else { throw self.error(line, end, "expected 'mkdir PATH'") }
            try self.checkPath(rest.first!.text, column: rest.first!.column, line: line)
            return .mkdir(rest.first!.text)
        case "truncate":
            guard rest.count == 2 else { throw self.error(line, end, "expected 'truncate PATH SIZE'") }
            let p = rest.first!
            try self.checkPath(p.text, column: p.column, line: line)
            return .truncate(p.text, try self.size(rest[rest.startIndex + 1], line: line, allowZero: true))
        case "unlink":
            guard rest.count == 1 else { throw self.error(line, end, "expected 'unlink PATH'") }
            try self.checkPath(rest.first!.text, column: rest.first!.column, line: line)
            return .unlink(rest.first!.text)
        case "sync":
            if let extra = rest.first { throw self.error(line, extra.column, "unexpected '\(extra.text)'") }
            return .sync
        case "drop":
            guard rest.first?.text == "caches", rest.count <= 2 else {
                throw self.error(line, head.column, "expected 'drop caches [1|2|3]'")
            }
            var mode = 1
            if rest.count == 2 {
                let t = rest[rest.startIndex + 1]
                guard let m = Int(t.text), (1...3).contains(m) else {
                    throw self.error(
                        line, t.column, "expected 1 (page cache), 2 (dentries and inodes) or 3 (both)")
                }
                mode = m
            }
            return .dropCaches(mode)
        case "tick":
            guard rest.count == 1, let t = rest.first else {
                throw self.error(line, end, "expected 'tick DURATION' (e.g. 30s, 5ms)")
            }
            guard let ns = ScenarioParser.duration(t.text) else {
                throw self.error(line, t.column, "'\(t.text)' is not a duration (ns, us, ms or s, e.g. 30s)")
            }
            return .tick(ns)
        case "sysctl":
            guard !rest.isEmpty else {
                throw self.error(line, end, "expected NAME=VALUE (e.g. vm.dirty_ratio=10)")
            }
            var settings: [(String, String, Int)] = []
            for t in rest {
                guard let eq = t.text.firstIndex(of: "=") else {
                    throw self.error(line, t.column, "expected NAME=VALUE (e.g. vm.dirty_ratio=10)")
                }
                let name = String(t.text[..<eq])
                guard Kernel.sysctlNames.contains(name) else {
                    throw self.error(
                        line, t.column,
                        "unknown sysctl '\(name)' (expected \(Kernel.sysctlNames.joined(separator: ", ")))")
                }
                settings.append((name, String(t.text[t.text.index(after: eq)...]), t.column + name.count + 1))
            }
            return .sysctl(settings)
        default:  // shmrm
            guard rest.count == 1, let k = rest.first, k.text.hasPrefix("key="),
                let key = Int(k.text.dropFirst(4)), key > 0
            else { throw self.error(line, end, "expected 'shmrm key=KEY' (a key other than 0)") }
            return .shmRemove(key: key)
        }
    }
}
