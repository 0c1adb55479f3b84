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
        self.location.file.isEmpty ? self.message : "\(self.location): \(self.message)"
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
    public var description: String {
        switch self {
        case .process(let p, let f): return "\(p).\(f)"
        case .vmstat(let f): return "vmstat.\(f)"
        case .meminfo(let f): return "meminfo.\(f)"
        case .file(let path, let f): return "\(path):\(f)"
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
    public var description: String {
        switch self {
        case .global(let g): return g
        case .process(let p, let w, let r): return "\(p) \(w)" + (r.map { " \($0)" } ?? "")
        }
    }
}

/// A scenario command.
public enum Command: Sendable {
    case machine([(String, String, Int)])
    case spawn(name: String, path: String?, layout: ImageLayout)
    case mmap(region: String, size: UInt64, request: MapRequest, filePath: String?)
    case munmap(MemoryRef)
    case mprotect(MemoryRef, Protection)
    case madvise(MemoryRef, Advice)
    case mlock(MemoryRef, lock: Bool)
    case brk(delta: Int64?, absolute: UInt64?)
    case access(Access, MemoryRef, stride: UInt64?, value: UInt64?, expectSignal: Int?)
    case fork(String)
    case exit(Int)
    case wait(String?)
    case expectMemory(MemoryRef, Comparison, UInt64)
    case expect(ExpectSubject, Comparison, UInt64)
    case resetCounters
    case show([ShowItem])
    case translate(MemoryRef, Access)
    // Files, the page cache and shared memory.
    case file(path: String, size: UInt64, cached: Bool)
    case mkdir(String)
    case fileRead(FileRef)
    case fileWrite(FileRef, value: UInt64?)
    case fsync(String)
    case close(String)
    case fadvise(FileRef, FileAdvice)
    case expectFile(FileRef, Comparison, UInt64)
    case msync(MemoryRef, sync: Bool)
    case shmAttach(region: String, size: UInt64, key: Int, readOnly: Bool)
    case shmDetach(String)
    case shmRemove(key: Int)
    case truncate(String, UInt64)
    case unlink(String)
    case sync
    case dropCaches(Int)
    case tick(UInt64)
    case sysctl([(String, String, Int)])
    // Swap and reclaim.
    case swapon(path: String, size: UInt64, kind: SwapKind, priority: Int?)
    case swapoff(String)
    case oomScoreAdj(Int)
}

/// One line of a scenario.
public struct Statement: Sendable {
    public var location: ScenarioLocation
    /// The process the line acts for (`web:` prefix).
    public var process: String?
    public var command: Command
    public var text: String
}

/// A whole parsed scenario.
public struct Scenario: Sendable {
    public var name: String
    public var statements: [Statement]
}
