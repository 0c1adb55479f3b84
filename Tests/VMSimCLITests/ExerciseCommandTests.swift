import Testing
import VMExerciseKernel
import VMSim

@testable import VMSimCLI

@Suite struct ExerciseCommandTests {
    @Test func unknownScriptsAndPythonsAreNamed() {
        #expect {
            try OSTEPExercise(python: 3, script: "vm-bogus", flags: []).run()
        } throws: { error in
            (error as? CLIError)?.message.hasPrefix("exercise ostep: unknown script 'vm-bogus'") ?? false
        }
        #expect {
            try OSTEPExercise(python: 4, script: "malloc", flags: []).run()
        } throws: { error in
            (error as? CLIError)?.message == "--python: expected 2 or 3, got 4"
        }
    }

    @Test func theScriptFlagsPassThroughUntouched() throws {
        let command = try OSTEPExercise.parse(["--python", "2", "malloc", "-c", "-s", "3", "--numOps=4"])
        #expect(command.python == 2)
        #expect(command.script == "malloc")
        #expect(command.flags == ["-c", "-s", "3", "--numOps=4"])
    }
}

/// The generated exercises on the command line and in the shell.
@Suite struct NativeExerciseCommandTests {
    func output(_ kind: NativeExerciseKind, _ args: [String]) throws -> (text: String, status: Int32) {
        try NativeExerciseOptions.parse(args).output(kind)
    }

    @Test func answersGradeAsAllCorrectAndWrongAnswersExitOne() throws {
        let (key, status) = try self.output(.buddy, ["--seed", "2", "--answers"])
        #expect(status == 0 && key.hasPrefix("# buddy allocator"))
        let path = scenarioFile(key, name: "key.txt")
        let (report, ok) = try self.output(.buddy, ["--seed", "2", "--check", path])
        #expect(ok == 0 && report.hasSuffix("score: 8/8\n"))
        let wrong = scenarioFile("1: 4000 0 0 0 0 0 0 0 0\n", name: "wrong.txt")
        let (feedback, bad) = try self.output(.buddy, ["--seed", "2", "--check", wrong])
        #expect(bad == 1 && feedback.hasPrefix("1: wrong: pfn is 3984, not 4000;"))
        #expect(feedback.contains("2: not answered"))
    }

    @Test func badFilesAndFlagsAreErrorsNamingTheProblem() throws {
        let broken = scenarioFile("1 3984\n", name: "broken.txt")
        #expect {
            try self.output(.buddy, ["--seed", "2", "--check", broken])
        } throws: { error in
            (error as? CLIError)?.message == "\(broken):1:1: expected `ID: ANSWER`"
        }
        #expect {
            try self.output(.faults, ["--difficulty", "5"])
        } throws: { error in
            (error as? CLIError)?.message == "--difficulty: expected 1, 2 or 3, got 5"
        }
        #expect {
            try self.output(.cow, ["--answers", "--explain"])
        } throws: { error in
            (error as? CLIError)?.message == "give at most one of --answers, --explain, --check"
        }
        #expect {
            try self.output(.cow, ["--check", "/nonexistent/answers"])
        } throws: { error in
            (error as? CLIError)?.message == "--check: cannot read /nonexistent/answers"
        }
    }

    @Test func theShellPosesAndGradesOneAnswerAtATime() throws {
        var lines: [String] = []
        let session = try ShellSession(overrides: [], trace: false) { lines.append($0) }
        ShellExercises(write: { lines.append($0) }).install(on: session)
        _ = session.handle("answer 1: 3")
        #expect(lines.last == "shell: answer: no exercise yet (try `exercise buddy`)")
        _ = session.handle("exercise relocation -s 1")
        #expect(lines.contains("relocation: base-and-bounds translation"))
        _ = session.handle("answer 1: 14145")
        #expect(lines.last == "1: correct")
        _ = session.handle("answer 0: 12")
        #expect(lines.contains("0: wrong: address is violation, not 12"))
        _ = session.handle("answer 9: 1")
        #expect(lines.last == "shell: answer: answer:1:1: no question '9' in this exercise")
        _ = session.handle("exercise score")
        #expect(lines.last == "1 right, 1 wrong, 3 to go")
        _ = session.handle("exercise reveal 2")
        #expect(lines.contains("2: violation"))
        _ = session.handle("exercise watermarks --difficulty 7")
        #expect(lines.last == "shell: exercise: --difficulty: expected 1, 2 or 3, got 7")
        // The shell's own kernel and history are untouched.
        #expect(session.history.isEmpty)
    }
}
