import VMTypes

@testable import VMPhys

/// Boots a machine for a test; traps on a bad configuration (tests pass good ones).
func machine(
    memory: UInt64? = 64 << 20, arch: Architecture = .x86_64, zones: [(ZoneType, UInt64)]? = nil,
    minFreeKbytes: Int? = nil, cpus: Int = 2
) -> PhysicalMemory {
    var config = MachineConfig()
    config.architecture = arch
    config.memory = memory
    if let zones { config.zoneSizes = zones.map { MachineConfig.ZoneSize(zone: $0.0, managedPages: $0.1) } }
    config.minFreeKbytes = minFreeKbytes
    config.cpus = cpus
    do {
        return try PhysicalMemory(config: config)
    } catch {
        fatalError("test machine failed to boot: \(error)")
    }
}

extension PhysicalMemory {
    func zone(_ type: ZoneType) -> Zone { self.zones[self.zoneIndex(of: type)!] }
    /// Free blocks per order for every zone, with per-CPU lists drained first.
    func freeListSnapshot() -> [[Int]] {
        self.zones.map { $0.freeArea.map(\.count) }
    }
}
