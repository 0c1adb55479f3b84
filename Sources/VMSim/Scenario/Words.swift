import VMTypes

/// The words of one scenario line after the command name, read left to right by typed readers
/// that check every value: a number the user writes can be anything up to 2⁶⁴−1 (or beyond),
/// and each reader either returns a value in its documented range or throws an error naming
/// the word's line and column. Nothing here traps.
public struct Words {
    public let file: String
    public let line: Int
    /// The command word (`mmap`, `expect` …).
    public let head: Token
    let tokens: [Token]
    var position = 0

    init(file: String, line: Int, head: Token, tokens: [Token]) {
        self.file = file
        self.line = line
        self.head = head
        self.tokens = tokens
    }

    /// The words not read yet.
    public var remaining: ArraySlice<Token> { self.tokens[self.position...] }
    public var isAtEnd: Bool { self.position >= self.tokens.count }
    public var count: Int { self.tokens.count - self.position }
    /// The column after the last word of the line (where a missing word would go).
    var endColumn: Int { self.tokens.last?.endColumn ?? self.head.endColumn }

    public func error(_ column: Int, _ message: String) -> ScenarioError {
        ScenarioError(
            location: ScenarioLocation(file: self.file, line: self.line, column: column), message: message)
    }

    public func error(at token: Token, _ message: String) -> ScenarioError {
        self.error(token.column, message)
    }

    /// The next word, or an error "expected WHAT" after the last one.
    public mutating func next(_ what: String) throws(ScenarioError) -> Token {
        guard let token = self.peek() else { throw self.error(self.endColumn, "expected \(what)") }
        self.position += 1
        return token
    }

    public func peek() -> Token? { self.isAtEnd ? nil : self.tokens[self.position] }

    /// Consumes the next word if it is exactly `text`.
    public mutating func take(_ text: String) -> Bool {
        guard let token = self.peek(), token.text == text else { return false }
        self.position += 1
        return true
    }

    /// Every word not read yet, consumed.
    public mutating func takeRest() -> [Token] {
        let rest = Array(self.remaining)
        self.position = self.tokens.count
        return rest
    }

    /// Throws on a word left over.
    public func finish() throws(ScenarioError) {
        if let extra = self.peek() { throw self.error(at: extra, "unexpected '\(extra.text)'") }
    }

    /// `key=value` options and bare flags until the end of the line; each key at most once.
    public mutating func options(allowed: [String], flags: [String] = []) throws(ScenarioError)
        -> (values: [String: Token], flags: Set<String>)
    {
        var values: [String: Token] = [:]
        var set = Set<String>()
        for token in self.takeRest() {
            if let eq = token.text.firstIndex(of: "=") {
                let key = String(token.text[..<eq])
                guard allowed.contains(key) else {
                    throw self.error(
                        at: token,
                        "unknown option '\(key)' (expected \((allowed + flags).joined(separator: ", ")))")
                }
                guard values[key] == nil else { throw self.error(at: token, "'\(key)' is given twice") }
                values[key] = Token(
                    text: String(token.text[token.text.index(after: eq)...]),
                    column: token.column + key.count + 1)
            } else {
                guard flags.contains(token.text) else {
                    throw self.error(
                        at: token,
                        "unexpected '\(token.text)' (expected \((allowed.map { $0 + "=…" } + flags).joined(separator: ", ")))"
                    )
                }
                set.insert(token.text)
            }
        }
        return (values, set)
    }
}

/// Readers for the values of the scenario language. Each takes the word (for its column) and
/// returns a checked value or throws `file:line:column: message`.
extension Words {
    /// A size: `4096`, `0x1000`, `4KiB`, `16p` (pages). At most 2⁶⁴ minus one page, so it can
    /// always be rounded up to a page; zero only when `allowZero`.
    public func size(_ token: Token, pageSize: UInt64, allowZero: Bool = false) throws(ScenarioError)
        -> UInt64
    {
        let bytes: UInt64
        do {
            bytes = try ByteSize.parse(token.text, pageSize: pageSize)
        } catch {
            throw self.error(token.column + error.position, "'\(token.text)' is not a size (\(error.reason))")
        }
        if !allowZero && bytes == 0 { throw self.error(at: token, "size must not be 0") }
        guard bytes <= UInt64.max - (pageSize - 1) else {
            throw self.error(at: token, "'\(token.text)' is too large (sizes go up to 16 EiB minus a page)")
        }
        return bytes
    }

