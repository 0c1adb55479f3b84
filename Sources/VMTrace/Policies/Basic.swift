import CPrefetch
import VMTypes

/// FIFO (libCacheSim `FIFO.c`): a hit changes nothing; the oldest inserted page goes.
///
/// Pages leave a FIFO queue only at its front, so it is a ring of ids (`IDRing`): a miss
/// touches the ring's two ends, which stay in the CPU's cache, and one byte of state per page.
public final class FIFOPolicy: ReplacementPolicy {
    let frames: Int
    /// Per page: bit 0 resident, bit 1 dirty.
    @exclusivity(unchecked) var state: Slab<UInt8>
    @exclusivity(unchecked) var ring: IDRing
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        self.state = Slab(count: 1024, fill: 0)
        self.ring = IDRing(capacity: slotsFor(limit: self.frames, seen: 0))
    }
    deinit {
        self.state.free()
        self.ring.free()
    }
    public func prefetch(_ id: Int32) { vmsim_prefetch(self.state.base + Int(id)) }
    public func reserve(_ count: Int) {
        self.state.grow(to: count)
        self.ring.grow(to: slotsFor(limit: self.frames, seen: count))
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let dirty: UInt8 = write ? 2 : 0
        let s = self.state[Int(id)]
        if s != 0 {
            self.state[Int(id)] = s | dirty
            return true
        }
        if self.ring.count >= self.frames { _ = self.evict() }
        self.ring.pushBack(id)
        self.state[Int(id)] = 1 | dirty
        return false
    }

    public func evict() -> Int32? {
        guard self.ring.count > 0 else { return nil }
        let victim = self.ring.popFront()
        self.stats.evictions += 1
        if self.state[Int(victim)] & 2 != 0 { self.stats.dirtyEvictions += 1 }
        self.state[Int(victim)] = 0
        return victim
    }
}

/// A ring of page ids: push at the back, pop at the front. Its capacity grows with the pages
/// the policy has seen (a page is in the ring at most once), up to the frame count.
@usableFromInline
struct IDRing {
    @usableFromInline var items: Slab<Int32>
    @usableFromInline var front = 0
    @usableFromInline var count = 0
    @usableFromInline var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        self.items = Slab(count: self.capacity, fill: -1)
    }
    func free() { self.items.free() }

    /// Makes room for at least `n` ids, keeping their order (the ring is unrolled to start at
    /// slot 0). O(count) when it grows.
    mutating func grow(to n: Int) {
        guard n > self.capacity else { return }
        let size = max(n, min(2 * self.capacity, Int.max / 8))
        let fresh = Slab<Int32>(count: size, fill: -1)
        for k in 0..<self.count { fresh[k] = self.peek(k) }
        self.items.free()
        self.items = fresh
        self.front = 0
        self.capacity = size
    }

    /// Appends `id` (there must be room).
    @inline(__always) mutating func pushBack(_ id: Int32) {
        var i = self.front &+ self.count
        if i >= self.capacity { i &-= self.capacity }
        self.items[i] = id
        self.count &+= 1
    }

    /// Removes and returns the oldest id (there must be one).
    @inline(__always) mutating func popFront() -> Int32 {
        let id = self.items[self.front]
        self.front &+= 1
        if self.front == self.capacity { self.front = 0 }
        self.count &-= 1
        return id
    }

    /// The id `k` places behind the front (k < count).
    @inline(__always) func peek(_ k: Int) -> Int32 {
        var i = self.front &+ k
        if i >= self.capacity { i &-= self.capacity }
        return self.items[i]
    }
}

