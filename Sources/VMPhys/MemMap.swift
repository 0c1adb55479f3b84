import VMTypes

/// Status bits of a page frame.
///
/// Models the `PG_*` flags of include/linux/page-flags.h plus the page *types* Linux keeps in
/// `page->page_type` (`PG_buddy`, `PG_table`, `PG_slab` in recent kernels) and the anonymous
/// bit Linux hides in the low bit of `page->mapping` (`PAGE_MAPPING_ANON`).
@frozen
public struct PageFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static var locked: PageFlags { PageFlags(rawValue: 1 << 0) }
    @inlinable public static var referenced: PageFlags { PageFlags(rawValue: 1 << 1) }
    @inlinable public static var uptodate: PageFlags { PageFlags(rawValue: 1 << 2) }
    @inlinable public static var dirty: PageFlags { PageFlags(rawValue: 1 << 3) }
    @inlinable public static var lru: PageFlags { PageFlags(rawValue: 1 << 4) }
    @inlinable public static var active: PageFlags { PageFlags(rawValue: 1 << 5) }
    @inlinable public static var workingset: PageFlags { PageFlags(rawValue: 1 << 6) }
    @inlinable public static var writeback: PageFlags { PageFlags(rawValue: 1 << 7) }
    @inlinable public static var reclaim: PageFlags { PageFlags(rawValue: 1 << 8) }
    @inlinable public static var swapBacked: PageFlags { PageFlags(rawValue: 1 << 9) }
    @inlinable public static var unevictable: PageFlags { PageFlags(rawValue: 1 << 10) }
    @inlinable public static var mlocked: PageFlags { PageFlags(rawValue: 1 << 11) }
    @inlinable public static var swapCache: PageFlags { PageFlags(rawValue: 1 << 12) }
    /// `PageAnon()`: `page->mapping` names an anon_vma, not a file.
    @inlinable public static var anon: PageFlags { PageFlags(rawValue: 1 << 13) }
    /// `PG_head`: first page of a compound (multi-page) allocation.
    @inlinable public static var head: PageFlags { PageFlags(rawValue: 1 << 14) }
    /// `PageBuddy()`: the first page of a free block on a buddy free list; `order` holds its order.
    @inlinable public static var buddy: PageFlags { PageFlags(rawValue: 1 << 15) }
    /// `PageTable()`: the frame holds a page table.
    @inlinable public static var pageTable: PageFlags { PageFlags(rawValue: 1 << 16) }
    /// `PageSlab()`: the frame belongs to a slab; `mapping` holds the cache id.
    @inlinable public static var slab: PageFlags { PageFlags(rawValue: 1 << 17) }
    /// `PageReserved()`: never given to the buddy allocator (set on frames reserved after boot;
    /// boot-time reservations are ranges, see `MemMap.isReserved(_:)`).
    @inlinable public static var reserved: PageFlags { PageFlags(rawValue: 1 << 18) }
    /// The frame backs a vmalloc area.
    @inlinable public static var vmalloc: PageFlags { PageFlags(rawValue: 1 << 19) }
    /// The frame is part of a kernel stack.
    @inlinable public static var kernelStack: PageFlags { PageFlags(rawValue: 1 << 20) }
    /// `PageAnonExclusive()`: the anonymous page is known to be mapped by one process only.
    @inlinable public static var anonExclusive: PageFlags { PageFlags(rawValue: 1 << 21) }
    /// The shared zero page (`ZERO_PAGE(0)`).
    @inlinable public static var zeroPage: PageFlags { PageFlags(rawValue: 1 << 22) }
    /// `PG_mappedtodisk` / `PG_private`: spare bits later layers use.
    @inlinable public static var mappedToDisk: PageFlags { PageFlags(rawValue: 1 << 23) }
    @inlinable public static var privateData: PageFlags { PageFlags(rawValue: 1 << 24) }
    /// A readahead marker page (`PG_readahead`).
    @inlinable public static var readahead: PageFlags { PageFlags(rawValue: 1 << 25) }

    static let names: [(PageFlags, String)] = [
        (.locked, "locked"), (.referenced, "referenced"), (.uptodate, "uptodate"), (.dirty, "dirty"),
        (.lru, "lru"), (.active, "active"), (.workingset, "workingset"), (.writeback, "writeback"),
        (.reclaim, "reclaim"), (.swapBacked, "swapbacked"), (.unevictable, "unevictable"),
        (.mlocked, "mlocked"), (.swapCache, "swapcache"), (.anon, "anon"), (.head, "head"),
        (.buddy, "buddy"), (.pageTable, "table"), (.slab, "slab"), (.reserved, "reserved"),
        (.vmalloc, "vmalloc"), (.kernelStack, "kstack"), (.anonExclusive, "anon_exclusive"),
        (.zeroPage, "zero"), (.mappedToDisk, "mappedtodisk"), (.privateData, "private"),
        (.readahead, "readahead"),
    ]
    /// Comma-separated flag names, as `%pGp` prints them in dump_page().
    public var description: String {
        PageFlags.names.filter { self.contains($0.0) }.map(\.1).joined(separator: "|")
    }
}

