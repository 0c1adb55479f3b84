/// A word of a scenario line and the column where it starts (1-based, in characters).
public struct Token: Sendable, Hashable {
    public var text: String
    public var column: Int
    public init(text: String, column: Int) {
        self.text = text
        self.column = column
    }
    /// The column just after the word.
    public var endColumn: Int { self.column + self.text.count }
}

/// Splits scenario text into lines and lines into words.
///
/// Input is untrusted: lines end with `\n` or `\r\n` (a lone `\r` is kept as a character and
/// rejected by the parser as an unexpected word), bytes that are not UTF-8 are an error naming
/// line and column, and nothing here can trap or allocate more than the input's size.
public enum ScenarioLexer {
    /// The lines of `bytes`, numbered from 1, without their line terminators.
    /// Throws at the first byte that does not start a valid UTF-8 sequence.
    public static func lines(_ bytes: [UInt8], file: String) throws(ScenarioError) -> [String] {
        var result: [String] = []
        var start = 0
        var number = 1
        func emit(_ end: Int) throws(ScenarioError) {
            var stop = end
            if stop > start && bytes[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
            let slice = bytes[start..<stop]
            if let text = String(validating: slice, as: UTF8.self) {
                result.append(text)
                return
            }
            // Column of the first bad byte: the characters of the valid prefix, plus one.
            var valid = start
            while valid < stop, let width = utf8SequenceLength(bytes, at: valid, end: stop) { valid += width }
            let prefix = String(decoding: bytes[start..<valid], as: UTF8.self)
            throw ScenarioError(
                location: ScenarioLocation(file: file, line: number, column: prefix.count + 1),
                message: "byte 0x\(String(bytes[valid], radix: 16)) is not UTF-8 text")
        }
        for i in bytes.indices where bytes[i] == UInt8(ascii: "\n") {
            try emit(i)
            start = i + 1
            number += 1
        }
        if start < bytes.count { try emit(bytes.count) }
        return result
    }

    /// The length of the valid UTF-8 sequence at `i`, or nil if the bytes there are not one.
    static func utf8SequenceLength(_ b: [UInt8], at i: Int, end: Int) -> Int? {
        let lead = b[i]
        let width: Int
        switch lead {
        case 0x00...0x7f: return 1
        case 0xc2...0xdf: width = 2
        case 0xe0...0xef: width = 3
        case 0xf0...0xf4: width = 4
        default: return nil
        }
        guard i + width <= end else { return nil }
        return String(validating: b[i..<(i + width)], as: UTF8.self) == nil ? nil : width
    }

    /// Splits a line into words with their columns. Words are separated by spaces and tabs;
    /// `#` outside brackets starts a comment; a bracketed range (`buf[0 : 4KiB]`) stays one word.
    public static func tokenize(_ line: String) -> [Token] {
        var tokens: [Token] = []
        var current = ""
        var start = 0
        var column = 0
        var depth = 0
        for ch in line {
            column += 1
            if ch == "#" && depth == 0 { break }
            if ch == "[" { depth += 1 }
            if ch == "]" { depth = max(0, depth - 1) }
            if (ch == " " || ch == "\t") && depth == 0 {
                if !current.isEmpty { tokens.append(Token(text: current, column: start)) }
                current = ""
                continue
            }
            if current.isEmpty { start = column }
            current.append(ch)
        }
        if !current.isEmpty { tokens.append(Token(text: current, column: start)) }
        return tokens
    }
}

extension String {
    /// The text with control characters shown as escapes (`\x1b`, `\r`), so echoing untrusted
    /// input cannot move the cursor, clear the screen or hide what came before.
    public var escapingControlCharacters: String {
        guard self.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\t" })
        else { return self }
        var out = ""
        for scalar in self.unicodeScalars {
            if scalar.properties.generalCategory == .control && scalar != "\t" {
                switch scalar {
                case "\r": out += "\\r"
                case "\n": out += "\\n"
                default:
                    let hex = String(scalar.value, radix: 16)
                    out += scalar.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{\(hex)}"
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The string without leading and trailing spaces and tabs.
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
