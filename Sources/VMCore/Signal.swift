import VMPaging
import VMTypes

/// What a task does with a fault signal: die of it (`SIG_DFL`), or run a handler that returns
/// past the faulting access, as a handler ending in `siglongjmp()` does.
///
/// Models the part of `struct sighand_struct` (include/linux/sched/signal.h) a fault signal
/// consults: `force_sig_fault()` (kernel/signal.c) queues the signal, and `get_signal()` either
/// kills the task (`SIG_DFL` of SIGSEGV/SIGBUS: `do_group_exit()` with a core dump) or sets up the
/// handler's frame. Simplified: there are no masks, no `SA_RESETHAND`/`SA_NODEFER`, no
/// `SIG_IGN` (a fault signal that is ignored or blocked is forced back to `SIG_DFL` by
/// `force_sig_info_to_task()`, so it kills anyway), and the handler is not run as code: its
/// signal frame is taken to land on stack pages that are already present, so delivery costs no
/// page fault — as `tools/kernel-truth/signals.c` measured once its handler had run once: 0
/// `ru_minflt` for every caught SIGSEGV and SIGBUS.
extension Kernel {
    /// `sigaction(2)` of a handler (`catching`) or `SIG_DFL` for `signal`. SIGKILL can be neither
    /// caught nor reset (EINVAL, `do_sigaction()`: `sig_kernel_only()`).
    public func sigaction(_ task: Task, _ signal: Signal, catching: Bool) throws(MMError) {
        guard signal != .sigkill else { throw .invalid("SIGKILL cannot be caught") }
        if catching {
            task.caughtSignals.insert(signal)
        } else {
            task.caughtSignals.remove(signal)
        }
    }

    /// A fault signal for `task` (`force_sig_fault()` from `bad_area()`/`do_sigbus()` in
    /// arch/x86/mm/fault.c). With a handler, the task lives on: the handler's count and the last
    /// `siginfo_t` are recorded and the caller abandons the access (returns `true`). Without one the
    /// kernel logs `show_signal_msg()`'s line (only for an unhandled SIGSEGV: `unhandled_signal()`;
    /// vmsim also logs SIGBUS, which x86's `do_sigbus()` does not) and kills the task.
    func deliverFaultSignal(_ task: Task, _ info: SignalInfo, errorCode: PFErrorCode) -> Bool {
        let caught = task.caughtSignals.contains(info.signal)
        self.emit(.signal(pid: task.pid, info, caught: caught))
        if caught {
            task.signalsCaught[info.signal, default: 0] += 1
            task.lastCaughtSignal = info
            return true
        }
        self.printk(
            "\(task.name)[\(task.pid)]: \(info.signal == .sigbus ? "bus error" : "segfault") at \(hexDigits(info.address, width: 0)) error \(hexDigits(UInt64(errorCode.rawValue), width: 0)) (\(info))"
        )
        self.exitTask(task, reason: .killed(info.signal))
        return false
    }
}

extension Signal {
    /// The bit of `signal` in `/proc/PID/status`'s `SigPnd`/`SigBlk`/`SigIgn`/`SigCgt` masks
    /// (`render_sigset_t()`, fs/proc/array.c: bit `signo - 1`).
    public var maskBit: UInt64 { 1 << UInt64(self.rawValue - 1) }
}

extension SignalCode {
    /// The `si_code` number (include/uapi/asm-generic/siginfo.h): `SEGV_MAPERR` 1, `SEGV_ACCERR`
    /// 2, `BUS_ADRERR` 2, `SI_KERNEL` 0x80. The numbers of different signals overlap, as in C.
    public var number: UInt64 {
        switch self {
        case .mapError: return 1
        case .accessError, .addressError: return 2
        case .kernel: return 0x80
        }
    }
}