    /// An unsigned number: decimal, `0x` hexadecimal, a size with a unit, or a duration
    /// (`30s`, `5ms`) in nanoseconds; 0 … 2⁶⁴−1.
    public func number(_ token: Token, pageSize: UInt64) throws(ScenarioError) -> UInt64 {
        let text = token.text
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            let digits = text.dropFirst(2)
            if let v = UInt64(digits, radix: 16) { return v }
            if !digits.isEmpty && digits.allSatisfy(\.isHexDigit) { throw self.outOfRange(token) }
            throw self.error(at: token, "'\(text)' is not a number")
        }
        if let v = UInt64(text) { return v }
        if !text.isEmpty && text.allSatisfy(\.isASCIIDigit) { throw self.outOfRange(token) }
        do {
            return try ByteSize.parse(text, pageSize: pageSize)
        } catch {
            if error.reason == "too large" { throw self.outOfRange(token) }
        }
        if let ns = Words.duration(text) { return ns }
        throw self.error(at: token, "'\(text)' is not a number")
    }

    func outOfRange(_ token: Token) -> ScenarioError {
        self.error(at: token, "'\(token.text)' is out of range (0 … 18446744073709551615)")
    }

    /// An address: `0x7f0000000000` or a decimal number, 0 … 2⁶⁴−1.
    public func address(_ token: Token) throws(ScenarioError) -> UInt64 {
        if token.text.hasPrefix("0x") || token.text.hasPrefix("0X") {
            let digits = token.text.dropFirst(2)
            if let v = UInt64(digits, radix: 16) { return v }
            if !digits.isEmpty && digits.allSatisfy(\.isHexDigit) { throw self.outOfRange(token) }
        } else if let v = UInt64(token.text) {
            return v
        }
        throw self.error(at: token, "'\(token.text)' is not an address")
    }

    /// A signed integer in `range` (decimal), described as `what` in the error.
    public func integer(_ token: Token, in range: ClosedRange<Int>, what: String) throws(ScenarioError) -> Int
    {
        guard let v = Int(token.text), range.contains(v) else {
            throw self.error(
                at: token, "'\(token.text)' is not \(what) (\(range.lowerBound) … \(range.upperBound))")
        }
        return v
    }

    /// `30s`, `5ms`, `100us`, `250ns`, `1.5s` in nanoseconds (below 1.8·10¹⁹).
    public static func duration(_ text: String) -> UInt64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let digits = text.dropLast(suffix.count)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCIIDigit || $0 == "." }),
                let value = Double(digits),
                value >= 0, value.isFinite
            else { return nil }
            let ns = value * scale
            guard ns < 1.8e19 else { return nil }
            return UInt64(ns.rounded())
        }
        return nil
    }

    /// `[OFFSET]`, `[START:END]`, `[START:]`, `[:END]` after a base word: the offsets, or nil
    /// for none. `single` is true for one offset. Offsets are sizes (0 allowed); END > START.
    func bracket(_ token: Token, baseLength: Int, pageSize: UInt64) throws(ScenarioError)
        -> (start: UInt64, end: UInt64?, single: Bool, inner: String, column: Int)?
    {
        let text = token.text
        guard let open = text.firstIndex(of: "[") else { return nil }
        guard text.hasSuffix("]"), text.count >= baseLength + 2 else {
            throw self.error(token.endColumn, "expected ']'")
        }
        let inner = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
        let column = token.column + baseLength + 1
        guard let colon = inner.firstIndex(of: ":") else {
            let start = try self.size(Token(text: inner, column: column), pageSize: pageSize, allowZero: true)
            return (start, nil, true, inner, column)
        }
        let a = String(inner[..<colon])
        let b = String(inner[inner.index(after: colon)...])
        let start =
            a.isEmpty ? 0 : try self.size(Token(text: a, column: column), pageSize: pageSize, allowZero: true)
        var end: UInt64?
        if !b.isEmpty {
            let bColumn = column + a.count + 1
            let e = try self.size(Token(text: b, column: bColumn), pageSize: pageSize, allowZero: true)
            guard e > start else { throw self.error(bColumn, "range end must be after its start") }
            end = e
        }
        return (start, end, false, inner, column)
    }
}

extension Character {
    var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
