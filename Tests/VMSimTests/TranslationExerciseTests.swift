import Foundation
import Testing
import VMPaging
import VMTypes

@testable import VMSim

@Suite struct TranslationExerciseTests {
    static let teach15 = Architecture.teaching(addressBits: 15, pageShift: 5, levelBits: [5, 5])

    func text(_ arch: Architecture, seed: UInt64, style: TranslationExercise.SegmentationStyle = .flat) throws
        -> String
    {
        let e = try TranslationExercise(architecture: arch, seed: seed, style: style)
        return e.problemText() + "\nAnswers:\n" + e.answersText(e.solve())
    }

    @Test func workedExercisesMatchTheirGoldenFiles() throws {
        Golden.check(try text(.i386, seed: 7), "translate/i386-seed7")
        Golden.check(try text(.x86_64, seed: 7), "translate/x86_64-seed7")
        Golden.check(try text(.i386PAE, seed: 7), "translate/i386-pae-seed7")
        Golden.check(try text(.x86_64LA57, seed: 7), "translate/x86_64-la57-seed7")
        Golden.check(try text(Self.teach15, seed: 7), "translate/teach15-seed7")
        Golden.check(try text(.i386, seed: 7, style: .protected), "translate/i386-protected-seed7")
        Golden.check(try text(.i386, seed: 7, style: .real), "translate/real-seed7")
    }

    @Test func theSameSeedGivesTheSameExerciseAndAnotherSeedAnother() throws {
        #expect(try text(.x86_64, seed: 11) == text(.x86_64, seed: 11))
        #expect(try text(.x86_64, seed: 11) != text(.x86_64, seed: 12))
    }

    /// Every answer is internally consistent: the offset survives translation, error-code bits
    /// match the cause and the access, and a mapped answer walked every level.
    @Test(arguments: [Architecture.i386, .i386PAE, .x86_64, .x86_64LA57])
    func answersAreConsistentWithTheHardwareRules(arch: Architecture) throws {
        for seed in UInt64(1)...25 {
            let exercise = try TranslationExercise(architecture: arch, seed: seed, count: 10)
            let answers = exercise.solve()
            #expect(answers.count == 10)
            var sawFault = false
            var sawMapped = false
            for a in answers {
                let linear = try #require(a.linear)
                if let physical = a.physical {
                    sawMapped = true
                    #expect(physical & 0xFFF == linear & 0xFFF)
                    #expect(a.fault == nil)
                    if a.tlb?.hasPrefix("miss") == true { #expect(a.steps.count == arch.paging.levels) }
                } else {
                    sawFault = true
                    let code = PFErrorCode(rawValue: try #require(a.errorCode))
                    #expect(code.contains(.user) == (a.question.mode == .user))
                    #expect(code.contains(.write) == (a.question.access == .write))
                    let notPresent = a.fault?.hasPrefix("not present") == true
                    #expect(code.contains(.protection) == !notPresent, "\(a.fault ?? "")")
                }
            }
            #expect(sawFault && sawMapped, "seed \(seed) should mix mapped pages and faults")
        }
    }

    @Test func teachingAnswersFetchTheByteFromMemory() throws {
        let exercise = try TranslationExercise(architecture: Self.teach15, seed: 3, count: 12)
        let memory = try #require(exercise.memory)
        for a in exercise.solve() {
            if let physical = a.physical {
                #expect(a.value == memory.byte(Int(physical)))
                #expect(a.steps.count == 2)
                #expect(physical & 31 == a.question.offset & 31)
            } else {
                #expect(a.steps.last?.flags.hasPrefix("valid 0") == true)
            }
        }
    }

    @Test func repeatedPagesHitTheTLBAndWritesThroughCleanEntriesWalkAgain() throws {
        var hits = 0
        var dirtyWalks = 0
        for seed in UInt64(1)...40 {
            let answers = try TranslationExercise(architecture: .x86_64, seed: seed, count: 12).solve()
            hits += answers.filter { $0.tlb?.hasPrefix("hit (") == true && $0.physical != nil }.count
            dirtyWalks += answers.filter { $0.tlb?.contains("not yet dirty") == true }.count
        }
        #expect(hits > 0)
        #expect(dirtyWalks > 0)
    }

    @Test func jsonCarriesTheProblemAndOptionallyTheAnswers() throws {
        let exercise = try TranslationExercise(architecture: .i386, seed: 7)
        let withAnswers =
            try JSONSerialization.jsonObject(with: Data(exercise.json(answers: true).utf8)) as? [String: Any]
        let without =
            try JSONSerialization.jsonObject(with: Data(exercise.json(answers: false).utf8)) as? [String: Any]
        #expect((withAnswers?["answers"] as? [Any])?.count == 6)
        #expect(without?["answers"] == nil)
        #expect((without?["tables"] as? [Any])?.isEmpty == false)
        #expect(
            exercise.json(answers: true)
                == (try TranslationExercise(architecture: .i386, seed: 7)).json(answers: true))
    }

    @Test func badParametersAreRejectedByName() {
        #expect(throws: ExerciseError.self) {
            try TranslationExercise(architecture: .x86_64, seed: 1, style: .protected)
        }
        #expect(throws: ExerciseError.self) {
            try TranslationExercise(architecture: .i386, seed: 1, count: 0)
        }
        #expect(throws: ExerciseError.self) {
            try TranslationExercise(architecture: Self.teach15, seed: 1, physicalPages: 4096)
        }
    }
}
