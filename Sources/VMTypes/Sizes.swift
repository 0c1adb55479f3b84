/// Why a size such as `64MiB` could not be read.
public struct SizeParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text that was given.
    public var text: String
    /// Byte offset in `text` where reading stopped (0-based).
    public var position: Int
    public var reason: String
    public var description: String { "'\(self.text)' is not a size: \(self.reason)" }
}

/// Sizes with units, as users type them: `4096`, `64KiB`, `1G`, `1000p`.
///
/// Units are binary (`K`/`KiB` = 1024, `M`/`MiB`, `G`/`GiB`, `T`/`TiB`), `B` is bytes, and `p`
/// means pages when a page size is given. Case is ignored for the unit; `_` may group digits.
public enum ByteSize {
    /// Parses `text` into a number of bytes. Throws `SizeParseError` for anything else,
    /// including overflow. `pageSize` enables the `p` (pages) unit.
    public static func parse(_ text: String, pageSize: UInt64? = nil) throws(SizeParseError) -> UInt64 {
        let chars = Array(text.utf8)
        var i = 0
        var value: UInt64 = 0
        var sawDigit = false
        if chars.count > 2, chars[0] == UInt8(ascii: "0"), chars[1] | 0x20 == UInt8(ascii: "x") {
            i = 2
            while i < chars.count, let d = hexValue(chars[i]) {
                let (m, o1) = value.multipliedReportingOverflow(by: 16)
                guard !o1 else { throw SizeParseError(text: text, position: i, reason: "too large") }
                value = m + UInt64(d)
                sawDigit = true
                i += 1
            }
        } else {
            while i < chars.count,
                chars[i] >= UInt8(ascii: "0") && chars[i] <= UInt8(ascii: "9")
                    || chars[i] == UInt8(ascii: "_")
            {
                if chars[i] != UInt8(ascii: "_") {
                    let (m, o1) = value.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(UInt64(chars[i] - UInt8(ascii: "0")))
                    guard !o1 && !o2 else {
                        throw SizeParseError(text: text, position: i, reason: "too large")
                    }
                    value = a
                    sawDigit = true
                }
                i += 1
            }
        }
        guard sawDigit else {
            throw SizeParseError(
                text: text, position: i, reason: "expected a number followed by B, KiB, MiB, GiB or TiB")
        }
        let unit = String(decoding: chars[i...], as: UTF8.self)
        let multiplier: UInt64
        switch unit.lowercased() {
        case "", "b": multiplier = 1
        case "k", "kib", "kb": multiplier = 1 << 10
        case "m", "mib", "mb": multiplier = 1 << 20
        case "g", "gib", "gb": multiplier = 1 << 30
        case "t", "tib", "tb": multiplier = 1 << 40
        case "p", "pages", "page":
            guard let pageSize else {
                throw SizeParseError(text: text, position: i, reason: "'p' (pages) is not allowed here")
            }
            multiplier = pageSize
        default:
            throw SizeParseError(
                text: text, position: i,
                reason:
                    "unknown unit '\(unit)' (expected B, K/KiB, M/MiB, G/GiB, T/TiB\(pageSize == nil ? "" : " or p"))"
            )
        }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw SizeParseError(text: text, position: 0, reason: "too large") }
        return bytes
    }

    /// Formats a byte count with the largest binary unit that divides it exactly
    /// (`1GiB`, `1536KiB`, `100B`).
    public static func format(_ bytes: UInt64) -> String {
        if bytes == 0 { return "0B" }
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")]
        where bytes % (1 << UInt64(shift)) == 0 {
            return "\(bytes >> UInt64(shift))\(unit)"
        }
        return "\(bytes)B"
    }

    /// Formats a byte count for people: at most one decimal, the largest unit below 1024 of it
    /// (`1.5 GiB`, `64 KiB`, `100 B`).
    public static func human(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var unit = 0
        var scaled = Double(bytes)
        while scaled >= 1024 && unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        if unit == 0 || scaled == scaled.rounded() { return "\(Int(scaled)) \(units[unit])" }
        let tenths = Int((scaled * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}

/// A seeded, reproducible random-number generator (xoshiro256**, seeded through SplitMix64).
///
/// Every random choice in vmsim comes from one of these, so the same seed gives byte-identical
/// output on every run and every machine.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        self.s0 = splitMix(&x)
        self.s1 = splitMix(&x)
        self.s2 = splitMix(&x)
        self.s3 = splitMix(&x)
    }

    @inlinable public mutating func next() -> UInt64 {
        let result = ((self.s1 &* 5) << 7 | (self.s1 &* 5) >> 57) &* 9
        let t = self.s1 << 17
        self.s2 ^= self.s0
        self.s3 ^= self.s1
        self.s1 ^= self.s2
        self.s0 ^= self.s3
        self.s2 ^= t
        self.s3 = (self.s3 << 45) | (self.s3 >> 19)
        return result
    }

    /// A uniformly distributed integer in `0..<bound` (Lemire's method; `bound` > 0).
    @inlinable public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "SeededGenerator.below: empty range")
        let m = self.next().multipliedFullWidth(by: bound)
        var high = m.high
        var low = m.low
        if low < bound {
            let threshold = (0 &- bound) % bound
            while low < threshold {
                let r = self.next().multipliedFullWidth(by: bound)
                high = r.high
                low = r.low
            }
        }
        return high
    }
}
