import Foundation
import VMCore
import VMPhys
import VMTypes

/// The machine's memory state as JSON: the same data as the `/proc` reports, for tools.
public struct MachineReport: Encodable, Sendable {
    public struct Machine: Encodable, Sendable {
        public var arch: String
        public var ramBytes: UInt64
        public var pageSize: UInt64
        public var minFreeKbytes: Int
        public var watermarkScaleFactor: Int
        public var lowmemReserveRatio: [Int]
        public var totalReservePages: Int
    }
    public struct ZoneReport: Encodable, Sendable {
        public var name: String
        public var startPFN: UInt64
        public var spanned: UInt64
        public var present: UInt64
        public var managed: UInt64
        public var free: Int
        public var min: Int
        public var low: Int
        public var high: Int
        public var promo: Int
        public var protection: [Int]
        /// Free blocks per order (buddyinfo).
        public var freeBlocks: [Int]
        public var pcpCount: Int
        public var pcpHigh: Int
        public var pcpBatch: Int
    }
    public struct SlabReport: Encodable, Sendable {
        public var name: String
        public var activeObjects: Int
        public var objects: Int
        public var objectSize: Int
        public var objectsPerSlab: Int
        public var pagesPerSlab: Int
        public var slabs: Int
    }
    public struct VmallocReport: Encodable, Sendable {
        public var start: String
        public var end: String
        public var size: UInt64
        public var caller: String
        public var pages: Int
        public var kind: String
    }
    public var machine: Machine
    /// `/proc/meminfo`, in kB (HugePages_* are counts).
    public var meminfo: [String: UInt64]
    public var zones: [ZoneReport]
    public var slabinfo: [SlabReport]
    public var vmallocinfo: [VmallocReport]
    /// `/proc/vmstat`.
    public var vmstat: [String: Int]

    public init(kernel: Kernel) {
        let phys = kernel.phys
        self.machine = Machine(
            arch: kernel.architecture.name, ramBytes: phys.ramBytes, pageSize: phys.pageSize,
            minFreeKbytes: phys.minFreeKbytes, watermarkScaleFactor: phys.watermarkScaleFactor,
            lowmemReserveRatio: phys.lowmemReserveRatio, totalReservePages: phys.totalReservePages)
        var meminfo: [String: UInt64] = [:]
        for field in kernel.memInfo() { meminfo[field.name] = field.value }
        self.meminfo = meminfo
        self.zones = phys.zones.enumerated().map { z, zone in
            ZoneReport(
                name: zone.type.name, startPFN: zone.startPFN, spanned: zone.spannedPages,
                present: zone.presentPages,
                managed: zone.managedPages, free: zone.freePages, min: zone.watermarkPages(.min),
                low: zone.watermarkPages(.low), high: zone.watermarkPages(.high),
                promo: zone.watermarkPages(.promo),
                protection: zone.lowmemReserve, freeBlocks: zone.freeArea.map(\.count),
                pcpCount: phys.pcp[z].count,
                pcpHigh: phys.pcp[z].high, pcpBatch: phys.pcp[z].batch)
        }
        self.slabinfo = phys.slab.caches.reversed().map {
            SlabReport(
                name: $0.name, activeObjects: $0.activeObjects, objects: $0.totalObjects, objectSize: $0.size,
                objectsPerSlab: $0.objectsPerSlab, pagesPerSlab: 1 << $0.order, slabs: $0.slabCount)
        }
        self.vmallocinfo = phys.vmallocState.areas.map {
            VmallocReport(
                start: hex($0.start), end: hex($0.end), size: $0.size, caller: $0.caller,
                pages: $0.pages.count,
                kind: $0.kind.rawValue)
        }
        var vmstat: [String: Int] = [:]
        for line in ProcFS.vmstat(kernel).split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let n = Int(parts[1]) { vmstat[String(parts[0])] = n }
        }
        self.vmstat = vmstat
    }

    /// Deterministic pretty JSON (keys sorted).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else {
            preconditionFailure("MachineReport: encoding failed")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The final state of a scenario run as JSON: the machine report, every process with its
