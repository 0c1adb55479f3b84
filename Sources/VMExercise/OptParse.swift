/// Python's `optparse.OptionParser`, for the option kinds the OSTEP scripts declare.
///
/// A port of Lib/optparse.py (identical in 2.7 and 3.11 for this subset): `-h/--help` added first;
/// short options clustered (`-cv`) with a value attached (`-s5`) or in the next argument, even one
/// starting with a dash; long options with `=value` or a following argument, abbreviated to any
/// unique prefix; `--` ends the options; other arguments are collected and ignored. Errors print
/// the usage line and `PROG: error: MESSAGE` to standard error and exit 2; help goes to standard
/// output and exits 0. Help text is folded by `pythonTextWrap` to `$COLUMNS - 2` columns (78 when
/// unset), like `IndentedHelpFormatter`.
struct OptionParser {
    enum Action {
        case storeString
        case storeInt
        case storeTrue
        case help
    }

    struct Option {
        var shortNames: [String]
        var longNames: [String]
        var dest: String
        var action: Action
        var help: String?

        var takesValue: Bool { self.action == .storeString || self.action == .storeInt }
    }

    enum Value: Equatable {
        case string(String)
        case int(PyInt)
        case bool(Bool)
    }

    let prog: String
    private(set) var options: [Option] = []
    private(set) var defaults: [String: Value] = [:]

    init(prog: String) {
        self.prog = prog
        self.options.append(
            Option(
                shortNames: ["-h"], longNames: ["--help"], dest: "help", action: .help,
                help: "show this help message and exit"))
    }

    /// `parser.add_option(...)`: names like "-s" and "--seed".
    mutating func add(_ names: String..., dest: String, action: Action, default value: Value?, help: String?)
    {
        self.options.append(
            Option(
                shortNames: names.filter { !$0.hasPrefix("--") },
                longNames: names.filter { $0.hasPrefix("--") },
                dest: dest, action: action, help: help))
        if let value { self.defaults[dest] = value }
    }

    /// The parsed values (defaults filled in), or an exit after help or a usage error.
    func parse(_ arguments: [String], _ io: ScriptIO) throws -> [String: Value] {
        var values = self.defaults
        var rargs = arguments
        while let arg = rargs.first {
            if arg == "--" {
                break
            } else if arg.hasPrefix("--") {
                rargs.removeFirst()
                var opt = arg
                var explicit = false
                if let equals = arg.firstIndex(of: "=") {
                    opt = String(arg[..<equals])
                    rargs.insert(String(arg[arg.index(after: equals)...]), at: 0)
                    explicit = true
                }
                let name = try self.matchLong(opt, io)
                let option = self.options.first { $0.longNames.contains(name) }!
                var value: String?
                if option.takesValue {
                    if rargs.isEmpty { try self.error(self.requiresArgument(name, io), io) }
                    value = rargs.removeFirst()
                } else if explicit {
                    try self.error("\(name) option does not take a value", io)
                }
                try self.process(option, name, value, &values, io)
            } else if arg.hasPrefix("-") && arg.count > 1 {
                rargs.removeFirst()
                let characters = Array(arg)
                var i = 1
                while i < characters.count {
                    let name = "-" + String(characters[i])
                    i += 1
                    guard let option = self.options.first(where: { $0.shortNames.contains(name) }) else {
                        try self.error("no such option: \(name)", io)
                    }
                    var value: String?
                    var stop = false
                    if option.takesValue {
                        if i < characters.count {
                            rargs.insert(String(characters[i...]), at: 0)
                            stop = true
                        }
                        if rargs.isEmpty { try self.error(self.requiresArgument(name, io), io) }
                        value = rargs.removeFirst()
                    }
                    try self.process(option, name, value, &values, io)
                    if stop { break }
                }
            } else {
                rargs.removeFirst()
            }
        }
        return values
    }

