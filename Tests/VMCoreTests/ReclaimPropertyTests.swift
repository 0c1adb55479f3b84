import PropertyBased
import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

/// One process as the test sees it: its anonymous region and the last value written per page.
private struct Proc {
    var task: Task
    var anon: UInt64
    var fileMap: UInt64
    var values: [Int: UInt64] = [:]
}

@Suite struct ReclaimPropertyTests {
    static let anonPages = 4096
    static let filePages = 512

    func machine(swap: UInt64 = 64 << 20, mglru: Bool = false) -> Kernel {
        var config = MachineConfig()
        config.lruGen = mglru
        config.memory = 32 << 20
        config.kernelImage = 4 << 20
        config.swap = swap
        do { return try Kernel(config: config) } catch { fatalError("boot: \(error)") }
    }

    /// Several processes write and read working sets larger than RAM, fork and exit, and share
    /// a file mapping, with swap: every read returns the last value written — through
    /// copy-on-write, swap-out and swap-in, writeback and reload — and the kernel's books
    /// (swap map against page tables, swap cache, LRU, page cache) hold after every step — with
    /// the classic LRU and with the multi-generational one.
    @Test(arguments: [false, true])
    func nothingIsLostUnderMemoryPressure(mglru: Bool) async {
        await propertyCheck(count: 4, input: Gen.uint64(in: 0...UInt64.max).array(of: 20...60)) { ops in
            let k = self.machine(mglru: mglru)
            let page: UInt64 = 4096
            guard (try? k.installFile("/w/data", size: UInt64(Self.filePages) * page)) != nil else {
                Issue.record("setup")
                return
            }
            var fileValues: [Int: UInt64] = [:]
            let inode = k.file(at: "/w/data")!.inode
            for i in 0..<Self.filePages {
                fileValues[i] = SimFile.initialContent(inode: inode, index: UInt64(i))
            }
            func newProc(_ name: String) -> Proc? {
                guard let t = try? k.spawn(name: name), let fd = try? k.open(t, "/w/data"),
                    let anon = try? k.mmap(
                        t,
                        MapRequest(
                            length: UInt64(Self.anonPages) * page, protection: [.read, .write], shared: false)
                    ),
                    let fm = try? k.mmap(
                        t,
                        MapRequest(
                            length: UInt64(Self.filePages) * page, protection: [.read, .write], shared: true,
                            backing: .file(fd: fd, offset: 0)))
                else { return nil }
                return Proc(task: t, anon: anon, fileMap: fm)
            }
            let anonBaseline = k.phys.state(.nrAnonPages)
            var procs: [Proc] = []
            for n in 0..<2 { if let p = newProc("p\(n)") { procs.append(p) } }
            // Fill both working sets: 32 MiB of anonymous memory on a machine with 27 MiB free.
            for n in procs.indices {
                for idx in 0..<Self.anonPages {
                    let v = UInt64(n << 32 | idx) | 1
                    _ = k.userAccess(
                        procs[n].task, address: procs[n].anon + UInt64(idx) * page, access: .write, value: v)
                    procs[n].values[idx] = v
                }
            }
            for (step, op) in ops.enumerated() {
                let p = Int(op % UInt64(procs.count))
                let r = op >> 8
                let i = Int(r % UInt64(Self.anonPages))
                let value = op | 1
                let t = procs[p].task
                switch (op >> 4) % 14 {
                case 0, 1, 2:
                    // A sweep of writes: puts the machine under pressure.
                    let count = 64 + Int(r % 512)
                    for j in 0..<count {
                        let idx = (i + j * 3) % Self.anonPages
                        let v = value &+ UInt64(j)
                        guard
                            k.userAccess(
                                t, address: procs[p].anon + UInt64(idx) * page, access: .write, value: v
                            ).value == v
                        else {
                            Issue.record("step \(step): write failed")
                            return
                        }
                        procs[p].values[idx] = v
                    }
                case 3, 4, 5:
                    let count = 32 + Int(r % 256)
                    for j in 0..<count {
                        let idx = (i + j * 7) % Self.anonPages
                        let got = k.userAccess(t, address: procs[p].anon + UInt64(idx) * page, access: .read)
                            .value
                        #expect(got == (procs[p].values[idx] ?? 0), "step \(step): p\(p) page \(idx)")
                    }
                case 6 where procs.count < 4:
                    if let child = try? k.fork(t, childName: "c\(step)") {
                        var c = procs[p]
                        c.task = child
                        procs.append(c)
                    }
                case 7 where procs.count > 1:
                    k.exitTask(t, reason: .exited(code: 0))
                    procs.remove(at: p)
                    continue
                case 8, 9:
                    let fi = Int(r % UInt64(Self.filePages))
                    _ = k.userAccess(
                        t, address: procs[p].fileMap + UInt64(fi) * page, access: .write, value: value)
                    fileValues[fi] = value
                case 10:
                    for j in 0..<64 {
                        let fi = (Int(r) + j) % Self.filePages
                        let got = k.userAccess(
                            t, address: procs[p].fileMap + UInt64(fi) * page, access: .read
                        ).value
                        #expect(got == fileValues[fi], "step \(step): file page \(fi)")
                    }
                case 11:
                    k.advanceClock(by: (r % 5000) * 1_000_000)
                case 12:
                    // MADV_DONTNEED on a slice: those pages read as zero again.
                    let start = i & ~63
                    #expect(
                        (try? k.madvise(
                            t, address: procs[p].anon + UInt64(start) * page, length: 64 * page,
                            advice: .dontneed)) != nil)
                    for idx in start..<min(start + 64, Self.anonPages) { procs[p].values[idx] = nil }
                default:
                    _ = try? k.msync(
                        t, address: procs[p].fileMap, length: UInt64(Self.filePages) * page, sync: true)
                }
                if procs.contains(where: { $0.task.state != .running }) {
                    Issue.record("step \(step): a process died: \(k.phys.log.text.suffix(300))")
                    return
                }
                let problems = k.checkInvariants(deep: step % 10 == 0)
                #expect(problems.isEmpty, "step \(step): \(problems.prefix(4))")
                if !problems.isEmpty { return }
            }
            #expect(k.phys.events(.pswpout) > 0, "the test never swapped")
            if mglru { #expect(k.lruGen().agings > 0, "MGLRU never made a generation") }
            for (n, proc) in procs.enumerated() {
                for (idx, v) in proc.values {
                    #expect(
                        k.userAccess(proc.task, address: proc.anon + UInt64(idx) * page, access: .read).value
                            == v,
                        "end: p\(n) page \(idx)")
                }
            }
            k.sync()
            _ = try? k.dropCaches(3)
            for fi in 0..<Self.filePages {
                #expect(
                    (try? k.read(procs[0].task, fd: 3, offset: UInt64(fi) * page, length: 1)) == [
                        fileValues[fi]!
                    ])
            }
            for proc in procs { k.exitTask(proc.task, reason: .exited(code: 0)) }
            #expect(k.checkInvariants().isEmpty)
            // Every slot comes back when its processes are gone: what is left belongs to init.
            let left = k.addressSpaces.values.reduce(0) { $0 + $1.counter(.swapEntries) }
            #expect(k.swapAreas.reduce(0) { $0 + Int($1.inUse) } <= left + k.swap.cache.count)
            #expect(k.swapAreas.reduce(0) { $0 + Int($1.inUse) } >= left)
            #expect(k.phys.state(.nrAnonPages) + left == anonBaseline)
        }
    }
}
