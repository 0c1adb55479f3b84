/// The kind of disk behind the file system, with a latency model of its class.
public enum DiskKind: String, CaseIterable, Sendable {
    /// A 7200 rpm hard disk: seeks and rotational delay dominate random I/O.
    case hdd
    /// A SATA solid-state disk: a fixed command overhead, no seeks.
    case ssd
    /// An NVMe solid-state disk: small overhead, fast transfer.
    case nvme

    /// The whole-disk device name and its major number (`/proc/diskstats`, `/proc/PID/maps`).
    public var deviceName: String { self == .nvme ? "nvme0n1" : "sda" }
    public var major: Int { self == .nvme ? 259 : 8 }
}
