import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

/// Regression tests for issue 11's kernel classes: swap-area limits and their host footprint,
/// the page cache bounded by RAM, kernel loops that stop on a fatal signal, swapoff against
/// OOM kills, active swap files, and negative dentries.
@Suite struct KernelBoundsTests {
    func machine(memory: UInt64 = 64 << 20, swap: UInt64 = 0, arch: Architecture = .x86_64) throws -> Kernel {
        var config = MachineConfig()
        config.memory = memory
        config.swap = swap
        config.architecture = arch
        return try Kernel(config: config)
    }

    /// Spawns `name` with `pages` private anonymous pages, page i holding `tag << 32 | i`.
    func process(_ k: Kernel, _ name: String, pages: Int, tag: Int) throws -> (Task, UInt64) {
        let t = try k.spawn(name: name)
        let start = try k.mmap(
            t, MapRequest(length: UInt64(pages) << 12, protection: [.read, .write], shared: false))
        for i in 0..<pages { _ = k.write(t, start + UInt64(i) << 12, UInt64(tag << 32 | i)) }
        return (t, start)
    }

    // MARK: swapoff against OOM kills (class 4)

    /// A 64 MiB machine whose three processes (56 + 8 + 8 MiB) are mostly on swap: bringing
    /// everything back cannot fit, so swapping in OOM-kills the big process while swapoff is
    /// walking its page tables. The walk holds the mm, so it stays valid; the kill reaps its
    /// memory, the walk skips it, swapoff completes and the others read back every value.
    @Test func swapoffSurvivesAnOOMKillOfTheProcessItIsSwappingIn() throws {
        let k = try self.machine(swap: 256 << 20)
        var procs: [(Task, UInt64, Int)] = []
        for (tag, mib) in [56, 8, 8].enumerated() {
            let (t, start) = try self.process(k, "p\(tag)", pages: mib << 8, tag: tag)
            procs.append((t, start, mib << 8))
        }
        #expect(k.swapAreas[0].inUse > 16 << 8)
        try k.swapoff("/dev/sda2")
        #expect(k.swapAreas.isEmpty)
        #expect(k.phys.events(.oomKill) >= 1)
        #expect(procs[0].0.state != .running)
        #expect(k.checkInvariants().isEmpty)
        for (tag, (t, start, pages)) in procs.enumerated().dropFirst() {
            #expect(t.state == .running)
            for i in stride(from: 0, to: pages, by: 7) {
                #expect(k.read(t, start + UInt64(i) << 12).value == UInt64(tag << 32 | i))
            }
        }
        #expect(k.checkInvariants().isEmpty)
    }
}
