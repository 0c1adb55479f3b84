import Testing

@testable import VMCore

/// `ClusterTable` against a `Dictionary` model: random makes and removes (clustered keys, so
/// probe runs collide and backward-shift deletion has runs to repair) keep every lookup equal
/// to the model's, chunks are unique and zeroed when reused, and the table grows.
@Suite struct ClusterTableTests {
    @Test(arguments: [1, 2, 3])
    func lookupsMatchADictionaryThroughMakesAndRemoves(seed: UInt64) {
        var table = ClusterTable()
        var model: [Int: Int32] = [:]
        var x = seed
        func next() -> UInt64 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return x >> 33
        }
        for step in 0..<40_000 {
            // Keys from a small dense range and a few huge ones (a maximal swap area's clusters).
            let r = next()
            let key = r % 10 == 0 ? Int(1 << 40) + Int(r % 64) : Int(r % 3_000)
            if next() % 3 == 0, let chunk = model[key] {
                #expect(table.chunk(key) == chunk)
                table.remove(key)
                model[key] = nil
                #expect(table.chunk(key) == -1)
            } else if model[key] == nil {
                let chunk = table.makeChunk(key)
                #expect(!model.values.contains(chunk), "chunk \(chunk) handed out twice")
                #expect(table.used[Int(chunk)] == 0)
                #expect(table.map(chunk, 7) == 0 && table.diskWord(chunk, 511) == 0)
                table.setMap(chunk, 7, UInt32(step))
                table.setDiskWord(chunk, 511, UInt64(step))
                table.addUsed(chunk, 1)
                model[key] = chunk
            }
            if step % 997 == 0 {
                for probe in 0..<3_000 { #expect(table.chunk(probe) == (model[probe] ?? -1)) }
                #expect(table.count == model.count)
            }
        }
        #expect(table.clusters.map(\.cluster) == model.keys.sorted())
        #expect(table.clusters.allSatisfy { model[$0.cluster] == $0.chunk })
    }
}
