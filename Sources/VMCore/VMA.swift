import VMPhys
import VMTypes

/// What backs an area and so how it faults (Linux: `vm_file` plus `vm_ops`).
public enum VMABacking: Hashable, Sendable {
    /// Private anonymous memory (`vm_ops == NULL`): zero page on read, fresh pages on write.
    case anonymous
    /// A regular file through the page cache (`filemap_fault`).
    case file(FileID)
    /// Shared memory (shmem/tmpfs): `MAP_SHARED|MAP_ANONYMOUS` and SysV segments.
    case shmem(FileID)
    /// A special mapping with no pages of its own to fault (`[vvar]`, `[vdso]`).
    case special(String)

    public var fileID: FileID? {
        switch self {
        case .file(let f), .shmem(let f): return f
        default: return nil
        }
    }
}

/// A contiguous range of virtual addresses with one protection and one backing.
///
/// Models `struct vm_area_struct` (include/linux/mm_types.h); looked up by
/// `AddressSpace.findVMA(_:)`, the analogue of `find_vma()` (mm/mmap.c). Each VMA also owns a
/// `vm_area_struct` object in the slab, as in Linux.
public struct VMA: Hashable, Sendable {
    public internal(set) var start: UInt64
    public internal(set) var end: UInt64
    public internal(set) var flags: VMFlags
    /// `vm_pgoff`: offset in the file (pages); for private anonymous areas `start >> PAGE_SHIFT`.
    public internal(set) var pgoff: UInt64
    public internal(set) var backing: VMABacking
    /// `vm_anon_vma`: where this area's new anonymous pages are filed for reverse mapping.
    public internal(set) var anonVMA: AnonVMAID?
    /// `anon_vma_chain`: every anon_vma this area is linked into (its own and its ancestors'),
    /// with the `anon_vma_chain` slab object of each link.
    var anonChain: [AnonChainLink] = []
    /// `swap_readahead_info`: the swap readahead history of the area.
    public internal(set) var swapReadahead = SwapReadahead()
    /// `vm_file`: the open file mapped (an `OpenFile` id), for file and shmem areas.
    public internal(set) var vmFile: Int?
    /// A name given with `PR_SET_VMA_ANON_NAME` (printed `[anon:name]`).
    public internal(set) var anonName: String?
    /// The `vm_area_struct` slab object.
    var object: UInt64 = 0

    public var size: UInt64 { self.end - self.start }
    public func pages(pageShift: Int) -> Int { Int(self.size >> UInt64(pageShift)) }
    public func contains(_ address: UInt64) -> Bool { address >= self.start && address < self.end }
    /// `vma_is_anonymous()`: private anonymous (no `vm_ops`).
    public var isAnonymous: Bool { self.backing == .anonymous }
    /// `linear_page_index()`: the page offset of `address` in the backing object.
    public func linearPageIndex(_ address: UInt64, pageShift: Int) -> UInt64 {
        ((address - self.start) >> UInt64(pageShift)) + self.pgoff
    }
}

/// Index of a file (inode) in the kernel's file table.
public struct FileID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: FileID, b: FileID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "file#\(self.rawValue)" }
}

/// One `anon_vma_chain`: a VMA's link into an anon_vma.
struct AnonChainLink: Hashable, Sendable {
    var anonVMA: AnonVMAID
    var object: UInt64
}

/// Index of an anon_vma in the kernel's table.
public struct AnonVMAID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public var description: String { "anon_vma#\(self.rawValue)" }
}
