import Testing
import VMPhys
import VMTypes

@testable import VMCore

/// Issue 11, class 1 in the kernel: address arithmetic on numbers a user passes. Every range
/// system call is given ranges at the end of the address space — lengths that page-align past
/// 2⁶⁴, ends past `TASK_SIZE`, addresses in the last page of the 64-bit space — and must answer
/// with the errno this machine's Linux 6.18 gives (tools/kernel-truth/bounds.c, measured on
/// x86-64; results/bounds.txt), never trap; and the VMA tree's gap search must place every
/// mapping where a walk over all VMAs would.
@Suite struct AddressRangeTests {
    static let top: UInt64 = 0x7fff_ffff_f000
    /// The one page every case starts from, mapped at a fixed address as in bounds.c.
    static let mapped: UInt64 = 0x7fff_f000_0000
    static let max = UInt64.max

    enum Call: Sendable, CustomStringConvertible {
        case mmap(length: UInt64, at: UInt64?, fixed: Bool)
        case munmap(UInt64, UInt64)
        case mprotect(UInt64, UInt64)
        case madvise(UInt64, UInt64, Advice)
        case mlock(UInt64, UInt64)
        case munlock(UInt64, UInt64)
        case msync(UInt64, UInt64)

        var description: String {
            switch self {
            case .mmap(let length, let at, let fixed):
                return "mmap(\(at.map { hex($0) } ?? "0"), \(hex(length))\(fixed ? ", MAP_FIXED" : ""))"
            case .munmap(let a, let l): return "munmap(\(hex(a)), \(hex(l)))"
            case .mprotect(let a, let l): return "mprotect(\(hex(a)), \(hex(l)))"
            case .madvise(let a, let l, let advice): return "madvise(\(hex(a)), \(hex(l)), \(advice))"
            case .mlock(let a, let l): return "mlock(\(hex(a)), \(hex(l)))"
            case .munlock(let a, let l): return "munlock(\(hex(a)), \(hex(l)))"
            case .msync(let a, let l): return "msync(\(hex(a)), \(hex(l)))"
            }
        }
    }

    /// Each call and the errno Linux answers (nil: success), as bounds.c printed them.
    static let cases: [(Call, String?)] = [
        (.mmap(length: max, at: nil, fixed: false), "ENOMEM"),
        (.mmap(length: 1 << 63, at: nil, fixed: false), "ENOMEM"),
        (.mmap(length: 8 << 20, at: 0xffff_ffff_ffff_f000, fixed: true), "ENOMEM"),
        (.mmap(length: 0x2000, at: top - 0x1000, fixed: true), "ENOMEM"),
        (.mmap(length: 8 << 20, at: 0xffff_ffff_ffff_f000, fixed: false), nil),
        (.munmap(0x10000, max), "EINVAL"),
        (.munmap(0xffff_ffff_ffff_f000, 0x2000), "EINVAL"),
        (.munmap(top, 0x1000), "EINVAL"),
        (.munmap(top - 0x1000, 0x2000), "EINVAL"),
        (.mprotect(mapped, max), "ENOMEM"),
        (.mprotect(mapped, max - 0xfff), "ENOMEM"),
        (.mprotect(0xffff_ffff_ffff_f000, 0x2000), "ENOMEM"),
        (.mprotect(top, 0x1000), "ENOMEM"),
        (.madvise(mapped, max, .dontneed), "EINVAL"),
        (.madvise(mapped, max - 0xfff, .dontneed), "EINVAL"),
        (.madvise(0xffff_ffff_ffff_f000, 0x2000, .dontneed), "EINVAL"),
        (.madvise(top, 0x1000, .dontneed), "ENOMEM"),
        (.madvise(mapped, 1 << 63, .random), "ENOMEM"),
        (.mlock(mapped, max), nil),
        (.mlock(mapped, max - 0xfff), "EINVAL"),
        (.mlock(0xffff_ffff_ffff_f000, 0x2000), "EINVAL"),
        (.mlock(top, 0x1000), "ENOMEM"),
        (.munlock(mapped, max), nil),
        (.munlock(0xffff_ffff_ffff_f000, 0x2000), "EINVAL"),
        (.msync(mapped, max), nil),
        (.msync(mapped, max - 0xfff), "ENOMEM"),
        (.msync(0xffff_ffff_ffff_f000, 0x2000), "ENOMEM"),
        (.msync(top, 0x1000), "ENOMEM"),
    ]

