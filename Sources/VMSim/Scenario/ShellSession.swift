import VMCore
import VMTypes

/// The state of an interactive `vmsim shell`: one booted kernel, the static picture of
/// processes and regions, and the history of lines entered.
public final class ShellSession {
    public let runner: ScenarioRunner
    var parser = ScenarioParser(file: "shell")
    public private(set) var history: [String] = []
    let write: (String) -> Void

    public init(overrides: [(String, String)], trace: Bool, write: @escaping (String) -> Void)
        throws(ScenarioError)
    {
        self.write = write
        self.runner = try ScenarioRunner(scenario: nil, overrides: overrides, trace: trace, write: write)
        self.parser.sawCommand = true
    }

    /// Handles one line; returns false when the session should end.
    public func handle(_ line: String) -> Bool {
        let trimmed = line.trimmingCharacters()
        switch trimmed {
        case "": return true
        case "quit", "exit": return false
        case "help":
            self.write(ShellSession.help)
            return true
        case "history":
            for (i, entry) in self.history.enumerated() { self.write("\(Pad.right(i + 1, 4))  \(entry)") }
            return true
        default:
            break
        }
        self.history.append(trimmed)
        do {
            guard let statement = try self.parser.parseLine(trimmed, number: self.history.count) else {
                return true
            }
            if case .machine = statement.command {
                self.write("shell: the machine is fixed at start; pass machine flags to 'vmsim shell'")
                return true
            }
            self.runner.execute(statement)
        } catch {
            self.write(error.description)
        }
        return true
    }

    public static let help = """
        Commands (a line of a scenario; see examples/):
          spawn NAME [text=SIZE] [data=SIZE] [bss=SIZE] [image=PATH]
          NAME: mmap REGION SIZE [anon|file=PATH] [private|shared] [rw|r|rx|rwx|none] [at=ADDR] [populate] [locked]
          NAME: read|write|fetch REF [value=N] [stride=SIZE] [expect segv|sigbus]
          NAME: munmap REF | mprotect REF PROT | madvise REF ADVICE | mlock REF | munlock REF | brk +SIZE|-SIZE
          NAME: fork CHILD | exit [CODE] | wait [CHILD] | expect REF == N
          expect NAME.FIELD|vmstat.NAME|meminfo.NAME OP VALUE      reset counters
          show meminfo|vmstat|buddyinfo|zoneinfo|slabinfo|vmallocinfo|dmesg|lru|tlb|processes
          show NAME maps|smaps|status|pagetable|pagemap [REF]      (several: separate with |)
          translate NAME REF [read|write|execute]
        REF: REGION, REGION[OFFSET], REGION[START:END], 0xADDRESS. Sizes: B KiB MiB GiB p (pages).
        Shell: help, history, quit.
        """
}
