/// Where a glibc chunk is, as far as the arena is concerned.
///
/// glibc keeps this in the chunk itself: the size word's flag bits, the next chunk's
/// `PREV_INUSE` bit, and which list the chunk's `fd`/`bk` words thread it on. The model keeps it
/// in `ChunkRecord.state`; the flag bits are derived from it (`GlibcMalloc.prevInUse`).
@usableFromInline
enum Where: UInt8, BitwiseCopyable {
    /// A slot not holding a chunk (a bin header, or a record on the spare list).
    case none
    case inUse
    case tcache
    case fastbin
    case unsorted
    case smallbin
    case largebin
    case top
    case mmapped
    case fencepost

    /// Free in the arena's sense: in a doubly linked bin, so its neighbours coalesce with it.
    /// Chunks in the tcache and fastbins are "in use" to the arena (their next chunk's
    /// `PREV_INUSE` stays set).
    @inline(__always) var isBinned: Bool { self == .unsorted || self == .smallbin || self == .largebin }
}

/// One chunk's metadata: what glibc stores in the chunk's header words (`prev_size`, `size`,
/// `fd`, `bk`, `fd_nextsize`, `bk_nextsize` of `struct malloc_chunk`), with pointers replaced by
/// record indices, plus the chunk's neighbours in address order.
///
/// Records 0…127 are the bin headers (`bin_at(av, i)` is record `i`): sentinels of the circular
/// doubly linked lists, as glibc overlays bin headers on its arena's `bins` array.
@usableFromInline
struct ChunkRecord: BitwiseCopyable {
    /// The chunk's address (`mchunkptr`); the user pointer is `address + 16`.
    var address: UInt64 = 0
    /// `chunksize(p)`: the size without the flag bits.
    var size: UInt64 = 0
    /// The program's request, for live-byte accounting (glibc does not know it).
    var requested: UInt64 = 0
    /// For mmapped chunks, `prev_size`: the bytes between the mapping's start and the chunk.
    var mmapOffset: UInt64 = 0
    /// `fd`/`bk`: bin list links; tcache and fastbin lists use `fd` only. -1 is NULL.
    var fd: Int32 = -1
    var bk: Int32 = -1
    /// `fd_nextsize`/`bk_nextsize`: the large bins' skip list over distinct sizes; -1 is NULL.
    var fdNextsize: Int32 = -1
    var bkNextsize: Int32 = -1
    /// The chunks before and after this one in address order within a heap segment; -1 at the
    /// ends. (glibc computes these from `prev_size` and `size`.)
    var physPrev: Int32 = -1
    var physNext: Int32 = -1
    var state: Where = .none
    /// The tcache, fastbin, small or large bin index the chunk is in.
    var bin: UInt8 = 0
}

/// A growable array of trivial values in memory it owns, indexed without uniqueness or (in
/// release builds) bounds checks: the allocator models' hot lists and tables. Reference
/// semantics; one owner.
final class RawArray<Element: BitwiseCopyable>: Sequence {
    @exclusivity(unchecked) var base: UnsafeMutablePointer<Element>
    @exclusivity(unchecked) private(set) var count: Int
    @exclusivity(unchecked) private(set) var capacity: Int

    init(repeating value: Element, count: Int) {
        self.capacity = Swift.max(count, 16)
        self.base = .allocate(capacity: self.capacity)
        self.base.initialize(repeating: value, count: count)
        self.count = count
    }

    deinit { self.base.deallocate() }

    @inline(__always) subscript(i: Int) -> Element {
        get {
            assert(i >= 0 && i < self.count, "RawArray: index \(i) out of 0..<\(self.count)")
            return self.base[i]
        }
        _modify {
            assert(i >= 0 && i < self.count, "RawArray: index \(i) out of 0..<\(self.count)")
            yield &self.base[i]
        }
    }

    func append(_ v: Element) {
        if self.count == self.capacity {
            let grown = UnsafeMutablePointer<Element>.allocate(capacity: self.capacity * 2)
            grown.moveInitialize(from: self.base, count: self.count)
            self.base.deallocate()
            self.base = grown
            self.capacity *= 2
        }
        (self.base + self.count).initialize(to: v)
        self.count += 1
    }

    /// An independent copy of the elements (for a forked process's allocator).
    func copy() -> RawArray<Element> {
        let c = RawArray(capacity: self.capacity)
        c.base.initialize(from: self.base, count: self.count)
        c.count = self.count
        return c
    }

    private init(capacity: Int) {
        self.capacity = capacity
        self.base = .allocate(capacity: capacity)
        self.count = 0
    }

    func makeIterator() -> UnsafeBufferPointer<Element>.Iterator {
        UnsafeBufferPointer(start: self.base, count: self.count).makeIterator()
    }
}

