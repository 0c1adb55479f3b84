import PropertyBased
import Testing

@testable import VMTypes

@Suite struct PTETests {
    @Test func entriesRoundTripFrameAndFlags() async {
        await propertyCheck(input: Gen.uint64(in: 0...((1 << 40) - 1)), Gen.uint64(in: 0...0xFFF)) {
            frame, bits in
            let flags = PTEFlags(rawValue: bits).union(.present)
            let pte = PTE(pfn: PFN(rawValue: frame), flags: flags)
            #expect(pte.pfn.rawValue == frame)
            #expect(pte.flags == flags)
            #expect(pte.isPresent && !pte.isSwap)
        }
    }

    @Test func swapEntriesRoundTripAndAreNeverEmptyOrPresent() async {
        await propertyCheck(input: Gen.int(in: 0...31), Gen.uint64(in: 0...SwapEntry.maxOffset)) {
            type, offset in
            let entry = SwapEntry(type: type, offset: offset)
            let pte = PTE(swap: entry)
            #expect(!pte.isPresent && !pte.isNone)
            #expect(pte.swapEntry == entry)
        }
    }

    @Test func flagBitsAreTheX86Positions() {
        #expect(PTEFlags.present.rawValue == 0x1)
        #expect(PTEFlags.writable.rawValue == 0x2)
        #expect(PTEFlags.user.rawValue == 0x4)
        #expect(PTEFlags.accessed.rawValue == 0x20)
        #expect(PTEFlags.dirty.rawValue == 0x40)
        #expect(PTEFlags.pageSize.rawValue == 0x80)
        #expect(PTEFlags.global.rawValue == 0x100)
        #expect(PTEFlags.noExecute.rawValue == 1 << 63)
        #expect(PTE(pfn: PFN(rawValue: 0x1234), flags: [.present, .writable, .user]).rawValue == 0x1234007)
    }

    @Test(
        arguments: [
            (0x0000_7fff_ffff_ffff, true), (0x0000_8000_0000_0000, false), (0xffff_8000_0000_0000, true),
            (0xffff_7fff_ffff_ffff, false), (0, true), (0xffff_ffff_ffff_ffff, true),
        ] as [(UInt64, Bool)])
    func canonicalAddressesOnX86_64(address: UInt64, canonical: Bool) {
        #expect(Architecture.x86_64.isCanonical(address) == canonical)
    }

    @Test func geometriesAddUp() {
        for arch in Architecture.named { #expect(arch.paging.isConsistent, "\(arch.name)") }
        let teach = Architecture.teaching(addressBits: 15, pageShift: 5, levelBits: [5, 5])
        #expect(teach.paging.isConsistent)
        #expect(Architecture.i386.paging.index(of: 0xC012_3456, atLevel: 0) == 0x300)
        #expect(Architecture.i386.paging.index(of: 0xC012_3456, atLevel: 1) == 0x123)
        #expect(Architecture.x86_64.paging.shift(ofLevel: 0) == 39)
    }
}
