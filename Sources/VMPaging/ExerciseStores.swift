import VMTypes

/// Page tables for exercises: x86-format tables in arbitrary frames of a sparse physical
/// memory, so problems can put tables and pages anywhere (as textbooks do) without booting a
/// machine. Walked by the same `walkPageTables` as the MMU.
public final class SparsePageTableStore: PageTableStore {
    public typealias Table = PFN
    public let geometry: PagingGeometry
    /// Entries of each table, by frame number; missing entries are none.
    public private(set) var tables: [UInt64: [UInt64]] = [:]

    public init(geometry: PagingGeometry) { self.geometry = geometry }

    /// Creates an empty table in frame `pfn` for level `level`.
    public func addTable(_ pfn: PFN, level: Int) {
        self.tables[pfn.rawValue] = Array(repeating: 0, count: self.geometry.entries(atLevel: level))
    }

    public func hasTable(_ pfn: PFN) -> Bool { self.tables[pfn.rawValue] != nil }

    /// An independent copy (so a solution can set Accessed/Dirty without changing the problem).
    public func copy() -> SparsePageTableStore {
        let other = SparsePageTableStore(geometry: self.geometry)
        other.tables = self.tables
        return other
    }

    public func readEntry(_ table: PFN, _ index: Int, level: Int) -> PTE {
        PTE(rawValue: self.tables[table.rawValue]?[index] ?? 0)
    }

    public func writeEntry(_ table: PFN, _ index: Int, level: Int, _ pte: PTE) {
        precondition(self.tables[table.rawValue] != nil, "SparsePageTableStore: no table in \(table)")
        self.tables[table.rawValue]![index] = pte.rawValue
    }

    /// Non-empty entries of a table, by index.
    public func entries(of table: PFN) -> [(index: Int, entry: PTE)] {
        (self.tables[table.rawValue] ?? []).enumerated().compactMap {
            $0.element == 0 ? nil : ($0.offset, PTE(rawValue: $0.element))
        }
    }
}

/// A small byte-addressed physical memory holding teaching-format page tables, as in the OSTEP
/// homework `paging-multilevel-translate.py`: each entry is `entryBytes` bytes, big-endian, with
/// the top bit "valid" and the rest the frame number; there are no permission, Accessed or Dirty
/// bits. Everything — tables and data — lives in `bytes`, so a translation can fetch the value.
public final class TeachingMemory: PageTableStore {
    public typealias Table = PFN
    public let geometry: PagingGeometry
    public private(set) var bytes: [UInt8]
    public var pageSize: Int { 1 << self.geometry.pageShift }
    public var pages: Int { self.bytes.count / self.pageSize }

    public init(geometry: PagingGeometry, pages: Int) {
        self.geometry = geometry
        self.bytes = Array(repeating: 0, count: pages << geometry.pageShift)
    }

    var validBit: UInt64 { 1 << UInt64(self.geometry.entryBytes * 8 - 1) }

    public func readEntry(_ table: PFN, _ index: Int, level: Int) -> PTE {
        let raw = self.rawEntry(table, index)
        guard raw & self.validBit != 0 else { return .none }
        return PTE(pfn: PFN(rawValue: raw & (self.validBit - 1)), flags: [.present, .writable, .user])
    }

    /// Writes an entry; only presence and frame are representable (A/D writes are ignored).
    public func writeEntry(_ table: PFN, _ index: Int, level: Int, _ pte: PTE) {
        let current = self.readEntry(table, index, level: level)
        if current.isPresent == pte.isPresent && current.pfn == pte.pfn { return }
        self.setRawEntry(table, index, pte.isPresent ? self.validBit | pte.pfn.rawValue : 0)
    }

    /// The entry's bytes as an integer.
    public func rawEntry(_ table: PFN, _ index: Int) -> UInt64 {
        let at = Int(table.rawValue) * self.pageSize + index * self.geometry.entryBytes
        var raw: UInt64 = 0
        for i in 0..<self.geometry.entryBytes { raw = raw << 8 | UInt64(self.bytes[at + i]) }
        return raw
    }

    public func setRawEntry(_ table: PFN, _ index: Int, _ raw: UInt64) {
        let at = Int(table.rawValue) * self.pageSize + index * self.geometry.entryBytes
        for i in 0..<self.geometry.entryBytes {
            self.bytes[at + i] = UInt8(
                truncatingIfNeeded: raw >> UInt64(8 * (self.geometry.entryBytes - 1 - i)))
        }
    }

    public func setByte(_ address: Int, _ value: UInt8) { self.bytes[address] = value }
    public func byte(_ address: Int) -> UInt8 { self.bytes[address] }
}
