import AllocationCounter
import PropertyBased
import Testing
import VMPhys
import VMTypes

@testable import VMPaging

/// A plain reference model of a set-associative LRU cache: arrays of VPNs, most recent last.
struct ReferenceTLB {
    var sets: [[UInt64]]
    let ways: Int
    init(entries: Int, ways: Int) {
        self.sets = Array(repeating: [], count: entries / ways)
        self.ways = ways
    }
    /// Returns whether `vpn` hit, and updates recency / inserts on miss.
    mutating func access(_ vpn: UInt64) -> Bool {
        let s = Int(vpn % UInt64(self.sets.count))
        if let i = self.sets[s].firstIndex(of: vpn) {
            self.sets[s].remove(at: i)
            self.sets[s].append(vpn)
            return true
        }
        if self.sets[s].count == self.ways { self.sets[s].removeFirst() }
        self.sets[s].append(vpn)
        return false
    }
}

@Suite struct TLBTests {
    @Test func singleLevelTLBBehavesLikeASetAssociativeLRUCache() async {
        await propertyCheck(count: 50, input: Gen.uint64(in: 0...63).array(of: 1...400)) { vpns in
            let tlb = TLB(l1: TLBGeometry(entries: 16, ways: 4), l2: nil, pcid: false)
            var reference = ReferenceTLB(entries: 16, ways: 4)
            for vpn in vpns {
                let hit = tlb.lookup(vpn: vpn) != nil
                if !hit { tlb.fill(vpn: vpn, pfn: vpn + 100, bits: [.user]) }
                #expect(hit == reference.access(vpn), "vpn \(vpn)")
            }
        }
    }

    @Test func secondLevelCatchesWhatTheFirstEvicted() {
        let tlb = TLB(
            l1: TLBGeometry(entries: 4, ways: 4), l2: TLBGeometry(entries: 16, ways: 4), pcid: false)
        for vpn in UInt64(0)..<8 { tlb.fill(vpn: vpn, pfn: vpn + 100, bits: []) }
        // The fully associative first level keeps the last four; the second level holds all eight.
        #expect(tlb.lookup(vpn: 7) == (107 << 12))
        #expect(tlb.stats.l1Hits == 1)
        #expect(tlb.lookup(vpn: 0) == (100 << 12))
        #expect(tlb.stats.l2Hits == 1)
        #expect(tlb.lookup(vpn: 0) != nil)
        #expect(tlb.stats.l1Hits == 2, "an L2 hit is copied into L1")
        #expect(tlb.lookup(vpn: 4) != nil)
        #expect(tlb.stats.l2Hits == 2, "copying 0 into L1 evicted its least recently used entry, 4")
        #expect(tlb.lookup(vpn: 9) == nil)
        #expect(tlb.stats.misses == 1)
    }

    @Test func pcidTagsKeepOtherAddressSpacesAndGlobalEntriesSurviveSwitches() {
        let tlb = TLB(pcid: true)
        tlb.switchTo(pcid: 1, flush: true)
        tlb.fill(vpn: 10, pfn: 100, bits: [.user])
        tlb.fill(vpn: 20, pfn: 200, bits: [.global])
        tlb.switchTo(pcid: 2, flush: false)
        #expect(tlb.lookup(vpn: 10) == nil, "PCID 1's entry does not match PCID 2")
        #expect(tlb.lookup(vpn: 20) != nil, "global entries match every PCID")
        tlb.switchTo(pcid: 1, flush: false)
        #expect(tlb.lookup(vpn: 10) != nil, "switching back without a flush keeps PCID 1's entries")
        tlb.switchTo(pcid: 1, flush: true)
        #expect(tlb.lookup(vpn: 10) == nil)
        #expect(tlb.lookup(vpn: 20) != nil)
        tlb.flushAll()
        #expect(tlb.lookup(vpn: 20) == nil)
    }

    @Test func withoutPCIDsEveryCR3LoadFlushesNonGlobalEntries() {
        let tlb = TLB(pcid: false)
        tlb.fill(vpn: 10, pfn: 100, bits: [])
        tlb.fill(vpn: 20, pfn: 200, bits: [.global])
        tlb.switchTo(pcid: 0, flush: false)
        #expect(tlb.lookup(vpn: 10) == nil)
        #expect(tlb.lookup(vpn: 20) != nil)
    }

    @Test func aStaleEntryIsUsedUntilInvlpg() {
        var f = PagingFixture()
        let va: UInt64 = 0x40_0000
        let first = f.map(va)
        #expect(f.mmu.translate(va, access: .read, mode: .user).physAddr == first.rawValue << 12)
        // Change the PTE behind the TLB's back: hardware keeps using the cached translation.
        let second = f.phys.allocPages(.highUserMovable, order: 0)!
        f.arena.setPTE(
            root: f.root, va: va, PTE(pfn: second, flags: [.present, .user, .writable]), tables: &f.tables)
        #expect(f.mmu.translate(va, access: .read, mode: .user).physAddr == first.rawValue << 12)
        f.mmu.invalidatePage(va)
        #expect(f.mmu.translate(va, access: .read, mode: .user).physAddr == second.rawValue << 12)
        // Removing the mapping without a flush: reads still succeed through the stale entry.
        f.arena.setPTE(root: f.root, va: va, .none, tables: &f.tables)
        #expect(f.mmu.translate(va, access: .read, mode: .user).physAddr == second.rawValue << 12)
        f.mmu.flushCurrentAddressSpace()
        #expect(f.mmu.translate(va, access: .read, mode: .user).fault != nil)
    }

