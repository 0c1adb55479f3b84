import VMTypes

/// FIFO (libCacheSim `FIFO.c`): a hit changes nothing; the oldest inserted page goes. A ring of
/// the resident pages in insertion order.
public final class FIFOPolicy: ReplacementPolicy {
    let frames: Int
    @exclusivity(unchecked) var ring: Slab<Int32>
    @exclusivity(unchecked) var resident: Slab<UInt8>
    @exclusivity(unchecked) var dirty: DirtyBits
    @exclusivity(unchecked) var used = 0
    @exclusivity(unchecked) var hand = 0
    public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = max(frames, 1)
        self.ring = Slab(count: self.frames, fill: -1)
        self.resident = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
    }
    deinit {
        self.ring.free()
        self.resident.free()
        self.dirty.free()
    }
    public func touch(_ id: Int32) -> UInt8 { self.resident[Int(id)] }
    public func reserve(_ count: Int) {
        self.resident.grow(to: count)
        self.dirty.grow(to: count)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        if self.resident[Int(id)] != 0 { return true }
        if self.used < self.frames {
            self.ring[self.used] = id
            self.used += 1
        } else {
            let victim = self.ring[self.hand]
            self.resident[Int(victim)] = 0
            self.stats.evictions += 1
            if self.dirty.evict(victim) { self.stats.dirtyEvictions += 1 }
            self.ring[self.hand] = id
            self.hand += 1
            if self.hand == self.frames { self.hand = 0 }
        }
        self.resident[Int(id)] = 1
        return false
    }
}

/// LRU (libCacheSim `LRU.c`): a hit moves the page to the head; the tail goes.
///
/// Kept as a lazy queue rather than a linked list: every access appends the page at the back
/// and records that slot as the page's position; eviction pops from the front, skipping slots a
/// later access made stale. The order of valid slots is exactly the LRU list's, but an access
/// touches one page's state instead of three neighbours', which is what limits speed when the
/// pages do not fit in the CPU's caches. The queue holds at most 2 × frames + 64 slots: when
/// full, its valid slots (at most `frames`) are compacted to the front.
public final class LRUPolicy: ReplacementPolicy {
    let frames: Int
    @exclusivity(unchecked) var queue: LazyQueue
    /// Slot + 1 of each resident page's latest access, 0 if not resident.
    @exclusivity(unchecked) var slot: Slab<UInt32>
    @exclusivity(unchecked) var dirty: DirtyBits
    @exclusivity(unchecked) var resident = 0
    public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = max(frames, 1)
        self.queue = LazyQueue(capacity: 2 * self.frames + 64)
        self.slot = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
    }
    deinit {
        self.queue.free()
        self.slot.free()
        self.dirty.free()
    }
    public func touch(_ id: Int32) -> UInt8 { 0 }
    public func reserve(_ count: Int) {
        self.slot.grow(to: count)
        self.dirty.grow(to: count)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        let hit = self.slot[Int(id)] != 0
        if !hit {
            if self.resident >= self.frames {
                let victim = self.queue.popValid(self.slot)
                self.slot[Int(victim)] = 0
                self.stats.evictions += 1
                if self.dirty.evict(victim) { self.stats.dirtyEvictions += 1 }
            } else {
                self.resident += 1
            }
        }
        self.queue.append(id, self.slot)
        return hit
    }
}

