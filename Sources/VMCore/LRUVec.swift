import VMPhys
import VMTypes

/// One LRU list of an `LRUVec`: its pages (threaded through `mem_map`, as Linux threads
/// `folio->lru`) and how many there are.
public struct LRUListHead: Sendable {
    /// The pages, most recently added at the head; reclaim scans from the tail.
    public internal(set) var pages = PFNList()
    public internal(set) var count = 0
    public var head: UInt32 { self.pages.head }
    public var tail: UInt32 { self.pages.tail }
}

/// `struct lruvec` (include/linux/mmzone.h): the five LRU lists and the recent cost of
/// reclaiming anonymous and file pages (`anon_cost`, `file_cost`), which `get_scan_count()`
/// weighs against `vm.swappiness`.
///
/// Linux has one per node, and with memory cgroups one per cgroup per node
/// (`mem_cgroup_lruvec()`); vmsim's kernel holds the node's. Which list a page belongs on is
/// the kernel's business (its flags, `folio_lru_list()`), as are the node and zone counters;
/// the lruvec only links, unlinks and counts.
public struct LRUVec: Sendable {
    public private(set) var lists: [LRUListHead] = Array(
        repeating: LRUListHead(), count: LRUList.allCases.count)
    /// `lruvec->anon_cost`, `file_cost`.
    public private(set) var anonCost = 0
    public private(set) var fileCost = 0
    /// `lruvec->nonresident_age`: pages evicted or activated on this lruvec or below it, the
    /// clock refault distances are measured on (mm/workingset.c).
    public private(set) var nonresidentAge = 0
    /// The multi-generational LRU (`lruvec->lrugen`), used when `lru_gen` is on; the classic
    /// lists then hold only unevictable pages.
    public internal(set) var gen = LRUGen()

    public init() {}

    /// Pages on `list`.
    public func count(_ list: LRUList) -> Int { self.lists[list.rawValue].count + self.gen.count(list) }
    /// The oldest page on classic `list` (the next reclaim looks at), if any.
    public func oldest(_ list: LRUList) -> PFN? { self.lists[list.rawValue].pages.last }
    /// Pages on the evictable lists (`lruvec_lru_size()` summed over all but unevictable).
    public var evictablePages: Int { LRUList.allCases.dropLast().reduce(0) { $0 + self.count($1) } }

    /// `lruvec_add_folio()` (at the head) or `lruvec_add_folio_tail()`.
    mutating func add(_ pfn: PFN, to list: LRUList, toTail: Bool, _ memMap: MemMap) {
        self.lists[list.rawValue].pages.add(pfn, toTail: toTail, memMap)
        self.lists[list.rawValue].count += 1
    }

    /// `lruvec_del_folio()`.
    mutating func remove(_ pfn: PFN, from list: LRUList, _ memMap: MemMap) {
        self.lists[list.rawValue].pages.remove(pfn, memMap)
        self.lists[list.rawValue].count -= 1
    }

    /// The pages of `list`, newest first.
    func pages(_ list: LRUList, _ memMap: MemMap) -> [PFN] { self.lists[list.rawValue].pages.pages(memMap) }

    /// `workingset_age_nonresident()` for this lruvec alone (the kernel walks the parents).
    mutating func ageNonresident(_ n: Int) { self.nonresidentAge += n }

    /// `lru_note_cost()` (mm/swap.c): I/O and rotations make a kind of page costlier to
    /// reclaim; both costs halve once they exceed a quarter of the evictable pages.
    mutating func noteCost(file: Bool, io: Int, rotated: Int) {
        let cost = io * Kernel.swapClusterMax + rotated
        if file { self.fileCost += cost } else { self.anonCost += cost }
        if self.fileCost + self.anonCost > self.evictablePages / 4 {
            self.fileCost /= 2
            self.anonCost /= 2
        }
    }
}
