import AllocationCounter
import Testing
import VMTypes

@testable import VMTrace

/// The policy replay loops allocate nothing per access, counted with the test binary's
/// allocation counter as SwiftNIO's allocation tests do: a replay ten times as long over the same
/// pages makes no more allocations than the short one (a policy reserves its per-page state for
/// the trace's distinct pages up front, and its queues and lists live in that state).
@Suite struct ReplayAllocationTests {
    /// Allocations the calling thread makes in `body`, or nil where counting is unsupported.
    func allocations(_ body: () -> Void) -> Int? {
        vmsim_allocation_counter_start()
        body()
        let n = vmsim_allocation_counter_stop()
        return n < 0 ? nil : n
    }

    /// A Zipf-like trace of `length` accesses over 3,000 pages (every page appears in the first
    /// 3,000 accesses, so both lengths have the same distinct pages), a third of them writes.
    static func trace(length: Int) -> DenseTrace {
        var rng = SeededGenerator(seed: 42)
        var pages: [UInt64] = (0..<3_000).map { UInt64($0) }
        var writes = [Bool](repeating: false, count: 3_000)
        while pages.count < length {
            let r = rng.next()
            // Squaring a uniform number skews it towards the low pages.
            let u = Double(r >> 11) / Double(1 << 53)
            pages.append(UInt64(u * u * 3_000))
            writes.append(r & 3 == 0)
        }
        return DenseTrace(name: "zipf", pages: pages, writes: writes)
    }

    @Test(arguments: PolicyKind.allCases)
    func aLongerReplayAllocatesNoMore(kind: PolicyKind) throws {
        let short = Self.trace(length: 20_000)
        let long = Self.trace(length: 200_000)
        let next = (short.nextUse(), long.nextUse())
        var counts = (ReplayCounts(), ReplayCounts())
        guard
            let a = self.allocations({ counts.0 = simulate(kind, frames: 500, trace: short, next: next.0) }),
            let b = self.allocations({ counts.1 = simulate(kind, frames: 500, trace: long, next: next.1) })
        else { return }
        // The replay did work: most accesses miss with 500 of 3,000 pages, evictions run.
        #expect(counts.1.accesses == 200_000 && counts.1.evictions > 10_000)
        #expect(a > 0, "the counter counts (making the policy allocates)")
        #expect(b <= a + 4, "\(kind.rawValue): 20,000 accesses made \(a) allocations, 200,000 made \(b)")
    }
}
