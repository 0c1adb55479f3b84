import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

/// Swap areas, slots, readahead and reclaim behaviour under pressure.
@Suite struct SwapTests {
    func machine(memory: UInt64 = 64 << 20, swap: UInt64 = 128 << 20, disk: DiskKind = .ssd) -> Kernel {
        var config = MachineConfig()
        config.memory = memory
        config.swap = swap
        config.disk = disk
        do { return try Kernel(config: config) } catch { fatalError("boot: \(error)") }
    }

    /// Writes `pages` pages of a new private anonymous area; returns its start.
    func fill(_ k: Kernel, _ t: Task, pages: Int, value: UInt64 = 1) throws -> UInt64 {
        let start = try k.mmap(
            t, MapRequest(length: UInt64(pages) << 12, protection: [.read, .write], shared: false))
        for i in 0..<pages {
            _ = k.userAccess(t, address: start + UInt64(i) << 12, access: .write, value: value &+ UInt64(i))
        }
        return start
    }

    @Test func theSwapinWindowFollowsTheKernelHeuristic() {
        // No hits: one page, unless the fault is next to the previous one.
        #expect(Kernel.swapinPages(prevOffset: 100, offset: 500, hits: 0, maxPages: 8, prevWindow: 0) == 1)
        #expect(Kernel.swapinPages(prevOffset: 100, offset: 101, hits: 0, maxPages: 8, prevWindow: 0) == 2)
        // Hits grow it to a power of two, at most 2^page-cluster, and it shrinks at most by half.
        #expect(Kernel.swapinPages(prevOffset: 0, offset: 500, hits: 1, maxPages: 8, prevWindow: 0) == 4)
        #expect(Kernel.swapinPages(prevOffset: 0, offset: 500, hits: 6, maxPages: 8, prevWindow: 0) == 8)
        #expect(Kernel.swapinPages(prevOffset: 0, offset: 500, hits: 0, maxPages: 8, prevWindow: 8) == 4)
    }

    @Test func equalPrioritiesTakeTurnsAndAHigherPriorityComesFirst() throws {
        let k = self.machine(swap: 0)
        try k.swapon("/dev/sdb1", size: 8 << 20, kind: .partition, priority: 5)
        try k.swapon("/dev/sdc1", size: 8 << 20, kind: .partition, priority: 5)
        var types: [Int] = []
        for _ in 0..<4 { types.append(k.getSwapSlot()!.type) }
        #expect(types == [0, 1, 0, 1])
        try k.swapon("/dev/sdd1", size: 8 << 20, kind: .partition, priority: 10)
        #expect(k.getSwapSlot()!.type == 2)
        // Without a priority, areas get -2, -3, … (least_priority).
        let auto = try k.swapon("/swap.a", size: 1 << 20, kind: .file)
        let auto2 = try k.swapon("/swap.b", size: 1 << 20, kind: .file)
        #expect(auto.priority == -2 && auto2.priority == -3)
    }

    @Test func slotsAreHandedOutInClusterOrder() throws {
        let k = self.machine(swap: 4 << 20)
        var offsets: [UInt64] = []
        for _ in 0..<10 { offsets.append(k.getSwapSlot()!.offset) }
        #expect(offsets == Array(1...10))  // slot 0 is the header
        // A freed slot behind the cursor is not reused while the cluster has room ahead.
        let area = k.swapAreas[0]
        area.clearCached(3)
        #expect(k.getSwapSlot()!.offset == 11)
        #expect(area.inUse == 10)
    }

