import VMCore
import VMPaging
import VMPhys
import VMTypes

/// The whole visible state of a scenario's machine at one step, as the web visualiser draws it
/// (`vmsim serve`): zones with watermarks and buddy free lists, the frame map, each process's
/// VMAs with RSS and swap, the LRU lists, swap areas, the page cache, slab caches, the TLB and
/// the counters. Read-only: building it changes nothing (no Accessed bits, no TLB fills).
public struct MachineView: Encodable, Sendable {
    public struct ZoneView: Encodable, Sendable {
        public var name: String
        public var startPFN: UInt64
        public var endPFN: UInt64
        public var present: UInt64
        public var managed: UInt64
        public var free: Int
        public var min: Int
        public var low: Int
        public var high: Int
        /// Free blocks per order 0 ... 10 (`/proc/buddyinfo`).
        public var freeBlocks: [Int]
    }
    public struct VMAView: Encodable, Sendable {
        public var start: String
        public var end: String
        public var pages: Int
        public var perms: String
        public var flags: String
        /// `anon`, `file`, `shmem` or `special`.
        public var backing: String
        public var name: String?
        /// The scenario's name for the region starting here (`buf`, `heap` …), if any.
        public var region: String?
        public var rssKB: UInt64
        public var swapKB: UInt64
    }
    public struct ProcessView: Encodable, Sendable {
        public var pid: Int
        public var name: String
        public var state: String
        public var exit: String?
        public var minflt: Int
        public var majflt: Int
        public var rssKB: UInt64
        public var cr3: String?
        public var vmas: [VMAView]
    }
    public struct LRUView: Encodable, Sendable {
        public var name: String
        public var pages: Int
        /// The first PFNs from the head (most recently added), at most 16.
        public var head: [UInt64]
    }
    public struct SwapAreaView: Encodable, Sendable {
        public var path: String
        public var kind: String
        public var priority: Int
        public var pages: UInt64
        public var used: UInt64
    }
    public struct FileView: Encodable, Sendable {
        public var path: String
        public var kind: String
        public var sizeBytes: UInt64
        public var cachedPages: Int
        public var dirtyPages: Int
        public var writebackPages: Int
        public var mappings: Int
    }
    public struct TLBView: Encodable, Sendable {
        public struct Entry: Encodable, Sendable {
            public var level: Int
            public var set: Int
            public var vpn: String
            public var pcid: UInt64?
            public var pfn: String
            public var writable: Bool
            public var user: Bool
        }
        public var l1Entries: Int
        public var l1Ways: Int
        public var l2Entries: Int?
        public var l2Ways: Int?
        public var pcid: Bool
        public var currentPCID: UInt64
        public var lookups: UInt64
        public var hits: UInt64
        public var misses: UInt64
        public var flushes: UInt64
        public var entries: [Entry]
    }
    public struct Counter: Encodable, Sendable {
        public var name: String
        public var value: Int
        public var delta: Int
    }
    public struct Frames: Encodable, Sendable {
        public var count: Int
        /// `FrameMap.encodedUses()`.
        public var rle: String
        /// PFNs whose `struct page` changed in this step (at most `changedLimit`).
        public var changed: [Int]
        public var changedTotal: Int
    }

    public var pageSize: UInt64
    public var arch: String
    public var ramBytes: UInt64
    public var zones: [ZoneView]
    public var frames: Frames
    public var processes: [ProcessView]
    public var lru: [LRUView]
    public var swap: [SwapAreaView]
    public var swapCacheKB: UInt64
    public var files: [FileView]
    public var slab: [MachineReport.SlabReport]
    public var tlb: TLBView
    public var meminfo: [String: UInt64]
    /// Every `/proc/vmstat` counter with its change in this step.
    public var counters: [Counter]

    public static let changedLimit = 20_000

