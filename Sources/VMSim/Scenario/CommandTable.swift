/// One command of the scenario language: how it is written, how it is parsed (and checked
/// against the static picture), and what it does when it runs.
///
/// Every command is a type conforming to this protocol and listed once in
/// `CommandTable.all`; the parser, `help`, the shell's completion and the documentation's
/// command list all come from that table, so adding a command is adding one type.
public protocol ScenarioCommand: Sendable {
    /// The command's words, usage and one-line summary.
    static var syntax: CommandSyntax { get }
    /// Parses the words after the command name (`words.head`), updating the static picture.
    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self
    /// Runs the command on the runner's kernel, reporting refusals and failures through it.
    func execute(_ runner: ScenarioRunner, _ statement: Statement)
}

/// How a command is written and what it is for.
public struct CommandSyntax: Sendable {
    /// Who runs the command: a process (`NAME: mmap …`), the machine (`file …`), or either.
    public enum Scope: Sendable { case process, global, either }
    /// The groups `help` lists commands in.
    public enum Group: String, Sendable, CaseIterable {
        case machine = "Machine and time"
        case processes = "Processes"
        case memory = "Memory"
        case files = "Files and the page cache"
        case shm = "Shared memory"
        case swap = "Swap and reclaim"
        case cgroups = "Memory cgroups (cgroup v2)"
        case checks = "Checks and reports"
    }

    /// The words that start the command (`mlock` and `munlock` share one type).
    public var names: [String]
    public var scope: Scope
    public var group: Group
    /// How the command is written, e.g. `mmap REGION SIZE [anon|file=PATH] …`.
    public var usage: [String]
    /// What it does, in a line.
    public var summary: String

    public init(names: [String], scope: Scope, group: Group, usage: [String], summary: String) {
        self.names = names
        self.scope = scope
        self.group = group
        self.usage = usage
        self.summary = summary
    }
}

/// Every command of the language, and lookups by name.
public enum CommandTable {
    /// The commands, in the order `help` lists them within each group.
    public static let all: [any ScenarioCommand.Type] = [
        MachineCommand.self, SysctlCommand.self, TickCommand.self, ResetCountersCommand.self,
        SpawnCommand.self, ForkCommand.self, ExitCommand.self, WaitCommand.self, OOMScoreAdjCommand.self,
        SetrlimitCommand.self, SignalActionCommand.self,
        MmapCommand.self, MunmapCommand.self, MprotectCommand.self, MadviseCommand.self, MlockCommand.self,
        BrkCommand.self, AccessCommand.self, MallocCommand.self, MallocTuneCommand.self,
        FileCommand.self, MkdirCommand.self, FreadCommand.self, FwriteCommand.self, FsyncCommand.self,
        CloseCommand.self, FadviseCommand.self, MsyncCommand.self, TruncateCommand.self, UnlinkCommand.self,
        SyncCommand.self, DropCachesCommand.self,
        ShmCommand.self, ShmdtCommand.self, ShmrmCommand.self,
        SwaponCommand.self, SwapoffCommand.self,
        CgroupCommand.self, MoveCommand.self,
        ExpectCommand.self, ShowCommand.self, TranslateCommand.self,
    ]

    static let processTable: [String: any ScenarioCommand.Type] = Self.index { $0 != .global }
    static let globalTable: [String: any ScenarioCommand.Type] = Self.index { $0 != .process }

    static func index(_ include: (CommandSyntax.Scope) -> Bool) -> [String: any ScenarioCommand.Type] {
        var table: [String: any ScenarioCommand.Type] = [:]
        for type in Self.all where include(type.syntax.scope) {
            for name in type.syntax.names {
                precondition(table[name] == nil, "CommandTable: '\(name)' is defined twice")
                table[name] = type
            }
        }
        return table
    }

    /// The command types a process runs (`NAME: WORD`) or the machine runs (`WORD`).
    public static func command(named name: String, forProcess: Bool) -> (any ScenarioCommand.Type)? {
        forProcess ? Self.processTable[name] : Self.globalTable[name]
    }

    /// The words that start a process command / a global command, in table order.
    public static var processCommandNames: [String] { Self.names { $0 != .global } }
    public static var globalCommandNames: [String] { Self.names { $0 != .process } }

    static func names(_ include: (CommandSyntax.Scope) -> Bool) -> [String] {
        var names: [String] = []
        for type in Self.all where include(type.syntax.scope) { names += type.syntax.names }
        return names
    }

    /// The `help` text: every command's usage and summary, by group, from the table.
    public static var help: String {
        var lines: [String] = ["Commands (a line of a scenario; see docs/SCENARIOS.md and examples/):"]
        for group in CommandSyntax.Group.allCases {
            lines.append("")
            lines.append(group.rawValue + ":")
            for type in Self.all where type.syntax.group == group {
                let syntax = type.syntax
                let prefix = syntax.scope == .process ? "NAME: " : ""
                for (i, usage) in syntax.usage.enumerated() {
                    let text = "  " + prefix + usage
                    if i == 0 {
                        lines.append(text.count < 56 ? Pad.left(text, 56) + syntax.summary : text)
                        if text.count >= 56 {
                            lines.append(String(repeating: " ", count: 56) + syntax.summary)
                        }
                    } else {
                        lines.append(text)
                    }
                }
            }
        }
        lines.append("")
        lines.append(
            "REF: REGION, REGION[OFFSET], REGION[START:END], 0xADDRESS[…]. FILEREF: PATH, PATH[START:END].")
        lines.append("Sizes: B KiB MiB GiB TiB p (pages); numbers may be 0x… hexadecimal; times ns us ms s.")
        lines.append(
            "A path a 'cgroup' line declared is a cgroup, any other path a file: expect /app:memory.current … and"
        )
        lines.append("show /app memory.stat read the cgroup /app once 'cgroup /app' came before them.")
        return lines.joined(separator: "\n")
    }
}
