/// The swap clusters that have a slot in use, by cluster index: a map from index to a chunk of
/// flat storage holding the cluster's 512 `swap_map` counts and the disk words of its slots
/// (Linux allocates `swap_map` and `cluster_info` whole at swapon; vmsim keeps only the clusters
/// in use, so a swap area of any size costs nothing while idle — see `SwapArea`).
///
/// The index is a `UInt64Map` (a multiply per lookup, the last one remembered); the
/// `Dictionary` it replaces ran SipHash on every swap-map access.
struct ClusterTable {
    static let clusterSize = 512
    /// Cluster index → chunk.
    private var index = UInt64Map()
    /// Clusters held.
    var count: Int { self.index.count }
    /// Per chunk: `swap_map` counts, disk words; the number of slots in use; chunks free.
    private(set) var maps: [UInt32] = []
    private(set) var disk: [UInt64] = []
    private(set) var used: [Int32] = []
    private var freeChunks: [Int32] = []

    /// The chunk of `cluster`, or -1.
    @inline(__always) mutating func chunk(_ cluster: Int) -> Int32 {
        guard let c = self.index.get(UInt64(cluster)) else { return -1 }
        return Int32(c)
    }

    /// The chunk of `cluster`, made (zeroed) if the cluster had none.
    mutating func makeChunk(_ cluster: Int) -> Int32 {
        let found = self.chunk(cluster)
        if found >= 0 { return found }
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
        self.index.set(UInt64(cluster), UInt32(chunk))
        return chunk
    }

    /// Forgets `cluster` (its last slot was freed); its chunk is reused.
    mutating func remove(_ cluster: Int) {
        let chunk = self.chunk(cluster)
        precondition(chunk >= 0, "ClusterTable.remove: cluster \(cluster) is not held")
        self.index.remove(UInt64(cluster))
        self.freeChunks.append(chunk)
    }

    /// Every cluster held and its chunk, in cluster order (the invariant checker).
    var clusters: [(cluster: Int, chunk: Int32)] { self.index.entries.map { (Int($0.key), Int32($0.value)) } }

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
