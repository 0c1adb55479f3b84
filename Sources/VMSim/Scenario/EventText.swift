import VMCore
import VMTypes

extension ScenarioRunner {
    /// A trace line for an event.
    static func describe(_ event: KernelEvent) -> String {
        switch event {
        case .fault(let pid, let address, let access, let kind, let major):
            return
                "fault pid=\(pid) \(access.rawValue) \(hex(address)): \(kind.rawValue)\(major ? " (major)" : "")"
        case .signal(let pid, let address, let signal, let reason):
            return "signal \(signal) to pid \(pid) at \(hex(address)): \(reason)"
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
}
