import VMCore
import VMPhys
import VMTypes

/// Renders `/proc` files in the exact text layout of Linux 6.18.
///
/// Each function reads the kernel's state and formats it as the kernel's `seq_file` show
/// function does (fs/proc/meminfo.c, mm/vmstat.c, mm/slab_common.c, mm/vmalloc.c), so the output
/// can be diffed against a real machine's.
public enum ProcFS {
    /// `/proc/meminfo`: a 16-column label, the value right-aligned in 8 columns, ` kB`.
    public static func meminfo(_ kernel: Kernel) -> String {
        var out = ""
        for field in kernel.memInfo() {
            out += Pad.left(field.name + ":", 16) + Pad.right(field.value, 8)
            out += field.unit == .kB ? " kB\n" : "\n"
        }
        return out
    }

    /// `/proc/buddyinfo`: free blocks per order for every populated zone (`frag_show_print()`).
    public static func buddyinfo(_ kernel: Kernel) -> String {
        var out = ""
        for zone in kernel.phys.zones where zone.isPopulated {
            out += "Node 0, zone " + Pad.right(zone.type.name, 8) + " "
            for area in zone.freeArea { out += Pad.right(area.count, 6) + " " }
            out += "\n"
        }
        return out
    }

    /// `/proc/zoneinfo` (`zoneinfo_show_print()`): node counters under the first populated
    /// zone, then per zone the free pages, watermarks, sizes, protection (lowmem reserves), zone
    /// and NUMA counters, per-CPU lists and start PFN. Empty zones stop after the protection line.
    public static func zoneinfo(_ kernel: Kernel) -> String {
        let phys = kernel.phys
        var out = ""
        let firstPopulated = phys.zones.firstIndex { $0.isPopulated }
        for (z, zone) in phys.zones.enumerated() {
            out += "Node 0, zone " + Pad.right(zone.type.name, 8)
            if z == firstPopulated {
                out += "\n  per-node stats"
                for item in NodeStatItem.allCases {
                    out += "\n      " + Pad.left(item.name, 12) + " " + String(phys.nodeStats[item.rawValue])
                }
            }
            out += "\n  pages free     \(zone.freePages)"
            out += "\n        boost    \(zone.watermarkBoost)"
            out += "\n        min      \(zone.watermarkPages(.min))"
            out += "\n        low      \(zone.watermarkPages(.low))"
            out += "\n        high     \(zone.watermarkPages(.high))"
            out += "\n        promo    \(zone.watermarkPages(.promo))"
            out += "\n        spanned  \(zone.spannedPages)"
            out += "\n        present  \(zone.presentPages)"
            out += "\n        managed  \(zone.managedPages)"
            out += "\n        cma      0"
            out +=
                "\n        protection: (" + zone.lowmemReserve.map(String.init).joined(separator: ", ") + ")"
            guard zone.isPopulated else {
                out += "\n"
                continue
            }
            for item in ZoneStatItem.allCases {
                out += "\n      " + Pad.left(item.name, 12) + " " + String(zone.state(item))
            }
            for item in NUMAStatItem.allCases {
                out += "\n      " + Pad.left(item.name, 12) + " " + String(zone.numaStats[item.rawValue])
            }
            out += "\n  pagesets"
            let pcp = phys.pcp[z]
            for cpu in 0..<phys.config.cpus {
                out += "\n    cpu: \(cpu)"
                out += "\n              count:    \(cpu == 0 ? pcp.count : 0)"
                out += "\n              high:     \(pcp.high)"
                out += "\n              batch:    \(pcp.batch)"
                out += "\n              high_min: \(pcp.high)"
                out += "\n              high_max: \(pcp.highMax)"
                out += "\n  vm stats threshold: \(phys.statThreshold(zone: z))"
            }
            out += "\n  node_unreclaimable:  0"
            out += "\n  start_pfn:           \(zone.startPFN)"
            out += "\n"
        }
        return out
    }

