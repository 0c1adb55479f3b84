import VMPhys
import VMTypes

/// Pressure stall information for memory of one group — the system (`/proc/pressure/memory`)
/// or a cgroup (`memory.pressure`): `struct psi_group` (kernel/sched/psi.c) for `PSI_MEM`.
///
/// `some` is the time at least one task of the group was stalled on memory, `full` the time
/// all its non-idle tasks were; `total` counts it in ns, and the averages over 10 s, 60 s and
/// 300 s are updated every `PSI_FREQ` (2 s) from each period's share of stalled time
/// (`update_averages()`, `calc_avgs()`: fixed point with `FIXED_1` = 2048, the load-average
/// decay factors `EXP_10s` 1677, `EXP_60s` 1981, `EXP_300s` 2034).
public struct PSIGroup: Sendable {
    public internal(set) var someTotal: UInt64 = 0
    public internal(set) var fullTotal: UInt64 = 0
    /// `avg[PSI_MEM_SOME]`, `avg[PSI_MEM_FULL]`: percent in `FIXED_1` units.
    public internal(set) var avgSome = [0, 0, 0]
    public internal(set) var avgFull = [0, 0, 0]
    /// The period being accumulated (`avg_next_update - PSI_FREQ` …) and its stalled time.
    var periodStart: UInt64 = 0
    var periodSome: UInt64 = 0
    var periodFull: UInt64 = 0

    static let freq: UInt64 = 2_000_000_000
    static let fixed1 = 2048
    static let exps = [1677, 1981, 2034]

    /// `calc_load()`.
    static func calcLoad(_ load: Int, _ exp: Int, _ active: Int) -> Int {
        var newload = load * exp + active * (fixed1 - exp)
        if active >= load { newload += fixed1 - 1 }
        return newload / fixed1
    }

    /// Closes the periods that ended by `now` (`update_averages()`), each sampled with the
    /// stall it holds; periods with none decay the averages (`calc_load_n()` with 0).
    mutating func advance(to now: UInt64) {
        while self.periodStart + PSIGroup.freq <= now {
            let some = Int(min(self.periodSome, PSIGroup.freq) * 100 / PSIGroup.freq) * PSIGroup.fixed1
            let full = Int(min(self.periodFull, PSIGroup.freq) * 100 / PSIGroup.freq) * PSIGroup.fixed1
            for w in 0..<3 {
                self.avgSome[w] = PSIGroup.calcLoad(self.avgSome[w], PSIGroup.exps[w], some)
                self.avgFull[w] = PSIGroup.calcLoad(self.avgFull[w], PSIGroup.exps[w], full)
            }
            self.periodStart += PSIGroup.freq
            self.periodSome = 0
            self.periodFull = 0
            // Long idle: once every average has decayed to 0 the rest of the gap changes nothing.
            if self.avgSome.allSatisfy({ $0 == 0 }) && self.avgFull.allSatisfy({ $0 == 0 })
                && now > self.periodStart
            {
                self.periodStart += (now - self.periodStart) / PSIGroup.freq * PSIGroup.freq
            }
        }
    }

    /// Adds a stall from `start` to `end` (both ≥ the last one recorded), split over periods.
    mutating func stall(from start: UInt64, to end: UInt64, full: Bool) {
        guard end > start else { return }
        self.advance(to: start)
        var t = start
        while t < end {
            let boundary = self.periodStart + PSIGroup.freq
            let upto = min(end, boundary)
            self.periodSome += upto - t
            if full { self.periodFull += upto - t }
            t = upto
            if t == boundary { self.advance(to: t) }
        }
        self.someTotal += end - start
        if full { self.fullTotal += end - start }
    }

    /// The file's two lines (`psi_show()`): `some|full avg10=… avg60=… avg300=… total=µs`.
    public func text() -> String {
        func pct(_ x: Int) -> String {
            let int = x >> 11
            let frac = ((x & (PSIGroup.fixed1 - 1)) * 100) >> 11
            return "\(int).\(frac < 10 ? "0" : "")\(frac)"
        }
        func line(_ name: String, _ avg: [Int], _ total: UInt64) -> String {
            "\(name) avg10=\(pct(avg[0])) avg60=\(pct(avg[1])) avg300=\(pct(avg[2])) total=\(total / 1000)\n"
        }
        return line("some", self.avgSome, self.someTotal) + line("full", self.avgFull, self.fullTotal)
    }
}

/// Memory stalls (`psi_memstall_enter()`/`psi_memstall_leave()`): the time a task spends in
/// direct reclaim and cgroup reclaim (their waits for writeback — vmsim's reclaim itself takes
/// no simulated time), sleeping over `memory.high`, and waiting for the read of a page it is
/// refaulting from its workingset (`PG_workingset`, thrashing: `folio_wait_bit_common()`,
/// `swap_read_folio()`). Charged to the system and to the task's cgroup and its ancestors
/// below the root (the root cgroup's pressure is the system's).
///
/// Simplified: `full` is counted with `some`. vmsim runs one task at a time and the others
/// wait their turn as if idle, so when the running task stalls no task of its group is
/// productive. kswapd's own stalls are not counted (its work takes no simulated time).
extension Kernel {
    /// `/proc/pressure/memory`.
    public func psiSystemText() -> String {
        self.reclaim.psi.advance(to: self.now)
        return self.reclaim.psi.text()
    }

    /// `memory.pressure` of `g`.
    public func psiText(_ g: MemCgroup) -> String {
        if g.isRoot { return self.psiSystemText() }
        g.psi.advance(to: self.now)
        return g.psi.text()
    }

    /// `psi_memstall_enter()`: the current task starts a memory stall; nested stalls are one
    /// (`PF_MEMSTALL`). Returns the start for `psiMemstallLeave`, nil when already stalled.
    func psiMemstallEnter() -> UInt64? {
        self.reclaim.memstallDepth += 1
        return self.reclaim.memstallDepth == 1 ? self.now : nil
    }

    /// `psi_memstall_leave()`: the stall since `start` counts for the system and the current
    /// task's cgroups.
    func psiMemstallLeave(_ start: UInt64?) {
        self.reclaim.memstallDepth -= 1
        guard let start, self.now > start, let task = self.current else { return }
        self.reclaim.psi.stall(from: start, to: self.now, full: true)
        var group: MemCgroup? = self.memcg(of: task)
        while let g = group, !g.isRoot {
            g.psi.stall(from: start, to: self.now, full: true)
            group = g.parent
        }
    }
}
