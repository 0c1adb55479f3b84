import Testing
import VMTypes

@testable import VMPaging

@Suite struct SegmentationTests {
    @Test(arguments: [
        (UInt16(0x1234), UInt64(0x0010), false, UInt64(0x12350)),
        (0xFFFF, 0x0010, false, 0x00000),  // wraps at 1 MiB with A20 closed
        (0xFFFF, 0x0010, true, 0x100000),  // the high memory area with A20 open
        (0xB800, 0x0000, false, 0xB8000),
    ])
    func realModeIsSegmentTimesSixteenPlusOffset(segment: UInt16, offset: UInt64, a20: Bool, linear: UInt64)
        throws
    {
        let seg = Segmentation(mode: .real, a20: a20)
        #expect(try seg.linearAddress(selector: segment, offset: offset, access: .read).get() == linear)
    }

    @Test func linuxFlatModelMakesLinearEqualOffset() throws {
        let seg = Segmentation.linuxFlat(for: .i386, cpl: 3)
        let (code, data) = Segmentation.linuxSelectors(for: .i386, user: true)
        #expect(code == 0x73 && data == 0x7b)
        #expect(
            try seg.linearAddress(selector: data, offset: 0x0804_a123, access: .write).get() == 0x0804_a123)
        #expect(
            try seg.linearAddress(selector: code, offset: 0x0804_8000, access: .execute).get() == 0x0804_8000)
        // User code cannot use the kernel's data segment (DPL 0).
        let kernelData = Segmentation.linuxSelectors(for: .i386, user: false).data
        guard
            case .failure(.generalProtection) = seg.linearAddress(
                selector: kernelData | 3, offset: 0, access: .read)
        else {
            Issue.record("expected #GP")
            return
        }
    }

    @Test func protectedModeChecksLimitTypeAndPresence() throws {
        var gdt: [SegmentDescriptor?] = [nil]
        gdt.append(
            SegmentDescriptor(
                base: 0x0010_0000, limit: 0x0FFF, granularity4K: false,
                kind: .data(writable: true, expandDown: false), dpl: 3))
        gdt.append(
            SegmentDescriptor(
                base: 0x0020_0000, limit: 0x3, granularity4K: true, kind: .code(readable: false), dpl: 3))
        gdt.append(
            SegmentDescriptor(
                base: 0, limit: 0xFFFFF, granularity4K: true, kind: .data(writable: false, expandDown: false),
                dpl: 3, present: false))
        let seg = Segmentation(mode: .protected, gdt: gdt, cpl: 3)
        let data = SegmentSelector(index: 1, rpl: 3).rawValue
        let code = SegmentSelector(index: 2, rpl: 3).rawValue
        let absent = SegmentSelector(index: 3, rpl: 3).rawValue
        #expect(try seg.linearAddress(selector: data, offset: 0x0FFF, access: .read).get() == 0x0010_0FFF)
        #expect(
            (try? seg.linearAddress(selector: data, offset: 0x1000, access: .read).get()) == nil,
            "beyond the byte limit")
        #expect(
            (try? seg.linearAddress(selector: data, offset: 0x0FFE, access: .read, size: 4).get()) == nil,
            "access crosses the limit")
        #expect(
            try seg.linearAddress(selector: code, offset: 0x3FFF, access: .execute).get() == 0x0020_3FFF,
            "4 KiB granularity")
        #expect(
            (try? seg.linearAddress(selector: code, offset: 0, access: .read).get()) == nil, "execute-only")
        #expect(
            (try? seg.linearAddress(selector: code, offset: 0, access: .write).get()) == nil,
            "code is never writable")
        if case .failure(.notPresent) = seg.linearAddress(selector: absent, offset: 0, access: .read) {
        } else {
            Issue.record("expected #NP")
        }
        if case .failure(.generalProtection(0, _)) = seg.linearAddress(selector: 0, offset: 0, access: .read)
        {
        } else {
            Issue.record("expected #GP(0) for the null selector")
        }
    }
}
