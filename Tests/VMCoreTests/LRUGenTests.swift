import Testing
import VMPhys
import VMTypes

@testable import VMCore

/// The multi-generational LRU (`reclaim=mglru`): where pages join, how aging promotes them,
/// what eviction takes, and that its books match the node's LRU counters.
@Suite struct LRUGenTests {
    static let page: UInt64 = 4096

    func machine(memory: UInt64 = 64 << 20, swap: UInt64 = 0) throws -> Kernel {
        var config = MachineConfig()
        config.memory = memory
        config.swap = swap
        config.lruGen = true
        return try Kernel(config: config)
    }

    /// Booted with four generations (`lru_gen_init_lruvec()`: max_seq 3, min_seq 0), and every
    /// evictable page on a generation list, none on the classic lists.
    @Test func bootsWithFourGenerations() throws {
        let k = try self.machine()
        let g = k.lruGen()
        #expect(g.maxSeq == 3)
        #expect(g.minSeq == [0, 0])
        for list in [LRUList.inactiveAnon, .activeAnon, .inactiveFile, .activeFile] {
            #expect(k.lruvecs[0].lists[list.rawValue].count == 0)
            #expect(k.lruPages(list).count == k.phys.state(list.nodeItem))
        }
        #expect(k.checkInvariants().isEmpty)
    }

    /// A page faulted in joins the second youngest generation (active in a fault,
    /// `lru_gen_folio_seq()`: MIN_NR_GENS); a page read through read() — not in a fault — joins
    /// the oldest (MAX_NR_GENS, clamped to min_seq).
    @Test func whereNewPagesJoin() throws {
        let k = try self.machine()
        let t = try k.spawn(name: "p")
        let base = try k.mmap(
            t, MapRequest(length: 16 * Self.page, protection: [.read, .write], shared: false))
        _ = k.userAccess(t, address: base, access: .write, value: 1)
        let anon = k.pageTables.pte(root: t.mm!.pgd, va: base).pfn
        let g = k.lruGen()
        #expect(k.phys.memMap.lruGen(anon) == LRUGen.gen(g.maxSeq - 1))
        #expect(k.lruList(of: anon) == .activeAnon)
        _ = try k.installFile("/f", size: 4 * Self.page)
        let fd = try k.open(t, "/f")
        _ = try k.read(t, fd: fd, offset: 0, length: Self.page)
        let filePage = k.file(at: "/f")!.pages[0]!
        #expect(k.phys.memMap.lruGen(filePage) == LRUGen.gen(max(g.maxSeq - 3, g.minSeq[1])))
        #expect(k.lruList(of: filePage) == .inactiveFile)
        // Each read() that comes back to the page counts a reference (its tier), without
        // moving it; a read continuing in the page the last one ended in does not
        // (filemap_read()'s pos_same_folio()).
        #expect(k.folioLRURefs(filePage) == 1)
        _ = try k.read(t, fd: fd, offset: 0, length: Self.page)
        #expect(k.folioLRURefs(filePage) == 1)
        _ = try k.read(t, fd: fd, offset: Self.page, length: Self.page)
        _ = try k.read(t, fd: fd, offset: 0, length: Self.page)
        #expect(k.folioLRURefs(filePage) == 2)
        #expect(k.phys.memMap.lruGen(filePage) == LRUGen.gen(max(g.maxSeq - 3, g.minSeq[1])))
        #expect(k.checkInvariants().isEmpty)
    }

