import Foundation
import VMCore
import VMPhys
import VMSim
import VMTrace
import VMTypes
import Yams

/// What a sweep's cells run.
public enum SweepKind: String, CaseIterable, Sendable {
    /// `vmsim replay TRACE --frames N --policy P`: a trace against a replacement policy.
    case replay
    /// `vmsim replay TRACE --kernel …`: a trace as a process in the simulated kernel.
    case kernel
    /// `vmsim run SCENARIO …`: a scenario on a machine.
    case scenario

    /// The parameters a cell of this kind takes (fixed or crossed), in the order columns appear.
    public var parameters: [String] {
        let read = ["format", "page-size", "instructions", "page-numbers", "skip-bad"]
        switch self {
        case .replay: return ["trace", "policy", "frames", "seed"] + read
        case .kernel: return ["trace", "maps", "policy", "seed"] + MachineSpec.settings + read
        case .scenario: return ["scenario"] + MachineSpec.settings
        }
    }

    /// Parameters every cell needs.
    var required: [String] {
        switch self {
        case .replay: return ["trace", "frames"]
        case .kernel: return ["trace"]
        case .scenario: return ["scenario"]
        }
    }

    /// Parameters that name files (relative to the spec's directory; globs on an axis).
    static let pathParameters: Set<String> = ["trace", "maps", "scenario"]

    /// Every metric a cell of this kind records, in column order.
    public var metrics: [String] {
        switch self {
        case .replay:
            return [
                "frames", "accesses", "distinctPages", "hits", "misses", "missRatio", "evictions",
                "dirtyEvictions",
            ]
        case .kernel:
            return [
                "memoryBytes", "accesses", "distinctPages", "outcome", "minorFaults", "majorFaults", "faults",
                "missRatio", "tlbHitRate", "pswpin", "pswpout", "pgscan", "pgsteal", "simulatedNanoseconds",
            ]
        case .scenario:
            return ["expectationsPassed", "expectationsFailed", "refused"]
        }
    }

    /// The metrics the table keeps when the spec does not say.
    public var defaultMetrics: [String] {
        switch self {
        case .replay: return ["frames", "accesses", "misses", "missRatio", "evictions", "dirtyEvictions"]
        case .kernel:
            return ["memoryBytes", "accesses", "outcome", "faults", "majorFaults", "missRatio", "pswpout"]
        case .scenario: return ["expectationsPassed", "expectationsFailed", "refused", "pgfault", "pswpout"]
        }
    }
}

/// A place in a spec file.
public struct SpecLocation: Sendable, Equatable {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

/// Bad sweep input, reported as `file:line:col: message` (line 0: the file as a whole).
public struct SweepError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String
    public init(file: String, line: Int = 0, column: Int = 0, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }
    public var description: String {
        self.line > 0
            ? "\(self.file):\(self.line):\(self.column): \(self.message)" : "\(self.file): \(self.message)"
    }
}

/// One crossed parameter: its name and its values, in order (globs already expanded).
public struct SweepAxis: Sendable, Equatable {
    public var name: String
    public var values: [String]
}

/// A sweep, declared once: the kind of run, its fixed arguments, the axes to cross, filters, and
/// the metrics to keep.
///
/// ```yaml
/// sweep: policies-by-size
/// kind: replay
/// fixed: {format: lackey}
/// axes:
///   trace: [traces/*.lackey]
///   policy: [lru, fifo, clock, arc, opt]
///   frames: {from: 4, to: 80, step: 4}
/// exclude:
///   - {policy: opt, frames: 4}
/// metrics: [misses, missRatio]
/// ```
public struct SweepSpec: Sendable {
    /// The spec's path as given, for messages.
    public var file: String
    /// The directory relative paths in the spec are taken from.
    public var directory: String
    public var name: String
    public var kind: SweepKind
    /// Arguments every cell shares, in spec order.
    public var fixed: [(name: String, value: String)]
    public var axes: [SweepAxis]
    /// A cell is dropped when it matches every pair of one entry (a pair matches any listed value).
    public var exclude: [[(name: String, values: [String])]]
    /// The metric columns the table keeps.
    public var metrics: [String]

