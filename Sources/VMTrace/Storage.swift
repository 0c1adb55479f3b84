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
        self.base = .allocate(capacity: self.count)
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
        let fresh = UnsafeMutablePointer<T>.allocate(capacity: size)
        fresh.initialize(from: self.base, count: self.count)
        (fresh + self.count).initialize(repeating: self.fill, count: size - self.count)
        self.base.deallocate()
        self.base = fresh
        self.count = size
    }

    @inlinable func reset() { self.base.update(repeating: self.fill, count: self.count) }

    func free() { self.base.deallocate() }
}

/// Doubly linked lists threaded through per-id `prev`/`next` slabs: several lists can share
/// one pair (an id is on at most one of them at a time). `-1` is the end of a list. Head is
/// the newest end, tail the oldest — libCacheSim's `q_head`/`q_tail`.
@usableFromInline
struct LinkedLists {
    @usableFromInline var prev: Slab<Int32>
    @usableFromInline var next: Slab<Int32>

    @usableFromInline init(capacity: Int) {
        self.prev = Slab(count: capacity, fill: -1)
        self.next = Slab(count: capacity, fill: -1)
    }

    @inlinable mutating func grow(to n: Int) {
        self.prev.grow(to: n)
        self.next.grow(to: n)
    }

    func free() {
        self.prev.free()
        self.next.free()
    }
}

/// One list: its head, tail and length.
@usableFromInline
struct ListHead: BitwiseCopyable {
    @usableFromInline var head: Int32 = -1
    @usableFromInline var tail: Int32 = -1
    @usableFromInline var count = 0
    @usableFromInline init() {}
}

extension LinkedLists {
    /// `prepend_obj_to_head`.
    @inlinable func pushHead(_ id: Int32, _ list: inout ListHead) {
        let i = Int(id)
        self.prev[i] = -1
        self.next[i] = list.head
        if list.head >= 0 { self.prev[Int(list.head)] = id } else { list.tail = id }
        list.head = id
        list.count += 1
    }

    /// `append_obj_to_tail`.
    @inlinable func pushTail(_ id: Int32, _ list: inout ListHead) {
        let i = Int(id)
        self.next[i] = -1
        self.prev[i] = list.tail
        if list.tail >= 0 { self.next[Int(list.tail)] = id } else { list.head = id }
        list.tail = id
        list.count += 1
    }

    /// `remove_obj_from_list`.
    @inlinable func remove(_ id: Int32, _ list: inout ListHead) {
        let i = Int(id)
        let p = self.prev[i]
        let n = self.next[i]
        if p >= 0 { self.next[Int(p)] = n } else { list.head = n }
        if n >= 0 { self.prev[Int(n)] = p } else { list.tail = p }
        self.prev[i] = -1
        self.next[i] = -1
        list.count -= 1
    }

    /// `move_obj_to_head`.
    @inlinable func moveToHead(_ id: Int32, _ list: inout ListHead) {
        guard list.head != id else { return }
        self.remove(id, &list)
        self.pushHead(id, &list)
    }

    /// Removes and returns the tail (the oldest), or -1.
    @inlinable func popTail(_ list: inout ListHead) -> Int32 {
        let t = list.tail
        if t >= 0 { self.remove(t, &list) }
        return t
    }
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
