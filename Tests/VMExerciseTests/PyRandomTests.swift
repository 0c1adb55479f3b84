import Testing

@testable import VMExercise

/// Python-RNG vectors: `random.seed(s); random.random()` values printed by CPython 3.11.7
/// (`repr`, so exact), for small, negative, multi-word and 100-bit seeds.
@Suite struct PyRandomTests {
    static let vectors: [(String, [Double], Double)] = [
        ("0", [0.8444218515250481, 0.7579544029403025, 0.420571580830845], 0.4804125346981437),
        ("1", [0.13436424411240122, 0.8474337369372327, 0.763774618976614], 0.7062615472551386),
        ("42", [0.6394267984578837, 0.025010755222666936, 0.27502931836911926], 0.8554501933059546),
        ("-7", [0.32383276483316237, 0.15084917392450192, 0.6509344730398537], 0.37786262968738116),
        ("4294967295", [0.6353574441341173, 0.20319993954407756, 0.6073666030347188], 0.3214643568909129),
        ("4294967296", [0.11299430095636409, 0.41782886486292836, 0.0166763664992291], 0.04156870367167198),
        (
            "18446744073709551621", [0.5105783769365112, 0.8797586528012199, 0.5149365298491138],
            0.043836022437895084
        ),
        (
            "1000000000000000000000000000000", [0.9341508484568806, 0.5253068813972436, 0.34916701183971244],
            0.6182595623737063
        ),
    ]

    @Test(arguments: Self.vectors.indices)
    func randomMatchesCPython(_ index: Int) throws {
        let (seed, first, thousandth) = Self.vectors[index]
        var r = PyRandom(seed: try pythonInt(seed, python: .three))
        #expect([r.random(), r.random(), r.random()] == first)
        for _ in 3..<999 { _ = r.random() }
        #expect(r.random() == thousandth)
    }

    @Test func bigIntegersPrintAsPythonDoes() throws {
        #expect(
            try pythonInt("1000000000000000000000000000000", python: .three).description
                == "1000000000000000000000000000000")
        #expect(
            try parseOptparseInt("0xffffffffffffffffffff", python: .three).description
                == "1208925819614629174706175")
        #expect(try parseOptparseInt("017", python: .three).description == "15")
        #expect(try parseOptparseInt("0b101", python: .two).description == "5")
    }

    /// `'%.2f' % x` from CPython for values whose decimal text is a tie or near one.
    @Test func fixedFormattingRoundsTheExactBinaryValue() {
        let cases: [(Double, String)] = [
            (61.53846153846154, "61.54"), (57.142857142857146, "57.14"), (53.333333333333336, "53.33"),
            (50.0, "50.00"), (0.125, "0.12"), (0.375, "0.38"), (2.675, "2.67"), (1.005, "1.00"),
            (0.005, "0.01"),
            (0.015, "0.01"), (99.995, "100.00"), (12.345, "12.35"), (1e-07, "0.00"),
            (123456.785, "123456.79"),
        ]
        for (value, text) in cases { #expect(pyFormatFixed(value, precision: 2) == text) }
    }

    @Test func intParsingFollowsEachPython() {
        #expect(throws: PyException.self) { try pythonInt("1_0", python: .two) }
        #expect((try? pythonInt("1_0", python: .three)) == PyInt(10))
        #expect((try? pythonInt("- 5", python: .two)) == PyInt(-5))
        #expect(throws: PyException.self) { try pythonInt("- 5", python: .three) }
        #expect((try? pythonInt("\u{663}", python: .three)) == PyInt(3))
        do {
            _ = try pythonInt(" 1x", python: .two)
        } catch {
            #expect(error.message == "invalid literal for int() with base 10: '1x'")
        }
    }
}

/// What vmsim refuses instead of hanging or overflowing, by name.
@Suite struct OSTEPLimitTests {
    @Test func aBaseThatCanNeverFitStopsInsteadOfLoopingForever() {
        // python3 relocation.py -l 20k loops forever: no base in 0..<16k leaves room for 20k.
        let outcome = runOSTEP(.relocation, arguments: ["-l", "20k", "-c"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("loop forever"))
        // python3 segmentation.py -a 1k -p 2049 -b 0 -l 100 -L 2000 loops forever too.
        let segments = runOSTEP(
            .segmentation, arguments: ["-a", "1k", "-p", "2049", "-b", "0", "-l", "100", "-L", "2000", "-c"])
        #expect(segments.status == 2)
        #expect(segments.stderr.contains("loop forever"))
    }

    @Test func integersBeyondTheMachineAreNamed() {
        let outcome = runOSTEP(.malloc, arguments: ["-S", "99999999999999999999999", "-c"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("beyond ±2^62"))
    }

    @Test func streamingHandsOverAllOutput() {
        var streamed = ""
        let outcome = runOSTEP(.pagingMultilevelTranslate, arguments: ["-c", "-n", "3000"]) { streamed += $0 }
        let whole = runOSTEP(.pagingMultilevelTranslate, arguments: ["-c", "-n", "3000"])
        #expect(outcome.stdout.isEmpty)
        #expect(streamed == whole.stdout)
        #expect(whole.stdout.utf8.count > 1 << 16)
    }
}