    /// `/proc/slabinfo` version 2.1 as SLUB prints it (tunables and shared counts are 0),
    /// newest cache first.
    public static func slabinfo(_ kernel: Kernel) -> String {
        var out = "slabinfo - version: 2.1\n"
        out +=
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"
        for cache in kernel.phys.slab.caches.reversed() {
            out +=
                Pad.left(cache.name, 17) + " " + Pad.right(cache.activeObjects, 6) + " "
                + Pad.right(cache.totalObjects, 6)
            out +=
                " " + Pad.right(cache.size, 6) + " " + Pad.right(cache.objectsPerSlab, 4) + " "
                + Pad.right(1 << cache.order, 4)
            out += " : tunables " + Pad.right(0, 4) + " " + Pad.right(0, 4) + " " + Pad.right(0, 4)
            out +=
                " : slabdata " + Pad.right(cache.slabCount, 6) + " " + Pad.right(cache.slabCount, 6) + " "
                + Pad.right(0, 6) + "\n"
        }
        return out
    }

    /// `/proc/vmallocinfo`: busy areas by address (size includes the guard page), then the
    /// lazily freed ranges waiting for a purge.
    public static func vmallocinfo(_ kernel: Kernel) -> String {
        let phys = kernel.phys
        let width = kernel.architecture.is64Bit ? 16 : 8
        var out = ""
        for area in phys.vmallocState.areas {
            out +=
                hex(area.start, width: width) + "-" + hex(area.end, width: width) + " "
                + Pad.right(area.size, 7)
            out += " " + area.caller
            if !area.pages.isEmpty { out += " pages=\(area.pages.count)" }
            if let phys = area.physAddr { out += " phys=" + hex(phys, width: width) }
            out += " " + area.kind.rawValue
            if area.pages.count * 8 > Int(phys.pageSize) { out += " vpages" }
            if !area.pages.isEmpty { out += " N0=\(area.pages.count)" }
            out += "\n"
        }
        for area in phys.vmallocState.purgeList.sorted(by: { $0.start < $1.start }) {
            out +=
                hex(area.start, width: width) + "-" + hex(area.end, width: width) + " "
                + Pad.right(area.size, 7) + " unpurged vm_area\n"
        }
        return out
    }

    /// `/proc/vmstat`: zone, NUMA and node counters, the dirty thresholds, mem_map pages, then the
    /// event counters, in `vmstat_text[]` order. Zone-indexed events are named after the zones of
    /// the architecture (`pgalloc_dma32` on x86-64, `pgalloc_high` on i386).
    public static func vmstat(_ kernel: Kernel) -> String {
        let phys = kernel.phys
        var out = ""
        for item in ZoneStatItem.allCases { out += "\(item.name) \(phys.zoneState(item))\n" }
        for item in NUMAStatItem.allCases {
            out += "\(item.name) \(phys.zones.reduce(0) { $0 + $1.numaStats[item.rawValue] })\n"
        }
        for item in NodeStatItem.allCases { out += "\(item.name) \(phys.nodeStats[item.rawValue])\n" }
        let limits = kernel.globalDirtyLimits()
        out += "nr_dirty_threshold \(limits.dirty)\n"
        out += "nr_dirty_background_threshold \(limits.background)\n"
        out += "nr_memmap_pages 0\n"
        out += "nr_memmap_boot_pages \(phys.boot.memmap?.count ?? 0)\n"
        let zoneNames = phys.zones.map { $0.type == .highMem ? "high" : $0.type.name.lowercased() }
        let zoneGroups: [VMEvent] = [.pgallocDma, .allocstallDma, .pgskipDma]
        var skip = Set<Int>()
        for event in VMEvent.allCases {
            if skip.contains(event.rawValue) { continue }
            if zoneGroups.contains(event) {
                let prefix = String(event.name.dropLast(3))  // "pgalloc_dma" → "pgalloc_"
                for i in 0..<5 { skip.insert(event.rawValue + i) }
                for (i, name) in zoneNames.enumerated() {
                    out += "\(prefix)\(name) \(phys.events[event.rawValue + i])\n"
                }
                continue
            }
            out += "\(event.name) \(phys.events[event.rawValue])\n"
        }
        out += "nr_unstable 0\n"
        return out
    }
}
