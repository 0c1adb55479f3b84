/// An ordered map from keys to values, as a B-tree whose nodes hold up to 16 entries.
///
/// The VMA tree of an address space: Linux keeps VMAs in a maple tree (a B-tree of ranges with
/// nodes of 16 slots); vmsim keys each VMA by its start address, so "the VMA containing or
/// following an address" (`find_vma()`) is a floor/ceiling search in O(log n). Nodes live in
/// arrays indexed by node number; there is no object per node.
///
/// Deletion removes empty nodes but does not rebalance half-empty ones, so the height is that
/// of the largest size the tree has had: still logarithmic, and every leaf stays at the same
/// depth.
///
/// Each entry also carries a `gap` (0 unless set), and every internal node keeps the largest
/// gap below each child — the maple tree's `ma_gaps`, which lets `mas_empty_area_rev()` find the
/// highest free range of a size without visiting every VMA. The address space stores in each
/// VMA's entry the free space below that VMA, so `lastEntry(atOrBelow:gapAtLeast:)` is the
/// top-down search of `get_unmapped_area()` in O(log n).
public struct OrderedTree<Key: Comparable & Sendable, Value: Sendable>: Sendable {
    static var capacity: Int { 16 }

    struct Node: Sendable {
        var keys: [Key] = []
        /// Leaves: the values. Internal nodes: empty.
        var values: [Value] = []
        /// Leaves: each entry's gap. Internal nodes: the largest gap under each child.
        var gaps: [UInt64] = []
        /// Internal nodes: child node numbers; `keys[i]` is the smallest key under `children[i]`.
        var children: [Int] = []
        var isLeaf: Bool { self.children.isEmpty }
    }

    var nodes: [Node] = [Node()]
    var freeNodes: [Int] = []
    var root = 0
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { self.count == 0 }

    // MARK: Search

