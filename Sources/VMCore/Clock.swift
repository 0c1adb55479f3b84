import VMTypes

/// The simulated clock and the kernel's timers.
///
/// Time advances only when a task runs (`Kernel.chargeCPU`), waits, or a scenario says `tick`;
/// what falls due on the way — the flusher's periodic wake-up (`wb_workfn`'s delayed work,
/// mm/page-writeback.c), the 2.4-style kswapd's one-second timer, and disk completions, which
/// the block layer keeps — runs in time order. `nextDue` is the earliest of them, so the
/// per-access check is one comparison.
///
/// Simplified: Linux has jiffies, hrtimers and workqueues; here a timer is a deadline per
/// kind, and only the timers memory management uses exist.
public final class Clock {
    /// The kernel's timers.
    public enum Timer: Int, CaseIterable, Sendable {
        /// The flusher's next periodic writeback (`dirty_writeback_centisecs`).
        case flusher
        /// The periodic kswapd's next wake-up.
        case kswapd
    }

    /// Simulated time in nanoseconds since boot.
    public private(set) var now: UInt64 = 0
    /// The earliest time anything may be due (a timer or a disk completion); `.max` when idle.
    private(set) var nextDue: UInt64 = .max
    private var deadlines: [UInt64?] = Array(repeating: nil, count: Timer.allCases.count)

    init() {}

    /// When `timer` fires next, if it is armed.
    public func deadline(_ timer: Timer) -> UInt64? { self.deadlines[timer.rawValue] }

    /// The earliest armed timer.
    var nextTimer: UInt64? { self.deadlines.compactMap { $0 }.min() }

    /// Arms `timer` to fire at `time` (`mod_timer()`, `queue_delayed_work()`).
    func arm(_ timer: Timer, at time: UInt64) {
        self.deadlines[timer.rawValue] = time
        self.noteEvent(at: time)
    }

    /// Disarms `timer` (`del_timer()`, `cancel_delayed_work()`).
    func cancel(_ timer: Timer) { self.deadlines[timer.rawValue] = nil }

    /// Something (a disk completion) is due at `time`.
    func noteEvent(at time: UInt64) { self.nextDue = min(self.nextDue, time) }

    /// After due events ran: the next thing due, if any.
    func setNextDue(_ time: UInt64?) { self.nextDue = time ?? .max }

    /// Sets the time; it never goes backwards.
    func advance(to time: UInt64) {
        precondition(time >= self.now, "Clock.advance: time would go backwards")
        self.now = time
    }
}