/// The frame table: one `struct page` per physical frame, stored as a struct of arrays.
///
/// Models `mem_map` / `struct page` (include/linux/mm_types.h). Each field is a separate array
/// indexed by PFN, reserved for the whole machine but committed by the host only where touched
/// (see `LazyArray`), so memory grows with what the simulation uses. There is no object per
/// frame and no reference counting on the host side.
///
/// Field use follows Linux's unions: a free block's first page keeps its buddy order in `order`
/// and its free-list links in `lruPrev`/`lruNext` (Linux: `page->buddy_list`); an LRU page uses
/// the same links for its LRU list. Links hold PFNs with 0 meaning "none": boot always reserves
/// PFN 0 (the BIOS data area on a PC), so it is never on a list.
///
/// Simplifications: no compound-page tail metadata (the head's `order` says how many frames an
/// allocation covers); no per-page zone/node bits (a frame's zone is found from its PFN).
public final class MemMap {
    /// One past the highest PFN the table can describe.
    public let capacity: Int
    @usableFromInline let flagsArray: LazyArray<UInt32>
    @usableFromInline let refCountArray: LazyArray<Int32>
    @usableFromInline let mapCountArray: LazyArray<Int32>
    @usableFromInline let orderArray: LazyArray<UInt8>
    @usableFromInline let lruPrevArray: LazyArray<UInt32>
    @usableFromInline let lruNextArray: LazyArray<UInt32>
    @usableFromInline let mappingArray: LazyArray<UInt32>
    @usableFromInline let indexArray: LazyArray<UInt64>
    @usableFromInline let contentArray: LazyArray<UInt64>
    @usableFromInline let privateArray: LazyArray<UInt64>
    /// Boot-time reserved PFN ranges (`memblock.reserved`), sorted and disjoint.
    public private(set) var reservedRanges: [Range<UInt64>] = []

    /// Reserves a table for PFNs `0..<capacity`; nothing is committed on the host yet.
    public init(capacity: Int) {
        precondition(capacity > 0 && capacity <= Int(UInt32.max), "MemMap: capacity \(capacity) out of range")
        self.capacity = capacity
        self.flagsArray = LazyArray(capacity: capacity)
        self.refCountArray = LazyArray(capacity: capacity)
        self.mapCountArray = LazyArray(capacity: capacity)
        self.orderArray = LazyArray(capacity: capacity)
        self.lruPrevArray = LazyArray(capacity: capacity)
        self.lruNextArray = LazyArray(capacity: capacity)
        self.mappingArray = LazyArray(capacity: capacity)
        self.indexArray = LazyArray(capacity: capacity)
        self.contentArray = LazyArray(capacity: capacity)
        self.privateArray = LazyArray(capacity: capacity)
    }

    deinit {
        self.flagsArray.release()
        self.refCountArray.release()
        self.mapCountArray.release()
        self.orderArray.release()
        self.lruPrevArray.release()
        self.lruNextArray.release()
        self.mappingArray.release()
        self.indexArray.release()
        self.contentArray.release()
        self.privateArray.release()
    }

    /// Host memory the table occupies right now (resident pages of all its arrays).
    public func hostResidentBytes() -> Int {
        self.flagsArray.residentBytes() + self.refCountArray.residentBytes()
            + self.mapCountArray.residentBytes()
            + self.orderArray.residentBytes() + self.lruPrevArray.residentBytes()
            + self.lruNextArray.residentBytes()
            + self.mappingArray.residentBytes() + self.indexArray.residentBytes()
            + self.contentArray.residentBytes()
            + self.privateArray.residentBytes()
    }

