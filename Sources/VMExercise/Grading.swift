/// Exercises with answer keys in vmsim's own voice: a problem text, a hidden key, the worked
/// solution with explanations, and grading of a student's answer file with per-question feedback.
///
/// The answer-file format (docs/exercises.md) is one answer a line, `ID: ANSWER`:
///
/// ```
/// # comments run from # to the end of the line; blank lines are ignored
/// 1: miss 8
/// 2: hit 8
/// dma.min: 11
/// ```
///
/// An answer is a list of tokens separated by spaces or commas; brackets and parentheses are
/// ignored, case does not matter, and integers compare by value (`0x10` is `16`). A question
/// whose answer has several parts (`minflt majflt rss`) takes them in order on one line.
/// `--answers` prints the key in this format, so the key itself grades as all correct.

/// One part of an answer: a name for feedback and the key's tokens. `count` is how many tokens
/// of the answer line the part takes; nil (only for the last part) takes the rest.
public struct AnswerPart: Sendable, Equatable {
    public var name: String
    public var value: [String]
    public var count: Int?

    public init(_ name: String, _ value: [String], count: Int? = 1) {
        self.name = name
        self.value = value
        self.count = count
    }

    /// A one-token part.
    public init(_ name: String, _ value: String) {
        self.init(name, [value], count: 1)
    }

    /// A one-token part holding an integer.
    public init(_ name: String, _ value: Int) {
        self.init(name, [String(value)], count: 1)
    }

    /// A part that takes the rest of the line (a list, possibly empty).
    public static func rest(_ name: String, _ value: [String]) -> AnswerPart {
        AnswerPart(name, value, count: nil)
    }
}

/// One question: its id in the answer file, what it asks, its answer and why.
public struct ExerciseQuestion: Sendable, Equatable {
    public var id: String
    public var prompt: String
    public var parts: [AnswerPart]
    public var explanation: String

    public init(id: String, prompt: String, parts: [AnswerPart], explanation: String) {
        precondition(
            parts.dropLast().allSatisfy { $0.count != nil },
            "ExerciseQuestion: only the last part may be open")
        self.id = id
        self.prompt = prompt
        self.parts = parts
        self.explanation = explanation
    }

    /// The answer as an answer line writes it (after `ID: `).
    public var answerText: String {
        self.parts.map { $0.value.isEmpty ? "-" : $0.value.joined(separator: " ") }.joined(separator: " ")
    }

    /// What the answer line must hold, for the problem text: `minflt majflt rss`.
    public var form: String {
        self.parts.map { part in
            switch part.count {
            case nil: "\(part.name)…"
            case 1: part.name
            case let n?: "\(part.name)×\(n)"
            }
        }.joined(separator: " ")
    }
}

/// A bad answer file: the file, line and column, and what is wrong.
public struct AnswerFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public var description: String {
        guard let line else { return "\(self.file): \(self.message)" }
        return "\(self.file):\(line):\(self.column ?? 1): \(self.message)"
    }
}

/// The verdict on one question.
public struct QuestionGrade: Sendable, Equatable {
    public var id: String
    public var correct: Bool
    /// One line: `correct`, or what was wrong and the answer.
    public var feedback: String
}

/// The verdict on an answer file.
public struct Grade: Sendable, Equatable {
    public var questions: [QuestionGrade]
    public var correct: Int { self.questions.filter(\.correct).count }
    public var total: Int { self.questions.count }
    public var allCorrect: Bool { self.correct == self.total }
}

/// A generated or OSTEP exercise: everything `--answers`, `--explain` and `--check` print.
public struct WorkedExercise: Sendable, Equatable {
    public var title: String
    /// What the student is given (machine, initial state, rules), before the questions.
    public var givens: String
    public var questions: [ExerciseQuestion]
    /// Notes after the worked solution (summary statistics, simplifications).
    public var epilogue: String

    public init(title: String, givens: String, questions: [ExerciseQuestion], epilogue: String = "") {
        precondition(Set(questions.map(\.id)).count == questions.count, "WorkedExercise: duplicate ids")
        self.title = title
        self.givens = givens
        self.questions = questions
        self.epilogue = epilogue
    }

    /// The problem: givens, then each question with the form of its answer line.
    public var problemText: String {
        var out = "\(self.title)\n\n\(self.givens)"
        if !out.hasSuffix("\n") { out += "\n" }
        out +=
            "\nQuestions (answer each with a line `ID: ANSWER`, ANSWER in the form in brackets; see --check):\n"
        for q in self.questions {
            out += "  \(q.id): \(q.prompt)  [\(q.form)]\n"
        }
        return out
    }

    /// The key as an answer file (grades as all correct).
    public var answerKey: String {
        var out = "# \(self.title)\n"
        for q in self.questions { out += "\(q.id): \(q.answerText)\n" }
        return out
    }

    /// The worked solution: each question, its answer and the reasoning.
    public var explained: String {
        var out = "\(self.title)\n\n\(self.givens)"
        if !out.hasSuffix("\n") { out += "\n" }
        out += "\nWorked solution:\n"
        for q in self.questions {
            out += "  \(q.id): \(q.prompt)\n"
            out += "      answer: \(q.answerText)\n"
            for line in q.explanation.split(separator: "\n", omittingEmptySubsequences: false) {
                out += "      \(line)\n"
            }
        }
        if !self.epilogue.isEmpty {
            out += "\n" + self.epilogue
            if !out.hasSuffix("\n") { out += "\n" }
        }
        return out
    }

