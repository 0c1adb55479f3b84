import VMCore
import VMPaging
import VMPhys
import VMTypes

/// Renders `/proc/PID/maps`, `smaps`, `status`, `pagemap` and a page-table dump in the layout of
/// fs/proc/task_mmu.c and fs/proc/array.c (Linux 6.18).
extension ProcFS {
    /// The name column of a VMA (`get_vma_name()`): file path, special mapping, `[heap]`,
    /// `[stack]`, `[anon:…]`, or nothing.
    static func vmaName(_ vma: VMA, mm: AddressSpace, kernel: Kernel) -> String? {
        switch vma.backing {
        case .file(let id):
            let file = kernel.file(id)
            return file.path + (file.unlinked ? " (deleted)" : "")
        case .shmem(let id):
            let file = kernel.file(id)
            return file.path + " (deleted)"
        case .special(let name):
            return name
        case .anonymous:
            if vma.start < mm.brk && vma.end > mm.startBrk { return "[heap]" }
            if vma.start <= mm.startStack && vma.end >= mm.startStack { return "[stack]" }
            return vma.anonName.map { "[anon:\($0)]" }
        }
    }

    /// One maps line: `start-end perms offset dev inode`, padded to column 72 (48 on 32-bit)
    /// before the name, as `show_vma_header_prefix()` + `seq_pad()` do.
    static func mapsLine(
        start: UInt64, end: UInt64, perms: String, offset: UInt64, dev: String, inode: Int, name: String?,
        is64: Bool
    ) -> String {
        var line =
            hexDigits(start, width: 8) + "-" + hexDigits(end, width: 8) + " " + perms + " "
            + hexDigits(offset, width: 8)
        line += " " + dev + " " + String(inode) + " "
        guard let name else { return line }
        let column = is64 ? 72 : 48
        if line.count < column { line += String(repeating: " ", count: column - line.count) }
        return line + " " + name
    }

    static func mapsLine(_ vma: VMA, mm: AddressSpace, kernel: Kernel) -> String {
        var offset: UInt64 = 0
        var dev = "00:00"
        var inode = 0
        if let id = vma.backing.fileID {
            let file = kernel.file(id)
            offset = vma.pgoff << UInt64(kernel.phys.pageShift)
            let major = kernel.vfs.disk.kind.major
            dev = file.isShmem ? "00:01" : String(major, radix: 16).leftPadded(to: 2) + ":01"
            inode = file.inode
        }
        return Self.mapsLine(
            start: vma.start, end: vma.end, perms: vma.flags.permissions, offset: offset, dev: dev,
            inode: inode,
            name: Self.vmaName(vma, mm: mm, kernel: kernel), is64: kernel.architecture.is64Bit)
    }

    /// x86-64's `[vsyscall]` gate area, listed after the last VMA.
    static func gateLine(_ kernel: Kernel) -> String? {
        guard kernel.architecture.is64Bit else { return nil }
        return Self.mapsLine(
            start: 0xffff_ffff_ff60_0000, end: 0xffff_ffff_ff60_1000, perms: "--xp", offset: 0, dev: "00:00",
            inode: 0, name: "[vsyscall]", is64: true)
    }

    /// `/proc/PID/maps`.
    public static func maps(_ kernel: Kernel, _ task: Task) -> String {
        guard let mm = task.mm else { return "" }
        var out = mm.vmas.map { Self.mapsLine($0, mm: mm, kernel: kernel) + "\n" }.joined()
        if let gate = Self.gateLine(kernel) { out += gate + "\n" }
        return out
    }

    /// The counters of `smaps_account()` for one VMA, in bytes (PSS scaled by 2^12 as the
    /// kernel keeps it).
    public struct SmapsCounters: Sendable {
        public var resident: UInt64 = 0
        public var pss: UInt64 = 0
        public var pssDirty: UInt64 = 0
        public var sharedClean: UInt64 = 0
        public var sharedDirty: UInt64 = 0
        public var privateClean: UInt64 = 0
        public var privateDirty: UInt64 = 0
        public var referenced: UInt64 = 0
        public var anonymous: UInt64 = 0
        public var lazyFree: UInt64 = 0
        public var swap: UInt64 = 0
        public var swapPss: UInt64 = 0
        public var locked: UInt64 = 0
    }

