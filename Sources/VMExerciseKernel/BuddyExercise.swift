import VMExercise
import VMPhys
import VMTypes

/// The buddy allocator (mm/page_alloc.c `__rmqueue_smallest()`, `expand()`, `__free_one_page()`):
/// the free lists of a small zone after each `alloc_pages(order)` and `__free_pages()`.
///
/// The zone is a machine's only zone (DMA, a few dozen to a few hundred pages, `min_free_kbytes`
/// 0 so that no watermark gets in the way), booted by `PhysicalMemory` and fragmented by a few
/// seeded allocations before the exercise starts; every step is the model's own `allocPages` and
/// `freePages`, and the lists are read back from its `free_area[]`. Orders start at 1: order-0
/// pages pass through the per-CPU lists, which vmsim keeps for order 0 only (Linux also keeps
/// orders 1–3 there since 5.13), so the exercise leaves them out.
public struct BuddyExercise: Sendable {
    public enum Step: Sendable, Equatable {
        case alloc(order: Int)
        /// Frees the block the allocation at step `step` (0-based) returned.
        case free(step: Int)
    }

    /// What one step did: the allocated PFN (nil: the allocation failed) and the free lists after.
    public struct Outcome: Sendable {
        public var pfn: UInt64?
        public var lists: [[UInt64]]
    }

    public let zoneStart: UInt64
    public let zonePages: UInt64
    /// Free lists before the first step, per order, head first.
    public let initialLists: [[UInt64]]
    public let steps: [Step]
    public let outcomes: [Outcome]
    /// Orders the questions ask about: 0 … `highestOrder`.
    public let highestOrder: Int
    public let worked: WorkedExercise

    public init(seed: UInt64, difficulty: Int) throws(NativeExerciseError) {
        var rng = SeededGenerator(seed: seed ^ 0x4255_4444_5900_0000)
        let shift = 5 + difficulty
        let pages = UInt64(1) << UInt64(shift)
        var config = MachineConfig()
        config.architecture = .x86_64
        config.zoneSizes = [MachineConfig.ZoneSize(zone: .dma, managedPages: pages)]
        config.minFreeKbytes = 0
        let phys: PhysicalMemory
        do {
            phys = try PhysicalMemory(config: config)
        } catch {
            throw NativeExerciseError("buddy: the generated machine does not boot: \(error)")
        }
        guard let z = phys.zoneIndex(of: .dma) else { throw NativeExerciseError("buddy: no DMA zone") }
        self.zoneStart = phys.zones[z].startPFN
        self.zonePages = pages
        self.highestOrder = min(phys.maxOrder, shift)
        let gfp: GFP = [.dma, .noWarn]
        // Fragment the zone: a few blocks allocated before the exercise (never freed by it).
        for _ in 0..<(1 + difficulty) {
            _ = phys.allocPages(gfp, order: rng.pick(1...2))
        }
        self.initialLists = BuddyExercise.lists(phys, zone: z)
        var steps: [Step] = []
        var outcomes: [Outcome] = []
        var held: [(step: Int, pfn: UInt64, order: Int)] = []
        let count = 3 + 2 * difficulty
        for index in 0..<count {
            let doFree = !held.isEmpty && (rng.pick(0...2) == 0 || index == count - 1)
            if doFree {
                let victim = held.remove(at: rng.pick(0...(held.count - 1)))
                phys.freePages(PFN(rawValue: victim.pfn), order: victim.order)
                steps.append(.free(step: victim.step))
                outcomes.append(Outcome(pfn: nil, lists: BuddyExercise.lists(phys, zone: z)))
            } else {
                let order = rng.pick(1...(difficulty == 1 ? 2 : 3))
                let pfn = phys.allocPages(gfp, order: order)
                if let pfn { held.append((index, pfn.rawValue, order)) }
                steps.append(.alloc(order: order))
                outcomes.append(Outcome(pfn: pfn?.rawValue, lists: BuddyExercise.lists(phys, zone: z)))
            }
        }
        self.steps = steps
        self.outcomes = outcomes
        self.worked = BuddyExercise.work(
            start: self.zoneStart, pages: pages, initial: self.initialLists, steps: steps, outcomes: outcomes,
            highest: self.highestOrder, maxOrder: phys.maxOrder)
    }

    /// `free_area[order].free_list` of zone `z`, head to tail, for every order.
    static func lists(_ phys: PhysicalMemory, zone z: Int) -> [[UInt64]] {
        phys.zones[z].freeArea.map { area in
            var out: [UInt64] = []
            var next = area.head
            while next != 0 {
                out.append(UInt64(next))
                next = phys.memMap.lruNext(PFN(rawValue: UInt64(next)))
            }
            return out
        }
    }

    static func describe(_ lists: [[UInt64]], highest: Int) -> String {
        (0...highest).map { order in
            "  order \(order): "
                + (lists[order].isEmpty ? "-" : lists[order].map(String.init).joined(separator: " "))
        }.joined(separator: "\n")
    }

