/// A `MallocSystem` in host memory: one process's heap and anonymous mappings, with Linux's
/// demand paging reduced to three page states, and optionally every byte's value.
///
/// It stands in for the simulated kernel in tests and benchmarks. Its fault model is the one a
/// real x86-64 Linux process sees for private anonymous memory without transparent huge pages
/// (`madvise` mode, the Debian default): a read of an untouched page is one minor fault that maps
/// the shared zero page (not counted in RSS); a write of an untouched or zero-page-mapped page is
/// one minor fault that allocates a page (RSS + 1); `munmap`, `MADV_DONTNEED` and shrinking `brk`
/// drop pages; `mremap` moves them without faults.
///
/// Layout: the heap starts at `startBrk` (page-aligned, as Linux randomises it); mappings are
/// placed top-down below `mmapBase`, first fit from the top, as `unmapped_area_topdown()` does; a
/// mapping never comes within a page of the heap, and the heap cannot grow to within a page of a
/// mapping (`brk` fails, as the kernel's check against the next VMA makes it).
///
/// With `keepsBytes`, every byte is kept (sparsely, per page): fresh memory reads as zero, the
/// allocator's own stores write `metadataByte`, and `read`/`write` let a test check that nothing
/// the program stored is lost. Without it only page states are kept, which is what RSS and fault
/// counts need.
public final class InMemorySystem: MallocSystem {
    public let pageSize: UInt64
    let pageShift: UInt64
    /// The first byte of the heap (the initial program break).
    public let startBrk: UInt64
    /// The program break.
    @exclusivity(unchecked) public private(set) var currentBrk: UInt64
    /// Mappings are placed below this address.
    public let mmapBase: UInt64
    /// The break may not pass this address (`RLIMIT_DATA`, or another mapping in the way);
    /// nil for no limit beyond the mappings.
    @exclusivity(unchecked) public var brkLimit: UInt64?
    /// The most bytes of mappings that may exist at once; `mmap` and growing `mremap` fail with
    /// ENOMEM beyond it. nil for no limit.
    @exclusivity(unchecked) public var mmapLimit: UInt64?
    /// Whether `mremap` is available (false: it fails with `.notSupported`).
    @exclusivity(unchecked) public var supportsMremap = true
    /// Whether byte values are kept (see the type's comment).
    public let keepsBytes: Bool
    /// The value the allocator's stores leave in kept bytes: never zero, so a calloc that should
    /// have cleared and did not is caught.
    public static let metadataByte: UInt8 = 0xA5

    // Counters, as getrusage(2), /proc/PID/statm and strace would show them.
    /// Minor page faults (`ru_minflt`).
    @exclusivity(unchecked) public private(set) var minorFaults = 0
    /// Resident anonymous pages (RSS, zero-page mappings excluded).
    @exclusivity(unchecked) public private(set) var residentPages = 0
    /// The most resident pages at any time.
    @exclusivity(unchecked) public private(set) var peakResidentPages = 0
    /// `brk` system calls (queries included: glibc's `sbrk` caches the break, so these are real
    /// calls).
    @exclusivity(unchecked) public private(set) var brkCalls = 0
    @exclusivity(unchecked) public private(set) var mmapCalls = 0
    @exclusivity(unchecked) public private(set) var munmapCalls = 0
    @exclusivity(unchecked) public private(set) var mremapCalls = 0
    @exclusivity(unchecked) public private(set) var madviseCalls = 0
    /// Accesses outside any mapping (each one is a SIGSEGV for the process).
    @exclusivity(unchecked) public private(set) var segfaults = 0
    /// Bytes currently mapped by `mmap`.
    @exclusivity(unchecked) public private(set) var mappedBytes: UInt64 = 0
    /// Whether an access has killed the process; every later access fails too.
    @exclusivity(unchecked) public private(set) var isDead = false
    /// Accesses reported (`access`, `zero` and `copy` calls).
    @exclusivity(unchecked) public private(set) var accessCalls = 0
    /// When not nil, every store the allocator makes (`access(.write)`, `zero`, `copy`'s
    /// destination) is appended here, for tests that check that no store lands in memory the
    /// program owns.
    @exclusivity(unchecked) public var writeLog: [(address: UInt64, length: UInt64)]?