    static let pssShift: UInt64 = 12

    /// Walks a VMA's PTEs as `smaps_pte_entry()` does: the zero page is not counted; a page with
    /// one reference is private; otherwise a page mapped twice or more is shared and its PSS is
    /// divided by its map count.
    public static func smapsCounters(_ kernel: Kernel, mm: AddressSpace, vma: VMA) -> SmapsCounters {
        var c = SmapsCounters()
        let memMap = kernel.phys.memMap
        let page = kernel.phys.pageSize
        let locked = vma.flags.contains(.locked)
        kernel.pageTables.forEachPTE(root: mm.pgd, range: vma.start..<vma.end) { _, pte in
            if pte.isSwap {
                c.swap += page
                c.swapPss += page << Self.pssShift
                return
            }
            guard pte.mapsFrame, pte.pfn != kernel.zeroPFN else { return }
            let pfn = pte.pfn
            let dirty = pte.contains(.dirty) || memMap.test(pfn, .dirty)
            if memMap.test(pfn, .anon) {
                c.anonymous += page
                if !memMap.test(pfn, .swapBacked) && !dirty { c.lazyFree += page }
            }
            c.resident += page
            if pte.contains(.accessed) || memMap.test(pfn, .referenced) { c.referenced += page }
            let mapcount = max(memMap.mapCount(pfn), 1)
            let exclusive = memMap.refCount(pfn) == 1 || mapcount < 2
            let pss = exclusive ? page << Self.pssShift : (page << Self.pssShift) / UInt64(mapcount)
            c.pss += pss
            if locked { c.locked += pss }
            if dirty {
                c.pssDirty += pss
                if exclusive { c.privateDirty += page } else { c.sharedDirty += page }
            } else {
                if exclusive { c.privateClean += page } else { c.sharedClean += page }
            }
        }
        return c
    }

    /// One field of a VMA's `/proc/PID/smaps` entry: its label, its value (bytes for the `kB`
    /// fields, a plain number for `THPeligible`), and whether it prints in `kB`.
    public struct SmapsField: Sendable {
        public var name: String
        public var value: UInt64
        public var inKB: Bool
    }

    /// The fields of a VMA's smaps entry, in the order `show_smap()` prints them
    /// (fs/proc/task_mmu.c: `__show_smap()`), each `kB` value truncated to whole kB as printed.
    /// `show NAME smaps` prints them and `expect NAME.smaps[REF].FIELD` reads them.
    public static func smapsFields(_ kernel: Kernel, mm: AddressSpace, vma: VMA) -> [SmapsField] {
        let c = Self.smapsCounters(kernel, mm: mm, vma: vma)
        let kb: (String, UInt64) -> SmapsField = { SmapsField(name: $0, value: ($1 >> 10) << 10, inKB: true) }
        return [
            kb("Size", vma.size), kb("KernelPageSize", kernel.phys.pageSize),
            kb("MMUPageSize", kernel.phys.pageSize),
            kb("Rss", c.resident), kb("Pss", c.pss >> Self.pssShift),
            kb("Pss_Dirty", c.pssDirty >> Self.pssShift),
            kb("Shared_Clean", c.sharedClean), kb("Shared_Dirty", c.sharedDirty),
            kb("Private_Clean", c.privateClean), kb("Private_Dirty", c.privateDirty),
            kb("Referenced", c.referenced), kb("Anonymous", c.anonymous), kb("KSM", 0),
            kb("LazyFree", c.lazyFree),
            kb("AnonHugePages", kernel.anonHugePages(mm, vma.start..<vma.end)), kb("ShmemPmdMapped", 0),
            kb("FilePmdMapped", 0), kb("Shared_Hugetlb", 0), kb("Private_Hugetlb", 0), kb("Swap", c.swap),
            kb("SwapPss", c.swapPss >> Self.pssShift), kb("Locked", c.locked >> Self.pssShift),
            SmapsField(name: "THPeligible", value: kernel.thpEligible(vma) ? 1 : 0, inKB: false),
        ]
    }

