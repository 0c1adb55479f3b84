import VMCore
import VMPaging
import VMTypes

/// The kinds of kernel event `--trace LIST` selects.
public enum EventCategory: String, CaseIterable, Sendable {
    /// Page faults other than the ones below.
    case fault
    /// Write-protect faults: COW copies, reuse in place, shared writes, private file copies.
    case cow
    /// Swap-ins (`do_swap_page`).
    case swap
    /// kswapd and direct reclaim batches.
    case reclaim
    /// Disk requests, readahead, writeback, I/O waits.
    case io
    /// fork, exec, exit, reap, signals.
    case process
    /// mmap and munmap.
    case mmap
    /// The OOM killer.
    case oom
    /// Kernel log messages (printk).
    case log

    /// The category of an event.
    public static func of(_ event: KernelEvent) -> EventCategory {
        switch event {
        case .fault(_, _, _, let kind, _, _, _):
            switch kind {
            case .copyOnWrite, .reuse, .sharedWrite, .cowFault: return .cow
            case .swapIn: return .swap
            default: return .fault
            }
        case .signal, .fork, .exec, .exit, .reap: return .process
        case .mmap, .munmap: return .mmap
        case .log: return .log
        case .blockIO, .readahead, .writeback, .ioWait: return .io
        case .reclaim: return .reclaim
        case .oomKill: return .oom
        }
    }

    /// `fault,cow` (or `all`) as a set; nil and a message for an unknown name.
    public static func parseList(_ text: String) -> Result<Set<EventCategory>, ScenarioError> {
        var set: Set<EventCategory> = []
        for word in text.split(separator: ",") {
            let name = String(word).trimmingCharacters()
            if name == "all" {
                set.formUnion(Self.allCases)
            } else if let c = EventCategory(rawValue: name) {
                set.insert(c)
            } else {
                return .failure(
                    .commandLine(
                        "--trace: unknown category '\(name)' (expected all or \(Self.allCases.map(\.rawValue).joined(separator: ", ")))"
                    ))
            }
        }
        return set.isEmpty ? .failure(.commandLine("--trace: expected a category list")) : .success(set)
    }
}

extension ScenarioRunner {
    /// A trace line for an event.
    static func describe(_ event: KernelEvent) -> String {
        switch event {
        case .fault(let pid, let address, let access, let kind, let major, let old, let new):
            return
                "fault pid=\(pid) \(access.rawValue) \(hex(address)): \(kind.rawValue)\(major ? " (major)" : "")"
                + Self.frames(kind, old, new)
        case .signal(let pid, let info, let caught):
            return "signal \(info.signal.rawValue) to pid \(pid) at \(hex(info.address)): \(info)"
                + (caught ? " (caught by the handler)" : "")
        case .fork(let parent, let child): return "fork \(parent) → \(child)"
        case .exec(let pid, let path): return "exec pid=\(pid) \(path)"
        case .exit(let pid, let reason): return "exit pid=\(pid): \(reason)"
        case .reap(let pid): return "reaped pid \(pid)"
        case .mmap(let pid, let start, let end, let flags):
            return "mmap pid=\(pid) \(hex(start))-\(hex(end)) \(flags.permissions)"
        case .munmap(let pid, let start, let end): return "munmap pid=\(pid) \(hex(start))-\(hex(end))"
        case .log(let text): return "printk: \(text)"
        case .blockIO(let write, let block, let pages, let time, let completes):
            return
                "block \(write ? "write" : "read") \(pages) page\(pages == 1 ? "" : "s") at block \(block), completes in \(ProcFS.duration(completes - time))"
        case .readahead(let path, let start, let pages, let async):
            return "\(async ? "async" : "sync") readahead \(path) pages \(start)..<\(start + pages)"
        case .writeback(let path, let pages, let reason):
            return "writeback \(path): \(pages) page\(pages == 1 ? "" : "s") (\(reason))"
        case .ioWait(let pid, let ns):
            return "pid \(pid) waited \(ProcFS.duration(ns)) for I/O"
        case .reclaim(let pid, let scanned, let reclaimed):
            return
                "\(pid.map { "direct reclaim by pid \($0)" } ?? "kswapd0"): scanned \(scanned), reclaimed \(reclaimed)"
        case .oomKill(let pid, let name, let points):
            return "oom-killer chose pid \(pid) (\(name)), badness \(points)"
        }
    }

