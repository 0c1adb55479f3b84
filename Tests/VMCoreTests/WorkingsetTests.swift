import Testing
import VMPhys
import VMTypes

@testable import VMCore

/// Shadow entries and refault detection (mm/workingset.c): what reclaim leaves behind, what a
/// refault counts, and when it starts the page active — on the classic LRU.
@Suite struct WorkingsetTests {
    static let page: UInt64 = 4096

    func machine(memory: UInt64 = 256 << 20, swap: UInt64 = 0) throws -> Kernel {
        var config = MachineConfig()
        config.memory = memory
        config.swap = swap
        return try Kernel(config: config)
    }

    /// A cgroup `/a` with a task that has read `pages` pages of `/f`; memory.reclaim then
    /// evicts every clean page of it.
    func readThenReclaim(_ k: Kernel, pages: Int) throws -> (Task, MemCgroup, Int) {
        let g = try k.memcgCreate("/a")
        _ = try k.installFile("/f", size: UInt64(pages) * Self.page)
        let t = try k.spawn(name: "p", memcg: g)
        let fd = try k.open(t, "/f")
        _ = try k.read(t, fd: fd, offset: 0, length: UInt64(pages) * Self.page)
        #expect(k.file(at: "/f")!.pages.count == pages)
        k.tryToFreeMemCgroupPages(g, 2 * pages, maySwap: false, proactive: true)
        return (t, g, fd)
    }

    /// Reclaim leaves one shadow per evicted page; reading them back counts one refault each,
    /// and since nothing of the cgroup is active (and there is no swap), no refault is close
    /// enough to activate (distance 1 or more against a workingset of 0).
    @Test func everyEvictedPageReadBackIsARefault() throws {
        let k = try self.machine()
        let (t, g, fd) = try self.readThenReclaim(k, pages: 256)
        let file = k.file(at: "/f")!
        #expect(file.pages.count == 0)
        #expect(file.shadows.count == 256)
        #expect(Set(file.shadows.values.map(\.lruvec)) == [g.id])
        // Evicted oldest first, each one a tick of the cgroup's clock.
        let ages = (0..<256).map { file.shadows[UInt64($0)]!.eviction }
        #expect(ages == ages.sorted())
        #expect(Set(ages).count == 256)
        _ = try k.read(t, fd: fd, offset: 0, length: 256 * Self.page)
        #expect(file.shadows.isEmpty)
        #expect(k.phys.state(.workingsetRefaultFile) == 256)
        #expect(k.phys.state(.workingsetActivateFile) == 0)
        #expect(k.memcgStat(g).first { $0.0 == "workingset_refault_file" }?.1 == 256)
        #expect(k.lruvecs[g.id].count(.activeFile) == 0)
        #expect(k.checkInvariants().isEmpty)
    }

    /// With an active list in the cgroup, a page evicted a short while ago refaults within the
    /// workingset: it starts on the active list (workingset_activate). One that had been active
    /// before its eviction (PG_workingset) is also a restore.
    @Test func aRecentRefaultStartsActive() throws {
        let k = try self.machine()
        let g = try k.memcgCreate("/a")
        _ = try k.installFile("/hot", size: 512 * Self.page)
        _ = try k.installFile("/f", size: 64 * Self.page)
        let t = try k.spawn(name: "p", memcg: g)
        let hot = try k.open(t, "/hot")
        let cold = try k.open(t, "/f")
        // Twice: the second read activates every page of /hot (folio_mark_accessed()).
        _ = try k.read(t, fd: hot, offset: 0, length: 512 * Self.page)
        _ = try k.read(t, fd: hot, offset: 0, length: 512 * Self.page)
        #expect(k.lruvecs[g.id].count(.activeFile) == 512)
        _ = try k.read(t, fd: cold, offset: 0, length: 64 * Self.page)
        // Evict /f's 64 pages (the inactive list's tail is /f, read last but never activated).
        k.tryToFreeMemCgroupPages(g, 64, maySwap: false, proactive: true)
        let f = k.file(at: "/f")!
        let evicted = f.shadows.count
        #expect(evicted > 0)
        _ = try k.read(t, fd: cold, offset: 0, length: 64 * Self.page)
        #expect(k.phys.state(.workingsetRefaultFile) == evicted)
        // Distance ≤ 64 evictions against 512 active pages: all recent.
        #expect(k.phys.state(.workingsetActivateFile) == evicted)
        #expect(k.phys.state(.workingsetRestoreFile) == 0)
        // All of /f is active now: the refaulted pages by their refault, the pages reclaim
        // left by this second read (folio_mark_accessed()).
        let refaultedActive =
            f.shadows.isEmpty
            ? (0..<64).filter { i in
                guard let pfn = f.pages[UInt64(i)] else { return false }
                return k.phys.memMap.test(pfn, .active)
            }.count : -1
        #expect(refaultedActive == 64)
        #expect(evicted < 64)
        #expect(k.checkInvariants().isEmpty)
    }