    /// Reads an answer file: ID → (tokens, line, column of the answer).
    public static func parseAnswers(_ bytes: [UInt8], file: String, ids: Set<String>) throws(AnswerFileError)
        -> [String: (tokens: [String], line: Int)]
    {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            // Line and column of the first byte that does not begin a valid sequence.
            var line = 1
            var column = 1
            var index = 0
            while index < bytes.count {
                let length = WorkedExercise.sequenceLength(bytes, at: index)
                if length == 0 { break }
                if bytes[index] == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
                index += length
            }
            throw AnswerFileError(file: file, line: line, column: column, message: "not UTF-8 text")
        }
        var answers: [String: (tokens: [String], line: Int)] = [:]
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            guard line.contains(where: { !$0.isWhitespace }) else { continue }
            let leading = line.prefix(while: { $0 == " " || $0 == "\t" }).count
            guard let colon = line.firstIndex(of: ":") else {
                throw AnswerFileError(
                    file: file, line: number, column: leading + 1, message: "expected `ID: ANSWER`")
            }
            let id = line[..<colon].trimmingWhitespace()
            guard !id.isEmpty else {
                throw AnswerFileError(
                    file: file, line: number, column: leading + 1, message: "missing question id")
            }
            guard ids.contains(id) else {
                throw AnswerFileError(
                    file: file, line: number, column: leading + 1,
                    message: "no question '\(id)' in this exercise")
            }
            if let earlier = answers[id] {
                throw AnswerFileError(
                    file: file, line: number, column: leading + 1,
                    message: "question '\(id)' answered twice (first on line \(earlier.line))")
            }
            answers[id] = (WorkedExercise.tokens(line[line.index(after: colon)...]), number)
        }
        return answers
    }

    /// The length of the valid UTF-8 sequence at `index`, or 0 if none starts there.
    static func sequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length =
            lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
        guard length > 0, index + length <= bytes.count else { return 0 }
        return String(validating: bytes[index..<(index + length)], as: UTF8.self) == nil ? 0 : length
    }

    /// Splits an answer into tokens: spaces and commas separate, brackets vanish, lower case.
    /// A lone `-` stands for an empty list.
    public static func tokens<S: StringProtocol>(_ text: S) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text {
            if ch == " " || ch == "\t" || ch == "," || ch == "\r" {
                if !current.isEmpty { out.append(current) }
                current = ""
            } else if "[](){}".contains(ch) {
                continue
            } else {
                current += ch.lowercased()
            }
        }
        if !current.isEmpty { out.append(current) }
        return out == ["-"] ? [] : out
    }

    /// Two tokens are the same answer: equal ignoring case, or the same integer.
    static func same(_ a: String, _ b: String) -> Bool {
        if a.lowercased() == b.lowercased() { return true }
        if let x = WorkedExercise.integer(a), let y = WorkedExercise.integer(b) { return x == y }
        return false
    }

    static func integer(_ s: String) -> Int? {
        let lower = s.lowercased()
        if lower.hasPrefix("0x") { return Int(lower.dropFirst(2), radix: 16) }
        if lower.hasPrefix("-0x") { return Int(lower.dropFirst(3), radix: 16).map { -$0 } }
        return Int(lower)
    }

    /// Grades an answer file: each question correct, wrong (with the answer and the reasoning),
    /// or not answered.
    public func grade(_ bytes: [UInt8], file: String) throws(AnswerFileError) -> Grade {
        let answers = try WorkedExercise.parseAnswers(bytes, file: file, ids: Set(self.questions.map(\.id)))
        var grades: [QuestionGrade] = []
        for q in self.questions {
            guard let given = answers[q.id] else {
                grades.append(
                    QuestionGrade(
                        id: q.id, correct: false, feedback: "not answered; the answer is \(q.answerText)"))
                continue
            }
            grades.append(self.grade(q, given.tokens))
        }
        return Grade(questions: grades)
    }

    func grade(_ q: ExerciseQuestion, _ tokens: [String]) -> QuestionGrade {
        let fixed = q.parts.compactMap(\.count).reduce(0, +)
        let open = q.parts.last?.count == nil
        if tokens.count < fixed || (!open && tokens.count != fixed) {
            return QuestionGrade(
                id: q.id, correct: false,
                feedback:
                    "expected \(open ? "at least " : "")\(fixed) value\(fixed == 1 ? "" : "s") (\(q.form)), got \(tokens.count); the answer is \(q.answerText)"
            )
        }
        var position = 0
        var wrong: [String] = []
        for part in q.parts {
            let take = part.count ?? (tokens.count - position)
            let given = Array(tokens[position..<(position + take)])
            position += take
            let right =
                given.count == part.value.count
                && zip(given, part.value).allSatisfy { WorkedExercise.same($0, $1) }
            if !right {
                let said = given.isEmpty ? "-" : given.joined(separator: " ")
                let key = part.value.isEmpty ? "-" : part.value.joined(separator: " ")
                wrong.append("\(part.name) is \(key), not \(said)")
            }
        }
        if wrong.isEmpty { return QuestionGrade(id: q.id, correct: true, feedback: "correct") }
        return QuestionGrade(id: q.id, correct: false, feedback: "wrong: " + wrong.joined(separator: "; "))
    }

    /// The feedback `--check` prints: a line per question (with the reasoning after a wrong
    /// answer) and the score.
    public func report(_ grade: Grade) -> String {
        var out = ""
        for (q, g) in zip(self.questions, grade.questions) {
            out += "\(g.id): \(g.feedback)\n"
            if !g.correct {
                for line in q.explanation.split(separator: "\n") { out += "    \(line)\n" }
            }
        }
        out += "score: \(grade.correct)/\(grade.total)\n"
        return out
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