    /// The field names `smapsFields` gives, for checking `expect NAME.smaps[REF].FIELD`.
    public static let smapsFieldNames = [
        "Size", "KernelPageSize", "MMUPageSize", "Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty",
        "Private_Clean", "Private_Dirty", "Referenced", "Anonymous", "KSM", "LazyFree", "AnonHugePages",
        "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb", "Swap", "SwapPss", "Locked",
        "THPeligible",
    ]

    /// `/proc/PID/smaps`: the maps line, then `Size` … `VmFlags` for every VMA.
    public static func smaps(_ kernel: Kernel, _ task: Task) -> String {
        guard let mm = task.mm else { return "" }
        var out = ""
        for vma in mm.vmas {
            out += Self.mapsLine(vma, mm: mm, kernel: kernel) + "\n"
            for f in Self.smapsFields(kernel, mm: mm, vma: vma) {
                if f.inKB {
                    // seq_put_decimal_ull_width(m, …, 8): Private_Hugetlb's label is one longer.
                    let wide = f.name == "Private_Hugetlb"
                    out +=
                        Pad.left(f.name + ":", wide ? 17 : 16) + Pad.right(f.value >> 10, wide ? 7 : 8)
                        + " kB\n"
                } else {
                    out += Pad.left(f.name + ":", 16) + Pad.right(f.value, 8) + "\n"
                }
            }
            out += "VmFlags: " + vma.flags.smapsMnemonics + "\n"
        }
        return out
    }

    /// `/proc/PID/status` (fs/proc/array.c `proc_pid_status()` with `task_mem()`).
    public static func status(_ kernel: Kernel, _ task: Task) -> String {
        let shift = UInt64(kernel.phys.pageShift - 10)
        func kb(_ label: String, _ pages: Int) -> String {
            label + ":\t" + Pad.right(UInt64(max(pages, 0)) << shift, 8) + " kB\n"
        }
        var out = "Name:\t\(task.name)\n"
        out += "Umask:\t0022\n"
        out += "State:\t\(task.state.rawValue)\n"
        out += "Tgid:\t\(task.pid)\nNgid:\t0\nPid:\t\(task.pid)\nPPid:\t\(task.parentPID)\nTracerPid:\t0\n"
        out += "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t \n"
        out += "NStgid:\t\(task.pid)\nNSpid:\t\(task.pid)\nNSpgid:\t\(task.pid)\nNSsid:\t\(task.pid)\n"
        out += "Kthread:\t\(task.isKernelThread ? 1 : 0)\n"
        if let mm = task.mm {
            let anon = mm.counter(.anonPages)
            let file = mm.counter(.filePages)
            let shmem = mm.counter(.shmemPages)
            let rss = anon + file + shmem
            let page = kernel.phys.pageSize
            let textBytes = ((mm.endCode + page - 1) & ~(page - 1)) - (mm.startCode & ~(page - 1))
            let text = min(textBytes, UInt64(mm.execVM) * page)
            let lib = UInt64(mm.execVM) * page - text
            out += kb("VmPeak", max(mm.hiwaterVM, mm.totalVM))
            out += kb("VmSize", mm.totalVM)
            out += kb("VmLck", mm.lockedVM)
            out += kb("VmPin", mm.pinnedVM)
            out += kb("VmHWM", max(mm.hiwaterRSS, rss))
            out += kb("VmRSS", rss)
            out += kb("RssAnon", anon)
            out += kb("RssFile", file)
            out += kb("RssShmem", shmem)
            out += kb("VmData", mm.dataVM)
            out += kb("VmStk", mm.stackVM)
            out += "VmExe:\t" + Pad.right(text >> 10, 8) + " kB\n"
            out += "VmLib:\t" + Pad.right(lib >> 10, 8) + " kB\n"
            out += "VmPTE:\t" + Pad.right(UInt64(mm.pageTablePages) * (page >> 10), 8) + " kB\n"
            out += kb("VmSwap", mm.counter(.swapEntries))
            out += "HugetlbPages:\t" + Pad.right(0, 8) + " kB\n"
            out += "CoreDumping:\t0\nTHP_enabled:\t1\nuntag_mask:\t0xffffffffffffffff\n"
        }
        out += "Threads:\t1\nSigQ:\t0/\(Int(kernel.phys.totalRAMPages) / 64)\n"
        out += "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\n"
        // render_sigset_t(): bit signo − 1 of each handler (`on segv continue`: 0x400).
        let caught = task.caughtSignals.reduce(UInt64(0)) { $0 | $1.maskBit }
        out += "SigIgn:\t0000000000000000\nSigCgt:\t\(hexDigits(caught, width: 16))\n"
        out += "CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n"
        out += "CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n"
        out += "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n"
        out +=
            "Speculation_Store_Bypass:\tthread vulnerable\nSpeculationIndirectBranch:\tconditional enabled\n"
        let cpus = kernel.config.cpus
        out +=
            "Cpus_allowed:\t\(Self.cpuMask(cpus))\nCpus_allowed_list:\t\(cpus == 1 ? "0" : "0-\(cpus - 1)")\n"
        out += "Mems_allowed:\t1\nMems_allowed_list:\t0\n"
        out += "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n"
        return out
    }

