import Foundation
import Testing

@testable import VMSweep

@Suite struct SweepPlanTests {
    @Test func cellsCrossTheAxesTraceOutermostWithoutExcludedCells() throws {
        let (_, path) = sweepFixture(
            """
            kind: replay
            axes:
              policy: [lru, fifo, opt]
              trace: [a.txt, b.txt]
              frames: [4, 8]
            exclude:
              - {policy: opt, frames: 4}
              - {policy: [fifo], trace: b.txt, frames: [4, 8]}
            """)
        let plan = try SweepPlan(spec: try SweepSpec.load(path: path))
        #expect(plan.axes.map(\.name) == ["trace", "policy", "frames"])
        let cells = plan.cells.map { $0.values.joined(separator: " ") }
        #expect(
            cells == [
                "a.txt lru 4", "a.txt lru 8", "a.txt fifo 4", "a.txt fifo 8", "a.txt opt 8",
                "b.txt lru 4", "b.txt lru 8", "b.txt opt 8",
            ])
        #expect(plan.groups.map(\.cells) == [[0, 1, 2, 3, 4], [5, 6, 7]])
        #expect(Set(plan.cells.map(\.id)).count == plan.cells.count)
        let report = plan.report(listCells: false)
        #expect(report.contains("cells: 8 (4 excluded) in 2 groups sharing a parse"))
    }

    @Test func idsDependOnTheCellNotOnWhereTheSpecIsRead() throws {
        let text = "kind: replay\nfixed: {seed: 3}\naxes:\n  trace: [a.txt]\n  frames: [4, 8]\n"
        let (dir, path) = sweepFixture(text)
        let here = try SweepPlan(spec: try SweepSpec.load(path: path))
        let elsewhere = temporaryDirectory()
        try FileManager.default.copyItem(atPath: dir + "/a.txt", toPath: elsewhere + "/a.txt")
        let there = try SweepPlan(spec: try SweepSpec.parse(text, file: "other.yaml", directory: elsewhere))
        #expect(here.cells.map(\.id) == there.cells.map(\.id))
        #expect(here.listing == there.listing)
        // A different fixed argument is a different sweep: different ids.
        let seeded = try SweepPlan(
            spec: try SweepSpec.parse(
                text.replacingOccurrences(of: "seed: 3", with: "seed: 4"), file: "s", directory: dir))
        #expect(Set(seeded.cells.map(\.id)).isDisjoint(with: here.cells.map(\.id)))
    }

    @Test func shardsCoverEveryCellExactlyOnceForAnyCount() throws {
        let (_, path) = sweepFixture(
            "kind: replay\naxes:\n  trace: [a.txt, b.txt]\n  policy: [lru, fifo, clock]\n  frames: {from: 1, to: 7}\n"
        )
        let plan = try SweepPlan(spec: try SweepSpec.load(path: path))
        #expect(plan.cells.count == 42)
        for count in 1...(plan.cells.count + 5) {
            var seen: [Int] = []
            var sizes: [Int] = []
            for i in 0..<count {
                let shard = plan.shard(i, of: count)
                seen += shard.map(\.index)
                sizes.append(shard.count)
            }
            #expect(seen == Array(0..<plan.cells.count), "count \(count)")
            #expect(sizes.max()! - sizes.min()! <= 1)
        }
    }

    @Test func aSpecCrossingIntoTooManyCellsIsRefused() throws {
        let (_, path) = sweepFixture(
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: {from: 1, to: 100000}\n  seed: {from: 1, to: 100}\n"
        )
        #expect(throws: SweepError.self) { try SweepPlan(spec: try SweepSpec.load(path: path)) }
    }
}