    @Test func pressureSwapsPagesOutAndEveryValueComesBack() throws {
        let k = self.machine()
        let anonBaseline = k.phys.state(.nrAnonPages)
        let t = try k.spawn(name: "big")
        let pages = 80 << 8  // 80 MiB on a 64 MiB machine
        let start = try self.fill(k, t, pages: pages)
        #expect(k.phys.events(.pswpout) > 0)
        #expect(k.phys.events(.pgstealKswapd) > 0 || k.phys.events(.pgstealDirect) > 0)
        #expect(t.mm!.counter(.swapEntries) > 0)
        #expect(k.checkInvariants().isEmpty)
        for i in 0..<pages {
            #expect(k.userAccess(t, address: start + UInt64(i) << 12, access: .read).value == 1 &+ UInt64(i))
        }
        #expect(t.majorFaults > 0)
        #expect(k.phys.events(.pswpin) > 0)
        #expect(k.checkInvariants().isEmpty)
        k.exitTask(t, reason: .exited(code: 0))
        // Nothing leaks: the slots and anonymous pages left are init's.
        let left = k.addressSpaces.values.reduce(0) { $0 + $1.counter(.swapEntries) }
        #expect(Int(k.swapAreas[0].inUse) == left + k.swap.cache.count)
        #expect(k.phys.state(.nrAnonPages) + left == anonBaseline)
        #expect(k.checkInvariants().isEmpty)
    }

