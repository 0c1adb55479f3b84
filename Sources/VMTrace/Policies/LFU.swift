/// LFU (libCacheSim `LFU.c`): a page's count starts at 1 when it is loaded and rises by one per
/// hit; the page with the smallest count goes, and among equals the one whose last access is
/// oldest (libCacheSim appends a page to its count's bucket on every access and evicts from the
/// bucket's front). Counts are forgotten on eviction.
///
/// O(1) per access: the buckets are a doubly linked list sorted by count (a hit moves a page to
/// the bucket right after its own, creating it if needed), each bucket a list of its pages.
public final class LFUPolicy: ReplacementPolicy {
    let frames: Int
    /// Fields: prev, next (within the bucket), the page's bucket (-1 if not resident), dirty.
    @exclusivity(unchecked) var nodes = NodeTable(stride: 4, fills: [-1, -1, -1, 0])
    // Buckets, by index into these slabs (at most one per resident page, plus one).
    @exclusivity(unchecked) var count: Slab<Int64>
    @exclusivity(unchecked) var pages: Slab<NodeList>
    @exclusivity(unchecked) var bucketPrev: Slab<Int32>
    @exclusivity(unchecked) var bucketNext: Slab<Int32>
    @exclusivity(unchecked) var freeBuckets: [Int32] = []
    /// The bucket with the smallest count.
    @exclusivity(unchecked) var first: Int32 = -1
    @exclusivity(unchecked) var used = 0
    @exclusivity(unchecked) public private(set) var stats = PolicyStats()

    public init(frames: Int, options: PolicyOptions) {
        self.frames = policyFrames(frames)
        // Buckets grow on demand (`makeBucket`); start with room for the first pages.
        let buckets = min(self.frames, 1024) + 1
        self.count = Slab(count: buckets, fill: 0)
        self.pages = Slab(count: buckets, fill: NodeList(link: 0))
        self.bucketPrev = Slab(count: buckets, fill: -1)
        self.bucketNext = Slab(count: buckets, fill: -1)
        self.freeBuckets = (0..<Int32(buckets)).reversed()
    }
    deinit {
        self.nodes.free()
        self.count.free()
        self.pages.free()
        self.bucketPrev.free()
        self.bucketNext.free()
    }
    public func prefetch(_ id: Int32) { self.nodes.prefetch(id) }
    public func reserve(_ count: Int) { self.nodes.grow(to: count) }

    /// A new bucket for `count` linked after `after` (or first when -1).
    @inline(__always) func makeBucket(_ count: Int64, after: Int32) -> Int32 {
        if self.freeBuckets.isEmpty {
            let n = self.count.count
            self.count.grow(to: n + 1)
            self.pages.grow(to: n + 1)
            self.bucketPrev.grow(to: n + 1)
            self.bucketNext.grow(to: n + 1)
            self.freeBuckets = (Int32(n)..<Int32(self.count.count)).reversed()
        }
        let b = self.freeBuckets.removeLast()
        self.count[Int(b)] = count
        self.pages[Int(b)] = NodeList(link: 0)
        self.bucketPrev[Int(b)] = after
        let next = after >= 0 ? self.bucketNext[Int(after)] : self.first
        self.bucketNext[Int(b)] = next
        if next >= 0 { self.bucketPrev[Int(next)] = b }
        if after >= 0 { self.bucketNext[Int(after)] = b } else { self.first = b }
        return b
    }

    @inline(__always) func dropBucket(_ b: Int32) {
        let p = self.bucketPrev[Int(b)]
        let n = self.bucketNext[Int(b)]
        if p >= 0 { self.bucketNext[Int(p)] = n } else { self.first = n }
        if n >= 0 { self.bucketPrev[Int(n)] = p }
        self.freeBuckets.append(b)
    }

    public func access(_ id: Int32, write: Bool, next: Int64) -> Bool {
        let b = self.nodes[id, 2]
        if write { self.nodes[id, 3] = 1 }
        if b >= 0 {
            let c = self.count[Int(b)] + 1
            var nb = self.bucketNext[Int(b)]
            if nb < 0 || self.count[Int(nb)] != c { nb = self.makeBucket(c, after: b) }
            self.nodes.remove(id, &self.pages[Int(b)])
            self.nodes.pushHead(id, &self.pages[Int(nb)])
            self.nodes[id, 2] = nb
            if self.pages[Int(b)].count == 0 { self.dropBucket(b) }
            return true
        }
        if self.used >= self.frames {
            self.evictOne()
        } else {
            self.used += 1
        }
        var f = self.first
        if f < 0 || self.count[Int(f)] != 1 { f = self.makeBucket(1, after: -1) }
        self.nodes.pushHead(id, &self.pages[Int(f)])
        self.nodes[id, 2] = f
        return false
    }

    /// An eviction asked from outside.
    public func evict() -> Int32? {
        guard self.used > 0 else { return nil }
        self.used -= 1
        return self.evictOne()
    }

    @discardableResult func evictOne() -> Int32 {
        let b = self.first
        let victim = self.nodes.popTail(&self.pages[Int(b)])
        if self.pages[Int(b)].count == 0 { self.dropBucket(b) }
        self.nodes[victim, 2] = -1
        self.stats.evictions += 1
        if self.nodes[victim, 3] != 0 { self.stats.dirtyEvictions += 1 }
        self.nodes[victim, 3] = 0
        return victim
    }
}