    /// The view of `runner`'s machine; `frames` is its frame map now, `previous` the map and
    /// `/proc/vmstat` before the step (for the changed frames and the deltas).
    public init(
        runner: ScenarioRunner, frames: FrameMap, previous: FrameMap?, previousCounters: [String: Int]
    ) {
        let kernel = runner.kernel
        let phys = kernel.phys
        let kb = UInt64(phys.pageSize >> 10)
        self.pageSize = phys.pageSize
        self.arch = kernel.architecture.name
        self.ramBytes = phys.ramBytes
        self.zones = phys.zones.filter(\.isPopulated).map { zone in
            ZoneView(
                name: zone.type.name, startPFN: zone.startPFN, endPFN: zone.endPFN,
                present: zone.presentPages,
                managed: zone.managedPages, free: zone.freePages, min: zone.watermarkPages(.min),
                low: zone.watermarkPages(.low), high: zone.watermarkPages(.high),
                freeBlocks: zone.freeArea.map(\.count))
        }
        let changed = frames.changed(since: previous)
        self.frames = Frames(
            count: frames.uses.count, rle: frames.encodedUses(),
            changed: Array(changed.prefix(Self.changedLimit)),
            changedTotal: changed.count)
        var regionNames: [Int: [UInt64: String]] = [:]
        for (pid, regions) in runner.regions {
            for (name, r) in regions where r.length > 0 { regionNames[pid, default: [:]][r.start] = name }
        }
        let names = Dictionary(
            runner.processes.map { ($0.value.pid, $0.key) }, uniquingKeysWith: { a, _ in a })
        self.processes = kernel.taskList.filter { !$0.isKernelThread || names[$0.pid] != nil }.map { task in
            let vmas: [VMAView] =
                task.mm.map { mm in
                    mm.vmas.map { vma in
                        let c = ProcFS.smapsCounters(kernel, mm: mm, vma: vma)
                        let backing: String
                        switch vma.backing {
                        case .anonymous: backing = "anon"
                        case .file: backing = "file"
                        case .shmem: backing = "shmem"
                        case .special: backing = "special"
                        }
                        return VMAView(
                            start: hex(vma.start), end: hex(vma.end),
                            pages: vma.pages(pageShift: phys.pageShift),
                            perms: vma.flags.permissions,
                            flags: vma.flags.smapsMnemonics.trimmingCharacters(),
                            backing: backing, name: ProcFS.vmaName(vma, mm: mm, kernel: kernel),
                            region: regionNames[task.pid]?[vma.start], rssKB: c.resident >> 10,
                            swapKB: c.swap >> 10)
                    }
                } ?? []
            return ProcessView(
                pid: task.pid, name: names[task.pid] ?? task.name, state: task.state.rawValue,
                exit: task.exitReason?.description, minflt: task.minorFaults, majflt: task.majorFaults,
                rssKB: UInt64(task.mm?.rssPages ?? 0) * kb,
                cr3: task.mm.map { hex($0.pgd.rawValue << UInt64(phys.pageShift)) }, vmas: vmas)
        }
        self.lru = LRUList.allCases.map { list in
            let pages = kernel.lruPages(list)
            return LRUView(name: list.name, pages: pages.count, head: pages.prefix(16).map(\.rawValue))
        }
        self.swap = kernel.swapAreas.map {
            SwapAreaView(
                path: $0.path, kind: $0.isFile ? "file" : "partition", priority: $0.priority, pages: $0.pages,
                used: $0.inUse)
        }
        var meminfo: [String: UInt64] = [:]
        for field in kernel.memInfo() { meminfo[field.name] = field.value }
        self.meminfo = meminfo
        self.swapCacheKB = meminfo["SwapCached"] ?? 0
        self.files = kernel.files.filter { $0.inCore && $0.kind != .directory }.map { file in
            FileView(
                path: file.path, kind: file.kind.rawValue, sizeBytes: file.size,
                cachedPages: file.cachedPages,
                dirtyPages: file.dirtyPages, writebackPages: file.writebackPages, mappings: file.mappers.count
            )
        }
        self.slab = MachineReport(kernel: kernel).slabinfo
        let tlb = kernel.mmu.tlb
        let stats = tlb.stats
        let l1Sets = max(tlb.l1Geometry.entries / max(tlb.l1Geometry.ways, 1), 1)
        let l2Sets = tlb.l2Geometry.map { max($0.entries / max($0.ways, 1), 1) } ?? 1
        self.tlb = TLBView(
            l1Entries: tlb.l1Geometry.entries, l1Ways: tlb.l1Geometry.ways,
            l2Entries: tlb.l2Geometry?.entries,
            l2Ways: tlb.l2Geometry?.ways, pcid: tlb.pcidEnabled, currentPCID: tlb.currentPCID,
            lookups: stats.lookups, hits: stats.l1Hits + stats.l2Hits, misses: stats.misses,
            flushes: stats.flushes,
            entries: tlb.dump().prefix(4096).map { e in
                TLBView.Entry(
                    level: e.level, set: Int(e.vpn % UInt64(e.level == 1 ? l1Sets : l2Sets)), vpn: hex(e.vpn),
                    pcid: e.pcid, pfn: hex(e.pfn), writable: e.bits.contains(.writable),
                    user: e.bits.contains(.user))
            })
        let vmstat = Self.vmstat(kernel)
        self.counters = vmstat.map { name, value in
            Counter(name: name, value: value, delta: value - (previousCounters[name] ?? 0))
        }
    }

