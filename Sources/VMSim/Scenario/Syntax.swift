import VMCore
import VMPaging
import VMTypes

/// A position in a scenario: file, line and column (1-based).
public struct ScenarioLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var description: String { "\(self.file):\(self.line):\(self.column)" }
}

/// A scenario that cannot run: where, and what was expected there.
public struct ScenarioError: Error, Sendable, CustomStringConvertible {
    public var location: ScenarioLocation
    public var message: String
    /// `file:line:column: message`, or just the message for command-line problems (empty file).
    public var description: String {
        let message = self.message.escapingControlCharacters
        return self.location.file.isEmpty ? message : "\(self.location): \(message)"
    }
    /// A problem with a command-line setting rather than a line of the scenario.
    static func commandLine(_ message: String) -> ScenarioError {
        ScenarioError(location: ScenarioLocation(file: "", line: 0, column: 0), message: message)
    }
}

/// Where in a process an access or a system call applies.
public struct MemoryRef: Hashable, Sendable, CustomStringConvertible {
    /// A named region (`buf`, `heap`, `stack`, `text` …) or nil for a raw address.
    public var region: String?
    /// The raw base address when `region` is nil.
    public var address: UInt64?
    /// Offset of the first byte, and of the byte after the last (nil: to the end of the region,
    /// or a single address when `single`).
    public var start: UInt64
    public var end: UInt64?
    /// `buf[8KiB]`: one address.
    public var single: Bool
    public var text: String
    public var description: String { self.text }
}

/// A byte range of a file: `/data/db`, `/data/db[8KiB]`, `/data/db[0:1MiB]`.
public struct FileRef: Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var start: UInt64
    /// The byte after the last (nil: to the end of the file, or one byte when `single`).
    public var end: UInt64?
    public var single: Bool
    public var text: String
    public var description: String { self.text }
}

/// Comparison in an `expect` line.
public enum Comparison: String, Sendable, CaseIterable {
    case eq = "==", ne = "!=", le = "<=", ge = ">=", lt = "<", gt = ">"
    func holds(_ a: UInt64, _ b: UInt64) -> Bool {
        switch self {
        case .eq: return a == b
        case .ne: return a != b
        case .le: return a <= b
        case .ge: return a >= b
        case .lt: return a < b
        case .gt: return a > b
        }
    }
}

/// The left side of a global `expect`.
public enum ExpectSubject: Hashable, Sendable, CustomStringConvertible {
    /// `web.minflt`, `web.rss` … (memory sizes in bytes).
    case process(String, String)
    /// `vmstat.pgfault`.
    case vmstat(String)
    /// `meminfo.MemFree` (bytes).
    case meminfo(String)
    /// `/data/db:cached` (bytes): a file's page cache (`cached`, `dirty`, `writeback`, `mapped`)
    /// or size (`size`).
    case file(String, String)
    /// `disk.reads`: a disk statistic.
    case disk(String)
    /// `slab.dentry`: active objects of a slab cache.
    case slab(String)
    /// `time`: the simulated clock (nanoseconds).
    case time
    /// `/app:memory.current`, `/app:memory.events.oom_kill`, `/app:memory.stat.anon`: a file of a
    /// memory cgroup a `cgroup` line declared (bytes for sizes).
    case cgroup(String, String)
    /// `p: expect a.ptr`: a C library allocation of a process — `ptr` (the pointer `malloc`
    /// returned), `size` (what was asked for) or `usable` (`malloc_usable_size`).
    case allocation(process: String, name: String, field: String)
    /// `SUBJECT % N`: the subject's value modulo N (`a.ptr % 4096`: the offset in its page).
    indirect case modulo(ExpectSubject, UInt64)
    /// `p.smaps[buf].Rss`: a field of `/proc/PID/smaps` (bytes for the `kB` fields), summed over
    /// the entries of every VMA the reference overlaps (each VMA whole, as smaps reports it).
    case smaps(process: String, ref: MemoryRef, field: String)
    /// `p.pagemap[buf[4KiB]].pfn`: a fact of the `/proc/PID/pagemap` entry of the page holding
    /// the reference's first byte (`pfn`, `present`, `swap`, `file`, `exclusive`, `soft_dirty`,
    /// `entry`).
    case pagemap(process: String, ref: MemoryRef, field: String)
    /// `p.addr[buf[4KiB]]`: the virtual address the reference starts at.
    case address(process: String, ref: MemoryRef)
    public var description: String {
        switch self {
        case .smaps(let p, let r, let f): return "\(p).smaps[\(r)].\(f)"
        case .pagemap(let p, let r, let f): return "\(p).pagemap[\(r)].\(f)"
        case .address(let p, let r): return "\(p).addr[\(r)]"
        case .allocation(_, let name, let f): return "\(name).\(f)"
        case .modulo(let s, let n): return "\(s) % \(n)"
        case .process(let p, let f): return "\(p).\(f)"
        case .vmstat(let f): return "vmstat.\(f)"
        case .meminfo(let f): return "meminfo.\(f)"
        case .file(let path, let f): return "\(path):\(f)"
        case .cgroup(let path, let f): return "\(path):\(f)"
        case .disk(let f): return "disk.\(f)"
        case .slab(let f): return "slab.\(f)"
        case .time: return "time"
        }
    }
}

/// One item of a `show` line.
public enum ShowItem: Hashable, Sendable, CustomStringConvertible {
    case global(String)
    case process(String, String, MemoryRef?)
    /// `show /app memory.stat`: a file of a declared memory cgroup.
    case cgroup(String, String)
    public var description: String {
        switch self {
        case .global(let g): return g
        case .cgroup(let path, let file): return "\(path) \(file)"
        case .process(let p, let w, let r): return "\(p) \(w)" + (r.map { " \($0)" } ?? "")
        }
    }
}

/// One line of a scenario.
public struct Statement: Sendable {
    public var location: ScenarioLocation
    /// The process the line acts for (`web:` prefix).
    public var process: String?
    public var command: any ScenarioCommand
    /// The line as written (trimmed, control characters escaped).
    public var text: String
}

/// A whole parsed scenario.
public struct Scenario: Sendable {
    public var name: String
    public var statements: [Statement]
}
