import VMExercise
import VMPhys
import VMTypes

/// Zone watermarks and lowmem reserves (mm/page_alloc.c `__setup_per_zone_wmarks()`,
/// `setup_per_zone_lowmem_reserve()`, `calculate_min_free_kbytes()`), and the watermark check
/// `__zone_watermark_ok()` that decides whether an allocation may take pages from a zone.
///
/// The machine is an x86-64 PC with explicit zone sizes in managed pages; the key is what
/// `PhysicalMemory` computes when it boots that machine, and the watermark checks are its
/// `zoneWatermarkOK` with the zone's free pages set to the question's value. Simplified as the
/// model is: no watermark boost, no THP raise of `min_free_kbytes`, one NUMA node.
public struct WatermarkExercise: Sendable {
    /// One allocation check: may zone `zone` serve an order-`order` allocation whose highest
    /// usable zone is `highestZone`, with `free` free pages, against the `mark` watermark?
    public struct Check: Sendable {
        public var zone: ZoneType
        public var highestZone: ZoneType
        public var gfp: String
        public var order: Int
        public var free: Int
        public var mark: WatermarkLevel
        public var passes: Bool
    }

    /// Managed pages per zone (DMA, DMA32, Normal; Normal may be empty).
    public let managed: [(zone: ZoneType, pages: UInt64)]
    /// `vm.min_free_kbytes` as given, or nil when the student computes it from the formula.
    public let givenMinFreeKbytes: Int?
    public let minFreeKbytes: Int
    public let watermarkScaleFactor: Int
    public let lowmemReserveRatio: [Int]
    /// min, low, high per populated zone, from the booted model.
    public let watermarks: [(zone: ZoneType, min: Int, low: Int, high: Int)]
    /// `lowmem_reserve[]` (zoneinfo's `protection:`) of each populated zone, from the model.
    public let protection: [(zone: ZoneType, reserve: [Int])]
    public let checks: [Check]
    public let worked: WorkedExercise

    public init(seed: UInt64, difficulty: Int) throws(NativeExerciseError) {
        var rng = SeededGenerator(seed: seed ^ 0x5741_5445_524d_4b53)
        var sizes: [(ZoneType, UInt64)] = [(.dma, UInt64(rng.pick(3840...3977)))]
        sizes.append((.dma32, UInt64(rng.pick(60...225)) * 4096 + UInt64(rng.pick(0...4095))))
        if difficulty >= 2 {
            sizes.append((.normal, UInt64(rng.pick(64...1024)) * 4096 + UInt64(rng.pick(0...4095))))
        }
        let given: Int? =
            difficulty == 3
            ? nil : rng.pick([1024, 2048, 4096, 8192, 11_584, 16_384, 22_528, 45_056, 67_584])
        let scale = difficulty == 3 ? rng.pick([10, 25, 50, 100, 200]) : 10

        var config = MachineConfig()
        config.architecture = .x86_64
        config.zoneSizes = sizes.map { MachineConfig.ZoneSize(zone: $0.0, managedPages: $0.1) }
        config.minFreeKbytes = given
        config.watermarkScaleFactor = scale
        let phys: PhysicalMemory
        do {
            phys = try PhysicalMemory(config: config)
        } catch {
            throw NativeExerciseError("watermarks: the generated machine does not boot: \(error)")
        }
        self.managed = sizes.map { (zone: $0.0, pages: $0.1) }
        self.givenMinFreeKbytes = given
        self.minFreeKbytes = phys.minFreeKbytes
        self.watermarkScaleFactor = scale
        self.lowmemReserveRatio = phys.lowmemReserveRatio
        var marks: [(zone: ZoneType, min: Int, low: Int, high: Int)] = []
        var protection: [(zone: ZoneType, reserve: [Int])] = []
        for zone in phys.zones where zone.managedPages > 0 {
            marks.append((zone.type, zone.minWatermark, zone.lowWatermark, zone.highWatermark))
            protection.append((zone.type, zone.lowmemReserve))
        }
        self.watermarks = marks
        self.protection = protection

        // Checks near the threshold, where the reserve and the order decide.
        var checks: [Check] = []
        let gfps: [(String, ZoneType)] = [("GFP_DMA", .dma), ("GFP_DMA32", .dma32), ("GFP_KERNEL", .normal)]
        for _ in 0..<(1 + difficulty) {
            let (gfp, highest) = rng.pick(gfps.filter { g in sizes.contains { $0.0 <= g.1 } })
            let candidates = sizes.map(\.0).filter { $0 <= highest }
            let zone = rng.pick(candidates)
            guard let z = phys.zoneIndex(of: zone), let j = phys.zoneIndex(of: highest) else { continue }
            let order = rng.pick(0...(difficulty == 1 ? 0 : 4))
            let mark: WatermarkLevel = rng.pick([.low, .min])
            let info = phys.zones[z]
            let threshold = info.watermarkPages(mark) + info.lowmemReserve[j] + (1 << order) - 1
            let free = max(0, threshold + rng.pick(-6...6))
            let passes = phys.zoneWatermarkOK(
                zone: z, order: order, mark: info.watermarkPages(mark), highestZone: j, flags: [], free: free)
            checks.append(
                Check(
                    zone: zone, highestZone: highest, gfp: gfp, order: order, free: free, mark: mark,
                    passes: passes))
        }
        self.checks = checks
        self.worked = WatermarkExercise.work(
            sizes: sizes, given: given, phys: phys, marks: marks, protection: protection, checks: checks,
            scale: scale)
    }

