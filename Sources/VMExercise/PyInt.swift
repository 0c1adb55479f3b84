/// A Python integer as the scripts see it: unbounded, parsed by `int(text, base)`.
///
/// Only what the OSTEP ports need: parsing (CPython's `PyLong_FromString` rules for Python 3 —
/// surrounding whitespace, a sign, a `0x`/`0o`/`0b` prefix matching the base, single underscores
/// between digits, any Unicode decimal digit — or Python 2's stricter ASCII rules), the decimal
/// text `str()` prints, and conversion to a machine integer. Arithmetic happens on `Int` in the
/// ports; a value that does not fit is reported as not reproduced rather than wrapped.
public struct PyInt: Equatable, Sendable, CustomStringConvertible {
    /// True for a negative value (never for zero).
    public var isNegative: Bool
    /// 32-bit words of the absolute value, least significant first, no leading zero words.
    public var magnitude: [UInt32]

    public init(_ value: Int) {
        self.isNegative = value < 0
        var m = value.magnitude
        self.magnitude = []
        while m != 0 {
            self.magnitude.append(UInt32(truncatingIfNeeded: m))
            m >>= 32
        }
    }

    init(isNegative: Bool, magnitude: [UInt32]) {
        var words = magnitude
        while let last = words.last, last == 0 { words.removeLast() }
        self.magnitude = words
        self.isNegative = isNegative && !words.isEmpty
    }

    /// The value as an `Int`, or nil when it does not fit in 64 bits.
    public var intValue: Int? {
        if self.magnitude.count > 2 { return nil }
        var m: UInt64 = 0
        for (i, word) in self.magnitude.enumerated() { m |= UInt64(word) << (32 * UInt64(i)) }
        if self.isNegative {
            if m <= UInt64(Int.max) + 1 { return m == UInt64(Int.max) + 1 ? Int.min : -Int(m) }
            return nil
        }
        return m <= UInt64(Int.max) ? Int(m) : nil
    }

    /// Number of decimal digits of the magnitude (at least 1).
    var decimalDigits: [UInt8] {
        var words = self.magnitude
        var digits: [UInt8] = []
        while !words.isEmpty {
            var remainder: UInt64 = 0
            for i in stride(from: words.count - 1, through: 0, by: -1) {
                let current = (remainder << 32) | UInt64(words[i])
                words[i] = UInt32(current / 1_000_000_000)
                remainder = current % 1_000_000_000
            }
            while let last = words.last, last == 0 { words.removeLast() }
            for _ in 0..<9 {
                digits.append(UInt8(remainder % 10))
                remainder /= 10
                if words.isEmpty && remainder == 0 { break }
            }
        }
        if digits.isEmpty { digits = [0] }
        return digits.reversed()
    }

    /// `str(n)`.
    public var description: String {
        (self.isNegative ? "-" : "") + String(decoding: self.decimalDigits.map { $0 + 48 }, as: UTF8.self)
    }

    mutating func multiplyAdd(_ factor: UInt32, _ addend: UInt32) {
        var carry = UInt64(addend)
        for i in self.magnitude.indices {
            let product = UInt64(self.magnitude[i]) * UInt64(factor) + carry
            self.magnitude[i] = UInt32(truncatingIfNeeded: product)
            carry = product >> 32
        }
        if carry != 0 { self.magnitude.append(UInt32(carry)) }
    }
}

/// Characters CPython's `Py_UNICODE_ISSPACE` accepts around a number.
func isPythonSpace(_ scalar: Unicode.Scalar, python: PythonVersion) -> Bool {
    switch scalar.value {
    case 0x09...0x0d, 0x20: return true
    case 0x1c...0x1f, 0x85, 0xa0, 0x1680, 0x2000...0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
        return python == .three
    default: return false
    }
}

/// The digit value of a scalar in `int()`, or nil.
private func digitValue(_ scalar: Unicode.Scalar, python: PythonVersion) -> Int? {
    switch scalar.value {
    case 0x30...0x39: return Int(scalar.value - 0x30)
    case 0x61...0x7a: return Int(scalar.value - 0x61 + 10)
    case 0x41...0x5a: return Int(scalar.value - 0x41 + 10)
    default:
        guard python == .three, scalar.properties.numericType == .decimal,
            let value = scalar.properties.numericValue
        else { return nil }
        return Int(value)
    }
}

/// CPython 3.11's limit on decimal digits in `int(str)` (`sys.int_info.default_max_str_digits`).
let pythonMaxStrDigits = 4300

/// `int(text, base)` for base 2…36: the value, or a Python `ValueError` with CPython's message.
public func pythonInt(_ text: String, base: Int = 10, python: PythonVersion) throws(PyException) -> PyInt {
    let scalars = Array(text.unicodeScalars)
    var i = 0
    var end = scalars.count
    func invalid() -> PyException {
        let shown: String
        if python == .two {
            // PyInt_FromString quotes the text from its first non-space character.
            let start = text.unicodeScalars.drop { isPythonSpace($0, python: .two) }
            shown = pythonRepr(
                String(
                    decoding: Array(String(String.UnicodeScalarView(start)).utf8.prefix(200)), as: UTF8.self),
                python: .two)
        } else {
            shown = String(pythonRepr(text, python: .three).unicodeScalars.prefix(200).map(Character.init))
        }
        return PyException(
            type: "ValueError", message: "invalid literal for int() with base \(base): \(shown)")
    }
    while i < end && isPythonSpace(scalars[i], python: python) { i += 1 }
    while end > i && isPythonSpace(scalars[end - 1], python: python) { end -= 1 }
    var negative = false
    if i < end && (scalars[i] == "+" || scalars[i] == "-") {
        negative = scalars[i] == "-"
        i += 1
        // Python 2's PyOS_strtoul skips spaces again after the sign.
        if python == .two { while i < end && isPythonSpace(scalars[i], python: python) { i += 1 } }
    }
    // A prefix that names the base may precede the digits (and, in Python 3, an underscore).
    var underscoreAllowed = false
    if end - i >= 2 && scalars[i] == "0" {
        let letter = Character(scalars[i + 1]).lowercased()
        if (base == 16 && letter == "x") || (base == 8 && letter == "o") || (base == 2 && letter == "b") {
            i += 2
            underscoreAllowed = python == .three
        }
    }
    var value = PyInt(0)
    var digits = 0
    var previousUnderscore = false
    while i < end {
        let scalar = scalars[i]
        if scalar == "_" && python == .three {
            if previousUnderscore || (digits == 0 && !underscoreAllowed) { throw invalid() }
            previousUnderscore = true
            i += 1
            continue
        }
        guard let d = digitValue(scalar, python: python), d < base else { throw invalid() }
        value.multiplyAdd(UInt32(base), UInt32(d))
        digits += 1
        previousUnderscore = false
        i += 1
    }
    if digits == 0 || previousUnderscore { throw invalid() }
    if python == .three && base & (base - 1) != 0 && digits > pythonMaxStrDigits {
        throw PyException(
            type: "ValueError",
            message: "Exceeds the limit (\(pythonMaxStrDigits) digits) for integer string conversion: "
                + "value has \(digits) digits; use sys.set_int_max_str_digits() to increase the limit")
    }
    return PyInt(isNegative: negative, magnitude: value.magnitude)
}
