/// One of the six virtual-memory homework simulators of *Operating Systems: Three Easy Pieces*
/// (github.com/remzi-arpacidusseau/ostep-homework), reproduced byte for byte.
public enum OSTEPScript: String, CaseIterable, Sendable {
    case pagingPolicy = "paging-policy"
    case pagingLinearTranslate = "paging-linear-translate"
    case pagingMultilevelTranslate = "paging-multilevel-translate"
    case relocation
    case segmentation
    case malloc

    /// The script's file name, which optparse prints as the program name.
    public var fileName: String { self.rawValue + ".py" }

    /// Where the script lives in the ostep-homework repository.
    public var repositoryPath: String {
        switch self {
        case .pagingPolicy: "vm-beyondphys-policy/paging-policy.py"
        case .pagingLinearTranslate: "vm-paging/paging-linear-translate.py"
        case .pagingMultilevelTranslate: "vm-smalltables/paging-multilevel-translate.py"
        case .relocation: "vm-mechanism/relocation.py"
        case .segmentation: "vm-segmentation/segmentation.py"
        case .malloc: "vm-freespace/malloc.py"
        }
    }
}

/// What running a script printed and its exit status.
public struct ScriptOutcome: Equatable, Sendable {
    public var stdout: String
    public var stderr: String
    /// 0, the script's `exit(1)`, 1 after a traceback, 2 after an optparse error — or 2 with a
    /// `vmsim:` line on standard error when vmsim does not reproduce what the script would do.
    public var status: Int32
}

/// The environment a script reads besides its arguments.
public struct ScriptEnvironment: Sendable {
    /// `$COLUMNS`, which optparse's help formatter reads; nil when unset.
    public var columns: String?
    /// Reads a file named by a flag (`paging-policy.py -f`): its bytes, or nil when it cannot be
    /// opened (the script then dies of `FileNotFoundError`, Python 2's `IOError`).
    public var readFile: @Sendable (String) -> [UInt8]?

    public init(columns: String? = nil, readFile: @escaping @Sendable (String) -> [UInt8]? = { _ in nil }) {
        self.columns = columns
        self.readFile = readFile
    }
}

/// The script's standard output and error while it runs.
final class ScriptIO {
    let python: PythonVersion
    let columns: Int
    let environment: ScriptEnvironment
    private(set) var stdout = ""
    private(set) var stderr = ""
    private let sink: ((String) -> Void)?

    init(python: PythonVersion, environment: ScriptEnvironment, sink: ((String) -> Void)?) {
        self.python = python
        self.environment = environment
        self.sink = sink
        // optparse: int(os.environ['COLUMNS']) or 80 when unset or not a number.
        var columns = 80
        if let text = environment.columns, let value = try? pythonInt(text, python: python) {
            columns = value.intValue.map { min(max($0, -1_000_000), 1_000_000) } ?? 1_000_000
        }
        self.columns = columns
    }

    /// `sys.stdout.write(text)`; passes text on in large pieces when streaming.
    func write(_ text: String) {
        self.stdout += text
        if let sink = self.sink, self.stdout.utf8.count >= 1 << 16 {
            sink(self.stdout)
            self.stdout = ""
        }
    }

    /// `print(*items)`.
    func print(_ items: String..., end: String = "\n") {
        self.write(items.joined(separator: " ") + end)
    }

    func writeError(_ text: String) { self.stderr += text }

    /// What the translation scripts computed for each address while solving (`-c`), for their
    /// worked forms (OSTEPWorked); printing is unaffected.
    var translations: [TranslationRecord] = []
    /// segmentation.py's solved addresses, likewise.
    var segmentRecords: [SegmentRecord] = []
    /// malloc.py's solved operations, likewise.
    var mallocRecords: [MallocRecord] = []

    /// Hands the rest of standard output to the sink; returns what was not streamed.
    func finish() -> String {
        if let sink = self.sink {
            sink(self.stdout)
            self.stdout = ""
        }
        return self.stdout
    }
}

