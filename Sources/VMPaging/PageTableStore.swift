import VMPhys
import VMTypes

/// Where page-table entries live, as the walker sees them: tables named by the frame that holds
/// them, entries by index.
///
/// Two kinds exist: `PageTableArena` (tables in frames of a simulated machine, the real thing)
/// and the exercise stores of `vmsim translate`. The walker is generic over this protocol, so the
/// step-by-step explanation and the MMU run the same code.
public protocol PageTableStore {
    /// How the store names a table while walking (a frame number, or an index of its own).
    associatedtype Table
    var geometry: PagingGeometry { get }
    /// The handle of the table held in frame `pfn`.
    func table(_ pfn: PFN) -> Table
    /// The frame holding a table.
    func frame(of table: Table) -> PFN
    /// The entry `index` of a table at page-table level `level` (0 = root).
    func readEntry(_ table: Table, _ index: Int, level: Int) -> PTE
    /// Overwrites an entry (the MMU uses it to set Accessed and Dirty).
    func writeEntry(_ table: Table, _ index: Int, level: Int, _ pte: PTE)
    /// The table a present, non-leaf entry points to.
    func child(of table: Table, _ index: Int, entry: PTE) -> Table
    /// An entry and, if it points to a table, that table (`child` of it); one lookup for both.
    func readEntryAndChild(_ table: Table, _ index: Int, level: Int) -> (PTE, Table)
}

extension PageTableStore {
    /// Physical address of an entry: the table's frame plus index × entry size.
    public func entryAddress(_ table: PFN, _ index: Int) -> UInt64 {
        table.physAddr(pageShift: self.geometry.pageShift).rawValue + UInt64(index * self.geometry.entryBytes)
    }
}

/// Stores that name tables by their frame (exercises).
extension PageTableStore where Table == PFN {
    @inlinable public func table(_ pfn: PFN) -> PFN { pfn }
    @inlinable public func frame(of table: PFN) -> PFN { table }
    @inlinable public func child(of table: PFN, _ index: Int, entry: PTE) -> PFN { entry.pfn }
    @inlinable public func readEntryAndChild(_ table: PFN, _ index: Int, level: Int) -> (PTE, PFN) {
        let entry = self.readEntry(table, index, level: level)
        return (entry, entry.pfn)
    }
}