    /// A mask of CPUs 0 … `cpus` − 1 as `%*pb` prints a cpumask of `nr_cpu_ids` bits
    /// (`bitmap_string()`, lib/vsprintf.c): hex in 32-bit chunks separated by commas, the first
    /// chunk as wide as its bits need — `3` for 2 CPUs, `1,ffffffff` for 33, `ffffffff,ffffffff`
    /// for 64. Every CPU is allowed (no affinity is modelled).
    static func cpuMask(_ cpus: Int) -> String {
        guard cpus >= 1 else { return "0" }
        var chunks: [String] = []
        var bits = cpus
        while bits > 0 {
            let chunk = bits % 32 == 0 ? 32 : bits % 32
            let value: UInt64 = (1 << UInt64(chunk)) - 1
            chunks.append(hexDigits(value, width: chunks.isEmpty ? (chunk + 3) / 4 : 8))
            bits -= chunk
        }
        return chunks.joined(separator: ",")
    }

    /// The 64-bit `/proc/PID/pagemap` entry of the page at `va` and its meaning in words
    /// (`pte_to_pagemap_entry()`, fs/proc/task_mmu.c): bit 63 present with the PFN in bits 0–54
    /// (shown, as to root), bit 62 swapped with the type in bits 0–4 and the offset above, bit 61
    /// a page that is not anonymous (file or shared anonymous memory; not for the zero page, which
    /// `vm_normal_page()` does not return), bit 56 mapped exclusively (map count 1), bit 55
    /// soft-dirty (the VMA's `VM_SOFTDIRTY`; vmsim has no per-PTE soft-dirty bit, nor
    /// `clear_refs`). Simplified: no `PM_UFFD_WP`, no guard regions.
    public static func pagemapEntry(_ kernel: Kernel, _ mm: AddressSpace, _ va: UInt64) -> (UInt64, [String])
    {
        let memMap = kernel.phys.memMap
        let vma = mm.vma(containing: va)
        let pte = kernel.pageTables.pte(root: mm.pgd, va: va)
        var entry: UInt64 = 0
        var words: [String] = []
        if pte.mapsFrame {
            entry = pte.pfn.rawValue | (1 << 63)
            words.append("present pfn=\(hex(pte.pfn.rawValue))")
            if pte.pfn == kernel.zeroPFN {
                words.append("zero-page")
            } else {
                if !memMap.test(pte.pfn, .anon) {
                    entry |= 1 << 61
                    words.append("file")
                }
                if memMap.mapCount(pte.pfn) == 1 {
                    entry |= 1 << 56
                    words.append("exclusive")
                }
            }
        } else if let swap = pte.swapEntry {
            entry = UInt64(swap.type) | (swap.offset << 5) | (1 << 62)
            words.append("swap type=\(swap.type) offset=\(hex(swap.offset))")
        } else {
            words.append("not present")
        }
        if vma?.flags.contains(.softDirty) == true {
            entry |= 1 << 55
            words.append("soft-dirty")
        }
        return (entry, words)
    }

