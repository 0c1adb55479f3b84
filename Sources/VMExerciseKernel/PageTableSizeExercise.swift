import VMExercise
import VMPaging
import VMPhys
import VMTypes

/// Page-table size and TLB reach: for an address-space layout with every page mapped, how many
/// page tables each level needs, how many bytes of page tables that is, and how much memory the
/// TLBs cover.
///
/// The key maps every page into a fresh `PageTableArena` of the architecture (the tables vmsim's
/// MMU walks, allocated by `pte_alloc()`-style helpers on the way down) and counts the tables at
/// each level by walking them; the TLB geometry is the model's default (`TLBGeometry.l1Data`,
/// `.l2Shared`). Simplified as the model is: no huge pages in user space, the kernel half of the
/// root not counted.
public struct PageTableSizeExercise: Sendable {
    public struct Region: Sendable, Equatable {
        public var name: String
        public var start: UInt64
        public var pages: UInt64
    }

    public let architecture: Architecture
    public let regions: [Region]
    /// Tables per level, root first.
    public let tables: [Int]
    public let l1: TLBGeometry
    public let l2: TLBGeometry
    public let worked: WorkedExercise

    public init(seed: UInt64, difficulty: Int) throws(NativeExerciseError) {
        var rng = SeededGenerator(seed: seed ^ 0x5054_4142_4c45_5300)
        let arch: Architecture =
            switch difficulty {
            case 1: .i386
            case 2: .x86_64
            default: rng.pick([Architecture.x86_64, .x86_64LA57])
            }
        let page = arch.pageSize
        let leafSpan = page << UInt64(arch.paging.levelBits.last!)  // 2 MiB or 4 MiB
        var regions: [Region] = []
        let textStart: UInt64 = arch.is64Bit ? 0x40_0000 : 0x0804_8000
        let text = UInt64(rng.pick(16...600))
        regions.append(Region(name: "text", start: textStart, pages: text))
        let heapStart = (textStart + text * page + UInt64(rng.pick(0...64)) * page + page - 1) / page * page
        regions.append(Region(name: "heap", start: heapStart, pages: UInt64(rng.pick(1...1200))))
        if difficulty >= 2 {
            // An mmap area somewhere below the stack, not aligned to the leaf table's span.
            let gap = UInt64(rng.pick(1...200)) * leafSpan + UInt64(rng.pick(0...511)) * page
            let pages = UInt64(rng.pick(100...3000))
            let top = arch.userTop & ~(leafSpan * 64 - 1)
            regions.append(Region(name: "mmap", start: top - gap - pages * page, pages: pages))
        }
        let stackPages = UInt64(rng.pick(1...(difficulty == 1 ? 64 : 700)))
        regions.append(Region(name: "stack", start: arch.userTop - stackPages * page, pages: stackPages))
        if difficulty == 1 {
            let pages = UInt64(rng.pick(100...2000))
            let start = UInt64(0x4000_0000) + UInt64(rng.pick(0...1023)) * page
            regions.insert(Region(name: "mmap", start: start, pages: pages), at: 2)
        }
        self.architecture = arch
        self.regions = regions
        self.l1 = .l1Data
        self.l2 = .l2Shared

        var config = MachineConfig()
        config.architecture = arch
        config.memory = 64 << 20
        let phys: PhysicalMemory
        do {
            phys = try PhysicalMemory(config: config)
        } catch {
            throw NativeExerciseError("page-tables: the machine does not boot: \(error)")
        }
        let arena = PageTableArena(phys: phys, geometry: arch.paging)
        guard let root = arena.allocTable(level: 0, user: true) else {
            throw NativeExerciseError("page-tables: no memory for the root table")
        }
        var added = 0
        for region in regions {
            for i in 0..<region.pages {
                let pte = PTE(pfn: PFN(rawValue: 1), flags: [.present, .user, .writable])
                guard arena.setPTE(root: root, va: region.start + i * page, pte, tables: &added) != nil else {
                    throw NativeExerciseError("page-tables: out of memory for tables")
                }
            }
        }
        var counts = [Int](repeating: 0, count: arch.paging.levels)
        func walk(_ table: PFN, level: Int) {
            counts[level] += 1
            guard level < arch.paging.levels - 1 else { return }
            for index in 0..<arch.paging.entries(atLevel: level) {
                let entry = arena.readEntry(table, index, level: level)
                if entry.isPresent { walk(entry.pfn, level: level + 1) }
            }
        }
        walk(root, level: 0)
        self.tables = counts
        self.worked = PageTableSizeExercise.work(
            arch: arch, regions: regions, tables: counts, l1: self.l1, l2: self.l2)
    }

