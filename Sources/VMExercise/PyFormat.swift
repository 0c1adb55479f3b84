/// Which Python runs the script: the OSTEP scripts are Python 2 era and run under both, and a few
/// things differ (`/` on integers, what `int()` accepts, the text of some exceptions).
public enum PythonVersion: Int, Sendable {
    case two = 2
    case three = 3
}

/// A Python exception that ends the script with a traceback (exit status 1).
public struct PyException: Error, Equatable, Sendable {
    /// The exception class, e.g. `ValueError`.
    public var type: String
    /// `str(exception)`; empty for a bare `AssertionError`.
    public var message: String

    public init(type: String, message: String) {
        self.type = type
        self.message = message
    }

    /// The last line of the traceback.
    public var line: String { self.message.isEmpty ? self.type : "\(self.type): \(self.message)" }
}

/// `repr(s)` of a string: Python 3 leaves printable characters alone; Python 2's byte strings
/// show every byte outside printable ASCII as `\xNN`.
public func pythonRepr(_ text: String, python: PythonVersion) -> String {
    let quote: Character = text.contains("'") && !text.contains("\"") ? "\"" : "'"
    var out = String(quote)
    func hex(_ value: UInt32, _ digits: Int) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }
    func escape(_ value: UInt32) {
        switch value {
        case 0x5c: out += "\\\\"
        case 0x09: out += "\\t"
        case 0x0a: out += "\\n"
        case 0x0d: out += "\\r"
        default:
            if value == quote.unicodeScalars.first!.value {
                out += "\\" + String(quote)
            } else if value < 0x20 || value == 0x7f {
                out += "\\x" + hex(value, 2)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(value)!)
            }
        }
    }
    if python == .two {
        for byte in text.utf8 {
            if byte >= 0x80 { out += "\\x" + hex(UInt32(byte), 2) } else { escape(UInt32(byte)) }
        }
    } else {
        for scalar in text.unicodeScalars {
            if scalar.value < 0x80 || isPrintable(scalar) {
                escape(scalar.value)
            } else if scalar.value < 0x100 {
                out += "\\x" + hex(scalar.value, 2)
            } else if scalar.value < 0x10000 {
                out += "\\u" + hex(scalar.value, 4)
            } else {
                out += "\\U" + hex(scalar.value, 8)
            }
        }
    }
    out.append(quote)
    return out
}

/// `Py_UNICODE_ISPRINTABLE` for a non-ASCII scalar: not a control, format, surrogate, private-use,
/// unassigned or separator character.
private func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
        .spaceSeparator:
        return false
    default: return true
    }
}

/// `'%Nd'`, `'%0Nd'`, `'%Nx'`, `'%0Nx'` of an integer, as Python's `%` operator formats it:
/// the sign comes first and zero padding goes between the sign and the digits.
public func pyFormat(_ value: Int, width: Int = 0, zeroPad: Bool = false, hex: Bool = false) -> String {
    let digits = String(value.magnitude, radix: hex ? 16 : 10)
    let sign = value < 0 ? "-" : ""
    let length = sign.count + digits.count
    if length >= width { return sign + digits }
    if zeroPad { return sign + String(repeating: "0", count: width - length) + digits }
    return String(repeating: " ", count: width - length) + sign + digits
}

/// `'%Ns'` of a string: right-aligned in `width` characters.
public func pyFormat(_ text: String, width: Int) -> String {
    let count = text.count
    return count >= width ? text : String(repeating: " ", count: width - count) + text
}

/// `'%.2f' % x` (and other precisions): correctly rounded from the exact binary value, halves to
/// even, as CPython's `PyOS_double_to_string` does.
public func pyFormatFixed(_ value: Double, precision: Int) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    // Exact decimal expansion of the double: significand × 2^exponent.
    let negative = value.sign == .minus
    let magnitude = abs(value)
    var significand = magnitude.significandBitPattern | (magnitude.isNormal ? 1 << 52 : 0)
    var exponent = Int(magnitude.exponentBitPattern) - 1075
    if !magnitude.isNormal { exponent = -1074 }
    if significand == 0 { exponent = 0 }
    while significand != 0 && significand & 1 == 0 && exponent < 0 {
        significand >>= 1
        exponent += 1
    }
    // value = significand × 2^exponent. Scale by 10^precision and round to an integer, halves to even.
    var numerator = PyInt(Int(significand))
    for _ in 0..<precision { numerator.multiplyAdd(10, 0) }
    var roundedDigits: PyInt
    if exponent >= 0 {
        for _ in 0..<exponent { numerator.multiplyAdd(2, 0) }
        roundedDigits = numerator
    } else {
        // Divide by 2^-exponent with round-half-even.
        let shift = -exponent
        let (quotient, remainderIsHalf, remainderAboveHalf, remainderZero) = numerator.shiftedRight(shift)
        roundedDigits = quotient
        let odd = (quotient.magnitude.first ?? 0) & 1 == 1
        if remainderAboveHalf || (remainderIsHalf && odd) { roundedDigits.multiplyAdd(1, 1) }
        _ = remainderZero
    }
    var text = roundedDigits.decimalDigits.map { Character(Unicode.Scalar($0 + 48)) }
    if precision > 0 {
        while text.count <= precision { text.insert("0", at: 0) }
        text.insert(".", at: text.count - precision)
    }
    return (negative ? "-" : "") + String(text)
}

extension PyInt {
    /// The magnitude shifted right by `shift` bits, and how the dropped bits compare with a half.
    func shiftedRight(_ shift: Int) -> (PyInt, isHalf: Bool, aboveHalf: Bool, isZero: Bool) {
        let words = self.magnitude
        func bit(_ index: Int) -> Bool {
            let w = index / 32
            return w < words.count && (words[w] >> UInt32(index % 32)) & 1 == 1
        }
        let totalBits = words.count * 32
        var quotientWords = [UInt32](repeating: 0, count: max(0, (totalBits - shift + 31) / 32))
        if shift < totalBits {
            for index in shift..<totalBits where bit(index) {
                quotientWords[(index - shift) / 32] |= 1 << UInt32((index - shift) % 32)
            }
        }
        let half = bit(shift - 1)
        var lowerNonZero = false
        for index in 0..<max(0, shift - 1) where bit(index) {
            lowerNonZero = true
            break
        }
        return (
            PyInt(isNegative: false, magnitude: quotientWords), half && !lowerNonZero, half && lowerNonZero,
            !half && !lowerNonZero
        )
    }
}