/// LRU (libCacheSim `LRU.c`): a hit moves the page to the head; the tail goes.
///
/// Kept as a lazy queue rather than a linked list: every access appends the page at the back
/// and records that slot as the page's position; eviction pops from the front, skipping slots a
/// later access made stale. The order of valid slots is exactly the LRU list's, but an access
/// touches one page's state instead of three neighbours', which is what limits speed when the
/// pages do not fit in the CPU's caches. The queue holds 2 × min(frames, pages seen) + 64 slots:
/// when full, its valid slots (at most that minimum) are compacted to the front.
public final class LRUPolicy: ReplacementPolicy {
    let frames: Int
    @exclusivity(unchecked) var queue: LazyQueue
    /// Slot + 1 of each resident page's latest access (0 if not resident), with the page's dirty
    /// bit on top.
    @exclusivity(unchecked) var slot: Slab<UInt32>
    @exclusivity(unchecked) var resident = 0
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        self.queue = LazyQueue(capacity: 2 * slotsFor(limit: self.frames, seen: 0) + 64)
        self.slot = Slab(count: 1024, fill: 0)
    }
    deinit {
        self.queue.free()
        self.slot.free()
    }
    public func reserve(_ count: Int) {
        self.slot.grow(to: count)
        // Slot numbers share a 32-bit word with the dirty bit: at most 2^31 − 1 slots.
        self.queue.grow(to: min(2 * slotsFor(limit: self.frames, seen: count) + 64, Int(Int32.max)))
    }
    public func prefetch(_ id: Int32) { vmsim_prefetch(self.slot.base + Int(id)) }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let old = self.slot[Int(id)]
        var dirty = old & LazyQueue.dirty
        let hit = old != 0
        if !hit {
            if self.resident >= self.frames { _ = self.evict() }
            self.resident += 1
        }
        if write { dirty = LazyQueue.dirty }
        self.queue.append(id, self.slot, dirty: dirty)
        return hit
    }

    public func evict() -> Int32? {
        guard self.resident > 0 else { return nil }
        let victim = self.queue.popValid(self.slot)
        if self.slot[Int(victim)] & LazyQueue.dirty != 0 { self.stats.dirtyEvictions += 1 }
        self.slot[Int(victim)] = 0
        self.stats.evictions += 1
        self.resident -= 1
        return victim
    }
}

/// A queue of ids whose valid slots are those `slot[id]` (slot + 1, below the dirty bit) still
/// points at: the building block of the lazy LRU lists.
@usableFromInline
struct LazyQueue {
    @usableFromInline var items: Slab<Int32>
    @usableFromInline var front = 0
    @usableFromInline var back = 0
    var capacity: Int
    static let dirty: UInt32 = 1 << 31

    init(capacity: Int) {
        self.capacity = capacity
        self.items = Slab(count: capacity, fill: -1)
    }

    func free() { self.items.free() }

    /// Makes at least `n` slots available; slot numbers stay valid (the storage only grows).
    mutating func grow(to n: Int) {
        guard n > self.capacity else { return }
        self.items.grow(to: n)
        self.capacity = self.items.count
    }

    /// Appends `id` and points `slot[id]` at it, keeping `dirty` (compacting first when full).
    @inline(__always) mutating func append(_ id: Int32, _ slot: Slab<UInt32>, dirty: UInt32) {
        if self.back == self.capacity { self.compact(slot) }
        self.items[self.back] = id
        self.back += 1
        slot[Int(id)] = UInt32(truncatingIfNeeded: self.back) | dirty
    }

    /// Removes and returns the oldest valid id (there must be one).
    @inline(__always) mutating func popValid(_ slot: Slab<UInt32>) -> Int32 {
        while true {
            let id = self.items[self.front]
            // The slots to check next are known: start loading them.
            if self.front &+ 16 < self.back { vmsim_prefetch(slot.base + Int(self.items[self.front &+ 16])) }
            self.front += 1
            if slot[Int(id)] & ~Self.dirty == UInt32(truncatingIfNeeded: self.front) { return id }
        }
    }

    /// Moves the valid slots to the front, in order.
    mutating func compact(_ slot: Slab<UInt32>) {
        var out = 0
        for i in self.front..<self.back {
            let id = self.items[i]
            if i &+ 16 < self.back { vmsim_prefetch(slot.base + Int(self.items[i &+ 16])) }
            let s = slot[Int(id)]
            if s & ~Self.dirty == UInt32(truncatingIfNeeded: i + 1) {
                self.items[out] = id
                out += 1
                slot[Int(id)] = UInt32(truncatingIfNeeded: out) | (s & Self.dirty)
            }
        }
        self.front = 0
        self.back = out
    }
}