    private func matchLong(_ opt: String, _ io: ScriptIO) throws -> String {
        let names = self.options.flatMap(\.longNames)
        if names.contains(opt) { return opt }
        let possibilities = names.filter { $0.hasPrefix(opt) }
        if possibilities.count == 1 { return possibilities[0] }
        if possibilities.isEmpty { try self.error("no such option: \(opt)", io) }
        let sorted = possibilities.sorted {
            Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value))
        }
        try self.error("ambiguous option: \(opt) (\(sorted.joined(separator: ", "))?)", io)
    }

    private func process(
        _ option: Option, _ name: String, _ value: String?, _ values: inout [String: Value], _ io: ScriptIO
    ) throws {
        switch option.action {
        case .storeString: values[option.dest] = .string(value!)
        case .storeTrue: values[option.dest] = .bool(true)
        case .storeInt:
            do {
                values[option.dest] = .int(try parseOptparseInt(value!, python: io.python))
            } catch {
                try self.error(
                    "option \(name): invalid integer value: \(pythonRepr(value!, python: io.python))", io)
            }
        case .help:
            io.write(self.formatHelp(columns: io.columns, python: io.python))
            throw ScriptExit(status: 0)
        }
    }

    /// Python 3's ngettext message, or Python 2.7's.
    private func requiresArgument(_ name: String, _ io: ScriptIO) -> String {
        io.python == .three ? "\(name) option requires 1 argument" : "\(name) option requires an argument"
    }

    /// `OptionParser.error`: usage and message on standard error, exit status 2.
    private func error(_ message: String, _ io: ScriptIO) throws -> Never {
        io.writeError("Usage: \(self.prog) [options]\n\n\(self.prog): error: \(message)\n")
        throw ScriptExit(status: 2)
    }

    /// `format_help()` of `IndentedHelpFormatter(width: columns - 2)`.
    func formatHelp(columns: Int, python: PythonVersion = .three) -> String {
        let width = columns - 2
        let strings = self.options.map { option -> String in
            let metavar = option.dest.uppercased()
            let shorts = option.shortNames.map { option.takesValue ? "\($0) \(metavar)" : $0 }
            let longs = option.longNames.map { option.takesValue ? "\($0)=\(metavar)" : $0 }
            return (shorts + longs).joined(separator: ", ")
        }
        let maxLength = strings.map { $0.count + 2 }.max() ?? 0
        // IndentedHelpFormatter: max_help_position = min(24, max(width - 20, 2 * indent_increment)).
        let helpPosition = min(maxLength + 2, min(24, max(width - 20, 4)))
        let helpWidth = max(width - helpPosition, 11)
        var out = "Usage: \(self.prog) [options]\n\nOptions:\n"
        for (option, opts) in zip(self.options, strings) {
            let optWidth = helpPosition - 2 - 2
            var indentFirst: Int
            if opts.count > optWidth {
                out += "  " + opts + "\n"
                indentFirst = helpPosition
            } else {
                out += "  " + opts + String(repeating: " ", count: optWidth - opts.count) + "  "
                indentFirst = 0
            }
            if let help = option.help {
                let lines = pythonTextWrap(help, width: helpWidth, python: python)
                out += String(repeating: " ", count: indentFirst) + (lines.first ?? "") + "\n"
                for line in lines.dropFirst() {
                    out += String(repeating: " ", count: helpPosition) + line + "\n"
                }
            } else if !out.hasSuffix("\n") {
                out += "\n"
            }
        }
        return out
    }
}

/// optparse's `_parse_num`: a `0x`/`0b`/`0` prefix picks base 16, 2 or 8, then `int(text, base)`.
func parseOptparseInt(_ text: String, python: PythonVersion) throws(PyException) -> PyInt {
    let lowered = String(text.prefix(2)).lowercased()
    if lowered == "0x" { return try pythonInt(text, base: 16, python: python) }
    if lowered == "0b" {
        let rest = String(text.dropFirst(2))
        return try pythonInt(rest.isEmpty ? "0" : rest, base: 2, python: python)
    }
    if text.hasPrefix("0") { return try pythonInt(text, base: 8, python: python) }
    return try pythonInt(text, base: 10, python: python)
}
