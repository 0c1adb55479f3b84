import Testing

@testable import VMExercise

@Suite struct PyRandomTests {
    @Test func seedZeroMatchesCPython() {
        var r = PyRandom(seed: 0)
        #expect(r.random() == 0.8444218515250481)
    }
}