    /// Reads and validates the spec at `path`.
    public static func load(path: String) throws(SweepError) -> SweepSpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SweepError(file: path, message: "cannot read the sweep spec")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SweepError(file: path, message: "the sweep spec is not UTF-8 text")
        }
        let directory = (path as NSString).deletingLastPathComponent
        return try Self.parse(text, file: path, directory: directory.isEmpty ? "." : directory)
    }

    /// Parses and validates spec text; relative paths are taken from `directory`.
    public static func parse(_ text: String, file: String, directory: String) throws(SweepError) -> SweepSpec
    {
        guard text.utf8.count <= 1 << 20 else {
            throw SweepError(file: file, message: "the sweep spec is larger than 1 MiB")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw Self.yamlError(error, file: file)
        } catch {
            throw SweepError(file: file, message: "\(error)")
        }
        var parser = SpecParser(file: file, directory: directory)
        return try parser.spec(root)
    }

    static func yamlError(_ error: YamlError, file: String) -> SweepError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = problem
            if let context { message += " (\(context.text) at \(context.mark.line):\(context.mark.column))" }
            return SweepError(file: file, line: mark.line, column: mark.column, message: message)
        case .reader(let problem, _, _, _):
            return SweepError(file: file, message: problem)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return SweepError(
                file: file, line: context.mark.line, column: context.mark.column,
                message: "duplicate key '\(duplicates.first ?? "")'")
        default:
            return SweepError(file: file, message: "\(error)")
        }
    }

    /// The value of parameter `name` for a cell (fixed or crossed), if given.
    public func fixedValue(_ name: String) -> String? { self.fixed.first { $0.name == name }?.value }

    /// The absolute or spec-relative path a path parameter names.
    public func resolve(path: String) -> String {
        path.hasPrefix("/") || self.directory == "." ? path : self.directory + "/" + path
    }
}

/// Walks the YAML tree, checking each node and naming its line and column when it is wrong.
struct SpecParser {
    let file: String
    let directory: String
    /// Cells and values are bounded so a small file cannot ask for unbounded work or memory.
    static let maxValues = 100_000

    func error(_ node: Node?, _ message: String) -> SweepError {
        SweepError(
            file: self.file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, message: message)
    }

    func scalar(_ node: Node, _ what: String) throws(SweepError) -> String {
        guard case .scalar(let s) = node else { throw self.error(node, "\(what): expected a single value") }
        let text = s.string.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, !(s.style == .plain && (text == "~" || text == "null")) else {
            throw self.error(node, "\(what): empty value")
        }
        return text
    }

    func pairs(_ node: Node, _ what: String) throws(SweepError) -> [(key: String, keyNode: Node, value: Node)]
    {
        guard case .mapping(let m) = node else {
            throw self.error(node, "\(what): expected a mapping (key: value)")
        }
        var result: [(key: String, keyNode: Node, value: Node)] = []
        var seen = Set<String>()
        for (k, v) in m {
            let key = try self.scalar(k, what)
            guard seen.insert(key).inserted else { throw self.error(k, "\(what): '\(key)' given twice") }
            result.append((key, k, v))
        }
        return result
    }

