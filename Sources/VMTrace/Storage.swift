import CPrefetch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A growable array of trivial values behind a raw pointer: no copy-on-write, no bounds or
/// exclusivity checks on the hot paths of the policies, the mapper and the curves.
///
/// Owned by one policy (or mapper); `grow(to:)` keeps the contents and fills new slots with
/// `fill`. `free()` must be called once by the owner's `deinit`.
@usableFromInline
struct Slab<T: BitwiseCopyable> {
    @usableFromInline var base: UnsafeMutablePointer<T>
    @usableFromInline var count: Int
    @usableFromInline let fill: T

    @usableFromInline init(count: Int, fill: T) {
        self.count = max(count, 1)
        self.fill = fill
        self.base = reallocate(nil, MemoryLayout<T>.stride * self.count).bindMemory(
            to: T.self, capacity: self.count)
        self.base.initialize(repeating: fill, count: self.count)
    }

    @inlinable subscript(i: Int) -> T {
        @inline(__always) get { self.base[i] }
        @inline(__always) nonmutating set { self.base[i] = newValue }
    }

    /// Makes at least `n` slots available (doubling).
    @inlinable mutating func grow(to n: Int) {
        guard n > self.count else { return }
        var size = self.count
        while size < n { size *= 2 }
        // realloc moves large blocks with mremap: no copy, and no moment with both in memory.
        let fresh = reallocate(UnsafeMutableRawPointer(self.base), MemoryLayout<T>.stride * size)
            .bindMemory(to: T.self, capacity: size)
        (fresh + self.count).initialize(repeating: self.fill, count: size - self.count)
        self.base = fresh
        self.count = size
    }

    @inlinable func reset() { self.base.update(repeating: self.fill, count: self.count) }

    func free() { Glibc.free(self.base) }
}

/// `realloc()` that stops with a message when memory runs out.
@usableFromInline func reallocate(_ p: UnsafeMutableRawPointer?, _ bytes: Int) -> UnsafeMutableRawPointer {
    guard let q = realloc(p, max(bytes, 1)) else { fatalError("vmsim: out of memory (\(bytes) bytes)") }
    return q
}

/// Maps arbitrary 64-bit page or object ids to dense ids 0, 1, 2 … in order of first
/// appearance.
///
/// Keys below 2^32 — page numbers of any 44-bit address space, and every synthetic trace — go
/// through a two-level direct table (65 536 lazily allocated leaves of 65 536 entries: 256 KiB
/// per 256 MiB of address space touched), so mapping them is two dependent loads and no hashing.
/// Larger keys use an open-addressing table (linear probing, power-of-two size, at most half
/// full) with a multiplicative hash.
public final class IDMapper {
    @exclusivity(unchecked) var leaves: UnsafeMutablePointer<UnsafeMutablePointer<UInt32>?>
    @exclusivity(unchecked) var leafCount = 0
    @exclusivity(unchecked) var keys: UnsafeMutablePointer<UInt64>
    @exclusivity(unchecked) var values: UnsafeMutablePointer<UInt32>
    @exclusivity(unchecked) var mask: Int
    @exclusivity(unchecked) var shift: UInt64
    @exclusivity(unchecked) var hashed = 0
    /// Distinct ids seen.
    public private(set) var count = 0

    public init() {
        self.leaves = .allocate(capacity: 1 << 16)
        self.leaves.initialize(repeating: nil, count: 1 << 16)
        let size = 1024
        self.mask = size - 1
        self.shift = UInt64(64 - size.trailingZeroBitCount)
        self.keys = .allocate(capacity: size)
        self.values = .allocate(capacity: size)
        self.values.initialize(repeating: .max, count: size)
        self.keys.initialize(repeating: 0, count: size)
    }

    deinit {
        for i in 0..<(1 << 16) { self.leaves[i]?.deallocate() }
        self.leaves.deallocate()
        self.keys.deallocate()
        self.values.deallocate()
    }

    /// The dense id of `key`, assigning the next one on first sight.
    @inline(__always) public func map(_ key: UInt64) -> UInt32 {
        if key >> 32 == 0 {
            if let leaf = self.leaves[Int(truncatingIfNeeded: key >> 16)] {
                let v = leaf[Int(truncatingIfNeeded: key & 0xFFFF)]
                if v != .max { return v }
            }
            return self.insertDirect(key)
        }
        return self.mapHashed(key)
    }

