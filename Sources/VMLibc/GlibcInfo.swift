// mtrim, mallinfo2, mallopt, the heap dump and the invariant checker (malloc/malloc.c).

/// glibc's `struct mallinfo2` (malloc.h): what `mallinfo2()` reports.
public struct Mallinfo2: Sendable, Equatable, CustomStringConvertible {
    /// Bytes of heap obtained with `brk` (`system_mem`).
    public var arena: UInt64 = 0
    /// Free chunks in the doubly linked bins, plus top.
    public var ordblks: UInt64 = 0
    /// Free chunks in fastbins.
    public var smblks: UInt64 = 0
    /// Mapped chunks.
    public var hblks: UInt64 = 0
    /// Bytes in mapped chunks.
    public var hblkhd: UInt64 = 0
    /// Always 0.
    public var usmblks: UInt64 = 0
    /// Bytes in fastbin chunks.
    public var fsmblks: UInt64 = 0
    /// Bytes in use: `arena` minus free bytes (tcache chunks count as in use).
    public var uordblks: UInt64 = 0
    /// Free bytes: top, fastbins and bins.
    public var fordblks: UInt64 = 0
    /// Top's size: what `malloc_trim` could release at most.
    public var keepcost: UInt64 = 0

    public init() {}

    /// The fields as `name=value` lines, in `struct mallinfo2` order.
    public var description: String {
        [
            ("arena", self.arena), ("ordblks", self.ordblks), ("smblks", self.smblks), ("hblks", self.hblks),
            ("hblkhd", self.hblkhd), ("usmblks", self.usmblks), ("fsmblks", self.fsmblks),
            ("uordblks", self.uordblks), ("fordblks", self.fordblks), ("keepcost", self.keepcost),
        ].map { "\($0.0)=\($0.1)" }.joined(separator: "\n")
    }
}

/// A `mallopt` parameter (malloc.h's `M_*` numbers).
public enum MalloptParameter: Int32, Sendable, CaseIterable {
    case mxfast = 1
    case trimThreshold = -1
    case topPad = -2
    case mmapThreshold = -3
    case mmapMax = -4
    case checkAction = -5
    case perturb = -6
    case arenaTest = -7
    case arenaMax = -8

    /// The C name (`M_MMAP_THRESHOLD`).
    public var cName: String {
        switch self {
        case .mxfast: return "M_MXFAST"
        case .trimThreshold: return "M_TRIM_THRESHOLD"
        case .topPad: return "M_TOP_PAD"
        case .mmapThreshold: return "M_MMAP_THRESHOLD"
        case .mmapMax: return "M_MMAP_MAX"
        case .checkAction: return "M_CHECK_ACTION"
        case .perturb: return "M_PERTURB"
        case .arenaTest: return "M_ARENA_TEST"
        case .arenaMax: return "M_ARENA_MAX"
        }
    }

    /// The parameter with C name `name` (`M_TOP_PAD`; case-insensitive, `M_` optional).
    public init?(cName name: String) {
        let n = name.uppercased()
        guard let p = Self.allCases.first(where: { $0.cName == n || $0.cName == "M_" + n }) else {
            return nil
        }
        self = p
    }
}

extension GlibcMalloc {
    // MARK: malloc_trim

    /// `mtrim(av, pad)`.
    func mtrim(_ pad: UInt64) -> Int {
        self.maybeInitTcache()
        self.mallocConsolidate()
        let ps = self.pageSize
        let psindex = Ptmalloc.binIndex(ps)
        let psm1 = ps - 1
        var result = 0
        for i in 1..<Ptmalloc.nBins where i == 1 || i >= psindex {
            let bin = Int32(i)
            var p = self.store[bin].bk
            while p != bin {
                let c = self.store[p]
                self.read(c.address + 8, 8)
                var size = c.size
                // sizeof(struct malloc_chunk) is 48.
                if size > psm1 + 48 {
                    let paligned = (c.address + 48 + psm1) & ~psm1
                    size -= paligned - c.address
                    if size > psm1 {
                        self.stats.madviseCalls += 1
                        self.system.madviseDontNeed(paligned, length: size & ~psm1)
                        result = 1
                    }
                }
                self.read(c.address + 24, 8)
                p = c.bk
            }
        }
        return result | self.systrim(pad)
    }

