import VMTypes

/// The resource limits of a process's address space (`setrlimit(2)`, kernel/sys.c), and the
/// check every mapping's growth passes (`may_expand_vm()`, mm/mmap.c).
public enum RlimitResource: String, Sendable, CaseIterable {
    /// `RLIMIT_STACK`: how far the stack may grow (`acct_stack_growth()`).
    case stack
    /// `RLIMIT_AS`: all of the address space, `total_vm`.
    case addressSpace = "as"
    /// `RLIMIT_DATA`: private writable non-stack mappings, `data_vm`, and the heap (`brk`).
    case data
}

extension Kernel {
    /// `RLIM_INFINITY`.
    public static let rlimInfinity = UInt64.max

    /// `setrlimit(2)` of the soft and hard limit together. Only raising a limit needs
    /// CAP_SYS_RESOURCE, which a scenario's processes (root) have. A new stack limit applies to
    /// the growth of the existing stack at once; Linux also uses it at the next `execve` to place
    /// `mmap_base`, which vmsim does not (its layout is fixed).
    public func setrlimit(_ task: Task, _ resource: RlimitResource, _ value: UInt64) {
        switch resource {
        case .stack: task.stackLimit = value
        case .addressSpace: task.addressSpaceLimit = value
        case .data: task.dataLimit = value
        }
    }

    /// The current limit (`getrlimit(2)`).
    public func getrlimit(_ task: Task, _ resource: RlimitResource) -> UInt64 {
        switch resource {
        case .stack: return task.stackLimit
        case .addressSpace: return task.addressSpaceLimit
        case .data: return task.dataLimit
        }
    }

    /// `may_expand_vm()`: may `mm` grow by `pages` pages of a mapping with `flags`? No past
    /// `RLIMIT_AS`; no past `RLIMIT_DATA` for a data mapping (`is_data_mapping()`: writable, not
    /// shared, not a stack) — with `ignore_rlimit_data` off, as by default. Returns the limit the
    /// growth would exceed, nil when it may grow.
    func vmLimitExceeded(_ task: Task, _ mm: AddressSpace, _ flags: VMFlags, pages: Int) -> RlimitResource? {
        let shift = UInt64(self.phys.pageShift)
        if UInt64(max(mm.totalVM + pages, 0)) > task.addressSpaceLimit >> shift { return .addressSpace }
        if flags.isDataMapping,
            UInt64(max(mm.dataVM + pages, 0)) > task.dataLimit >> shift
        {
            return .data
        }
        return nil
    }

    func mayExpandVM(_ task: Task, _ mm: AddressSpace, _ flags: VMFlags, pages: Int) -> Bool {
        self.vmLimitExceeded(task, mm, flags, pages: pages) == nil
    }

    /// The ENOMEM of a growth past `resource`, naming the limit.
    func overLimit(_ task: Task, _ resource: RlimitResource) -> MMError {
        let name =
            resource == .addressSpace ? "RLIMIT_AS" : resource == .data ? "RLIMIT_DATA" : "RLIMIT_STACK"
        return .noMemory("over \(name) (\(ByteSize.human(self.getrlimit(task, resource))))")
    }
}

extension VMFlags {
    /// `is_data_mapping()`: writable, not shared, not a stack (VM_STACK is VM_GROWSDOWN on x86) —
    /// what `data_vm` counts and `RLIMIT_DATA` limits.
    var isDataMapping: Bool { self.intersection([.write, .shared, .growsDown]) == .write }
}