    /// Aging: the walk clears young PTEs; the first sighting sets PG_referenced, the second
    /// promotes the page to the youngest generation with PG_workingset; a new generation is
    /// made each time, and the one that stops being among the two youngest counts as inactive.
    @Test func agingPromotesOnTheSecondSighting() throws {
        let k = try self.machine()
        let t = try k.spawn(name: "p")
        let base = try k.mmap(
            t, MapRequest(length: 2 * Self.page, protection: [.read, .write], shared: false))
        _ = k.userAccess(t, address: base, access: .write, value: 1)
        _ = k.userAccess(t, address: base + Self.page, access: .write, value: 2)
        let mm = t.mm!
        let hot = k.pageTables.pte(root: mm.pgd, va: base).pfn
        let cold = k.pageTables.pte(root: mm.pgd, va: base + Self.page).pfn
        let start = k.lruGen().maxSeq
        #expect(k.phys.memMap.lruGen(hot) == LRUGen.gen(start - 1))
        k.lruGenTryToIncMaxSeq(0, swappiness: 60)
        // First sighting (the fault's Accessed bit): referenced, not moved.
        #expect(k.lruGen().maxSeq == start + 1)
        #expect(k.phys.memMap.test(hot, .referenced))
        #expect(!k.pageTables.pte(root: mm.pgd, va: base).contains(.accessed))
        #expect(k.phys.memMap.lruGen(hot) == LRUGen.gen(start - 1))
        // Only the hot page is touched again; the next walk promotes it. (x86 sets Accessed only
        // when it loads a translation: the walk, like Linux, does not flush the TLB, so the touch
        // must come after a flush — a context switch, say — to be seen.)
        k.flushTLB(mm, range: base..<(base + 2 * Self.page))
        _ = k.userAccess(t, address: base, access: .read)
        k.lruGenTryToIncMaxSeq(0, swappiness: 60)
        #expect(k.phys.memMap.lruGen(hot) == LRUGen.gen(start + 1))
        #expect(k.phys.memMap.test(hot, .workingset))
        #expect(k.phys.memMap.lruGen(cold) == LRUGen.gen(start - 1))
        #expect(k.lruList(of: cold) == .inactiveAnon)
        #expect(k.lruList(of: hot) == .activeAnon)
        #expect(k.lruGen().agings == 2)
        #expect(k.checkInvariants().isEmpty)
    }

