import Foundation
import Testing

@testable import VMExercise

/// OSTEP's exercises in vmsim's voice: the key agrees with what the real scripts printed with
/// `-c` (the committed corpus of Python outputs), and answer files grade as documented.
@Suite struct OSTEPWorkedTests {
    /// The `-c` lines of paging-policy.py: (hit, memory) per access.
    static func policyTrace(_ stdout: String) -> [(hit: Bool, memory: [String])] {
        stdout.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("Access: "), line.contains(" -> "), let open = line.firstIndex(of: "["),
                let close = line.firstIndex(of: "]")
            else { return nil }
            let list = line[line.index(after: open)..<close].split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            return (line.contains("  HIT "), list)
        }
    }

    @Test func pagingPolicyKeyMatchesThePythonScriptAcrossTheCorpus() throws {
        let cases = try OSTEPCorpusTests.cases(.pagingPolicy)
        var compared = 0
        var failures: [String] = []
        for c in cases where c.py3.status == 0 && c.py3.stdout.contains("FINALSTATS") {
            let files = c.files
            let environment = ScriptEnvironment(
                columns: c.columns, readFile: { name in files[name].map { Array($0.utf8) } })
            let result = OSTEPWorked.exercise(.pagingPolicy, arguments: c.args, environment: environment)
            guard case .success(let worked) = result else {
                if case .failure(let e) = result, e.outcome.stderr.contains("at most 10000") { continue }
                failures.append("\(c.args): no worked exercise")
                continue
            }
            let trace = Self.policyTrace(c.py3.stdout)
            if !trace.isEmpty {
                guard trace.count == worked.questions.count else {
                    failures.append(
                        "\(c.args): \(trace.count) accesses in python, \(worked.questions.count) questions")
                    continue
                }
                for (q, t) in zip(worked.questions, trace)
                where q.parts[0].value != [t.hit ? "hit" : "miss"] || q.parts[1].value != t.memory {
                    failures.append("\(c.args) question \(q.id): \(q.answerText) vs python \(t)")
                    break
                }
            }
            // FINALSTATS line's hits and misses.
            let stats = c.py3.stdout.split(separator: "\n").first { $0.hasPrefix("FINALSTATS") }!
            let words = stats.split(separator: " ")
            if !worked.epilogue.hasPrefix("hits \(words[2]), misses \(words[4]),") {
                failures.append("\(c.args): \(worked.epilogue) vs \(stats)")
            }
            compared += 1
        }
        print("paging-policy worked: \(compared) corpus cases compared")
        #expect(compared >= 100)
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(10).joined(separator: "\n")))
    }

    @Test func relocationKeyMatchesThePythonScriptAcrossTheCorpus() throws {
        let cases = try OSTEPCorpusTests.cases(.relocation)
        var compared = 0
        var failures: [String] = []
        for c in cases where c.py3.status == 0 && c.args.contains("-c") && !c.py3.stdout.hasPrefix("Usage:") {
            guard case .success(let worked) = OSTEPWorked.exercise(.relocation, arguments: c.args)
            else { continue }
            let lines = c.py3.stdout.split(separator: "\n").filter { $0.hasPrefix("  VA ") }
            guard lines.count == worked.questions.count else {
                failures.append("\(c.args): \(lines.count) addresses vs \(worked.questions.count)")
                continue
            }
            for (q, line) in zip(worked.questions, lines) {
                let expected: String
                if line.hasSuffix("SEGMENTATION VIOLATION") {
                    expected = "violation"
                } else {
                    let decimal = line.split(separator: "(decimal:").last!.dropLast().trimmingCharacters(
                        in: .whitespaces)
                    expected = decimal
                }
                if q.parts[0].value != [expected] {
                    failures.append("\(c.args) \(q.id): \(q.answerText) vs \(line)")
                }
            }
            compared += 1
        }
        print("relocation worked: \(compared) corpus cases compared")
        #expect(compared >= 50)
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(10).joined(separator: "\n")))
    }

    static func policy(_ flags: [String]) throws -> WorkedExercise {
        guard case .success(let worked) = OSTEPWorked.exercise(.pagingPolicy, arguments: flags) else {
            throw NotReproduced(message: "no exercise for \(flags)")
        }
        return worked
    }

    @Test func theKeyGradesAsAllCorrect() throws {
        for policy in ["FIFO", "LRU", "OPT", "CLOCK", "RAND", "MRU", "UNOPT"] {
            let worked = try Self.policy(["-s", "4", "-p", policy, "-n", "12"])
            let grade = try worked.grade(Array(worked.answerKey.utf8), file: "key")
            #expect(grade.allCorrect && grade.total == 12, "\(policy)")
        }
    }

    @Test func gradingGivesPerQuestionFeedback() throws {
        // -a 1,2,1,3,4 with FIFO and 3 pages: miss [1], miss [1 2], hit, miss [1 2 3], miss [2 3 4].
        let worked = try Self.policy(["-a", "1,2,1,3,4", "-p", "FIFO"])
        #expect(
            worked.questions.map(\.answerText) == [
                "miss 1", "miss 1 2", "hit 1 2", "miss 1 2 3", "miss 2 3 4",
            ])
        let answers = """
            # my answers
            1: MISS [1]
            2: miss, 1, 2
            3: miss 1 2
            4: hit 1 2 3   # wrong result, right memory
            """
        let grade = try worked.grade(Array(answers.utf8), file: "a.txt")
        #expect(grade.correct == 2 && grade.total == 5)
        #expect(grade.questions[2].feedback == "wrong: result is hit, not miss")
        #expect(grade.questions[3].feedback == "wrong: result is miss, not hit")
        #expect(grade.questions[4].feedback == "not answered; the answer is miss 2 3 4")
        let report = worked.report(grade)
        #expect(report.contains("FIFO evicts 1"))
        #expect(report.hasSuffix("score: 2/5\n"))
    }

    @Test func badAnswerFilesNameTheLineAndColumn() throws {
        let worked = try Self.policy(["-a", "1,2", "-p", "LRU"])
        func error(_ text: [UInt8]) -> String {
            do {
                _ = try worked.grade(text, file: "f")
                return "no error"
            } catch {
                return error.description
            }
        }
        #expect(error(Array("1: miss 1\n  nonsense\n".utf8)) == "f:2:3: expected `ID: ANSWER`")
        #expect(error(Array("7: hit\n".utf8)) == "f:1:1: no question '7' in this exercise")
        #expect(
            error(Array("1: miss 1\n1: hit\n".utf8)) == "f:2:1: question '1' answered twice (first on line 1)"
        )
        #expect(error(Array("1: miss 1\n2: h".utf8) + [0xff]) == "f:2:5: not UTF-8 text")
        #expect(error(Array(": miss".utf8)) == "f:1:1: missing question id")
    }

    @Test func integersCompareByValueAndWrongCountsAreExplained() throws {
        let worked = try Self.policy(["-a", "16", "-p", "FIFO", "-C", "1"])
        var grade = try worked.grade(Array("1: miss 0x10\n".utf8), file: "f")
        #expect(grade.allCorrect)
        grade = try worked.grade(Array("1: 16\n".utf8), file: "f")
        #expect(grade.questions[0].feedback == "wrong: result is miss, not 16; memory is 16, not -")
        let reloc = OSTEPWorked.exercise(.relocation, arguments: ["-s", "1"])
        guard case .success(let r) = reloc else {
            Issue.record("relocation")
            return
        }
        grade = try r.grade(Array("0: 1 2\n".utf8), file: "f")
        #expect(
            grade.questions[0].feedback.hasPrefix("expected 1 value (address), got 2")
        )
    }

    @Test func scriptErrorsComeBackAsTheScriptsOutcome() {
        guard case .failure(let e) = OSTEPWorked.exercise(.pagingPolicy, arguments: ["-p", "XYZ"]) else {
            Issue.record("expected a failure")
            return
        }
        #expect(e.outcome.stdout == "Policy XYZ is not yet implemented\n" && e.outcome.status == 1)
        guard case .failure(let usage) = OSTEPWorked.exercise(.pagingPolicy, arguments: ["--bogus"]) else {
            Issue.record("expected a usage error")
            return
        }
        #expect(usage.outcome.status == 2 && usage.outcome.stderr.contains("no such option: --bogus"))
        guard case .failure(let help) = OSTEPWorked.exercise(.malloc, arguments: ["-c", "-h"]) else {
            Issue.record("expected the script's help")
            return
        }
        #expect(help.outcome.status == 0 && help.outcome.stdout.hasPrefix("Usage: malloc.py"))
        guard case .failure(let bad) = OSTEPWorked.exercise(.segmentation, arguments: ["-a", "17k", "-c"])
        else {
            Issue.record("expected the script's error")
            return
        }
        #expect(bad.outcome.status == 1 && bad.outcome.stdout.contains("Error"))
    }
}