    /// `/proc/vmstat` as (name, value) in the kernel's order.
    public static func vmstat(_ kernel: Kernel) -> [(String, Int)] {
        ProcFS.vmstat(kernel).split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let n = Int(parts[1]) else { return nil }
            return (String(parts[0]), n)
        }
    }
}

/// One frame's `struct page` (include/linux/mm_types.h) as the frame map's hover shows it.
public struct FrameView: Encodable, Sendable {
    public struct Mapper: Encodable, Sendable {
        public var pid: Int
        public var process: String
        public var address: String
    }
    public var pfn: String
    public var physical: String
    public var zone: String?
    public var use: String
    public var flags: String
    public var refcount: Int
    public var mapcount: Int
    public var order: Int
    /// The LRU list it is on, if any.
    public var lru: String?
    /// `anon_vma#N`, a file path, or nil.
    public var mapping: String?
    public var index: UInt64
    /// Every PTE that maps it (the reverse map), at most 32.
    public var mappedBy: [Mapper]

    public init?(runner: ScenarioRunner, pfn: UInt64, frames: FrameMap) {
        let kernel = runner.kernel
        let phys = kernel.phys
        guard pfn < UInt64(frames.uses.count) else { return nil }
        let p = PFN(rawValue: pfn)
        let memMap = phys.memMap
        let flags = memMap.flags(p)
        self.pfn = hex(pfn)
        self.physical = hex(pfn << UInt64(phys.pageShift))
        self.zone = phys.zoneIndex(of: p).map { phys.zones[$0].type.name }
        let use = Int(frames.uses[Int(pfn)])
        self.use = use < FrameUse.names.count ? FrameUse.names[use] : "?"
        self.flags = flags.description
        self.refcount = memMap.refCount(p)
        self.mapcount = memMap.mapCount(p)
        self.order = memMap.order(p)
        if flags.contains(.lru) {
            let file = !flags.contains(.swapBacked)
            let active = flags.contains(.active)
            self.lru = (active ? "active_" : "inactive_") + (file ? "file" : "anon")
            if flags.contains(.unevictable) { self.lru = "unevictable" }
        }
        let mapping = memMap.mapping(p)
        self.index = memMap.index(p)
        if mapping == 0 {
            self.mapping = nil
        } else if flags.contains(.anon) {
            self.mapping = "anon_vma#\(mapping - 1)"
        } else if Int(mapping - 1) < kernel.files.count {
            self.mapping = kernel.file(FileID(rawValue: Int(mapping - 1))).path
        }
        var mappers: [Mapper] = []
        let names = Dictionary(
            runner.processes.map { ($0.value.pid, $0.key) }, uniquingKeysWith: { a, _ in a })
        let mapped = flags.contains(.anon) || mapping != 0
        if mapped && flags.contains(.lru) || mapped && self.mapcount > 0 {
            for m in kernel.rmapWalk(p).prefix(32) {
                guard let task = kernel.taskList.first(where: { $0.mm === m.mm }) else { continue }
                mappers.append(
                    Mapper(pid: task.pid, process: names[task.pid] ?? task.name, address: hex(m.address)))
            }
        }
        self.mappedBy = mappers
    }
}

/// The page-table walk of one address of a process (what `translate` explains), as data: each
/// level's table, index and entry with its flags decoded, and the frame or the fault.
public struct WalkView: Encodable, Sendable {
    public struct Level: Encodable, Sendable {
        public var level: String
        public var table: String
        public var index: Int
        public var entryAddress: String
        public var entry: String
        /// `present`, `empty`, `swap`, `prot_none`.
        public var state: String
        public var flags: [String]
        public var next: String?
    }
    public var pid: Int
    public var address: String
    public var access: String
    public var cr3: String
    public var vma: String?
    public var indices: [Int]
    public var offset: String
    public var levels: [Level]
    public var physical: String?
    public var frame: String?
    public var zeroPage: Bool
    public var fault: String?
    /// The same walk as `translate` prints it.
    public var text: String

