import VMCore
import VMPhys
import VMTypes

/// Reads machine settings written as text (`memory=256MiB`, `--zones DMA=3840,…`), shared by the
/// command line and the scenario language's `machine` line.
public enum MachineSpec {
    /// The settings `apply` understands, as the command line spells them.
    public static let settings = [
        "memory", "arch", "zones", "min-free-kbytes", "watermark-scale-factor", "lowmem-reserve-ratio",
        "kernel-image", "cpus", "disk", "swap", "kswapd", "reclaim", "thp", "thp-defrag",
    ]

    /// The architecture names `arch=` accepts.
    public static var architectureNames: [String] { Architecture.named.map(\.name) }

    /// Applies one `name=value` setting. Throws a `ConfigError` naming the setting and what was expected.
    public static func apply(_ name: String, _ value: String, to config: inout MachineConfig)
        throws(ConfigError)
    {
        switch name {
        case "memory":
            config.memory = try self.size(value, setting: name, atMost: self.maxMemory)
        case "arch":
            guard let arch = Architecture.named(value) else {
                throw ConfigError(
                    setting: name,
                    message:
                        "unknown architecture '\(value)' (expected \(self.architectureNames.joined(separator: ", ")))"
                )
            }
            config.architecture = arch
        case "zones":
            config.zoneSizes = try self.zones(value, pageSize: config.pageSize)
        case "min-free-kbytes":
            config.minFreeKbytes = try self.integer(value, setting: name, in: 0...(1 << 30))
        case "watermark-scale-factor":
            config.watermarkScaleFactor = try self.integer(value, setting: name, in: 1...3000)
        case "lowmem-reserve-ratio":
            var ratios: [Int] = []
            for part in value.split(whereSeparator: { $0 == "," || $0 == " " }) {
                ratios.append(try self.integer(String(part), setting: name, in: 0...Int.max))
            }
            config.lowmemReserveRatio = ratios
        case "kernel-image":
            config.kernelImage = try self.size(value, setting: name, atMost: self.maxMemory)
        case "cpus":
            config.cpus = try self.integer(value, setting: name, in: 1...64)
        case "disk":
            guard let disk = DiskKind(rawValue: value) else {
                throw ConfigError(
                    setting: name,
                    message:
                        "unknown disk '\(value)' (expected \(DiskKind.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            config.disk = disk
        case "swap":
            config.swap = try self.size(value, setting: name)
        case "kswapd":
            guard let mode = KswapdMode(rawValue: value) else {
                throw ConfigError(
                    setting: name, message: "unknown kswapd mode '\(value)' (expected modern, periodic)")
            }
            config.periodicKswapd = mode == .periodic
        case "reclaim":
            switch value {
            case "classic": config.lruGen = false
            case "mglru": config.lruGen = true
            default:
                throw ConfigError(
                    setting: name, message: "unknown reclaim '\(value)' (expected classic, mglru)")
            }
        case "thp":
            guard let mode = THPEnabled(rawValue: value) else {
                throw ConfigError(
                    setting: name, message: "unknown THP mode '\(value)' (expected always, madvise, never)")
            }
            config.thp = mode
        case "thp-defrag":
            guard let mode = THPDefrag(rawValue: value) else {
                throw ConfigError(
                    setting: name,
                    message:
                        "unknown THP defrag mode '\(value)' (expected \(THPDefrag.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            config.thpDefrag = mode
        default:
            throw ConfigError(
                setting: name,
                message: "unknown machine setting (expected one of \(self.settings.joined(separator: ", ")))")
        }
    }

    /// The most RAM any architecture boots with (x86-64's 1 TiB); each one's own limit is
    /// checked at boot, once the architecture is known.
    static var maxMemory: UInt64 { Architecture.named.map(\.maxMemory).max() ?? 1 << 40 }

    /// A size, at most `limit` when one is given. Ranges that hold whatever else is set are
    /// checked here, as a flag or a `machine` line is read; the rest (RAM against the
    /// architecture, zones against RAM) when the machine boots.
    static func size(_ text: String, setting: String, atMost limit: UInt64? = nil) throws(ConfigError)
        -> UInt64
    {
        let value: UInt64
        do {
            value = try ByteSize.parse(text)
        } catch {
            throw ConfigError(setting: setting, message: error.description)
        }
        if let limit, value > limit {
            throw ConfigError(
                setting: setting, message: "\(ByteSize.human(value)) is more than \(ByteSize.human(limit))")
        }
        return value
    }

    static func integer(_ text: String, setting: String, in range: ClosedRange<Int>) throws(ConfigError)
        -> Int
    {
        guard let n = Int(text) else {
            throw ConfigError(setting: setting, message: "'\(text)' is not an integer")
        }
        guard range.contains(n) else {
            let upper = range.upperBound == Int.max ? "" : "\(range.upperBound)"
            throw ConfigError(setting: setting, message: "expected \(range.lowerBound)…\(upper), got \(n)")
        }
        return n
    }

    /// `DMA=3840,DMA32=772917,Normal=5394266`: managed pages per zone (a unit such as `MiB`
    /// gives bytes instead, which must be whole pages).
    static func zones(_ text: String, pageSize: UInt64) throws(ConfigError) -> [MachineConfig.ZoneSize] {
        var result: [MachineConfig.ZoneSize] = []
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else {
                throw ConfigError(setting: "zones", message: "expected ZONE=PAGES, got '\(part)'")
            }
            guard let zone = ZoneType(name: String(kv[0])) else {
                throw ConfigError(
                    setting: "zones",
                    message: "unknown zone '\(kv[0])' (expected DMA, DMA32, Normal or HighMem)")
            }
            let valueText = String(kv[1])
            let pages: UInt64
            if let n = UInt64(valueText) {
                pages = n
            } else {
                let bytes = try self.size(valueText, setting: "zones")
                guard bytes % pageSize == 0 else {
                    throw ConfigError(
                        setting: "zones",
                        message: "zone \(zone.name) size \(valueText) is not a whole number of pages")
                }
                pages = bytes / pageSize
            }
            result.append(MachineConfig.ZoneSize(zone: zone, managedPages: pages))
        }
        guard !result.isEmpty else {
            throw ConfigError(setting: "zones", message: "expected ZONE=PAGES[,ZONE=PAGES…]")
        }
        return result
    }
}