    /// Starts loading the table entry of `key` (keys below 2^32 whose leaf exists).
    @inline(__always) func prefetch(_ key: UInt64) {
        if key >> 32 == 0, let leaf = self.leaves[Int(truncatingIfNeeded: key >> 16)] {
            vmsim_prefetch(leaf + Int(truncatingIfNeeded: key & 0xFFFF))
        }
    }

    /// The dense id of `key` if it was seen.
    public func lookup(_ key: UInt64) -> UInt32? {
        if key >> 32 == 0 {
            guard let leaf = self.leaves[Int(key >> 16)] else { return nil }
            let v = leaf[Int(key & 0xFFFF)]
            return v == .max ? nil : v
        }
        var i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> self.shift)
        while true {
            let v = self.values[i]
            if v == .max { return nil }
            if self.keys[i] == key { return v }
            i = (i &+ 1) & self.mask
        }
    }

    func insertDirect(_ key: UInt64) -> UInt32 {
        let top = Int(key >> 16)
        let leaf: UnsafeMutablePointer<UInt32>
        if let l = self.leaves[top] {
            leaf = l
        } else {
            leaf = .allocate(capacity: 1 << 16)
            leaf.initialize(repeating: .max, count: 1 << 16)
            self.leaves[top] = leaf
            self.leafCount += 1
        }
        let id = UInt32(self.count)
        leaf[Int(key & 0xFFFF)] = id
        self.count += 1
        return id
    }

    func mapHashed(_ key: UInt64) -> UInt32 {
        var i = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> self.shift)
        while true {
            let v = self.values[i]
            if v == .max { break }
            if self.keys[i] == key { return v }
            i = (i &+ 1) & self.mask
        }
        let id = UInt32(self.count)
        self.keys[i] = key
        self.values[i] = id
        self.count += 1
        self.hashed += 1
        if self.hashed * 2 > self.mask + 1 { self.rehash() }
        return id
    }

    func rehash() {
        let oldSize = self.mask + 1
        let oldKeys = self.keys
        let oldValues = self.values
        let size = oldSize * 2
        self.keys = .allocate(capacity: size)
        self.values = .allocate(capacity: size)
        self.keys.initialize(repeating: 0, count: size)
        self.values.initialize(repeating: .max, count: size)
        self.mask = size - 1
        self.shift = UInt64(64 - size.trailingZeroBitCount)
        for j in 0..<oldSize where oldValues[j] != .max {
            var i = Int(truncatingIfNeeded: (oldKeys[j] &* 0x9E37_79B9_7F4A_7C15) &>> self.shift)
            while self.values[i] != .max { i = (i &+ 1) & self.mask }
            self.keys[i] = oldKeys[j]
            self.values[i] = oldValues[j]
        }
        oldKeys.deallocate()
        oldValues.deallocate()
    }

    /// Bytes the tables hold.
    public var bytes: Int { (1 << 16) * 8 + self.leafCount * (1 << 18) + (self.mask + 1) * 12 }
}

/// Per-page records of `stride` 32-bit fields, side by side (array of structs): a page's list
/// links and state share one cache line, so touching a page costs one miss, not one per field.
/// Field `k` of every new record starts at `fills[k]`.
@usableFromInline
struct NodeTable {
    @usableFromInline var base: UnsafeMutablePointer<Int32>
    @usableFromInline var capacity: Int
    @usableFromInline let stride: Int
    /// The initial record (a pointer, not an array: copying the table must not retain anything).
    let fills: UnsafeMutablePointer<Int32>

    init(stride: Int, fills: [Int32], capacity: Int = 1024) {
        precondition(fills.count == stride, "NodeTable: one fill per field")
        self.stride = stride
        self.fills = .allocate(capacity: stride)
        self.fills.initialize(from: fills, count: stride)
        self.capacity = max(capacity, 1)
        self.base = reallocate(nil, 4 * self.capacity * stride).bindMemory(
            to: Int32.self, capacity: self.capacity * stride)
        for i in 0..<self.capacity { (self.base + i * stride).initialize(from: self.fills, count: stride) }
    }

