import VMCore
import VMPaging
import VMPhys
import VMTypes

extension ProcFS {
    /// `show lru`: the node's LRU lists, with the first pages of each (head = most recent).
    public static func lru(_ kernel: Kernel) -> String {
        var out = ""
        let kb = kernel.phys.pageSize >> 10
        for list in LRUList.allCases {
            let pages = kernel.lruPages(list)
            out +=
                Pad.left(list.name + ":", 15) + Pad.right(pages.count, 8) + " pages "
                + Pad.right(UInt64(pages.count) * kb, 9) + " kB"
            if !pages.isEmpty {
                let shown = pages.prefix(8).map { hex($0.rawValue) }.joined(separator: " ")
                out += "   head " + shown + (pages.count > 8 ? " …" : "")
            }
            out += "\n"
        }
        return out
    }

    /// `show tlb`: geometry, counters and occupancy of the CPU's TLB.
    public static func tlb(_ kernel: Kernel) -> String {
        let tlb = kernel.mmu.tlb
        let s = tlb.stats
        let entries = tlb.dump()
        var out = "L1: \(tlb.l1Geometry.entries) entries, \(tlb.l1Geometry.ways)-way; "
        if let l2 = tlb.l2Geometry { out += "L2: \(l2.entries) entries, \(l2.ways)-way; " }
        out +=
            "PCID \(tlb.pcidEnabled ? "on" : "off"), current PCID \(tlb.currentPCID), CR3 \(hex(kernel.mmu.cr3.rawValue << UInt64(kernel.phys.pageShift)))\n"
        let hitRate = s.lookups == 0 ? 0 : Double(s.l1Hits + s.l2Hits) / Double(s.lookups) * 100
        out +=
            "lookups \(s.lookups): L1 hits \(s.l1Hits), L2 hits \(s.l2Hits), misses \(s.misses) (hit rate \(Self.percent(hitRate)))\n"
        out += "walks \(s.walks), invalidations \(s.invalidations), flushes \(s.flushes)\n"
        out +=
            "valid entries: L1 \(entries.filter { $0.level == 1 }.count), L2 \(entries.filter { $0.level == 2 }.count)\n"
        return out
    }

    static func percent(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// `show processes`: one line per task, like `ps -o pid,ppid,stat,vsz,rss,min_flt,maj_flt,comm`.
    public static func processes(_ kernel: Kernel) -> String {
        var out = "  PID  PPID S      VSZ      RSS  MINFL  MAJFL COMMAND\n"
        let kb = UInt64(kernel.phys.pageSize >> 10)
        for task in kernel.taskList {
            let vsz = UInt64(task.mm?.totalVM ?? 0) * kb
            let rss = UInt64(task.mm?.rssPages ?? 0) * kb
            out +=
                Pad.right(task.pid, 5) + Pad.right(task.parentPID, 6) + " "
                + String(task.state.rawValue.prefix(1))
            out +=
                Pad.right(vsz, 9) + Pad.right(rss, 9) + Pad.right(task.minorFaults, 7)
                + Pad.right(task.majorFaults, 7) + " "
            out += task.isKernelThread ? "[\(task.name)]\n" : task.name + "\n"
        }
        return out
    }
}

/// `translate PROCESS ADDRESS`: the MMU's view of one address of a live process, step by step.
public enum LiveTranslation {
    /// Explains how `address` translates in `task`'s current page tables: the VMA it falls in,
    /// the index bits, whether the TLB holds it, each entry read, and the result — or what the
    /// kernel would do on the fault. Reads only; nothing (Accessed bits, TLB) is changed.
    public static func explain(_ kernel: Kernel, _ task: Task, address: UInt64, access: Access) -> String {
        guard let mm = task.mm else { return "\(task.name) has no address space\n" }
        let arch = kernel.architecture
        let g = arch.paging
        let width = arch.is64Bit ? 16 : 8
        var out = "\(task.name)[\(task.pid)] \(access.rawValue) \(hex(address, width: width)) (user mode)\n"
        out += "segmentation: flat model, linear = \(hex(address, width: width))\n"
        if let vma = mm.vma(containing: address) {
            out += "VMA \(hex(vma.start))-\(hex(vma.end)) \(vma.flags.permissions)\n"
        } else {
            out += "no VMA contains this address\n"
        }
        var groups: [String] = []
        for level in 0..<g.levels {
            groups.append(
                "\(g.levelNames[level]) \(hex(UInt64(g.index(of: address, atLevel: level)), width: 3))")
        }
        groups.append("offset \(hex(address & (arch.pageSize - 1), width: 3))")
        out += "indices: " + groups.joined(separator: ", ") + "\n"
        let vpn = address >> UInt64(arch.pageShift)
        let loaded = kernel.loadedMM === mm
        if loaded, let value = kernel.mmu.tlb.peek(vpn: vpn) {
            out += "TLB: holds vpn \(hex(vpn)) → frame \(hex(value >> 12))\n"
        } else {
            out +=
                loaded
                ? "TLB: no entry for vpn \(hex(vpn)): the MMU walks from CR3\n"
                : "TLB: \(task.name) is not running; its entries (if any) are tagged with its PCID\n"
        }
        out += "CR3 for \(task.name): \(hex(mm.pgd.rawValue << UInt64(arch.pageShift)))\n"
        var recorder = WalkRecorder()
        let result = walkPageTables(
            kernel.pageTables, rules: kernel.mmu.rules, features: kernel.mmu.features, root: mm.pgd,
            address: address, access: access, mode: .user, setAccessedDirty: false, observer: &recorder)
        for step in recorder.steps {
            let entryAddress =
                (step.table.rawValue << UInt64(arch.pageShift)) + UInt64(step.index * g.entryBytes)
            out +=
                "\(g.levelNames[step.level])[\(hex(UInt64(step.index), width: 3))] @ \(hex(entryAddress)) = \(hex(step.entry.rawValue, width: g.entryBytes * 2))  "
            if step.entry.isNone {
                out += "empty\n"
            } else if let swap = step.entry.swapEntry {
                out += "swapped out: \(swap)\n"
            } else if step.entry.isProtNone {
                out += "PROT_NONE\n"
            } else {
                out += step.entry.flags.description + "\n"
            }
        }
        switch result {
        case .mapped(let m):
            out += "→ physical \(hex(m.physAddr)) (frame \(hex(m.physAddr >> UInt64(arch.pageShift))))"
            if m.physAddr >> UInt64(arch.pageShift) == kernel.zeroPFN.rawValue {
                out += ", the shared zero page"
            }
            if m.pageShift > arch.pageShift {
                // A PMD leaf (PS): a transparent huge page, or the huge zero page.
                let base = m.physAddr & ~((UInt64(1) << UInt64(m.pageShift)) - 1)
                let huge = kernel.pageTables.hugeZeroPFN.map { base >> UInt64(arch.pageShift) == $0.rawValue }
                out +=
                    "; the \(ByteSize.format(UInt64(1) << UInt64(m.pageShift))) page at \(hex(base)) (PS at level \(m.leafLevel): no PTE table)"
                if huge == true { out += ", the huge zero page" }
            }
            out += "\n"
        case .fault(let f):
            out += "→ page fault: \(f.cause); error code \(f.errorCode)\n"
        }
        return out
    }
}