/// `sys.exit(status)` or the end of an optparse run.
struct ScriptExit: Error {
    var status: Int32
}

/// What the script would do but vmsim does not reproduce (named, never approximated).
public struct NotReproduced: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { self.message }
}

/// Runs `python SCRIPT ARGUMENTS` in vmsim: the exact output of the script under that Python.
///
/// `sink`, when given, receives standard output as it is produced (for scripts asked to print
/// millions of lines); the returned outcome then holds only standard error and the status.
public func runOSTEP(
    _ script: OSTEPScript, arguments: [String], python: PythonVersion = .three,
    environment: ScriptEnvironment = ScriptEnvironment(), sink: ((String) -> Void)? = nil
) -> ScriptOutcome {
    let io = ScriptIO(python: python, environment: environment, sink: sink)
    var status: Int32 = 0
    do {
        switch script {
        case .pagingPolicy: try PagingPolicyScript.run(arguments, io)
        case .pagingLinearTranslate: try PagingLinearTranslateScript.run(arguments, io)
        case .pagingMultilevelTranslate: try PagingMultilevelTranslateScript.run(arguments, io)
        case .relocation: try RelocationScript.run(arguments, io)
        case .segmentation: try SegmentationScript.run(arguments, io)
        case .malloc: try MallocScript.run(arguments, io)
        }
    } catch let exit as ScriptExit {
        status = exit.status
    } catch let exception as PyException {
        // CPython prints the frames too; vmsim names the script and gives the exception line.
        io.writeError(
            "Traceback (most recent call last):\n  File \"\(script.fileName)\", in <module>\n\(exception.line)\n"
        )
        status = 1
    } catch let limit as NotReproduced {
        io.writeError("vmsim: \(script.fileName): \(limit.message)\n")
        status = 2
    } catch {
        io.writeError("vmsim: \(script.fileName): \(error)\n")
        status = 2
    }
    let stdout = io.finish()
    return ScriptOutcome(stdout: stdout, stderr: io.stderr, status: status)
}

// MARK: Python semantics the ports share

/// Integers the ports follow: |n| < 2^62, so that sums of two or three never overflow.
let machineIntLimit = 1 << 62

/// A Python integer that must be below 2^62 in magnitude for vmsim to follow the script.
func machineInt(_ value: PyInt) throws(NotReproduced) -> Int {
    guard let int = value.intValue, int > -machineIntLimit, int < machineIntLimit else {
        throw NotReproduced(message: "the integer \(value) is beyond ±2^62, which vmsim does not follow")
    }
    return int
}

/// `int(text)` as a machine integer.
func pyIntFromString(_ text: String, _ io: ScriptIO) throws -> Int {
    try machineInt(try pythonInt(text, python: io.python))
}

/// Checked machine arithmetic standing in for Python's unbounded integers.
func checked(_ result: (partialValue: Int, overflow: Bool)) throws(NotReproduced) -> Int {
    if result.overflow || result.partialValue <= -machineIntLimit || result.partialValue >= machineIntLimit {
        throw NotReproduced(message: "an intermediate integer is beyond ±2^62, which vmsim does not follow")
    }
    return result.partialValue
}

/// `int(x)` of a float: truncation toward zero.
func pyIntFromFloat(_ x: Double) throws -> Int {
    if x.isNaN { throw PyException(type: "ValueError", message: "cannot convert float NaN to integer") }
    if x.isInfinite {
        throw PyException(type: "OverflowError", message: "cannot convert float infinity to integer")
    }
    let truncated = x.rounded(.towardZero)
    guard abs(truncated) < Double(machineIntLimit) else {
        throw NotReproduced(message: "the integer \(truncated) is beyond ±2^62, which vmsim does not follow")
    }
    return Int(truncated)
}