/// Chunk records and an index from chunk address to record.
///
/// Records live in one array; freed slots go on a spare list and are reused, so the array is as
/// long as the most chunks that ever existed at once. The index is an open-addressing table with
/// linear probing and backward-shift deletion (no tombstones), keyed by chunk address: O(1)
/// expected for `find`, `insert` and `remove`, no allocation except when it doubles.
struct ChunkStore {
    let records: RawArray<ChunkRecord>
    var spare: [Int32] = []
    var keys: RawArray<UInt64>
    var values: RawArray<Int32>
    var mask: Int
    var count = 0

    static let binHeaders = 128

    init() {
        self.records = RawArray(repeating: ChunkRecord(), count: Self.binHeaders)
        for i in 0..<Self.binHeaders {
            self.records[i].fd = Int32(i)
            self.records[i].bk = Int32(i)
        }
        self.keys = RawArray(repeating: 0, count: 1024)
        self.values = RawArray(repeating: -1, count: 1024)
        self.mask = 1023
    }

    /// An independent copy (records and index), for a forked process's allocator.
    func copy() -> ChunkStore {
        var c = self
        c = ChunkStore(
            records: self.records.copy(), keys: self.keys.copy(), values: self.values.copy(), mask: self.mask)
        c.spare = self.spare
        c.count = self.count
        return c
    }

    private init(records: RawArray<ChunkRecord>, keys: RawArray<UInt64>, values: RawArray<Int32>, mask: Int) {
        self.records = records
        self.keys = keys
        self.values = values
        self.mask = mask
    }

    @inline(__always) subscript(i: Int32) -> ChunkRecord {
        get { self.records[Int(i)] }
        nonmutating _modify { yield &self.records[Int(i)] }
    }

    /// A new record for a chunk at `address` of `size` bytes, indexed by its address.
    mutating func make(address: UInt64, size: UInt64, state: Where) -> Int32 {
        var r = ChunkRecord()
        r.address = address
        r.size = size
        r.state = state
        let i: Int32
        if let s = self.spare.popLast() {
            i = s
            self.records[Int(s)] = r
        } else {
            i = Int32(self.records.count)
            self.records.append(r)
        }
        self.insert(address, i)
        return i
    }

    /// Forgets record `i` (its chunk merged into a neighbour or was unmapped).
    mutating func discard(_ i: Int32) {
        self.remove(self.records[Int(i)].address)
        self.records[Int(i)].state = .none
        self.spare.append(i)
    }

    /// Moves record `i` to a new address (a chunk whose start moves: the top after a split,
    /// a coalesced chunk taking its lower neighbour's place, an mremapped chunk).
    mutating func move(_ i: Int32, to address: UInt64) {
        self.remove(self.records[Int(i)].address)
        self.records[Int(i)].address = address
        self.insert(address, i)
    }

    @inline(__always) func slot(_ key: UInt64) -> Int {
        // Chunk addresses are multiples of 16: mix the rest (Fibonacci hashing).
        Int(truncatingIfNeeded: ((key >> 4) &* 0x9E37_79B9_7F4A_7C15) >> 20) & self.mask
    }

    /// The record of the chunk at `address`, or nil.
    @inline(__always) func find(_ address: UInt64) -> Int32? {
        var s = self.slot(address)
        while true {
            let k = self.keys[s]
            if k == address { return self.values[s] }
            if k == 0 { return nil }
            s = (s + 1) & self.mask
        }
    }

    mutating func insert(_ key: UInt64, _ value: Int32) {
        precondition(key != 0, "ChunkStore.insert: chunk at address 0")
        if (self.count + 1) * 2 > self.mask + 1 { self.grow() }
        var s = self.slot(key)
        while self.keys[s] != 0 {
            precondition(self.keys[s] != key, "ChunkStore.insert: two chunks at 0x\(String(key, radix: 16))")
            s = (s + 1) & self.mask
        }
        self.keys[s] = key
        self.values[s] = value
        self.count += 1
    }

    mutating func remove(_ key: UInt64) {
        var s = self.slot(key)
        while self.keys[s] != key {
            precondition(self.keys[s] != 0, "ChunkStore.remove: no chunk at 0x\(String(key, radix: 16))")
            s = (s + 1) & self.mask
        }
        // Backward-shift deletion: pull later entries of the probe run into the hole.
        var hole = s
        var j = s
        while true {
            j = (j + 1) & self.mask
            let k = self.keys[j]
            if k == 0 { break }
            let home = self.slot(k)
            // Move k into the hole unless its home lies cyclically in (hole, j].
            let between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !between {
                self.keys[hole] = k
                self.values[hole] = self.values[j]
                hole = j
            }
        }
        self.keys[hole] = 0
        self.values[hole] = -1
        self.count -= 1
    }

    mutating func grow() {
        let oldKeys = self.keys
        let oldValues = self.values
        let capacity = (self.mask + 1) * 2
        self.keys = RawArray(repeating: 0, count: capacity)
        self.values = RawArray(repeating: -1, count: capacity)
        self.mask = capacity - 1
        self.count = 0
        for (k, v) in zip(oldKeys, oldValues) where k != 0 { self.insert(k, v) }
    }
}
