import Testing
import VMExercise
import VMPhys

@testable import VMExerciseKernel

/// The generated exercises: each key (computed by the kernel model) checked against an
/// independent computation written here from the kernel's rules, and every key grading as
/// all correct.
@Suite struct NativeExerciseTests {
    // MARK: Watermarks: mm/page_alloc.c's formulas, written out again

    func isqrt(_ x: UInt64) -> UInt64 {
        var r: UInt64 = 0
        while (r + 1) * (r + 1) <= x { r += 1 }
        return r
    }

    @Test(arguments: 1...3)
    func watermarksFollowTheKernelFormula(difficulty: Int) throws {
        for seed in UInt64(1)...12 {
            let ex = try WatermarkExercise(seed: seed, difficulty: difficulty)
            let managed = ex.managed.map(\.pages)
            let lowmem = managed.reduce(0, +)
            // calculate_min_free_kbytes(): int_sqrt(lowmem_kbytes * 16), clamped.
            let mfk = ex.givenMinFreeKbytes ?? Int(min(max(isqrt(lowmem * 4 * 16), 128), 262_144))
            #expect(ex.minFreeKbytes == mfk)
            let pagesMin = UInt64(mfk) / 4
            for (i, zone) in ex.managed.enumerated() {
                let min = pagesMin * zone.pages / lowmem
                let gap = Swift.max(min / 4, zone.pages * UInt64(ex.watermarkScaleFactor) / 10_000)
                let marks = ex.watermarks[i]
                #expect(marks.zone == zone.zone)
                #expect(
                    [marks.min, marks.low, marks.high] == [Int(min), Int(min + gap), Int(min + 2 * gap)])
            }
            // setup_per_zone_lowmem_reserve(): ratios 256 256 32 for DMA, DMA32, Normal.
            let ratios: [UInt64] = [256, 256, 32, 0, 0]
            for (i, p) in ex.protection.enumerated() {
                var expected = [Int](repeating: 0, count: 5)
                var sum: UInt64 = 0
                for j in (i + 1)..<5 {
                    sum += j < managed.count ? managed[j] : 0
                    expected[j] = ratios[i] == 0 ? 0 : Int(sum / ratios[i])
                }
                #expect(p.reserve == expected, "seed \(seed) zone \(p.zone)")
            }
            // __zone_watermark_ok() with every zone holding blocks of every order.
            for check in ex.checks {
                let z = ex.managed.firstIndex { $0.zone == check.zone }!
                let marks = ex.watermarks[z]
                let mark = check.mark == .low ? marks.low : marks.min
                let reserve = ex.protection[z].reserve[check.highestZone.rawValue]
                #expect(check.passes == (check.free - ((1 << check.order) - 1) > mark + reserve))
            }
            #expect(ex.checks.contains { $0.passes } || ex.checks.contains { !$0.passes })
            try self.keyGradesAllCorrect(ex.worked)
        }
    }

    @Test func watermarkAnswersAreTheNumbersTheModelBootsWith() throws {
        // Hand-worked for one seed: the exercise's key line equals the zone's own watermarks.
        let ex = try WatermarkExercise(seed: 7, difficulty: 2)
        let dma = ex.worked.questions.first { $0.id == "dma.wmark" }!
        #expect(dma.answerText == "\(ex.watermarks[0].min) \(ex.watermarks[0].low) \(ex.watermarks[0].high)")
        #expect(ex.worked.questions.contains { $0.id == "dma32.protection" })
        #expect(!ex.worked.questions.contains { $0.id == "min_free_kbytes" })
        let hard = try WatermarkExercise(seed: 7, difficulty: 3)
        #expect(hard.worked.questions.contains { $0.id == "min_free_kbytes" })
    }

    // MARK: Buddy: a second buddy allocator, from the rules the problem states

    struct Buddy {
        var lists: [[UInt64]]
        let start: UInt64
        let end: UInt64
        let maxOrder = 10

        func isFree(_ pfn: UInt64, order: Int) -> Bool {
            pfn >= self.start && pfn < self.end && self.lists[order].contains(pfn)
        }

        mutating func alloc(_ order: Int) -> UInt64? {
            guard let from = (order...self.maxOrder).first(where: { !self.lists[$0].isEmpty }) else {
                return nil
            }
            let pfn = self.lists[from].removeFirst()
            var high = from
            while high > order {
                high -= 1
                self.lists[high].insert(pfn + (1 << UInt64(high)), at: 0)
            }
            return pfn
        }

        mutating func free(_ pfn: UInt64, order: Int) {
            var pfn = pfn
            var order = order
            while order < self.maxOrder {
                let buddy = pfn ^ (1 << UInt64(order))
                guard self.isFree(buddy, order: order) else { break }
                self.lists[order].removeAll { $0 == buddy }
                pfn &= buddy
                order += 1
            }
            var tail = false
            if order < self.maxOrder - 1 {
                let higher = (pfn ^ (1 << UInt64(order))) & pfn
                tail = self.isFree(higher ^ (1 << UInt64(order + 1)), order: order + 1)
            }
            if tail { self.lists[order].append(pfn) } else { self.lists[order].insert(pfn, at: 0) }
        }
    }

    @Test(arguments: 1...3)
    func buddyStepsMatchAnIndependentBuddyAllocator(difficulty: Int) throws {
        var merges = 0
        var failures = 0
        for seed in UInt64(1)...25 {
            let ex = try BuddyExercise(seed: seed, difficulty: difficulty)
            var model = Buddy(lists: ex.initialLists, start: ex.zoneStart, end: ex.zoneStart + ex.zonePages)
            var allocated: [Int: (UInt64, Int)] = [:]
            for (i, step) in ex.steps.enumerated() {
                switch step {
                case .alloc(let order):
                    let pfn = model.alloc(order)
                    #expect(pfn == ex.outcomes[i].pfn, "seed \(seed) step \(i + 1)")
                    if let pfn { allocated[i] = (pfn, order) } else { failures += 1 }
                case .free(let s):
                    let (pfn, order) = allocated[s]!
                    let before = model.lists.reduce(0) { $0 + $1.count }
                    model.free(pfn, order: order)
                    if model.lists.reduce(0, { $0 + $1.count }) <= before { merges += 1 }
                }
                #expect(model.lists == ex.outcomes[i].lists, "seed \(seed) step \(i + 1)")
            }
            // The last question is /proc/buddyinfo's 11 counts.
            let last = ex.worked.questions.last!
            #expect(last.id == "buddyinfo" && last.parts[0].value == model.lists.map { String($0.count) })
            try self.keyGradesAllCorrect(ex.worked)
        }
        // The generated sequences do exercise merging.
        #expect(merges > 0)
        _ = failures
    }

    // MARK: Count the faults

    @Test func faultCountsFollowTheKernelRules() throws {
        var sawZeroPage = false
        var sawMajor = false
        var sawUnmap = false
        for difficulty in 1...3 {
            for seed in UInt64(1)...10 {
                let ex = try FaultCountExercise(seed: seed, difficulty: difficulty)
                let lines = ex.scenario.split(separator: "\n").map(String.init)
                var rss = ex.spawnRSS
                for count in ex.counts where count.process == "p" {
                    let text = lines[count.line - 1]
                    // Writing n fresh anonymous pages: n minor faults, RSS + n.
                    if text == "p: write a", let mmap = lines.first(where: { $0.hasPrefix("p: mmap a ") }) {
                        let n = Int(mmap.split(separator: " ")[3].dropLast())!
                        #expect(count.minor == n && count.major == 0 && count.rss == rss + n, "\(text)")
                    }
                    // Reading untouched anonymous memory maps the zero page: RSS unchanged.
                    if text == "p: read z" {
                        let n = Int(
                            lines.first { $0.hasPrefix("p: mmap z ") }!.split(separator: " ")[3].dropLast())!
                        #expect(count.minor == n && count.rss == rss, "\(text)")
                        sawZeroPage = true
                    }
                    if text.hasPrefix("p: mmap ") { #expect(count.minor == 0 && count.rss == rss) }
                    // munmap of a region written in full: no fault, RSS back down by its pages.
                    if text == "p: munmap a", let mmap = lines.first(where: { $0.hasPrefix("p: mmap a ") }) {
                        let n = Int(mmap.split(separator: " ")[3].dropLast())!
                        #expect(count.minor == 0 && count.major == 0 && count.rss == rss - n, "\(text)")
                        sawUnmap = true
                    }
                    if text == "p: read g" {
                        #expect(count.major > 0)
                        sawMajor = true
                    }
                    rss = count.rss
                }
                try self.keyGradesAllCorrect(ex.worked)
            }
        }
        #expect(sawZeroPage && sawMajor && sawUnmap)
    }

    @Test func exercisesAreDeterministic() throws {
        for kind in NativeExerciseKind.allCases {
            let a = try nativeExercise(kind, seed: 42, difficulty: 3)
            let b = try nativeExercise(kind, seed: 42, difficulty: 3)
            #expect(
                a.problemText == b.problemText && a.answerKey == b.answerKey && a.explained == b.explained)
            let c = try nativeExercise(kind, seed: 43, difficulty: 3)
            #expect(a.problemText != c.problemText)
        }
        #expect(throws: NativeExerciseError.self) { try nativeExercise(.buddy, seed: 1, difficulty: 4) }
    }

    func keyGradesAllCorrect(_ worked: WorkedExercise) throws {
        let grade = try worked.grade(Array(worked.answerKey.utf8), file: "key")
        #expect(grade.allCorrect, "\(worked.title)")
        #expect(
            !worked.problemText.contains(worked.questions.last!.explanation)
                || worked.questions.last!.explanation.isEmpty)
    }
}