    mutating func spec(_ root: Node?) throws(SweepError) -> SweepSpec {
        guard let root else { throw SweepError(file: self.file, message: "the sweep spec is empty") }
        let top = try self.pairs(root, "sweep spec")
        let known = ["sweep", "kind", "fixed", "axes", "exclude", "metrics"]
        for entry in top where !known.contains(entry.key) {
            throw self.error(
                entry.keyNode, "unknown key '\(entry.key)' (expected \(known.joined(separator: ", ")))")
        }
        func entry(_ key: String) -> (key: String, keyNode: Node, value: Node)? {
            top.first { $0.key == key }
        }
        guard let kindEntry = entry("kind") else {
            throw self.error(
                root, "missing 'kind' (\(SweepKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let kindName = try self.scalar(kindEntry.value, "kind")
        guard let kind = SweepKind(rawValue: kindName) else {
            throw self.error(
                kindEntry.value,
                "unknown kind '\(kindName)' (expected \(SweepKind.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        let name =
            try entry("sweep").map { e throws(SweepError) in try self.scalar(e.value, "sweep") } ?? "sweep"
        var fixed: [(name: String, value: String)] = []
        if let f = entry("fixed") {
            for p in try self.pairs(f.value, "fixed") {
                try self.checkParameter(p.key, p.keyNode, kind: kind)
                let raw = try self.scalar(p.value, p.key)
                let values = try self.values(p.key, raw, p.value, kind: kind, axis: false)
                fixed.append((p.key, values[0]))
            }
        }
        var axes: [SweepAxis] = []
        if let a = entry("axes") {
            for p in try self.pairs(a.value, "axes") {
                try self.checkParameter(p.key, p.keyNode, kind: kind)
                if fixed.contains(where: { $0.name == p.key }) {
                    throw self.error(p.keyNode, "'\(p.key)' is both fixed and an axis")
                }
                var values: [String] = []
                switch p.value {
                case .sequence(let seq):
                    for item in seq {
                        values += try self.values(
                            p.key, try self.scalar(item, p.key), item, kind: kind, axis: true)
                        guard values.count <= Self.maxValues else {
                            throw self.error(item, "\(p.key): more than \(Self.maxValues) values")
                        }
                    }
                case .mapping:
                    values = try self.range(p.key, p.value)
                    for v in values { _ = try self.values(p.key, v, p.value, kind: kind, axis: true) }
                default:
                    values = try self.values(
                        p.key, try self.scalar(p.value, p.key), p.value, kind: kind, axis: true)
                }
                guard !values.isEmpty else { throw self.error(p.value, "\(p.key): no values") }
                var seen = Set<String>()
                for v in values where !seen.insert(v).inserted {
                    throw self.error(p.value, "\(p.key): '\(v)' appears twice")
                }
                axes.append(SweepAxis(name: p.key, values: values))
            }
        }
        for r in kind.required
        where !fixed.contains(where: { $0.name == r }) && !axes.contains(where: { $0.name == r }) {
            throw self.error(
                entry("axes")?.keyNode ?? root, "a \(kind.rawValue) sweep needs '\(r)' (fixed or an axis)")
        }
        var exclude: [[(name: String, values: [String])]] = []
        if let e = entry("exclude") {
            guard case .sequence(let seq) = e.value else {
                throw self.error(e.value, "exclude: expected a list of {parameter: value} mappings")
            }
            for item in seq {
                var rule: [(name: String, values: [String])] = []
                for p in try self.pairs(item, "exclude") {
                    guard let axis = axes.first(where: { $0.name == p.key }) else {
                        throw self.error(p.keyNode, "exclude: '\(p.key)' is not an axis")
                    }
                    var values: [String] = []
                    let nodes: [Node]
                    if case .sequence(let s) = p.value { nodes = Array(s) } else { nodes = [p.value] }
                    for n in nodes {
                        let v = try self.scalar(n, p.key)
                        guard axis.values.contains(v) else {
                            throw self.error(n, "exclude: '\(v)' is not a value of axis '\(p.key)'")
                        }
                        values.append(v)
                    }
                    rule.append((p.key, values))
                }
                guard !rule.isEmpty else { throw self.error(item, "exclude: empty rule") }
                exclude.append(rule)
            }
        }
        var metrics = kind.defaultMetrics
        if let m = entry("metrics") {
            guard case .sequence(let seq) = m.value, !seq.isEmpty else {
                throw self.error(m.value, "metrics: expected a non-empty list of metric names")
            }
            metrics = []
            for item in seq {
                let name = try self.scalar(item, "metrics")
                guard kind.metrics.contains(name) || (kind == .scenario && vmstatNames.contains(name)) else {
                    var expected = kind.metrics.joined(separator: ", ")
                    if kind == .scenario { expected += ", or a /proc/vmstat field" }
                    throw self.error(
                        item, "unknown metric '\(name)' for a \(kind.rawValue) sweep (expected \(expected))")
                }
                metrics.append(name)
            }
        }
        return SweepSpec(
            file: self.file, directory: self.directory, name: name, kind: kind, fixed: fixed, axes: axes,
            exclude: exclude, metrics: metrics)
    }

    func checkParameter(_ name: String, _ node: Node, kind: SweepKind) throws(SweepError) {
        guard kind.parameters.contains(name) else {
            throw self.error(
                node,
                "unknown parameter '\(name)' for a \(kind.rawValue) sweep (expected \(kind.parameters.joined(separator: ", ")))"
            )
        }
    }

    /// A range `{from: A, to: B, step: S}` or `{from: A, to: B, factor: F}` of integers, or of
    /// percentages when A and B end in `%`.
    func range(_ name: String, _ node: Node) throws(SweepError) -> [String] {
        let p = try self.pairs(node, name)
        for e in p where !["from", "to", "step", "factor"].contains(e.key) {
            throw self.error(
                e.keyNode, "\(name): unknown range key '\(e.key)' (expected from, to, step or factor)")
        }
        func get(_ k: String) throws(SweepError) -> (String, Node)? {
            guard let e = p.first(where: { $0.key == k }) else { return nil }
            return (try self.scalar(e.value, "\(name).\(k)"), e.value)
        }
        guard let (fromText, fromNode) = try get("from"), let (toText, toNode) = try get("to") else {
            throw self.error(node, "\(name): a range needs from and to")
        }
        let percent = fromText.hasSuffix("%")
        func number(_ text: String, _ n: Node) throws(SweepError) -> Double {
            let body = percent ? (text.hasSuffix("%") ? String(text.dropLast()) : "") : text
            guard let v = Double(body), v.isFinite, percent || v == v.rounded() else {
                throw self.error(
                    n, "\(name): '\(text)' is not \(percent ? "a percentage like 10%" : "an integer")")
            }
            return v
        }
        let from = try number(fromText, fromNode)
        let to = try number(toText, toNode)
        guard to >= from else { throw self.error(toNode, "\(name): 'to' is below 'from'") }
        let step = try get("step")
        let factor = try get("factor")
        if step != nil && factor != nil { throw self.error(node, "\(name): give step or factor, not both") }
        var values: [Double] = []
        if let (t, n) = factor {
            guard let f = Double(t), f > 1, f.isFinite else {
                throw self.error(n, "\(name): factor must be above 1")
            }
            guard from > 0 else { throw self.error(fromNode, "\(name): a geometric range starts above 0") }
            var v = from
            while v <= to * (1 + 1e-9) {
                values.append(percent ? v : v.rounded())
                guard values.count <= Self.maxValues else {
                    throw self.error(node, "\(name): more than \(Self.maxValues) values")
                }
                v *= f
            }
        } else {
            let s = try step.map { (t, n) throws(SweepError) in try number(t, n) } ?? 1
            guard s > 0 else { throw self.error(step?.1 ?? node, "\(name): step must be above 0") }
            guard (to - from) / s < Double(Self.maxValues) else {
                throw self.error(node, "\(name): more than \(Self.maxValues) values")
            }
            var k = 0.0
            while from + k * s <= to * (1 + 1e-12) + 1e-12 {
                values.append(from + k * s)
                k += 1
            }
        }
        var out: [String] = []
        for v in values {
            let text = percent ? percentText(v) + "%" : String(Int(v))
            if out.last != text { out.append(text) }
        }
        return out
    }

    /// Checks one value of parameter `name` and returns it (a glob on an axis may give several).
    func values(_ name: String, _ value: String, _ node: Node, kind: SweepKind, axis: Bool) throws(SweepError)
        -> [String]
    {
        switch name {
        case "trace", "maps", "scenario":
            let full = value.hasPrefix("/") || self.directory == "." ? value : self.directory + "/" + value
            if value.contains(where: { "*?[".contains($0) }) {
                let matches = globPaths(full)
                guard !matches.isEmpty else { throw self.error(node, "\(name): '\(value)' matches no file") }
                guard axis || matches.count == 1 else {
                    throw self.error(
                        node, "\(name): '\(value)' matches \(matches.count) files; make it an axis")
                }
                let prefix = value.hasPrefix("/") || self.directory == "." ? "" : self.directory + "/"
                return matches.map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 }
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory),
                !isDirectory.boolValue
            else {
                throw self.error(node, "\(name): no file '\(value)'")
            }
            if name == "scenario" {
                guard let data = FileManager.default.contents(atPath: full) else {
                    throw self.error(node, "scenario: cannot read '\(value)'")
                }
                do {
                    _ = try ScenarioParser.parse(bytes: Array(data), file: full)
                } catch {
                    throw SweepError(
                        file: self.file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0,
                        message: "scenario: \(error)")
                }
            }
            return [value]
        case "policy":
            guard PolicyKind(rawValue: value.lowercased()) != nil else {
                throw self.error(
                    node,
                    "policy: unknown policy '\(value)' (expected \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            return [value.lowercased()]
        case "frames":
            if value.hasSuffix("%") {
                guard let v = Double(value.dropLast()), v > 0, v <= 100 else {
                    throw self.error(node, "frames: '\(value)' is not N% with 0 < N ≤ 100")
                }
                return [percentText(v) + "%"]
            }
            guard let v = Int(value), v > 0 else {
                throw self.error(node, "frames: '\(value)' is not a positive frame count or N%")
            }
            return [String(v)]
        case "seed":
            guard let v = UInt64(value) else {
                throw self.error(node, "seed: '\(value)' is not an unsigned integer")
            }
            return [String(v)]
        case "format":
            guard TraceFormat(name: value) != nil else {
                throw self.error(
                    node,
                    "format: unknown format '\(value)' (expected \(TraceFormat.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            return [value]
        case "page-size":
            guard let v = Int(value), v >= 16, v & (v - 1) == 0 else {
                throw self.error(node, "page-size: '\(value)' is not a power of two of at least 16")
            }
            return [String(v)]
        case "instructions", "page-numbers", "skip-bad":
            switch value.lowercased() {
            case "true", "yes": return ["true"]
            case "false", "no": return ["false"]
            default: throw self.error(node, "\(name): expected true or false")
            }
        default:
            var config = MachineConfig()
            do {
                try MachineSpec.apply(name, value, to: &config)
            } catch {
                throw self.error(node, "\(name): \(error.message)")
            }
            return [value]
        }
    }
}

/// `v` with at most 4 decimals and no trailing zeros (10, 12.5).
func percentText(_ v: Double) -> String {
    if v == v.rounded() { return String(Int(v)) }
    var s = String(format: "%.4f", v)
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}

/// The files a glob pattern matches, sorted (glob(3)).
func globPaths(_ pattern: String) -> [String] {
    var g = glob_t()
    defer { globfree(&g) }
    guard glob(pattern, 0, nil, &g) == 0 else { return [] }
    var out: [String] = []
    for i in 0..<Int(g.gl_pathc) {
        if let p = g.gl_pathv[i], let s = String(validatingCString: p) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: s, isDirectory: &isDirectory), !isDirectory.boolValue {
                out.append(s)
            }
        }
    }
    return out.sorted()
}

/// The names `/proc/vmstat` prints (scenario metrics).
let vmstatNames: Set<String> = {
    guard let kernel = try? Kernel(config: MachineConfig()) else { return [] }
    var names = Set<String>()
    for line in ProcFS.vmstat(kernel).split(separator: "\n") {
        if let name = line.split(separator: " ").first { names.insert(String(name)) }
    }
    return names
}()