    /// A page deactivated by reclaim keeps PG_workingset; evicted and read back while the
    /// workingset is large, it is a restore (it was active before).
    @Test func aFormerlyActivePageIsARestore() throws {
        let k = try self.machine()
        let g = try k.memcgCreate("/a")
        _ = try k.installFile("/f", size: 64 * Self.page)
        let t = try k.spawn(name: "p", memcg: g)
        let fd = try k.open(t, "/f")
        _ = try k.read(t, fd: fd, offset: 0, length: 64 * Self.page)
        _ = try k.read(t, fd: fd, offset: 0, length: 64 * Self.page)
        #expect(k.lruvecs[g.id].count(.activeFile) == 64)
        // Enough reclaim to deactivate (PG_workingset) and then evict them all, as
        // memory.reclaim retries.
        let f = k.file(at: "/f")!
        for _ in 0..<16 where !f.pages.isEmpty {
            k.tryToFreeMemCgroupPages(g, 256, maySwap: false, proactive: true)
        }
        #expect(f.pages.isEmpty)
        #expect(f.shadows.values.allSatisfy { $0.workingset })
        _ = try k.read(t, fd: fd, offset: 0, length: 64 * Self.page)
        #expect(k.phys.state(.workingsetRefaultFile) == 64)
        #expect(k.phys.state(.workingsetRestoreFile) == k.phys.state(.workingsetActivateFile))
        #expect(k.checkInvariants().isEmpty)
    }

    /// Shadows go with the offsets they stand for: truncation removes them, and a write that
    /// refills an offset replaces its shadow without counting a refault (`__GFP_WRITE`).
    @Test func truncationAndWritesDropShadows() throws {
        let k = try self.machine()
        let (t, _, fd) = try self.readThenReclaim(k, pages: 128)
        let file = k.file(at: "/f")!
        #expect(file.shadows.count == 128)
        _ = try k.write(t, fd: fd, offset: 0, length: Self.page, value: 7)
        #expect(file.shadows.count == 127)
        #expect(file.shadows[0] == nil)
        #expect(k.phys.state(.workingsetRefaultFile) == 0)
        try k.truncate("/f", size: 64 * Self.page)
        #expect(file.shadows.keys.allSatisfy { $0 < 64 })
        #expect(file.shadows.count == 63)
    }

    /// Anonymous pages leave their shadow in the swap cache; a swap-in with one is a refault,
    /// and freeing the slot (the process exits) drops it.
    @Test func swapInsAreAnonymousRefaults() throws {
        let k = try self.machine(memory: 48 << 20, swap: 128 << 20)
        let t = try k.spawn(name: "p")
        let size: UInt64 = 64 << 20
        let base = try k.mmap(t, MapRequest(length: size, protection: [.read, .write], shared: false))
        #expect(base > 0)
        for a in stride(from: base, to: base + size, by: Int(Self.page)) {
            _ = k.userAccess(t, address: a, access: .write, value: 1)
        }
        let shadows = { k.swapAreas.reduce(0) { $0 + $1.shadows.count } }
        #expect(shadows() > 0)
        let swapinsBefore = k.phys.events(.pswpin)
        for a in stride(from: base, to: base + size, by: Int(Self.page)) {
            _ = k.userAccess(t, address: a, access: .read)
        }
        let swapins = Int(k.phys.events(.pswpin) - swapinsBefore)
        #expect(swapins > 0)
        // Every page read back from swap had been evicted from the swap cache by reclaim.
        #expect(k.phys.state(.workingsetRefaultAnon) == swapins)
        k.exitTask(t, reason: .exited(code: 0))
        // Freed slots take their shadows with them; any left stand for slots still in use.
        #expect(shadows() < swapins)
        for area in k.swapAreas {
            #expect(area.shadows.keys.allSatisfy { area[$0] != 0 })
        }
        #expect(k.checkInvariants().isEmpty)
    }
}