/// Page tables of a simulated machine: every table is a real frame from the buddy allocator.
///
/// Linux keeps entries inside the frame itself; vmsim keeps the frame's entries in host memory
/// found through the frame number (`PageFlags.pageTable` marks the frame, `slotOfPFN` leads to
/// the entries). Entries are stored as 64-bit words for every format; 4-byte i386 entries use
/// the low half. For each entry the arena also keeps, in a parallel array, the slot of the
/// table it points to, so a walk goes from level to level without looking the frame up (the
/// hardware equivalent is the frame address itself); leaf tables never touch that array, so
/// their entries stay dense. Tables are stored in chunks of 256 behind fixed chunk directories,
/// so a walk is a few loads and never touches a Swift array.
///
/// Tables for user space are counted in `NR_PAGETABLE` (meminfo `PageTables`); the kernel's own
/// tables (direct map) are allocated at boot and, as in Linux where they come from memblock,
/// not counted there.
public final class PageTableArena: PageTableStore {
    public typealias Table = Int
    public let geometry: PagingGeometry
    public let phys: PhysicalMemory
    /// Entries reserved per table: the most any level has.
    @usableFromInline let stride: Int
    @usableFromInline static let tablesPerChunkShift = 8
    static let maxChunks = 1 << 16
    @usableFromInline let chunks: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>?>
    /// Child slot + 1 of each entry (0: none), laid out like `chunks`; host memory is committed
    /// only where written (upper-level tables).
    @usableFromInline let childChunks: UnsafeMutablePointer<LazyArray<UInt32>?>
    /// PFN → slot + 1 (0: the frame holds no table).
    @usableFromInline let slotOfPFN: LazyArray<UInt32>
    @usableFromInline let slotPFN: LazyArray<UInt64>
    let slotLevel: LazyArray<UInt8>
    /// Number of entries that are not none, per table: a table whose count drops to zero can go.
    let slotUsed: LazyArray<Int32>
    /// 1 for tables of user address spaces (counted in `NR_PAGETABLE`), 0 for the kernel's.
    let slotUser: LazyArray<UInt8>
    var freeSlots: [Int32] = []
    var nextSlot = 0
    /// Tables currently allocated (user and kernel).
    public private(set) var tableCount = 0
    /// Transparent huge pages (HugePMD.swift): the 4 KiB zero page and the head of the huge zero
    /// page, so a PMD leaf mapping the huge zero page reads as PTEs of the small one, as
    /// `__split_huge_zero_page_pmd()` fills them.
    public var zeroPagePFN = PFN(rawValue: UInt64.max)
    public var hugeZeroPFN: PFN?
    /// The PTE table deposited with each PMD leaf (`pgtable_trans_huge_deposit()`), by
    /// `pmdKey(table slot, index)`: a split never needs to allocate.
    var deposited: [Int: PFN] = [:]
    /// Called with each PMD leaf that stops being one: split into PTEs (true) or zapped (false).
    public var onPMDLeafGone: ((PTE, Bool) -> Void)?
    /// The last leaf table `leafSlot` reached: from root slot `lastLeafRoot`, for addresses whose
    /// bits above the leaf table's span are `lastLeafKey`; -1 for none. A cache of the simulator,
    /// not of the modelled machine (no TLB or walk sees it): a fault and the page-table updates
    /// around it walk to the same leaf table again and again. Forgotten whenever an entry above
    /// the leaf level is written (a table linked or unlinked, a PMD leaf made or split, an
    /// Accessed bit set or cleared) and whenever a table is freed, so it only ever names the
    /// table the walk would reach.
    @usableFromInline var lastLeaf = -1
    @usableFromInline var lastLeafRoot = -1
    @usableFromInline var lastLeafKey: UInt64 = 0
    /// The shift of the bits above a leaf table's span (`PMD_SHIFT` on x86-64).
    @usableFromInline let leafSpanShift: UInt64

    /// An arena for tables of `geometry` in frames of `phys`.
    public init(phys: PhysicalMemory, geometry: PagingGeometry) {
        self.phys = phys
        self.geometry = geometry
        self.stride = (0..<geometry.levels).map { geometry.entries(atLevel: $0) }.max() ?? 1
        self.leafSpanShift = UInt64(geometry.levels >= 2 ? geometry.shift(ofLevel: geometry.levels - 2) : 63)
        self.chunks = .allocate(capacity: PageTableArena.maxChunks)
        self.chunks.initialize(repeating: nil, count: PageTableArena.maxChunks)
        self.childChunks = .allocate(capacity: PageTableArena.maxChunks)
        self.childChunks.initialize(repeating: nil, count: PageTableArena.maxChunks)
        self.slotOfPFN = LazyArray(capacity: Int(phys.maxPFN) + 1)
        let maxSlots = PageTableArena.maxChunks << PageTableArena.tablesPerChunkShift
        self.slotPFN = LazyArray(capacity: maxSlots)
        self.slotLevel = LazyArray(capacity: maxSlots)
        self.slotUsed = LazyArray(capacity: maxSlots)
        self.slotUser = LazyArray(capacity: maxSlots)
    }

    deinit {
        for c in 0..<PageTableArena.maxChunks {
            guard let chunk = self.chunks[c] else { continue }
            chunk.deallocate()
            self.childChunks[c]?.release()
        }
        self.chunks.deallocate()
        self.childChunks.deallocate()
        self.slotOfPFN.release()
        self.slotPFN.release()
        self.slotLevel.release()
        self.slotUsed.release()
        self.slotUser.release()
    }

