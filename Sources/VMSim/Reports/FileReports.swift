import VMCore
import VMPaging
import VMPhys
import VMTypes

/// Reports of the file system side: the disk, the dentry and inode caches, SysV shared memory,
/// and a per-file view of the page cache.
extension ProcFS {
    /// `/proc/diskstats` (block/genhd.c `diskstats_show()`): the disk and its one partition,
    /// which carries all of its I/O. Times in milliseconds.
    public static func diskstats(_ kernel: Kernel) -> String {
        let disk = kernel.vfs.disk
        let s = disk.stats
        let ms = { (ns: UInt64) in ns / 1_000_000 }
        let name = disk.kind.deviceName
        var out = ""
        for (minor, device) in [(0, name), (1, name + (disk.kind == .nvme ? "p1" : "1"))] {
            out += Pad.right(disk.kind.major, 4) + " " + Pad.right(minor, 7) + " " + device + " "
            out += "\(s.readsCompleted) \(s.readsMerged) \(s.sectorsRead) \(ms(s.readNanos)) "
            out += "\(s.writesCompleted) \(s.writesMerged) \(s.sectorsWritten) \(ms(s.writeNanos)) "
            out += "\(disk.inFlight) \(ms(s.busyNanos)) \(ms(s.readNanos + s.writeNanos)) "
            out += "0 0 0 0 0 0\n"
        }
        return out
    }

    /// `/proc/sys/fs/dentry-state`: nr_dentry, nr_unused, age_limit, want_pages, nr_negative, dummy.
    public static func dentryState(_ kernel: Kernel) -> String {
        let v = kernel.vfs
        return "\(v.dentryCount)\t\(v.unusedDentries)\t45\t0\t\(v.negativeDentries)\t0\n"
    }

    /// `/proc/sys/fs/inode-nr`: in-core inodes and unused ones.
    public static func inodeNr(_ kernel: Kernel) -> String {
        let inCore = kernel.files.filter(\.inCore).count
        return "\(inCore)\t\(kernel.vfs.unusedInodes)\n"
    }

    /// `/proc/sysvipc/shm` (ipc/shm.c `sysvipc_shm_proc_show()`); times in seconds of simulated
    /// time, uid/gid 0.
    public static func sysvipcShm(_ kernel: Kernel) -> String {
        let wide = kernel.architecture.is64Bit
        var out =
            wide
            ? "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n"
            : "       key      shmid perms       size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime        rss       swap\n"
        let sizeWidth = wide ? 21 : 10
        let page = kernel.phys.pageSize
        for seg in kernel.shmSegments {
            let file = kernel.file(seg.file)
            let mode = seg.mode | (seg.destroyed ? 0o1000 : 0)
            out += Pad.right(Int(Int32(truncatingIfNeeded: seg.key)), 10) + " " + Pad.right(seg.id, 10) + "  "
            out += Pad.right(String(mode, radix: 8), 4) + " " + Pad.right(seg.size, sizeWidth) + " "
            out += Pad.right(seg.creatorPID, 5) + " " + Pad.right(seg.lastPID, 5) + "  "
            out += Pad.right(kernel.shmAttachCount(seg), 5) + "     0     0     0     0 "
            out +=
                Pad.right(seg.attachTime / 1_000_000_000, 10) + " "
                + Pad.right(seg.detachTime / 1_000_000_000, 10)
            out += " " + Pad.right(seg.changeTime / 1_000_000_000, 10) + " "
            out +=
                Pad.right(UInt64(file.cachedPages) * page, sizeWidth) + " " + Pad.right(0, sizeWidth) + "\n"
        }
        return out
    }