    public init?(runner: ScenarioRunner, pid: Int, address: UInt64, access: Access) {
        let kernel = runner.kernel
        guard let task = kernel.tasks[pid], let mm = task.mm else { return nil }
        let arch = kernel.architecture
        let g = arch.paging
        self.pid = pid
        self.address = hex(address)
        self.access = access.rawValue
        self.cr3 = hex(mm.pgd.rawValue << UInt64(arch.pageShift))
        self.vma = mm.vma(containing: address).map {
            "\(hex($0.start))-\(hex($0.end)) \($0.flags.permissions)"
        }
        self.indices = (0..<g.levels).map { g.index(of: address, atLevel: $0) }
        self.offset = hex(address & (arch.pageSize - 1))
        var recorder = WalkRecorder()
        let result = walkPageTables(
            kernel.pageTables, rules: kernel.mmu.rules, features: kernel.mmu.features, root: mm.pgd,
            address: address, access: access, mode: .user, setAccessedDirty: false, observer: &recorder)
        self.levels = recorder.steps.map { step in
            let entryAddress =
                (step.table.rawValue << UInt64(arch.pageShift)) + UInt64(step.index * g.entryBytes)
            let e = step.entry
            let state = e.isNone ? "empty" : e.isSwap ? "swap" : e.isProtNone ? "prot_none" : "present"
            let flags = state == "present" ? PTEFlags.names.filter { e.flags.contains($0.0) }.map(\.1) : []
            var next: String?
            if let swap = e.swapEntry {
                next = "swap \(swap)"
            } else if state == "present" {
                next = hex(e.pfn.rawValue)
            }
            return Level(
                level: g.levelNames[step.level], table: hex(step.table.rawValue), index: step.index,
                entryAddress: hex(entryAddress), entry: hex(e.rawValue, width: g.entryBytes * 2),
                state: state,
                flags: flags, next: next)
        }
        switch result {
        case .mapped(let m):
            self.physical = hex(m.physAddr)
            let frame = m.physAddr >> UInt64(arch.pageShift)
            self.frame = hex(frame)
            self.zeroPage = frame == kernel.zeroPFN.rawValue
            self.fault = nil
        case .fault(let f):
            self.physical = nil
            self.frame = nil
            self.zeroPage = false
            self.fault = "\(f.cause); error code \(f.errorCode)"
        }
        self.text = LiveTranslation.explain(kernel, task, address: address, access: access)
    }
}

/// Each page of one VMA as a byte (0 unmapped, 1 zero page, 2 present read-only, 3 present
/// writable, 4 present and shared with another process, 5 swapped out, 6 PROT_NONE), for the
/// address-space view's page strip.
public struct PageStripView: Encodable, Sendable {
    public var start: String
    public var pages: Int
    /// The first page shown and how many pages each cell covers (1 unless the VMA is huge).
    public var pagesPerCell: Int
    public var cells: [UInt8]
    public static let maxCells = 16_384

    public init?(runner: ScenarioRunner, pid: Int, vmaStart: UInt64) {
        let kernel = runner.kernel
        guard let mm = kernel.tasks[pid]?.mm, let vma = mm.vma(containing: vmaStart) else { return nil }
        let shift = UInt64(kernel.phys.pageShift)
        let pages = vma.pages(pageShift: kernel.phys.pageShift)
        let per = max(1, (pages + Self.maxCells - 1) / Self.maxCells)
        var cells = [UInt8](repeating: 0, count: (pages + per - 1) / per)
        let memMap = kernel.phys.memMap
        kernel.pageTables.forEachPTE(root: mm.pgd, range: vma.start..<vma.end) { address, pte in
            let i = Int((address - vma.start) >> shift) / per
            guard i < cells.count else { return }
            var v: UInt8 = 0
            if pte.isSwap {
                v = 5
            } else if pte.isProtNone {
                v = 6
            } else if pte.isPresent {
                if pte.pfn == kernel.zeroPFN {
                    v = 1
                } else if memMap.mapCount(pte.pfn) > 1 {
                    v = 4
                } else {
                    v = pte.contains(.writable) ? 3 : 2
                }
            }
            cells[i] = max(cells[i], v)
        }
        self.start = hex(vma.start)
        self.pages = pages
        self.pagesPerCell = per
        self.cells = cells
    }
}
