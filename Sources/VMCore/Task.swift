import VMPhys
import VMTypes

/// State of a task (the letter `/proc/PID/status` shows).
public enum TaskState: String, Sendable {
    case running = "R (running)"
    case sleeping = "S (sleeping)"
    case zombie = "Z (zombie)"
    case dead = "X (dead)"
}

/// How a task ended.
public enum ExitReason: Hashable, Sendable, CustomStringConvertible {
    case exited(code: Int)
    case killed(signal: Int)
    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .killed(let signal): return "killed by signal \(signal) (\(Signal.name(signal)))"
        }
    }
}

/// Signal numbers vmsim delivers (x86 Linux).
public enum Signal {
    public static let sigkill = 9
    public static let sigbus = 7
    public static let sigsegv = 11
    public static func name(_ n: Int) -> String {
        switch n {
        case 7: return "SIGBUS"
        case 9: return "SIGKILL"
        case 11: return "SIGSEGV"
        default: return "signal \(n)"
        }
    }
}

/// Where a task's kernel stack lives.
public enum KernelStack: Hashable, Sendable {
    /// `CONFIG_VMAP_STACK` (x86-64): a vmalloc area of `THREAD_SIZE` plus a guard page.
    case vmalloc(UInt64)
    /// i386: `THREAD_SIZE` contiguous pages from the buddy allocator.
    case pages(PFN, order: Int)
}

/// A process (or kernel thread).
///
/// Models `struct task_struct` (include/linux/sched.h) with the fields memory management uses:
/// pid, name, parent, the mm, fault counters, kernel stack, `oom_score_adj`, `RLIMIT_STACK`.
/// Each task owns a `task_struct` object in the slab, as in Linux.
public final class Task {
    public let pid: Int
    /// `comm`: up to 15 characters.
    public internal(set) var name: String
    public internal(set) var parentPID: Int
    public internal(set) var mm: AddressSpace?
    public internal(set) var state: TaskState = .running
    public internal(set) var exitReason: ExitReason?
    /// `min_flt`, `maj_flt`.
    public internal(set) var minorFaults = 0
    public internal(set) var majorFaults = 0
    public internal(set) var children: [Int] = []
    public internal(set) var kernelStack: KernelStack?
    /// `/proc/PID/oom_score_adj` (-1000 … 1000).
    public var oomScoreAdj = 0
    /// `RLIMIT_STACK` soft limit in bytes (8 MiB by default).
    public internal(set) var stackLimit: UInt64 = 8 << 20
    /// The descriptor table (`files_struct`): fd → open file id.
    public internal(set) var files: [Int: Int] = [:]
    /// Time spent waiting for block I/O (`delayacct_blkio_ticks`, in nanoseconds).
    public internal(set) var blkioDelay: UInt64 = 0
    public var isKernelThread: Bool { self.mm == nil }
    var object: UInt64 = 0

    init(pid: Int, name: String, parentPID: Int) {
        self.pid = pid
        self.name = String(name.prefix(15))
        self.parentPID = parentPID
    }
}
