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
    case killed(Signal)
    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .killed(let signal): return "killed by signal \(signal.rawValue) (\(signal.name))"
        }
    }
}

/// The signals vmsim delivers, with their x86 Linux numbers (arch/x86/include/uapi/asm/signal.h).
public enum Signal: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// `abort()` (glibc's malloc on a corrupted heap).
    case sigabrt = 6
    case sigbus = 7
    case sigkill = 9
    case sigsegv = 11

    /// `SIGSEGV`, …
    public var name: String {
        switch self {
        case .sigabrt: return "SIGABRT"
        case .sigbus: return "SIGBUS"
        case .sigkill: return "SIGKILL"
        case .sigsegv: return "SIGSEGV"
        }
    }
    public var description: String { self.name }
}

/// `siginfo_t.si_code` of a fault signal (include/uapi/asm-generic/siginfo.h).
public enum SignalCode: String, Hashable, Sendable {
    /// No VMA at the address (`SEGV_MAPERR`).
    case mapError = "SEGV_MAPERR"
    /// A VMA is there but does not allow the access (`SEGV_ACCERR`).
    case accessError = "SEGV_ACCERR"
    /// A mapped file page beyond the end of the file (`BUS_ADRERR`).
    case addressError = "BUS_ADRERR"
    /// Sent by the kernel itself, e.g. for a general-protection fault (`SI_KERNEL`).
    case kernel = "SI_KERNEL"
}

/// The `siginfo_t` of a fault signal: which signal, its code, the faulting address, and why in
/// words.
public struct SignalInfo: Hashable, Sendable, CustomStringConvertible {
    public let signal: Signal
    public let code: SignalCode
    public let address: UInt64
    /// What vmsim found ("no mapping", "r-- mapping"); empty when the code says it all.
    public let detail: String

    public init(_ signal: Signal, _ code: SignalCode, address: UInt64, detail: String = "") {
        self.signal = signal
        self.code = code
        self.address = address
        self.detail = detail
    }

    /// "SEGV_MAPERR: no mapping"; a kernel-sent signal gives only the detail.
    public var description: String {
        if self.code == .kernel { return self.detail }
        return self.detail.isEmpty ? self.code.rawValue : "\(self.code.rawValue): \(self.detail)"
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
    /// A shared write fault dirtied a page: `balance_dirty_pages_ratelimited()` is due once the
    /// faulting access completes (see `userAccess`).
    var balanceDirtyPending = false
    public internal(set) var state: TaskState = .running
    public internal(set) var exitReason: ExitReason?
    /// `min_flt`, `maj_flt`.
    public internal(set) var minorFaults = 0
    public internal(set) var majorFaults = 0
    /// `signal->cmin_flt`, `cmaj_flt`: the faults of children this task has waited for, theirs and
    /// their own waited-for children's (`getrusage(RUSAGE_CHILDREN)`, fields 11 and 13 of
    /// /proc/PID/stat). A child not yet waited for, or reaped by init, is not in them.
    public internal(set) var childMinorFaults = 0
    public internal(set) var childMajorFaults = 0
    public internal(set) var children: [Int] = []
    public internal(set) var kernelStack: KernelStack?
    /// `/proc/PID/oom_score_adj` (-1000 … 1000).
    public var oomScoreAdj = 0
    /// `RLIMIT_STACK` soft limit in bytes (8 MiB by default).
    public internal(set) var stackLimit: UInt64 = 8 << 20
    /// `RLIMIT_AS` and `RLIMIT_DATA` in bytes (`RLIM_INFINITY` by default); see Rlimit.swift.
    public internal(set) var addressSpaceLimit = UInt64.max
    public internal(set) var dataLimit = UInt64.max
    /// The descriptor table (`files_struct`): fd → open file id.
    public internal(set) var files: [Int: Int] = [:]
    /// Time spent waiting for block I/O (`delayacct_blkio_ticks`, in nanoseconds).
    public internal(set) var blkioDelay: UInt64 = 0
    /// The fault signals this task has a handler for (`sighand->action[]` not `SIG_DFL`; see
    /// Signal.swift). Inherited at `fork`; a new image (`spawn`) starts without any.
    public internal(set) var caughtSignals: Set<Signal> = []
    /// How many of each signal its handler caught, and the last one's `siginfo_t`. Linux keeps
    /// no such counter: these stand for the variables a handler writes (`n_caught++`, `si_code`,
    /// `si_addr`), so they live in the program's memory — `fork` copies them and
    /// `reset counters` leaves them.
    public internal(set) var signalsCaught: [Signal: Int] = [:]
    public internal(set) var lastCaughtSignal: SignalInfo?
    public var isKernelThread: Bool { self.mm == nil }
    var object: UInt64 = 0

    init(pid: Int, name: String, parentPID: Int) {
        self.pid = pid
        self.name = String(name.prefix(15))
        self.parentPID = parentPID
    }
}
