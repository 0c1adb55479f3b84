import VMCore
import VMExercise
import VMPaging
import VMSim
import VMTypes

/// Copy-on-write after fork (kernel/fork.c `copy_present_pte()`, mm/memory.c `do_wp_page()`):
/// after a fork and some writes, which pages of a private mapping the processes still share,
/// which were copied, and each frame's mapcount.
///
/// The scenario runs through `ScenarioRunner`; the key is read from the processes' own page
/// tables (`PageTableArena.pte`) and `mem_map` (`mapCount`). A page never touched maps nothing;
/// one only read maps the shared zero page, which has no mapcount (Linux's zero page is special).
public struct CopyOnWriteExercise: Sendable {
    /// What one process maps at one page of the buffer.
    public enum Mapping: Sendable, Equatable {
        case none
        case zero
        case frame(pfn: UInt64, mapcount: Int, writable: Bool)
    }

    public static let base: UInt64 = 0x1000_0000
    public let scenario: String
    public let pages: Int
    public let processes: [String]
    /// `mappings[page][process]`.
    public let mappings: [[Mapping]]
    public let worked: WorkedExercise

    public init(seed: UInt64, difficulty: Int) throws(NativeExerciseError) {
        var rng = SeededGenerator(seed: seed ^ 0x434f_5700_0000_0000)
        let n = 4 + 2 * difficulty
        let written = rng.pick(2...n)
        var text = "machine memory=256MiB\nspawn p\n"
        text += "p: mmap buf \(n)p anon private rw at=0x\(String(CopyOnWriteExercise.base, radix: 16))\n"
        text += "p: write buf[0:\(written)p] value=1\n"
        if difficulty >= 2 && written < n {
            text += "p: read buf[\(written)p:\(n)p]\n"
        }
        text += "p: fork c\n"
        var processes = ["p", "c"]
        func range(_ rng: inout SeededGenerator) -> String {
            let a = rng.pick(0...(n - 1))
            let b = rng.pick((a + 1)...min(n, a + 3))
            return "buf[\(a)p:\(b)p]"
        }
        text += "c: write \(range(&rng)) value=2\n"
        if difficulty == 3 {
            text += "p: fork d\n"
            processes.append("d")
            text += "d: write \(range(&rng)) value=4\n"
        }
        text += "p: write \(range(&rng)) value=3\n"
        if difficulty >= 2 { text += "c: write \(range(&rng)) value=5\n" }
        self.scenario = text
        self.pages = n
        self.processes = processes

        let runner: ScenarioRunner
        do {
            let parsed = try ScenarioParser.parse(text, file: "exercise")
            runner = try ScenarioRunner(scenario: parsed, write: { _ in })
            runner.run(parsed)
        } catch {
            throw NativeExerciseError("cow: the generated scenario does not run: \(error)")
        }
        guard runner.runtimeErrors == 0 && runner.failures.isEmpty else {
            throw NativeExerciseError("cow: the generated scenario was refused: \(runner.failures)")
        }
        let kernel = runner.kernel
        var mappings: [[Mapping]] = []
        for page in 0..<n {
            var row: [Mapping] = []
            for name in processes {
                guard let mm = runner.processes[name]?.mm else {
                    row.append(.none)
                    continue
                }
                let va = CopyOnWriteExercise.base + UInt64(page) * kernel.phys.pageSize
                let pte = kernel.pageTables.pte(root: mm.pgd, va: va)
                if !pte.isPresent {
                    row.append(.none)
                } else if pte.pfn == kernel.zeroPFN {
                    row.append(.zero)
                } else {
                    row.append(
                        .frame(
                            pfn: pte.pfn.rawValue, mapcount: kernel.phys.memMap.mapCount(pte.pfn),
                            writable: pte.contains(.writable)))
                }
            }
            mappings.append(row)
        }
        self.mappings = mappings
        self.worked = CopyOnWriteExercise.work(text: text, n: n, processes: processes, mappings: mappings)
    }

    static func word(_ m: Mapping) -> String {
        switch m {
        case .none: "none"
        case .zero: "zero"
        case .frame(_, let count, _): String(count)
        }
    }

    static func work(text: String, n: Int, processes: [String], mappings: [[Mapping]]) -> WorkedExercise {
        var givens = "The scenario:\n\n"
        for (i, line) in text.split(separator: "\n").enumerated() { givens += "  \(i + 1)  \(line)\n" }
        givens += """

            After the last line, for each page of buf (pages 0…\(n - 1)): for each of \
            \(processes.joined(separator: ", ")), the mapcount of the frame it maps there \
            (`none` if nothing is mapped, `zero` for the shared zero page, which has no mapcount), \
            then how many distinct frames (the zero page not counted) back that page across the \
            processes. Rules: fork shares every private anonymous page write-protected (mapcount \
            +1); a write to a shared page copies it (the writer gets a new frame, mapcount 1; the \
            old frame's mapcount drops by one); a write to a page mapped only once reuses it.

            """
        var questions: [ExerciseQuestion] = []
        var totalFrames = Set<UInt64>()
        for page in 0..<n {
            let row = mappings[page]
            var frames = Set<UInt64>()
            for m in row { if case .frame(let pfn, _, _) = m { frames.insert(pfn) } }
            totalFrames.formUnion(frames)
            var why: [String] = []
            for (name, m) in zip(processes, row) {
                switch m {
                case .none: why.append("\(name) never touched it: nothing mapped")
                case .zero: why.append("\(name) maps the zero page (read, never written)")
                case .frame(let pfn, let count, let writable):
                    let sharers = zip(processes, row).filter {
                        if case .frame(let other, _, _) = $0.1 { return other == pfn }
                        return false
                    }.map(\.0)
                    why.append(
                        "\(name) maps frame \(pfn) "
                            + (sharers.count > 1
                                ? "shared with \(sharers.filter { $0 != name }.joined(separator: ", "))"
                                : "alone")
                            + " (mapcount \(count), \(writable ? "writable" : "write-protected"))")
                }
            }
            questions.append(
                ExerciseQuestion(
                    id: "page\(page)",
                    prompt:
                        "page \(page): mapcounts of \(processes.joined(separator: ", ")), and distinct frames",
                    parts: processes.map {
                        AnswerPart("\($0)'s mapcount", word(row[processes.firstIndex(of: $0)!]))
                    }
                        + [AnswerPart("frames", frames.count)],
                    explanation: why.joined(separator: "; ")))
        }
        questions.append(
            ExerciseQuestion(
                id: "frames",
                prompt: "frames backing buf in all, across the processes (the zero page not counted)",
                parts: [AnswerPart("frames", totalFrames.count)],
                explanation: "the distinct frames of the pages above: \(totalFrames.count)"))
        return WorkedExercise(
            title: "copy-on-write: shared and copied frames", givens: givens, questions: questions,
            epilogue:
                "Read from the processes' page tables and mem_map after running the scenario in vmsim's kernel."
        )
    }
}
