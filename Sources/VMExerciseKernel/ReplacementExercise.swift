import VMExercise
import VMTrace
import VMTypes

/// Replacement with Linux's two-list LRU (mm/vmscan.c `shrink_inactive_list()`,
/// `folio_check_references()`, `shrink_active_list()`) beside FIFO, LRU, CLOCK and OPT: a
/// reference string, what is on the active and inactive lists after each reference, and each
/// policy's hits.
///
/// The key is vmsim's own policies (`VMTrace`'s `LinuxLRUPolicy`, `makePolicy`) replaying the
/// string; the lists are read back from the Linux policy after each reference. Simplified as the
/// policy is: one list pair for all pages, a reference only sets the Accessed bit (pages are
/// mapped), reclaim runs one page at a time when memory is full.
public struct ReplacementExercise: Sendable {
    public struct State: Sendable, Equatable {
        public var hit: Bool
        public var active: [Int]
        public var inactive: [Int]
        /// Pages with the Accessed bit set, and with PG_referenced set.
        public var accessed: Set<Int>
        public var referenced: Set<Int>
    }

    public let references: [Int]
    public let frames: Int
    public let states: [State]
    /// Hits per policy, in `policies` order.
    public let hits: [Int]
    public static let policies: [PolicyKind] = [.fifo, .lru, .clock, .opt, .linux]
    public let worked: WorkedExercise

    public init(seed: UInt64, difficulty: Int) throws(NativeExerciseError) {
        var rng = SeededGenerator(seed: seed ^ 0x5245_504c_0000_0000)
        let length = 6 + 4 * difficulty
        let frames = 2 + difficulty
        let distinct = frames + rng.pick(1...2)
        var refs: [Int] = []
        for _ in 0..<length {
            // Some locality: half the time, one of the last few pages again.
            if refs.count > 2 && rng.pick(0...1) == 0 {
                refs.append(refs[refs.count - rng.pick(1...3)])
            } else {
                refs.append(rng.pick(0...(distinct - 1)))
            }
        }
        self.references = refs
        self.frames = frames
        // Positions of each access's next use, for OPT.
        var next = [Int64](repeating: Int64.max, count: refs.count)
        var seen: [Int: Int] = [:]
        for i in stride(from: refs.count - 1, through: 0, by: -1) {
            if let j = seen[refs[i]] { next[i] = Int64(j) }
            seen[refs[i]] = i
        }
        var hits: [Int] = []
        for kind in ReplacementExercise.policies where kind != .linux {
            let policy = makePolicy(kind, frames: frames)
            var h = 0
            for (i, page) in refs.enumerated() where policy.access(Int32(page), write: false, next: next[i]) {
                h += 1
            }
            hits.append(h)
        }
        let linux = LinuxLRUPolicy(frames: frames, options: PolicyOptions())
        var states: [State] = []
        for page in refs {
            let hit = linux.access(Int32(page), write: false, next: 0)
            let lists = linux.lists
            let resident = lists.active + lists.inactive
            states.append(
                State(
                    hit: hit, active: lists.active.map(Int.init), inactive: lists.inactive.map(Int.init),
                    accessed: Set(resident.filter { linux.referenceBits($0).accessed }.map(Int.init)),
                    referenced: Set(resident.filter { linux.referenceBits($0).referenced }.map(Int.init))))
        }
        hits.append(states.filter(\.hit).count)
        self.states = states
        self.hits = hits
        self.worked = ReplacementExercise.work(
            refs: refs, frames: frames, states: states, hits: hits, difficulty: difficulty)
    }

    static func show(_ list: [Int], _ s: State) -> String {
        "["
            + list.map { page in
                var marks = ""
                if s.accessed.contains(page) { marks += "A" }
                if s.referenced.contains(page) { marks += "R" }
                return marks.isEmpty ? "\(page)" : "\(page)(\(marks))"
            }.joined(separator: " ") + "]"
    }