/// Copy-on-write and page-table size, recomputed from the rules the problems state.
@Suite struct CopyOnWriteAndPageTableTests {
    /// A second copy-on-write model: frames as numbers, mapcount = processes mapping a frame.
    @Test(arguments: 1...3)
    func copyOnWriteMatchesASecondModel(difficulty: Int) throws {
        var sawShared = false
        var sawCopied = false
        for seed in UInt64(1)...15 {
            let ex = try CopyOnWriteExercise(seed: seed, difficulty: difficulty)
            enum State: Equatable {
                case none, zero
                case frame(Int)
            }
            var maps: [String: [State]] = ["p": Array(repeating: .none, count: ex.pages)]
            var nextFrame = 0
            func count(_ f: Int) -> Int { maps.values.reduce(0) { $0 + $1.filter { $0 == .frame(f) }.count } }
            for line in ex.scenario.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard words.count >= 2, words[0].hasSuffix(":") else { continue }
                let who = String(words[0].dropLast())
                if words[1] == "fork" {
                    maps[words[2]] = maps[who]
                    continue
                }
                guard words[1] == "write" || words[1] == "read" else { continue }
                // buf[Ap:Bp]
                let inner = words[2].dropFirst(4).dropLast().split(separator: ":")
                let a = Int(inner[0].hasSuffix("p") ? inner[0].dropLast() : inner[0])!
                let b = Int(inner[1].hasSuffix("p") ? inner[1].dropLast() : inner[1])!
                for page in a..<b {
                    let state = maps[who]![page]
                    if words[1] == "read" {
                        if state == .none { maps[who]![page] = .zero }
                        continue
                    }
                    if case .frame(let f) = state, count(f) == 1 { continue }  // reuse
                    maps[who]![page] = .frame(nextFrame)
                    nextFrame += 1
                }
            }
            var total = Set<Int>()
            for page in 0..<ex.pages {
                var frames = Set<Int>()
                for (i, name) in ex.processes.enumerated() {
                    let state = maps[name]![page]
                    switch (state, ex.mappings[page][i]) {
                    case (.none, .none), (.zero, .zero): break
                    case (.frame(let f), .frame(_, let mapcount, _)):
                        #expect(mapcount == count(f), "seed \(seed) page \(page) \(name)")
                        frames.insert(f)
                        if mapcount > 1 { sawShared = true } else if maps.count > 1 { sawCopied = true }
                    default:
                        Issue.record("seed \(seed) page \(page) \(name): \(state) vs \(ex.mappings[page][i])")
                    }
                }
                total.formUnion(frames)
                let q = ex.worked.questions[page]
                #expect(q.parts.last!.value == [String(frames.count)])
            }
            #expect(ex.worked.questions.last!.parts[0].value == [String(total.count)])
            let grade = try ex.worked.grade(Array(ex.worked.answerKey.utf8), file: "key")
            #expect(grade.allCorrect)
        }
        #expect(sawShared && sawCopied)
    }

    /// Tables per level: one per slot of the level above's span that a mapped page falls in.
    @Test(arguments: 1...3)
    func pageTableCountsFollowFromTheAddresses(difficulty: Int) throws {
        for seed in UInt64(1)...10 {
            let ex = try PageTableSizeExercise(seed: seed, difficulty: difficulty)
            let bits = ex.architecture.paging.levelBits
            var expected = [1]
            for level in 1..<bits.count {
                // A table at `level` covers 2^(12 + bits of this level and below) bytes.
                let shift = 12 + bits[level...].reduce(0, +)
                var slots = Set<UInt64>()
                for r in ex.regions {
                    for i in 0..<r.pages { slots.insert((r.start + i * 4096) >> UInt64(shift)) }
                }
                expected.append(slots.count)
            }
            #expect(ex.tables == expected, "seed \(seed) \(ex.architecture.name)")
            let bytes = ex.worked.questions.first { $0.id == "bytes" }!
            #expect(bytes.parts[0].value == [String(expected.reduce(0, +) * 4096)])
            let reach = ex.worked.questions.first { $0.id == "reach" }!
            #expect(reach.answerText == "256 6144")
            let grade = try ex.worked.grade(Array(ex.worked.answerKey.utf8), file: "key")
            #expect(grade.allCorrect)
        }
    }
}

