import PropertyBased
import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

/// What the test believes about one process: its regions and the last value written per page.
private struct ModelProcess {
    var task: Task
    /// Mapped anonymous regions: start → (pages, writable).
    var regions: [UInt64: (pages: Int, writable: Bool)] = [:]
    /// Last value written per page address (absent: never written since mapped → reads 0).
    var values: [UInt64: UInt64] = [:]
}

@Suite struct ProcessPropertyTests {
    /// Random mmap/munmap/mprotect/brk/madvise/fork/exit/read/write across several processes:
    /// the kernel's structures stay consistent after every step (VMAs sorted, disjoint and
    /// merged; map counts equal the PTEs; RSS counters; page tables; LRU), every read returns the
    /// last value that process wrote, and when everything exits every frame comes back.
    @Test func randomOperationsKeepTheKernelConsistentAndDataIntact() async {
        await propertyCheck(count: 25, input: Gen.uint64(in: 0...UInt64.max).array(of: 20...140)) { ops in
            let k = bootKernel(memory: 64 << 20)
            let baseline = k.freeAndPCP
            let slabBaseline = k.phys.state(.nrSlabUnreclaimable) + k.phys.state(.nrSlabReclaimable)
            let buffersBaseline = k.bufferPages
            guard let first = try? k.spawn(name: "p0", path: "/bin/prop") else {
                Issue.record("spawn failed")
                return
            }
            var procs = [ModelProcess(task: first)]
            let page: UInt64 = 4096
            for (step, op) in ops.enumerated() {
                let p = Int(op % UInt64(procs.count))
                let r = op >> 8
                var proc = procs[p]
                let regionStarts = proc.regions.keys.sorted()
                switch (op >> 4) % 10 {
                case 0, 1:
                    let pages = Int(1 + r % 16)
                    if let start = try? k.mmap(
                        proc.task,
                        MapRequest(length: UInt64(pages) * page, protection: [.read, .write], shared: false))
                    {
                        proc.regions[start] = (pages, true)
                    }
                case 2 where !regionStarts.isEmpty:
                    let start = regionStarts[Int(r % UInt64(regionStarts.count))]
                    let region = proc.regions[start]!
                    // Unmap the whole region or its tail half.
                    let cut = r % 2 == 0 ? 0 : region.pages / 2
                    let from = start + UInt64(cut) * page
                    #expect(
                        (try? k.munmap(proc.task, address: from, length: UInt64(region.pages - cut) * page))
                            != nil)
                    for i in cut..<region.pages { proc.values[start + UInt64(i) * page] = nil }
                    if cut == 0 {
                        proc.regions[start] = nil
                    } else {
                        proc.regions[start] = (cut, region.writable)
                    }
                case 3 where !regionStarts.isEmpty:
                    let start = regionStarts[Int(r % UInt64(regionStarts.count))]
                    let region = proc.regions[start]!
                    let writable = r % 3 != 0
                    #expect(
                        (try? k.mprotect(
                            proc.task, address: start, length: UInt64(region.pages) * page,
                            protection: writable ? [.read, .write] : [.read])) != nil)
                    proc.regions[start] = (region.pages, writable)
                case 4 where !regionStarts.isEmpty:
                    let start = regionStarts[Int(r % UInt64(regionStarts.count))]
                    let region = proc.regions[start]!
                    let advice: Advice = r % 2 == 0 ? .dontneed : .free
                    #expect(
                        (try? k.madvise(
                            proc.task, address: start, length: UInt64(region.pages) * page, advice: advice))
                            != nil)
                    if advice == .dontneed {
                        for i in 0..<region.pages { proc.values[start + UInt64(i) * page] = nil }
                    }
                case 5 where procs.count < 4:
                    if let child = try? k.fork(proc.task, childName: "p\(procs.count)") {
                        var c = proc
                        c.task = child
                        procs.append(c)
                    }
                case 6 where procs.count > 1 && p > 0:
                    k.exitTask(proc.task, reason: .exited(code: 0))
                    procs.remove(at: p)
                    continue
                case 7:
                    let mm = proc.task.mm!
                    let target =
                        r % 2 == 0
                        ? mm.brk + (1 + r % 8) * page
                        : max(mm.startBrk, mm.brk > 2 * page ? mm.brk - 2 * page : mm.startBrk)
                    _ = k.brk(proc.task, to: target)
                default:
                    // Read or write a page of a region.
                    guard !regionStarts.isEmpty else { break }
                    let start = regionStarts[Int(r % UInt64(regionStarts.count))]
                    let region = proc.regions[start]!
                    let va = start + UInt64(Int(r >> 8) % region.pages) * page
                    if r % 2 == 0 && region.writable {
                        let value = op | 1
                        #expect(k.write(proc.task, va + 8, value).value == value)
                        proc.values[va] = value
                    } else {
                        let got = k.read(proc.task, va + 16).value
                        #expect(got == (proc.values[va] ?? 0), "step \(step): p\(p) read \(hex(va))")
                    }
                }
                procs[p] = proc
                let problems = k.checkInvariants(deep: step % 16 == 0)
                #expect(problems.isEmpty, "step \(step): \(problems.prefix(4))")
                if !problems.isEmpty { return }
            }
            // Everyone reads back everything they wrote.
            for proc in procs {
                for (va, value) in proc.values.sorted(by: { $0.key < $1.key }) {
                    #expect(k.read(proc.task, va).value == value)
                }
            }
            for proc in procs.reversed() { k.exitTask(proc.task, reason: .exited(code: 0)) }
            let image = k.file(at: "/bin/prop")!.cachedPages
            let slab = k.phys.state(.nrSlabUnreclaimable) + k.phys.state(.nrSlabReclaimable) - slabBaseline
            #expect(k.freeAndPCP + image + slab + (k.bufferPages - buffersBaseline) == baseline)
            #expect(k.checkInvariants().isEmpty)
        }
    }
}
