import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// libCacheSim's txt reader interns each line as a string (without `-t obj-id-is-num=1`): two
/// lines are the same object exactly when their text is equal. A canonical decimal number (no
/// sign, no leading zero, at most 18 digits) is used as its own id; any other text gets a 64-bit
/// FNV-1a hash with the top bit set, so distinct lines stay distinct (up to hash collisions).
/// Only empty lines are skipped (libCacheSim skips lines that are exactly "\n").
struct TxtFormat: LineFormat {
    static let format = TraceFormat.txt
    let maxPerLine = 1

    func explain(_ reason: UInt8) -> String { "expected an id" }

    mutating func parse(_ p: UnsafePointer<UInt8>, into batch: AccessBatch) -> (LineOutcome, Int) {
        if p[0] == newline { return (.noise, 0) }
        if p[0] != UInt8(ascii: "0") || p[1] == newline, let (v, k) = scanDecimal(p, 0), p[k] == newline,
            k <= 18
        {
            batch.append(v, write: false)
            return (.accesses, k)
        }
        let end = findNewline(p, 0)
        batch.append(fnv1a(p, end) | (1 << 63), write: false)
        return (.accesses, end)
    }
}

/// FNV-1a over `n` bytes at `p`.
@inline(__always) func fnv1a(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for k in 0..<n {
        h ^= UInt64(p[k])
        h = h &* 0x100_0000_01b3
    }
    return h
}
