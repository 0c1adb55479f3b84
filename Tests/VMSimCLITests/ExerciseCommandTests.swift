import Testing

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
