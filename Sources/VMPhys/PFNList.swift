import VMTypes

/// A doubly linked list of pages threaded through `MemMap`'s `lruPrev`/`lruNext` words — the
/// `struct list_head` of include/linux/list.h as Linux embeds it in `struct page`
/// (`page->lru`, `page->buddy_list`, `page->pcp_list` share one pair of words, and a page is on
/// at most one such list at a time).
///
/// The buddy free lists, the per-CPU lists and the LRU lists are all one of these; the owner
/// keeps the count (a free area's `nr_free` also counts boot blocks that are on no list yet).
/// A link of 0 ends the list: PFN 0 is never on one (it is reserved at boot).
public struct PFNList: Sendable {
    @usableFromInline var headRaw: UInt32 = 0
    @usableFromInline var tailRaw: UInt32 = 0
    /// The first page (most recently added at the head), 0 when empty.
    public var head: UInt32 { self.headRaw }
    /// The last page (the oldest, for lists fed at the head), 0 when empty.
    public var tail: UInt32 { self.tailRaw }

    public init() {}

    public var isEmpty: Bool { self.head == 0 }
    /// `list_first_entry()`.
    public var first: PFN? { self.head == 0 ? nil : PFN(rawValue: UInt64(self.head)) }
    /// `list_last_entry()`.
    public var last: PFN? { self.tail == 0 ? nil : PFN(rawValue: UInt64(self.tail)) }

    /// `list_add()` (at the head) or `list_add_tail()`.
    @inlinable public mutating func add(_ pfn: PFN, toTail: Bool = false, _ memMap: MemMap) {
        let raw = UInt32(truncatingIfNeeded: pfn.rawValue)
        if toTail {
            memMap.setLRULinks(pfn, prev: self.tailRaw, next: 0)
            if self.tailRaw != 0 {
                memMap.setLRUNext(PFN(rawValue: UInt64(self.tailRaw)), raw)
            } else {
                self.headRaw = raw
            }
            self.tailRaw = raw
        } else {
            memMap.setLRULinks(pfn, prev: 0, next: self.headRaw)
            if self.headRaw != 0 {
                memMap.setLRUPrev(PFN(rawValue: UInt64(self.headRaw)), raw)
            } else {
                self.tailRaw = raw
            }
            self.headRaw = raw
        }
    }

    /// `list_del()`: unlinks `pfn`, which must be on this list, and clears its links.
    @inlinable public mutating func remove(_ pfn: PFN, _ memMap: MemMap) {
        let prev = memMap.lruPrev(pfn)
        let next = memMap.lruNext(pfn)
        if prev != 0 {
            memMap.setLRUNext(PFN(rawValue: UInt64(prev)), next)
        } else {
            self.headRaw = next
        }
        if next != 0 {
            memMap.setLRUPrev(PFN(rawValue: UInt64(next)), prev)
        } else {
            self.tailRaw = prev
        }
        memMap.setLRULinks(pfn, prev: 0, next: 0)
    }

    /// The pages from head to tail (`list_for_each_entry()`), for reports and checks.
    public func pages(_ memMap: MemMap) -> [PFN] {
        var result: [PFN] = []
        var cur = self.head
        while cur != 0 {
            let pfn = PFN(rawValue: UInt64(cur))
            result.append(pfn)
            cur = memMap.lruNext(pfn)
        }
        return result
    }
}
