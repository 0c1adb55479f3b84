import VMCore
import VMExercise
import VMSim
import VMTypes

/// Count the faults: a short generated scenario (mmap, munmap, read, write, fork, file mappings,
/// the stack); predict each line's minor and major faults and the process's RSS after it.
///
/// The key is the scenario run through `ScenarioRunner` on vmsim's kernel — the same fault
/// handler whose counts the project checks against a real 6.18 kernel's `getrusage` — so it
/// covers what a student must know: the shared zero page on a read of untouched anonymous
/// memory (not counted in RSS), copy-on-write after fork and reuse of a page nobody else maps,
/// fault-around on a cached file (`fault_around_bytes` = 64 KiB), readahead of an uncached one
/// (major faults), and stack growth.
public struct FaultCountExercise: Sendable {
    /// The answer for one process after one line.
    public struct Count: Sendable, Equatable {
        public var line: Int
        public var process: String
        public var minor: Int
        public var major: Int
        public var rss: Int
    }

    public let scenario: String
    /// RSS of `p` after `spawn`, which the problem gives.
    public let spawnRSS: Int
    public let counts: [Count]
    public let worked: WorkedExercise

    /// Lines of one variant, with the lines that set it up (files) and what each line teaches.
    struct Block {
        var setup: [String] = []
        var lines: [(text: String, note: String)] = []
    }

    public init(seed: UInt64, difficulty: Int) throws(NativeExerciseError) {
        var rng = SeededGenerator(seed: seed ^ 0x4641_554c_5453_0000)
        var pool: [(inout SeededGenerator) -> Block] = [FaultCountExercise.anon, FaultCountExercise.zero]
        if difficulty >= 2 { pool += [FaultCountExercise.cow, FaultCountExercise.faultAround] }
        if difficulty >= 3 { pool += [FaultCountExercise.readahead, FaultCountExercise.stack] }
        var chosen: [Block] = []
        var indices = Array(pool.indices)
        for _ in 0..<min(pool.count, difficulty + 1) {
            let i = indices.remove(at: rng.pick(0...(indices.count - 1)))
            chosen.append(pool[i](&rng))
        }
        var text = "machine memory=256MiB\n"
        for block in chosen { for line in block.setup { text += line + "\n" } }
        text += "spawn p\n"
        let firstAsked = text.split(separator: "\n").count + 1
        var notes: [Int: String] = [:]
        var number = firstAsked - 1
        for block in chosen {
            for line in block.lines {
                text += line.text + "\n"
                number += 1
                notes[number] = line.note
            }
        }
        self.scenario = text

        let parsed: Scenario
        let runner: ScenarioRunner
        do {
            parsed = try ScenarioParser.parse(text, file: "exercise")
            runner = try ScenarioRunner(scenario: parsed, write: { _ in })
        } catch {
            throw NativeExerciseError("faults: the generated scenario does not run: \(error)")
        }
        var counts: [Count] = []
        var spawnRSS = 0
        var last: [String: (minor: Int, major: Int)] = [:]
        for statement in parsed.statements {
            runner.execute(statement)
            let line = statement.location.line
            if line == firstAsked - 1 { spawnRSS = runner.processes["p"]?.mm?.rssPages ?? 0 }
            guard line >= firstAsked else {
                for (name, task) in runner.processes { last[name] = (task.minorFaults, task.majorFaults) }
                continue
            }
            let asked: [String]
            if statement.text.hasSuffix(": exit") || statement.text.contains(": wait") {
                asked = []
            } else if statement.text.contains(": fork ") {
                asked = [statement.process ?? "p", String(statement.text.split(separator: " ").last!)]
            } else {
                asked = [statement.process ?? "p"]
            }
            for name in asked {
                guard let task = runner.processes[name] else { continue }
                let before = last[name] ?? (0, 0)
                counts.append(
                    Count(
                        line: line, process: name, minor: task.minorFaults - before.minor,
                        major: task.majorFaults - before.major, rss: task.mm?.rssPages ?? 0))
            }
            for (name, task) in runner.processes { last[name] = (task.minorFaults, task.majorFaults) }
        }
        guard runner.runtimeErrors == 0 && runner.failures.isEmpty else {
            throw NativeExerciseError(
                "faults: the generated scenario was refused: \(runner.failures.joined(separator: "; "))")
        }
        self.spawnRSS = spawnRSS
        self.counts = counts

        var givens = "The scenario (vmsim's scenario language, docs/SCENARIOS.md):\n\n"
        for (i, line) in text.split(separator: "\n").enumerated() {
            givens += String(repeating: " ", count: max(0, 4 - String(i + 1).count)) + "\(i + 1)  \(line)\n"
        }
        givens += """

            After line \(firstAsked - 1) (spawn), p's RSS is \(spawnRSS) page\(spawnRSS == 1 ? "" : "s"). A read or write touches \
            every page of the range once; `NAMEp` is NAME pages of 4 KiB. Faults are counted as \
            getrusage() counts them: minor (no I/O) and major (the page had to be read from disk). \
            Facts of Linux 6.18 the model follows: a read of untouched private anonymous memory maps \
            the shared zero page (a minor fault, not counted in RSS); a write to a page shared \
            copy-on-write copies it unless no one else maps it (then it is reused); a read fault on \
            a cached file maps up to 16 cached pages around it (fault_around_bytes = 64 KiB); a \
            read of an uncached file reads ahead; the stack grows down on demand.

            """
        var questions: [ExerciseQuestion] = []
        var previous: [String: Int] = [:]
        for count in counts {
            let statementText = parsed.statements.first { $0.location.line == count.line }?.text ?? ""
            questions.append(
                ExerciseQuestion(
                    id: "\(count.line).\(count.process)",
                    prompt:
                        "line \(count.line) `\(statementText)`: \(count.process)'s minor and major faults during it, and its RSS in pages after it",
                    parts: [
                        AnswerPart("minflt", count.minor), AnswerPart("majflt", count.major),
                        AnswerPart("rss", count.rss),
                    ],
                    explanation: FaultCountExercise.explain(
                        count, note: notes[count.line] ?? "", fork: statementText.contains(": fork "),
                        before: previous[count.process] ?? (count.process == "p" ? spawnRSS : 0))))
            previous[count.process] = count.rss
        }
        self.worked = WorkedExercise(
            title: "count the faults", givens: givens, questions: questions,
            epilogue:
                "Computed by running the scenario through vmsim's kernel (ScenarioRunner); `vmsim run` of the scenario with `--trace` shows every fault."
        )
    }