/// counters and VMAs, and the expectation score.
public struct ScenarioReport: Encodable, Sendable {
    public struct VMAReport: Encodable, Sendable {
        public var start: String
        public var end: String
        public var perms: String
        public var flags: String
        public var name: String?
        public var rss: UInt64
    }
    public struct ProcessReport: Encodable, Sendable {
        public var pid: Int
        public var ppid: Int
        public var name: String
        public var state: String
        public var exit: String?
        public var minflt: Int
        public var majflt: Int
        public var vmSizeKB: UInt64
        public var rssKB: UInt64
        public var rssAnonKB: UInt64
        public var rssFileKB: UInt64
        public var vmPteKB: UInt64
        public var vmas: [VMAReport]
    }
    public struct FileReport: Encodable, Sendable {
        public var path: String
        public var inode: Int
        public var kind: String
        public var sizeBytes: UInt64
        public var cachedKB: UInt64
        public var dirtyKB: UInt64
        public var writebackKB: UInt64
        public var mappings: Int
    }
    public struct DiskReport: Encodable, Sendable {
        public var device: String
        public var kind: String
        public var reads: UInt64
        public var writes: UInt64
        public var readBytes: UInt64
        public var writtenBytes: UInt64
        public var busyNanoseconds: UInt64
    }
    public var machine: MachineReport
    public var processes: [ProcessReport]
    /// Files in the inode cache, with their page cache.
    public var files: [FileReport]
    public var disk: DiskReport
    /// The simulated clock at the end, in nanoseconds.
    public var timeNanoseconds: UInt64
    public var expectationsPassed: Int
    public var expectationsFailed: Int
    public var failures: [String]
    /// Each scenario line with its effect (when the run was narrated).
    public var lines: [LineEffect]?

    public init(runner: ScenarioRunner) {
        let kernel = runner.kernel
        let kb = UInt64(kernel.phys.pageSize >> 10)
        self.machine = MachineReport(kernel: kernel)
        self.processes = kernel.taskList.map { task in
            let mm = task.mm
            let vmas =
                mm.map { mm in
                    mm.vmas.map { vma in
                        VMAReport(
                            start: hex(vma.start), end: hex(vma.end), perms: vma.flags.permissions,
                            flags: vma.flags.smapsMnemonics.trimmingCharacters(),
                            name: ProcFS.vmaName(vma, mm: mm, kernel: kernel),
                            rss: ProcFS.smapsCounters(kernel, mm: mm, vma: vma).resident >> 10)
                    }
                } ?? []
            return ProcessReport(
                pid: task.pid, ppid: task.parentPID, name: task.name, state: task.state.rawValue,
                exit: task.exitReason?.description,
                minflt: task.minorFaults, majflt: task.majorFaults, vmSizeKB: UInt64(mm?.totalVM ?? 0) * kb,
                rssKB: UInt64(mm?.rssPages ?? 0) * kb, rssAnonKB: UInt64(mm?.counter(.anonPages) ?? 0) * kb,
                rssFileKB: UInt64(mm?.counter(.filePages) ?? 0) * kb,
                vmPteKB: UInt64(mm?.pageTablePages ?? 0) * kb, vmas: vmas)
        }
        self.files = kernel.files.filter { $0.inCore && $0.kind != .directory }.map { file in
            FileReport(
                path: file.path, inode: file.inode, kind: file.kind.rawValue, sizeBytes: file.size,
                cachedKB: UInt64(file.cachedPages) * kb, dirtyKB: UInt64(file.dirtyPages) * kb,
                writebackKB: UInt64(file.writebackPages) * kb, mappings: file.mappers.count)
        }
        let disk = kernel.vfs.disk
        self.disk = DiskReport(
            device: disk.kind.deviceName, kind: disk.kind.rawValue, reads: disk.stats.readsCompleted,
            writes: disk.stats.writesCompleted, readBytes: disk.stats.sectorsRead * 512,
            writtenBytes: disk.stats.sectorsWritten * 512, busyNanoseconds: disk.stats.busyNanos)
        self.timeNanoseconds = kernel.now
        self.expectationsPassed = runner.expectationsPassed
        self.expectationsFailed = runner.expectationsFailed
        self.failures = runner.failures
        self.lines = runner.narrator?.effects
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else {
            preconditionFailure("ScenarioReport: encoding failed")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
