import Testing
import VMPhys
import VMTypes

@testable import VMCore

/// Memory cgroups (mm/memcontrol.c): charges, limits, protection and OOM inside a cgroup.
@Suite struct MemcgTests {
    func machine(memory: UInt64 = 256 << 20, swap: UInt64 = 0) -> Kernel {
        var config = MachineConfig()
        config.memory = memory
        config.swap = swap
        do { return try Kernel(config: config) } catch { fatalError("boot failed: \(error)") }
    }

    /// Writes one word to every page of `pages` pages from `va`.
    func touch(_ k: Kernel, _ t: Task, _ va: UInt64, pages: Int) {
        for i in 0..<pages where t.state == .running { k.write(t, va + UInt64(i) * 4096, UInt64(i) + 1) }
    }

    @Test func chargesFollowTheFaultingTaskAndBalanceToZero() throws {
        let k = self.machine()
        let app = try k.memcgCreate("/app")
        let p = try k.spawn(name: "p", memcg: app)
        let child = try k.fork(p, childName: "c")
        #expect(k.memcg(of: child) === app)
        let va = k.anonMap(p, 4 << 20)
        self.touch(k, p, va, pages: 1024)
        #expect(app.stat[MemcgStat.anon.rawValue] >= 1024)
        #expect(app.memory.usage >= 1024)
        #expect(k.checkInvariants(deep: false).isEmpty)
        k.exitTask(child, reason: .exited(code: 0))
        k.exitTask(p, reason: .exited(code: 0))
        // The page cache the tasks read (their images) stays charged, as in Linux…
        #expect(app.stat[MemcgStat.anon.rawValue] == 0)
        #expect(app.stat[MemcgStat.pagetables.rawValue] == 0)
        #expect(app.memory.usage == app.stat[MemcgStat.file.rawValue])
        // …until it is dropped.
        try k.dropCaches(3)
        #expect(app.memory.usage == 0)
        #expect(k.checkInvariants(deep: false).isEmpty)
    }

    @Test func overMaxReclaimsOnlyItsOwnPages() throws {
        let k = self.machine(memory: 256 << 20, swap: 256 << 20)
        let a = try k.memcgCreate("/a")
        let b = try k.memcgCreate("/b")
        k.memcgWrite(a, .max, pages: 4096)  // 16 MiB
        let pa = try k.spawn(name: "pa", memcg: a)
        let pb = try k.spawn(name: "pb", memcg: b)
        let vb = k.anonMap(pb, 16 << 20)
        self.touch(k, pb, vb, pages: 4096)
        let bBefore = b.memory.usage
        let bSwapBefore = b.swap.usage
        let va = k.anonMap(pa, 32 << 20)
        self.touch(k, pa, va, pages: 8192)
        #expect(pa.state == .running)
        #expect(a.memory.usage <= 4096)
        #expect(a.swap.usage > 0)
        #expect(a.events[MemcgEvent.max.rawValue] > 0)
        #expect(a.hierarchical(.pgstealDirect) > 0)
        // The other cgroup lost nothing.
        #expect(b.memory.usage == bBefore)
        #expect(b.swap.usage == bSwapBefore)
        #expect(b.hierarchical(.pgstealDirect) == 0)
        #expect(k.checkInvariants(deep: false).isEmpty)
    }

    @Test func oomInsideACgroupKillsOnlyThere() throws {
        let k = self.machine()
        let a = try k.memcgCreate("/a")
        let other = try k.spawn(name: "other")
        let vo = k.anonMap(other, 8 << 20)
        self.touch(k, other, vo, pages: 2048)
        k.memcgWrite(a, .max, pages: 2048)
        let big = try k.spawn(name: "big", memcg: a)
        let small = try k.spawn(name: "small", memcg: a)
        let vs = k.anonMap(small, 1 << 20)
        self.touch(k, small, vs, pages: 256)
        let vb = k.anonMap(big, 16 << 20)
        self.touch(k, big, vb, pages: 4096)
        #expect(big.state != .running)
        #expect(small.state == .running)
        #expect(other.state == .running)
        #expect(a.events[MemcgEvent.oomKill.rawValue] == 1)
        #expect(a.memory.usage <= 2048)
        #expect(k.checkInvariants(deep: false).isEmpty)
    }