    static func work(refs: [Int], frames: Int, states: [State], hits: [Int], difficulty: Int)
        -> WorkedExercise
    {
        let givens = """
            References: \(refs.map(String.init).joined(separator: " "))
            \(frames) frames, initially empty; the pages are mapped, so a reference sets the page's \
            Accessed bit (A) and nothing else.
            Linux's two-list LRU as vmsim models it (mm/vmscan.c): a missing page goes to the head \
            of the inactive list with A set. When memory is full, reclaim first refills the \
            inactive list if it is empty or shorter than the active list (up to 32 pages move from \
            the active tail to the inactive head, A cleared), then takes the inactive tail: with A \
            and PG_referenced (R) set it is activated (active head, A cleared, R kept); with A only \
            it gets a second pass (inactive head, A cleared, R set); with neither it is evicted. \
            Lists are written head first. FIFO, LRU, CLOCK (one reference bit) and OPT (Belady) \
            are the textbook policies.

            """
        var questions: [ExerciseQuestion] = []
        var before = State(hit: false, active: [], inactive: [], accessed: [], referenced: [])
        for (i, s) in states.enumerated() {
            let page = refs[i]
            var why: String
            if s.hit {
                why = "hit: \(page) is resident; its Accessed bit is set (no list moves on a hit)"
            } else {
                let resident = Set(before.active + before.inactive)
                let now = Set(s.active + s.inactive)
                let evicted = resident.subtracting(now).sorted()
                why = "miss: \(page) goes to the inactive head"
                if !evicted.isEmpty {
                    let activated = Set(s.active).subtracting(before.active).sorted()
                    let deactivated = Set(before.active).subtracting(s.active).sorted()
                    why += "; memory was full, so reclaim ran"
                    if !deactivated.isEmpty {
                        why +=
                            ": the active list was refilled into the inactive list (\(deactivated.map(String.init).joined(separator: " ")))"
                    }
                    if !activated.isEmpty {
                        why += "; \(activated.map(String.init).joined(separator: " ")) had A and R: activated"
                    }
                    let second = s.referenced.subtracting(before.referenced).sorted()
                    if !second.isEmpty {
                        why +=
                            "; \(second.map(String.init).joined(separator: " ")) had A only: a second pass with R set"
                    }
                    why += "; \(evicted.map(String.init).joined(separator: " ")) had neither: evicted"
                }
            }
            why += "\nactive \(show(s.active, s)), inactive \(show(s.inactive, s))"
            if difficulty >= 2 || i == states.count - 1 {
                questions.append(
                    ExerciseQuestion(
                        id: "\(i + 1)", prompt: "reference \(page) under Linux's LRU: hit or miss",
                        parts: [AnswerPart("result", s.hit ? "hit" : "miss")], explanation: why))
                questions.append(
                    ExerciseQuestion(
                        id: "\(i + 1).active", prompt: "the active list after it, head first",
                        parts: [.rest("active", s.active.map(String.init))],
                        explanation: "active \(show(s.active, s))"))
                questions.append(
                    ExerciseQuestion(
                        id: "\(i + 1).inactive", prompt: "the inactive list after it, head first",
                        parts: [.rest("inactive", s.inactive.map(String.init))],
                        explanation: "inactive \(show(s.inactive, s))"))
            } else {
                questions.append(
                    ExerciseQuestion(
                        id: "\(i + 1)", prompt: "reference \(page) under Linux's LRU: hit or miss",
                        parts: [AnswerPart("result", s.hit ? "hit" : "miss")], explanation: why))
            }
            before = s
        }
        let names = ReplacementExercise.policies.map { $0.rawValue }
        questions.append(
            ExerciseQuestion(
                id: "hits", prompt: "hits of each policy: \(names.joined(separator: " "))",
                parts: zip(names, hits).map { AnswerPart($0, $1) },
                explanation: zip(names, hits).map { "\($0) \($1)" }.joined(separator: ", ")
                    + " of \(refs.count) references"))
        return WorkedExercise(
            title: "replacement: Linux's two-list LRU beside FIFO, LRU, CLOCK and OPT", givens: givens,
            questions: questions,
            epilogue:
                "Computed by replaying the string through vmsim's policies (VMTrace: LinuxLRUPolicy and makePolicy)."
        )
    }
}