/// A queue of ids whose valid slots are those `slot[id]` (slot + 1) still points at: the
/// building block of the lazy LRU lists.
@usableFromInline
struct LazyQueue {
    @usableFromInline var items: Slab<Int32>
    @usableFromInline var front = 0
    @usableFromInline var back = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        self.items = Slab(count: capacity, fill: -1)
    }

    func free() { self.items.free() }

    /// Appends `id` and points `slot[id]` at it (compacting first when full).
    @inline(__always) mutating func append(_ id: Int32, _ slot: Slab<UInt32>) {
        if self.back == self.capacity { self.compact(slot) }
        self.items[self.back] = id
        self.back += 1
        slot[Int(id)] = UInt32(truncatingIfNeeded: self.back)
    }

    /// Removes and returns the oldest valid id (there must be one).
    @inline(__always) mutating func popValid(_ slot: Slab<UInt32>) -> Int32 {
        while true {
            let id = self.items[self.front]
            self.front += 1
            if slot[Int(id)] == UInt32(truncatingIfNeeded: self.front) { return id }
        }
    }

    /// Moves the valid slots to the front, in order.
    mutating func compact(_ slot: Slab<UInt32>) {
        var out = 0
        for i in self.front..<self.back {
            let id = self.items[i]
            if slot[Int(id)] == UInt32(truncatingIfNeeded: i + 1) {
                self.items[out] = id
                out += 1
                slot[Int(id)] = UInt32(truncatingIfNeeded: out)
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
    @exclusivity(unchecked) var links: LinkedLists
    @exclusivity(unchecked) var list = ListHead()
    @exclusivity(unchecked) var resident: Slab<UInt8>
    @exclusivity(unchecked) var dirty: DirtyBits
    public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = max(frames, 1)
        self.links = LinkedLists(capacity: 1024)
        self.resident = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
    }
    deinit {
        self.links.free()
        self.resident.free()
        self.dirty.free()
    }
    public func reserve(_ count: Int) {
        self.links.grow(to: count)
        self.resident.grow(to: count)
        self.dirty.grow(to: count)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        if self.resident[Int(id)] != 0 {
            self.links.moveToHead(id, &self.list)
            return true
        }
        if self.list.count >= self.frames {
            let victim = self.list.head
            self.links.remove(victim, &self.list)
            self.resident[Int(victim)] = 0
            self.stats.evictions += 1
            if self.dirty.evict(victim) { self.stats.dirtyEvictions += 1 }
        }
        self.links.pushHead(id, &self.list)
        self.resident[Int(id)] = 1
        return false
    }
}

/// CLOCK, n-bit (libCacheSim `Clock.c`, the same as FIFO-reinsertion and second chance): a hit
/// raises the page's counter up to 2^n − 1; to evict, the hand at the oldest page decrements
/// and passes (re-inserting at the head) every page whose counter is not zero. Kept as a ring:
/// passing the hand is exactly moving the tail to the head.
public final class ClockPolicy: ReplacementPolicy {
    let frames: Int
    let maxFrequency: UInt8
    let initialFrequency: UInt8
    @exclusivity(unchecked) var ring: Slab<Int32>
    /// Counter + 1 for resident pages, 0 for others.
    @exclusivity(unchecked) var state: Slab<UInt8>
    @exclusivity(unchecked) var dirty: DirtyBits
    @exclusivity(unchecked) var used = 0
    @exclusivity(unchecked) var hand = 0
    public private(set) var stats = PolicyStats()

    public convenience init(frames: Int, options: PolicyOptions) {
        self.init(frames: frames, bits: 1, initialFrequency: 0)
    }

    public init(frames: Int, bits: Int, initialFrequency: Int) {
        self.frames = max(frames, 1)
        self.maxFrequency = UInt8((1 << min(bits, 7)) - 1)
        self.initialFrequency = UInt8(min(initialFrequency, 200))
        self.ring = Slab(count: self.frames, fill: -1)
        self.state = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
    }
    deinit {
        self.ring.free()
        self.state.free()
        self.dirty.free()
    }
    public func touch(_ id: Int32) -> UInt8 { self.state[Int(id)] }
    public func reserve(_ count: Int) {
        self.state.grow(to: count)
        self.dirty.grow(to: count)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        let s = self.state[Int(id)]
        if s != 0 {
            if s - 1 < self.maxFrequency { self.state[Int(id)] = s + 1 }
            return true
        }
        if self.used < self.frames {
            self.ring[self.used] = id
            self.used += 1
        } else {
            while true {
                let candidate = self.ring[self.hand]
                let c = self.state[Int(candidate)]
                if c <= 1 { break }
                self.state[Int(candidate)] = c - 1
                self.hand += 1
                if self.hand == self.frames { self.hand = 0 }
            }
            let victim = self.ring[self.hand]
            self.state[Int(victim)] = 0
            self.stats.evictions += 1
            if self.dirty.evict(victim) { self.stats.dirtyEvictions += 1 }
            self.ring[self.hand] = id
            self.hand += 1
            if self.hand == self.frames { self.hand = 0 }
        }
        self.state[Int(id)] = self.initialFrequency + 1
        return false
    }
}

/// SIEVE (libCacheSim `Sieve.c`): a hit sets the page's visited bit; new pages join at the head;
/// the hand walks from the tail toward the head, clearing visited bits, and evicts the first
/// unvisited page, staying where it stopped for the next eviction.
public final class SievePolicy: ReplacementPolicy {
    let frames: Int
    @exclusivity(unchecked) var links: LinkedLists
    @exclusivity(unchecked) var list = ListHead()
    /// 0 not resident, 1 resident, 2 resident and visited.
    @exclusivity(unchecked) var state: Slab<UInt8>
    @exclusivity(unchecked) var dirty: DirtyBits
    @exclusivity(unchecked) var hand: Int32 = -1
    public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = max(frames, 1)
        self.links = LinkedLists(capacity: 1024)
        self.state = Slab(count: 1024, fill: 0)
        self.dirty = DirtyBits(capacity: 1024)
    }
    deinit {
        self.links.free()
        self.state.free()
        self.dirty.free()
    }
    public func touch(_ id: Int32) -> UInt8 {
        self.state[Int(id)] &+ UInt8(truncatingIfNeeded: self.links.prev[Int(id)])
    }
    public func reserve(_ count: Int) {
        self.links.grow(to: count)
        self.state.grow(to: count)
        self.dirty.grow(to: count)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        if write { self.dirty.mark(id) }
        let s = self.state[Int(id)]
        if s != 0 {
            self.state[Int(id)] = 2
            return true
        }
        if self.list.count >= self.frames {
            var o = self.hand >= 0 ? self.hand : self.list.tail
            while self.state[Int(o)] == 2 {
                self.state[Int(o)] = 1
                let p = self.links.prev[Int(o)]
                o = p >= 0 ? p : self.list.tail
            }
            self.hand = self.links.prev[Int(o)]
            self.links.remove(o, &self.list)
            self.state[Int(o)] = 0
            self.stats.evictions += 1
            if self.dirty.evict(o) { self.stats.dirtyEvictions += 1 }
        }
        self.links.pushHead(id, &self.list)
        self.state[Int(id)] = 1
        return false
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
    public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = max(frames, 1)
        self.residents = Slab(count: self.frames, fill: -1)
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
}
