import Testing
import VMPhys
import VMTypes

@testable import VMCore

/// Pressure stall information for memory (kernel/sched/psi.c): totals, the 2 s averaging
/// periods and the load-average decay, and the stalls the kernel charges.
@Suite struct PsiTests {
    /// One second stalled in the first 2 s period: 50 % sampled into the three averages with
    /// `calc_load()` (FIXED_1 2048, EXP_10s 1677, EXP_60s 1981, EXP_300s 2034): 9.05, 1.63 and
    /// 0.34 as `psi_show()` prints them; total in µs.
    @Test func aHalfStalledPeriodAveragesAsTheKernelDoes() {
        var psi = PSIGroup()
        psi.stall(from: 500_000_000, to: 1_500_000_000, full: false)
        #expect(psi.text().hasPrefix("some avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n"))
        psi.advance(to: 2_000_000_000)
        #expect(
            psi.text()
                == "some avg10=9.05 avg60=1.63 avg300=0.34 total=1000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
        )
        // Idle periods decay the averages; the total stays.
        psi.advance(to: 12_000_000_000)
        #expect(psi.avgSome[0] < psi.avgSome[1] * 6)
        #expect(psi.avgSome[0] > 0)
        #expect(psi.someTotal == 1_000_000_000)
    }

    /// A stall across a period boundary is split between the periods it spans.
    @Test func aStallAcrossPeriodsIsSplit() {
        var a = PSIGroup()
        a.stall(from: 1_000_000_000, to: 3_000_000_000, full: true)
        a.advance(to: 4_000_000_000)
        var b = PSIGroup()
        b.stall(from: 1_000_000_000, to: 2_000_000_000, full: true)
        b.stall(from: 2_000_000_000, to: 3_000_000_000, full: true)
        b.advance(to: 4_000_000_000)
        #expect(a.avgSome == b.avgSome)
        #expect(a.fullTotal == 2_000_000_000)
    }

    /// Throttling over memory.high is a memory stall of the task's cgroup and of the system:
    /// at least the penalty slept, and nothing for a cgroup that never stalled.
    @Test func memoryHighThrottlingIsPressure() throws {
        var config = MachineConfig()
        config.memory = 256 << 20
        // No swap: nothing of the cgroup's to reclaim, so it sleeps the memory.high penalty.
        let k = try Kernel(config: config)
        let g = try k.memcgCreate("/batch")
        let quiet = try k.memcgCreate("/quiet")
        _ = k.memcgWrite(g, .high, pages: 4096)
        let t = try k.spawn(name: "job", memcg: g)
        _ = try k.spawn(name: "idle", memcg: quiet)
        let size: UInt64 = 48 << 20
        let base = try k.mmap(t, MapRequest(length: size, protection: [.read, .write], shared: false))
        for a in stride(from: base, to: base + size, by: 4096) {
            _ = k.userAccess(t, address: a, access: .write, value: 1)
        }
        #expect(g.throttledNanos > 0)
        #expect(g.psi.someTotal >= g.throttledNanos)
        #expect(k.reclaim.psi.someTotal == g.psi.someTotal)
        #expect(quiet.psi.someTotal == 0)
        #expect(
            k.psiText(quiet)
                == "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
        )
    }
}
