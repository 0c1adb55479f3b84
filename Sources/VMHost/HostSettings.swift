import Foundation
import VMPhys

/// The host kernel's settings that change a scenario's answers, read from `/proc` and `/sys`
/// (under `root`, so tests read captured copies): page size, transparent huge pages, the
/// readahead of the block device under the temporary directory, `fault_around_bytes` (debugfs),
/// `vm.swappiness`, `vm.page-cluster`, `min_free_kbytes`, `overcommit_memory`, the zones'
/// managed pages (`/proc/zoneinfo`) and the CPU count.
///
/// `machineSettings` and `sysctls` are the ones vmsim's `machine` line and `sysctl` can express;
/// `unexpressed` lists the others with why, so `--like-host` can report rather than drop them.
public struct HostSettings: Sendable, Equatable {
    public var pageSize: UInt64 = 4096
    public var thpEnabled: String?
    public var thpDefrag: String?
    public var readAheadKB: Int?
    /// The block device `read_ahead_kb` came from (`vda`), or why none was found.
    public var blockDevice: String?
    public var faultAroundBytes: Int?
    public var swappiness: Int?
    public var pageCluster: Int?
    public var minFreeKbytes: Int?
    public var overcommitMemory: Int?
    /// Managed pages per populated zone, in /proc/zoneinfo's order (empty zones left out).
    public var zones: [(name: String, managed: UInt64)] = []
    public var cpus: Int?
    public var memTotal: UInt64?
    public var memAvailable: UInt64?
    public var swapTotal: UInt64?

    public static func == (a: HostSettings, b: HostSettings) -> Bool {
        a.machineLine == b.machineLine && a.sysctls.map { "\($0)=\($1)" } == b.sysctls.map { "\($0)=\($1)" }
            && a.unexpressed == b.unexpressed
    }

    public init() {}

    /// Reads the settings under `root` ("/" on the host). `blockDeviceFor` is the directory whose
    /// file system's device gives `read_ahead_kb` (the scenario's temporary directory);
    /// `deviceNumber` overrides the `stat` of it (for captured files).
    public static func read(
        root: String = "/", blockDeviceFor directory: String? = nil, deviceNumber: (Int, Int)? = nil
    )
        -> HostSettings
    {
        var s = HostSettings()
        func text(_ path: String) -> String? {
            let full = root == "/" ? path : root + path
            guard let data = readProcFile(full) else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
        func int(_ path: String) -> Int? {
            text(path).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        /// `always [madvise] never`: the bracketed word.
        func selected(_ path: String) -> String? {
            guard let t = text(path), let open = t.firstIndex(of: "["), let close = t.firstIndex(of: "]")
            else {
                return nil
            }
            return String(t[t.index(after: open)..<close])
        }
        if let meminfo = text("/proc/meminfo") {
            for line in meminfo.split(separator: "\n") {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == ":" })
                guard parts.count >= 2, let kb = UInt64(parts[1]) else { continue }
                switch parts[0] {
                case "MemTotal": s.memTotal = kb * 1024
                case "MemAvailable": s.memAvailable = kb * 1024
                case "SwapTotal": s.swapTotal = kb * 1024
                case "Hugepagesize": break
                default: break
                }
            }
        }
        if let smaps = text("/proc/self/smaps"),
            let line = smaps.split(separator: "\n").first(where: { $0.hasPrefix("KernelPageSize:") }),
            let kb = UInt64(line.split(separator: " ").dropFirst().first ?? "")
        {
            s.pageSize = kb * 1024
        }
        s.thpEnabled = selected("/sys/kernel/mm/transparent_hugepage/enabled")
        s.thpDefrag = selected("/sys/kernel/mm/transparent_hugepage/defrag")
        s.faultAroundBytes = int("/sys/kernel/debug/fault_around_bytes")
        s.swappiness = int("/proc/sys/vm/swappiness")
        s.pageCluster = int("/proc/sys/vm/page-cluster")
        s.minFreeKbytes = int("/proc/sys/vm/min_free_kbytes")
        s.overcommitMemory = int("/proc/sys/vm/overcommit_memory")
        if let zoneinfo = text("/proc/zoneinfo") { s.zones = Self.zones(zoneinfo) }
        if let online = text("/sys/devices/system/cpu/online") { s.cpus = Self.cpuCount(online) }
        // The block device under the directory: /sys/dev/block/MAJ:MIN is the partition or the
        // disk; a partition's queue is its parent's.
        var device = deviceNumber
        if device == nil, let directory {
            var st = stat()
            if stat(directory, &st) == 0 {
                // gnu_dev_major() / gnu_dev_minor() (macros Swift cannot import).
                let dev = UInt64(st.st_dev)
                let maj = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
                let min = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
                device = (Int(maj), Int(min))
            }
        }
        if let (maj, min) = device {
            let base = "/sys/dev/block/\(maj):\(min)"
            if let kb = int(base + "/queue/read_ahead_kb") {
                s.readAheadKB = kb
                s.blockDevice = text(base + "/uevent").flatMap(Self.deviceName) ?? "\(maj):\(min)"
            } else if let kb = int(base + "/../queue/read_ahead_kb") {
                s.readAheadKB = kb
                s.blockDevice = text(base + "/../uevent").flatMap(Self.deviceName) ?? "\(maj):\(min)"
            } else {
                s.blockDevice = "\(maj):\(min) has no queue (not a block device: tmpfs, overlay …)"
            }
        }
        return s
    }

