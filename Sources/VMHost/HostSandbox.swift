import Foundation

/// Where a host run may act: a private temporary directory (mode 0700) that holds the scenario's
/// files and the helpers' FIFOs, and one process group that holds every helper (forked ones
/// inherit it). `close()` kills the group, reaps the driver's children, removes SysV segments
/// the run created and deletes the directory; it runs on every exit path — normal end, error,
/// and SIGINT/SIGTERM through `installInterruptHandlers()`.
public final class HostSandbox: @unchecked Sendable {
    public let directory: String
    var processGroup: pid_t = 0
    var children: [pid_t] = []
    var shmIDs: [Int32] = []
    let lock = NSLock()
    var closed = false

    /// Sandboxes alive now, for the signal handlers.
    nonisolated(unsafe) static var live: [ObjectIdentifier: HostSandbox] = [:]
    static let liveLock = NSLock()

    public init() throws(HostError) {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/vmsim-host.XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw .failed("cannot create a temporary directory under \(base)")
        }
        self.directory = String(cString: made)
        Self.liveLock.lock()
        Self.live[ObjectIdentifier(self)] = self
        Self.liveLock.unlock()
    }

    deinit { self.close() }

    /// The host path of a scenario path (`/var/db/index` → `DIR/files/var/db/index`).
    public func hostPath(_ scenarioPath: String) -> String { self.directory + "/files" + scenarioPath }

    /// Starts `helper DIR NAME` in the run's process group.
    func spawn(helper: String, name: String) throws(HostError) -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, self.processGroup)
        let args = [helper, self.directory, name]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, helper, nil, &attr, &argv, environ)
        guard rc == 0 else { throw .failed("cannot start \(helper): \(String(cString: strerror(rc)))") }
        self.lock.lock()
        if self.processGroup == 0 { self.processGroup = pid }
        self.children.append(pid)
        self.lock.unlock()
        return pid
    }

    func addSharedMemory(_ id: Int32) {
        self.lock.lock()
        self.shmIDs.append(id)
        self.lock.unlock()
    }

    /// Kills every helper, removes the segments and the directory. Idempotent.
    public func close() {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard !self.closed else { return }
        self.closed = true
        if self.processGroup > 0 { kill(-self.processGroup, SIGKILL) }
        for pid in self.children {
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        for id in self.shmIDs { _ = shmctl(id, IPC_RMID, nil) }
        try? FileManager.default.removeItem(atPath: self.directory)
        Self.liveLock.lock()
        Self.live[ObjectIdentifier(self)] = nil
        Self.liveLock.unlock()
    }

    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    /// On SIGINT or SIGTERM: close every live sandbox, then exit with 128 + the signal.
    public static func installInterruptHandlers() {
        guard Self.sources.isEmpty else { return }
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                Self.liveLock.lock()
                let all = Array(Self.live.values)
                Self.liveLock.unlock()
                for sandbox in all { sandbox.close() }
                exit(128 + sig)
            }
            source.resume()
            Self.sources.append(source)
        }
    }
}