    /// `show pagecache`: every in-core file with its cached, dirty, writeback and mapped pages,
    /// its mappings and its readahead state (vmsim's view; Linux has no single file for this).
    public static func pageCache(_ kernel: Kernel) -> String {
        var out = "     INODE KIND        SIZE    CACHED     DIRTY WRITEBACK    MAPPED  REFS PATH\n"
        let kb = kernel.phys.pageSize >> 10
        for file in kernel.files where file.inCore && file.kind != .directory {
            let mapped = file.pages.values.filter { kernel.phys.memMap.mapCount($0) > 0 }.count
            let kind = ["regular": "file", "directory": "dir", "shmem": "shmem", "blockDevice": "bdev"][
                file.kind.rawValue]!
            out += Pad.right(file.inode, 10) + " " + Pad.left(kind, 5)
            out += Pad.right(ByteSize.human(file.size), 10) + " "
            out +=
                Pad.right("\(UInt64(file.cachedPages) * kb)K", 9) + " "
                + Pad.right("\(UInt64(file.dirtyPages) * kb)K", 9) + " "
            out +=
                Pad.right("\(UInt64(file.writebackPages) * kb)K", 9) + " "
                + Pad.right("\(UInt64(mapped) * kb)K", 9) + " "
            out += Pad.right(file.iCount, 5) + " " + file.path + (file.unlinked ? " (deleted)" : "") + "\n"
        }
        out +=
            "dentries \(kernel.vfs.dentryCount) (unused \(kernel.vfs.unusedDentries), negative \(kernel.vfs.negativeDentries)); "
        out += "open files \(kernel.vfs.openFileCount); clock \(Self.duration(kernel.now))"
        if let wake = kernel.clock.deadline(.flusher) { out += "; flusher wakes at \(Self.duration(wake))" }
        out += "\n"
        return out
    }

    /// A simulated time as `1.234567s`.
    public static func duration(_ ns: UInt64) -> String {
        let seconds = ns / 1_000_000_000
        let micros = (ns % 1_000_000_000) / 1000
        let frac = String(micros)
        return "\(seconds)." + String(repeating: "0", count: 6 - frac.count) + frac + "s"
    }

    /// `/proc/swaps` (mm/swapfile.c `swap_show()`): sizes and use in KiB.
    public static func swaps(_ kernel: Kernel) -> String {
        var out = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        let kb = kernel.phys.pageSize >> 10
        for area in kernel.swapAreas {
            let size = area.pages * kb
            let used = area.inUse * kb
            out += area.path + String(repeating: " ", count: max(40 - area.path.count, 1))
            out += (area.isFile ? "file\t" : "partition") + "\t\(size)\t" + (size < 10_000_000 ? "\t" : "")
            out += "\(used)\t" + (used < 10_000_000 ? "\t" : "") + "\(area.priority)\n"
        }
        return out
    }

    /// The system-wide reports by name (`show NAME`, `--show NAME`), and the path each stands for.
    public static let globalReports = [
        "meminfo", "vmstat", "buddyinfo", "zoneinfo", "slabinfo", "vmallocinfo", "dmesg", "lru", "tlb",
        "processes", "diskstats", "dentry-state", "inode-nr", "sysvipc/shm", "pagecache", "swaps", "lru_gen",
        "pressure/memory",
    ]

    public static func reportPath(_ name: String) -> String {
        if name == "lru_gen" { return "/sys/kernel/debug/lru_gen" }
        return ["dentry-state", "inode-nr"].contains(name) ? "/proc/sys/fs/\(name)" : "/proc/\(name)"
    }

    /// Renders the system-wide report `name` (one of `globalReports`).
    public static func global(_ name: String, _ kernel: Kernel) -> String {
        switch name {
        case "meminfo": return ProcFS.meminfo(kernel)
        case "vmstat": return ProcFS.vmstat(kernel)
        case "buddyinfo": return ProcFS.buddyinfo(kernel)
        case "zoneinfo": return ProcFS.zoneinfo(kernel)
        case "slabinfo": return ProcFS.slabinfo(kernel)
        case "vmallocinfo": return ProcFS.vmallocinfo(kernel)
        case "dmesg": return kernel.phys.log.text + "\n"
        case "lru": return ProcFS.lru(kernel)
        case "tlb": return ProcFS.tlb(kernel)
        case "diskstats": return ProcFS.diskstats(kernel)
        case "dentry-state": return ProcFS.dentryState(kernel)
        case "inode-nr": return ProcFS.inodeNr(kernel)
        case "sysvipc/shm": return ProcFS.sysvipcShm(kernel)
        case "pagecache": return ProcFS.pageCache(kernel)
        case "swaps": return ProcFS.swaps(kernel)
        case "lru_gen": return kernel.lruGenDebugText()
        case "pressure/memory": return kernel.psiSystemText()
        default: return ProcFS.processes(kernel)
        }
    }
}
