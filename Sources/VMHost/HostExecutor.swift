import Foundation
import VMCore
import VMSim
import VMTypes

/// What one scenario line did on the host, or why it was not done.
public struct HostLineResult: Sendable, Encodable {
    public var line: Int
    public var text: String
    /// Why the line was not performed on the host (nil: it was).
    public var skipped: String?
    /// Minor and major faults per process the line's operations made, measured in the helper.
    public var minor: [String: UInt64] = [:]
    public var major: [String: UInt64] = [:]
    /// RSS change per process that existed before and after the line (bytes).
    public var rssDelta: [String: Int64] = [:]
    public var expectation: Bool?
    public var actual: String?
    public var signal: String?
    /// A note on how the line was approximated (a capped `tick`, …).
    public var note: String?
    /// For a `read`/`write` line: the smaps fields (bytes) of the mapping it touched, and its
    /// pagemap facts (pages present, zero page, exclusive, file, swapped, THP, a hash of the PFNs).
    public var smaps: [String: UInt64]?
    public var pagemap: [String: UInt64]?
}

/// Performs a parsed scenario on the host kernel: one helper process per scenario process
/// (`vmsim-host-helper`), the scenario's files under the sandbox's directory. Operations that
/// cannot be done for real are recorded as skipped with the reason; once a process's host state
/// can no longer match the simulation's (an OOM kill the host will not make), its later lines
/// are skipped too.
public final class HostExecutor {
    public struct Options: Sendable {
        /// The longest a `tick` really sleeps (nanoseconds).
        public var maxTick: UInt64 = 2_000_000_000
        public init() {}
    }

    let helper: String
    let sandbox: HostSandbox
    let options: Options
    var processes: [String: HostProcess] = [:]
    /// Processes whose host state no longer follows the simulation, with why.
    var diverged: [String: String] = [:]
    var shmIDs: [Int: Int32] = [:]
    /// The line of a `tick` that slept less than it says (writeback the host has not done yet).
    var cappedTick: Int?
    let page: UInt64 = 4096

    public init(helper: String, sandbox: HostSandbox, options: Options = Options()) {
        self.helper = helper
        self.sandbox = sandbox
        self.options = options
    }

    /// Runs every statement; `simulated` are the simulation's effects by line (to skip what needs
    /// memory pressure the host will not have).
    public func run(_ scenario: Scenario, simulated: [Int: LineEffect]) -> [HostLineResult] {
        try? FileManager.default.createDirectory(
            atPath: self.sandbox.directory + "/files", withIntermediateDirectories: true)
        var results: [HostLineResult] = []
        for statement in scenario.statements {
            var result = HostLineResult(line: statement.location.line, text: statement.text)
            let before = self.residentPages()
            self.execute(statement, simulated[statement.location.line], &result)
            // A process whose operation was not done on the host no longer follows the
            // simulation: its later lines are skipped (oom_score_adj changes nothing here).
            if result.skipped != nil, let actor = statement.process, self.diverged[actor] == nil {
                if case .oomScoreAdj = statement.operation {
                } else {
                    self.diverged[actor] =
                        "\(actor) diverged at line \(statement.location.line) (not run on the host)"
                }
            }
            let after = self.residentPages()
            if result.skipped == nil {
                for (name, b) in before {
                    if let a = after[name] {
                        result.rssDelta[name] = (Int64(a) - Int64(b)) * Int64(self.page)
                    }
                }
            }
            results.append(result)
        }
        return results
    }

