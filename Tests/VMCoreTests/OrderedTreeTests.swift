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

/// The gap augmentation (the maple tree's `ma_gaps`): `lastEntry(atOrBelow:gapAtLeast:)`
/// agrees with a linear scan after any mix of inserts, removes and gap changes.
@Suite struct OrderedTreeGapTests {
    @Test func gapSearchAgreesWithALinearScan() async {
        await propertyCheck(count: 60, input: Gen.int(in: 0...50_000).array(of: 1...800)) { ops in
            var tree = OrderedTree<UInt64, Int>()
            var model: [UInt64: UInt64] = [:]
            for op in ops {
                let key = UInt64(op % 2000)
                let gap = UInt64(op / 2000)
                switch op % 4 {
                case 0: #expect((tree.remove(key) != nil) == (model.removeValue(forKey: key) != nil))
                case 1 where model[key] != nil:
                    tree.setGap(key, gap)
                    model[key] = gap
                default:
                    tree.insert(key, Int(key), gap: gap)
                    model[key] = gap
                }
            }
            let sorted = model.keys.sorted()
            for key in sorted { #expect(tree.gap(key) == model[key]) }
            for bound in stride(from: UInt64(0), through: 2001, by: 37) {
                for size in [0, 1, 5, 12, 20, 25, 26] as [UInt64] {
                    let expected = sorted.last { $0 <= bound && model[$0]! >= size }
                    #expect(tree.lastEntry(atOrBelow: bound, gapAtLeast: size)?.key == expected)
                }
            }
        }
    }

    /// 100,000 entries with one large gap: the search finds it among small ones.
    @Test func aLargeGapIsFoundAmongManySmallOnes() {
        var tree = OrderedTree<UInt64, Int>()
        for k in UInt64(0)..<100_000 { tree.insert(k * 2, Int(k), gap: 1) }
        tree.setGap(2 * 777, 50)
        tree.setGap(2 * 99_000, 40)
        #expect(tree.lastEntry(atOrBelow: .max, gapAtLeast: 45)?.key == 2 * 777)
        #expect(tree.lastEntry(atOrBelow: .max, gapAtLeast: 30)?.key == 2 * 99_000)
        #expect(tree.lastEntry(atOrBelow: 2 * 98_999, gapAtLeast: 30)?.key == 2 * 777)
        #expect(tree.lastEntry(atOrBelow: 2 * 776, gapAtLeast: 30) == nil)
        #expect(tree.lastEntry(atOrBelow: 10, gapAtLeast: 1)?.key == 10)
        tree.remove(2 * 777)
        #expect(tree.lastEntry(atOrBelow: 2 * 98_999, gapAtLeast: 30) == nil)
    }
}
