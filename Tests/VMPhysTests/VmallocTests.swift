import Testing
import VMTypes

@testable import VMPhys

@Suite struct VmallocTests {
    @Test func areasIncludeAGuardPageAndTakeTheLowestFreeAddress() {
        let m = machine()
        let a = m.vmalloc(4096, caller: "test_a")!
        #expect(a == Architecture.x86_64.vmallocStart)
        #expect(m.vmallocArea(at: a)!.size == 8192)
        let b = m.vmalloc(16384, align: 16384, caller: "test_b")!
        #expect(b == a + 16384)  // 8 KiB used by a, next 16 KiB-aligned address
        #expect(m.vmallocState.nrPages == 5)
        #expect(m.checkInvariants().isEmpty)
    }

    @Test func freedRangesWaitForALazyPurgeBeforeReuse() {
        let m = machine()
        let a = m.vmalloc(4096, caller: "a")!
        m.vfree(a)
        #expect(m.vmallocState.nrPages == 0)
        #expect(m.vmallocState.purgeList.count == 1)
        let b = m.vmalloc(4096, caller: "b")!
        #expect(b == a + 8192, "the freed range is not reused before a purge")
        m.purgeVmapAreaLazy()
        #expect(m.vmalloc(4096, caller: "c")! == a)
        #expect(m.checkInvariants().isEmpty)
    }

    @Test func vmallocPagesComeFromHighMemOnI386() {
        let m = machine(memory: 2 << 30, arch: .i386)
        let a = m.vmalloc(64 << 10, caller: "x")!
        let area = m.vmallocArea(at: a)!
        #expect(area.pages.count == 16)
        for pfn in area.pages { #expect(m.zones[m.zoneIndex(of: pfn)!].type == .highMem) }
        m.vfree(a)
        #expect(m.checkInvariants().isEmpty)
    }
}
