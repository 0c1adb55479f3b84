import Testing

@testable import VMTrace

@Suite struct LRUCurvesTests {
    /// The one-pass curves equal LRU simulated at every size: misses, evictions, dirty evictions.
    @Test(arguments: [1, 2, 3, 4, 5, 6])
    func onePassEqualsSimulatingEverySize(seed: UInt64) {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var pages: [UInt64] = []
        var writes: [Bool] = []
        let length = 2000 + Int(seed) * 700
        let span = UInt64(20 + seed * 37)
        for i in 0..<length {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            pages.append(seed % 2 == 0 && i % 5 == 0 ? UInt64(i) % (span * 2) : (x >> 5) % span)
            writes.append(x % UInt64(2 + seed % 3) == 0)
        }
        let trace = DenseTrace(name: "t", pages: pages, writes: writes)
        let curves = lruCurves(trace)
        for frames in 1...(trace.distinct + 3) {
            #expect(
                curves.counts(frames: frames) == simulate(.lru, frames: frames, trace: trace),
                "frames \(frames)")
        }
    }

    @Test func anEmptyTraceHasNoMisses() {
        let curves = lruCurves(DenseTrace(name: "t", pages: []))
        #expect(curves.counts(frames: 4) == ReplayCounts())
    }
}