    func run(_ k: Kernel, _ t: Task, _ call: Call) -> String? {
        do {
            switch call {
            case .mmap(let length, let at, let fixed):
                var request = MapRequest(length: length, protection: [.read], shared: false)
                request.address = at
                request.fixed = fixed
                _ = try k.mmap(t, request)
            case .munmap(let a, let l): try k.munmap(t, address: a, length: l)
            case .mprotect(let a, let l): try k.mprotect(t, address: a, length: l, protection: [.read])
            case .madvise(let a, let l, let advice): try k.madvise(t, address: a, length: l, advice: advice)
            case .mlock(let a, let l): try k.mlock(t, address: a, length: l, lock: true)
            case .munlock(let a, let l): try k.mlock(t, address: a, length: l, lock: false)
            case .msync(let a, let l): try k.msync(t, address: a, length: l, sync: true)
            }
            return nil
        } catch {
            return error.errno
        }
    }

    /// Every range system call at the end of the address space gives Linux's errno, leaves
    /// the mapped page alone when it fails, and keeps the kernel's invariants.
    @Test(arguments: 0..<Self.cases.count)
    func rangesAtTheEndOfTheAddressSpaceGiveTheKernelsErrno(_ i: Int) throws {
        let (call, errno) = Self.cases[i]
        let k = bootKernel()
        let t = try k.spawn(name: "bounds")
        var request = MapRequest(length: 0x1000, protection: [.read, .write], shared: false)
        request.address = Self.mapped
        request.fixed = true
        request.noReplace = true
        #expect(try k.mmap(t, request) == Self.mapped)
        let before = t.mm!.vmas
        #expect(self.run(k, t, call) == errno, "\(call)")
        if errno != nil { #expect(t.mm!.vmas == before, "\(call) changed the address space") }
        #expect(t.mm!.vma(containing: Self.mapped) != nil)
        #expect(k.checkInvariants().isEmpty, "\(call)")
    }

    /// `brk()` past `TASK_SIZE` (or to 2⁶⁴−1) fails and leaves the break where it was
    /// (`check_brk_limits()`; bounds.c: ENOMEM from glibc's `brk()`).
    @Test(arguments: [UInt64.max, top + 0x1000, 1 << 63])
    func aBreakBeyondUserSpaceIsRefused(_ target: UInt64) throws {
        let k = bootKernel()
        let t = try k.spawn(name: "brk")
        let old = t.mm!.brk
        #expect(k.brk(t, to: target) == old)
        #expect(t.mm!.brk == old)
        #expect(k.checkInvariants().isEmpty)
    }

    /// An executable whose text, data and bss do not fit below the mmap area — each size up to
    /// 2⁶⁴−1, or sums that pass 2⁶⁴ — is refused with ENOMEM before anything is built; no task
    /// or page is left behind.
    @Test(arguments: [
        ImageLayout(text: .max), ImageLayout(bss: 1 << 63), ImageLayout(text: 1 << 63, data: 1 << 63),
        ImageLayout(data: .max - 0xfff), ImageLayout(text: 1 << 46, data: 1 << 46, bss: 1 << 46),
    ])
    func anImageThatDoesNotFitIsRefused(_ layout: ImageLayout) throws {
        let k = bootKernel()
        let tasks = k.tasks.count
        do {
            _ = try k.spawn(name: "huge", layout: layout)
            Issue.record("an image of \(layout) was accepted")
        } catch {
            #expect(error.errno == "ENOMEM", "\(error)")
        }
        #expect(k.tasks.values.filter { $0.state == .running }.count == tasks)
        #expect(k.file(at: "/bin/huge") == nil)
        #expect(k.checkInvariants().isEmpty)
    }

    /// Sysctls are C ints (proc_dointvec_minmax()): values past INT_MAX, and a page-cluster
    /// beyond page_cluster_max, are EINVAL.
    @Test func sysctlsOutsideAnIntAreRefused() throws {
        let k = bootKernel()
        for name in ["vm.vfs_cache_pressure", "vm.dirty_expire_centisecs", "vm.max_map_count"] {
            #expect(throws: MMError.self) { try k.setSysctl(name, "2147483648") }
        }
        #expect(throws: MMError.self) { try k.setSysctl("vm.page-cluster", "32") }
        try k.setSysctl("vm.page-cluster", "31")
        try k.setSysctl("vm.vfs_cache_pressure", "2147483647")
        // read_ahead_kb is an unsigned long in sysfs: any value, turned into pages by a shift.
        try k.setSysctl("block.read_ahead_kb", String(Int.max))
    }

    /// read(2) and fadvise(2) with lengths that reach past 2⁶⁴: read stops at the end of the
    /// file (the request is cut at s_maxbytes), fadvise treats the range as "to the end".
    @Test func fileRangesPastTheEndOfTheNumberLineAreCut() throws {
        let k = bootKernel()
        let t = try k.spawn(name: "reader")
        _ = try k.installFile("/f", size: 3 << 12, cached: true)
        let fd = try k.open(t, "/f")
        #expect(try k.read(t, fd: fd, offset: 0x1000, length: .max).count == 2)
        #expect(try k.read(t, fd: fd, offset: .max, length: .max).isEmpty)
        try k.fadvise(t, fd: fd, offset: 0x1000, length: .max, advice: .dontneed)
        #expect(k.file(at: "/f")!.pages[0] != nil)
        #expect(k.file(at: "/f")!.pages[1] == nil && k.file(at: "/f")!.pages[2] == nil)
        #expect(k.checkInvariants().isEmpty)
    }

    // MARK: The gap search agrees with a walk over every VMA

    /// `unmapped_area_topdown()` as a walk over every VMA: the highest free range that fits
    /// between `mmap_min_addr` and `high`; when the VMA above it is a stack whose guard gap
    /// reaches into it, again below that guard gap. The reference for the tree's gap search.
    func referencePlacement(_ k: Kernel, _ mm: AddressSpace, length: UInt64) -> UInt64? {
        let vmas = mm.vmas
        var high = mm.mmapBase
        let low = Kernel.mmapMinAddr
        retry: while true {
            // Free ranges from the top down: above the last VMA, then below each VMA.
            var ranges: [(UInt64, UInt64, VMA?)] = [(vmas.last?.end ?? 0, k.architecture.userTop, nil)]
            for (i, vma) in vmas.enumerated().reversed() {
                ranges.append((i > 0 ? vmas[i - 1].end : 0, vma.start, vma))
            }
            for (lo, hi, above) in ranges where hi > lo {
                let top = min(hi, high)
                let bottom = Swift.max(lo, low)
                guard top > bottom, top - bottom >= length else { continue }
                if let above, above.flags.contains(.growsDown), k.vmStartGap(above) < top {
                    high = k.vmStartGap(above)
                    continue retry
                }
                return top - length
            }
            return nil
        }
    }

    /// Random mmaps (some of them stacks with guard gaps, some at fixed addresses), munmaps and
    /// mprotects: every mmap without a hint lands where the reference walk says, and the
    /// stored gaps stay right (the invariant checker compares them).
    @Test(arguments: [1, 2, 3, 4])
    func gapSearchPlacesMappingsWhereAWalkOverEveryVMAWould(_ seed: UInt64) throws {
        let k = bootKernel(memory: 64 << 20)
        let t = try k.spawn(name: "gaps")
        let mm = t.mm!
        var rng = SeededGenerator(seed: seed)
        var mapped: [(UInt64, UInt64)] = []
        for step in 0..<600 {
            var pages = UInt64(1 + rng.below(rng.below(4) == 0 ? 600 : 8))
            // A multiple of the PMD size would be placed on a huge-page boundary instead.
            if pages % 512 == 0 { pages += 1 }
            let length = pages << 12
            switch rng.below(10) {
            case 0..<5:
                var request = MapRequest(
                    length: length, protection: rng.below(2) == 0 ? [.read] : [.read, .write], shared: false)
                request.growsDown = rng.below(8) == 0
                let expected = self.referencePlacement(k, mm, length: length)
                let start = try? k.mmap(t, request)
                #expect(start == expected, "step \(step): mmap of \(pages) pages")
                if let start { mapped.append((start, length)) }
            case 5:
                // A fixed mapping somewhere below mmap_base, to break the packing.
                let at = (mm.mmapBase - (UInt64(rng.below(1 << 16)) << 12)) & ~0xfff
                var request = MapRequest(length: length, protection: [.read], shared: false)
                request.address = at
                request.fixed = true
                if (try? k.mmap(t, request)) != nil { mapped.append((at, length)) }
            case 6..<9 where !mapped.isEmpty:
                let (start, len) = mapped.remove(at: Int(rng.below(UInt64(mapped.count))))
                // Part of it, to split VMAs as well as remove them.
                let cut = rng.below(2) == 0 ? len : (len / 2) & ~0xfff
                try? k.munmap(t, address: start, length: Swift.max(cut, 0x1000))
            default:
                if let (start, len) = mapped.last {
                    try? k.mprotect(t, address: start, length: len, protection: [.read, .write])
                }
            }
            if step % 50 == 0 { #expect(mm.checkVMAs(pageShift: 12).isEmpty, "step \(step)") }
        }
        #expect(mm.checkVMAs(pageShift: 12).isEmpty)
        #expect(k.checkInvariants().isEmpty)
    }
}
