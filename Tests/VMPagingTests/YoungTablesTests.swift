import Testing
import VMPhys
import VMTypes

@testable import VMPaging

/// The aging walk over non-leaf Accessed bits: a PTE table is visited only when a page walk
/// went through its PMD entry since the last visit.
@Suite struct YoungTablesTests {
    @Test func onlyTablesWalkedThroughSinceTheLastVisitAreVisited() {
        var f = PagingFixture()
        let a: UInt64 = 0x40_0000  // one PTE table
        let b: UInt64 = 0x80_0000  // another
        _ = f.map(a)
        _ = f.map(b)
        func visited() -> [UInt64] {
            var out: [UInt64] = []
            f.arena.forEachPTEInYoungTables(root: f.root, range: 0..<0x100_0000) { va, _ in out.append(va) }
            return out
        }
        // New tables are created young (the kernel's _PAGE_TABLE includes Accessed).
        #expect(visited() == [a, b])
        #expect(visited().isEmpty)
        // A page walk through b's PMD entry (a TLB miss) makes only that table young again.
        f.mmu.flushAll()
        #expect(f.mmu.access(b, .read, .user) != MMU.faulted)
        #expect(visited() == [b])
        #expect(visited().isEmpty)
    }
}