    /// Linux 6.18's kswapd stops when the node is balanced: some zone the allocations may use
    /// has its high watermark (plus the lowmem reserve they must leave) free
    /// (`pgdat_balanced()`); every zone stays above its min watermark.
    @Test func kswapdLeavesTheNodeBalanced() throws {
        let k = self.machine(memory: 128 << 20, swap: 256 << 20)
        let t = try k.spawn(name: "w")
        _ = try self.fill(k, t, pages: 160 << 8)
        // Let the writes complete and kswapd finish.
        k.advanceClock(by: 2_000_000_000)
        #expect(k.reclaim.kswapdRuns > 0)
        let highest = k.phys.zones.lastIndex { $0.managedPages > 0 }!
        #expect(k.nodeBalanced(order: 0, highestZone: highest))
        for zone in k.phys.zones where zone.managedPages > 0 {
            #expect(
                zone.freePages >= zone.minWatermark, "\(zone.type): \(zone.freePages) < \(zone.minWatermark)")
        }
        #expect(k.checkInvariants().isEmpty)
    }

    /// The kswapd of the notes (2.4, `kswapd=periodic`): after it runs, every zone has at least
    /// `pages_high` free.
    @Test func thePeriodicKswapdLeavesEveryZoneAtOrAboveItsHighWatermark() throws {
        var config = MachineConfig()
        config.memory = 128 << 20
        config.swap = 256 << 20
        config.periodicKswapd = true
        let k = try Kernel(config: config)
        let t = try k.spawn(name: "w")
        _ = try self.fill(k, t, pages: 160 << 8)
        k.advanceClock(by: 3_000_000_000)
        for zone in k.phys.zones where zone.managedPages > 0 {
            #expect(
                zone.freePages >= zone.highWatermark,
                "\(zone.type): \(zone.freePages) < \(zone.highWatermark)")
        }
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func swapoffBringsEveryPageBackOrFailsWhenMemoryIsShort() throws {
        let k = self.machine(swap: 0)
        try k.swapon("/dev/sda2", size: 128 << 20, kind: .partition)
        let t = try k.spawn(name: "p")
        let pages = 80 << 8
        let start = try self.fill(k, t, pages: pages, value: 7)
        #expect(throws: MMError.self) { try k.swapoff("/dev/sda2") }
        #expect(k.swapAreas.count == 1)
        // Drop 40 MiB: what is left fits in memory.
        try k.munmap(t, address: start, length: UInt64(pages / 2) << 12)
        try k.swapoff("/dev/sda2")
        #expect(k.swapAreas.isEmpty)
        #expect(t.mm!.counter(.swapEntries) == 0)
        for i in (pages / 2)..<pages {
            #expect(k.userAccess(t, address: start + UInt64(i) << 12, access: .read).value == 7 &+ UInt64(i))
        }
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func sharedMemoryIsSwappedOutAndBack() throws {
        let k = self.machine()
        let parent = try k.spawn(name: "parent")
        let pages = 32 << 8
        let shm = try k.mmap(
            parent, MapRequest(length: UInt64(pages) << 12, protection: [.read, .write], shared: true))
        for i in 0..<pages {
            _ = k.userAccess(parent, address: shm + UInt64(i) << 12, access: .write, value: UInt64(i))
        }
        let child = try k.fork(parent)
        // Push the shmem pages out with anonymous memory.
        _ = try self.fill(k, parent, pages: 48 << 8)
        #expect(k.phys.state(.nrShmem) < pages)
        for i in 0..<pages {
            #expect(k.userAccess(child, address: shm + UInt64(i) << 12, access: .read).value == UInt64(i))
        }
        #expect(child.majorFaults > 0)
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func dirtyFilePagesAreWrittenBackBeforeReclaimDropsThem() throws {
        let k = self.machine()
        try k.installFile("/d/f", size: 16 << 20, cached: true)
        let t = try k.spawn(name: "p")
        let fd = try k.open(t, "/d/f")
        try k.write(t, fd: fd, offset: 0, length: 16 << 20, value: 9)
        #expect(k.phys.state(.nrDirty) > 0)
        _ = try self.fill(k, t, pages: 64 << 8)
        // The file's pages went (written first); reading them back gets the data from disk.
        #expect(k.file(at: "/d/f")!.cachedPages < 4096)
        #expect(try k.read(t, fd: fd, offset: 8 << 20, length: 1) == [9])
        #expect(try k.read(t, fd: fd, offset: 0, length: 1) == [9])
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func mlockedPagesStayInMemory() throws {
        let k = self.machine()
        let t = try k.spawn(name: "p")
        let locked = try k.mmap(t, MapRequest(length: 4 << 20, protection: [.read, .write], shared: false))
        try k.mlock(t, address: locked, length: 4 << 20, lock: true)
        _ = try self.fill(k, t, pages: 80 << 8)
        var present = 0
        k.pageTables.forEachPTE(root: t.mm!.pgd, range: locked..<(locked + (4 << 20))) { _, pte in
            if pte.isPresent { present += 1 }
        }
        #expect(present == 1024)
        #expect(k.lruSize(.unevictable) >= 1024)
    }

    @Test func thePeriodicKswapdWakesOnceASecond() throws {
        var config = MachineConfig()
        config.memory = 64 << 20
        config.swap = 128 << 20
        config.periodicKswapd = true
        let k = try Kernel(config: config)
        let t = try k.spawn(name: "p")
        _ = try self.fill(k, t, pages: 60 << 8)
        let runs = k.reclaim.kswapdRuns
        k.advanceClock(by: 3_000_000_000)
        #expect(k.reclaim.kswapdRuns > runs)
        #expect(k.phys.zones.allSatisfy { $0.managedPages == 0 || $0.freePages >= $0.highWatermark })
    }

    @Test func theShrinkersFreeUnusedDentriesAndInodesUnderPressure() throws {
        let k = self.machine()
        for i in 0..<200 { try k.installFile("/many/f\(i)", size: 4096, cached: true) }
        let dentries = k.vfs.unusedDentries
        #expect(dentries >= 200)
        let t = try k.spawn(name: "p")
        _ = try self.fill(k, t, pages: 80 << 8)
        #expect(k.vfs.unusedDentries < dentries)
        #expect(k.phys.events(.slabsScanned) > 0)
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func withoutSwapTheOOMKillerPicksTheLargestProcess() throws {
        let k = self.machine(swap: 0)
        let small = try k.spawn(name: "small")
        _ = try self.fill(k, small, pages: 1024)
        let hog = try k.spawn(name: "hog")
        let start = try k.mmap(hog, MapRequest(length: 50 << 20, protection: [.read, .write], shared: false))
        var result: AccessResult = .ok(value: 0)
        for i in 0..<(50 << 8) {
            result = k.userAccess(hog, address: start + UInt64(i) << 12, access: .write, value: 1)
            if result.value == nil { break }
        }
        #expect(result == .outOfMemory)
        #expect(hog.state != .running)
        #expect(small.state == .running)
        #expect(k.phys.events(.oomKill) == 1)
        #expect(k.phys.log.text.contains("Out of memory: Killed process \(hog.pid) (hog)"))
        #expect(k.checkInvariants().isEmpty)
    }
}
