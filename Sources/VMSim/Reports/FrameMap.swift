import VMCore
import VMPhys
import VMTypes

/// Every physical frame of the machine as one byte saying what it is used for: the data the web
/// visualiser's frame map draws (`vmsim serve`). Read from `struct page` (mm/page_alloc.c keeps
/// free blocks as a head page with PG_buddy and its order; the rest of the flags say what an
/// allocated page holds), never changed.
///
/// Simplification: a frame has one use; a swap-cache page that is also mapped counts as swap
/// cache, an anonymous page mapped by more than one process (after `fork`, copy-on-write) as
/// shared anonymous.
public enum FrameUse: UInt8, CaseIterable, Sendable {
    /// Not RAM (a hole, or past the end of the zones).
    case absent = 0
    /// Reserved at boot: kernel image, `struct page` array, low firmware pages.
    case reserved = 1
    // 2 ... 12: free in the buddy allocator, in a block of order 0 ... 10.
    /// Free but not on a buddy list (per-CPU page lists, or in flight).
    case freeOther = 13
    case anon = 14
    /// Anonymous and mapped by more than one process (copy-on-write after fork).
    case anonShared = 15
    case swapCache = 16
    case file = 17
    case shmem = 18
    case slab = 19
    case pageTable = 20
    /// Kernel stacks and vmalloc pages.
    case kernelStack = 21
    case zeroPage = 22
    /// Allocated by the kernel for something else.
    case kernelOther = 23

    /// The byte of a free buddy block of `order`.
    public static func free(order: Int) -> UInt8 { UInt8(2 + min(max(order, 0), 10)) }

    /// Names of every byte value 0 ... 23, for the page's legend.
    public static let names: [String] =
        ["absent", "reserved"] + (0...10).map { "free order \($0)" } + [
            "free (pcp)", "anon", "anon shared (COW)", "swap cache", "file (page cache)", "shmem", "slab",
            "page table", "kernel stack / vmalloc", "zero page", "kernel other",
        ]
}

/// The frame map of a machine: one `FrameUse` byte per PFN, and a cheap signature of each
/// frame's `struct page` so two maps can say which frames changed.
public struct FrameMap: Sendable {
    public var uses: [UInt8]
    public var signatures: [UInt32]

    public init(kernel: Kernel) {
        let phys = kernel.phys
        let memMap = phys.memMap
        let count = Int(phys.maxPFN)
        var uses = [UInt8](repeating: FrameUse.absent.rawValue, count: count)
        var signatures = [UInt32](repeating: 0, count: count)
        let zero = kernel.zeroPFN.rawValue
        for zone in phys.zones where zone.isPopulated {
            var pfn = zone.startPFN
            let end = min(zone.endPFN, UInt64(count))
            while pfn < end {
                let p = PFN(rawValue: pfn)
                let flags = memMap.flags(p)
                let refs = memMap.refCount(p)
                let maps = memMap.mapCount(p)
                let mapping = memMap.mapping(p)
                var sig = flags.rawValue &* 0x9E37_79B1
                sig ^= UInt32(truncatingIfNeeded: refs) &* 0x85EB_CA6B
                sig ^= UInt32(truncatingIfNeeded: maps &+ 1) &* 0xC2B2_AE35
                sig ^= mapping &* 0x27D4_EB2F
                sig ^= UInt32(truncatingIfNeeded: memMap.index(p)) &* 0x1656_67B1
                signatures[Int(pfn)] = sig | 1
                if flags.contains(.buddy) {
                    let order = memMap.order(p)
                    let n = min(UInt64(1) << UInt64(order), end - pfn)
                    let use = FrameUse.free(order: order)
                    for i in 0..<n {
                        uses[Int(pfn + i)] = use
                        if i > 0 { signatures[Int(pfn + i)] = sig &+ UInt32(i) }
                    }
                    pfn += n
                    continue
                }
                let use = Self.use(
                    flags: flags, refs: refs, maps: maps, mapping: mapping, isZero: pfn == zero,
                    reserved: refs == 0 && memMap.isReserved(p)
                ).rawValue
                uses[Int(pfn)] = use
                // A high-order allocation: the tail frames carry no metadata of their own.
                let order = refs > 0 ? memMap.order(p) : 0
                if order > 0 {
                    let n = min(UInt64(1) << UInt64(order), end - pfn)
                    for i in 1..<n {
                        uses[Int(pfn + i)] = use
                        signatures[Int(pfn + i)] = sig &+ UInt32(i)
                    }
                    pfn += n
                    continue
                }
                pfn += 1
            }
        }
        self.uses = uses
        self.signatures = signatures
    }

    static func use(flags: PageFlags, refs: Int, maps: Int, mapping: UInt32, isZero: Bool, reserved: Bool)
        -> FrameUse
    {
        if isZero || flags.contains(.zeroPage) { return .zeroPage }
        if flags.contains(.reserved) || reserved { return .reserved }
        if flags.contains(.pageTable) { return .pageTable }
        if flags.contains(.slab) { return .slab }
        if flags.contains(.kernelStack) || flags.contains(.vmalloc) { return .kernelStack }
        if flags.contains(.swapCache) { return .swapCache }
        if flags.contains(.anon) { return maps > 1 ? .anonShared : .anon }
        if mapping != 0 { return flags.contains(.swapBacked) ? .shmem : .file }
        if refs == 0 { return .freeOther }
        return .kernelOther
    }

    /// The PFNs whose `struct page` differs from `previous` (all of them if the sizes differ).
    public func changed(since previous: FrameMap?) -> [Int] {
        guard let previous, previous.signatures.count == self.signatures.count else { return [] }
        var out: [Int] = []
        for i in 0..<self.signatures.count where self.signatures[i] != previous.signatures[i] {
            out.append(i)
        }
        return out
    }

    /// The uses run-length encoded — pairs of (byte, run length as a LEB128 varint) — then
    /// base64: a mostly free 1 GiB machine is a few hundred bytes instead of 262,144.
    public func encodedUses() -> String {
        var bytes: [UInt8] = []
        var i = 0
        let n = self.uses.count
        while i < n {
            let v = self.uses[i]
            var j = i + 1
            while j < n && self.uses[j] == v { j += 1 }
            bytes.append(v)
            var run = UInt64(j - i)
            repeat {
                var b = UInt8(run & 0x7F)
                run >>= 7
                if run != 0 { b |= 0x80 }
                bytes.append(b)
            } while run != 0
            i = j
        }
        return Base64.encode(bytes)
    }
}

/// Standard base64 (RFC 4648) without Foundation.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [
                alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)],
                alphabet[Int(v & 63)],
            ]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], 61, 61]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], 61]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