    static func work(
        sizes: [(ZoneType, UInt64)], given: Int?, phys: PhysicalMemory,
        marks: [(zone: ZoneType, min: Int, low: Int, high: Int)],
        protection: [(zone: ZoneType, reserve: [Int])],
        checks: [Check], scale: Int
    ) -> WorkedExercise {
        let zoneNames = ZoneType.zones(for: .pc64).map(\.name)
        var givens = "An x86-64 machine (4 KiB pages, one node) with these zones, in managed pages:\n"
        for (zone, pages) in sizes { givens += "  \(zone.name): \(pages)\n" }
        givens += "  (zones in order: \(zoneNames.joined(separator: ", ")); Movable and Device are empty)\n"
        if let given {
            givens += "vm.min_free_kbytes = \(given)"
        } else {
            givens +=
                "vm.min_free_kbytes is the kernel's default: int_sqrt(lowmem_kbytes × 16), clamped to 128…262144"
        }
        givens += ", vm.watermark_scale_factor = \(scale), vm.lowmem_reserve_ratio = "
        givens += phys.lowmemReserveRatio.map(String.init).joined(separator: " ") + ".\n"
        givens += """
            Rules (mm/page_alloc.c): pages_min = min_free_kbytes / 4; each zone's min is pages_min × \
            managed / (managed pages of all zones below HighMem), rounded down; gap = max(min / 4, \
            managed × watermark_scale_factor / 10000); low = min + gap, high = min + 2 × gap. \
            lowmem_reserve[j] of zone i (j > i) is the managed pages of zones i+1…j divided by \
            ratio[i] (0 for j ≤ i, or a ratio of 0). __zone_watermark_ok(order, mark) passes if \
            free − (2^order − 1) > mark + lowmem_reserve[highest zone of the allocation] and a free \
            block of at least that order exists (here every zone has free blocks of every order).

            """
        var questions: [ExerciseQuestion] = []
        let lowmemPages = sizes.reduce(UInt64(0)) { $0 + $1.1 }
        if given == nil {
            let kbytes = lowmemPages * 4
            questions.append(
                ExerciseQuestion(
                    id: "min_free_kbytes", prompt: "vm.min_free_kbytes at boot",
                    parts: [AnswerPart("kbytes", phys.minFreeKbytes)],
                    explanation:
                        "lowmem_kbytes = \(lowmemPages) pages × 4 = \(kbytes); int_sqrt(\(kbytes) × 16) = \(phys.minFreeKbytes) (calculate_min_free_kbytes(), within 128…262144)"
                ))
        }
        let pagesMin = phys.minFreeKbytes >> 2
        for (zone, pages) in sizes {
            guard let mark = marks.first(where: { $0.zone == zone }) else { continue }
            let tmp = Int(UInt64(pagesMin) * pages / lowmemPages)
            let gap = mark.low - mark.min
            let id = zone.name.lowercased()
            questions.append(
                ExerciseQuestion(
                    id: "\(id).wmark", prompt: "\(zone.name)'s min, low and high watermarks (pages)",
                    parts: [
                        AnswerPart("min", mark.min), AnswerPart("low", mark.low),
                        AnswerPart("high", mark.high),
                    ],
                    explanation:
                        "min = \(pagesMin) × \(pages) / \(lowmemPages) = \(tmp); gap = max(\(tmp) / 4, \(pages) × \(scale) / 10000) = \(gap); low = \(mark.min) + \(gap) = \(mark.low); high = \(mark.min) + 2 × \(gap) = \(mark.high)"
                ))
        }
        for (zone, reserve) in protection where zone != .normal {
            let i = zone.rawValue
            let ratio = phys.lowmemReserveRatio[i]
            var why: [String] = []
            var above: [String] = []
            for j in (i + 1)..<reserve.count {
                let name = zoneNames[j]
                let pages = sizes.first { $0.0.rawValue == j }?.1 ?? 0
                above.append(String(pages))
                why.append("[\(name)] (\(above.joined(separator: " + "))) / \(ratio) = \(reserve[j])")
            }
            questions.append(
                ExerciseQuestion(
                    id: "\(zone.name.lowercased()).protection",
                    prompt:
                        "\(zone.name)'s lowmem_reserve, one per zone as /proc/zoneinfo's protection: line",
                    parts: [AnswerPart("protection", reserve.map(String.init), count: reserve.count)],
                    explanation: "entries up to \(zone.name) itself are 0; " + why.joined(separator: "; ")))
        }
        for (n, check) in checks.enumerated() {
            guard let z = phys.zoneIndex(of: check.zone), let j = phys.zoneIndex(of: check.highestZone) else {
                continue
            }
            let zone = phys.zones[z]
            let mark = zone.watermarkPages(check.mark)
            let reserve = zone.lowmemReserve[j]
            let left = check.free - ((1 << check.order) - 1)
            let markName = check.mark == .low ? "low" : "min"
            questions.append(
                ExerciseQuestion(
                    id: "check\(n + 1)",
                    prompt:
                        "\(check.gfp) order-\(check.order) allocation, zone \(check.zone.name) with \(check.free) free pages, checked against its \(markName) watermark: does the zone pass?",
                    parts: [AnswerPart("yes/no", check.passes ? "yes" : "no")],
                    explanation:
                        "free − (2^\(check.order) − 1) = \(left); \(markName) \(mark) + lowmem_reserve[\(check.highestZone.name)] \(reserve) = \(mark + reserve); \(left) \(left > mark + reserve ? ">" : "≤") \(mark + reserve), so \(check.passes ? "it passes" : "it fails (the allocator moves on to the next zone in the zonelist, or to the slow path)")"
                ))
        }
        return WorkedExercise(
            title: "watermarks: min/low/high and lowmem_reserve", givens: givens, questions: questions,
            epilogue:
                "Computed by booting the machine in vmsim's VMPhys (setupPerZoneWatermarks, setupPerZoneLowmemReserve) and calling its zoneWatermarkOK."
        )
    }
}
