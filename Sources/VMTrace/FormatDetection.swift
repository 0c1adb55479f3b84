import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the first chunk of a trace says about its format.
struct FormatGuess {
    /// The format the content looks like, if any.
    var format: TraceFormat?
    /// Binary content (a NUL byte, or bytes that are not UTF-8).
    var binary = false
    /// The first line (1-based) that voted for `format`, quoted.
    var evidence: (Int, String)?
    /// Why no format fits, when that is known.
    var problem: String?
}

/// Guesses the format from the first chunk (decompressed), the name only breaking ties: binary
/// content is oracleGeneral if its first records are plausible ones (times that never go back,
/// next accesses -1 or later than the record); then the first 64 lines that are not blank,
/// comments or `==PID==` noise vote — lackey's `I  addr,size` / ` L addr,size`, din's
/// `label address`, comma-separated rows, `0x…`/`… R|W` addresses, plain decimal ids (txt) —
/// and a format needs more than half of them. A `.din` or `.csv` name (before `.gz`/`.zst`)
/// decides an empty file or a vote without a majority.
public func detectFormat(_ sample: UnsafeBufferPointer<UInt8>, name: String) -> TraceFormat? {
    guessFormat(sample, name: name).format
}

/// What the sample says (see `detectFormat`).
func guessFormat(_ sample: UnsafeBufferPointer<UInt8>, name: String) -> FormatGuess {
    var base = Substring(name)
    for suffix in [".gz", ".zst", ".zstd"] where base.hasSuffix(suffix) { base = base.dropLast(suffix.count) }
    let named: TraceFormat? = base.hasSuffix(".din") ? .din : base.hasSuffix(".csv") ? .csv : nil
    var guess = FormatGuess()
    if sample.isEmpty {
        guess.format = named ?? .txt
        return guess
    }
    let probe = UnsafeBufferPointer(rebasing: sample.prefix(4096))
    if probe.contains(0) || !isUTF8(probe) {
        guess.binary = true
        if let problem = oracleGeneralProblem(sample) {
            guess.problem = "binary data that is not an oracleGeneral trace (\(problem))"
        } else {
            guess.format = .oracleGeneral
        }
        return guess
    }
    var votes: [TraceFormat: Int] = [:]
    var firstVote: [TraceFormat: (Int, String)] = [:]
    var seen = 0
    var lineStart = 0
    var lineNumber = 0
    let bytes = Array(sample.prefix(1 << 16))
    while lineStart < bytes.count && seen < 64 {
        var end = lineStart
        while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
        if end == bytes.count && end - lineStart < 256 && bytes.count == 1 << 16 { break }  // cut line
        var line = Array(bytes[lineStart..<end])
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        lineStart = end + 1
        lineNumber += 1
        let text = String(decoding: line, as: UTF8.self)
        let trimmed = text.drop(while: { $0 == " " || $0 == "\t" })
        if trimmed.isEmpty || trimmed.hasPrefix("==") || trimmed.hasPrefix("#") || trimmed.hasPrefix("--") {
            continue
        }
        seen += 1
        if let f = classifyLine(text) {
            votes[f, default: 0] += 1
            if firstVote[f] == nil {
                firstVote[f] = (
                    lineNumber, "'" + String(text.prefix(40)) + (text.count > 40 ? "…" : "") + "'"
                )
            }
        }
    }
    guard seen > 0 else {
        guess.format = named ?? .lackey
        return guess
    }
    let ranked = votes.sorted {
        $0.value != $1.value ? $0.value > $1.value : $0.key.rawValue < $1.key.rawValue
    }
    if let best = ranked.first, best.value * 2 > seen {
        guess.format = best.key
        guess.evidence = firstVote[best.key]
    } else if let named {
        guess.format = named
    }
    return guess
}

/// Whether the bytes are UTF-8 text (a sequence cut at the end of the sample is allowed).
func isUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
    var i = 0
    while i < b.count {
        let c = b[i]
        if c < 0x80 {
            i += 1
            continue
        }
        let n = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0
        if n == 0 || (c >= 0xE0 && c < 0xF0 && n != 3) { return false }
        for k in 1..<n {
            if i + k >= b.count { return true }
            if b[i + k] & 0xC0 != 0x80 { return false }
        }
        i += n
    }
    return true
}

