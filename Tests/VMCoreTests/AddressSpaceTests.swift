import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

@Suite struct AddressSpaceTests {
    @Test func execLaysOutTextDataBssHeapVdsoAndStackLikeLinux() throws {
        let k = bootKernel()
        let t = try k.spawn(name: "app", layout: ImageLayout(text: 1 << 20, data: 64 << 10, bss: 256 << 10))
        let mm = try #require(t.mm)
        let vmas = mm.vmas
        #expect(
            vmas.map(\.start) == [
                0x40_0000, 0x50_0000, 0x51_0000, 0x7fff_f7ff_9000, 0x7fff_f7ff_d000, 0x7fff_fffd_e000,
            ])
        #expect(vmas.map { $0.flags.permissions } == ["r-xp", "rw-p", "rw-p", "r--p", "r-xp", "rw-p"])
        #expect(mm.startBrk == 0x55_0000 && mm.brk == mm.startBrk)
        #expect(mm.mmapBase == 0x7fff_f7ff_f000)
        #expect(vmas.last!.end == 0x7fff_ffff_f000 && vmas.last!.size == 132 << 10)
        #expect(mm.counter(.anonPages) == 1, "the argument page")
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func anonymousMappingsGoTopDownBelowMmapBaseAndMerge() throws {
        let k = bootKernel()
        let t = try k.spawn(name: "app")
        let a = k.anonMap(t, 1 << 20)
        let b = k.anonMap(t, 1 << 20)
        #expect(a == 0x7fff_f7ff_9000 - (1 << 20), "just below [vvar]")
        #expect(b == a - (1 << 20), "directly below the previous one")
        // Compatible neighbours merge into one VMA.
        #expect(t.mm!.vma(containing: a)!.start == b)
        #expect(t.mm!.vma(containing: a)!.end == a + (1 << 20))
        let c = k.anonMap(t, 1 << 20, prot: [.read])
        #expect(t.mm!.vma(containing: c)!.end == b, "a different protection does not merge")
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func munmapInTheMiddleSplitsAndFreesTheFrames() throws {
        let k = bootKernel()
        let t = try k.spawn(name: "app")
        let a = k.anonMap(t, 16 << 12)
        for i in UInt64(0)..<16 { k.write(t, a + i << 12, i) }
        let free = k.freeAndPCP
        try k.munmap(t, address: a + (4 << 12), length: 4 << 12)
        #expect(t.mm!.vma(containing: a)!.end == a + (4 << 12))
        #expect(t.mm!.vma(containing: a + (8 << 12))!.start == a + (8 << 12))
        #expect(k.freeAndPCP == free + 4)
        #expect(k.read(t, a + (9 << 12)).value == 9)
        #expect(
            k.read(t, a + (5 << 12))
                == .signal(SignalInfo(.sigsegv, .mapError, address: a + (5 << 12), detail: "no mapping")))
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func mprotectSplitsAndMergesBack() throws {
        let k = bootKernel()
        let t = try k.spawn(name: "app")
        let a = k.anonMap(t, 8 << 12)
        let before = t.mm!.mapCount
        try k.mprotect(t, address: a + (2 << 12), length: 2 << 12, protection: [.read])
        #expect(t.mm!.mapCount == before + 2)
        try k.mprotect(t, address: a + (2 << 12), length: 2 << 12, protection: [.read, .write])
        #expect(t.mm!.mapCount == before)
        #expect(throws: MMError.self) {
            try k.mprotect(t, address: 0x1000_0000, length: 4096, protection: [.read])
        }
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func brkGrowsTheHeapMergedWithBssAndShrinks() throws {
        let k = bootKernel()
        let t = try k.spawn(name: "app")
        let mm = t.mm!
        let start = mm.startBrk
        #expect(k.brk(t, to: start + (1 << 20)) == start + (1 << 20))
        let heap = try #require(mm.vma(containing: start))
        #expect(heap.start < start, "merged with the bss VMA below it")
        #expect(heap.end == start + (1 << 20))
        #expect(k.brk(t, to: start + 100) == start + 100)
        #expect(mm.vma(containing: start)!.end == start + 4096)
        #expect(k.brk(t, to: start - 4096) == start + 100, "below start_brk: refused, old break returned")
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func theStackGrowsWithinItsLimitAndKeepsTheGuardGap() throws {
        let k = bootKernel()
        let t = try k.spawn(name: "app")
        let top: UInt64 = 0x7fff_ffff_f000
        // 8 MiB below the top is the limit: the page just inside works, the one below does not.
        #expect(k.write(t, top - (8 << 20), 1).value == 1)
        #expect(t.mm!.stackVM == (8 << 20) >> 12)
        #expect(
            k.write(t, top - (8 << 20) - 4096, 1)
                == .signal(
                    SignalInfo(
                        .sigsegv, .mapError, address: top - (8 << 20) - 4096, detail: "stack cannot grow"))
        )
        // Guard gap: a mapping within 256 pages below the stack blocks growth into the gap.
        let k2 = bootKernel()
        let t2 = try k2.spawn(name: "app")
        let stackStart = t2.mm!.vmas.last!.start
        var request = MapRequest(length: 4096, protection: [.read, .write], shared: false)
        request.address = stackStart - (600 << 12)
        request.fixed = true
        _ = try k2.mmap(t2, request)
        #expect(k2.write(t2, stackStart - (300 << 12), 1).value == 1, "299 pages above the mapping's end")
        #expect(k2.write(t2, stackStart - (400 << 12), 1).value == nil, "199 pages: inside the guard gap")
    }

    @Test func maxMapCountLimitsMappings() throws {
        let k = bootKernel()
        k.maxMapCount = 20
        let t = try k.spawn(name: "app")
        var failures = 0
        for i in 0..<40 {
            // Alternate protections so the mappings cannot merge.
            do {
                _ = try k.mmap(
                    t,
                    MapRequest(
                        length: 4096, protection: i % 2 == 0 ? [.read] : [.read, .write], shared: false))
            } catch {
                #expect(error.errno == "ENOMEM")
                failures += 1
            }
        }
        #expect(failures > 0)
        #expect(t.mm!.mapCount <= 21)
    }

    @Test func fixedNoReplaceRefusesToOverlap() throws {
        let k = bootKernel()
        let t = try k.spawn(name: "app")
        var r = MapRequest(length: 8192, protection: [.read], shared: false)
        r.address = 0x7f00_0000_0000
        r.fixed = true
        r.noReplace = true
        #expect(try k.mmap(t, r) == 0x7f00_0000_0000)
        #expect(throws: MMError.exists("0x7f0000000000 is already mapped")) { try k.mmap(t, r) }
        r.address = 0x1000
        #expect(throws: MMError.self) { try k.mmap(t, r) }
    }

    @Test func forkedProcessesEachReadTheirOwnDataAfterCopyOnWrite() throws {
        let k = bootKernel()
        let parent = try k.spawn(name: "p")
        let a = k.anonMap(parent, 4 << 12)
        for i in UInt64(0)..<4 { k.write(parent, a + i << 12, 100 + i) }
        let child = try k.fork(parent, childName: "c")
        #expect(k.read(child, a + 4096).value == 101)
        k.write(child, a + 4096, 7)
        #expect(k.read(child, a + 4096).value == 7)
        #expect(k.read(parent, a + 4096).value == 101)
        k.write(parent, a + 8192, 55)
        #expect(k.read(child, a + 8192).value == 102)
        // rmap finds both mappings of a page still shared.
        let shared = k.pageTables.pte(root: parent.mm!.pgd, va: a + 3 * 4096).pfn
        #expect(k.rmapWalk(shared).count == 2)
        #expect(k.checkInvariants().isEmpty)
        let free = k.freeAndPCP
        k.exitTask(child, reason: .exited(code: 0))
        #expect(k.wait(parent)?.pid == child.pid)
        #expect(k.freeAndPCP > free)
        #expect(k.rmapWalk(shared).count == 1)
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func processesRunningTheSameImageShareItsTextFrames() throws {
        let k = bootKernel()
        let a = try k.spawn(name: "one", path: "/bin/server")
        let b = try k.spawn(name: "two", path: "/bin/server")
        _ = k.userAccess(a, address: 0x40_0000, access: .execute)
        _ = k.userAccess(b, address: 0x40_0000, access: .execute)
        let fa = k.pageTables.pte(root: a.mm!.pgd, va: 0x40_0000).pfn
        let fb = k.pageTables.pte(root: b.mm!.pgd, va: 0x40_0000).pfn
        #expect(fa == fb)
        #expect(k.phys.memMap.mapCount(fa) == 2)
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func exitReturnsEveryFrame() throws {
        let k = bootKernel()
        let baseline = k.freeAndPCP
        let slab = k.phys.state(.nrSlabUnreclaimable) + k.phys.state(.nrSlabReclaimable)
        let buffers = k.bufferPages
        let t = try k.spawn(name: "app", path: "/bin/init-like")
        let a = k.anonMap(t, 64 << 12)
        for i in UInt64(0)..<64 { k.write(t, a + i << 12, i) }
        let child = try k.fork(t)
        k.write(child, a, 1)
        k.exitTask(child, reason: .exited(code: 0))
        k.exitTask(t, reason: .exited(code: 0))
        // The image stays in the page cache, its dentries and inode in their caches and the
        // metadata blocks read to find it in Buffers; everything else comes back (slabs keep
        // partial pages).
        let image = k.file(at: "/bin/init-like")!.cachedPages
        let slabDelta = k.phys.state(.nrSlabUnreclaimable) + k.phys.state(.nrSlabReclaimable) - slab
        #expect(k.freeAndPCP + image + slabDelta + (k.bufferPages - buffers) == baseline)
        #expect(k.phys.vmallocState.nrPages == 8, "only init's and kthreadd's kernel stacks")
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func i386ProcessesLiveBelow3GiB() throws {
        let k = bootKernel(arch: .i386)
        let t = try k.spawn(name: "app")
        #expect(t.mm!.vmas.first!.start == 0x0804_8000)
        #expect(t.mm!.vmas.last!.end == 0xC000_0000)
        let a = k.anonMap(t, 4096)
        #expect(a < 0xB800_0000)
        #expect(k.write(t, a, 5).value == 5)
        #expect(
            k.write(t, 0xC000_1000, 5)
                == .signal(SignalInfo(.sigsegv, .mapError, address: 0xC000_1000, detail: "no mapping")))
        #expect(k.checkInvariants().isEmpty)
    }

    /// `dup_mmap()` clears VM_LOCKED in the child and never merges: the two halves of a text
    /// area whose first page the parent mlocked stay two areas in the child (as /proc/PID/maps
    /// shows on Linux), and the invariant checker accepts them; a later mprotect merges them.
    @Test func aForkedChildKeepsAreasThatDifferedOnlyByMlock() throws {
        let k = bootKernel()
        let t = try k.spawn(name: "parent")
        let text = t.mm!.startCode
        try k.mlock(t, address: text, length: 4096, lock: true)
        let c = try k.fork(t)
        let childText = c.mm!.vmas.filter { $0.start >= text && $0.end <= t.mm!.endCode }
        #expect(childText.count == 2)
        #expect(childText.allSatisfy { !$0.flags.contains(.locked) })
        #expect(k.checkInvariants().isEmpty)
        try k.mprotect(c, address: text, length: 4096, protection: [.read, .exec])
        #expect(c.mm!.vmas.filter { $0.start >= text && $0.end <= t.mm!.endCode }.count == 1)
        #expect(k.checkInvariants().isEmpty)
    }
}
