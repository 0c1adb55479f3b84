import Testing
import VMPhys
import VMTypes

@testable import VMPaging

@Suite struct WalkTests {
    @Test(arguments: [
        (Architecture.i386, UInt64(0xC012_3456), [0x300, 0x123], UInt64(0x456)),
        (Architecture.i386PAE, 0xC012_3456, [3, 0x000, 0x123], 0x456),
        (Architecture.x86_64, 0x0000_7f12_3456_7abc, [0xfe, 0x48, 0x1a2, 0x167], 0xabc),
        (Architecture.x86_64LA57, 0x00ff_1234_5678_9abc, [0xff, 0x24, 0xd1, 0xb3, 0x189], 0xabc),
        (
            Architecture.teaching(addressBits: 15, pageShift: 5, levelBits: [5, 5]), 0x611c, [0x18, 0x08],
            0x1c
        ),
    ])
    func indicesAreExtractedPerLevel(arch: Architecture, va: UInt64, indices: [Int], offset: UInt64) {
        let rules = PagingRules(arch)
        #expect((0..<arch.paging.levels).map { rules.index(va, level: $0) } == indices)
        #expect(va & (arch.pageSize - 1) == offset)
    }

    @Test func aMappedPageTranslatesAndSetsAccessedOnEveryLevelAndDirtyOnWrite() {
        var f = PagingFixture()
        let va: UInt64 = 0x0000_7f00_1234_5000
        let pfn = f.map(va)
        var recorder = WalkRecorder()
        let read = walkPageTables(
            f.arena, rules: f.mmu.rules, features: f.mmu.features, root: f.root, address: va + 0x10,
            access: .read, mode: .user, setAccessedDirty: true, observer: &recorder)
        #expect(read.physAddr == (pfn.rawValue << 12) + 0x10)
        #expect(recorder.steps.count == 4)
        #expect(recorder.steps.allSatisfy { !$0.entry.contains(.dirty) || $0.level < 3 })
        // After the read every level has Accessed, the leaf not Dirty.
        var again = WalkRecorder()
        _ = walkPageTables(
            f.arena, rules: f.mmu.rules, features: f.mmu.features, root: f.root, address: va, access: .write,
            mode: .user, setAccessedDirty: true, observer: &again)
        #expect(again.steps.allSatisfy { $0.entry.contains(.accessed) })
        #expect(!again.steps[3].entry.contains(.dirty))
        #expect(f.arena.pte(root: f.root, va: va).contains(.dirty))
    }

    @Test func aPermissionFaultLeavesTheLeafUnaccessed() {
        var f = PagingFixture()
        let va: UInt64 = 0x40_0000
        _ = f.map(va, [])  // read-only
        let result = f.mmu.translate(va, access: .write, mode: .user)
        #expect(result.fault?.cause == .writeToReadOnly)
        let leaf = f.arena.pte(root: f.root, va: va)
        #expect(!leaf.contains(.accessed) && !leaf.contains(.dirty))
    }

    /// Every fault cause, with the error code the CPU pushes (X86_PF_PROT/WRITE/USER/INSTR).
    @Test func everyFaultCauseHasItsErrorCode() {
        var f = PagingFixture()
        let ro: UInt64 = 0x40_0000
        let nx: UInt64 = 0x40_1000
        let rw: UInt64 = 0x40_2000
        _ = f.map(ro, [])
        _ = f.map(nx, [.writable, .noExecute])
        _ = f.map(rw, [.writable])
        let kernelVA = Architecture.x86_64.pageOffset + 0x20_0000
        let cases: [(UInt64, Access, CPUMode, FaultCause?, PFErrorCode)] = [
            (0x50_0000, .read, .user, .notPresent(level: 3), [.user]),
            (0x0000_6000_0000_0000, .write, .user, .notPresent(level: 0), [.write, .user]),
            (ro, .write, .user, .writeToReadOnly, [.protection, .write, .user]),
            (rw, .read, .kernel, .supervisorAccessesUser, [.protection]),
            (ro, .write, .kernel, .writeToReadOnly, [.protection, .write]),
            (nx, .execute, .user, .executeNoExecute, [.protection, .user, .instruction]),
            (rw, .execute, .kernel, .supervisorExecutesUser, [.protection, .instruction]),
            (kernelVA, .read, .user, .userToSupervisor, [.protection, .user]),
            (kernelVA, .execute, .kernel, .executeNoExecute, [.protection, .instruction]),
            (0x0000_8000_0000_0000, .read, .user, .nonCanonical, []),
            (rw, .write, .user, nil, []),
            (kernelVA, .write, .kernel, nil, []),
        ]
        for (va, access, mode, cause, code) in cases {
            let result = f.mmu.translate(va, access: access, mode: mode)
            #expect(result.fault?.cause == cause, "\(hex(va)) \(access) \(mode)")
            if cause != nil { #expect(result.fault?.errorCode == code, "\(hex(va)) \(access) \(mode)") }
        }
    }

    @Test func withoutWriteProtectTheKernelMayWriteReadOnlyPages() {
        var f = PagingFixture(features: CPUFeatures(writeProtect: false, smep: false, smap: false))
        let ro: UInt64 = 0x40_0000
        _ = f.map(ro, [])
        #expect(f.mmu.translate(ro, access: .write, mode: .kernel).physAddr != nil)
        #expect(f.mmu.translate(ro, access: .write, mode: .user).fault?.cause == .writeToReadOnly)
    }

    @Test func i386HasNoNXAndUsesTwoLevels() {
        var f = PagingFixture(arch: .i386)
        let va: UInt64 = 0x0804_8000
        let pfn = f.map(va, [.writable, .noExecute])
        // Entries are 4 bytes: NX cannot exist, so execution is allowed.
        #expect(f.mmu.translate(va + 4, access: .execute, mode: .user).physAddr == (pfn.rawValue << 12) + 4)
        #expect(
            f.mmu.translate(0x0900_0000, access: .read, mode: .user).fault?.cause == .notPresent(level: 0))
    }