    /// Four generations at most: making a fifth folds the oldest into the next
    /// (`inc_min_seq()`), so the count stays within MIN_NR_GENS…MAX_NR_GENS.
    @Test func atMostFourGenerations() throws {
        let k = try self.machine()
        for _ in 0..<6 {
            k.lruGenTryToIncMaxSeq(0, swappiness: 60)
            let g = k.lruGen()
            for type in 0..<2 { #expect((2...4).contains(g.nrGens(type))) }
            #expect(k.checkInvariants().isEmpty)
        }
    }

    /// Under pressure with swap: eviction takes the oldest generation, the refaults of recently
    /// evicted pages feed the controller, and the node's LRU counters always equal the pages on
    /// the generation lists.
    @Test func evictionUnderPressureKeepsTheBooks() throws {
        let k = try self.machine(memory: 48 << 20, swap: 128 << 20)
        let t = try k.spawn(name: "p")
        let size: UInt64 = 64 << 20
        let base = try k.mmap(t, MapRequest(length: size, protection: [.read, .write], shared: false))
        for round in 0..<2 {
            for a in stride(from: base, to: base + size, by: Int(Self.page)) {
                let got = k.userAccess(t, address: a, access: round == 0 ? .write : .read, value: a).value
                if round == 1 { #expect(got == a) }
            }
        }
        #expect(k.phys.events(.pswpout) > 0)
        #expect(k.phys.state(.workingsetRefaultAnon) > 0)
        #expect(k.lruGen().agings > 0)
        for list in [LRUList.inactiveAnon, .activeAnon, .inactiveFile, .activeFile] {
            #expect(k.lruPages(list).count == k.phys.state(list.nodeItem), "\(list.name)")
        }
        #expect(k.checkInvariants().isEmpty)
    }

    /// A hot set read over and over survives a one-time sweep of twice the memory: MGLRU's
    /// aging promotes what is touched between walks and evicts the sweep's pages, which are
    /// seen once.
    @Test func aHotSetSurvivesASweep() throws {
        let k = try self.machine(memory: 64 << 20, swap: 256 << 20)
        let t = try k.spawn(name: "p")
        let hotSize: UInt64 = 8 << 20
        let sweepSize: UInt64 = 96 << 20
        let hot = try k.mmap(t, MapRequest(length: hotSize, protection: [.read, .write], shared: false))
        let sweep = try k.mmap(t, MapRequest(length: sweepSize, protection: [.read, .write], shared: false))
        for a in stride(from: hot, to: hot + hotSize, by: Int(Self.page)) {
            _ = k.userAccess(t, address: a, access: .write, value: 1)
        }
        let hotPages = Int(hotSize / Self.page)
        var chunk: UInt64 = 0
        for a in stride(from: sweep, to: sweep + sweepSize, by: Int(Self.page)) {
            _ = k.userAccess(t, address: a, access: .write, value: 2)
            chunk += 1
            if chunk % 256 == 0 {
                // The hot set is touched between every 1 MiB of the sweep.
                for h in stride(from: hot, to: hot + hotSize, by: Int(Self.page)) {
                    _ = k.userAccess(t, address: h, access: .read)
                }
            }
        }
        let majorBefore = t.majorFaults
        for h in stride(from: hot, to: hot + hotSize, by: Int(Self.page)) {
            _ = k.userAccess(t, address: h, access: .read)
        }
        #expect(t.majorFaults - majorBefore < hotPages / 10)
        #expect(k.checkInvariants().isEmpty)
    }

    /// `/sys/kernel/debug/lru_gen`: one block per cgroup and node, a line per generation from
    /// the oldest, with its age and its anonymous and file pages summing to the LRU counters.
    @Test func debugfsShowsEveryGeneration() throws {
        let k = try self.machine()
        k.advanceClock(by: 5_000_000_000)
        k.lruGenTryToIncMaxSeq(0, swappiness: 60)
        let lines = k.lruGenDebugText().split(separator: "\n").map(String.init)
        #expect(lines[0] == "memcg     1 /")
        #expect(lines[1] == " node     0")
        let rows = lines.dropFirst(2).map { $0.split(separator: " ").compactMap { Int($0) } }
        #expect(rows.count == k.lruGen().nrGens(0))
        #expect(rows.map { $0[0] } == Array(k.lruGen().minSeq[0]...k.lruGen().maxSeq))
        // The newest generation was just made; the oldest ones date from boot.
        #expect(rows.last![1] == 0)
        #expect(rows.first![1] >= 5000)
        let anon = rows.reduce(0) { $0 + $1[2] }
        let file = rows.reduce(0) { $0 + $1[3] }
        #expect(anon == k.phys.state(.nrInactiveAnon) + k.phys.state(.nrActiveAnon))
        #expect(file == k.phys.state(.nrInactiveFile) + k.phys.state(.nrActiveFile))
    }

    /// Thrashing prevention: with `min_ttl_ms` set, kswapd OOM-kills instead of evicting a
    /// generation younger than that (`lru_gen_age_node()`); without it the same reader just
    /// thrashes through the page cache.
    @Test(arguments: [0, 60_000])
    func minTTLKillsInsteadOfThrashing(minTTL: Int) throws {
        let k = try self.machine(memory: 64 << 20)
        try k.setSysctl("lru_gen.min_ttl_ms", String(minTTL))
        _ = try k.installFile("/big", size: 128 << 20)
        let t = try k.spawn(name: "reader")
        let fd = try k.open(t, "/big")
        let map = try k.mmap(
            t,
            MapRequest(
                length: 128 << 20, protection: [.read], shared: true, backing: .file(fd: fd, offset: 0)))
        for a in stride(from: map, to: map + (128 << 20), by: Int(Self.page)) where t.state == .running {
            _ = k.userAccess(t, address: a, access: .read)
        }
        if minTTL > 0 {
            #expect(t.state != .running)
            #expect(k.phys.log.text.contains("invoked oom-killer"))
        } else {
            #expect(t.state == .running)
            #expect(k.phys.events(.pgstealKswapd) + k.phys.events(.pgstealDirect) > 0)
        }
        #expect(k.checkInvariants().isEmpty)
    }

    /// Per cgroup: a cgroup's reclaim evicts only from its own generations.
    @Test func cgroupReclaimEvictsItsOwnGenerations() throws {
        let k = try self.machine(memory: 256 << 20)
        let a = try k.memcgCreate("/a")
        let b = try k.memcgCreate("/b")
        _ = try k.installFile("/fa", size: 1024 * Self.page)
        _ = try k.installFile("/fb", size: 1024 * Self.page)
        let ta = try k.spawn(name: "a", memcg: a)
        let tb = try k.spawn(name: "b", memcg: b)
        _ = try k.read(ta, fd: try k.open(ta, "/fa"), offset: 0, length: 1024 * Self.page)
        _ = try k.read(tb, fd: try k.open(tb, "/fb"), offset: 0, length: 1024 * Self.page)
        let bBefore = k.lruvecs[b.id].count(.inactiveFile) + k.lruvecs[b.id].count(.activeFile)
        for _ in 0..<4 { k.tryToFreeMemCgroupPages(a, 512, maySwap: false, proactive: true) }
        #expect(k.file(at: "/fa")!.pages.count < 1024)
        #expect(k.file(at: "/fb")!.pages.count == 1024)
        #expect(k.lruvecs[b.id].count(.inactiveFile) + k.lruvecs[b.id].count(.activeFile) == bBefore)
        #expect(k.lruGen(a.id).agings > 0 || k.lruGen(a.id).minSeq[1] > 0)
        #expect(k.checkInvariants().isEmpty)
    }
}
