import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

/// Reclaim with swap to spare: a workload whose memory fits in RAM + swap is never OOM-killed,
/// whatever the disk and the kswapd model, and keeps every word it wrote; one that does not fit
/// is. kswapd and direct reclaim count writeback in flight as progress (mm/vmscan.c
/// `reclaim_throttle(VMSCAN_THROTTLE_WRITEBACK)`, mm/page_alloc.c `should_reclaim_retry()`), so
/// they write out about the deficit, not the whole swap area.
@Suite struct ReclaimWithSwapTests {
    func machine(memory: UInt64, swap: UInt64, disk: DiskKind = .ssd, kswapd: KswapdMode = .modern) -> Kernel
    {
        var config = MachineConfig()
        config.memory = memory
        config.swap = swap
        config.disk = disk
        config.periodicKswapd = kswapd == .periodic
        do { return try Kernel(config: config) } catch { fatalError("boot: \(error)") }
    }

    /// What one writer of `pages` pages of a private anonymous area did.
    struct Outcome {
        var killed: Bool
        /// Pages whose word read back wrong (counted only if the writer survived).
        var lost: Int
        /// Pages written to swap while the area was written (`pswpout`).
        var swappedOut: UInt64
        /// Free pages before the write.
        var freeBefore: Int
    }

    /// Spawns a process that writes `pages` pages (page i holds `i + 1`), then, if it is still
    /// alive, reads every page back.
    func writeAndReadBack(_ k: Kernel, pages: Int) throws -> Outcome {
        let t = try k.spawn(name: "writer")
        // MAP_NORESERVE: the overcommit heuristic would refuse an area larger than RAM + swap.
        var request = MapRequest(length: UInt64(pages) << 12, protection: [.read, .write], shared: false)
        request.noReserve = true
        let start = try k.mmap(t, request)
        let freeBefore = k.freeAndPCP
        let swappedBefore = k.phys.events(.pswpout)
        for i in 0..<pages {
            let result = k.userAccess(
                t, address: start + UInt64(i) << 12, access: .write, value: UInt64(i) + 1)
            if result == .outOfMemory { break }
        }
        let swappedOut = k.phys.events(.pswpout) - swappedBefore
        guard t.state == .running else {
            return Outcome(killed: true, lost: 0, swappedOut: swappedOut, freeBefore: freeBefore)
        }
        var lost = 0
        for i in 0..<pages where k.read(t, start + UInt64(i) << 12).value != UInt64(i) + 1 { lost += 1 }
        return Outcome(
            killed: t.state != .running, lost: lost, swappedOut: swappedOut, freeBefore: freeBefore)
    }

    /// Σ high watermarks: what kswapd reclaims toward on each wake.
    func highWatermarks(_ k: Kernel) -> Int { k.phys.zones.reduce(0) { $0 + $1.highWatermark } }

    @Test func aWriterOfNearlyAllRAMIsNotKilledAndKswapdWritesOnlyTheDeficit() throws {
        // Issue 11, class 6 (a): 1 GiB + 512 MiB of swap, one process writes 990 MiB. It used to
        // be killed with the whole swap area under writeback and ~490 MB free after the kill.
        let k = self.machine(memory: 1 << 30, swap: 512 << 20)
        let pages = 990 << 8
        let outcome = try self.writeAndReadBack(k, pages: pages)
        #expect(!outcome.killed)
        #expect(outcome.lost == 0)
        #expect(k.phys.events(.oomKill) == 0)
        // The deficit is what did not fit in free memory (page tables included); reclaim writes
        // that plus at most a few watermarks' worth — not the 131,071 pages of the swap area.
        let deficit = pages + pages / 512 - outcome.freeBefore
        #expect(outcome.swappedOut > 0)
        #expect(Int(outcome.swappedOut) <= max(deficit, 0) + 3 * self.highWatermarks(k))
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func thePeriodicKswapdsWriterThatFitsInSwapIsNotKilled() throws {
        // Issue 11, class 6 (b): with kswapd=periodic, 64 MiB + 128 MiB, a 96 MiB write used to
        // be OOM-killed with 79 MiB of swap free.
        let k = self.machine(memory: 64 << 20, swap: 128 << 20, kswapd: .periodic)
        let outcome = try self.writeAndReadBack(k, pages: 96 << 8)
        #expect(!outcome.killed)
        #expect(outcome.lost == 0)
        #expect(k.phys.events(.oomKill) == 0)
        #expect(k.checkInvariants().isEmpty)
    }

    static let machines: [(DiskKind, KswapdMode)] = [
        (.hdd, .modern), (.ssd, .modern), (.nvme, .modern), (.hdd, .periodic), (.ssd, .periodic),
        (.nvme, .periodic),
    ]

    @Test(arguments: machines)
    func aWriterThatFitsInRAMPlusSwapKeepsAllItsData(disk: DiskKind, kswapd: KswapdMode) throws {
        // 96 MiB on a 64 MiB machine with 64 MiB of swap: fits, with about 16 MiB to spare.
        let k = self.machine(memory: 64 << 20, swap: 64 << 20, disk: disk, kswapd: kswapd)
        let outcome = try self.writeAndReadBack(k, pages: 96 << 8)
        #expect(!outcome.killed)
        #expect(outcome.lost == 0)
        #expect(k.phys.events(.oomKill) == 0)
        #expect(k.checkInvariants().isEmpty)
    }

    @Test(arguments: machines)
    func aWriterBiggerThanRAMPlusSwapIsKilledOnceSwapIsFull(disk: DiskKind, kswapd: KswapdMode) throws {
        // 128 MiB on a 64 MiB machine with 32 MiB of swap: cannot fit.
        let k = self.machine(memory: 64 << 20, swap: 32 << 20, disk: disk, kswapd: kswapd)
        let outcome = try self.writeAndReadBack(k, pages: 128 << 8)
        #expect(outcome.killed)
        #expect(k.phys.events(.oomKill) == 1)
        // The OOM killer came only when nothing was left to try: swap full, no writeback in flight.
        let report = k.phys.log.entries.map(\.text)
        #expect(report.contains("Free swap  = 0kB"))
        #expect(report.contains { $0.hasPrefix(" unevictable:") && $0.hasSuffix(" writeback:0") })
        #expect(k.checkInvariants().isEmpty)
    }
}