    /// The line's note, then what the kernel counted.
    static func explain(_ count: Count, note: String, fork: Bool, before: Int) -> String {
        var text =
            fork && count.process != "p"
            ? "the child starts with the parent's page tables, every private page shared copy-on-write: its RSS is the parent's; fork itself faults nothing"
            : note
        let rss = count.rss == before ? "RSS stays \(count.rss)" : "RSS \(before) → \(count.rss)"
        text +=
            (text.isEmpty ? "" : "\n") + "the kernel counted \(count.minor) minor, \(count.major) major; "
            + rss
        return text
    }

    static func anon(_ rng: inout SeededGenerator) -> Block {
        let n = rng.pick(4...32)
        return Block(lines: [
            ("p: mmap a \(n)p anon private rw", "mmap only reserves address space: no fault, no RSS"),
            (
                "p: write a",
                "each untouched page takes one minor fault (do_anonymous_page allocates a zeroed frame)"
            ),
            ("p: read a", "the pages are mapped already: no fault"),
            (
                "p: munmap a",
                "munmap unmaps the range and frees its pages: no fault, RSS drops by what was mapped there"
            ),
        ])
    }

    static func zero(_ rng: inout SeededGenerator) -> Block {
        let n = rng.pick(4...32)
        let k = rng.pick(1...n)
        return Block(lines: [
            ("p: mmap z \(n)p anon private rw", "no fault at mmap"),
            (
                "p: read z",
                "each page's first touch is a read: a minor fault that maps the shared zero page read-only; the zero page is not counted in RSS"
            ),
            (
                "p: write z[0:\(k)p]",
                "a write to a zero-page mapping is a write-protect fault: a new zeroed frame per page, counted in RSS"
            ),
        ])
    }

    static func cow(_ rng: inout SeededGenerator) -> Block {
        let n = rng.pick(4...24)
        let k = rng.pick(1...n)
        return Block(lines: [
            ("p: mmap b \(n)p anon private rw", "no fault at mmap"),
            ("p: write b value=1", "each untouched anonymous page takes one minor fault"),
            ("p: fork c", "fork copies the page tables write-protected: the parent faults nothing"),
            (
                "c: write b[0:\(k)p] value=2",
                "each page is shared with the parent: a write-protect fault copies it (wp_page_copy), one minor fault per page; a copy replaces a shared page, so RSS does not grow"
            ),
            ("c: exit", ""),
            ("p: wait c", ""),
            (
                "p: write b value=3",
                "every page is still write-protected since the fork: one minor fault per page; the child is gone, so each page is mapped by p alone and is reused in place (wp_page_reuse), no copy"
            ),
        ])
    }

    static func faultAround(_ rng: inout SeededGenerator) -> Block {
        let m = rng.pick(2...8) * 16 + rng.pick(0...15)
        return Block(
            setup: ["file /data/cached size=\(m)p cached"],
            lines: [
                ("p: mmap f \(m)p file=/data/cached private r", "no fault at mmap"),
                (
                    "p: read f[0]",
                    "one read fault; the file is cached, so fault-around (do_fault_around) also maps the cached pages of the 16-page window around the address"
                ),
                (
                    "p: read f",
                    "one minor fault per fault-around window with pages not yet mapped; the windows are 16 pages aligned on the virtual address (clipped to the mapping), so an unaligned mapping needs one more; afterwards all \(m) pages are mapped"
                ),
            ])
    }

    static func readahead(_ rng: inout SeededGenerator) -> Block {
        let m = rng.pick(4...16) * 8
        return Block(
            setup: ["file /data/disk size=\(m)p"],
            lines: [
                ("p: mmap g \(m)p file=/data/disk shared r", "no fault at mmap"),
                (
                    "p: read g",
                    "the file is not in the page cache: a fault that must wait for the disk is major; readahead brings in a window of pages, so later faults in it find them cached (minor, with fault-around)"
                ),
            ])
    }

    static func stack(_ rng: inout SeededGenerator) -> Block {
        let s = rng.pick(8...64)
        return Block(lines: [
            (
                "p: write stack[\(8192 - 4 * s)KiB:8MiB]",
                "the top \(s) pages of the stack: each page not yet touched faults once (the argument page at the top is already there); below the 132 KiB set up at exec the stack VMA grows down on demand"
            )
        ])
    }
}