/// MRU (libCacheSim `MRU.c`): a hit moves the page to the head; the head — the most recently
/// used resident page — goes. (libCacheSim crashes evicting with one frame; here the lone page
/// is simply replaced.)
public final class MRUPolicy: ReplacementPolicy {
    let frames: Int
    /// Fields: prev, next, state (bit 0 resident, bit 1 dirty).
    @exclusivity(unchecked) var nodes = NodeTable(stride: 3, fills: [-1, -1, 0])
    @exclusivity(unchecked) var list = NodeList(link: 0)
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) { self.frames = policyFrames(frames) }
    deinit { self.nodes.free() }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let w: Int32 = write ? 2 : 0
        let s = self.nodes[id, 2]
        if s != 0 {
            self.nodes[id, 2] = s | w
            self.nodes.moveToHead(id, &self.list)
            return true
        }
        if self.list.count >= self.frames { _ = self.evict() }
        self.nodes.pushHead(id, &self.list)
        self.nodes[id, 2] = 1 | w
        return false
    }

    public func evict() -> Int32? {
        let victim = self.list.head
        guard victim >= 0 else { return nil }
        self.nodes.remove(victim, &self.list)
        if self.nodes[victim, 2] & 2 != 0 { self.stats.dirtyEvictions += 1 }
        self.nodes[victim, 2] = 0
        self.stats.evictions += 1
        return victim
    }
}

/// CLOCK, n-bit (libCacheSim `Clock.c`, the same as FIFO-reinsertion and second chance): a hit
/// raises the page's counter up to 2^n − 1; to evict, the hand at the oldest page decrements
/// and passes (re-inserting at the head) every page whose counter is not zero.
///
/// The clock is a ring of ids (`IDRing`): the hand is the ring's front, and passing a page is
/// moving it from the front to the back — the order libCacheSim's list keeps.
public final class ClockPolicy: ReplacementPolicy {
    let frames: Int
    let maxFrequency: UInt16
    let initialFrequency: UInt16
    /// Per page: bit 0 resident, bit 1 dirty, bits 8-15 the counter.
    @exclusivity(unchecked) var state: Slab<UInt16>
    @exclusivity(unchecked) var ring: IDRing
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    public convenience init(frames: Int, options: PolicyOptions) {
        self.init(frames: frames, bits: 1, initialFrequency: 0)
    }

    /// `bits` up to 8; `initialFrequency` up to 255.
    public init(frames: Int, bits: Int, initialFrequency: Int) {
        self.frames = policyFrames(frames)
        self.maxFrequency = UInt16((1 << min(max(bits, 1), 8)) - 1)
        self.initialFrequency = UInt16(min(max(initialFrequency, 0), 255))
        self.state = Slab(count: 1024, fill: 0)
        self.ring = IDRing(capacity: slotsFor(limit: self.frames, seen: 0))
    }
    deinit {
        self.state.free()
        self.ring.free()
    }
    public func prefetch(_ id: Int32) { vmsim_prefetch(self.state.base + Int(id)) }
    public func reserve(_ count: Int) {
        self.state.grow(to: count)
        self.ring.grow(to: slotsFor(limit: self.frames, seen: count))
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let dirty: UInt16 = write ? 2 : 0
        let s = self.state[Int(id)]
        if s != 0 {
            self.state[Int(id)] = (s >> 8 < self.maxFrequency ? s &+ 256 : s) | dirty
            return true
        }
        if self.ring.count >= self.frames { _ = self.evict() }
        self.ring.pushBack(id)
        self.state[Int(id)] = 1 | (self.initialFrequency << 8) | dirty
        return false
    }

    public func evict() -> Int32? {
        guard self.ring.count > 0 else { return nil }
        while true {
            // The pages the hand meets next are known: start loading their state.
            if self.ring.count > 8 { vmsim_prefetch(self.state.base + Int(self.ring.peek(8))) }
            let t = self.ring.popFront()
            let s = self.state[Int(t)]
            if s >> 8 != 0 {
                // A second chance: one count less, back at the head.
                self.ring.pushBack(t)
                self.state[Int(t)] = s &- 256
                continue
            }
            self.stats.evictions += 1
            if s & 2 != 0 { self.stats.dirtyEvictions += 1 }
            self.state[Int(t)] = 0
            return t
        }
    }
}

