/// The placement policy of a `FreeListAllocator`.
public enum FitPolicy: String, Sendable, CaseIterable {
    /// The first free block that is big enough, from the lowest address.
    case first
    /// The smallest free block that is big enough (the lowest address among equals).
    case best
    /// The largest free block.
    case worst
    /// Like first fit, but starting where the last search ended and wrapping around (Knuth's
    /// "next fit", the roving pointer).
    case next
}

/// A textbook allocator for teaching: one explicit free list kept in address order, a fit
/// policy, splitting, and coalescing with both neighbours on free.
///
/// Not glibc, and not any real C library: it is the allocator of OS and systems courses (CS:APP
/// §9.9, OSTEP ch. 17), so a course can run the same program under it and under `GlibcMalloc`.
/// Layout: a block is a 16-byte header (its size, bit 0 set while allocated, then padding that
/// keeps payloads 16-aligned) and a payload; a free block keeps its list links (`next`, `prev`)
/// in the first 16 bytes of its payload. Sizes are multiples of 16, at least 32. The heap grows
/// with `brk` by the missing bytes rounded up to `growth` (a page by default), extending the last
/// block when it is free. Simplifications, stated: no `mmap` for large requests, the heap never
/// shrinks, `calloc` always clears, the list is searched linearly (O(free blocks) per call).
/// Every header and link it reads or writes — including each free block a search visits — is
/// reported to the `MallocSystem`.
public final class FreeListAllocator: UserAllocator {
    public let system: any MallocSystem
    public let policy: FitPolicy
    public var name: String { "freelist:\(self.policy.rawValue)" }
    @exclusivity(unchecked) public private(set) var errno: MallocErrno?
    @exclusivity(unchecked) public private(set) var stats = AllocatorStats()
    /// The least the heap grows by, in bytes (a multiple of the page size).
    public let growth: UInt64

    static let header: UInt64 = 16
    static let minBlock: UInt64 = 32

    /// The heap's first byte, 0 until the first allocation.
    @exclusivity(unchecked) var heapStart: UInt64 = 0
    /// The end of the heap (the program break this allocator set).
    @exclusivity(unchecked) var heapEnd: UInt64 = 0
    /// Free blocks in address order.
    @exclusivity(unchecked) var freeAddresses: [UInt64] = []
    @exclusivity(unchecked) var freeSizes: [UInt64] = []
    /// Allocated blocks: size and request, by block address.
    @exclusivity(unchecked) var allocated: [UInt64: (size: UInt64, requested: UInt64)] = [:]
    /// Next fit's roving position: the address the last search ended at.
    @exclusivity(unchecked) var rover: UInt64 = 0
    @exclusivity(unchecked) var killed = false

    /// `policy` over `system`; the heap grows in steps of at least `growth` bytes.
    public init(system: any MallocSystem, policy: FitPolicy, growth: UInt64? = nil) {
        self.system = system
        self.policy = policy
        self.growth = max(growth ?? system.pageSize, system.pageSize)
    }

    /// The allocator of a child created by `fork(2)`: the same lists over the child's memory.
    public func forked(onto system: any MallocSystem) -> any UserAllocator {
        let c = FreeListAllocator(system: system, policy: self.policy, growth: self.growth)
        c.errno = self.errno
        c.stats = self.stats
        c.heapStart = self.heapStart
        c.heapEnd = self.heapEnd
        c.freeAddresses = self.freeAddresses
        c.freeSizes = self.freeSizes
        c.allocated = self.allocated
        c.rover = self.rover
        return c
    }

    /// The names `init(name:system:)` accepts.
    public static let names = ["freelist"] + FitPolicy.allCases.map { "freelist:\($0.rawValue)" }

    /// Parses `freelist:best` (or `freelist` for first fit).
    public convenience init?(name: String, system: any MallocSystem) {
        let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.first == "freelist" else { return nil }
        guard let policy = parts.count == 1 ? FitPolicy.first : FitPolicy(rawValue: parts[1]) else {
            return nil
        }
        self.init(system: system, policy: policy)
    }

    // MARK: Accesses

    func touch(_ address: UInt64, _ length: UInt64, _ kind: MemoryAccessKind) {
        if !self.system.access(address, length: length, kind: kind) { self.killed = true }
    }

    func finish() throws(MallocAbort) {
        if self.killed { throw .killed }
    }

    static func blockSize(_ request: UInt64) -> UInt64? {
        let (padded, overflow) = request.addingReportingOverflow(Self.header + 15)
        if overflow || padded > UInt64(Int64.max) { return nil }
        return max(padded & ~15, Self.minBlock)
    }