    /// Page states of the heap, indexed from `startBrk`'s page.
    @exclusivity(unchecked) var heapStates: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) var heapCapacity = 256
    @exclusivity(unchecked) var heapPageCount = 0
    /// `pageAlignUp(currentBrk)`, kept for the access fast path.
    @exclusivity(unchecked) var heapEnd: UInt64
    /// Mappings in address order.
    @exclusivity(unchecked) var regions: [Region] = []
    /// Kept bytes, per page number, for pages that were written.
    @exclusivity(unchecked) var bytes: [UInt64: [UInt8]] = [:]

    struct Region {
        var start: UInt64
        var length: UInt64
        var pages: [UInt8]
        var end: UInt64 { self.start + self.length }
    }

    static let notPresent: UInt8 = 0
    static let zeroPage: UInt8 = 1
    static let present: UInt8 = 2

    /// A process whose heap starts at `startBrk` and whose mappings go below `mmapBase`.
    public init(
        pageSize: UInt64 = 4096, startBrk: UInt64 = 0x5555_5555_9000, mmapBase: UInt64 = 0x7fff_f7ff_f000,
        keepsBytes: Bool = false
    ) {
        precondition(
            pageSize.nonzeroBitCount == 1, "InMemorySystem: page size \(pageSize) is not a power of two")
        precondition(startBrk % pageSize == 0 && mmapBase % pageSize == 0, "InMemorySystem: unaligned layout")
        precondition(startBrk < mmapBase, "InMemorySystem: the heap starts above the mappings")
        self.pageSize = pageSize
        self.pageShift = UInt64(pageSize.trailingZeroBitCount)
        self.startBrk = startBrk
        self.currentBrk = startBrk
        self.mmapBase = mmapBase
        self.keepsBytes = keepsBytes
        self.heapEnd = startBrk
        self.heapStates = .allocate(capacity: self.heapCapacity)
    }

    deinit { self.heapStates.deallocate() }

    @inline(__always) func pageAlignUp(_ a: UInt64) -> UInt64 {
        (a + self.pageSize - 1) & ~(self.pageSize - 1)
    }

    /// The end of the heap's pages.

    // MARK: System calls

    public func brk(_ newBreak: UInt64) -> UInt64 {
        self.brkCalls += 1
        if newBreak < self.startBrk { return self.currentBrk }
        let newEnd = self.pageAlignUp(newBreak)
        if newEnd > self.heapEnd {
            if let limit = self.brkLimit, newBreak > limit { return self.currentBrk }
            let ceiling = (self.regions.first?.start ?? self.mmapBase) - self.pageSize
            if newEnd > ceiling { return self.currentBrk }
        }
        let pages = Int((newEnd - self.startBrk) >> self.pageShift)
        if pages < self.heapPageCount {
            for i in pages..<self.heapPageCount {
                self.drop(&self.heapStates[i], page: (self.startBrk >> self.pageShift) + UInt64(i))
            }
        } else if pages > self.heapPageCount {
            if pages > self.heapCapacity {
                var capacity = self.heapCapacity
                while capacity < pages { capacity *= 2 }
                let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
                grown.update(from: self.heapStates, count: self.heapPageCount)
                self.heapStates.deallocate()
                self.heapStates = grown
                self.heapCapacity = capacity
            }
            (self.heapStates + self.heapPageCount).initialize(
                repeating: Self.notPresent, count: pages - self.heapPageCount)
        }
        self.heapPageCount = pages
        self.currentBrk = newBreak
        self.heapEnd = newEnd
        return newBreak
    }

    public func mmap(length: UInt64) -> Result<UInt64, MallocSystemError> {
        self.mmapCalls += 1
        guard length > 0, length % self.pageSize == 0 else { return .failure(.invalidArgument) }
        if let limit = self.mmapLimit, self.mappedBytes + length > limit { return .failure(.outOfMemory) }
        guard let start = self.findGap(length) else { return .failure(.outOfMemory) }
        let region = Region(
            start: start, length: length,
            pages: [UInt8](repeating: Self.notPresent, count: Int(length >> self.pageShift)))
        let slot = self.regions.firstIndex(where: { $0.start > start }) ?? self.regions.count
        self.regions.insert(region, at: slot)
        self.mappedBytes += length
        return .success(start)
    }

    /// The highest gap of `length` bytes below `mmapBase` and at least a page above the heap.
    func findGap(_ length: UInt64) -> UInt64? {
        var ceiling = self.mmapBase
        let floor = self.heapEnd + self.pageSize
        for region in self.regions.reversed() {
            if ceiling >= region.end + length, ceiling - length >= floor { return ceiling - length }
            ceiling = min(ceiling, region.start)
        }
        if ceiling >= floor + length { return ceiling - length }
        return nil
    }

    @discardableResult
    public func munmap(_ address: UInt64, length: UInt64) -> Result<Void, MallocSystemError> {
        self.munmapCalls += 1
        guard address % self.pageSize == 0, length > 0 else { return .failure(.invalidArgument) }
        let end = self.pageAlignUp(address + length)
        // The allocator only unmaps whole mappings it made; a partial unmap splits as Linux does.
        var i = 0
        while i < self.regions.count {
            let r = self.regions[i]
            if r.end <= address || r.start >= end {
                i += 1
                continue
            }
            let lo = max(r.start, address)
            let hi = min(r.end, end)
            for p in stride(from: lo, to: hi, by: Int(self.pageSize)) {
                let index = Int((p - r.start) >> self.pageShift)
                self.drop(&self.regions[i].pages[index], page: p >> self.pageShift)
            }
            self.mappedBytes -= hi - lo
            var pieces: [Region] = []
            if r.start < lo {
                pieces.append(
                    Region(
                        start: r.start, length: lo - r.start,
                        pages: Array(r.pages[0..<Int((lo - r.start) >> self.pageShift)])))
            }
            if hi < r.end {
                let from = Int((hi - r.start) >> self.pageShift)
                pieces.append(Region(start: hi, length: r.end - hi, pages: Array(r.pages[from...])))
            }
            self.regions.replaceSubrange(i...i, with: pieces)
            i += pieces.count
        }
        return .success(())
    }

    public func mremap(_ address: UInt64, oldLength: UInt64, newLength: UInt64) -> Result<
        UInt64, MallocSystemError
    > {
        self.mremapCalls += 1
        guard self.supportsMremap else { return .failure(.notSupported) }
        guard address % self.pageSize == 0, oldLength % self.pageSize == 0, newLength % self.pageSize == 0,
            newLength > 0,
            let i = self.regions.firstIndex(where: { $0.start == address && $0.length == oldLength })
        else { return .failure(.invalidArgument) }
        let newPages = Int(newLength >> self.pageShift)
        if newLength <= oldLength {
            for index in newPages..<self.regions[i].pages.count {
                self.drop(
                    &self.regions[i].pages[index], page: (address >> self.pageShift) + UInt64(index))
            }
            self.regions[i].pages.removeLast(self.regions[i].pages.count - newPages)
            self.regions[i].length = newLength
            self.mappedBytes -= oldLength - newLength
            return .success(address)
        }
        let growth = newLength - oldLength
        if let limit = self.mmapLimit, self.mappedBytes + growth > limit { return .failure(.outOfMemory) }
        let nextStart = i + 1 < self.regions.count ? self.regions[i + 1].start : self.mmapBase
        if address + newLength <= nextStart {
            self.regions[i].pages.append(
                contentsOf: repeatElement(Self.notPresent, count: Int(growth >> self.pageShift)))
            self.regions[i].length = newLength
            self.mappedBytes += growth
            return .success(address)
        }
        // Move: take the region out, find room for the new size, move page states and bytes.
        var region = self.regions.remove(at: i)
        guard let start = self.findGap(newLength) else {
            self.regions.insert(region, at: i)
            return .failure(.outOfMemory)
        }
        if self.keepsBytes {
            let shift = Int64(bitPattern: start &- address) >> Int64(self.pageShift)
            var moved: [(UInt64, [UInt8])] = []
            for index in 0..<region.pages.count {
                let page = (address >> self.pageShift) + UInt64(index)
                if let b = self.bytes.removeValue(forKey: page) {
                    moved.append((UInt64(Int64(page) + shift), b))
                }
            }
            for (page, b) in moved { self.bytes[page] = b }
        }
        region.start = start
        region.length = newLength
        region.pages.append(contentsOf: repeatElement(Self.notPresent, count: Int(growth >> self.pageShift)))
        let slot = self.regions.firstIndex(where: { $0.start > start }) ?? self.regions.count
        self.regions.insert(region, at: slot)
        self.mappedBytes += growth
        return .success(start)
    }

    public func madviseDontNeed(_ address: UInt64, length: UInt64) {
        self.madviseCalls += 1
        var p = address & ~(self.pageSize - 1)
        let end = self.pageAlignUp(address + length)
        while p < end {
            self.withPageState(p) { state in self.drop(&state, page: p >> self.pageShift) }
            p += self.pageSize
        }
    }

    /// Releases one page: RSS falls if it was resident; its bytes are forgotten.
    @inline(__always) func drop(_ state: inout UInt8, page: UInt64) {
        if state == Self.present { self.residentPages -= 1 }
        state = Self.notPresent
        if self.keepsBytes { self.bytes[page] = nil }
    }

    /// Calls `body` with the state of the page holding `address`; false if it is not mapped.
    @inline(__always) @discardableResult
    func withPageState(_ address: UInt64, _ body: (inout UInt8) -> Void) -> Bool {
        if address >= self.startBrk && address < self.heapEnd {
            body(&self.heapStates[Int((address - self.startBrk) >> self.pageShift)])
            return true
        }
        guard let i = self.regionIndex(containing: address) else { return false }
        body(&self.regions[i].pages[Int((address - self.regions[i].start) >> self.pageShift)])
        return true
    }

    func regionIndex(containing address: UInt64) -> Int? {
        var lo = 0
        var hi = self.regions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self.regions[mid].end <= address {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        return lo < self.regions.count && self.regions[lo].start <= address ? lo : nil
    }

    // MARK: Accesses

    /// Touches every page of the range; false (and the process dead) at an unmapped page.
    @inline(__always) func touch(_ address: UInt64, length: UInt64, write: Bool) -> Bool {
        // The common case: a few bytes inside the heap.
        let last = address &+ (length &- 1)
        if !self.isDead && address >= self.startBrk && last < self.heapEnd && address <= last {
            var i = Int(truncatingIfNeeded: (address - self.startBrk) >> self.pageShift)
            let j = Int(truncatingIfNeeded: (last - self.startBrk) >> self.pageShift)
            while i <= j {
                if self.heapStates[i] != Self.present { self.fault(&self.heapStates[i], write: write) }
                i += 1
            }
            return true
        }
        return self.touchAnywhere(address, length: length, write: write)
    }

    func touchAnywhere(_ address: UInt64, length: UInt64, write: Bool) -> Bool {
        guard !self.isDead else { return false }
        precondition(length > 0, "InMemorySystem.touch: empty range")
        var page = address & ~(self.pageSize - 1)
        let (end, overflow) = address.addingReportingOverflow(length)
        if overflow { return self.segfault() }
        while page < end {
            var mapped = false
            if page >= self.startBrk && page < self.heapEnd {
                let i = Int((page - self.startBrk) >> self.pageShift)
                self.fault(&self.heapStates[i], write: write)
                mapped = true
            } else if let r = self.regionIndex(containing: page) {
                let i = Int((page - self.regions[r].start) >> self.pageShift)
                // Touch the rest of this region's pages in the range without searching again.
                let last = min(end, self.regions[r].end)
                var j = i
                var p = page
                while p < last {
                    self.fault(&self.regions[r].pages[j], write: write)
                    j += 1
                    p += self.pageSize
                }
                page = p
                continue
            }
            if !mapped { return self.segfault() }
            page += self.pageSize
        }
        return true
    }

    @inline(__always) func fault(_ state: inout UInt8, write: Bool) {
        if state == Self.present { return }
        if write {
            self.minorFaults += 1
            state = Self.present
            self.residentPages += 1
            if self.residentPages > self.peakResidentPages { self.peakResidentPages = self.residentPages }
        } else if state == Self.notPresent {
            self.minorFaults += 1
            state = Self.zeroPage
        }
    }

    func segfault() -> Bool {
        self.segfaults += 1
        self.isDead = true
        return false
    }

    public func access(_ address: UInt64, length: UInt64, kind: MemoryAccessKind) -> Bool {
        self.accessCalls += 1
        guard self.touch(address, length: length, write: kind != .read) else { return false }
        if kind != .read {
            self.writeLog?.append((address, length))
            if self.keepsBytes { self.store(address, length: length, byte: Self.metadataByte) }
        }
        return true
    }

    public func zero(_ address: UInt64, length: UInt64) -> Bool {
        self.accessCalls += 1
        guard self.touch(address, length: length, write: true) else { return false }
        self.writeLog?.append((address, length))
        if self.keepsBytes { self.store(address, length: length, byte: 0) }
        return true
    }

    public func copy(to destination: UInt64, from source: UInt64, length: UInt64) -> Bool {
        self.accessCalls += 1
        guard self.touch(source, length: length, write: false),
            self.touch(destination, length: length, write: true)
        else { return false }
        self.writeLog?.append((destination, length))
        if self.keepsBytes { self.write(destination, self.read(source, length: length)) }
        return true
    }

    // MARK: Bytes (tests)

    func store(_ address: UInt64, length: UInt64, byte: UInt8) {
        var a = address
        let end = address + length
        while a < end {
            let page = a >> self.pageShift
            let offset = Int(a & (self.pageSize - 1))
            let n = Int(min(end - a, self.pageSize - UInt64(offset)))
            if byte == 0 && self.bytes[page] == nil {
                a += UInt64(n)
                continue
            }
            self.bytes[page, default: [UInt8](repeating: 0, count: Int(self.pageSize))]
                .withUnsafeMutableBufferPointer {
                    for k in offset..<(offset + n) { $0[k] = byte }
                }
            a += UInt64(n)
        }
    }

    /// The program stores `values` at `address` (a write access: faults, RSS). Returns false if
    /// the range is not mapped. Needs `keepsBytes` for the values to be kept.
    @discardableResult
    public func write(_ address: UInt64, _ values: [UInt8]) -> Bool {
        guard !values.isEmpty else { return true }
        guard self.touch(address, length: UInt64(values.count), write: true) else { return false }
        guard self.keepsBytes else { return true }
        var a = address
        var k = 0
        while k < values.count {
            let page = a >> self.pageShift
            let offset = Int(a & (self.pageSize - 1))
            let n = min(values.count - k, Int(self.pageSize) - offset)
            self.bytes[page, default: [UInt8](repeating: 0, count: Int(self.pageSize))]
                .withUnsafeMutableBufferPointer {
                    for j in 0..<n { $0[offset + j] = values[k + j] }
                }
            a += UInt64(n)
            k += n
        }
        return true
    }

    /// The kept bytes at `[address, address + length)`, without touching pages (a debugger's
    /// view: no faults). Unwritten bytes read as zero.
    public func read(_ address: UInt64, length: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(length))
        var a = address
        var k = 0
        while k < out.count {
            let page = a >> self.pageShift
            let offset = Int(a & (self.pageSize - 1))
            let n = min(out.count - k, Int(self.pageSize) - offset)
            if let b = self.bytes[page] {
                for j in 0..<n { out[k + j] = b[offset + j] }
            }
            a += UInt64(n)
            k += n
        }
        return out
    }

    /// The program touches `[address, address + length)` (a load or a store) for faults and RSS.
    @discardableResult
    public func touchByProgram(_ address: UInt64, length: UInt64, write: Bool) -> Bool {
        guard length > 0 else { return true }
        return self.touch(address, length: length, write: write)
    }

    /// Whether `address` lies in the heap or a mapping.
    public func isMapped(_ address: UInt64) -> Bool {
        (address >= self.startBrk && address < self.heapEnd) || self.regionIndex(containing: address) != nil
    }

    /// The mappings, in address order, as (start, length).
    public var mappings: [(start: UInt64, length: UInt64)] { self.regions.map { ($0.start, $0.length) } }
}
