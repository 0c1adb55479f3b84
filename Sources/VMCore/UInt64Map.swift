/// A map from 64-bit keys (swap entries, cluster indices) to 32-bit values (PFNs, chunk
/// numbers) for the swap paths, which look one up on every slot operation: open addressing with
/// linear probing and a multiplicative (Fibonacci) hash, at most half full, deleted from by
/// shifting entries back (no tombstones); the last lookup is remembered, as swap work walks one
/// region at a time. A `Dictionary` runs SipHash on each lookup instead — 14% of reclaim's
/// time before these tables.
struct UInt64Map {
    private var keys: [UInt64]
    private var values: [UInt32]
    private var mask: Int
    private var shift: UInt64
    /// Keys held.
    private(set) var count = 0
    /// The last key found and its value.
    private var lastKey = UInt64.max
    private var lastValue: UInt32 = 0
    /// `UInt64.max` marks an empty slot, so it cannot be a key.
    private static let empty = UInt64.max

    init() {
        self.keys = Array(repeating: Self.empty, count: 16)
        self.values = Array(repeating: 0, count: 16)
        self.mask = 15
        self.shift = 60
    }

    @inline(__always) private func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> self.shift)
    }

    /// The value of `key`, if held.
    @inline(__always) mutating func get(_ key: UInt64) -> UInt32? {
        if key == self.lastKey { return self.lastValue }
        var i = self.home(key)
        while true {
            let k = self.keys[i]
            if k == key { break }
            if k == Self.empty { return nil }
            i = (i &+ 1) & self.mask
        }
        self.lastKey = key
        self.lastValue = self.values[i]
        return self.lastValue
    }

    /// The value of `key`, if held (without remembering it).
    func find(_ key: UInt64) -> UInt32? {
        var i = self.home(key)
        while true {
            let k = self.keys[i]
            if k == key { return self.values[i] }
            if k == Self.empty { return nil }
            i = (i &+ 1) & self.mask
        }
    }

    /// Sets `key` (new or not) to `value`.
    mutating func set(_ key: UInt64, _ value: UInt32) {
        precondition(key != Self.empty, "UInt64Map: key 2^64 - 1 is reserved")
        var i = self.home(key)
        while self.keys[i] != key && self.keys[i] != Self.empty { i = (i &+ 1) & self.mask }
        if self.keys[i] == Self.empty {
            if (self.count + 1) * 2 > self.keys.count {
                self.grow()
                return self.set(key, value)
            }
            self.keys[i] = key
            self.count += 1
        }
        self.values[i] = value
        self.lastKey = key
        self.lastValue = value
    }

    /// Removes `key`; false if it was not held.
    @discardableResult mutating func remove(_ key: UInt64) -> Bool {
        var i = self.home(key)
        while self.keys[i] != key {
            if self.keys[i] == Self.empty { return false }
            i = (i &+ 1) & self.mask
        }
        // Backward-shift deletion: move later entries of the probe run into the hole when their
        // home is at or before it (cyclically).
        var hole = i
        var j = i
        while true {
            j = (j &+ 1) & self.mask
            let k = self.keys[j]
            if k == Self.empty { break }
            let h = self.home(k)
            let movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j)
            if movable {
                self.keys[hole] = k
                self.values[hole] = self.values[j]
                hole = j
            }
        }
        self.keys[hole] = Self.empty
        self.count -= 1
        if key == self.lastKey { self.lastKey = Self.empty }
        return true
    }

    private mutating func grow() {
        let old = zip(self.keys, self.values).filter { $0.0 != Self.empty }
        let size = self.keys.count * 2
        self.keys = Array(repeating: Self.empty, count: size)
        self.values = Array(repeating: 0, count: size)
        self.mask = size - 1
        self.shift = UInt64(64 - size.trailingZeroBitCount)
        self.count = 0
        self.lastKey = Self.empty
        for (k, v) in old { self.set(k, v) }
    }

    /// Every key and value, in key order (reports and the invariant checker).
    var entries: [(key: UInt64, value: UInt32)] {
        zip(self.keys, self.values).filter { $0.0 != Self.empty }.map { ($0.0, $0.1) }.sorted {
            $0.key < $1.key
        }
    }
}
