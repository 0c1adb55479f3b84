import Testing
import VMTypes

@testable import VMTrace

@Suite struct MissRatioTests {
    /// The one-pass LRU curve equals simulating LRU at every size, on traces long enough for the
    /// stack-distance counter to compact its positions many times.
    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func onePassCurveEqualsLRUAtEverySize(_ seed: UInt64) {
        let length = seed < 4 ? 3000 : 20_000
        let trace = randomTrace(seed: seed, length: length, universe: seed < 4 ? 60 : 900)
        let dense = DenseTrace(name: "t", pages: trace)
        let distances = lruStackDistances(dense)
        let curve = distances.missCurve()
        #expect(curve.count == dense.distinct + 1)
        #expect(distances.cold == dense.distinct)
        for frames in 1...dense.distinct {
            #expect(curve[frames] == simulate(.lru, frames: frames, trace: dense).misses, "\(frames) frames")
            #expect(distances.misses(frames: frames) == curve[frames])
        }
        // Beyond the distinct pages only cold misses are left.
        #expect(curve[dense.distinct] == dense.distinct)
    }

    /// Stack distances of a known string: a b c a b c → three cold misses, then distance 3 each.
    @Test func distancesOfALoop() {
        let d = lruStackDistances(DenseTrace(name: "l", pages: [1, 2, 3, 1, 2, 3, 3]))
        #expect(d.cold == 3)
        #expect(d.counts == [0, 1, 0, 3])
    }

    /// SHARDS at rate 1 samples everything and is exact; at 10% on a large skewed trace its
    /// curve stays close to the exact one.
    @Test func shardsIsExactAtRateOneAndCloseWhenSampling() {
        var spec = TraceSpec(pattern: .zipf, length: 200_000, pages: 20_000)
        spec.alpha = 0.8
        var gen = TraceGenerator(spec)
        var pages: [UInt64] = []
        while let a = gen.next() { pages.append(a.page) }
        let dense = DenseTrace(name: "z", pages: pages)
        let exact = lruStackDistances(dense).missCurve()
        let full = shards(dense, rate: 1)
        for c in stride(from: 1, through: dense.distinct, by: 97) {
            #expect(abs(full.missRatio(frames: c) - Double(exact[c]) / Double(dense.count)) < 1e-12)
        }
        let sampled = shards(dense, rate: 0.1)
        #expect(sampled.sampledPages > 0 && sampled.sampledPages < dense.distinct / 5)
        var error = 0.0
        for c in 1...dense.distinct {
            error += abs(sampled.missRatio(frames: c) - Double(exact[c]) / Double(dense.count))
        }
        #expect(error / Double(dense.distinct) < 0.02)
    }

    /// compare runs every cell, in order, and each equals its own simulation.
    @Test func compareRunsEveryPolicyAtEverySize() {
        let dense = DenseTrace(name: "t", pages: randomTrace(seed: 8, length: 4000, universe: 200))
        let policies: [PolicyKind] = [.lru, .arc, .opt, .s3fifo]
        let sizes = [5, 50, 150]
        let cells = compare(dense, policies: policies, sizes: sizes)
        #expect(cells.map(\.policy) == policies.flatMap { p in sizes.map { _ in p } })
        #expect(cells.map(\.frames) == policies.flatMap { _ in sizes })
        for cell in cells {
            #expect(cell.counts == simulate(cell.policy, frames: cell.frames, trace: dense))
        }
    }

    /// Sizes parse as counts, percentages and fractions of the distinct pages, and bad ones are
    /// refused with what was expected.
    @Test func sizesParse() throws {
        #expect(try parseSizes("64,1%,10%,0.5", distinct: 1000) == [64, 10, 100, 500])
        #expect(try parseSizes("0.0001", distinct: 1000) == [1])
        #expect(throws: TraceError.self) { try parseSizes("0", distinct: 10) }
        #expect(throws: TraceError.self) { try parseSizes("150%", distinct: 10) }
        #expect(throws: TraceError.self) { try parseSizes("ten", distinct: 10) }
        #expect(throws: TraceError.self) { try parseSizes("", distinct: 10) }
    }

    /// The plot has its axes, labels, legend entries and one line per series, and the same data
    /// gives the same bytes.
    @Test func plotHasAxesLabelsAndLegend() {
        let series = [
            PlotSeries(name: "LRU (exact)", points: (0...100).map { (Double($0), 1 - Double($0) / 100) }),
            PlotSeries(name: "ARC", points: [(10, 0.8), (50, 0.4), (100, 0)], dashed: true),
        ]
        let svg = renderPlotSVG(
            title: "Miss-ratio curve: t", subtitle: "s", xLabel: "memory size (frames)", yLabel: "miss ratio",
            series: series)
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains(">memory size (frames)</text>"))
        #expect(svg.contains(">miss ratio</text>"))
        #expect(svg.contains(">LRU (exact)</text>") && svg.contains(">ARC</text>"))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains(">100</text>") && svg.contains(">0.4</text>"))
        #expect(
            svg
                == renderPlotSVG(
                    title: "Miss-ratio curve: t", subtitle: "s", xLabel: "memory size (frames)",
                    yLabel: "miss ratio", series: series))
    }
}

@Suite struct StreamedCurveTests {
    /// The streamed pass (no trace in memory) gives exactly the in-memory curve and SHARDS
    /// estimate — including past the counter's first compaction.
    @Test func streamingGivesTheInMemoryCurves() throws {
        for seed in UInt64(1)...4 {
            var rng = SeededGenerator(seed: seed)
            let pages = Int(100 + rng.below(6000))
            let trace = (0..<30_000).map { i in i % 7 == 0 ? UInt64(i) : rng.below(UInt64(pages)) * 3 + 5 }
            let text = trace.map { String($0) }.joined(separator: "\n") + "\n"
            var options = TraceOptions()
            options.format = .txt
            let reader = try openTrace(bytes: Array(text.utf8), name: "t.txt", options: options)
            let streamed = try streamedCurves(reader: reader, shardsRate: 0.1)
            let dense = DenseTrace(name: "t", pages: trace)
            #expect(streamed.distinct == dense.distinct)
            #expect(streamed.distances == lruStackDistances(dense), "seed \(seed)")
            let exact = shards(dense, rate: 0.1)
            let est = try #require(streamed.shards)
            #expect(est.sampledAccesses == exact.sampledAccesses && est.sampledPages == exact.sampledPages)
            #expect(est.cold == exact.cold && est.expectedAccesses == exact.expectedAccesses)
            #expect(est.scaled.map(\.distance) == exact.scaled.map(\.distance))
            #expect(est.scaled.map(\.count) == exact.scaled.map(\.count))
        }
    }
}
