#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Output helpers every command shares: the one writer to standard error, the monotonic clock,
// locale-free fixed-point numbers and padding.

/// Writes to file descriptor 2.
public func writeStderr(_ text: String) {
    var t = text
    t.withUTF8 { b in
        var off = 0
        while off < b.count {
            let n = write(2, b.baseAddress! + off, b.count - off)
            if n <= 0 { break }
            off += n
        }
    }
}

/// Seconds on the monotonic clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// `v` with exactly `digits` decimals, rounded half away from zero; deterministic and free of
/// locale.
public func fixed(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return v.isNaN ? "nan" : (v < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(v) * scale).rounded(.toNearestOrAwayFromZero)
    guard scaled < 9.0e18 else { return "\(v)" }
    let n = UInt64(scaled)
    let negative = v < 0 && n != 0
    let intPart = n / UInt64(scale)
    let frac = n % UInt64(scale)
    var s = (negative ? "-" : "") + String(intPart)
    if digits > 0 { s += "." + String(frac).leftPadded(digits) }
    return s
}

extension String {
    /// The string padded on the left with `pad` to at least `width` characters.
    public func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        self.count >= width ? self : String(repeating: pad, count: width - self.count) + self
    }

    /// The string padded on the right with spaces to at least `width` characters.
    public func rightPadded(_ width: Int) -> String {
        self.count >= width ? self : self + String(repeating: " ", count: width - self.count)
    }
}
