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