    @Test func oomGroupKillsTheWholeGroup() throws {
        let k = self.machine()
        let a = try k.memcgCreate("/a")
        k.memcgWrite(a, .max, pages: 2048)
        k.memcgWrite(a, .oomGroup, pages: 1)
        let big = try k.spawn(name: "big", memcg: a)
        let small = try k.spawn(name: "small", memcg: a)
        let vs = k.anonMap(small, 1 << 20)
        self.touch(k, small, vs, pages: 256)
        let vb = k.anonMap(big, 16 << 20)
        self.touch(k, big, vb, pages: 4096)
        #expect(big.state != .running)
        #expect(small.state != .running)
        #expect(a.events[MemcgEvent.oomGroupKill.rawValue] == 1)
        #expect(a.events[MemcgEvent.oomKill.rawValue] == 2)
        #expect(a.memory.usage == 0)
        #expect(k.checkInvariants(deep: false).isEmpty)
    }

    @Test func highThrottlesWithoutOOM() throws {
        let k = self.machine()
        let a = try k.memcgCreate("/batch")
        k.memcgWrite(a, .high, pages: 1024)
        let p = try k.spawn(name: "job", memcg: a)
        let start = k.now
        let va = k.anonMap(p, 8 << 20)
        self.touch(k, p, va, pages: 2048)
        #expect(p.state == .running)
        #expect(a.events[MemcgEvent.oomKill.rawValue] == 0)
        #expect(a.events[MemcgEvent.high.rawValue] > 0)
        #expect(a.throttledNanos > 0)
        #expect(k.now - start >= a.throttledNanos)
        #expect(k.checkInvariants(deep: false).isEmpty)
    }

    @Test func minProtectsFromGlobalReclaim() throws {
        let k = self.machine(memory: 128 << 20, swap: 256 << 20)
        let prot = try k.memcgCreate("/protected")
        let bulk = try k.memcgCreate("/bulk")
        k.memcgWrite(prot, .min, pages: 8192)
        let p = try k.spawn(name: "p", memcg: prot)
        let vp = k.anonMap(p, 16 << 20)
        self.touch(k, p, vp, pages: 4096)
        let before = prot.memory.usage
        let q = try k.spawn(name: "q", memcg: bulk)
        let vq = k.anonMap(q, 160 << 20)
        self.touch(k, q, vq, pages: 40960)
        #expect(k.phys.events(.pgstealDirect) + k.phys.events(.pgstealKswapd) > 0)
        #expect(prot.memory.usage >= before)
        #expect(prot.swap.usage == 0)
        #expect(bulk.swap.usage > 0)
        #expect(k.checkInvariants(deep: false).isEmpty)
    }

    @Test func statSumsToCurrentAndReclaimWorks() throws {
        let k = self.machine(swap: 128 << 20)
        let a = try k.memcgCreate("/a")
        let p = try k.spawn(name: "p", memcg: a)
        let va = k.anonMap(p, 4 << 20)
        self.touch(k, p, va, pages: 1024)
        let page = Int(k.phys.pageSize)
        var fields: [String: Int] = [:]
        for line in k.memcgStatText(a).split(separator: "\n") {
            let parts = line.split(separator: " ")
            fields[String(parts[0])] = Int(parts[1])
        }
        #expect(fields["anon"]! + fields["file"]! + fields["kernel"]! == a.memory.usage * page)
        let lists = ["inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable"]
        #expect(lists.reduce(0) { $0 + fields[$1]! } == (fields["anon"]! + fields["file"]!))
        #expect(k.memcgEventsText(a).hasPrefix("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"))
        let before = a.memory.usage
        #expect(k.memcgWrite(a, .reclaim, pages: 256))
        #expect(a.memory.usage <= before - 256 || a.swap.usage >= 256)
        #expect(a.hierarchical(.pgscanProactive) > 0)
        #expect(k.checkInvariants(deep: false).isEmpty)
    }
}
