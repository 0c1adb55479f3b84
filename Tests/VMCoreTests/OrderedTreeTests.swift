import PropertyBased
import Testing

@testable import VMCore

@Suite struct OrderedTreeTests {
    /// Random inserts and removes against a sorted model: contents, order and every neighbour
    /// query agree; the tree stays shallow.
    @Test func behavesLikeASortedMap() async {
        await propertyCheck(count: 60, input: Gen.int(in: 0...5000).array(of: 1...600)) { ops in
            var tree = OrderedTree<UInt64, Int>()
            var model: [UInt64: Int] = [:]
            for (i, op) in ops.enumerated() {
                let key = UInt64(op % 1000)
                if op % 3 == 0 {
                    #expect(tree.remove(key) == model.removeValue(forKey: key))
                } else {
                    tree.insert(key, i)
                    model[key] = i
                }
            }
            let sorted = model.keys.sorted()
            #expect(tree.entries.map(\.key) == sorted)
            #expect(tree.entries.map(\.value) == sorted.map { model[$0]! })
            #expect(tree.count == model.count)
            for probe in stride(from: UInt64(0), through: 1001, by: 7) {
                #expect(tree.floor(probe)?.key == sorted.last { $0 <= probe })
                #expect(tree.ceiling(probe)?.key == sorted.first { $0 >= probe })
                #expect(tree.higher(probe)?.key == sorted.first { $0 > probe })
                #expect(tree.lower(probe)?.key == sorted.last { $0 < probe })
            }
            #expect(tree.first?.key == sorted.first)
            #expect(tree.last?.key == sorted.last)
            // 16-way nodes: 1000 keys fit in 3 levels even with half-empty nodes.
            #expect(tree.height <= 4)
        }
    }

    @Test func rangeQueriesReturnTheKeysInside() {
        var tree = OrderedTree<UInt64, Int>()
        for k in UInt64(0)..<100 { tree.insert(k * 10, Int(k)) }
        #expect(tree.entries(in: 95..<131).map(\.key) == [100, 110, 120, 130])
        #expect(tree.entries(in: 2000..<3000).isEmpty)
    }
}