/// The translation scripts' worked forms against the corpus: each address's answer is what
/// the real script printed with `-c`.
@Suite struct OSTEPTranslationWorkedTests {
    /// Per address, the tokens of the answer the python output gives.
    static func answers(_ script: OSTEPScript, _ stdout: String) -> [[String]] {
        var out: [[String]] = []
        for line in stdout.split(separator: "\n") {
            if script == .pagingLinearTranslate {
                guard line.hasPrefix("  VA 0x"), let arrow = line.range(of: "--> ") else { continue }
                let rest = line[arrow.upperBound...]
                if rest.contains("Invalid") {
                    out.append(["invalid"])
                } else {
                    out.append(["0x" + rest.split(separator: " ")[0]])
                }
            } else {
                if line.hasPrefix("Virtual Address 0x") {
                    out.append([])
                } else if line.contains("--> Fault") {
                    out[out.count - 1] = ["fault"]
                } else if line.contains("Translates to Physical Address") {
                    let words = line.split(separator: " ")
                    out[out.count - 1] = [String(words[5]), String(words[8])]
                }
            }
        }
        return out
    }

    @Test(arguments: [OSTEPScript.pagingLinearTranslate, .pagingMultilevelTranslate])
    func keysMatchThePythonScriptsAcrossTheCorpus(_ script: OSTEPScript) throws {
        var compared = 0
        var failures: [String] = []
        for c in try OSTEPCorpusTests.cases(script)
        where c.py3.status == 0 && c.args.contains("-c") && !c.py3.stdout.hasPrefix("Usage:") {
            guard case .success(let worked) = OSTEPWorked.exercise(script, arguments: c.args) else {
                failures.append("\(c.args): no worked exercise")
                continue
            }
            let expected = Self.answers(script, c.py3.stdout)
            guard expected.count == worked.questions.count else {
                failures.append("\(c.args): \(expected.count) addresses vs \(worked.questions.count)")
                continue
            }
            for (q, e) in zip(worked.questions, expected) {
                let mine = q.parts[0].value
                guard mine.count == e.count, zip(mine, e).allSatisfy({ WorkedExercise.same($0, $1) }) else {
                    failures.append("\(c.args) \(q.id): \(mine) vs python \(e)")
                    break
                }
            }
            let grade = try worked.grade(Array(worked.answerKey.utf8), file: "key")
            if !grade.allCorrect { failures.append("\(c.args): the key does not grade as correct") }
            compared += 1
        }
        print("\(script.rawValue) worked: \(compared) corpus cases compared")
        #expect(compared >= 40)
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(10).joined(separator: "\n")))
    }

    @Test func segmentationKeysMatchThePythonScriptAcrossTheCorpus() throws {
        var compared = 0
        var failures: [String] = []
        for c in try OSTEPCorpusTests.cases(.segmentation)
        where c.py3.status == 0 && c.args.contains("-c") && !c.py3.stdout.hasPrefix("Usage:") {
            guard case .success(let worked) = OSTEPWorked.exercise(.segmentation, arguments: c.args) else {
                failures.append("\(c.args): no worked exercise")
                continue
            }
            let lines = c.py3.stdout.split(separator: "\n").filter { $0.hasPrefix("  VA ") }
            guard lines.count == worked.questions.count else {
                failures.append("\(c.args): \(lines.count) vs \(worked.questions.count)")
                continue
            }
            for (q, line) in zip(worked.questions, lines) {
                let expected =
                    line.contains("VIOLATION")
                    ? "violation"
                    : line.split(separator: "(decimal:").last!.dropLast().trimmingCharacters(in: .whitespaces)
                if q.parts[0].value != [expected] {
                    failures.append("\(c.args) \(q.id): \(q.answerText) vs \(line)")
                }
            }
            compared += 1
        }
        print("segmentation worked: \(compared) corpus cases compared")
        #expect(compared >= 40)
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(10).joined(separator: "\n")))
    }

    @Test func mallocKeysMatchThePythonScriptAcrossTheCorpus() throws {
        var compared = 0
        var failures: [String] = []
        for c in try OSTEPCorpusTests.cases(.malloc)
        where c.py3.status == 0 && c.args.contains("-c") && !c.py3.stdout.hasPrefix("Usage:") {
            guard case .success(let worked) = OSTEPWorked.exercise(.malloc, arguments: c.args) else {
                failures.append("\(c.args): no worked exercise")
                continue
            }
            // Python's lines: "... returned N ..." then "Free List [ Size k ]: [ addr:A sz:S ]…".
            var expected: [[String]] = []
            var returned: String?
            for line in c.py3.stdout.split(separator: "\n") {
                if let r = line.range(of: "returned ") {
                    returned = String(line[r.upperBound...].split(separator: " ")[0])
                } else if line.hasPrefix("Free List"), let value = returned {
                    var tokens = [value]
                    for part in line.split(separator: "[").dropFirst(2) {
                        let fields = part.split(separator: " ")
                        tokens.append(String(fields[0].dropFirst(5)))
                        tokens.append(String(fields[1].dropFirst(3)))
                    }
                    expected.append(tokens)
                    returned = nil
                }
            }
            let mine = worked.questions.map { $0.parts.flatMap(\.value) }
            if mine != expected { failures.append("\(c.args): \(mine.prefix(3)) vs \(expected.prefix(3))") }
            compared += 1
        }
        print("malloc worked: \(compared) corpus cases compared")
        #expect(compared >= 40)
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(10).joined(separator: "\n")))
    }

    @Test func theWalkIsExplainedEntryByEntry() throws {
        guard case .success(let w) = OSTEPWorked.exercise(.pagingMultilevelTranslate, arguments: ["-s", "7"])
        else {
            Issue.record("no exercise")
            return
        }
        #expect(w.givens.contains("PDBR:"))
        let valid = w.questions.first { $0.parts[0].value.count == 2 }!
        #expect(valid.explanation.contains("page directory (page "))
        #expect(valid.explanation.contains("page table (page "))
        #expect(valid.explanation.contains("the byte there is 0x"))
    }
}
