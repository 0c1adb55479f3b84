/// `textwrap.wrap(text, width)` with the default `TextWrapper` settings, which optparse uses to
/// fold option help.
///
/// A port of Lib/textwrap.py: the text is cut into chunks by `wordsep_re` (whitespace runs, words,
/// and words broken after a hyphen between letters), then chunks fill lines greedily; a word
/// longer than a line is broken — in Python 3 after its last hyphen if it has one. Tabs are
/// expanded to 8 and other whitespace is replaced by spaces first. Python 2.7 has a different
/// `wordsep_re` (a hyphenated word splits after `\w+[^0-9\W]-` when letters follow) and breaks
/// long words anywhere; both are ported.
func pythonTextWrap(_ text: String, width: Int, python: PythonVersion = .three) -> [String] {
    let characters = Array(pythonExpandWhitespace(text))
    let chunks = python == .three ? textWrapChunks(characters) : textWrapChunks2(characters)
    return wrapChunks(chunks, width: width, breakOnHyphens: python == .three)
}

/// Python 2.7's `re.split(wordsep_re, text)` without the empty pieces.
private func textWrapChunks2(_ t: [Character]) -> [String] {
    let n = t.count
    func at(_ i: Int) -> Character? { i >= 0 && i < n ? t[i] : nil }
    func word(_ i: Int) -> Bool { at(i).map(isWordChar) ?? false }
    func letter(_ i: Int) -> Bool { at(i).map(isLetter) ?? false }
    /// The end of a `wordsep_re` match starting at p, or nil.
    func match(_ p: Int) -> Int? {
        if isSpace(t[p]) {
            var e = p + 1
            while e < n && isSpace(t[e]) { e += 1 }
            return e
        }
        // [^\s\w]*\w+[^0-9\W]-(?=\w+[^0-9\W])
        var q = p
        while q < n && !isSpace(t[q]) && !word(q) { q += 1 }
        var r = q
        while word(r) { r += 1 }
        if r - q >= 2 && letter(r - 1) && at(r) == "-" {
            var e = r + 1
            var sawLetterAfterFirst = false
            while word(e) {
                if e > r + 1 && letter(e) { sawLetterAfterFirst = true }
                e += 1
            }
            if sawLetterAfterFirst { return r + 1 }
        }
        // (?<=[\w!"'&.,?])-{2,}(?=\w)
        if t[p] == "-" && (at(p - 1).map(isWordPunct) ?? false) {
            var e = p
            while at(e) == "-" { e += 1 }
            if e - p >= 2 && word(e) { return e }
        }
        return nil
    }
    var chunks: [String] = []
    var pending = ""
    var p = 0
    while p < n {
        if let end = match(p) {
            if !pending.isEmpty { chunks.append(pending) }
            pending = ""
            chunks.append(String(t[p..<end]))
            p = end
        } else {
            pending.append(t[p])
            p += 1
        }
    }
    if !pending.isEmpty { chunks.append(pending) }
    return chunks
}

private func pythonExpandWhitespace(_ text: String) -> String {
    var out = ""
    var column = 0
    for character in text {
        if character == "\t" {
            let spaces = 8 - column % 8
            out += String(repeating: " ", count: spaces)
            column += spaces
        } else if character == "\n" || character == "\r\n" || character == "\r" {
            out += " "
            column = 0
        } else if character == "\u{0b}" || character == "\u{0c}" {
            out += " "
            column += 1
        } else {
            out.append(character)
            column += 1
        }
    }
    return out
}

private func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\r" }
private func isWordChar(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
private func isLetter(_ c: Character) -> Bool { isWordChar(c) && !c.isNumber }
private func isWordPunct(_ c: Character) -> Bool { isWordChar(c) || "!\"'&.,?".contains(c) }

/// `TextWrapper._split`: the chunks `wordsep_re` finds.
private func textWrapChunks(_ t: [Character]) -> [String] {
    var chunks: [String] = []
    var p = 0
    let n = t.count
    func at(_ i: Int) -> Character? { i >= 0 && i < n ? t[i] : nil }
    func letter(_ i: Int) -> Bool { at(i).map(isLetter) ?? false }
    func dashesThenWord(_ i: Int) -> Bool {
        var j = i
        while at(j) == "-" { j += 1 }
        return j - i >= 2 && (at(j).map(isWordChar) ?? false)
    }
    while p < n {
        var end = p + 1
        if isSpace(t[p]) {
            while end < n && isSpace(t[end]) { end += 1 }
        } else if t[p] == "-" && (at(p - 1).map(isWordPunct) ?? false) && dashesThenWord(p) {
            end = p
            while at(end) == "-" { end += 1 }
        } else {
            // The lazy word: the shortest run of non-space characters followed by a hyphen break,
            // the end of the word, or an em-dash.
            var e = p + 1
            while true {
                if at(e) == "-"
                    && (letter(e - 2) && letter(e - 1) || letter(e - 3) && at(e - 2) == "-" && letter(e - 1))
                    && letter(e + 1) && (letter(e + 2) || at(e + 2) == "-" && letter(e + 3))
                {
                    end = e + 1
                    break
                }
                if e == n || isSpace(t[e]) {
                    end = e
                    break
                }
                if (at(e - 1).map(isWordPunct) ?? false) && dashesThenWord(e) {
                    end = e
                    break
                }
                e += 1
            }
        }
        chunks.append(String(t[p..<end]))
        p = end
    }
    return chunks
}

/// `TextWrapper._wrap_chunks` with no indents and `drop_whitespace`.
private func wrapChunks(_ input: [String], width: Int, breakOnHyphens: Bool) -> [String] {
    var chunks = Array(input.reversed())
    var lines: [String] = []
    while !chunks.isEmpty {
        var line: [String] = []
        var length = 0
        if chunks.last!.allSatisfy(isSpace) && !lines.isEmpty { chunks.removeLast() }
        while let chunk = chunks.last {
            if length + chunk.count <= width {
                line.append(chunks.removeLast())
                length += chunk.count
            } else {
                break
            }
        }
        if let chunk = chunks.last, chunk.count > width {
            // _handle_long_word: break the word, after its last hyphen when there is one.
            let spaceLeft = width < 1 ? 1 : width - length
            let characters = Array(chunk)
            var end = spaceLeft
            if breakOnHyphens && characters.count > spaceLeft {
                if let hyphen = characters[0..<spaceLeft].lastIndex(of: "-"), hyphen > 0,
                    characters[0..<hyphen].contains(where: { $0 != "-" })
                {
                    end = hyphen + 1
                }
            }
            line.append(String(characters[0..<min(end, characters.count)]))
            chunks[chunks.count - 1] = String(characters[min(end, characters.count)...])
        }
        if let last = line.last, last.allSatisfy(isSpace) { line.removeLast() }
        if !line.isEmpty { lines.append(line.joined()) }
    }
    return lines
}
