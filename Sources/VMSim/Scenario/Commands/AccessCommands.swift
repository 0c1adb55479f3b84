import VMCore
import VMPaging
import VMTypes

/// `NAME: read REF`, `write REF [value=N]`, `fetch REF`, each `[stride=SIZE]` and optionally
/// `expect segv|sigbus|oom`: user-mode accesses through the MMU, one per page (or per stride).
///
/// A bad access ends the line: without a handler the signal kills the process; with one (`on
/// segv continue`) the handler returns past the access as `siglongjmp()` does, out of the loop
/// that makes the line's accesses, so the pages after it are not touched (Linux delivers the
/// signal at the first bad page; tools/kernel-truth/signals.c's `loop_*` cases show the fourth
/// page of such a loop never present).
struct AccessCommand: ScenarioCommand {
    var access: Access
    var ref: MemoryRef
    var stride: UInt64?
    var value: UInt64?
    /// The signal the access must end the process with (SIGKILL for the OOM killer).
    var expectSignal: Signal?

    static let syntax = CommandSyntax(
        names: ["read", "write", "fetch"], scope: .process, group: .memory,
        usage: [
            "read REF [stride=SIZE] [expect segv|sigbus|oom]",
            "write REF [value=N] [stride=SIZE] [expect segv|sigbus|oom]", "fetch REF [stride=SIZE]",
        ],
        summary: "loads, stores, instruction fetches (one per page)")

    static func parse(_ words: inout Words, _ context: inout ParseContext) throws(ScenarioError) -> Self {
        let ref = try context.memoryRef(try words.next("a region or address"), words)
        var remaining = words.takeRest()
        var expectSignal: Signal?
        if remaining.count >= 2, remaining[remaining.count - 2].text == "expect" {
            let s = remaining.removeLast()
            remaining.removeLast()
            switch s.text {
            case "segv": expectSignal = .sigsegv
            case "sigbus", "bus": expectSignal = .sigbus
            case "oom", "sigkill": expectSignal = .sigkill
            default: throw words.error(at: s, "expected 'segv', 'sigbus' or 'oom' after 'expect'")
            }
        }
        var options = Words(file: words.file, line: words.line, head: words.head, tokens: remaining)
        let isWrite = words.head.text == "write"
        let (opts, _) = try options.options(allowed: isWrite ? ["value", "stride"] : ["stride"])
        let stride = try opts["stride"].map { (t: Token) throws(ScenarioError) in
            try words.size(t, pageSize: context.pageSize)
        }
        let value = try opts["value"].map { (t: Token) throws(ScenarioError) in
            try words.number(t, pageSize: context.pageSize)
        }
        let access: Access = words.head.text == "read" ? .read : isWrite ? .write : .execute
        // A process killed by the expected signal is gone for the rest of the scenario; one
        // that catches it runs on.
        if let s = expectSignal, !context.catches(s) { context.endProcess(context.actor) }
        return AccessCommand(
            access: access, ref: ref, stride: stride, value: value, expectSignal: expectSignal)
    }

    func execute(_ runner: ScenarioRunner, _ statement: Statement) {
        guard let name = statement.process, let task = runner.actor(statement) else { return }
        guard let range = runner.resolve(self.ref, task) else {
            runner.refuse(statement, "\(self.ref) is not mapped")
            return
        }
        let kernel = runner.kernel
        let step = self.stride ?? kernel.phys.pageSize
        var address = range.lowerBound
        var signal: (Signal, UInt64, String)?
        var caught = false
        while true {
            guard runner.chargeAccess(statement) else { return }
            let word = self.value ?? ((UInt64(task.pid) << 32) | (address >> UInt64(kernel.phys.pageShift)))
            switch kernel.userAccess(task, address: address, access: self.access, value: word) {
            case .ok: break
            case .signal(let info): signal = (info.signal, info.address, info.description)
            case .caught(let info):
                signal = (info.signal, info.address, info.description)
                caught = true
            case .outOfMemory: signal = (.sigkill, address, "VM_FAULT_OOM: the OOM killer chose it")
            }
            if signal != nil { break }
            let (next, overflow) = address.addingReportingOverflow(step)
            guard !overflow, next <= range.upperBound else { break }
            address = next
        }
        let expectedName = { (s: Signal) in s == .sigkill ? "the OOM killer" : s.name }
        if let (s, a, reason) = signal, caught {
            let note = "caught by the handler, which returns past it: the rest of the line is skipped"
            if s == self.expectSignal {
                runner.pass()
                runner.write("\(name)[\(task.pid)]: \(s.name) at \(hex(a)) (\(reason)) — expected, \(note)")
            } else {
                runner.write("\(name)[\(task.pid)]: \(s.name) at \(hex(a)) (\(reason)) \(note)")
                if let expected = self.expectSignal {
                    runner.fail(statement, "expected \(expectedName(expected)), got \(s.name) (caught)")
                }
            }
        } else if let (s, a, reason) = signal {
            let what = s == .sigkill ? "killed (out of memory)" : s.name
            if s == self.expectSignal {
                runner.pass()
                runner.write("\(name)[\(task.pid)]: \(what) at \(hex(a)) (\(reason)) — expected")
            } else {
                runner.write("\(name)[\(task.pid)]: \(what) at \(hex(a)) (\(reason)); the process is killed")
                if let expected = self.expectSignal {
                    runner.fail(statement, "expected \(expectedName(expected)), got \(what)")
                }
            }
        } else if let expected = self.expectSignal {
            runner.fail(statement, "expected \(expectedName(expected)), but the access succeeded")
        }
    }
}