    // MARK: Entries

    /// Pointer to the first entry of table slot `slot`.
    @inlinable @inline(__always) func entries(ofSlot slot: Int) -> UnsafeMutablePointer<UInt64> {
        self.chunks[slot &>> PageTableArena.tablesPerChunkShift].unsafelyUnwrapped
            + (slot & ((1 &<< PageTableArena.tablesPerChunkShift) &- 1)) &* self.stride
    }

    /// Index of entry `index` of slot `slot` within its chunk's child array.
    @inlinable @inline(__always) func childIndex(ofSlot slot: Int, _ index: Int) -> Int {
        (slot & ((1 &<< PageTableArena.tablesPerChunkShift) &- 1)) &* self.stride &+ index
    }

    /// The slot of the table in frame `pfn`.
    @inlinable public func slot(of pfn: PFN) -> Int {
        let s = Int(self.slotOfPFN[pfn.index])
        precondition(s > 0, "PageTableArena: \(pfn) holds no page table")
        return s - 1
    }

    /// Whether frame `pfn` holds a page table of this arena.
    @inlinable public func holdsTable(_ pfn: PFN) -> Bool {
        pfn.index < self.slotOfPFN.capacity && self.slotOfPFN[pfn.index] != 0
    }

    @inlinable @inline(__always) public func table(_ pfn: PFN) -> Int { self.slot(of: pfn) }
    @inlinable public func frame(of table: Int) -> PFN { PFN(rawValue: self.slotPFN[table]) }

    @inlinable @inline(__always) public func readEntry(_ table: Int, _ index: Int, level: Int) -> PTE {
        PTE(rawValue: self.entries(ofSlot: table)[index])
    }

    @inlinable @inline(__always) public func child(of table: Int, _ index: Int, entry: PTE) -> Int {
        let chunk = self.childChunks[table &>> PageTableArena.tablesPerChunkShift].unsafelyUnwrapped
        return Int(truncatingIfNeeded: chunk[self.childIndex(ofSlot: table, index)]) &- 1
    }

    @inlinable @inline(__always) public func readEntryAndChild(_ table: Int, _ index: Int, level: Int) -> (
        PTE, Int
    ) {
        let c = table &>> PageTableArena.tablesPerChunkShift
        let within = (table & ((1 &<< PageTableArena.tablesPerChunkShift) &- 1)) &* self.stride &+ index
        let entry = PTE(rawValue: self.chunks[c].unsafelyUnwrapped[within])
        return (entry, Int(truncatingIfNeeded: self.childChunks[c].unsafelyUnwrapped[within]) &- 1)
    }

    /// Writes an entry, keeping the table's count of non-empty entries and the child link.
    @inlinable public func writeEntry(_ table: Int, _ index: Int, level: Int, _ pte: PTE) {
        let p = self.entries(ofSlot: table) + index
        let wasNone = p.pointee == 0
        p.pointee = pte.rawValue
        if level < self.geometry.levels - 1 {
            self.lastLeaf = -1
            let chunk = self.childChunks[table &>> PageTableArena.tablesPerChunkShift].unsafelyUnwrapped
            let isTable = pte.isPresent && !pte.contains(.pageSize) && self.holdsTable(pte.pfn)
            chunk[self.childIndex(ofSlot: table, index)] = isTable ? UInt32(self.slot(of: pte.pfn) + 1) : 0
        }
        if wasNone != pte.isNone { self.adjustUsed(table, wasNone ? 1 : -1) }
    }

    /// The entry `index` of the table in frame `pfn`.
    public func readEntry(_ pfn: PFN, _ index: Int, level: Int) -> PTE {
        self.readEntry(self.slot(of: pfn), index, level: level)
    }
    /// Writes entry `index` of the table in frame `pfn`.
    public func writeEntry(_ pfn: PFN, _ index: Int, level: Int, _ pte: PTE) {
        self.writeEntry(self.slot(of: pfn), index, level: level, pte)
    }