    /// `/proc/PID/pagemap` decoded, one line per page of `range` (or of every VMA): the 64-bit
    /// entry, then its meaning (PFN, swap type/offset, exclusive, file/shared, soft-dirty).
    public static func pagemap(_ kernel: Kernel, _ task: Task, range: Range<UInt64>? = nil) -> String {
        guard let mm = task.mm else { return "" }
        let page = kernel.phys.pageSize
        var out = "# address            entry              decoded\n"
        let ranges = range.map { [$0] } ?? mm.vmas.map { $0.start..<$0.end }
        for r in ranges {
            var va = r.lowerBound & ~(page - 1)
            while va < r.upperBound {
                defer { va += page }
                let (entry, words) = Self.pagemapEntry(kernel, mm, va)
                out +=
                    hex(va, width: 16) + " " + hex(entry, width: 16) + " " + words.joined(separator: " ")
                    + "\n"
            }
        }
        return out
    }

    /// A page-table dump of the user half in the style of `ptdump` (`/sys/kernel/debug/
    /// page_tables/current_user`): consecutive entries with the same attributes merged into one
    /// range, with size, U/S, R/W, G, NX and the level. Lines with `pte` also give the frames.
    public static func pageTableDump(_ kernel: Kernel, _ task: Task) -> String {
        guard let mm = task.mm else { return "" }
        let arch = kernel.architecture
        let page = kernel.phys.pageSize
        let width = arch.is64Bit ? 16 : 8
        var runs: [(start: UInt64, end: UInt64, attrs: String, first: PFN, last: PFN, contiguous: Bool)] = []
        kernel.pageTables.forEachPTE(root: mm.pgd, range: 0..<arch.userTop) { va, pte in
            let attrs: String
            if pte.isPresent {
                attrs =
                    (pte.contains(.user) ? "USR" : "   ") + " " + (pte.contains(.writable) ? "RW" : "ro")
                    + " "
                    + (pte.contains(.global) ? "GLB" : "   ") + " " + (pte.contains(.noExecute) ? "NX" : "x ")
                    + (pte.contains(.dirty) ? " D" : "  ") + (pte.contains(.accessed) ? " A" : "  ")
            } else if pte.isProtNone {
                attrs = "protnone          "
            } else {
                attrs = "swap              "
            }
            if var last = runs.last, last.end == va, last.attrs == attrs {
                last.contiguous = last.contiguous && pte.pfn.rawValue == last.last.rawValue + 1
                last.end = va + page
                last.last = pte.pfn
                runs[runs.count - 1] = last
            } else {
                runs.append((va, va + page, attrs, pte.pfn, pte.pfn, true))
            }
        }
        var out =
            "---[ User Space ]---  (root table at \(hex(mm.pgd.rawValue << UInt64(kernel.phys.pageShift))), \(mm.pageTablePages + 1) table pages)\n"
        for run in runs {
            let size = ByteSize.format(run.end - run.start).replacingUnit()
            var line =
                hex(run.start, width: width) + "-" + hex(run.end, width: width) + Pad.right(size, 12)
                + "     " + run.attrs + " pte"
            if run.attrs.hasPrefix("swap") {
                line += ""
            } else if run.first == run.last {
                line += "  frame " + hex(run.first.rawValue)
            } else {
                line +=
                    "  frames " + hex(run.first.rawValue) + "…" + hex(run.last.rawValue)
                    + (run.contiguous ? "" : " (scattered)")
            }
            out += line + "\n"
        }
        return out
    }
}

extension String {
    /// `64KiB` → `64K` as ptdump prints sizes.
    func replacingUnit() -> String {
        for (long, short) in [("KiB", "K"), ("MiB", "M"), ("GiB", "G"), ("TiB", "T")]
        where self.hasSuffix(long) {
            return String(self.dropLast(3)) + short
        }
        return self
    }
}

extension String {
    /// Pads with zeros on the left to `width` characters.
    func leftPadded(to width: Int) -> String {
        self.count >= width ? self : String(repeating: "0", count: width - self.count) + self
    }
}