    // MARK: mallinfo2

    /// `mallinfo2()` (`int_mallinfo` over the main arena).
    public func mallinfo2() -> Mallinfo2 {
        var m = Mallinfo2()
        var avail = self.topSize
        var nblocks: UInt64 = 1
        var fastavail: UInt64 = 0
        var nfast: UInt64 = 0
        for head in self.fastbins {
            var p = head
            while p >= 0 {
                nfast += 1
                fastavail += self.store[p].size
                p = self.store[p].fd
            }
        }
        avail += fastavail
        for i in 1..<Ptmalloc.nBins {
            let bin = Int32(i)
            var p = self.store[bin].bk
            while p != bin {
                nblocks += 1
                avail += self.store[p].size
                p = self.store[p].bk
            }
        }
        m.smblks = nfast
        m.ordblks = nblocks
        m.fordblks = avail
        m.uordblks = self.systemMem - avail
        m.arena = self.systemMem
        m.fsmblks = fastavail
        m.hblks = UInt64(self.nMmaps)
        m.hblkhd = self.mmappedMem
        m.usmblks = 0
        m.keepcost = self.topSize
        return m
    }

    // MARK: mallopt

    /// `mallopt(param, value)` (`__libc_mallopt`): consolidates the fastbins first, then sets the
    /// parameter. Returns 1 on success, 0 when glibc refuses (`M_MXFAST` over 160). Setting any
    /// of the trim threshold, top pad, mmap threshold or mmap max turns the dynamic mmap
    /// threshold off. `M_ARENA_MAX`, `M_ARENA_TEST` and `M_CHECK_ACTION` are accepted with no
    /// effect: the model has one thread and one arena. Unknown parameter numbers return 1, as in
    /// glibc.
    @discardableResult
    public func mallopt(_ param: Int32, _ value: Int32) -> Int {
        self.mallocConsolidate()
        // Negative values wrap to huge size_t values, as the C helpers receive them.
        let size = UInt64(bitPattern: Int64(value))
        switch MalloptParameter(rawValue: param) {
        case .mxfast:
            guard size <= Ptmalloc.maxFastSize else { return 0 }
            self.globalMaxFast =
                size <= Ptmalloc.alignMask - Ptmalloc.sizeSz
                ? 16 : (size + Ptmalloc.sizeSz) & ~Ptmalloc.alignMask
        case .trimThreshold:
            self.trimThreshold = size
            self.noDynThreshold = true
        case .topPad:
            self.topPad = size
            self.noDynThreshold = true
        case .mmapThreshold:
            self.mmapThreshold = size
            self.noDynThreshold = true
        case .mmapMax:
            self.nMmapsMax = value
            self.noDynThreshold = true
        case .perturb:
            self.perturbByte = UInt8(truncatingIfNeeded: value)
        case .arenaTest:
            if value > 0 { self.arenaTest = size }
        case .arenaMax:
            if value > 0 { self.arenaMax = size }
        case .checkAction, nil:
            break
        }
        return 1
    }

    /// `mallopt` by parameter.
    @discardableResult
    public func mallopt(_ param: MalloptParameter, _ value: Int32) -> Int {
        self.mallopt(param.rawValue, value)
    }

    /// The current thresholds: what `mallopt` and the dynamic threshold have made them.
    public var thresholds: (mmap: UInt64, trim: UInt64, topPad: UInt64, mmapMax: Int32, dynamic: Bool) {
        (self.mmapThreshold, self.trimThreshold, self.topPad, self.nMmapsMax, !self.noDynThreshold)
    }

    // MARK: The heap dump