    /// Host bytes of metadata per simulated frame.
    public static let bytesPerFrame =
        MemoryLayout<UInt32>.stride * 4 + MemoryLayout<Int32>.stride * 2 + 1 + MemoryLayout<UInt64>.stride * 3

    // MARK: Field access (`page->field`)

    @inlinable public func flags(_ pfn: PFN) -> PageFlags { PageFlags(rawValue: self.flagsArray[pfn.index]) }
    @inlinable public func setFlags(_ pfn: PFN, _ flags: PageFlags) {
        self.flagsArray[pfn.index] = flags.rawValue
    }
    @inlinable public func insertFlags(_ pfn: PFN, _ flags: PageFlags) {
        self.flagsArray[pfn.index] |= flags.rawValue
    }
    @inlinable public func removeFlags(_ pfn: PFN, _ flags: PageFlags) {
        self.flagsArray[pfn.index] &= ~flags.rawValue
    }
    @inlinable public func test(_ pfn: PFN, _ flags: PageFlags) -> Bool {
        self.flagsArray[pfn.index] & flags.rawValue == flags.rawValue
    }

    /// The generation of a page on a multi-generational LRU list, or nil when it is on none
    /// (`folio_lru_gen()`: `LRU_GEN_MASK` in `folio->flags` holds gen + 1, bits 26–28 here).
    @inlinable public func lruGen(_ pfn: PFN) -> Int? {
        let raw = Int((self.flagsArray[pfn.index] >> MemMap.lruGenShift) & 7)
        return raw == 0 ? nil : raw - 1
    }
    /// Sets or clears (nil) the page's generation (`LRU_GEN_MASK`).
    @inlinable public func setLRUGen(_ pfn: PFN, _ gen: Int?) {
        let bits = UInt32((gen.map { $0 + 1 } ?? 0) & 7) << MemMap.lruGenShift
        self.flagsArray[pfn.index] = (self.flagsArray[pfn.index] & ~(7 << MemMap.lruGenShift)) | bits
    }
    /// The page's references through file descriptors beyond the first (`LRU_REFS_MASK`, two
    /// bits, 29–30 here; the first is `PG_referenced`).
    @inlinable public func lruRefs(_ pfn: PFN) -> Int {
        Int((self.flagsArray[pfn.index] >> MemMap.lruRefsShift) & 3)
    }
    @inlinable public func setLRURefs(_ pfn: PFN, _ refs: Int) {
        let bits = UInt32(refs & 3) << MemMap.lruRefsShift
        self.flagsArray[pfn.index] = (self.flagsArray[pfn.index] & ~(3 << MemMap.lruRefsShift)) | bits
    }
    @usableFromInline static let lruGenShift: UInt32 = 26
    @usableFromInline static let lruRefsShift: UInt32 = 29

    /// `page_ref_count()`.
    @inlinable public func refCount(_ pfn: PFN) -> Int { Int(self.refCountArray[pfn.index]) }
    @inlinable public func setRefCount(_ pfn: PFN, _ value: Int) {
        self.refCountArray[pfn.index] = Int32(value)
    }
    /// `get_page()`.
    @inlinable public func getPage(_ pfn: PFN) {
        precondition(self.refCountArray[pfn.index] > 0, "getPage: \(pfn) has no references")
        self.refCountArray[pfn.index] += 1
    }
    /// `put_page_testzero()`: drops a reference, returns true when it was the last.
    @inlinable public func putPageTestZero(_ pfn: PFN) -> Bool {
        let count = self.refCountArray[pfn.index]
        precondition(count > 0, "putPage: reference count underflow on \(pfn)")
        self.refCountArray[pfn.index] = count - 1
        return count == 1
    }