    func residentPages() -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (name, p) in self.processes where p.alive { out[name] = p.residentPages() }
        return out
    }

    // MARK: Statements

    func execute(_ statement: Statement, _ sim: LineEffect?, _ r: inout HostLineResult) {
        if let actor = statement.process, let why = self.diverged[actor] {
            r.skipped = why
            return
        }
        if let sim, !sim.oomKills.isEmpty || sim.swapOuts > 0 || sim.swapIns > 0 || sim.pagesReclaimed > 0 {
            r.skipped =
                "the simulated machine reclaimed, swapped or OOM-killed here; the host (\(ByteSize.human(self.hostAvailable)) available) has no such memory pressure"
            if let actor = statement.process {
                self.diverged[actor] =
                    "\(actor) diverged at line \(statement.location.line) (memory pressure)"
            }
            return
        }
        switch statement.operation {
        case .machine, .show, .translate:
            r.skipped = "not an operation (nothing to compare)"
        case .sysctl(let settings):
            r.skipped =
                "sysctl \(settings.map { "\($0.name)=\($0.value)" }.joined(separator: " ")): a host-wide setting, applied to the simulation only"
        case .tick(let ns):
            let slept = min(ns, self.options.maxTick)
            var ts = timespec(tv_sec: Int(slept / 1_000_000_000), tv_nsec: Int(slept % 1_000_000_000))
            nanosleep(&ts, nil)
            if slept < ns {
                r.note = "slept \(Double(slept) / 1e9) s of \(Double(ns) / 1e9) s"
                self.cappedTick = statement.location.line
            }
        case .resetCounters:
            for p in self.processes.values {
                p.minor = 0
                p.major = 0
            }
        case .spawn(let name, _, _, _, let image, let allocator, let cgroup):
            do {
                try self.spawn(name)
                // execve's faults (the new stack page) are the simulated image's; the helper's own
                // start-up is not the scenario's, so the host's counters start from the simulation's.
                if let s = sim?.processes.first(where: { $0.name == name }), let p = self.processes[name] {
                    p.minor = UInt64(s.minorFaults)
                    p.major = UInt64(s.majorFaults)
                }
                var notes: [String] = []
                if image != nil { notes.append("image= is not loaded: the helper is its own image") }
                if allocator != nil { notes.append("allocator= has no host counterpart") }
                if let cgroup {
                    self.diverged[name] =
                        "\(name) runs in the memory cgroup \(cgroup) only in the simulation (line \(statement.location.line))"
                }
                if !notes.isEmpty { r.note = notes.joined(separator: "; ") }
            } catch {
                r.skipped = error.description
            }
        case .fork(let child): self.fork(statement, child, &r)
        case .exit(let code):
            guard let p = self.actor(statement, &r) else { return }
            _ = p.call("exit \(code)")
            p.alive = false
        case .wait(let child):
            guard let p = self.actor(statement, &r) else { return }
            let pid = child.flatMap { self.processes[$0]?.pid } ?? 0
            self.measure(p, p.call("wait \(pid)"), &r)
        case .oomScoreAdj:
            r.skipped = "oom_score_adj only matters to the OOM killer, which the host run never invokes"
        case .mmap(
            let region, let length, let prot, let shared, let file, let offset, let address, let fixed,
            let populate, let locked, let noReserve):
            guard let p = self.actor(statement, &r) else { return }
            if fixed && address == nil {
                r.skipped = "MAP_FIXED at an address vmsim chose has no meaning in the helper"
                return
            }
            let path = file.map { self.sandbox.hostPath($0) } ?? "-"
            let command =
                "mmap \(length) \(Self.prot(prot)) \(shared ? 1 : 0) \(path) \(offset) \(address ?? 0) \(populate ? 1 : 0) \(locked ? 1 : 0) \(noReserve ? 1 : 0)"
            let reply = p.call(command)
            if let reply, reply.kind == .ok {
                p.regions[region] = (reply["addr"], (length + self.page - 1) & ~(self.page - 1))
            }
            self.measure(p, reply, &r)
        case .munmap(let ref):
            self.span(statement, ref, &r) { p, a, l in
                let reply = p.call("munmap \(a) \(l)")
                if ref.isWhole, let region = ref.region, reply?.kind == .ok { p.regions[region] = nil }
                return reply
            }
        case .mprotect(let ref, let prot):
            self.span(statement, ref, &r) { p, a, l in p.call("mprotect \(a) \(l) \(Self.prot(prot))") }
        case .madvise(let ref, let advice):
            self.span(statement, ref, &r) { p, a, l in p.call("madvise \(a) \(l) \(advice)") }
        case .mlock(let ref, let lock):
            self.span(statement, ref, &r) { p, a, l in p.call("\(lock ? "mlock" : "munlock") \(a) \(l)") }
        case .msync(let ref, let sync):
            self.span(statement, ref, &r) { p, a, l in p.call("msync \(a) \(l) \(sync ? "sync" : "async")") }
        case .brkGrow(let n): self.brk(statement, Int64(n), &r)
        case .brkShrink(let n): self.brk(statement, -Int64(n), &r)
        case .brkSet:
            r.skipped = "brk =ADDRESS names an address of the simulated layout"
        case .access(let access, let ref, let stride, let value, let expectSignal):
            self.access(statement, access, ref, stride, value, expectSignal, &r)
        case .cgroup(let path):
            r.skipped = "memory cgroups (\(path)) are simulated only: the helper does not make host cgroups"
        case .move(let process, let cgroup):
            r.skipped = "\(process) moves to the memory cgroup \(cgroup) only in the simulation"
            self.diverged[process] =
                "\(process) was moved to the memory cgroup \(cgroup) only in the simulation (line \(statement.location.line))"
        case .setrlimit:
            r.skipped =
                "setrlimit is not run by the helper (its own stack and image would count against the limit)"
            if let actor = statement.process {
                self.diverged[actor] =
                    "\(actor) changed a resource limit only in the simulation (line \(statement.location.line))"
            }
        case .malloc:
            r.skipped = "malloc lines run vmsim's model of the C library, which the helper does not link"
            if let actor = statement.process {
                self.diverged[actor] =
                    "\(actor) ran malloc lines only in the simulation (line \(statement.location.line))"
            }
        case .file(let path, let size, let cached):
            self.makeFile(path, size: size, cached: cached, &r)
        case .mkdir(let path):
            try? FileManager.default.createDirectory(
                atPath: self.sandbox.hostPath(path), withIntermediateDirectories: true)
        case .fread(let ref):
            guard let p = self.actor(statement, &r) else { return }
            let end = ref.single ? ref.start + 1 : (ref.end ?? UInt64.max)
            self.measure(p, p.call("fread \(self.sandbox.hostPath(ref.path)) \(ref.start) \(end)"), &r)
        case .fwrite(let ref, let value):
            guard let p = self.actor(statement, &r) else { return }
            self.makeParent(ref.path)
            guard let end = ref.single ? ref.start + 1 : ref.end else {
                r.skipped = "fwrite without a range writes nothing"
                return
            }
            let v = value ?? UInt64(p.pid)
            self.measure(p, p.call("fwrite \(self.sandbox.hostPath(ref.path)) \(ref.start) \(end) \(v)"), &r)
        case .fsync(let path):
            guard let p = self.actor(statement, &r) else { return }
            self.measure(p, p.call("fsync \(self.sandbox.hostPath(path))"), &r)
        case .close(let path):
            guard let p = self.actor(statement, &r) else { return }
            self.measure(p, p.call("close \(self.sandbox.hostPath(path))"), &r)
        case .fadvise(let ref, let advice):
            guard let p = self.actor(statement, &r) else { return }
            let length = ref.single ? 1 : ref.end.map { $0 - ref.start } ?? 0
            self.measure(
                p, p.call("fadvise \(self.sandbox.hostPath(ref.path)) \(ref.start) \(length) \(advice)"), &r)
        case .truncate(let path, let size):
            if truncate(self.sandbox.hostPath(path), off_t(size)) != 0 {
                r.skipped = "truncate: \(String(cString: strerror(errno)))"
            }
        case .unlink(let path):
            if unlink(self.sandbox.hostPath(path)) != 0 {
                r.skipped = "unlink: \(String(cString: strerror(errno)))"
            }
        case .sync:
            self.eachFile { fd in fsync(fd) }
            r.note = "fsync(2) of the temporary directory's files (sync(2) would write back the whole host)"
        case .dropCaches:
            self.eachFile { fd in
                fsync(fd)
                posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
            }
            r.note =
                "POSIX_FADV_DONTNEED on the temporary directory's files (drop_caches would empty the host's caches)"
        case .shm(let region, let size, let key, let readOnly):
            guard let p = self.actor(statement, &r) else { return }
            if readOnly {
                r.skipped = "read-only shmat is not implemented in the helper"
                return
            }
            let reply: HelperReply?
            if let id = self.shmIDs[key], key != 0 {
                reply = p.call("shmat \(id) \(size)")
            } else {
                reply = p.call("shmget 0 \(size)")
                if let reply, reply.kind == .ok {
                    let id = Int32(truncatingIfNeeded: reply["shmid"])
                    self.sandbox.addSharedMemory(id)
                    if key != 0 { self.shmIDs[key] = id }
                }
            }
            if let reply, reply.kind == .ok {
                p.regions[region] = (reply["addr"], (size + self.page - 1) & ~(self.page - 1))
            }
            self.measure(p, reply, &r)
        case .shmdt(let region):
            guard let p = self.actor(statement, &r) else { return }
            guard let reg = p.regions[region] else {
                r.skipped = "\(region) is not attached"
                return
            }
            self.measure(p, p.call("shmdt \(reg.start)"), &r)
            p.regions[region] = nil
        case .shmrm(let key):
            if let id = self.shmIDs[key] { _ = shmctl(id, IPC_RMID, nil) }
        case .swapon, .swapoff:
            r.skipped =
                "swapon/swapoff change the host's swap, outside the temporary directory"
                + (HostSettings.read().swapTotal == 0 ? " (and this host has no swap)" : "")
        case .expect(let subject, let cmp, let value):
            self.expect(statement, subject, cmp, value, &r)
        case .expectBetween(let a, _, let b):
            r.skipped = "\(a) against \(b): a comparison of two subjects is checked in the simulation only"
        case .signalAction(let signal, let catching):
            // The helper's handler siglongjmps out of the access loop, as the simulated one does.
            guard let p = self.actor(statement, &r) else { return }
            self.measure(p, p.call("catch \(signal.rawValue) \(catching ? 1 : 0)"), &r)
        case .expectMemory(let ref, let cmp, let value):
            guard let p = self.actor(statement, &r) else { return }
            guard let range = self.resolve(ref, p, &r) else { return }
            let reply = p.call("check \(range.lowerBound) \(range.upperBound) \(cmp.rawValue) \(value)")
            self.measure(p, reply, &r)
            if let reply, reply.kind == .ok {
                r.expectation = reply["held"] == 1
                r.actual =
                    r.expectation == true
                    ? "every page \(cmp.rawValue) \(value)"
                    : "0x\(String(reply["at"], radix: 16)) holds \(reply["value"])"
            }
        case .expectFile(let ref, _, _):
            r.skipped = "expect on a file's contents (\(ref.path)) is not implemented on the host"
        }
    }

    var hostAvailable: UInt64 { HostSettings.read().memAvailable ?? 0 }

    // MARK: Processes

    func spawn(_ name: String) throws(HostError) {
        let (c, res) = try HostProcess.makeFIFOs(self.sandbox.directory, name)
        let pid = try self.sandbox.spawn(helper: self.helper, name: name)
        let p = HostProcess(name: name, pid: pid, cmd: c, res: res)
        guard let hello = p.readReply(timeout: 30), hello.kind == .ok else {
            throw .failed("the helper for \(name) did not start (\(self.helper))")
        }
        self.adopt(p, hello)
        self.processes[name] = p
    }

    func adopt(_ p: HostProcess, _ hello: HelperReply) {
        p.heapStart = hello["brk"]
        p.brk = hello["brk"]
        p.stackTop = hello["stacktop"]
        p.baseRSS = p.residentPages() ?? 0
    }

    func fork(_ statement: Statement, _ child: String, _ r: inout HostLineResult) {
        guard let p = self.actor(statement, &r) else { return }
        do {
            let (c, res) = try HostProcess.makeFIFOs(self.sandbox.directory, child)
            guard let reply = p.call("fork \(child)"), reply.kind == .ok else {
                r.skipped = "fork failed on the host"
                return
            }
            let cp = HostProcess(name: child, pid: Int32(truncatingIfNeeded: reply["pid"]), cmd: c, res: res)
            guard let hello = cp.readReply(timeout: 30), hello.kind == .ok else {
                r.skipped = "the forked helper did not answer"
                return
            }
            self.adopt(cp, hello)
            cp.regions = p.regions
            // The handler's counters are in the helper's memory, which the child copies.
            cp.caught = p.caught
            cp.lastCaught = p.lastCaught
            cp.heapStart = p.heapStart
            cp.brk = p.brk
            self.processes[child] = cp
            self.measure(p, reply, &r)
            r.minor[child] = 0
            r.major[child] = 0
        } catch {
            r.skipped = error.description
        }
    }

    func actor(_ statement: Statement, _ r: inout HostLineResult) -> HostProcess? {
        guard let name = statement.process, let p = self.processes[name] else {
            r.skipped = "no such process on the host"
            return nil
        }
        guard p.alive else {
            r.skipped = "\(name) is not running on the host"
            return nil
        }
        return p
    }

    /// Adds a reply's fault counts to the line and the process; notes a signal death.
    func measure(_ p: HostProcess, _ reply: HelperReply?, _ r: inout HostLineResult) {
        guard let reply else {
            if !p.alive { r.signal = "\(p.name) died without answering" }
            return
        }
        p.minor += reply["min"]
        p.major += reply["maj"]
        r.minor[p.name, default: 0] += reply["min"]
        r.major[p.name, default: 0] += reply["maj"]
        switch reply.kind {
        case .ok:
            if reply["caught"] == 1 {
                let signo = reply["signo"]
                p.caught[Int(signo), default: 0] += 1
                p.lastCaught = (signo, reply["code"], reply["addr"])
                r.signal =
                    "\(signo == 11 ? "SIGSEGV" : signo == 7 ? "SIGBUS" : "signal \(signo)") at 0x\(String(reply["addr"], radix: 16)) (si_code \(Int64(bitPattern: reply["code"]))), caught by the handler"
            }
        case .error: r.note = "refused on the host: \(reply.message)"
        case .signal:
            let signo = Int(reply["signo"])
            p.alive = false
            p.killedBy = signo
            r.signal =
                "\(signo == 11 ? "SIGSEGV" : signo == 7 ? "SIGBUS" : "signal \(signo)") at 0x\(String(reply["addr"], radix: 16)) (si_code \(Int64(bitPattern: reply["code"])))"
        }
    }

    // MARK: Memory

    static func prot(_ p: Protection) -> String {
        var s = ""
        if p.contains(.read) { s += "r" }
        if p.contains(.write) { s += "w" }
        if p.contains(.exec) { s += "x" }
        return s.isEmpty ? "-" : s
    }

    /// The host bytes a reference covers (first...last), or nil (skipped, with why).
    /// The live host process `name` and the host range of `ref` in it, when the process is
    /// still comparable with the simulation; else nil, with `r.skipped` saying why.
    func comparableRegion(_ name: String, _ ref: MemoryRef, _ r: inout HostLineResult) -> (
        HostProcess, ClosedRange<UInt64>
    )? {
        guard let p = self.processes[name], p.alive else {
            r.skipped = "no process \(name) on the host"
            return nil
        }
        if let why = self.diverged[name] {
            r.skipped = why
            return nil
        }
        guard let range = self.resolve(ref, p, &r) else { return nil }
        return (p, range)
    }

    func resolve(_ ref: MemoryRef, _ p: HostProcess, _ r: inout HostLineResult) -> ClosedRange<UInt64>? {
        var base: UInt64
        var length: UInt64?
        if let region = ref.region {
            switch region {
            case "text", "data", "bss":
                r.skipped =
                    "the scenario's \(region) is not laid out in the helper (the helper's image is its own)"
                return nil
            case "heap":
                base = p.heapStart
                length = p.brk - p.heapStart
            case "stack":
                base = p.stackTop - (8 << 20)
                length = 8 << 20
            default:
                guard let reg = p.regions[region] else {
                    r.skipped = "\(region) is not mapped on the host"
                    return nil
                }
                base = reg.start
                length = reg.length
            }
        } else {
            base = ref.address ?? 0
        }
        let first = base &+ ref.start
        if ref.single { return first...first }
        let last: UInt64
        if let end = ref.end {
            last = base &+ end &- 1
        } else if let length, length > 0 {
            last = base + length - 1
        } else {
            r.skipped = "\(ref) is empty"
            return nil
        }
        guard last >= first else {
            r.skipped = "\(ref) is empty"
            return nil
        }
        return first...last
    }

    func span(
        _ statement: Statement, _ ref: MemoryRef, _ r: inout HostLineResult,
        _ body: (HostProcess, UInt64, UInt64) -> HelperReply?
    ) {
        guard let p = self.actor(statement, &r), let range = self.resolve(ref, p, &r) else { return }
        let start = range.lowerBound & ~(self.page - 1)
        self.measure(p, body(p, start, range.upperBound - start + 1), &r)
    }

    func brk(_ statement: Statement, _ delta: Int64, _ r: inout HostLineResult) {
        guard let p = self.actor(statement, &r) else { return }
        var d = delta
        if d < 0, UInt64(-d) > p.brk - p.heapStart { d = -Int64(p.brk - p.heapStart) }
        let reply = p.call("brk \(d)")
        if let reply, reply.kind == .ok { p.brk = reply["brk"] }
        self.measure(p, reply, &r)
    }

    func access(
        _ statement: Statement, _ access: String, _ ref: MemoryRef, _ stride: UInt64?, _ value: UInt64?,
        _ expectSignal: Signal?, _ r: inout HostLineResult
    ) {
        if expectSignal == .sigkill {
            r.skipped = "expect oom: the host run never drives the host into the OOM killer"
            if let actor = statement.process {
                self.diverged[actor] = "\(actor) was OOM-killed only in the simulation"
            }
            return
        }
        guard let p = self.actor(statement, &r), let range = self.resolve(ref, p, &r) else { return }
        if access == "x" && expectSignal == nil {
            r.skipped = "fetch would execute the region's bytes on the host"
            return
        }
        let reply = p.call(
            "access \(access) \(range.lowerBound) \(range.upperBound) \(stride ?? self.page) \(value == nil ? 0 : 1) \(value ?? 0)"
        )
        self.measure(p, reply, &r)
        if p.alive {
            r.smaps = p.smaps(containing: range.lowerBound)
            if let facts = p.call("pagemap \(range.lowerBound) \(range.upperBound)"), facts.kind == .ok {
                r.pagemap = facts.fields.filter { !["min", "maj", "inb"].contains($0.key) }
            }
        }
        if let expectSignal {
            if let reply, reply.kind == .ok, reply["caught"] == 1 {
                r.expectation = reply["signo"] == UInt64(expectSignal.rawValue)
                r.actual = "signal \(reply["signo"]) caught"
            } else {
                let got = p.killedBy
                r.expectation = got == expectSignal.rawValue
                r.actual = got.map { "killed by signal \($0)" } ?? "the access succeeded"
            }
        }
    }

    // MARK: Files

    func makeParent(_ path: String) {
        let host = self.sandbox.hostPath(path)
        try? FileManager.default.createDirectory(
            atPath: (host as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    }

    /// `file PATH size=N [cached]`: written with write(2) one 4 KiB page at a time — so the page
    /// cache holds order-0 folios, as vmsim models (bigger writes make ext4 allocate large folios,
    /// which fault-around then maps whole) — and fsync'd; not cached: dropped from the page cache
    /// with POSIX_FADV_DONTNEED.
    func makeFile(_ path: String, size: UInt64, cached: Bool, _ r: inout HostLineResult) {
        self.makeParent(path)
        let fd = open(self.sandbox.hostPath(path), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            r.skipped = "cannot create \(path): \(String(cString: strerror(errno)))"
            return
        }
        defer { Glibc.close(fd) }
        let chunk = [UInt8](repeating: 0, count: 4096)
        var off: UInt64 = 0
        while off < size {
            let n = Int(min(UInt64(chunk.count), size - off))
            let w = chunk.withUnsafeBytes { write(fd, $0.baseAddress, n) }
            guard w > 0 else { break }
            off += UInt64(w)
        }
        fsync(fd)
        if !cached { posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) }
    }

    func eachFile(_ body: (Int32) -> Void) {
        let root = self.sandbox.directory + "/files"
        guard let walker = FileManager.default.enumerator(atPath: root) else { return }
        for case let rel as String in walker {
            var st = stat()
            let path = root + "/" + rel
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            body(fd)
            Glibc.close(fd)
        }
    }

    /// cachestat(2) of a file through the helper (`--cachestat`): pages cached, dirty, writeback.
    func cachestat(_ path: String) -> [String: UInt64]? {
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.helper)
        process.arguments = ["--cachestat", self.sandbox.hostPath(path)]
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return HelperReply(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)).fields
    }

    // MARK: Expectations

    func expect(
        _ statement: Statement, _ subject: ExpectSubject, _ cmp: Comparison, _ value: UInt64,
        _ r: inout HostLineResult
    ) {
        var actual: UInt64?
        switch subject {
        case .process(let name, let field):
            guard let p = self.processes[name] else {
                if field == "alive" { actual = 0 } else { r.skipped = "no process \(name) on the host" }
                break
            }
            if let why = self.diverged[name] {
                r.skipped = why
                return
            }
            switch field {
            case "minflt": actual = p.minor
            case "majflt": actual = p.major
            case "alive": actual = p.alive && HostProcess.exists(p.pid) ? 1 : 0
            case "killed": actual = UInt64(p.killedBy ?? 0)
            case "signals": actual = p.caught.values.reduce(0, +)
            case "signals[segv]": actual = p.caught[11] ?? 0
            case "signals[sigbus]": actual = p.caught[7] ?? 0
            case "si_signo": actual = p.lastCaught?.signo ?? 0
            case "si_code": actual = p.lastCaught?.code ?? 0
            case "si_addr":
                r.skipped =
                    "si_addr is an address of the simulated layout; the helper's mappings are elsewhere"
                return
            default:
                r.skipped = "\(name).\(field) has no host counterpart that excludes the helper's own image"
                return
            }
        case .file(let path, let field):
            guard ["cached", "dirty", "writeback", "size"].contains(field) else {
                r.skipped = "\(path):\(field) is not measured on the host"
                return
            }
            if let tick = self.cappedTick, field != "size" && field != "cached" {
                r.skipped =
                    "the tick at line \(tick) slept less than it says, so the host's writeback is behind"
                return
            }
            guard let cs = self.cachestat(path) else {
                r.skipped = "cachestat(2) of \(path) failed"
                return
            }
            actual = field == "size" ? cs["size"] : (cs[field] ?? 0) * self.page
        case .cgroup:
            r.skipped = "\(subject): memory cgroups are simulated only"
            return
        case .vmstat, .meminfo, .disk, .slab, .time:
            r.skipped = "\(subject) is global: on the host it counts every other process too"
            return
        case .allocation, .modulo:
            r.skipped = "\(subject) belongs to vmsim's C library model"
            return
        case .address:
            r.skipped =
                "\(subject) is an address of the simulated layout; the helper's mappings are elsewhere"
            return
        case .smaps(let name, let ref, let field):
            guard let (p, range) = self.comparableRegion(name, ref, &r) else { return }
            guard let (fields, span) = p.smaps(overlapping: range), let v = fields[field] else {
                r.skipped = "no smaps field \(field) for \(ref) on the host"
                return
            }
            // smaps reports whole VMAs: where the host merged the region with a neighbouring
            // mapping of its own layout, the entry covers more than the simulated one.
            if let region = ref.region, let reg = p.regions[region],
                span.lowerBound < reg.start || span.upperBound > reg.start + reg.length
            {
                r.skipped =
                    "on the host \(region)'s VMA is merged with a neighbouring mapping (\(ByteSize.human(span.upperBound - span.lowerBound)) in smaps)"
                return
            }
            actual = v
        case .pagemap(let name, let ref, let field):
            // The helper reports counts over a range; of one page they are its bits. PFNs and the
            // raw entry are the host's own frames, not comparable with simulated ones.
            let key = ["present": "present", "exclusive": "exclusive", "file": "file", "swap": "swapped"][
                field]
            guard let key else {
                r.skipped = "\(subject): the host's \(field) is not comparable with the simulation's"
                return
            }
            guard let (p, range) = self.comparableRegion(name, ref, &r) else { return }
            let page = range.lowerBound & ~(self.page - 1)
            guard let facts = p.call("pagemap \(page) \(page)"), facts.kind == .ok else {
                r.skipped = "pagemap of \(ref) failed on the host"
                return
            }
            actual = facts[key]
        }
        guard r.skipped == nil, let actual else { return }
        r.expectation = Self.holds(cmp, actual, value)
        r.actual = String(actual)
    }

    static func holds(_ c: Comparison, _ a: UInt64, _ b: UInt64) -> Bool {
        switch c {
        case .eq: return a == b
        case .ne: return a != b
        case .le: return a <= b
        case .ge: return a >= b
        case .lt: return a < b
        case .gt: return a > b
        }
    }
}

extension MemoryRef {
    var isWhole: Bool { self.region != nil && self.start == 0 && self.end == nil && !self.single }
}