    @Test func theDirectMapUsesLargePagesAsMeminfoSays() {
        let f = PagingFixture(memory: 4 << 30)
        var levels: [Int: Int] = [:]
        for pa in stride(from: UInt64(0), to: 4 << 30, by: 1 << 21) {
            var o = NoWalkObserver()
            let r = walkPageTables(
                f.arena, rules: f.mmu.rules, features: f.mmu.features, root: f.root,
                address: Architecture.x86_64.pageOffset + pa + 0x123, access: .read, mode: .kernel,
                setAccessedDirty: false, observer: &o)
            guard case .mapped(let m) = r else {
                Issue.record("direct map hole at \(hex(pa))")
                return
            }
            #expect(m.physAddr == pa + 0x123)
            levels[m.pageShift, default: 0] += 1
        }
        // First 2 MiB in 4 KiB pages, the rest of the first GiB in 2 MiB pages, then 1 GiB pages.
        #expect(levels[12] == 1)
        #expect(levels[21] == 511)
        #expect(levels[30] == 1536)
    }

    @Test func tablesAreRealFramesCountedAndFreedWhenEmpty() {
        var f = PagingFixture()
        let before = f.phys.state(.nrPageTablePages)
        let va: UInt64 = 0x0000_7f00_0000_0000
        _ = f.map(va)
        _ = f.map(va + 0x1000)
        // A new PUD, PMD and PTE table under the existing root.
        #expect(f.phys.state(.nrPageTablePages) == before + 3)
        #expect(f.tables == 4)
        var freedFrames: [PFN] = []
        f.arena.zapRange(root: f.root, range: va..<(va + 0x1000), tables: &f.tables) { _, pte in
            freedFrames.append(pte.pfn)
        }
        #expect(f.phys.state(.nrPageTablePages) == before + 3, "one entry is left, the tables stay")
        f.arena.zapRange(root: f.root, range: va..<(va + 0x2000), tables: &f.tables) { _, pte in
            freedFrames.append(pte.pfn)
        }
        #expect(f.phys.state(.nrPageTablePages) == before)
        #expect(f.tables == 1)
        #expect(freedFrames.count == 2)
        for pfn in freedFrames { f.phys.freePages(pfn, order: 0) }
        #expect(f.phys.checkInvariants().isEmpty)
    }

    @Test func swapEntriesSurviveInNonPresentEntriesAndFault() {
        var f = PagingFixture()
        let va: UInt64 = 0x40_0000
        let entry = SwapEntry(type: 1, offset: 12345)
        f.arena.setPTE(root: f.root, va: va, PTE(swap: entry), tables: &f.tables)
        #expect(f.arena.pte(root: f.root, va: va).swapEntry == entry)
        #expect(f.mmu.translate(va, access: .read, mode: .user).fault?.cause == .notPresent(level: 3))
    }

    @Test func logicalAddressesAreTheDirectMap() {
        let arch = Architecture.x86_64
        #expect(arch.logicalAddress(ofPhysical: 0x1000) == 0xffff_8880_0000_1000)
        #expect(arch.physicalAddress(ofLogical: 0xffff_8880_0000_1000, ramBytes: 1 << 30) == 0x1000)
        #expect(arch.physicalAddress(ofLogical: 0xffff_8880_4000_0000, ramBytes: 1 << 30) == nil)
        #expect(
            Architecture.i386.logicalAddress(ofPhysical: 0x3800_0000) == nil, "HighMem has no logical address"
        )
        #expect(Architecture.i386.logicalAddress(ofPhysical: 0x100_0000) == 0xC100_0000)
    }
}
