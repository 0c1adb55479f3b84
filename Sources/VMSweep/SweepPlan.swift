import Foundation
import VMTrace
import VMTypes

/// One run of a sweep: a value for every axis.
public struct SweepCell: Sendable, Equatable {
    /// Position in the plan (0-based).
    public var index: Int
    /// 16 hex digits of a hash of the sweep's kind, fixed arguments and this cell's values: the
    /// name of its result file, the same on every machine that runs the spec.
    public var id: String
    /// The axes' values, in the plan's axis order.
    public var values: [String]

    public static func == (a: SweepCell, b: SweepCell) -> Bool { a.id == b.id && a.index == b.index }
}

/// Cells that share a trace (or a scenario) and so one parse.
public struct SweepGroup: Sendable {
    /// The cells' indices in the plan, in order.
    public var cells: [Int]
}

/// A spec crossed into cells, in a fixed order: the trace (or scenario) axis outermost, so the
/// cells of one trace are contiguous — a shard of consecutive cells parses few traces — then the
/// other axes in the spec's order, the last varying fastest. Excluded cells are left out.
public struct SweepPlan: Sendable {
    public var spec: SweepSpec
    /// The axes in plan order.
    public var axes: [SweepAxis]
    public var cells: [SweepCell]
    public var groups: [SweepGroup]
    /// Cells are bounded so a small spec cannot ask for unbounded memory.
    public static let maxCells = 1_000_000

    public init(spec: SweepSpec) throws(SweepError) {
        self.spec = spec
        let outer = spec.kind == .scenario ? "scenario" : "trace"
        let axes = spec.axes.filter { $0.name == outer } + spec.axes.filter { $0.name != outer }
        self.axes = axes
        var total = 1
        for a in axes {
            total = total.multipliedReportingOverflow(by: a.values.count).partialValue
            guard total <= Self.maxCells else {
                throw SweepError(
                    file: spec.file, message: "the axes cross into more than \(Self.maxCells) cells")
            }
        }
        let prefix =
            "kind=\(spec.kind.rawValue)\n" + spec.fixed.map { "\($0.name)=\($0.value)\n" }.joined()
        // Exclusion rules by axis position.
        let rules = spec.exclude.map { rule in
            rule.map { pair in (axes.firstIndex { $0.name == pair.name }!, Set(pair.values)) }
        }
        var cells: [SweepCell] = []
        cells.reserveCapacity(total)
        var digits = [Int](repeating: 0, count: axes.count)
        var seen = Set<String>()
        for _ in 0..<total {
            let values = (0..<axes.count).map { axes[$0].values[digits[$0]] }
            let dropped = rules.contains { rule in rule.allSatisfy { $0.1.contains(values[$0.0]) } }
            if !dropped {
                let key = prefix + zip(axes, values).map { "\($0.name)=\($1)\n" }.joined()
                var id = hex16(fnv1a(key))
                // Distinct cells never share a file, even if their hashes collide.
                while !seen.insert(id).inserted { id = hex16(fnv1a(id + key)) }
                cells.append(SweepCell(index: cells.count, id: id, values: values))
            }
            var k = axes.count - 1
            while k >= 0 {
                digits[k] += 1
                if digits[k] < axes[k].values.count { break }
                digits[k] = 0
                k -= 1
            }
        }
        self.cells = cells
        // Group by the parameters that decide the parse.
        let shared: Set<String> =
            spec.kind == .scenario
            ? ["scenario"] : ["trace", "format", "page-size", "instructions", "page-numbers", "skip-bad"]
        let sharedAxes = axes.indices.filter { shared.contains(axes[$0].name) }
        var groups: [SweepGroup] = []
        var byKey: [[String]: Int] = [:]
        for c in cells {
            let key = sharedAxes.map { c.values[$0] }
            if let g = byKey[key] {
                groups[g].cells.append(c.index)
            } else {
                byKey[key] = groups.count
                groups.append(SweepGroup(cells: [c.index]))
            }
        }
        self.groups = groups
    }

    /// Parameter `name` of a cell: its axis value, else the fixed value.
    public func value(_ name: String, _ cell: SweepCell) -> String? {
        if let k = self.axes.firstIndex(where: { $0.name == name }) { return cell.values[k] }
        return self.spec.fixedValue(name)
    }

    /// The cells of shard `index` of `count` (0-based): consecutive cells, the shards' sizes
    /// differing by at most one, so every cell is in exactly one shard.
    public func shard(_ index: Int, of count: Int) -> [SweepCell] {
        let n = self.cells.count
        let lo = n * index / count
        let hi = n * (index + 1) / count
        return Array(self.cells[lo..<hi])
    }