    static func hex(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }

    static func work(arch: Architecture, regions: [Region], tables: [Int], l1: TLBGeometry, l2: TLBGeometry)
        -> WorkedExercise
    {
        let g = arch.paging
        let names = g.levelNames
        let page = arch.pageSize
        var givens = "Architecture \(arch.name): \(g.levels) levels ("
        givens += zip(names, g.levelBits).map { "\($0) \($1) bits" }.joined(separator: ", ")
        givens += ", \(g.pageShift)-bit offset), \(g.entryBytes)-byte entries, every table one 4 KiB page.\n"
        givens += "Every page of these regions is mapped (4 KiB pages, no huge pages):\n"
        for r in regions {
            givens += "  \(r.name): \(hex(r.start))–\(hex(r.start + r.pages * page)) (\(r.pages) pages)\n"
        }
        givens += """
            TLBs: L1 dTLB \(l1.entries) entries (\(l1.ways)-way), L2 \(l2.entries) entries \
            (\(l2.ways)-way), each entry one page.

            """
        var questions: [ExerciseQuestion] = []
        var why: [String] = ["\(names[0]): the one root"]
        for level in 1..<g.levels {
            let span = g.span(ofLevel: level - 1)
            var parts: [String] = []
            for r in regions {
                let first = r.start / span
                let last = (r.start + r.pages * page - 1) / span
                parts.append("\(r.name) \(last - first + 1)")
            }
            why.append(
                "\(names[level]) tables: one per \(ByteSize.human(span)) slot of address space touched ("
                    + parts.joined(separator: ", ")
                    + "; slots shared by regions count once) = \(tables[level])")
        }
        questions.append(
            ExerciseQuestion(
                id: "tables", prompt: "page tables at each level, \(names.joined(separator: " "))",
                parts: zip(names, tables).map { AnswerPart($0, $1) }, explanation: why.joined(separator: "\n")
            ))
        let total = tables.reduce(0, +)
        questions.append(
            ExerciseQuestion(
                id: "bytes", prompt: "bytes of page tables in all (the root included)",
                parts: [AnswerPart("bytes", total * Int(page))],
                explanation: "\(total) tables × \(page) bytes = \(total * Int(page))"))
        let mapped = regions.reduce(UInt64(0)) { $0 + $1.pages }
        questions.append(
            ExerciseQuestion(
                id: "pte.used", prompt: "entries in use in the last-level (\(names.last!)) tables",
                parts: [AnswerPart("entries", Int(mapped))],
                explanation: "one per mapped page: \(mapped)"))
        let l1Reach = UInt64(l1.entries) * page
        let l2Reach = UInt64(l2.entries) * page
        questions.append(
            ExerciseQuestion(
                id: "reach", prompt: "TLB reach in KiB: the L1 dTLB, the L2",
                parts: [AnswerPart("l1 KiB", Int(l1Reach >> 10)), AnswerPart("l2 KiB", Int(l2Reach >> 10))],
                explanation:
                    "entries × page size: \(l1.entries) × 4 KiB = \(l1Reach >> 10) KiB; \(l2.entries) × 4 KiB = \(l2Reach >> 10) KiB"
            ))
        let covered = min(mapped, UInt64(l2.entries))
        questions.append(
            ExerciseQuestion(
                id: "coverage",
                prompt: "percent of the mapped pages the L2 TLB can hold at once (rounded down)",
                parts: [AnswerPart("percent", Int(covered * 100 / mapped))],
                explanation: "min(\(mapped), \(l2.entries)) / \(mapped) pages = \(covered * 100 / mapped)%"))
        return WorkedExercise(
            title: "page-table size and TLB reach", givens: givens, questions: questions,
            epilogue:
                "Tables counted by mapping every page into vmsim's PageTableArena for \(arch.name) and walking it."
        )
    }
}