    /// The heap: every chunk in address order (heap segments, then mapped chunks), the
    /// non-empty bins in list order, top and the system's bytes.
    public func heapDump() -> HeapDump {
        var chunks: [HeapDump.Chunk] = []
        let segmentHeads = self.segments.sorted { self.store[$0].address < self.store[$1].address }
        for head in segmentHeads {
            var p = head
            while p >= 0 {
                chunks.append(self.dumpChunk(p))
                p = self.store[p].physNext
            }
        }
        var mapped: [HeapDump.Chunk] = []
        for i in ChunkStore.binHeaders..<self.store.records.count
        where self.store.records[i].state == .mmapped {
            mapped.append(self.dumpChunk(Int32(i)))
        }
        chunks += mapped.sorted { $0.address < $1.address }

        var bins: [HeapDump.Bin] = []
        for i in 0..<Ptmalloc.tcacheMaxBins where self.tcacheEntries[i] >= 0 {
            bins.append(HeapDump.Bin(name: "tcache[\(i)]", chunks: self.list(from: self.tcacheEntries[i])))
        }
        for i in 0..<Ptmalloc.nFastbins where self.fastbins[i] >= 0 {
            bins.append(HeapDump.Bin(name: "fastbin[\(i)]", chunks: self.list(from: self.fastbins[i])))
        }
        for i in 1..<Ptmalloc.nBins where self.store[Int32(i)].fd != Int32(i) {
            var list: [UInt64] = []
            var p = self.store[Int32(i)].fd
            while p != Int32(i) {
                list.append(self.store[p].address)
                p = self.store[p].fd
            }
            let name = i == 1 ? "unsorted" : i < 64 ? "smallbin[\(i)]" : "largebin[\(i)]"
            bins.append(HeapDump.Bin(name: name, chunks: list))
        }
        return HeapDump(
            allocator: self.name, chunks: chunks, bins: bins,
            top: self.top >= 0 ? (self.store[self.top].address, self.store[self.top].size) : nil,
            heapStart: self.sbrkBase, programBreak: self.curbrk, systemBytes: self.systemMem,
            mmappedBytes: self.mmappedMem, liveBytes: self.stats.liveBytes)
    }

    func dumpChunk(_ p: Int32) -> HeapDump.Chunk {
        let c = self.store[p]
        let state: ChunkState
        switch c.state {
        case .inUse: state = .inUse
        case .tcache: state = .tcache(Int(c.bin))
        case .fastbin: state = .fastbin(Int(c.bin))
        case .unsorted: state = .unsorted
        case .smallbin: state = .smallbin(Int(c.bin))
        case .largebin: state = .largebin(Int(c.bin))
        case .top: state = .top
        case .mmapped: state = .mmapped
        case .fencepost, .none: state = .fencepost
        }
        let isProgram = (c.state == .inUse || c.state == .mmapped) && !self.isTcacheStruct(p)
        return HeapDump.Chunk(
            address: c.address, size: c.size, state: state, requested: isProgram ? c.requested : nil)
    }

    func isTcacheStruct(_ p: Int32) -> Bool { self.tcache == self.store[p].address + 16 }

    func list(from head: Int32) -> [UInt64] {
        var out: [UInt64] = []
        var p = head
        while p >= 0 {
            out.append(self.store[p].address)
            p = self.store[p].fd
        }
        return out
    }

    // MARK: Invariants

