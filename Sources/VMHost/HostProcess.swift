import Foundation

/// One answer of the helper: `ok`, `err` or `sig`, with its `key=value` fields.
struct HelperReply {
    enum Kind { case ok, error, signal }
    var kind: Kind
    var fields: [String: UInt64]
    var message: String
    subscript(_ key: String) -> UInt64 { self.fields[key] ?? 0 }

    init(_ line: String) {
        let words = line.split(separator: " ")
        switch words.first {
        case "ok": self.kind = .ok
        case "sig": self.kind = .signal
        default: self.kind = .error
        }
        var fields: [String: UInt64] = [:]
        for w in words.dropFirst() {
            guard let eq = w.firstIndex(of: "=") else { continue }
            if let v = UInt64(w[w.index(after: eq)...]) { fields[String(w[..<eq])] = v }
        }
        self.fields = fields
        self.message = self.kind == .error ? words.dropFirst(2).joined(separator: " ") : ""
    }
}

/// A helper process as the driver sees it: its pid, the FIFOs it reads commands from and
/// answers on (`DIR/NAME.cmd`, `DIR/NAME.res`). Both are opened read-write by the driver, so
/// opening never blocks on a helper that failed to start; a dead helper is noticed by polling.
final class HostProcess {
    let name: String
    let pid: Int32
    let cmd: Int32
    let res: Int32
    var buffer: [UInt8] = []
    /// Faults the scenario's operations made in this process since `reset counters`.
    var minor: UInt64 = 0
    var major: UInt64 = 0
    var alive = true
    var killedBy: Int?
    /// Signals the helper's handler caught (`on segv continue`), by number, and the last one's
    /// `si_signo`, `si_code` (as the helper printed it) and `si_addr` (a host address).
    var caught: [Int: UInt64] = [:]
    var lastCaught: (signo: UInt64, code: UInt64, address: UInt64)?
    /// Named regions: start and length on the host.
    var regions: [String: (start: UInt64, length: UInt64)] = [:]
    var heapStart: UInt64 = 0
    var brk: UInt64 = 0
    var stackTop: UInt64 = 0
    /// Resident pages at spawn (the helper's own image), for RSS fields.
    var baseRSS: UInt64 = 0

    init(name: String, pid: Int32, cmd: Int32, res: Int32) {
        self.name = name
        self.pid = pid
        self.cmd = cmd
        self.res = res
    }

    deinit {
        close(self.cmd)
        close(self.res)
    }

    /// Makes the FIFO pair of a process about to start.
    static func makeFIFOs(_ dir: String, _ name: String) throws(HostError) -> (Int32, Int32) {
        for suffix in ["cmd", "res"] {
            guard mkfifo("\(dir)/\(name).\(suffix)", 0o600) == 0 else {
                throw .failed("mkfifo \(dir)/\(name).\(suffix): \(String(cString: strerror(errno)))")
            }
        }
        let c = open("\(dir)/\(name).cmd", O_RDWR | O_CLOEXEC)
        let r = open("\(dir)/\(name).res", O_RDWR | O_CLOEXEC)
        guard c >= 0, r >= 0 else {
            throw .failed("open FIFOs of \(name): \(String(cString: strerror(errno)))")
        }
        return (c, r)
    }

    /// Sends one command and waits for its answer (nil: the process died without answering).
    func call(_ command: String, timeout: Double = 120) -> HelperReply? {
        guard self.alive else { return nil }
        let bytes = Array((command + "\n").utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBufferPointer { write(self.cmd, $0.baseAddress, $0.count) }
            if n <= 0 {
                if errno == EINTR { continue }
                return nil
            }
            off += n
        }
        return self.readReply(timeout: timeout)
    }

