import VMCore
import VMTypes

/// What a scenario line asks a process or the machine to do, as plain values: the view of a
/// parsed `Statement` that `VMHost` needs to perform the same operation on the real kernel. The
/// command types keep their fields internal; this is their one public reading.
public enum ScenarioOperation: Sendable {
    case machine(settings: [(key: String, value: String)])
    case sysctl([(name: String, value: String)])
    case tick(nanoseconds: UInt64)
    case resetCounters
    case spawn(
        name: String, text: UInt64, data: UInt64, bss: UInt64, image: String?, allocator: String?,
        cgroup: String?)
    case fork(child: String)
    case exit(code: Int)
    case wait(child: String?)
    case oomScoreAdj(Int)
    /// `mmap`: `address` is `at=` (MAP_FIXED_NOREPLACE); `fixed` without an address is MAP_FIXED
    /// over the hint vmsim chose.
    case mmap(
        region: String, length: UInt64, protection: Protection, shared: Bool, file: String?, offset: UInt64,
        address: UInt64?, fixed: Bool, populate: Bool, locked: Bool, noReserve: Bool)
    case munmap(MemoryRef)
    case mprotect(MemoryRef, Protection)
    case madvise(MemoryRef, advice: String)
    case mlock(MemoryRef, lock: Bool)
    case brkGrow(UInt64)
    case brkShrink(UInt64)
    case brkSet(UInt64)
    /// `read`/`write`/`fetch`: access is "r", "w" or "x".
    case access(access: String, MemoryRef, stride: UInt64?, value: UInt64?, expectSignal: Signal?)
    case malloc(String)
    case file(path: String, size: UInt64, cached: Bool)
    case mkdir(String)
    case fread(FileRef)
    case fwrite(FileRef, value: UInt64?)
    case fsync(String)
    case close(String)
    case fadvise(FileRef, advice: String)
    case msync(MemoryRef, sync: Bool)
    case truncate(path: String, size: UInt64)
    case unlink(String)
    case sync
    case dropCaches(mode: Int)
    case shm(region: String, size: UInt64, key: Int, readOnly: Bool)
    case shmdt(region: String)
    case shmrm(key: Int)
    /// `setrlimit RESOURCE VALUE` (bytes; `Kernel.rlimInfinity` for unlimited).
    case setrlimit(resource: String, value: UInt64)
    case swapon(String)
    case swapoff(String)
    /// `cgroup PATH …`: a memory cgroup made or written.
    case cgroup(path: String)
    /// `move NAME CGROUP`.
    case move(process: String, cgroup: String)
    case expect(ExpectSubject, Comparison, UInt64)
    /// `expect A OP B` with a subject on both sides.
    case expectBetween(ExpectSubject, Comparison, ExpectSubject)
    /// `on segv|sigbus continue|default`.
    case signalAction(Signal, catching: Bool)
    case expectMemory(MemoryRef, Comparison, UInt64)
    case expectFile(FileRef, Comparison, UInt64)
    case show
    case translate
}

extension Statement {
    /// The line's operation as plain values.
    public var operation: ScenarioOperation {
        switch self.command {
        case let c as MachineCommand: return .machine(settings: c.settings.map { ($0.key, $0.value) })
        case let c as SysctlCommand: return .sysctl(c.settings)
        case let c as TickCommand: return .tick(nanoseconds: c.nanoseconds)
        case is ResetCountersCommand: return .resetCounters
        case let c as SpawnCommand:
            return .spawn(
                name: c.name, text: c.layout.text, data: c.layout.data, bss: c.layout.bss, image: c.path,
                allocator: c.allocator, cgroup: c.cgroup)
        case let c as ForkCommand: return .fork(child: c.child)
        case let c as ExitCommand: return .exit(code: c.code)
        case let c as WaitCommand: return .wait(child: c.child)
        case let c as OOMScoreAdjCommand: return .oomScoreAdj(c.value)
        case let c as SignalActionCommand: return .signalAction(c.signal, catching: c.catching)
        case let c as SetrlimitCommand: return .setrlimit(resource: c.resource.rawValue, value: c.value)
        case let c as MmapCommand:
            var offset: UInt64 = 0
            if case .file(_, let o) = c.request.backing { offset = o }
            return .mmap(
                region: c.region, length: c.request.length, protection: c.request.protection,
                shared: c.request.shared, file: c.filePath, offset: offset,
                address: c.request.noReplace ? c.request.address : nil, fixed: c.request.fixed,
                populate: c.request.populate, locked: c.request.locked, noReserve: c.request.noReserve)
        case let c as MunmapCommand: return .munmap(c.ref)
        case let c as MprotectCommand: return .mprotect(c.ref, c.protection)
        case let c as MadviseCommand: return .madvise(c.ref, advice: c.advice.rawValue)
        case let c as MlockCommand: return .mlock(c.ref, lock: c.lock)
        case let c as BrkCommand:
            switch c.change {
            case .grow(let n): return .brkGrow(n)
            case .shrink(let n): return .brkShrink(n)
            case .set(let a): return .brkSet(a)
            }
        case let c as AccessCommand:
            let access = c.access == .read ? "r" : c.access == .write ? "w" : "x"
            return .access(
                access: access, c.ref, stride: c.stride, value: c.value, expectSignal: c.expectSignal)
        case is MallocCommand, is MallocTuneCommand: return .malloc(self.text)
        case let c as FileCommand: return .file(path: c.path, size: c.size, cached: c.cached)
        case let c as MkdirCommand: return .mkdir(c.path)
        case let c as FreadCommand: return .fread(c.ref)
        case let c as FwriteCommand: return .fwrite(c.ref, value: c.value)
        case let c as FsyncCommand: return .fsync(c.path)
        case let c as CloseCommand: return .close(c.path)
        case let c as FadviseCommand: return .fadvise(c.ref, advice: c.advice.rawValue)
        case let c as MsyncCommand: return .msync(c.ref, sync: c.sync)
        case let c as TruncateCommand: return .truncate(path: c.path, size: c.size)
        case let c as UnlinkCommand: return .unlink(c.path)
        case is SyncCommand: return .sync
        case let c as DropCachesCommand: return .dropCaches(mode: c.mode)
        case let c as ShmCommand:
            return .shm(region: c.region, size: c.size, key: c.key, readOnly: c.readOnly)
        case let c as ShmdtCommand: return .shmdt(region: c.region)
        case let c as ShmrmCommand: return .shmrm(key: c.key)
        case let c as SwaponCommand: return .swapon(c.path)
        case let c as SwapoffCommand: return .swapoff(c.path)
        case let c as CgroupCommand: return .cgroup(path: c.path)
        case let c as MoveCommand: return .move(process: c.process, cgroup: c.path)
        case let c as ExpectCommand:
            switch c.target {
            case .subject(let s):
                if let other = c.other { return .expectBetween(s, c.comparison, other) }
                return .expect(s, c.comparison, c.value)
            case .memory(let r): return .expectMemory(r, c.comparison, c.value)
            case .file(let f): return .expectFile(f, c.comparison, c.value)
            }
        case is TranslateCommand: return .translate
        default: return .show
        }
    }
}

extension ScenarioRunner {
    /// The simulated start and length of a process's named region (nil: not mapped).
    public func region(_ process: String, _ name: String) -> (start: UInt64, length: UInt64)? {
        guard let task = self.processes[process] else { return nil }
        if name == "heap", let mm = task.mm { return (mm.startBrk, mm.brk - mm.startBrk) }
        return self.regions[task.pid]?[name]
    }
}
