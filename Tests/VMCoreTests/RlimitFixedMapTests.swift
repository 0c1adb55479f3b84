import Testing
import VMPhys

@testable import VMCore

/// `mmap_region()` checks `may_expand_vm()` for the pages a `MAP_FIXED` mapping adds — those not
/// already mapped — before it unmaps anything: over `RLIMIT_AS`, the old mapping and its data stay;
/// replacing pages that are already counted needs no room under the limit.
@Suite struct RlimitFixedMapTests {
    @Test func aRefusedFixedMappingKeepsTheOldOne() throws {
        var config = MachineConfig()
        config.memory = 64 << 20
        let k = try Kernel(config: config)
        let t = try k.spawn(name: "p")
        let old = try k.mmap(t, MapRequest(length: 1 << 20, protection: [.read, .write], shared: false))
        _ = k.userAccess(t, address: old, access: .write, value: 3)
        let mapped = UInt64(t.mm!.totalVM) << 12
        k.setrlimit(t, .addressSpace, mapped + (1 << 20))
        var bigger = MapRequest(length: 4 << 20, protection: [.read, .write], shared: false)
        bigger.address = old
        bigger.fixed = true
        #expect(throws: MMError.self) { try k.mmap(t, bigger) }
        #expect(t.mm!.vma(containing: old) != nil)
        if case .ok(let v) = k.userAccess(t, address: old, access: .read) {
            #expect(v == 3)
        } else {
            Issue.record("the old mapping is gone")
        }
        // The same 1 MiB again and the free 1 MiB below it: fits, since only the new MiB counts.
        #expect(t.mm!.vma(containing: old - (1 << 20)) == nil)
        var same = MapRequest(length: 2 << 20, protection: [.read, .write], shared: false)
        same.address = old - (1 << 20)
        same.fixed = true
        #expect(try k.mmap(t, same) == old - (1 << 20))
        #expect(UInt64(t.mm!.totalVM) << 12 == mapped + (1 << 20))
    }
}