    @Test func aWriteThroughACleanEntryWalksToSetDirty() {
        var f = PagingFixture()
        let va: UInt64 = 0x40_0000
        _ = f.map(va)
        _ = f.mmu.translate(va, access: .read, mode: .user)
        let walks = f.mmu.tlb.stats.walks
        _ = f.mmu.translate(va, access: .write, mode: .user)
        #expect(f.mmu.tlb.stats.walks == walks + 1)
        #expect(f.arena.pte(root: f.root, va: va).contains(.dirty))
        _ = f.mmu.translate(va, access: .write, mode: .user)
        #expect(f.mmu.tlb.stats.walks == walks + 1, "now dirty in the TLB too: no walk")
    }

    @Test func aFaultThroughACachedEntryDropsIt() {
        var f = PagingFixture()
        let va: UInt64 = 0x40_0000
        _ = f.map(va, [])
        _ = f.mmu.translate(va, access: .read, mode: .user)
        #expect(f.mmu.translate(va, access: .write, mode: .user).fault?.cause == .writeToReadOnly)
        // The handler makes it writable; no flush is needed because the fault dropped the entry.
        let old = f.arena.pte(root: f.root, va: va)
        f.arena.setPTE(
            root: f.root, va: va, PTE(pfn: old.pfn, flags: [.present, .user, .writable]), tables: &f.tables)
        #expect(f.mmu.translate(va, access: .write, mode: .user).physAddr != nil)
    }

    /// Model-based: random mappings against a plain dictionary of page → (frame, rights); every
    /// translation must agree with what the dictionary predicts.
    @Test func translationsAgreeWithADictionaryModel() async {
        await propertyCheck(count: 25, input: Gen.uint64(in: 0...UInt64.max).array(of: 1...150)) { ops in
            var f = PagingFixture(memory: 32 << 20)
            var model: [UInt64: (pfn: PFN, flags: PTEFlags)] = [:]
            var frames: [PFN] = []
            for op in ops {
                // Pages in a small window so tables are shared and faults happen at every level.
                let vpn = (op >> 8) % 4096 + ((op >> 20) % 3) * (1 << 27)
                let va = vpn << 12
                switch op % 4 {
                case 0, 1:
                    var flags: PTEFlags = [.present]
                    if op & 0x10 != 0 { flags.insert(.writable) }
                    if op & 0x20 != 0 { flags.insert(.user) }
                    if op & 0x40 != 0 { flags.insert(.noExecute) }
                    let pfn = f.phys.allocPages(.highUserMovable, order: 0)!
                    frames.append(pfn)
                    f.arena.setPTE(root: f.root, va: va, PTE(pfn: pfn, flags: flags), tables: &f.tables)
                    f.mmu.invalidatePage(va)
                    model[vpn] = (pfn, flags)
                case 2:
                    f.arena.zapRange(root: f.root, range: va..<(va + 0x1000), tables: &f.tables) { _, _ in }
                    f.mmu.invalidatePage(va)
                    model[vpn] = nil
                default:
                    let access = [Access.read, .write, .execute][Int(op >> 3) % 3]
                    let mode = op & 0x80 != 0 ? CPUMode.user : .kernel
                    let result = f.mmu.translate(va + 0x18, access: access, mode: mode)
                    guard let entry = model[vpn] else {
                        #expect(result.physAddr == nil)
                        continue
                    }
                    let flags = entry.flags
                    var expected = true
                    if mode == .user && !flags.contains(.user) { expected = false }
                    if access == .write && !flags.contains(.writable) { expected = false }
                    if access == .execute && flags.contains(.noExecute) { expected = false }
                    if mode == .kernel && flags.contains(.user) { expected = false }  // SMEP and SMAP
                    #expect((result.physAddr != nil) == expected, "\(hex(va)) \(access) \(mode) \(flags)")
                    if expected { #expect(result.physAddr == (entry.pfn.rawValue << 12) + 0x18) }
                }
            }
            f.arena.zapRange(root: f.root, range: 0..<Architecture.x86_64.userTop, tables: &f.tables) {
                _, _ in
            }
            #expect(f.tables == 1, "every table but the root was freed")
            for pfn in frames { f.phys.freePages(pfn, order: 0) }
            #expect(f.phys.checkInvariants().isEmpty)
        }
    }

    /// The TLB-hit path allocates nothing: N and 1000·N translations make the same number of
    /// heap allocations.
    @Test func translationsDoNotAllocate() {
        var f = PagingFixture()
        for i in UInt64(0)..<32 { _ = f.map(0x40_0000 + i << 12) }
        func run(_ n: Int) -> Int {
            vmsim_allocation_counter_start()
            var sum: UInt64 = 0
            for i in 0..<n {
                if case .mapped(let m) = f.mmu.translate(
                    0x40_0000 + UInt64(i % 32) << 12, access: .read, mode: .user)
                {
                    sum &+= m.physAddr
                }
            }
            let count = vmsim_allocation_counter_stop()
            #expect(sum != 0)
            return count
        }
        let small = run(100)
        let large = run(100_000)
        if small < 0 { return }  // not glibc: counting unsupported
        #expect(small == large, "100 translations made \(small) allocations, 100000 made \(large)")
        #expect(large == 0)
    }
}

@Suite struct AllocationCounterTests {
    /// The counter behind `translationsDoNotAllocate` really counts, so its zero means something.
    @Test func theAllocationCounterSeesAllocations() {
        vmsim_allocation_counter_start()
        var arrays: [[Int]] = []
        for i in 0..<10 { arrays.append(Array(repeating: i, count: 100 + i)) }
        let count = vmsim_allocation_counter_stop()
        #expect(arrays.count == 10)
        if count >= 0 { #expect(count >= 10) }
    }
}