/// SIEVE (libCacheSim `Sieve.c`): a hit sets the page's visited bit; new pages join at the head;
/// the hand walks from the tail toward the head, clearing visited bits, and evicts the first
/// unvisited page, staying where it stopped for the next eviction.
public final class SievePolicy: ReplacementPolicy {
    let frames: Int
    /// Fields: prev, next, state (bit 0 resident, bit 1 visited, bit 2 dirty).
    @exclusivity(unchecked) var nodes = NodeTable(stride: 3, fills: [-1, -1, 0])
    @exclusivity(unchecked) var list = NodeList(link: 0)
    @exclusivity(unchecked) var hand: Int32 = -1
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) { self.frames = policyFrames(frames) }
    deinit { self.nodes.free() }
    public func prefetch(_ id: Int32) { self.nodes.prefetch(id) }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let w: Int32 = write ? 4 : 0
        let s = self.nodes[id, 2]
        if s != 0 {
            self.nodes[id, 2] = s | 2 | w
            return true
        }
        if self.list.count >= self.frames { _ = self.evict() }
        self.nodes.pushHead(id, &self.list)
        self.nodes[id, 2] = 1 | w
        return false
    }

    public func evict() -> Int32? {
        guard self.list.count > 0 else { return nil }
        var o = self.hand >= 0 ? self.hand : self.list.tail
        while true {
            let os = self.nodes[o, 2]
            if os & 2 == 0 { break }
            self.nodes[o, 2] = os & ~2
            let p = self.nodes.prev(o, self.list)
            o = p >= 0 ? p : self.list.tail
        }
        self.hand = self.nodes.prev(o, self.list)
        self.nodes.remove(o, &self.list)
        if self.nodes[o, 2] & 4 != 0 { self.stats.dirtyEvictions += 1 }
        self.nodes[o, 2] = 0
        self.stats.evictions += 1
        return o
    }
}

/// Random: a uniformly chosen resident page goes (seeded, so runs repeat exactly). libCacheSim's
/// random policy is seeded from the clock and picks through its hash table, so only the
/// statistics can agree with it.
public final class RandomPolicy: ReplacementPolicy {
    let frames: Int
    @exclusivity(unchecked) var residents: Slab<Int32>
    /// Position in `residents` + 1, or 0.
    @exclusivity(unchecked) var position: Slab<Int32>
    @exclusivity(unchecked) var dirty: DirtyBits
    @exclusivity(unchecked) var used = 0
    @exclusivity(unchecked) var rng: SeededGenerator
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        self.residents = Slab(count: slotsFor(limit: self.frames, seen: 0), fill: -1)
        self.position = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
        self.rng = SeededGenerator(seed: options.seed)
    }
    deinit {
        self.residents.free()
        self.position.free()
        self.dirty.free()
    }
    public func reserve(_ count: Int) {
        self.position.grow(to: count)
        self.dirty.grow(to: count)
        self.residents.grow(to: slotsFor(limit: self.frames, seen: count))
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        if self.position[Int(id)] != 0 { return true }
        var slot = self.used
        if self.used < self.frames {
            self.used += 1
        } else {
            slot = Int(self.rng.below(UInt64(self.frames)))
            let victim = self.residents[slot]
            self.position[Int(victim)] = 0
            self.stats.evictions += 1
            if self.dirty.evict(victim) { self.stats.dirtyEvictions += 1 }
        }
        self.residents[slot] = id
        self.position[Int(id)] = Int32(slot + 1)
        return false
    }

    /// A resident page at random leaves; the last resident takes its slot.
    public func evict() -> Int32? {
        guard self.used > 0 else { return nil }
        let slot = Int(self.rng.below(UInt64(self.used)))
        let victim = self.residents[slot]
        self.position[Int(victim)] = 0
        self.stats.evictions += 1
        if self.dirty.evict(victim) { self.stats.dirtyEvictions += 1 }
        self.used -= 1
        if slot != self.used {
            let moved = self.residents[self.used]
            self.residents[slot] = moved
            self.position[Int(moved)] = Int32(slot + 1)
        }
        return victim
    }
}
