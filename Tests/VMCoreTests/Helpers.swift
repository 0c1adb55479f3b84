import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

func bootKernel(memory: UInt64 = 256 << 20, arch: Architecture = .x86_64) -> Kernel {
    var config = MachineConfig()
    config.memory = memory
    config.architecture = arch
    do { return try Kernel(config: config) } catch { fatalError("boot failed: \(error)") }
}

extension Kernel {
    /// Free pages including the per-CPU lists (what can still be allocated).
    var freeAndPCP: Int { self.phys.freePages + self.phys.pcp.reduce(0) { $0 + $1.count } }

    func anonMap(_ task: Task, _ length: UInt64, prot: Protection = [.read, .write], shared: Bool = false)
        -> UInt64
    {
        do { return try self.mmap(task, MapRequest(length: length, protection: prot, shared: shared)) } catch
        { fatalError("mmap: \(error)") }
    }

    @discardableResult
    func write(_ task: Task, _ va: UInt64, _ value: UInt64) -> AccessResult {
        self.userAccess(task, address: va, access: .write, value: value)
    }
    func read(_ task: Task, _ va: UInt64) -> AccessResult {
        self.userAccess(task, address: va, access: .read)
    }
}
