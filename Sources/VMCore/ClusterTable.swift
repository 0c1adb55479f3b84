/// The swap clusters that have a slot in use, by cluster index: a map from index to a chunk of
/// flat storage holding the cluster's 512 `swap_map` counts and the disk words of its slots
/// (Linux allocates `swap_map` and `cluster_info` whole at swapon; vmsim keeps only the clusters
/// in use, so a swap area of any size costs nothing while idle — see `SwapArea`).
///
/// The map is open addressing with linear probing and a multiplicative hash, deleted from by
/// shifting entries back (no tombstones), at most half full; the last lookup is remembered, as
/// slot allocation and I/O completion walk one cluster at a time. Hashing a slot's cluster this
/// way costs a multiply; the `Dictionary` it replaces ran SipHash on every swap-map access (14%
/// of reclaim's time).
struct ClusterTable {
    static let clusterSize = 512
    /// Cluster indices (`empty` where unused) and their chunks.
    private var keys: [Int]
    private var chunks: [Int32]
    private var mask: Int
    private var shift: Int
    /// Clusters held.
    private(set) var count = 0
    /// Per chunk: `swap_map` counts, disk words; the number of slots in use; chunks free.
    private(set) var maps: [UInt32] = []
    private(set) var disk: [UInt64] = []
    private(set) var used: [Int32] = []
    private var freeChunks: [Int32] = []
    /// The last cluster looked up and its chunk (-1: none).
    private var lastCluster = -1
    private var lastChunk: Int32 = -1
    private static let empty = -1

    init() {
        self.keys = Array(repeating: Self.empty, count: 16)
        self.chunks = Array(repeating: -1, count: 16)
        self.mask = 15
        self.shift = 64 - 4
    }

    @inline(__always) private func home(_ cluster: Int) -> Int {
        Int(
            truncatingIfNeeded: (UInt64(truncatingIfNeeded: cluster) &* 0x9E37_79B9_7F4A_7C15)
                &>> UInt64(self.shift))
    }

    /// The chunk of `cluster`, or -1.
    @inline(__always) mutating func chunk(_ cluster: Int) -> Int32 {
        if cluster == self.lastCluster { return self.lastChunk }
        var i = self.home(cluster)
        while true {
            let k = self.keys[i]
            if k == cluster { break }
            if k == Self.empty { return -1 }
            i = (i &+ 1) & self.mask
        }
        self.lastCluster = cluster
        self.lastChunk = self.chunks[i]
        return self.lastChunk
    }

    /// The chunk of `cluster`, made (zeroed) if the cluster had none.
    mutating func makeChunk(_ cluster: Int) -> Int32 {
        let found = self.chunk(cluster)
        if found >= 0 { return found }
        if (self.count + 1) * 2 > self.keys.count { self.grow() }
        let chunk: Int32
        if let reused = self.freeChunks.popLast() {
            chunk = reused
            let base = Int(chunk) * Self.clusterSize
            for j in base..<(base + Self.clusterSize) {
                self.maps[j] = 0
                self.disk[j] = 0
            }
            self.used[Int(chunk)] = 0
        } else {
            chunk = Int32(self.used.count)
            self.maps.append(contentsOf: repeatElement(0, count: Self.clusterSize))
            self.disk.append(contentsOf: repeatElement(0, count: Self.clusterSize))
            self.used.append(0)
        }
        self.insert(cluster, chunk)
        self.lastCluster = cluster
        self.lastChunk = chunk
        return chunk
    }

    /// Forgets `cluster` (its last slot was freed); its chunk is reused.
    mutating func remove(_ cluster: Int) {
        var i = self.home(cluster)
        while self.keys[i] != cluster {
            precondition(self.keys[i] != Self.empty, "ClusterTable.remove: cluster \(cluster) is not held")
            i = (i &+ 1) & self.mask
        }
        self.freeChunks.append(self.chunks[i])
        // Backward-shift deletion: move later entries of the probe run into the hole when their
        // home is at or before it.
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
                self.chunks[hole] = self.chunks[j]
                hole = j
            }
        }
        self.keys[hole] = Self.empty
        self.chunks[hole] = -1
        self.count -= 1
        self.lastCluster = -1
    }

    private mutating func insert(_ cluster: Int, _ chunk: Int32) {
        var i = self.home(cluster)
        while self.keys[i] != Self.empty { i = (i &+ 1) & self.mask }
        self.keys[i] = cluster
        self.chunks[i] = chunk
        self.count += 1
    }

    private mutating func grow() {
        let old = zip(self.keys, self.chunks).filter { $0.0 != Self.empty }
        let size = self.keys.count * 2
        self.keys = Array(repeating: Self.empty, count: size)
        self.chunks = Array(repeating: -1, count: size)
        self.mask = size - 1
        self.shift = 64 - size.trailingZeroBitCount
        self.count = 0
        for (k, c) in old { self.insert(k, c) }
    }

    /// Every cluster held and its chunk, in cluster order (the invariant checker).
    var clusters: [(cluster: Int, chunk: Int32)] {
        zip(self.keys, self.chunks).filter { $0.0 != Self.empty }.map { ($0.0, $0.1) }.sorted {
            $0.cluster < $1.cluster
        }
    }

    @inline(__always) func map(_ chunk: Int32, _ i: Int) -> UInt32 {
        self.maps[Int(chunk) &* Self.clusterSize &+ i]
    }
    @inline(__always) mutating func setMap(_ chunk: Int32, _ i: Int, _ value: UInt32) {
        self.maps[Int(chunk) &* Self.clusterSize &+ i] = value
    }
    @inline(__always) func diskWord(_ chunk: Int32, _ i: Int) -> UInt64 {
        self.disk[Int(chunk) &* Self.clusterSize &+ i]
    }
    @inline(__always) mutating func setDiskWord(_ chunk: Int32, _ i: Int, _ value: UInt64) {
        self.disk[Int(chunk) &* Self.clusterSize &+ i] = value
    }
    mutating func addUsed(_ chunk: Int32, _ n: Int32) { self.used[Int(chunk)] += n }
}