    /// `, pfn 0x1a2b → 0x3c4d` for a fault that replaced a frame; `, pfn 0x3c4d` for one that
    /// mapped a new one; nothing when the frame stayed (reuse in place, shared write).
    static func frames(_ kind: FaultKind, _ old: PFN?, _ new: PFN?) -> String {
        switch (old, new) {
        case (let o?, let n?) where o != n: return ", pfn \(hex(o.rawValue)) → \(hex(n.rawValue))"
        case (nil, let n?): return ", pfn \(hex(n.rawValue))"
        default: return ""
        }
    }
}

/// Trace lines as people read them: runs of the same fault handler over consecutive pages of
/// one process become one line (`256 × fault pid=3 write 0x7ffff7a00000–0x7ffff7afffff:
/// do_anonymous_page: new zeroed page`); everything else prints as it comes.
struct TraceCollapser {
    struct Run {
        var pid: Int
        var access: Access
        var kind: FaultKind
        var major: Bool
        var first: UInt64
        var last: UInt64
        var count: Int
        var firstLine: String
        /// The first fault's frames (`, pfn 0x1a2b → 0x3c4d`).
        var firstFrames: String
    }
    var pending: Run?
    let pageSize: UInt64

    /// The lines to print now for `event` (the pending run, if it ends), keeping a fault that
    /// may continue a run.
    mutating func add(_ event: KernelEvent) -> [String] {
        guard case .fault(let pid, let address, let access, let kind, let major, let old, let new) = event
        else {
            return self.flush() + [ScenarioRunner.describe(event)]
        }
        let page = address & ~(self.pageSize - 1)
        if var run = self.pending, run.pid == pid, run.access == access, run.kind == kind, run.major == major,
            page == run.last &+ self.pageSize
        {
            run.last = page
            run.count += 1
            self.pending = run
            return []
        }
        let out = self.flush()
        self.pending = Run(
            pid: pid, access: access, kind: kind, major: major, first: page, last: page, count: 1,
            firstLine: ScenarioRunner.describe(event), firstFrames: ScenarioRunner.frames(kind, old, new))
        return out
    }

    mutating func flush() -> [String] {
        guard let run = self.pending else { return [] }
        self.pending = nil
        if run.count == 1 { return [run.firstLine] }
        return [
            "\(run.count) × fault pid=\(run.pid) \(run.access.rawValue) \(hex(run.first))–\(hex(run.last + self.pageSize - 1)): "
                + "\(run.kind.rawValue)\(run.major ? " (major)" : "")"
                + (run.firstFrames.isEmpty ? "" : "; the first" + run.firstFrames)
        ]
    }
}

/// `--events FILE.jsonl`: every kernel event as one JSON object per line, with the scenario
/// line that caused it and the simulated time. Schema version 1:
///
///     {"v":1,"seq":0,"line":12,"time":1024,"category":"fault","type":"fault","pid":3,
///      "address":"0x7ffff7a00000","access":"read","handler":"do_anonymous_page: map the zero page",
///      "major":false,"old_pfn":null,"new_pfn":"0x1"}
///
/// Fields by type: fault (pid, address, access, handler, major, old_pfn, new_pfn); signal (pid,
/// address, signal, reason); fork (parent, child); exec (pid, path); exit (pid, reason); reap
/// (pid); mmap (pid, start, end, perms); munmap (pid, start, end); log (text); block_io (write,
/// block, pages, completes); readahead (path, start, pages, async); writeback (path, pages,
/// reason); io_wait (pid, ns); reclaim (pid or null for kswapd, scanned, reclaimed); oom_kill
/// (pid, name, points). Addresses and PFNs are hexadecimal strings; the rest are JSON numbers,
/// booleans and strings.
public enum EventJSON {
    public static let version = 1