    /// Checks the arena: chunks tile every heap segment with no gaps and the current segment
    /// ends at the break with top; no two neighbours are both in doubly linked bins, and none
    /// borders top; every bin holds only free chunks of its sizes, with consistent links (large
    /// bins sorted, with a correct skip list); the tcache and fastbin counts; every chunk found by
    /// its address; `system_mem`, `mmapped_mem` and the live bytes add up. Returns the first
    /// violation found, or nil. O(chunks).
    public func checkInvariants() -> String? {
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        var listed = [Bool](repeating: false, count: self.store.records.count)
        var heapBytes: UInt64 = 0
        var live: UInt64 = 0
        var liveCount = 0
        var sawTop = false
        for head in self.segments {
            guard self.store[head].physPrev < 0 else {
                return "segment head \(hex(self.store[head].address)) has a previous chunk"
            }
            var p = head
            var prev: Int32 = -1
            while p >= 0 {
                let c = self.store[p]
                if c.state == .none { return "a freed record in the chain at \(hex(c.address))" }
                if self.store.find(c.address) != p {
                    return "chunk \(hex(c.address)) is not indexed by its address"
                }
                if c.physPrev != prev { return "chunk \(hex(c.address)): broken back link" }
                if prev >= 0 && self.store[prev].address + self.store[prev].size != c.address {
                    return
                        "chunks do not tile: \(hex(self.store[prev].address)) + \(hex(self.store[prev].size)) != \(hex(c.address))"
                }
                if (c.address + 16) % Ptmalloc.alignment != 0 {
                    return "chunk \(hex(c.address)) is misaligned"
                }
                if c.state != .fencepost && (c.size < Ptmalloc.minSize || c.size % Ptmalloc.alignment != 0) {
                    return "chunk \(hex(c.address)) has size \(hex(c.size))"
                }
                if c.state.isBinned && prev >= 0 && self.store[prev].state.isBinned {
                    return "neighbouring free chunks \(hex(self.store[prev].address)) and \(hex(c.address))"
                }
                if c.state == .top {
                    if p != self.top { return "a second top at \(hex(c.address))" }
                    if c.physNext >= 0 { return "top \(hex(c.address)) is not the last chunk" }
                    if prev >= 0 && self.store[prev].state.isBinned { return "a free chunk borders top" }
                    if c.size < Ptmalloc.minSize { return "top is smaller than MINSIZE" }
                    sawTop = true
                }
                if c.state == .mmapped { return "a mapped chunk inside the heap at \(hex(c.address))" }
                if c.state == .inUse && !self.isTcacheStruct(p) {
                    live += c.requested
                    liveCount += 1
                }
                heapBytes += c.size
                prev = p
                p = c.physNext
            }
            if self.store[prev].state != .top && self.store[prev].state != .fencepost {
                return
                    "segment ending at \(hex(self.store[prev].address)) ends in neither top nor a fencepost"
            }
        }
        if self.top >= 0 {
            if !sawTop { return "top is not in any segment" }
            if self.contiguous && self.store[self.top].address + self.store[self.top].size != self.curbrk {
                return
                    "top ends at \(hex(self.store[self.top].address + self.store[self.top].size)), the break is \(hex(self.curbrk))"
            }
        }
        if heapBytes + self.foreignBytes != self.systemMem {
            return "chunks hold \(heapBytes) bytes, system_mem is \(self.systemMem)"
        }
        // Mapped chunks.
        var mapped: UInt64 = 0
        var nMapped: Int32 = 0
        for i in ChunkStore.binHeaders..<self.store.records.count
        where self.store.records[i].state == .mmapped {
            let c = self.store.records[i]
            if self.store.find(c.address) != Int32(i) {
                return "mapped chunk \(hex(c.address)) is not indexed"
            }
            if (c.address - c.mmapOffset) % self.pageSize != 0 || (c.size + c.mmapOffset) % self.pageSize != 0
            {
                return "mapped chunk \(hex(c.address)) does not cover whole pages"
            }
            mapped += c.size + c.mmapOffset
            nMapped += 1
            live += c.requested
            liveCount += 1
        }
        if mapped != self.mmappedMem || nMapped != self.nMmaps {
            return
                "mapped chunks: \(nMapped) of \(mapped) bytes, counted \(self.nMmaps) of \(self.mmappedMem)"
        }
        if live != self.stats.liveBytes || liveCount != self.stats.liveAllocations {
            return
                "live: \(liveCount) allocations of \(live) bytes, counted \(self.stats.liveAllocations) of \(self.stats.liveBytes)"
        }
        // tcache.
        for i in 0..<Ptmalloc.tcacheMaxBins {
            var n = 0
            var p = self.tcacheEntries[i]
            while p >= 0 {
                let c = self.store[p]
                if c.state != .tcache || Int(c.bin) != i || Ptmalloc.csize2tidx(c.size) != i {
                    return "tcache[\(i)] holds \(hex(c.address)) (size \(hex(c.size)))"
                }
                if listed[Int(p)] { return "tcache[\(i)]: a cycle" }
                listed[Int(p)] = true
                n += 1
                p = c.fd
            }
            if n != Int(self.tcacheCounts[i]) || n > self.tcacheCount {
                return "tcache[\(i)]: \(n) chunks, count \(self.tcacheCounts[i])"
            }
        }
        // Fastbins.
        for i in 0..<Ptmalloc.nFastbins {
            var p = self.fastbins[i]
            while p >= 0 {
                let c = self.store[p]
                if c.state != .fastbin || Int(c.bin) != i || Ptmalloc.fastbinIndex(c.size) != i {
                    return "fastbin[\(i)] holds \(hex(c.address)) (size \(hex(c.size)))"
                }
                if listed[Int(p)] { return "fastbin[\(i)]: a cycle or a chunk in two lists" }
                listed[Int(p)] = true
                p = c.fd
            }
        }
        if !self.haveFastchunks && self.fastbins.contains(where: { $0 >= 0 }) {
            return "fastbins hold chunks but have_fastchunks is false"
        }
        // Doubly linked bins.
        for i in 1..<Ptmalloc.nBins {
            let bin = Int32(i)
            var p = self.store[bin].fd
            var prev = bin
            var lastSize = UInt64.max
            var count = 0
            while p != bin {
                let c = self.store[p]
                if c.bk != prev { return "bin \(i): broken bk link at \(hex(c.address))" }
                if listed[Int(p)] { return "bin \(i): \(hex(c.address)) is in two lists" }
                listed[Int(p)] = true
                switch i {
                case 1:
                    if c.state != .unsorted {
                        return "unsorted bin holds \(hex(c.address)) in state \(c.state)"
                    }
                case 2..<64:
                    if c.state != .smallbin || Int(c.bin) != i || Ptmalloc.smallbinIndex(c.size) != i {
                        return "smallbin[\(i)] holds \(hex(c.address)) of size \(hex(c.size))"
                    }
                default:
                    if c.state != .largebin || Int(c.bin) != i || Ptmalloc.largebinIndex(c.size) != i {
                        return "largebin[\(i)] holds \(hex(c.address)) of size \(hex(c.size))"
                    }
                    if c.size > lastSize { return "largebin[\(i)] is not sorted" }
                    // A size group's first chunk is on the skip list, the others are not.
                    let heads = c.size != lastSize
                    if heads != (c.fdNextsize >= 0) {
                        return "largebin[\(i)]: skip list wrong at \(hex(c.address))"
                    }
                    if heads
                        && (self.store[c.fdNextsize].bkNextsize != p
                            || self.store[c.bkNextsize].fdNextsize != p)
                    {
                        return "largebin[\(i)]: broken skip list at \(hex(c.address))"
                    }
                    lastSize = c.size
                }
                if self.binmap[i >> 5] & (1 << UInt32(i & 31)) == 0 && i != 1 {
                    return "bin \(i) is not empty but unmarked in the binmap"
                }
                count += 1
                if count > self.store.records.count { return "bin \(i): a cycle" }
                prev = p
                p = c.fd
            }
            if self.store[bin].bk != prev { return "bin \(i): header's bk is not the last chunk" }
        }
        // Every chunk in a list state is listed.
        for i in ChunkStore.binHeaders..<self.store.records.count {
            let s = self.store.records[i].state
            if (s == .tcache || s == .fastbin || s.isBinned) && !listed[i] {
                return "chunk \(hex(self.store.records[i].address)) is \(s) but in no list"
            }
        }
        if self.store.count != self.store.records.count - ChunkStore.binHeaders - self.store.spare.count {
            return "the address index holds \(self.store.count) chunks"
        }
        return nil
    }
}
