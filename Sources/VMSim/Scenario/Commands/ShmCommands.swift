import VMCore
import VMTypes

/// `NAME: shm REGION SIZE key=K [r|rw]`: `shmget(2)` (creating the segment) + `shmat(2)`.
struct ShmCommand: ScenarioCommand {
    var region: String
    var size: UInt64
    var key: Int
    var readOnly: Bool

    static let syntax = CommandSyntax(
        names: ["shm"], scope: .process, group: .shm, usage: ["shm REGION SIZE key=KEY [r|rw]"],
        summary: "shmget(2) + shmat(2); key 0 is IPC_PRIVATE")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let name = try words.next("'shm REGION SIZE key=KEY [r|rw]'")
        guard words.count >= 1 else {
            throw words.error(name.endColumn, "expected a size after the region name")
        }
        try context.checkNewRegionName(name, words)
        let size = try words.size(try words.next("a size"), pageSize: context.pageSize)
        let (opts, flags) = try words.options(allowed: ["key"], flags: ["r", "rw"])
        var key = 0
        if let k = opts["key"] {
            guard let v = Int(k.text), v >= 0, v <= Int(Int32.max) else {
                throw words.error(at: k, "'\(k.text)' is not a key (0 … 2147483647; 0 is IPC_PRIVATE)")
            }
            key = v
        }
        context.setRegion(name.text, size: context.pageRounded(size))
        return ShmCommand(region: name.text, size: size, key: key, readOnly: flags.contains("r"))
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withActor(statement) { task throws(MMError) in
            let id = try runner.kernel.shmget(task, key: self.key, size: self.size)
            let start = try runner.kernel.shmat(task, id: id, readOnly: self.readOnly)
            runner.regions[task.pid, default: [:]][self.region] = (start, runner.kernel.pageAlign(self.size))
        }
    }
}

/// `NAME: shmdt REGION`: `shmdt(2)` of a segment attached with `shm`.
struct ShmdtCommand: ScenarioCommand {
    var region: String

    static let syntax = CommandSyntax(
        names: ["shmdt"], scope: .process, group: .shm, usage: ["shmdt REGION"], summary: "shmdt(2)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let t = try words.next("a region attached with 'shm'")
        try words.finish()
        guard context.processes[context.actor]?.regions[t.text] != nil else {
            let known = context.processes[context.actor]?.regions.keys.sorted().joined(separator: ", ") ?? ""
            throw words.error(at: t, "\(context.actor) has no region '\(t.text)' (regions: \(known))")
        }
        context.setRegion(t.text, size: nil)
        return ShmdtCommand(region: t.text)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.withActor(statement) { task throws(MMError) in
            guard let r = runner.regions[task.pid]?[self.region] else {
                throw .invalid("\(self.region) is not attached")
            }
            try runner.kernel.shmdt(task, address: r.start)
            runner.regions[task.pid]?[self.region] = nil
        }
    }
}

/// `shmrm key=K`: `shmctl(IPC_RMID)`; the segment goes when the last process detaches.
struct ShmrmCommand: ScenarioCommand {
    var key: Int

    static let syntax = CommandSyntax(
        names: ["shmrm"], scope: .global, group: .shm, usage: ["shmrm key=KEY"],
        summary: "shmctl(IPC_RMID): removed at the last detach")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        guard words.count == 1, let k = words.peek(), k.text.hasPrefix("key="),
            let key = Int(k.text.dropFirst(4)),
            key > 0, key <= Int(Int32.max)
        else { throw words.error(words.head.endColumn, "expected 'shmrm key=KEY' (a key other than 0)") }
        _ = words.takeRest()
        return ShmrmCommand(key: key)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        runner.global(statement) { () throws(MMError) in
            guard let segment = runner.kernel.shmSegments.first(where: { $0.key == self.key }) else {
                throw .invalid("no segment with key \(self.key)")
            }
            try runner.kernel.shmRemove(id: segment.id)
        }
    }
}