    /// `page_mapcount()`: how many page-table entries map the frame.
    @inlinable public func mapCount(_ pfn: PFN) -> Int { Int(self.mapCountArray[pfn.index]) }
    @inlinable public func setMapCount(_ pfn: PFN, _ value: Int) {
        self.mapCountArray[pfn.index] = Int32(value)
    }
    @inlinable public func incMapCount(_ pfn: PFN) { self.mapCountArray[pfn.index] += 1 }
    /// Drops a mapping; returns true when it was the last one.
    @inlinable public func decMapCount(_ pfn: PFN) -> Bool {
        let count = self.mapCountArray[pfn.index]
        precondition(count > 0, "decMapCount: map count underflow on \(pfn)")
        self.mapCountArray[pfn.index] = count - 1
        return count == 1
    }

    /// Buddy order of a free block's first page, or order of an allocation's first page.
    @inlinable public func order(_ pfn: PFN) -> Int { Int(self.orderArray[pfn.index]) }
    @inlinable public func setOrder(_ pfn: PFN, _ order: Int) { self.orderArray[pfn.index] = UInt8(order) }

    @inlinable public func lruPrev(_ pfn: PFN) -> UInt32 { self.lruPrevArray[pfn.index] }
    @inlinable public func lruNext(_ pfn: PFN) -> UInt32 { self.lruNextArray[pfn.index] }
    @inlinable public func setLRULinks(_ pfn: PFN, prev: UInt32, next: UInt32) {
        self.lruPrevArray[pfn.index] = prev
        self.lruNextArray[pfn.index] = next
    }
    @inlinable public func setLRUPrev(_ pfn: PFN, _ prev: UInt32) { self.lruPrevArray[pfn.index] = prev }
    @inlinable public func setLRUNext(_ pfn: PFN, _ next: UInt32) { self.lruNextArray[pfn.index] = next }

    /// `page->mapping`: an id whose meaning depends on the flags (file mapping, anon_vma, slab cache).
    @inlinable public func mapping(_ pfn: PFN) -> UInt32 { self.mappingArray[pfn.index] }
    @inlinable public func setMapping(_ pfn: PFN, _ value: UInt32) { self.mappingArray[pfn.index] = value }
    /// `page->index`: offset in the mapping, in pages.
    @inlinable public func index(_ pfn: PFN) -> UInt64 { self.indexArray[pfn.index] }
    @inlinable public func setIndex(_ pfn: PFN, _ value: UInt64) { self.indexArray[pfn.index] = value }
    /// The 64-bit content word: what the simulated program last wrote to this page.
    @inlinable public func content(_ pfn: PFN) -> UInt64 { self.contentArray[pfn.index] }
    @inlinable public func setContent(_ pfn: PFN, _ value: UInt64) { self.contentArray[pfn.index] = value }
    /// `page->private`: a swap entry for swap-cache pages, or other per-owner data.
    @inlinable public func privateWord(_ pfn: PFN) -> UInt64 { self.privateArray[pfn.index] }
    @inlinable public func setPrivateWord(_ pfn: PFN, _ value: UInt64) {
        self.privateArray[pfn.index] = value
    }

    /// Clears every field of `count` frames from `pfn` (the state of a frame fresh from boot).
    @inlinable public func reset(_ pfn: PFN, count: Int = 1) {
        for i in pfn.index..<(pfn.index + count) {
            self.flagsArray[i] = 0
            self.refCountArray[i] = 0
            self.mapCountArray[i] = 0
            self.orderArray[i] = 0
            self.lruPrevArray[i] = 0
            self.lruNextArray[i] = 0
            self.mappingArray[i] = 0
            self.indexArray[i] = 0
            self.contentArray[i] = 0
            self.privateArray[i] = 0
        }
    }

    // MARK: Boot reservations

    /// Records a boot-time reservation (`memblock_reserve()`); ranges are merged and kept sorted.
    func reserve(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        var ranges = self.reservedRanges + [range]
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<UInt64>] = []
        for r in ranges {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        self.reservedRanges = merged
    }

    /// `PageReserved()`: reserved at boot (a range) or marked reserved later (a flag).
    public func isReserved(_ pfn: PFN) -> Bool {
        if self.test(pfn, .reserved) { return true }
        var lo = 0
        var hi = self.reservedRanges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let r = self.reservedRanges[mid]
            if pfn.rawValue < r.lowerBound {
                hi = mid
            } else if pfn.rawValue >= r.upperBound {
                lo = mid + 1
            } else {
                return true
            }
        }
        return false
    }
}