    static func deviceName(_ uevent: String) -> String? {
        uevent.split(separator: "\n").first { $0.hasPrefix("DEVNAME=") }.map { String($0.dropFirst(8)) }
    }

    /// `0-1` or `0,2-3`: how many CPUs.
    static func cpuCount(_ list: String) -> Int? {
        var n = 0
        for part in list.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let ends = part.split(separator: "-").compactMap { Int($0) }
            if ends.count == 1 {
                n += 1
            } else if ends.count == 2, ends[1] >= ends[0] {
                n += ends[1] - ends[0] + 1
            }
        }
        return n > 0 ? n : nil
    }

    /// Managed pages of each populated zone of node 0 (vmsim models one node).
    static func zones(_ zoneinfo: String) -> [(name: String, managed: UInt64)] {
        var zones: [(String, UInt64)] = []
        var current: String?
        var node0 = false
        for line in zoneinfo.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if words.first == "Node", words.count >= 4 {
                node0 = words[1] == "0,"
                current = String(words[3])
            } else if node0, let zone = current, words.count == 2, words[0] == "managed",
                let n = UInt64(words[1])
            {
                if n > 0 { zones.append((zone, n)) }
                current = nil
            }
        }
        return zones
    }

    /// The `machine` settings vmsim can express, as `key=value` pairs.
    public var machineSettings: [(String, String)] {
        var out: [(String, String)] = []
        // RAM rounded up to a GiB, and at least where the zones end: /proc/zoneinfo's holes are
        // not RAM, but Normal starts at 4 GiB, and with deferred struct-page init
        // (`deferred_init=lazy`) Normal's managed pages grow as the host uses memory.
        let sizes = self.zones.compactMap { z in
            ZoneType(name: z.name).map { MachineConfig.ZoneSize(zone: $0, managedPages: z.managed) }
        }
        let zonesEnd = sizes.isEmpty ? 0 : MachineConfig().explicitZonesEndBytes(sizes)
        if let total = self.memTotal {
            out.append(("memory", "\((max(total, zonesEnd) + (1 << 30) - 1) >> 30)GiB"))
        }
        if !self.zones.isEmpty {
            out.append(("zones", self.zones.map { "\($0.name)=\($0.managed)" }.joined(separator: ",")))
        }
        if let v = self.minFreeKbytes { out.append(("min-free-kbytes", String(v))) }
        if let v = self.cpus { out.append(("cpus", String(min(v, 64)))) }
        if let t = self.thpEnabled, THPEnabled(rawValue: t) != nil { out.append(("thp", t)) }
        if let d = self.thpDefrag, THPDefrag(rawValue: d) != nil { out.append(("thp-defrag", d)) }
        return out
    }

    /// The sysctls vmsim can express.
    public var sysctls: [(String, String)] {
        var out: [(String, String)] = []
        if let v = self.swappiness { out.append(("vm.swappiness", String(v))) }
        if let v = self.pageCluster { out.append(("vm.page-cluster", String(v))) }
        if let v = self.readAheadKB { out.append(("block.read_ahead_kb", String(v))) }
        return out
    }

    /// Settings read but not expressible in vmsim, or not readable, each with why.
    public var unexpressed: [String] {
        var out: [String] = []
        if self.pageSize != 4096 { out.append("page size \(self.pageSize): vmsim's x86_64 pages are 4 KiB") }
        if let t = self.thpEnabled, THPEnabled(rawValue: t) == nil {
            out.append("transparent_hugepage/enabled=\(t): not a mode vmsim knows")
        }
        if let d = self.thpDefrag, THPDefrag(rawValue: d) == nil {
            out.append("transparent_hugepage/defrag=\(d): not a mode vmsim knows")
        }
        if let f = self.faultAroundBytes {
            if f != 65536 { out.append("fault_around_bytes=\(f): vmsim's fault-around is 64 KiB") }
        } else {
            out.append(
                "fault_around_bytes: not readable (debugfs not mounted); vmsim uses 64 KiB, the default")
        }
        if let o = self.overcommitMemory, o != 0 {
            out.append("vm.overcommit_memory=\(o): vmsim implements the heuristic mode (0) only")
        }
        if self.readAheadKB == nil {
            out.append(
                "read_ahead_kb: \(self.blockDevice ?? "no block device found for the temporary directory")")
        }
        return out
    }

    /// `machine zones=… min-free-kbytes=… cpus=…` plus a `sysctl` line, and the comments.
    public var machineLine: String {
        var lines = ["machine " + self.machineSettings.map { "\($0)=\($1)" }.joined(separator: " ")]
        if !self.sysctls.isEmpty {
            lines.append("sysctl " + self.sysctls.map { "\($0)=\($1)" }.joined(separator: " "))
        }
        for u in self.unexpressed { lines.append("# not applied: " + u) }
        return lines.joined(separator: "\n")
    }
}