    @usableFromInline func adjustUsed(_ slot: Int, _ delta: Int32) {
        self.slotUsed[slot] += delta
        precondition(self.slotUsed[slot] >= 0, "PageTableArena: entry count underflow in table slot \(slot)")
    }

    /// Entries of table `pfn` that are not none.
    public func usedEntries(_ pfn: PFN) -> Int { Int(self.slotUsed[self.slot(of: pfn)]) }
    /// The level a table was allocated for (0 = root).
    public func level(of pfn: PFN) -> Int { Int(self.slotLevel[self.slot(of: pfn)]) }

    // MARK: Tables

    /// `pte_alloc_one()`/`pmd_alloc_one()`/`pgd_alloc()`: a zeroed frame for a table at `level`.
    /// User tables use `GFP_PGTABLE_USER` and are counted in `NR_PAGETABLE`. Returns nil when
    /// memory runs out.
    public func allocTable(level: Int, user: Bool) -> PFN? {
        let gfp: GFP =
            user
            ? [.directReclaim, .kswapdReclaim, .io, .fs, .account, .zero]
            : [.directReclaim, .kswapdReclaim, .io, .fs, .zero]
        guard let pfn = self.phys.allocPages(gfp, order: 0) else { return nil }
        self.adopt(pfn, level: level)
        self.phys.memMap.insertFlags(pfn, .pageTable)
        if user {
            self.slotUser[self.slot(of: pfn)] = 1
            self.phys.mod(.nrPageTablePages, 1)
        }
        return pfn
    }

    /// Makes frame `pfn` hold an empty table at `level`.
    func adopt(_ pfn: PFN, level: Int) {
        let slot: Int
        if let reused = self.freeSlots.popLast() {
            slot = Int(reused)
        } else {
            slot = self.nextSlot
            self.nextSlot += 1
            let chunk = slot >> PageTableArena.tablesPerChunkShift
            precondition(
                chunk < PageTableArena.maxChunks,
                "PageTableArena: more than \(PageTableArena.maxChunks << 8) tables")
            if self.chunks[chunk] == nil {
                let count = self.stride << PageTableArena.tablesPerChunkShift
                let storage = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
                storage.initialize(repeating: 0, count: count)
                self.chunks[chunk] = storage
                self.childChunks[chunk] = LazyArray(capacity: count)
            }
        }
        self.entries(ofSlot: slot).update(repeating: 0, count: self.stride)
        if level < self.geometry.levels - 1 {
            let chunk = self.childChunks[slot >> PageTableArena.tablesPerChunkShift].unsafelyUnwrapped
            let first = self.childIndex(ofSlot: slot, 0)
            for i in 0..<self.stride { chunk[first + i] = 0 }
        }
        self.slotOfPFN[pfn.index] = UInt32(slot + 1)
        self.slotPFN[slot] = pfn.rawValue
        self.slotLevel[slot] = UInt8(level)
        self.slotUsed[slot] = 0
        self.slotUser[slot] = 0
        self.tableCount += 1
    }

    /// `pte_free()` and friends: returns an empty table's frame to the buddy allocator.
    public func freeTable(_ pfn: PFN) {
        let slot = self.slot(of: pfn)
        precondition(
            self.slotUsed[slot] == 0, "freeTable: table \(pfn) still has \(self.slotUsed[slot]) entries")
        self.slotOfPFN[pfn.index] = 0
        self.lastLeaf = -1
        self.freeSlots.append(Int32(slot))
        self.tableCount -= 1
        if self.slotUser[slot] != 0 { self.phys.mod(.nrPageTablePages, -1) }
        self.phys.memMap.removeFlags(pfn, .pageTable)
        self.phys.freePages(pfn, order: 0)
    }
}