    /// The plan as tab-separated lines `id<TAB>axis=value …`: what `run` stores with the results
    /// and `status` and `collect` read back.
    public var listing: String {
        var s = "# vmsim sweep plan: \(self.spec.kind.rawValue)"
        for f in self.spec.fixed { s += " \(f.name)=\(f.value)" }
        s += "\n"
        for c in self.cells {
            s +=
                c.id + "\t" + zip(self.axes, c.values).map { "\($0.name)=\($1)" }.joined(separator: "\t")
                + "\n"
        }
        return s
    }

    // MARK: - Estimates

    /// Estimated accesses in a trace file, from its size and format (average bytes per access
    /// of each format's lines; gzip is not read).
    public func estimatedAccesses(trace: String) -> Int {
        let path = self.spec.resolve(path: trace)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let format = self.spec.fixedValue("format") ?? (trace as NSString).pathExtension
        let bytesPerAccess: Int
        switch format {
        case "lackey": bytesPerAccess = 16
        case "oracleGeneral": bytesPerAccess = 24
        case "csv": bytesPerAccess = 20
        case "din": bytesPerAccess = 10
        default: bytesPerAccess = 9
        }
        return size / bytesPerAccess
    }

    /// Estimated bytes a group holds while its cells run: the trace in memory (4 bytes per
    /// access and a write bit; OPT's next uses add 4 more) and, for kernel cells, each machine's
    /// page structures.
    public func estimatedFootprint(group: SweepGroup) -> Int {
        guard let first = group.cells.first else { return 0 }
        let cell = self.cells[first]
        switch self.spec.kind {
        case .scenario: return 64 << 20
        case .replay, .kernel:
            let accesses = self.estimatedAccesses(trace: self.value("trace", cell) ?? "")
            let opt = group.cells.contains { self.value("policy", self.cells[$0]) == "opt" }
            return accesses * (opt ? 9 : 5) + (16 << 20)
        }
    }

    /// Estimated bytes one running cell adds to its group's.
    public func estimatedFootprint(cell: SweepCell) -> Int {
        switch self.spec.kind {
        case .replay:
            // A policy's per-page state: about 64 bytes a frame or ghost.
            let frames = Int(self.value("frames", cell) ?? "") ?? 0
            return max(frames, 1 << 16) * 64
        case .kernel, .scenario:
            // mem_map and page tables: about 1/32 of the simulated RAM.
            var memory = UInt64(64 << 20)
            if let m = self.value("memory", cell), let v = try? ByteSize.parse(m) { memory = v }
            return Int(memory / 32) + (8 << 20)
        }
    }

    /// What `vmsim sweep plan` prints: the axes, the cells, and an estimate of the work.
    public func report(listCells: Bool) -> [String] {
        var out: [String] = []
        out.append("sweep \(self.spec.name): \(self.spec.kind.rawValue), from \(self.spec.file)")
        for f in self.spec.fixed { out.append("  fixed \(f.name) = \(f.value)") }
        for a in self.axes {
            let shown =
                a.values.count <= 8
                ? a.values.joined(separator: ", ")
                : a.values.prefix(4).joined(separator: ", ") + ", …, "
                    + a.values.suffix(2).joined(separator: ", ")
            out.append("  axis  \(a.name) (\(a.values.count)): \(shown)")
        }
        var crossed = 1
        for a in self.axes { crossed *= a.values.count }
        var line = "cells: \(self.cells.count)"
        if crossed != self.cells.count { line += " (\(crossed - self.cells.count) excluded)" }
        line += " in \(self.groups.count) group\(self.groups.count == 1 ? "" : "s") sharing a parse"
        out.append(line)
        if self.spec.kind != .scenario {
            var parsed = 0
            var simulated = 0
            var passes = 0
            var peak = 0
            for g in self.groups {
                let first = self.cells[g.cells[0]]
                let a = self.estimatedAccesses(trace: self.value("trace", first) ?? "")
                parsed += a
                let lru = g.cells.filter { self.value("policy", self.cells[$0]) ?? "lru" == "lru" }.count
                let onePass = self.spec.kind == .replay && lru >= 2
                let runs = g.cells.count - (onePass ? lru - 1 : 0)
                passes += runs
                simulated += a * runs
                peak = max(peak, self.estimatedFootprint(group: g))
            }
            out.append(
                "work: about \(formatCount(parsed)) accesses parsed once per trace, \(passes) simulation passes "
                    + "(\(formatCount(simulated)) accesses; LRU's sizes share one stack-distance pass), "
                    + "largest trace in memory about \(fixed(Double(peak) / Double(1 << 20), 1)) MiB")
        }
        if listCells {
            for c in self.cells {
                out.append(
                    c.id + "  " + zip(self.axes, c.values).map { "\($0.name)=\($1)" }.joined(separator: " "))
            }
        }
        return out
    }
}

/// FNV-1a, 64 bits: a stable hash (Swift's `hashValue` is seeded per process).
func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    return h
}

func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