    func readReply(timeout: Double = 120) -> HelperReply? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let nl = self.buffer.firstIndex(of: 10) {
                let line = String(decoding: self.buffer[..<nl], as: UTF8.self)
                self.buffer.removeSubrange(...nl)
                return HelperReply(line)
            }
            var fds = pollfd(fd: self.res, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, 200)
            if ready > 0 {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = read(self.res, &chunk, chunk.count)
                if n > 0 { self.buffer += chunk[..<n] }
                continue
            }
            if !Self.exists(self.pid) || Date() > deadline {
                self.alive = false
                return nil
            }
        }
    }

    /// Whether the process is still running (a zombie is not).
    static func exists(_ pid: Int32) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return false }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        let state = text[text.index(close, offsetBy: 2)...].first
        return state != "Z" && state != "X"
    }

    /// Resident pages, counted exactly: the `Rss:` of `/proc/PID/smaps_rollup`, which walks the
    /// page tables (fs/proc/task_mmu.c, `show_smaps_rollup`). Not `/proc/PID/statm`: since 6.2 the
    /// mm's RSS counters are per-CPU (`percpu_counter`), and `statm`/`status` read them with
    /// `percpu_counter_read_positive`, which leaves out the deltas still batched on each CPU — a
    /// line that maps nothing could read as +8 KiB. Nil when the process is gone.
    func residentPages() -> UInt64? {
        guard let data = readProcFile("/proc/\(self.pid)/smaps_rollup") else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Rss:")
        {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let kb = UInt64(parts[1]) else { return nil }
            return kb * 1024 / UInt64(sysconf(Int32(_SC_PAGESIZE)))
        }
        return nil
    }

    /// The smaps fields of the VMA containing `address` (bytes), nil when none does.
    /// The smaps fields (bytes for `kB` ones) summed over every VMA overlapping `range`, as
    /// `expect NAME.smaps[REF].FIELD` reads them (nil: no VMA there, or no smaps).
    func smaps(overlapping range: ClosedRange<UInt64>) -> (fields: [String: UInt64], span: Range<UInt64>)? {
        guard let data = readProcFile("/proc/\(self.pid)/smaps") else { return nil }
        var inside = false
        var span: Range<UInt64>?
        var out: [String: UInt64] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let first = line.split(separator: " ").first ?? ""
            if first.contains("-"), !first.hasSuffix(":") {
                let ends = first.split(separator: "-").compactMap { UInt64($0, radix: 16) }
                inside = ends.count == 2 && ends[0] <= range.upperBound && ends[1] > range.lowerBound
                if inside {
                    span =
                        min(span?.lowerBound ?? ends[0], ends[0])..<max(span?.upperBound ?? ends[1], ends[1])
                }
            } else if inside {
                let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " })
                guard parts.count >= 2, let v = UInt64(parts[1]) else { continue }
                let key = String(parts[0])
                let seen = out[key] != nil
                if parts.count >= 3, parts[2] == "kB" {
                    // Sizes add up; the page sizes are the first VMA's.
                    if !seen || !["KernelPageSize", "MMUPageSize"].contains(key) {
                        out[key] = (out[key] ?? 0) + v * 1024
                    }
                } else if !seen {
                    out[key] = v
                }
            }
        }
        return span.map { (out, $0) }
    }

    func smaps(containing address: UInt64) -> [String: UInt64]? {
        guard let data = readProcFile("/proc/\(self.pid)/smaps") else { return nil }
        var inside = false
        var out: [String: UInt64] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let first = line.split(separator: " ").first ?? ""
            if first.contains("-"), !first.hasSuffix(":") {
                if inside { return out }
                let ends = first.split(separator: "-").compactMap { UInt64($0, radix: 16) }
                inside = ends.count == 2 && address >= ends[0] && address < ends[1]
            } else if inside {
                let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " })
                if parts.count >= 3, parts[2] == "kB", let kb = UInt64(parts[1]) {
                    out[String(parts[0])] = kb * 1024
                }
            }
        }
        return inside ? out : nil
    }
}

/// Why a host run could not be done at all.
public enum HostError: Error, CustomStringConvertible, Sendable {
    case unavailable(String)
    case refused(String)
    case failed(String)
    public var description: String {
        switch self {
        case .unavailable(let s): return "--on-host: \(s)"
        case .refused(let s): return "--on-host: \(s)"
        case .failed(let s): return "--on-host: \(s)"
        }
    }
}

/// The whole of a /proc file (FileManager stops at the size `stat` reports, 0 for /proc, after
/// one read).
func readProcFile(_ path: String) -> Data? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    return try? handle.readToEnd()
}
