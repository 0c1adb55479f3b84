import VMTypes

/// Reads scenarios: splits the text into lines and words, finds each line's command in
/// `CommandTable`, and lets the command parse its words against the static picture
/// (`ParseContext`) — so a scenario with an error anywhere runs nothing.
public struct ScenarioParser: Sendable {
    public private(set) var context: ParseContext
    public var file: String { self.context.file }

    public init(file: String, pageSize: UInt64 = 4096) {
        self.context = ParseContext(file: file, pageSize: pageSize)
    }

    /// Marks the scenario as started, so `machine` is no longer accepted (the shell's machine
    /// is booted from flags).
    public mutating func markStarted() { self.context.sawCommand = true }

    /// Parses a whole scenario given as bytes (lines end with `\n` or `\r\n`; the text must be
    /// UTF-8); throws the first error.
    public static func parse(bytes: [UInt8], file: String, pageSize: UInt64 = 4096) throws(ScenarioError)
        -> Scenario
    {
        var parser = ScenarioParser(file: file, pageSize: pageSize)
        var statements: [Statement] = []
        for (i, line) in try ScenarioLexer.lines(bytes, file: file).enumerated() {
            if let statement = try parser.parseLine(line, number: i + 1) { statements.append(statement) }
        }
        return Scenario(name: file, statements: statements)
    }

    /// Parses a whole scenario; throws the first error.
    public static func parse(_ text: String, file: String, pageSize: UInt64 = 4096) throws(ScenarioError)
        -> Scenario
    {
        try Self.parse(bytes: Array(text.utf8), file: file, pageSize: pageSize)
    }

    /// Parses one line (nil for blank lines and comments) and updates the static picture. On an
    /// error the picture is left as it was before the line: the line's changes are journaled
    /// and undone (`ParseContext.rollBack()`). The picture is changed in place, never copied, so
    /// a line costs the same with 10 regions or 60,000.
    public mutating func parseLine(_ line: String, number: Int) throws(ScenarioError) -> Statement? {
        self.context.beginLine()
        do {
            return try self.parseLineInPlace(line, number: number)
        } catch {
            self.context.rollBack()
            throw error
        }
    }

    mutating func parseLineInPlace(_ line: String, number: Int) throws(ScenarioError) -> Statement? {
        var tokens = ScenarioLexer.tokenize(line)
        guard !tokens.isEmpty else { return nil }
        let location = ScenarioLocation(file: self.file, line: number, column: tokens[0].column)
        self.context.process = nil
        let first = tokens[0]
        if first.text.hasSuffix(":") && !first.text.contains("=") && !first.text.hasPrefix("/") {
            let name = String(first.text.dropLast())
            guard self.context.processes[name] != nil else {
                throw ScenarioError(
                    location: location, message: "unknown process '\(name)'" + self.context.knownProcesses())
            }
            self.context.process = name
            tokens.removeFirst()
            guard !tokens.isEmpty else {
                throw ScenarioError(
                    location: ScenarioLocation(file: self.file, line: number, column: first.endColumn),
                    message: "expected a command after '\(name):'")
            }
        }
        let head = tokens[0]
        var words = Words(file: self.file, line: number, head: head, tokens: Array(tokens.dropFirst()))
        guard let type = CommandTable.command(named: head.text, forProcess: self.context.process != nil)
        else {
            throw self.unknownCommand(head, words, self.context)
        }
        let actor = self.context.process
        let command = try type.parse(&words, &self.context)
        self.context.sawCommand = true
        self.context.process = nil
        return Statement(
            location: location, process: actor, command: command,
            text: line.trimmingCharacters().escapingControlCharacters)
    }

    func unknownCommand(_ head: Token, _ words: Words, _ context: ParseContext) -> ScenarioError {
        if context.process != nil {
            return words.error(
                at: head,
                "unknown command '\(head.text)' (expected \(CommandTable.processCommandNames.joined(separator: ", ")))"
            )
        }
        if context.processes[head.text] != nil {
            return words.error(at: head, "missing ':' after the process name '\(head.text)'")
        }
        return words.error(
            at: head,
            "unknown command '\(head.text)' (expected \(CommandTable.globalCommandNames.joined(separator: ", ")), or PROCESS: COMMAND)"
        )
    }

    /// The names the language knows, for `help` and completion.
    public static var processCommands: [String] { CommandTable.processCommandNames }
    public static var globalCommands: [String] { CommandTable.globalCommandNames }
}
