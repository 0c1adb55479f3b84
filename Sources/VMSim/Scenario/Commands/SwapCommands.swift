import VMCore
import VMTypes

/// `swapon PATH size=SIZE [partition|file] [priority=N]`.
struct SwaponCommand: ScenarioCommand {
    var path: String
    var size: UInt64
    var kind: SwapKind
    var priority: Int?

    static let syntax = CommandSyntax(
        names: ["swapon"], scope: .global, group: .swap,
        usage: ["swapon PATH size=SIZE [partition|file] [priority=N]"],
        summary: "swapon(2): a partition or a swap file")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let p = try words.next("'swapon PATH size=SIZE [partition|file] [priority=N]'")
        try context.checkPath(p, words)
        let (opts, flags) = try words.options(allowed: ["size", "priority"], flags: ["partition", "file"])
        guard let sizeToken = opts["size"] else { throw words.error(p.endColumn, "expected size=SIZE") }
        var priority: Int?
        if let t = opts["priority"] {
            guard let n = Int(t.text), (-32768...32767).contains(n) else {
                throw words.error(at: t, "'\(t.text)' is not a priority (-32768 … 32767)")
            }
            priority = n
        }
        return SwaponCommand(
            path: p.text, size: try words.size(sizeToken, pageSize: context.pageSize),
            kind: flags.contains("file") ? .file : .partition, priority: priority)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.global(statement) { () throws(MMError) in
            _ = try runner.kernel.swapon(self.path, size: self.size, kind: self.kind, priority: self.priority)
        }
    }
}

/// `swapoff PATH`: every swapped page comes back (`try_to_unuse()`), or ENOMEM.
struct SwapoffCommand: PathCommand {
    var path: String
    static let syntax = CommandSyntax(
        names: ["swapoff"], scope: .global, group: .swap, usage: ["swapoff PATH"],
        summary: "swapoff(2): bring every page back")
    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.global(statement) { () throws(MMError) in try runner.kernel.swapoff(self.path) }
    }
}
