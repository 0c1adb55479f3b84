import VMTypes

/// The page cache index of one file (`struct address_space::i_pages`, an XArray): page offset →
/// frame, held in 64-slot nodes as the kernel's radix tree holds them.
///
/// Leaf nodes are kept in a dictionary by `index >> 6` (with the last one used remembered, so
/// sequential access does not hash); the interior nodes are not materialised, only counted:
/// `nodeCount` is exactly how many `xa_node`s (`radix_tree_node` slab objects) Linux's tree
/// would have for the same offsets — one per 64-slot group at each level below the root, with
/// the height set by the largest offset and a lone entry at offset 0 needing no node.
public final class PageCacheIndex: Sequence {
    static let shift: UInt64 = 6
    static let fanout = 64

    /// A leaf node: 64 slots holding `PFN.rawValue + 1` (0 = empty).
    final class Leaf {
        let slots: UnsafeMutablePointer<UInt32>
        var count = 0
        init() {
            self.slots = .allocate(capacity: PageCacheIndex.fanout)
            self.slots.initialize(repeating: 0, count: PageCacheIndex.fanout)
        }
        deinit { self.slots.deallocate() }
    }

    @exclusivity(unchecked) var leaves: [UInt64: Leaf] = [:]
    @exclusivity(unchecked) var lastKey: UInt64 = .max
    @exclusivity(unchecked) var lastLeaf: Leaf?
    /// Pages cached.
    public private(set) var count = 0
    /// `parents[j][prefix]`: how many nodes of level j (0 = leaves) sit under the level j+1 node
    /// `prefix`.
    var parents: [[UInt64: Int]] = Array(repeating: [:], count: 11)
    /// The largest offset present.
    public private(set) var maxIndex: UInt64 = 0

    public init() {}

    public var isEmpty: Bool { self.count == 0 }

    @inline(__always) func leaf(_ key: UInt64) -> Leaf? {
        if key == self.lastKey { return self.lastLeaf }
        let leaf = self.leaves[key]
        if leaf != nil {
            self.lastKey = key
            self.lastLeaf = leaf
        }
        return leaf
    }

    public subscript(index: UInt64) -> PFN? {
        get {
            guard let leaf = self.leaf(index >> PageCacheIndex.shift) else { return nil }
            let raw = leaf.slots[Int(index & 63)]
            return raw == 0 ? nil : PFN(rawValue: UInt64(raw - 1))
        }
        set {
            let key = index >> PageCacheIndex.shift
            let slot = Int(index & 63)
            if let pfn = newValue {
                precondition(pfn.rawValue < UInt64(UInt32.max), "PageCacheIndex: \(pfn) out of range")
                let leaf: Leaf
                if let existing = self.leaf(key) {
                    leaf = existing
                } else {
                    leaf = Leaf()
                    self.leaves[key] = leaf
                    self.lastKey = key
                    self.lastLeaf = leaf
                    self.addNode(key)
                }
                if leaf.slots[slot] == 0 {
                    leaf.count += 1
                    self.count += 1
                    if index > self.maxIndex || self.count == 1 { self.maxIndex = index }
                }
                leaf.slots[slot] = UInt32(pfn.rawValue + 1)
            } else {
                guard let leaf = self.leaf(key), leaf.slots[slot] != 0 else { return }
                leaf.slots[slot] = 0
                leaf.count -= 1
                self.count -= 1
                if leaf.count == 0 {
                    self.leaves[key] = nil
                    if self.lastKey == key {
                        self.lastKey = .max
                        self.lastLeaf = nil
                    }
                    self.removeNode(key)
                }
                if index == self.maxIndex { self.recomputeMax() }
            }
        }
    }

    func addNode(_ key: UInt64) {
        var child = key
        for level in 0..<self.parents.count {
            let parent = child >> PageCacheIndex.shift
            let n = self.parents[level][parent, default: 0]
            self.parents[level][parent] = n + 1
            if n > 0 { return }  // the parent already existed
            child = parent
        }
    }

    func removeNode(_ key: UInt64) {
        var child = key
        for level in 0..<self.parents.count {
            let parent = child >> PageCacheIndex.shift
            let n = self.parents[level][parent]! - 1
            if n > 0 {
                self.parents[level][parent] = n
                return
            }
            self.parents[level][parent] = nil
            child = parent
        }
    }

    func recomputeMax() {
        guard self.count > 0, let key = self.leaves.keys.max(), let leaf = self.leaves[key] else {
            self.maxIndex = 0
            return
        }
        var slot = 63
        while leaf.slots[slot] == 0 { slot -= 1 }
        self.maxIndex = key << PageCacheIndex.shift | UInt64(slot)
    }

    /// The `xa_node`s Linux's tree would hold for these offsets.
    public var nodeCount: Int {
        guard self.count > 0, self.maxIndex > 0 else { return 0 }
        var height = 0
        var x = self.maxIndex
        while x > 0 {
            height += 1
            x >>= PageCacheIndex.shift
        }
        var nodes = self.leaves.count
        for level in 0..<(height - 1) { nodes += self.parents[level].count }
        return nodes
    }

    /// Offsets present, ascending.
    public var keys: [UInt64] {
        var result: [UInt64] = []
        result.reserveCapacity(self.count)
        for (index, _) in self { result.append(index) }
        return result
    }

    /// Frames, by ascending offset.
    public var values: [PFN] {
        var result: [PFN] = []
        result.reserveCapacity(self.count)
        for (_, pfn) in self { result.append(pfn) }
        return result
    }

    /// (offset, frame) pairs by ascending offset.
    public func makeIterator() -> IndexingIterator<[(key: UInt64, value: PFN)]> {
        var result: [(key: UInt64, value: PFN)] = []
        result.reserveCapacity(self.count)
        for key in self.leaves.keys.sorted() {
            let leaf = self.leaves[key]!
            for slot in 0..<PageCacheIndex.fanout where leaf.slots[slot] != 0 {
                result.append(
                    (key << PageCacheIndex.shift | UInt64(slot), PFN(rawValue: UInt64(leaf.slots[slot] - 1))))
            }
        }
        return result.makeIterator()
    }
}
