import Foundation
import Testing

@testable import VMHost

/// The settings reader on /proc and /sys files captured from hosts (Fixtures/).
@Suite struct HostSettingsTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures"
    ).path

    @Test func capturedLinux618VirtualMachine() {
        let s = HostSettings.read(root: Self.fixtures + "/linux-6.18-vm", deviceNumber: (254, 0))
        #expect(s.pageSize == 4096)
        #expect(s.thpEnabled == "madvise")
        #expect(s.thpDefrag == "madvise")
        #expect(s.readAheadKB == 8192)
        #expect(s.blockDevice == "vda")
        #expect(s.faultAroundBytes == nil)
        #expect(s.swappiness == 60)
        #expect(s.pageCluster == 3)
        #expect(s.minFreeKbytes == 67584)
        #expect(s.overcommitMemory == 0)
        #expect(s.cpus == 2)
        #expect(s.zones.map(\.name) == ["DMA", "DMA32", "Normal"])
        #expect(s.zones.map(\.managed) == [3840, 772850, 1277952])
        #expect(s.swapTotal == 0)
        #expect(
            s.machineLine == """
                machine memory=24GiB zones=DMA=3840,DMA32=772850,Normal=1277952 min-free-kbytes=67584 cpus=2 thp=madvise thp-defrag=madvise
                sysctl vm.swappiness=60 vm.page-cluster=3 block.read_ahead_kb=8192
                # not applied: fault_around_bytes: not readable (debugfs not mounted); vmsim uses 64 KiB, the default
                """)
    }

    /// A made-up host: THP always, debugfs mounted, strict overcommit, CPUs 0,2-3, a second NUMA
    /// node (ignored: vmsim models node 0), an empty Normal zone, and a partition whose queue is
    /// its disk's.
    @Test func thpAlwaysOnAPartition() {
        let s = HostSettings.read(root: Self.fixtures + "/thp-always-partition", deviceNumber: (8, 1))
        #expect(s.thpEnabled == "always")
        #expect(s.thpDefrag == "defer+madvise")
        #expect(s.faultAroundBytes == 4096)
        #expect(s.readAheadKB == 4096)
        #expect(s.blockDevice == "sda")
        #expect(s.cpus == 3)
        #expect(s.zones.map(\.name) == ["DMA", "DMA32"])
        #expect(s.memAvailable == 6_000_000 * 1024)
        #expect(
            s.machineSettings.map { "\($0)=\($1)" } == [
                "memory=8GiB", "zones=DMA=3840,DMA32=500000", "min-free-kbytes=11264", "cpus=3", "thp=always",
                "thp-defrag=defer+madvise",
            ])
        #expect(
            s.sysctls.map { "\($0)=\($1)" } == [
                "vm.swappiness=10", "vm.page-cluster=0", "block.read_ahead_kb=4096",
            ])
        #expect(s.unexpressed.count == 2)
        #expect(s.unexpressed.contains { $0.hasPrefix("fault_around_bytes=4096") })
        #expect(s.unexpressed.contains { $0.hasPrefix("vm.overcommit_memory=2") })
    }

    @Test func missingFilesAreReportedNotGuessed() {
        let s = HostSettings.read(root: "/nonexistent-vmsim-root", deviceNumber: (1, 2))
        #expect(s.zones.isEmpty && s.swappiness == nil && s.cpus == nil)
        #expect(s.readAheadKB == nil)
        #expect(s.unexpressed.contains { $0.hasPrefix("read_ahead_kb: 1:2 has no queue") })
    }
}