    static func work(
        start: UInt64, pages: UInt64, initial: [[UInt64]], steps: [Step], outcomes: [Outcome], highest: Int,
        maxOrder: Int
    ) -> WorkedExercise {
        var givens = """
            A zone of \(pages) pages, PFNs \(start)…\(start + pages - 1), with these free blocks \
            (first PFN of each block, list head first):
            \(BuddyExercise.describe(initial, highest: highest))
            Rules (mm/page_alloc.c): alloc_pages(order) takes the head block of the smallest order \
            ≥ the request that has one; expand() splits it, keeping the lower half and putting each \
            upper half at the head of the list one order down. __free_pages() merges the block with \
            its buddy (PFN xor 2^order) while the buddy is free at the same order; the result goes \
            to the head of its list, or to the tail if its own buddy one order up is free \
            (buddy_merge_likely()). The allocations are order 1 or more (order 0 goes through the \
            per-CPU lists).

            Steps:

            """
        var questions: [ExerciseQuestion] = []
        var orders: [Int: Int] = [:]
        var pfns: [Int: UInt64] = [:]
        for (i, step) in steps.enumerated() {
            let outcome = outcomes[i]
            let counts = (0...highest).map { outcome.lists[$0].count }
            let before = i == 0 ? initial : outcomes[i - 1].lists
            switch step {
            case .alloc(let order):
                orders[i] = order
                givens += "  \(i + 1). alloc_pages(order \(order))\n"
                var why: String
                if let pfn = outcome.pfn {
                    pfns[i] = pfn
                    let from = (order...maxOrder).first { !before[$0].isEmpty } ?? order
                    why =
                        "the smallest non-empty list at order ≥ \(order) is order \(from); its head is \(before[from][0])"
                    if from > order {
                        var splits: [String] = []
                        var size = UInt64(1) << UInt64(from)
                        var o = from
                        while o > order {
                            o -= 1
                            size >>= 1
                            splits.append("\(pfn + size) to order \(o)")
                        }
                        why +=
                            "; split, the upper halves go to the list heads: "
                            + splits.joined(separator: ", ")
                    }
                    why += "; PFN \(pfn) is returned"
                } else {
                    why = "no free block of order ≥ \(order): the allocation fails"
                }
                why += "\nfree lists after:\n" + BuddyExercise.describe(outcome.lists, highest: highest)
                questions.append(
                    ExerciseQuestion(
                        id: String(i + 1),
                        prompt:
                            "alloc_pages(order \(order)): the PFN returned (or `fail`), and the number of free blocks of orders 0…\(highest) after",
                        parts: [
                            AnswerPart("pfn", outcome.pfn.map(String.init) ?? "fail"),
                            AnswerPart("free blocks per order", counts.map(String.init), count: counts.count),
                        ],
                        explanation: why))
            case .free(let step):
                let order = orders[step]!
                let pfn = pfns[step]!
                givens += "  \(i + 1). __free_pages(the block of step \(step + 1), order \(order))\n"
                var merged = pfn
                var o = order
                var merges: [String] = []
                while o < maxOrder {
                    let buddy = merged ^ (UInt64(1) << UInt64(o))
                    guard before[o].contains(buddy) else { break }
                    merges.append("with its buddy \(buddy) into \(merged & buddy) of order \(o + 1)")
                    merged &= buddy
                    o += 1
                }
                var why = "PFN \(pfn) order \(order): "
                why +=
                    merges.isEmpty
                    ? "its buddy \(pfn ^ (UInt64(1) << UInt64(order))) is not free, no merge"
                    : "merges " + merges.joined(separator: ", then ")
                let atTail = outcome.lists[o].last == merged && outcome.lists[o].count > 1
                why +=
                    atTail
                    ? "; it goes to the tail of order \(o) (its buddy one order up is free)"
                    : "; it goes on order \(o)'s list"
                why += "\nfree lists after:\n" + BuddyExercise.describe(outcome.lists, highest: highest)
                questions.append(
                    ExerciseQuestion(
                        id: String(i + 1),
                        prompt:
                            "free the block of step \(step + 1): the number of free blocks of orders 0…\(highest) after",
                        parts: [
                            AnswerPart("free blocks per order", counts.map(String.init), count: counts.count)
                        ],
                        explanation: why))
            }
        }
        let last = outcomes.last?.lists ?? initial
        let line = "Node 0, zone      DMA " + last.map { Pad6.right($0.count) }.joined(separator: " ") + " "
        questions.append(
            ExerciseQuestion(
                id: "buddyinfo",
                prompt: "the zone's /proc/buddyinfo counts at the end (11 numbers, orders 0…10)",
                parts: [AnswerPart("counts", last.map { String($0.count) }, count: last.count)],
                explanation: "/proc/buddyinfo: \(line)"))
        return WorkedExercise(
            title: "buddy allocator: splits and merges", givens: givens, questions: questions,
            epilogue:
                "Computed by vmsim's VMPhys buddy allocator (allocPages, freePages) on the machine described."
        )
    }
}

/// `%6lu` as `frag_show_print()` prints each count.
enum Pad6 {
    static func right(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: " ", count: max(0, 6 - s.count)) + s
    }
}