    /// Field `field` of page `id`.
    @inline(__always) subscript(id: Int32, field: Int) -> Int32 {
        get { self.base[Int(id) &* self.stride &+ field] }
        nonmutating set { self.base[Int(id) &* self.stride &+ field] = newValue }
    }

    /// Makes room for ids below `n` (doubling).
    mutating func grow(to n: Int) {
        guard n > self.capacity else { return }
        var size = self.capacity
        while size < n { size *= 2 }
        let fresh = reallocate(UnsafeMutableRawPointer(self.base), 4 * size * self.stride)
            .bindMemory(to: Int32.self, capacity: size * self.stride)
        for i in self.capacity..<size {
            (fresh + i * self.stride).initialize(from: self.fills, count: self.stride)
        }
        self.base = fresh
        self.capacity = size
    }

    func free() {
        Glibc.free(self.base)
        self.fills.deallocate()
    }

    /// Prefetches a page's record.
    @inline(__always) func prefetch(_ id: Int32) { vmsim_prefetch(self.base + Int(id) &* self.stride) }
}

/// A doubly linked list threaded through two fields of a `NodeTable` (`link` holds prev,
/// `link + 1` next). Head is the newest end, tail the oldest — libCacheSim's `q_head`/`q_tail`.
@usableFromInline
struct NodeList: BitwiseCopyable {
    @usableFromInline var head: Int32 = -1
    @usableFromInline var tail: Int32 = -1
    @usableFromInline var count = 0
    @usableFromInline let link: Int

    init(link: Int) { self.link = link }
}

extension NodeTable {
    @inline(__always) func prev(_ id: Int32, _ list: NodeList) -> Int32 { self[id, list.link] }
    @inline(__always) func next(_ id: Int32, _ list: NodeList) -> Int32 { self[id, list.link + 1] }

    /// `prepend_obj_to_head`.
    @inline(__always) func pushHead(_ id: Int32, _ list: inout NodeList) {
        let l = list.link
        self[id, l] = -1
        self[id, l + 1] = list.head
        if list.head >= 0 { self[list.head, l] = id } else { list.tail = id }
        list.head = id
        list.count += 1
    }

    /// `append_obj_to_tail`.
    @inline(__always) func pushTail(_ id: Int32, _ list: inout NodeList) {
        let l = list.link
        self[id, l + 1] = -1
        self[id, l] = list.tail
        if list.tail >= 0 { self[list.tail, l + 1] = id } else { list.head = id }
        list.tail = id
        list.count += 1
    }

    /// `remove_obj_from_list`.
    @inline(__always) func remove(_ id: Int32, _ list: inout NodeList) {
        let l = list.link
        let p = self[id, l]
        let n = self[id, l + 1]
        if p >= 0 { self[p, l + 1] = n } else { list.head = n }
        if n >= 0 { self[n, l] = p } else { list.tail = p }
        self[id, l] = -1
        self[id, l + 1] = -1
        list.count -= 1
    }

    /// `move_obj_to_head`.
    @inline(__always) func moveToHead(_ id: Int32, _ list: inout NodeList) {
        guard list.head != id else { return }
        self.remove(id, &list)
        self.pushHead(id, &list)
    }

    /// Removes and returns the tail (the oldest), or -1.
    @inline(__always) func popTail(_ list: inout NodeList) -> Int32 {
        let t = list.tail
        if t >= 0 { self.remove(t, &list) }
        return t
    }
}

/// One list of pages kept as a lazy queue: every insertion or move to the head appends the page
/// and records the slot in the page's record; removal only clears the record, leaving a stale
/// slot that the tail end skips. The valid slots, in order, are exactly a linked list's, but an
/// operation touches only the page itself, never its neighbours — which is what limits speed
/// when the pages do not fit in the CPU's caches. When the slots run out, the valid ones are
/// compacted to the front, and the slots double when more than half of them were valid.
///
/// A page's record holds slot + 1 in field `slotField` (0: not on the list). Lists that share
/// one slot field (a page is on at most one of them) tell theirs apart by a tag in the low 4
/// bits of field `slotField + 1`; a list with a field of its own has tag 0.
@usableFromInline
struct LazyList {
    @usableFromInline var items: UnsafeMutablePointer<Int32>
    @usableFromInline var front = 0
    @usableFromInline var back = 0
    @usableFromInline var count = 0
    @usableFromInline var capacity: Int
    @usableFromInline let slotField: Int
    @usableFromInline let tag: Int32