/// Replacement: the two-list LRU and FIFO/LRU/OPT written again from the rules the problem states.
@Suite struct ReplacementExerciseTests {
    struct TwoList {
        var active: [Int] = []
        var inactive: [Int] = []
        var accessed: Set<Int> = []
        var referenced: Set<Int> = []
        let frames: Int

        mutating func access(_ page: Int) -> Bool {
            if self.active.contains(page) || self.inactive.contains(page) {
                self.accessed.insert(page)
                return true
            }
            if self.active.count + self.inactive.count >= self.frames { self.reclaim() }
            self.inactive.insert(page, at: 0)
            self.accessed.insert(page)
            return false
        }

        mutating func reclaim() {
            while true {
                if self.inactive.isEmpty || self.inactive.count < self.active.count {
                    for _ in 0..<32 where !self.active.isEmpty {
                        let p = self.active.removeLast()
                        self.accessed.remove(p)
                        self.inactive.insert(p, at: 0)
                    }
                }
                let p = self.inactive.removeLast()
                if self.accessed.contains(p) {
                    self.accessed.remove(p)
                    if self.referenced.contains(p) {
                        self.active.insert(p, at: 0)
                    } else {
                        self.referenced.insert(p)
                        self.inactive.insert(p, at: 0)
                    }
                    continue
                }
                self.referenced.remove(p)
                return
            }
        }
    }