/// `a / b` of two integers: true division in Python 3 (a float), floor division in Python 2.
enum PyQuotient {
    case float(Double)
    case int(Int)

    var asDouble: Double {
        switch self {
        case .float(let x): x
        case .int(let n): Double(n)
        }
    }
}

func pyDivide(_ a: Int, _ b: Int, _ io: ScriptIO) throws -> PyQuotient {
    if io.python == .two {
        if b == 0 {
            throw PyException(type: "ZeroDivisionError", message: "integer division or modulo by zero")
        }
        return .int(pyFloorDiv(a, b))
    }
    if b == 0 { throw PyException(type: "ZeroDivisionError", message: "division by zero") }
    return .float(Double(a) / Double(b))
}

/// `a // b`.
func pyFloorDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

/// `a % b` (the sign of the divisor).
func pyMod(_ a: Int, _ b: Int) -> Int {
    let r = a % b
    return (r != 0 && (r < 0) != (b < 0)) ? r + b : r
}

/// `float / float`.
func pyFloatDivide(_ a: Double, _ b: Double) throws -> Double {
    if b == 0 { throw PyException(type: "ZeroDivisionError", message: "float division by zero") }
    return a / b
}

/// The scripts' `convert(size)`: a number with an optional k/m/g suffix (powers of 1024).
func ostepConvert(_ size: String, _ io: ScriptIO) throws -> Int {
    let scalars = Array(size.unicodeScalars)
    guard let last = scalars.last else {
        throw PyException(type: "IndexError", message: "string index out of range")
    }
    let head = String(String.UnicodeScalarView(scalars.dropLast()))
    switch last {
    case "k", "K": return try checked(try pyIntFromString(head, io).multipliedReportingOverflow(by: 1024))
    case "m", "M": return try checked(try pyIntFromString(head, io).multipliedReportingOverflow(by: 1 << 20))
    case "g", "G": return try checked(try pyIntFromString(head, io).multipliedReportingOverflow(by: 1 << 30))
    default: return try pyIntFromString(size, io)
    }
}

/// `random_seed(seed)` of the scripts: `random.seed(seed, version=1)`, which for an integer is
/// `random.seed(seed)` under both Pythons.
func ostepSeed(_ seed: PyInt) -> PyRandom { PyRandom(seed: seed) }

extension [String: OptionParser.Value] {
    func string(_ key: String) -> String {
        switch self[key] {
        case .string(let s): s
        case .int(let n): n.description
        case .bool(let b): b ? "True" : "False"
        case nil: "None"
        }
    }

    func pyInt(_ key: String) -> PyInt {
        if case .int(let n) = self[key] { return n }
        preconditionFailure("options.\(key) is not an int")
    }

    func bool(_ key: String) -> Bool {
        if case .bool(let b) = self[key] { return b }
        return false
    }
}

/// One address a translation script solved: each table entry it read, and the outcome.
struct TranslationRecord {
    struct Step {
        var table: String
        var index: Int
        /// Where the entry is (a byte address in the script's memory, or nil for a table the
        /// script keeps apart from memory).
        var address: Int?
        var entry: Int
        var valid: Bool
        var pfn: Int
    }

    var vaddr: Int
    /// Bits of the page offset.
    var offsetBits: Int
    var steps: [Step] = []
    var paddr: Int?
    /// The byte fetched (paging-multilevel-translate).
    var value: Int?
}

/// One address segmentation.py solved: its segment, that segment's registers, the outcome.
struct SegmentRecord {
    var vaddr: Int
    var segment: Int
    /// Segment 0: its base; segment 1: the base the script prints (base + limit, growing down).
    var base: Int
    var limit: Int
    var asize: Int
    var paddr: Int?
}

/// One operation malloc.py solved: what it printed as the call, its return value, the elements
/// searched (allocations) and the free list after.
struct MallocRecord {
    var call: String
    var returned: Int
    var searched: Int?
    var freeList: [(addr: Int, size: Int)]
}
