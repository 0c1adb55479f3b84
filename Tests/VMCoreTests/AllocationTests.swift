import AllocationCounter
import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

/// The kernel's hot paths hold to an allocation budget, counted with the test binary's
/// allocation counter (`AllocationCounter`), as SwiftNIO's allocation tests do: an access to a
/// resident page allocates nothing, and each kind of fault allocates at most a small constant
/// — so the simulator's cost per access does not hide heap traffic that grows with the run.
///
/// Each budget is per fault, measured over many faults so one-time growth (an array's capacity,
/// a tree node) averages out; the numbers stated here are what a fault needs today, with a
/// little room: exceeding them means a change added work per fault.
@Suite struct AllocationTests {
    func machine(memory: UInt64 = 64 << 20, swap: UInt64 = 0) throws -> Kernel {
        var config = MachineConfig()
        config.memory = memory
        config.swap = swap
        return try Kernel(config: config)
    }

    /// Allocations the calling thread makes in `body`, or nil where counting is unsupported.
    func allocations(_ body: () -> Void) -> Int? {
        vmsim_allocation_counter_start()
        body()
        let n = vmsim_allocation_counter_stop()
        return n < 0 ? nil : n
    }

    /// Reads and writes of resident, writable pages: no fault, no allocation at all.
    @Test func accessesToResidentPagesDoNotAllocate() throws {
        let k = try self.machine()
        let t = try k.spawn(name: "p")
        let start = try k.mmap(t, MapRequest(length: 64 << 12, protection: [.read, .write], shared: false))
        for i in 0..<64 { _ = k.write(t, start + UInt64(i) << 12, 1) }
        guard
            let n = self.allocations({
                for i in 0..<100_000 {
                    let r = k.userAccess(
                        t, address: start + UInt64(i % 64) << 12, access: i % 3 == 0 ? .write : .read)
                    precondition(r.value != nil)
                }
            })
        else { return }
        #expect(n == 0, "100,000 resident accesses made \(n) allocations")
    }

    /// `do_anonymous_page()` for a write: a zeroed frame, its PTE, rmap and LRU entry — at most
    /// 1 allocation per fault on average (page-table pages and LRU bookkeeping live in
    /// simulated frames and preallocated arrays).
    @Test func anonymousFaultsAllocateAtMostOneEach() throws {
        let k = try self.machine()
        let t = try k.spawn(name: "p")
        let pages = 4096
        let start = try k.mmap(
            t, MapRequest(length: UInt64(pages) << 12, protection: [.read, .write], shared: false))
        _ = k.write(t, start, 1)  // the anon_vma and the first tables
        guard
            let n = self.allocations({
                for i in 1..<pages {
                    _ = k.userAccess(t, address: start + UInt64(i) << 12, access: .write, value: 1)
                }
            })
        else { return }
        #expect(t.minorFaults == pages)
        #expect(n <= pages - 1, "\(pages - 1) anonymous faults made \(n) allocations")
    }

    /// `do_wp_page()` copying after `fork`: at most 1 allocation per COW fault on average.
    @Test func copyOnWriteFaultsAllocateAtMostOneEach() throws {
        let k = try self.machine()
        let parent = try k.spawn(name: "p")
        let pages = 2048
        let start = try k.mmap(
            parent, MapRequest(length: UInt64(pages) << 12, protection: [.read, .write], shared: false))
        for i in 0..<pages { _ = k.write(parent, start + UInt64(i) << 12, UInt64(i)) }
        let child = try k.fork(parent)
        _ = k.write(child, start, 7)
        let before = child.minorFaults
        guard
            let n = self.allocations({
                for i in 1..<pages {
                    _ = k.userAccess(child, address: start + UInt64(i) << 12, access: .write, value: 7)
                }
            })
        else { return }
        #expect(child.minorFaults - before == pages - 1)
        #expect(k.phys.events(.pgreuse) == 0)
        #expect(n <= pages - 1, "\(pages - 1) COW faults made \(n) allocations")
    }

    /// `do_swap_page()` with free memory (no reclaim on the way): the page, its swap-cache entry
    /// and the readahead around it — at most 4 allocations per swap-in fault on average.
    @Test func swapInFaultsAllocateAFewEach() throws {
        let k = try self.machine(memory: 64 << 20, swap: 256 << 20)
        let a = try k.spawn(name: "a")
        let pages = 8192  // 32 MiB
        let start = try k.mmap(
            a, MapRequest(length: UInt64(pages) << 12, protection: [.read, .write], shared: false))
        for i in 0..<pages { _ = k.write(a, start + UInt64(i) << 12, UInt64(i)) }
        // A second process pushes most of a's pages to swap, then leaves memory free.
        let b = try k.spawn(name: "b")
        let bStart = try k.mmap(
            b, MapRequest(length: UInt64(pages) << 12, protection: [.read, .write], shared: false))
        for i in 0..<pages { _ = k.write(b, bStart + UInt64(i) << 12, 1) }
        k.exitTask(b, reason: .exited(code: 0))
        k.advanceClock(by: 1_000_000_000)  // writeback done
        let swapped = a.mm!.counter(.swapEntries)
        #expect(swapped > pages / 2)
        let majorBefore = a.majorFaults
        let minorBefore = a.minorFaults
        guard
            let n = self.allocations({
                for i in 0..<pages { _ = k.userAccess(a, address: start + UInt64(i) << 12, access: .read) }
            })
        else { return }
        let faults = a.majorFaults - majorBefore + a.minorFaults - minorBefore
        #expect(faults >= swapped / 8)
        #expect(n <= 4 * swapped, "\(swapped) pages swapped in (\(faults) faults) made \(n) allocations")
        for i in 0..<pages { #expect(k.read(a, start + UInt64(i) << 12).value == UInt64(i)) }
    }
}