    func fifoHits(_ refs: [Int], _ frames: Int) -> Int {
        var q: [Int] = []
        var hits = 0
        for p in refs {
            if q.contains(p) {
                hits += 1
                continue
            }
            if q.count == frames { q.removeFirst() }
            q.append(p)
        }
        return hits
    }

    func lruHits(_ refs: [Int], _ frames: Int) -> Int {
        var q: [Int] = []
        var hits = 0
        for p in refs {
            if let i = q.firstIndex(of: p) {
                hits += 1
                q.remove(at: i)
            } else if q.count == frames {
                q.removeFirst()
            }
            q.append(p)
        }
        return hits
    }

    func optHits(_ refs: [Int], _ frames: Int) -> Int {
        var mem: [Int] = []
        var hits = 0
        for (i, p) in refs.enumerated() {
            if mem.contains(p) {
                hits += 1
                continue
            }
            if mem.count == frames {
                let victim = mem.max { a, b in
                    (refs[(i + 1)...].firstIndex(of: a) ?? Int.max)
                        < (refs[(i + 1)...].firstIndex(of: b) ?? Int.max)
                }!
                mem.removeAll { $0 == victim }
            }
            mem.append(p)
        }
        return hits
    }

    @Test(arguments: 1...3)
    func listsAndHitsMatchASecondModel(difficulty: Int) throws {
        var activations = 0
        for seed in UInt64(1)...20 {
            let ex = try ReplacementExercise(seed: seed, difficulty: difficulty)
            var model = TwoList(frames: ex.frames)
            for (i, page) in ex.references.enumerated() {
                let hit = model.access(page)
                let s = ex.states[i]
                #expect(
                    s.hit == hit && s.active == model.active && s.inactive == model.inactive,
                    "seed \(seed) ref \(i + 1)")
                #expect(
                    s.accessed == model.accessed && s.referenced == model.referenced,
                    "seed \(seed) ref \(i + 1)")
                if !model.active.isEmpty { activations += 1 }
            }
            #expect(ex.hits[0] == self.fifoHits(ex.references, ex.frames))
            #expect(ex.hits[1] == self.lruHits(ex.references, ex.frames))
            #expect(ex.hits[3] == self.optHits(ex.references, ex.frames))
            #expect(ex.hits[3] >= ex.hits.max()!, "OPT is optimal")
            let grade = try ex.worked.grade(Array(ex.worked.answerKey.utf8), file: "key")
            #expect(grade.allCorrect)
        }
        #expect(activations > 0, "some strings reach the active list")
    }
}