/// Why the first records of binary data are not oracleGeneral ones, or nil if they look right:
/// at least one whole record; times (u32) that never go back; next accesses (i64) that are -1
/// or later than the record itself (libCacheSim's `next_access_vtime`).
func oracleGeneralProblem(_ sample: UnsafeBufferPointer<UInt8>) -> String? {
    let size = OracleReader.recordSize
    let records = min(sample.count / size, 256)
    guard records > 0 else { return "\(sample.count) bytes, less than one 24-byte record" }
    let raw = UnsafeRawBufferPointer(sample)
    var lastTime: UInt32 = 0
    for r in 0..<records {
        let time = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: r * size, as: UInt32.self))
        let next = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: r * size + 16, as: Int64.self))
        if time < lastTime {
            return "record \(r + 1)'s time \(time) is before the previous record's \(lastTime)"
        }
        if next != -1 && next <= Int64(r) {
            return "record \(r + 1)'s next access \(next) is not after it"
        }
        lastTime = time
    }
    return nil
}

/// Whether reading content that looks like `content` as `given` would give a wrong answer
/// rather than an error — or an error less clear than saying so. Ambiguous pairs are allowed:
/// decimal numbers (txt) read as text addresses or a one-column CSV, and din-looking rows as a
/// tab-separated CSV; and lackey's parser names the first line that is not lackey itself.
func formatContradicts(given: TraceFormat, content: TraceFormat) -> Bool {
    if given == content || given == .lackey { return false }
    switch (content, given) {
    case (.txt, .text), (.txt, .csv), (.txt, .din), (.din, .csv): return false
    default: return true
    }
}

/// The format one line looks like, or nil.
func classifyLine(_ line: String) -> TraceFormat? {
    let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
    func isHex(_ s: Substring) -> Bool { !s.isEmpty && s.count <= 16 && s.allSatisfy(\.isHexDigit) }
    func isDec(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber) }
    if fields.count == 2, ["I", "L", "S", "M"].contains(fields[0]) {
        let parts = fields[1].split(separator: ",", omittingEmptySubsequences: false)
        if parts.count == 2 && isHex(parts[0]) && isDec(parts[1]) { return .lackey }
    }
    if fields.count >= 2, fields[0].count == 1, "01234".contains(fields[0]) {
        var a = fields[1]
        if a.hasPrefix("0x") || a.hasPrefix("0X") { a = a.dropFirst(2) }
        if isHex(a) && !(fields.count == 2 && ["R", "W", "r", "w"].contains(fields[1])) { return .din }
    }
    if line.contains(",") && !line.contains(" L ") { return .csv }
    if fields.count == 1 || (fields.count == 2 && ["R", "W", "r", "w"].contains(fields[1])) {
        let a = fields[0]
        if a.hasPrefix("0x") || a.hasPrefix("0X") { return isHex(a.dropFirst(2)) ? .text : nil }
        if fields.count == 2 { return isHex(a) ? .text : nil }
        if isDec(a) { return .txt }
        if isHex(a) { return .text }
    }
    return nil
}

/// Whether a text trace writes hex without `0x`: some number in the sample has a hex letter.
func sampleHasBareHex(_ sample: UnsafeBufferPointer<UInt8>) -> Bool {
    var i = 0
    let n = min(sample.count, 1 << 16)
    while i < n {
        // Start of a line: skip blanks, then look at the first token.
        while i < n && isBlank(sample[i]) { i += 1 }
        var j = i
        if j + 1 < n && sample[j] == UInt8(ascii: "0") && (sample[j + 1] | 0x20) == UInt8(ascii: "x") {
            // 0x-prefixed: says nothing about bare numbers.
        } else {
            while j < n && !isBlank(sample[j]) && sample[j] != UInt8(ascii: "\n")
                && sample[j] != UInt8(ascii: "\r")
            {
                let c = sample[j] | 0x20
                if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f") { return true }
                j += 1
            }
        }
        while i < n && sample[i] != UInt8(ascii: "\n") { i += 1 }
        i += 1
    }
    return false
}