    public static func line(_ event: KernelEvent, seq: Int, line: Int?, time: UInt64) -> String {
        var fields: [(String, String)] = [
            ("v", "\(Self.version)"), ("seq", "\(seq)"), ("line", line.map(String.init) ?? "null"),
            ("time", "\(time)"), ("category", Self.string(EventCategory.of(event).rawValue)),
        ]
        func add(_ type: String, _ rest: [(String, String)]) {
            fields.append(("type", Self.string(type)))
            fields += rest
        }
        func h(_ v: UInt64) -> String { Self.string(hex(v)) }
        func pfn(_ p: PFN?) -> String { p.map { h($0.rawValue) } ?? "null" }
        switch event {
        case .fault(let pid, let address, let access, let kind, let major, let old, let new):
            add(
                "fault",
                [
                    ("pid", "\(pid)"), ("address", h(address)), ("access", Self.string(access.rawValue)),
                    ("handler", Self.string(kind.rawValue)), ("major", "\(major)"), ("old_pfn", pfn(old)),
                    ("new_pfn", pfn(new)),
                ])
        case .signal(let pid, let info, let caught):
            add(
                "signal",
                [
                    ("pid", "\(pid)"), ("address", h(info.address)), ("signal", "\(info.signal.rawValue)"),
                    ("code", Self.string(info.code.rawValue)), ("reason", Self.string(info.description)),
                    ("caught", "\(caught)"),
                ])
        case .fork(let parent, let child): add("fork", [("parent", "\(parent)"), ("child", "\(child)")])
        case .exec(let pid, let path): add("exec", [("pid", "\(pid)"), ("path", Self.string(path))])
        case .exit(let pid, let reason):
            add("exit", [("pid", "\(pid)"), ("reason", Self.string("\(reason)"))])
        case .reap(let pid): add("reap", [("pid", "\(pid)")])
        case .mmap(let pid, let start, let end, let flags):
            add(
                "mmap",
                [
                    ("pid", "\(pid)"), ("start", h(start)), ("end", h(end)),
                    ("perms", Self.string(flags.permissions)),
                ])
        case .munmap(let pid, let start, let end):
            add("munmap", [("pid", "\(pid)"), ("start", h(start)), ("end", h(end))])
        case .log(let text): add("log", [("text", Self.string(text))])
        case .blockIO(let write, let block, let pages, _, let completes):
            add(
                "block_io",
                [
                    ("write", "\(write)"), ("block", "\(block)"), ("pages", "\(pages)"),
                    ("completes", "\(completes)"),
                ])
        case .readahead(let path, let start, let pages, let async):
            add(
                "readahead",
                [
                    ("path", Self.string(path)), ("start", "\(start)"), ("pages", "\(pages)"),
                    ("async", "\(async)"),
                ])
        case .writeback(let path, let pages, let reason):
            add(
                "writeback",
                [("path", Self.string(path)), ("pages", "\(pages)"), ("reason", Self.string(reason))])
        case .ioWait(let pid, let ns): add("io_wait", [("pid", "\(pid)"), ("ns", "\(ns)")])
        case .reclaim(let pid, let scanned, let reclaimed):
            add(
                "reclaim",
                [
                    ("pid", pid.map(String.init) ?? "null"), ("scanned", "\(scanned)"),
                    ("reclaimed", "\(reclaimed)"),
                ])
        case .oomKill(let pid, let name, let points):
            add("oom_kill", [("pid", "\(pid)"), ("name", Self.string(name)), ("points", "\(points)")])
        }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped (the rest of
    /// Unicode as is).
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