    /// A list of at most `limit` pages. Its slots start at 2 × min(limit, 1024) + 64 and double
    /// as compaction finds the list more than half full of valid pages, so they follow the pages
    /// actually on the list, never the limit (a policy with 2^32 frames and 100 pages holds a
    /// few KiB).
    init(slotField: Int = 0, tag: Int32 = 0, limit: Int) {
        self.slotField = slotField
        self.tag = tag
        self.capacity = 2 * min(max(limit, 1), 1024) + 64
        self.items = .allocate(capacity: self.capacity)
    }

    func free() { self.items.deallocate() }
}

extension NodeTable {
    /// The list tag of a page's record whose slot field is `slotField` (0: on no list).
    @inline(__always) func tag(_ id: Int32, slotField: Int = 0) -> Int32 { self[id, slotField + 1] & 15 }

    /// Whether `id` is on `list`.
    @inline(__always) func contains(_ id: Int32, _ list: LazyList) -> Bool {
        self[id, list.slotField] != 0 && (list.tag == 0 || self[id, list.slotField + 1] & 15 == list.tag)
    }

    @inline(__always) func isValid(_ list: LazyList, _ i: Int) -> Bool {
        let id = list.items[i]
        return self[id, list.slotField] == Int32(truncatingIfNeeded: i &+ 1)
            && (list.tag == 0 || self[id, list.slotField + 1] & 15 == list.tag)
    }

    /// Appends `id` at the head of `list` (which must not be full of valid pages).
    @inline(__always) func append(_ id: Int32, _ list: inout LazyList) {
        if list.back == list.capacity { self.compact(&list) }
        list.items[list.back] = id
        list.back &+= 1
        self[id, list.slotField] = Int32(truncatingIfNeeded: list.back)
        if list.tag != 0 { self[id, list.slotField + 1] = (self[id, list.slotField + 1] & ~15) | list.tag }
    }

    /// `prepend_obj_to_head` for a page on no list.
    @inline(__always) func pushHead(_ id: Int32, _ list: inout LazyList) {
        self.append(id, &list)
        list.count &+= 1
    }

    /// `move_obj_to_head` for a page on `list`.
    @inline(__always) func moveToHead(_ id: Int32, _ list: inout LazyList) { self.append(id, &list) }

    /// `remove_obj_from_list`: the page's slot goes stale; its record's tag is cleared.
    @inline(__always) func remove(_ id: Int32, _ list: inout LazyList) {
        self[id, list.slotField] = 0
        if list.tag != 0 { self[id, list.slotField + 1] &= ~15 }
        list.count &-= 1
    }

    /// The tail (oldest valid page), or -1; stale slots before it are dropped.
    @inline(__always) func peekTail(_ list: inout LazyList) -> Int32 {
        guard list.count > 0 else { return -1 }
        while !self.isValid(list, list.front) {
            list.front &+= 1
            if list.front &+ 16 < list.back { self.prefetch(list.items[list.front &+ 16]) }
        }
        return list.items[list.front]
    }

    /// Removes and returns the tail, or -1.
    @inline(__always) func popTail(_ list: inout LazyList) -> Int32 {
        let t = self.peekTail(&list)
        if t >= 0 {
            list.front &+= 1
            self.remove(t, &list)
        }
        return t
    }

    /// Moves the valid slots to the front, in order.
    func compact(_ list: inout LazyList) {
        var out = 0
        for i in list.front..<list.back {
            if i &+ 16 < list.back { self.prefetch(list.items[i &+ 16]) }
            if self.isValid(list, i) {
                let id = list.items[i]
                list.items[out] = id
                out += 1
                self[id, list.slotField] = Int32(truncatingIfNeeded: out)
            }
        }
        list.front = 0
        list.back = out
        if out > list.capacity / 2 {
            // More valid pages than the list's limit said: grow rather than compact often.
            let bigger = UnsafeMutablePointer<Int32>.allocate(capacity: list.capacity * 2)
            bigger.initialize(from: list.items, count: out)
            list.items.deallocate()
            list.items = bigger
            list.capacity *= 2
        }
    }
}
