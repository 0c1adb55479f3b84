#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Throughput measurements of the allocator models (wall-clock time; for benchmark runs, not
/// for tests).
public enum MallocBenchmark {
    /// A measured rate.
    public struct Rate: Sendable, CustomStringConvertible {
        public var operations: Int
        public var seconds: Double
        public var perSecond: Double { self.seconds > 0 ? Double(self.operations) / self.seconds : 0 }
        public var description: String {
            "\(self.operations) in \(String(format2: self.seconds)) s: \(String(format2: self.perSecond / 1e6)) M/s"
        }
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// malloc/free pairs on a warm heap: `live` blocks of mixed small sizes stay allocated, and
    /// each pair frees one of them and allocates a replacement of another size — tcache,
    /// fastbin and small-bin traffic as a busy program makes it. The heap is warmed first (every
    /// page touched), so no kernel faults are counted in the timing.
    public static func mallocFreePairs(
        _ pairs: Int = 10_000_000, live: Int = 1000, allocator: String = "glibc"
    )
        throws -> Rate
    {
        let sys = InMemorySystem()
        if allocator == "glibc" { return try Self.pairs(GlibcMalloc(system: sys), pairs, live) }
        return try Self.pairs(FreeListAllocator(name: allocator, system: sys)!, pairs, live)
    }

    static func pairs<A: UserAllocator>(_ a: A, _ pairs: Int, _ live: Int) throws -> Rate {
        var slots = [UInt64](repeating: 0, count: live)
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        @inline(__always) func next() -> UInt64 {
            rng ^= rng << 13
            rng ^= rng >> 7
            rng ^= rng << 17
            return rng
        }
        let sizes: [UInt64] = [16, 24, 32, 48, 64, 100, 128, 200, 256, 400, 512, 1000]
        for i in 0..<live { slots[i] = try a.malloc(sizes[i % sizes.count]) ?? 0 }
        // Warm-up: one round of the loop below.
        for _ in 0..<(live * 4) {
            let r = next()
            let i = Int(r % UInt64(live))
            try a.free(slots[i])
            slots[i] = try a.malloc(sizes[Int((r >> 32) % UInt64(sizes.count))]) ?? 0
        }
        let t0 = Self.now()
        for _ in 0..<pairs {
            let r = next()
            let i = Int(r % UInt64(live))
            try a.free(slots[i])
            slots[i] = try a.malloc(sizes[Int((r >> 32) % UInt64(sizes.count))]) ?? 0
        }
        return Rate(operations: pairs, seconds: Self.now() - t0)
    }

    /// Replays `events` (read beforehand, so parsing is not timed) through the model `repeat`
    /// times, each time in a fresh process; calls per second.
    public static func replay(_ bytes: [UInt8], name: String, repeat times: Int = 3) throws -> Rate {
        var calls = 0
        var seconds = 0.0
        for _ in 0..<times {
            let reader = AllocationTraceReader(bytes: bytes, name: name)
            let t0 = Self.now()
            let report = try replayMallocTrace(reader)
            seconds += Self.now() - t0
            calls += report.calls
        }
        return Rate(operations: calls, seconds: seconds)
    }
}