    // MARK: The free list

    /// The index of the first free block at or above `address`.
    func lowerBound(_ address: UInt64) -> Int {
        var lo = 0
        var hi = self.freeAddresses.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self.freeAddresses[mid] < address { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The free block to allocate `size` bytes from, by the policy; nil if none fits. Reads the
    /// header and link of every block the search visits.
    func search(_ size: UInt64) -> Int? {
        let n = self.freeAddresses.count
        guard n > 0 else { return nil }
        switch self.policy {
        case .first:
            for i in 0..<n {
                self.touch(self.freeAddresses[i], 24, .read)
                if self.freeSizes[i] >= size { return i }
            }
            return nil
        case .next:
            let start = self.lowerBound(self.rover) % n
            for k in 0..<n {
                let i = (start + k) % n
                self.touch(self.freeAddresses[i], 24, .read)
                if self.freeSizes[i] >= size {
                    self.rover = self.freeAddresses[i]
                    return i
                }
            }
            return nil
        case .best, .worst:
            var chosen: Int?
            for i in 0..<n {
                self.touch(self.freeAddresses[i], 24, .read)
                let s = self.freeSizes[i]
                guard s >= size else { continue }
                if let c = chosen {
                    if self.policy == .best ? s < self.freeSizes[c] : s > self.freeSizes[c] { chosen = i }
                } else {
                    chosen = i
                }
                if self.policy == .best && s == size { break }
            }
            return chosen
        }
    }

    /// Writes a free block's header and links, and its neighbours' links.
    func writeFree(_ i: Int) {
        let a = self.freeAddresses[i]
        self.touch(a, 8, .write)
        self.touch(a + Self.header, 16, .write)
        if i > 0 { self.touch(self.freeAddresses[i - 1] + Self.header, 8, .write) }
        if i + 1 < self.freeAddresses.count {
            self.touch(self.freeAddresses[i + 1] + Self.header + 8, 8, .write)
        }
    }

    /// Allocates `size` bytes from free block `i`: the low part is taken, a remainder of at
    /// least `minBlock` stays free.
    func take(_ i: Int, _ size: UInt64) -> UInt64 {
        let a = self.freeAddresses[i]
        let s = self.freeSizes[i]
        if s - size >= Self.minBlock {
            self.freeAddresses[i] = a + size
            self.freeSizes[i] = s - size
            self.writeFree(i)
            self.allocated[a] = (size, 0)
        } else {
            self.freeAddresses.remove(at: i)
            self.freeSizes.remove(at: i)
            if i > 0 { self.touch(self.freeAddresses[i - 1] + Self.header, 8, .write) }
            if i < self.freeAddresses.count { self.touch(self.freeAddresses[i] + Self.header + 8, 8, .write) }
            self.allocated[a] = (s, 0)
        }
        self.touch(a, 8, .write)
        return a
    }

    /// Puts block `[a, a + size)` on the free list, merging it with the free blocks right
    /// before and after it.
    func release(_ a: UInt64, _ size: UInt64) {
        var i = self.lowerBound(a)
        var start = a
        var total = size
        if i > 0 && self.freeAddresses[i - 1] + self.freeSizes[i - 1] == a {
            i -= 1
            start = self.freeAddresses[i]
            total += self.freeSizes[i]
            self.freeAddresses.remove(at: i)
            self.freeSizes.remove(at: i)
        }
        if i < self.freeAddresses.count && self.freeAddresses[i] == start + total {
            total += self.freeSizes[i]
            self.freeAddresses.remove(at: i)
            self.freeSizes.remove(at: i)
        }
        self.freeAddresses.insert(start, at: i)
        self.freeSizes.insert(total, at: i)
        self.writeFree(i)
    }

    /// Grows the heap so that a free block of `size` bytes ends it. Returns its index, or nil
    /// when `brk` fails.
    func grow(_ size: UInt64) -> Int? {
        if self.heapStart == 0 {
            self.stats.brkCalls += 1
            let b = self.system.brk(0)
            self.heapStart = Ptmalloc.alignUp(b, 16)
            self.heapEnd = self.heapStart
        }
        var missing = size
        if let last = self.freeAddresses.last, let s = self.freeSizes.last, last + s == self.heapEnd {
            missing = size - s
        }
        let increment = Ptmalloc.alignUp(missing, self.growth)
        let (target, overflow) = self.heapEnd.addingReportingOverflow(increment)
        guard !overflow else { return nil }
        self.stats.brkCalls += 1
        guard self.system.brk(target) == target else { return nil }
        let old = self.heapEnd
        self.heapEnd = target
        self.stats.heapBytes = self.heapEnd - self.heapStart
        self.stats.peakHeapBytes = max(self.stats.peakHeapBytes, self.stats.heapBytes)
        self.release(old, increment)
        return self.freeAddresses.count - 1
    }

    func allocate(_ request: UInt64) -> UInt64? {
        guard let size = Self.blockSize(request) else {
            self.errno = .ENOMEM
            return nil
        }
        guard let i = self.search(size) ?? self.grow(size) else {
            self.errno = .ENOMEM
            return nil
        }
        let a = self.take(i, size)
        self.allocated[a]!.requested = request
        self.stats.liveBytes += request
        self.stats.liveAllocations += 1
        self.stats.peakLiveBytes = max(self.stats.peakLiveBytes, self.stats.liveBytes)
        return a + Self.header
    }

    func block(of pointer: UInt64, _ call: String) throws(MallocAbort) -> UInt64 {
        guard pointer >= Self.header, self.allocated[pointer - Self.header] != nil else {
            throw .abort("\(call)(): invalid pointer")
        }
        return pointer - Self.header
    }

    func deallocate(_ a: UInt64) {
        let b = self.allocated.removeValue(forKey: a)!
        self.stats.liveBytes -= b.requested
        self.stats.liveAllocations -= 1
        self.touch(a, 8, .read)
        self.release(a, b.size)
    }

    // MARK: The C interface

    public func malloc(_ size: UInt64) throws(MallocAbort) -> UInt64? {
        self.stats.mallocCalls += 1
        let p = self.allocate(size)
        try self.finish()
        return p
    }

    public func free(_ pointer: UInt64?) throws(MallocAbort) {
        self.stats.freeCalls += 1
        guard let pointer, pointer != 0 else { return }
        self.deallocate(try self.block(of: pointer, "free"))
        try self.finish()
    }

    public func calloc(_ count: UInt64, _ size: UInt64) throws(MallocAbort) -> UInt64? {
        self.stats.callocCalls += 1
        let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, let p = self.allocate(bytes) else {
            self.errno = .ENOMEM
            return nil
        }
        let usable = self.allocated[p - Self.header]!.size - Self.header
        if !self.system.zero(p, length: usable) { self.killed = true }
        try self.finish()
        return p
    }

    public func realloc(_ pointer: UInt64?, _ size: UInt64) throws(MallocAbort) -> UInt64? {
        self.stats.reallocCalls += 1
        guard let pointer, pointer != 0 else { return self.allocate(size) }
        let a = try self.block(of: pointer, "realloc")
        if size == 0 {
            self.deallocate(a)
            try self.finish()
            return nil
        }
        guard let need = Self.blockSize(size) else {
            self.errno = .ENOMEM
            return nil
        }
        let b = self.allocated[a]!
        self.stats.liveBytes = self.stats.liveBytes - b.requested + size
        self.stats.peakLiveBytes = max(self.stats.peakLiveBytes, self.stats.liveBytes)
        if need <= b.size {
            // Shrink in place, freeing a tail of at least minBlock.
            if b.size - need >= Self.minBlock {
                self.allocated[a] = (need, size)
                self.touch(a, 8, .write)
                self.release(a + need, b.size - need)
            } else {
                self.allocated[a] = (b.size, size)
            }
            try self.finish()
            return pointer
        }
        // Grow into a free next block.
        let i = self.lowerBound(a + b.size)
        if i < self.freeAddresses.count && self.freeAddresses[i] == a + b.size
            && b.size + self.freeSizes[i] >= need
        {
            self.touch(self.freeAddresses[i], 24, .read)
            let extra = need - b.size
            if self.freeSizes[i] - extra >= Self.minBlock {
                self.freeAddresses[i] += extra
                self.freeSizes[i] -= extra
                self.writeFree(i)
                self.allocated[a] = (need, size)
            } else {
                self.allocated[a] = (b.size + self.freeSizes[i], size)
                self.freeAddresses.remove(at: i)
                self.freeSizes.remove(at: i)
            }
            self.touch(a, 8, .write)
            try self.finish()
            return pointer
        }
        self.stats.liveBytes = self.stats.liveBytes - size + b.requested
        guard let q = self.allocate(size) else { return nil }
        if !self.system.copy(to: q, from: pointer, length: b.size - Self.header) { self.killed = true }
        self.stats.liveAllocations -= 1
        self.stats.liveBytes -= b.requested
        self.allocated.removeValue(forKey: a)
        self.touch(a, 8, .read)
        self.release(a, b.size)
        try self.finish()
        return q
    }

    public func memalign(_ alignment: UInt64, _ size: UInt64) throws(MallocAbort) -> UInt64? {
        self.stats.memalignCalls += 1
        var align = max(alignment, 16)
        if align.nonzeroBitCount != 1 {
            guard align <= 1 << 62 else {
                self.errno = .EINVAL
                return nil
            }
            align = 1 << (64 - UInt64(align.leadingZeroBitCount))
        }
        guard align <= 16 || align <= UInt64(Int64.max) / 4 else {
            self.errno = .EINVAL
            return nil
        }
        // Over-allocate, then give back the space before the aligned payload.
        let (padded, overflow) = size.addingReportingOverflow(align + Self.minBlock)
        guard !overflow, let p = self.allocate(padded) else {
            self.errno = .ENOMEM
            return nil
        }
        var a = p - Self.header
        var aligned = Ptmalloc.alignUp(p, align)
        if aligned != p && aligned - p < Self.minBlock { aligned += align }
        if aligned != p {
            let lead = aligned - p
            let b = self.allocated.removeValue(forKey: a)!
            self.touch(a, 8, .write)
            self.release(a, lead)
            a += lead
            self.allocated[a] = (b.size - lead, b.requested)
            self.touch(a, 8, .write)
        }
        // Trim the tail.
        let b = self.allocated[a]!
        let need = Self.blockSize(size)!
        if b.size - need >= Self.minBlock {
            self.allocated[a] = (need, size)
            self.release(a + need, b.size - need)
        } else {
            self.allocated[a] = (b.size, size)
        }
        self.stats.liveBytes = self.stats.liveBytes - padded + size
        try self.finish()
        return a + Self.header
    }

    public func posixMemalign(_ alignment: UInt64, _ size: UInt64) throws(MallocAbort) -> Result<
        UInt64, MallocErrno
    > {
        if alignment == 0 || alignment % 8 != 0 || (alignment / 8).nonzeroBitCount != 1 {
            return .failure(.EINVAL)
        }
        guard let p = try self.memalign(alignment, size) else { return .failure(.ENOMEM) }
        return .success(p)
    }

    public func usableSize(_ pointer: UInt64) -> UInt64 {
        guard pointer >= Self.header, let b = self.allocated[pointer - Self.header] else { return 0 }
        return b.size - Self.header
    }

    // MARK: Views

    public func heapDump() -> HeapDump {
        var chunks: [HeapDump.Chunk] = []
        for (a, b) in self.allocated {
            chunks.append(HeapDump.Chunk(address: a, size: b.size, state: .inUse, requested: b.requested))
        }
        for (a, s) in zip(self.freeAddresses, self.freeSizes) {
            chunks.append(HeapDump.Chunk(address: a, size: s, state: .free))
        }
        chunks.sort { $0.address < $1.address }
        let bins =
            self.freeAddresses.isEmpty ? [] : [HeapDump.Bin(name: "free list", chunks: self.freeAddresses)]
        return HeapDump(
            allocator: self.name, chunks: chunks, bins: bins, top: nil, heapStart: self.heapStart,
            programBreak: self.heapEnd, systemBytes: self.heapEnd - self.heapStart, mmappedBytes: 0,
            liveBytes: self.stats.liveBytes)
    }

    /// Blocks tile the heap; the free list is sorted with no two free blocks adjacent; sizes are
    /// multiples of 16 and at least 32; the live bytes add up.
    public func checkInvariants() -> String? {
        let dump = self.heapDump()
        var at = self.heapStart
        var previousFree = false
        var live: UInt64 = 0
        for c in dump.chunks {
            if c.address != at { return "blocks do not tile the heap at 0x\(String(at, radix: 16))" }
            if c.size < Self.minBlock || c.size % 16 != 0 {
                return "block at 0x\(String(c.address, radix: 16)) has size \(c.size)"
            }
            let isFree = c.state == .free
            if isFree && previousFree {
                return "two free blocks side by side at 0x\(String(c.address, radix: 16))"
            }
            previousFree = isFree
            live += c.requested ?? 0
            at += c.size
        }
        if at != self.heapEnd {
            return
                "blocks end at 0x\(String(at, radix: 16)), the heap at 0x\(String(self.heapEnd, radix: 16))"
        }
        if live != self.stats.liveBytes || self.allocated.count != self.stats.liveAllocations {
            return "live bytes \(live), counted \(self.stats.liveBytes)"
        }
        return nil
    }
}
