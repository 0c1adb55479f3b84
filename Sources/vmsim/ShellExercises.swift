import ArgumentParser
import VMExercise
import VMExerciseKernel
import VMSim

/// Exercises inside `vmsim shell`, answered one question at a time:
///
/// ```
/// vmsim> exercise buddy --seed 2
/// vmsim> answer 1: 3984 0 1 0 1 0 1 1 0
/// vmsim> exercise reveal 2
/// vmsim> exercise score
/// ```
///
/// `exercise KIND [--seed N] [--difficulty D]` (or `exercise paging-policy|relocation FLAGS`)
/// poses a problem; `answer ID: ANSWER` grades one answer at once (the answer-file syntax of
/// docs/exercises.md); `exercise reveal ID` shows a question's answer and reasoning,
/// `exercise reveal` all of them; `exercise score` the answers so far; `exercise` alone the
/// problem again. The shell's kernel is not touched: each exercise boots its own.
final class ShellExercises {
    let write: (String) -> Void
    var current: WorkedExercise?
    var graded: [String: Bool] = [:]

    init(write: @escaping (String) -> Void) { self.write = write }

    static let help = [
        "Exercises: exercise KIND [--seed N] [--difficulty 1|2|3] (KIND: "
            + NativeExerciseKind.allCases.map(\.rawValue).joined(separator: ", ") + "), exercise "
            + OSTEPWorked.supported.map(\.rawValue).joined(separator: "|")
            + " FLAGS, answer ID: ANSWER, exercise reveal [ID], exercise score."
    ]

    /// Adds `exercise` and `answer` to the session's commands.
    func install(on session: ShellSession) {
        session.extraCommands["exercise"] = { rest in self.exercise(rest) }
        session.extraCommands["answer"] = { rest in self.answer(rest) }
        session.extraHelp += ShellExercises.help
    }

    /// Writes text line by line (the shell prints each line itself).
    func say(_ text: String) {
        var body = Substring(text)
        if body.hasSuffix("\n") { body = body.dropLast() }
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) { self.write(String(line)) }
    }

    func exercise(_ rest: String) {
        let words = rest.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else {
            if let current { self.say(current.problemText) } else { self.say(ShellExercises.help[0]) }
            return
        }
        switch first {
        case "reveal":
            guard let current else { return self.write("shell: exercise: no exercise yet") }
            guard words.count > 1 else { return self.say(current.explained) }
            for id in words.dropFirst() {
                guard let q = current.questions.first(where: { $0.id == id }) else {
                    self.write("shell: exercise: no question '\(id)'")
                    continue
                }
                self.say(
                    "\(q.id): \(q.answerText)\n"
                        + q.explanation.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n"))
            }
        case "score":
            guard let current else { return self.write("shell: exercise: no exercise yet") }
            let right = self.graded.values.filter { $0 }.count
            self.write(
                "\(right) right, \(self.graded.count - right) wrong, \(current.questions.count - self.graded.count) to go"
            )
        default:
            self.pose(first, Array(words.dropFirst()))
        }
    }

    func pose(_ name: String, _ flags: [String]) {
        let exercise: WorkedExercise
        if let kind = NativeExerciseKind(rawValue: name) {
            do {
                let options = try NativeExerciseOptions.parse(flags)
                exercise = try nativeExercise(kind, seed: options.seed, difficulty: options.difficulty)
            } catch let error as NativeExerciseError {
                return self.write("shell: exercise: \(error.message)")
            } catch {
                return self.write("shell: exercise: " + NativeExerciseOptions.message(for: error))
            }
        } else if let script = OSTEPScript(rawValue: name), OSTEPWorked.supported.contains(script) {
            switch OSTEPWorked.exercise(script, arguments: flags) {
            case .success(let worked): exercise = worked
            case .failure(let failure):
                return self.say(failure.outcome.stdout + failure.outcome.stderr)
            }
        } else {
            return self.say(ShellExercises.help[0])
        }
        self.current = exercise
        self.graded = [:]
        self.say(exercise.problemText)
        self.write("Answer with `answer ID: ANSWER`; `exercise reveal ID` shows one answer.")
    }

    func answer(_ line: String) {
        guard let current else { return self.write("shell: answer: no exercise yet (try `exercise buddy`)") }
        do {
            let answers = try WorkedExercise.parseAnswers(
                Array(line.utf8), file: "answer", ids: Set(current.questions.map(\.id)))
            guard let (id, _) = answers.first, answers.count == 1 else {
                return self.write("shell: answer: expected `answer ID: ANSWER`")
            }
            let grade = try current.grade(Array(line.utf8), file: "answer")
            guard let index = current.questions.firstIndex(where: { $0.id == id }) else { return }
            let verdict = grade.questions[index]
            self.graded[id] = verdict.correct
            self.write("\(id): \(verdict.feedback)")
            if !verdict.correct {
                for l in current.questions[index].explanation.split(separator: "\n") {
                    self.write("    \(l)")
                }
            }
        } catch {
            self.write("shell: answer: \(error)")
        }
    }
}

extension NativeExerciseOptions {
    /// The argument parser's message for bad flags, on one line.
    static func message(for error: any Error) -> String {
        Self.fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
}