    /// Index of the last key ≤ `key` in a sorted array, or -1.
    static func floorIndex(_ keys: [Key], _ key: Key) -> Int {
        var lo = 0
        var hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if keys[mid] <= key { lo = mid + 1 } else { hi = mid }
        }
        return lo - 1
    }

    /// The leaf that would hold `key`, with the path of (node, child slot) taken to reach it.
    func descend(_ key: Key) -> (leaf: Int, path: [(Int, Int)]) {
        var node = self.root
        var path: [(Int, Int)] = []
        while !self.nodes[node].isLeaf {
            let slot = max(OrderedTree.floorIndex(self.nodes[node].keys, key), 0)
            path.append((node, slot))
            node = self.nodes[node].children[slot]
        }
        return (node, path)
    }

    /// The value stored under exactly `key`.
    public subscript(key: Key) -> Value? {
        let leaf = self.descend(key).leaf
        let i = OrderedTree.floorIndex(self.nodes[leaf].keys, key)
        return i >= 0 && self.nodes[leaf].keys[i] == key ? self.nodes[leaf].values[i] : nil
    }

    /// The entry with the greatest key ≤ `key`.
    public func floor(_ key: Key) -> (key: Key, value: Value)? {
        let (leaf, path) = self.descend(key)
        let i = OrderedTree.floorIndex(self.nodes[leaf].keys, key)
        if i >= 0 { return (self.nodes[leaf].keys[i], self.nodes[leaf].values[i]) }
        return self.neighbour(of: path, forward: false)
    }

    /// The entry with the smallest key > `key`.
    public func higher(_ key: Key) -> (key: Key, value: Value)? {
        let (leaf, path) = self.descend(key)
        let i = OrderedTree.floorIndex(self.nodes[leaf].keys, key) + 1
        if i < self.nodes[leaf].keys.count { return (self.nodes[leaf].keys[i], self.nodes[leaf].values[i]) }
        return self.neighbour(of: path, forward: true)
    }

    /// The entry with the smallest key ≥ `key`.
    public func ceiling(_ key: Key) -> (key: Key, value: Value)? {
        if let v = self[key] { return (key, v) }
        return self.higher(key)
    }

    /// The entry with the greatest key < `key`.
    public func lower(_ key: Key) -> (key: Key, value: Value)? {
        let (leaf, path) = self.descend(key)
        var i = OrderedTree.floorIndex(self.nodes[leaf].keys, key)
        if i >= 0 && self.nodes[leaf].keys[i] == key { i -= 1 }
        if i >= 0 { return (self.nodes[leaf].keys[i], self.nodes[leaf].values[i]) }
        return self.neighbour(of: path, forward: false)
    }

    /// The first entry of the leaf after (or the last of the leaf before) the one at the end of
    /// `path`.
    func neighbour(of path: [(Int, Int)], forward: Bool) -> (key: Key, value: Value)? {
        var level = path.count - 1
        while level >= 0 {
            let (node, slot) = path[level]
            let next = forward ? slot + 1 : slot - 1
            if next >= 0 && next < self.nodes[node].children.count {
                var n = self.nodes[node].children[next]
                while !self.nodes[n].isLeaf {
                    n = forward ? self.nodes[n].children.first! : self.nodes[n].children.last!
                }
                if self.nodes[n].keys.isEmpty { return nil }
                let i = forward ? 0 : self.nodes[n].keys.count - 1
                return (self.nodes[n].keys[i], self.nodes[n].values[i])
            }
            level -= 1
        }
        return nil
    }

    public var first: (key: Key, value: Value)? {
        var n = self.root
        while !self.nodes[n].isLeaf { n = self.nodes[n].children.first! }
        return self.nodes[n].keys.isEmpty ? nil : (self.nodes[n].keys[0], self.nodes[n].values[0])
    }

    public var last: (key: Key, value: Value)? {
        var n = self.root
        while !self.nodes[n].isLeaf { n = self.nodes[n].children.last! }
        return self.nodes[n].keys.isEmpty ? nil : (self.nodes[n].keys.last!, self.nodes[n].values.last!)
    }

    /// All entries in key order.
    public var entries: [(key: Key, value: Value)] {
        var result: [(key: Key, value: Value)] = []
        result.reserveCapacity(self.count)
        func walk(_ n: Int) {
            if self.nodes[n].isLeaf {
                for i in self.nodes[n].keys.indices {
                    result.append((self.nodes[n].keys[i], self.nodes[n].values[i]))
                }
            } else {
                for c in self.nodes[n].children { walk(c) }
            }
        }
        walk(self.root)
        return result
    }

    /// Entries with keys in `range`, in order.
    public func entries(in range: Range<Key>) -> [(key: Key, value: Value)] {
        var result: [(key: Key, value: Value)] = []
        var cursor = self.ceiling(range.lowerBound)
        while let entry = cursor, entry.key < range.upperBound {
            result.append(entry)
            cursor = self.higher(entry.key)
        }
        return result
    }

    // MARK: Gaps

    /// The largest gap in node `n` (its entries' or its children's).
    func maxGap(_ n: Int) -> UInt64 { self.nodes[n].gaps.max() ?? 0 }

    /// Recomputes the children's largest gaps along `path`, bottom-up, ending at `leaf`.
    mutating func refreshGaps(_ path: [(Int, Int)], leaf: Int) {
        var child = leaf
        for (node, slot) in path.reversed() {
            self.nodes[node].gaps[slot] = self.maxGap(child)
            child = node
        }
    }

    /// The gap stored with `key`, or nil when the key is absent.
    public func gap(_ key: Key) -> UInt64? {
        let leaf = self.descend(key).leaf
        let i = OrderedTree.floorIndex(self.nodes[leaf].keys, key)
        return i >= 0 && self.nodes[leaf].keys[i] == key ? self.nodes[leaf].gaps[i] : nil
    }

    /// Sets the gap of the entry under `key` (which must exist). O(log n).
    public mutating func setGap(_ key: Key, _ gap: UInt64) {
        let (leaf, path) = self.descend(key)
        let i = OrderedTree.floorIndex(self.nodes[leaf].keys, key)
        precondition(i >= 0 && self.nodes[leaf].keys[i] == key, "OrderedTree.setGap: no entry for \(key)")
        guard self.nodes[leaf].gaps[i] != gap else { return }
        self.nodes[leaf].gaps[i] = gap
        self.refreshGaps(path, leaf: leaf)
    }

    /// The entry with the greatest key ≤ `bound` whose gap is at least `size`. O(log n): only
    /// the child holding `bound` can hold a large gap above it, so at most two children are
    /// searched on each level.
    public func lastEntry(atOrBelow bound: Key, gapAtLeast size: UInt64) -> (key: Key, value: Value)? {
        func search(_ n: Int) -> (key: Key, value: Value)? {
            let node = self.nodes[n]
            var i = OrderedTree.floorIndex(node.keys, bound)
            if node.isLeaf {
                while i >= 0 {
                    if node.gaps[i] >= size { return (node.keys[i], node.values[i]) }
                    i -= 1
                }
                return nil
            }
            // keys[i] is the smallest key under children[i]; children past i lie above bound.
            while i >= 0 {
                if node.gaps[i] >= size, let found = search(node.children[i]) { return found }
                i -= 1
            }
            return nil
        }
        return search(self.root)
    }

    // MARK: Update

    mutating func newNode(_ node: Node) -> Int {
        if let n = self.freeNodes.popLast() {
            self.nodes[n] = node
            return n
        }
        self.nodes.append(node)
        return self.nodes.count - 1
    }

    /// Stores `value` under `key` with `gap`, replacing any entry already there.
    public mutating func insert(_ key: Key, _ value: Value, gap: UInt64 = 0) {
        let (leaf, path) = self.descend(key)
        let i = OrderedTree.floorIndex(self.nodes[leaf].keys, key)
        if i >= 0 && self.nodes[leaf].keys[i] == key {
            self.nodes[leaf].values[i] = value
            self.nodes[leaf].gaps[i] = gap
            self.refreshGaps(path, leaf: leaf)
            return
        }
        self.nodes[leaf].keys.insert(key, at: i + 1)
        self.nodes[leaf].values.insert(value, at: i + 1)
        self.nodes[leaf].gaps.insert(gap, at: i + 1)
        self.count += 1
        // A new smallest key must become the separator on the way down.
        if i + 1 == 0 {
            for (node, slot) in path {
                if self.nodes[node].keys[slot] > key { self.nodes[node].keys[slot] = key }
            }
        }
        if self.nodes[leaf].keys.count > OrderedTree.capacity {
            self.splitIfNeeded(leaf, path: path)
            // Splits set the gaps of the nodes they made; the ancestors above are redone.
            let (newLeaf, newPath) = self.descend(key)
            self.refreshGaps(newPath, leaf: newLeaf)
        } else {
            self.refreshGaps(path, leaf: leaf)
        }
    }

    mutating func splitIfNeeded(_ node: Int, path: [(Int, Int)]) {
        guard self.nodes[node].keys.count > OrderedTree.capacity else { return }
        let half = self.nodes[node].keys.count / 2
        var right = Node()
        right.keys = Array(self.nodes[node].keys[half...])
        self.nodes[node].keys.removeSubrange(half...)
        right.gaps = Array(self.nodes[node].gaps[half...])
        self.nodes[node].gaps.removeSubrange(half...)
        if self.nodes[node].isLeaf {
            right.values = Array(self.nodes[node].values[half...])
            self.nodes[node].values.removeSubrange(half...)
        } else {
            right.children = Array(self.nodes[node].children[half...])
            self.nodes[node].children.removeSubrange(half...)
        }
        let separator = right.keys[0]
        let rightGap = right.gaps.max() ?? 0
        let r = self.newNode(right)
        if let (parent, slot) = path.last {
            self.nodes[parent].keys.insert(separator, at: slot + 1)
            self.nodes[parent].children.insert(r, at: slot + 1)
            self.nodes[parent].gaps[slot] = self.maxGap(node)
            self.nodes[parent].gaps.insert(rightGap, at: slot + 1)
            self.splitIfNeeded(parent, path: Array(path.dropLast()))
        } else {
            var newRoot = Node()
            newRoot.keys = [self.nodes[node].keys[0], separator]
            newRoot.children = [node, r]
            newRoot.gaps = [self.maxGap(node), rightGap]
            self.root = self.newNode(newRoot)
        }
    }

    /// Removes the entry under `key`; returns its value.
    @discardableResult
    public mutating func remove(_ key: Key) -> Value? {
        let (leaf, path) = self.descend(key)
        let i = OrderedTree.floorIndex(self.nodes[leaf].keys, key)
        guard i >= 0 && self.nodes[leaf].keys[i] == key else { return nil }
        self.nodes[leaf].keys.remove(at: i)
        self.nodes[leaf].gaps.remove(at: i)
        let value = self.nodes[leaf].values.remove(at: i)
        self.count -= 1
        var node = leaf
        var level = path.count - 1
        // Drop nodes that became empty; keep separators equal to each child's smallest key.
        while level >= 0 {
            let (parent, slot) = path[level]
            if self.nodes[node].keys.isEmpty {
                self.nodes[parent].keys.remove(at: slot)
                self.nodes[parent].children.remove(at: slot)
                self.nodes[parent].gaps.remove(at: slot)
                self.nodes[node] = Node()
                self.freeNodes.append(node)
            } else {
                self.nodes[parent].keys[slot] = self.nodes[node].keys[0]
                self.nodes[parent].gaps[slot] = self.maxGap(node)
            }
            node = parent
            level -= 1
        }
        while !self.nodes[self.root].isLeaf && self.nodes[self.root].children.count == 1 {
            let only = self.nodes[self.root].children[0]
            self.nodes[self.root] = Node()
            self.freeNodes.append(self.root)
            self.root = only
        }
        if !self.nodes[self.root].isLeaf && self.nodes[self.root].children.isEmpty {
            self.nodes[self.root] = Node()
        }
        return value
    }

    /// Depth of the tree (1 for a single leaf), for tests.
    public var height: Int {
        var h = 1
        var n = self.root
        while !self.nodes[n].isLeaf {
            n = self.nodes[n].children[0]
            h += 1
        }
        return h
    }
}
