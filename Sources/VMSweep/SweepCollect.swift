import Foundation
import VMTrace
import VMTypes

/// The sweep as a whole, read back from its directory: the plan's cells in order, each with
/// its result if it has one.
public struct SweepTable: Sendable {
    public var name: String
    public var kind: SweepKind
    public var axes: [String]
    public var metrics: [String]
    public var rows: [(values: [String], result: CellResult?)]

    /// Reads the directory `run` wrote.
    public init(store: SweepStore) throws(SweepError) {
        let info = try store.recordedInfo()
        self.name = info.name
        self.kind = info.kind
        self.metrics = info.metrics
        let cells = try store.recordedPlan()
        self.axes = cells.first?.values.map { String($0.prefix { $0 != "=" }) } ?? []
        self.rows = cells.map { c in
            (c.values.map { v in String(v.drop { $0 != "=" }.dropFirst()) }, store.result(c.id))
        }
    }

    public var finished: Int { self.rows.filter { $0.result != nil && $0.result?.error == nil }.count }
    public var failed: Int { self.rows.filter { $0.result?.error != nil }.count }
    public var pending: Int { self.rows.filter { $0.result == nil }.count }

    /// One CSV: the axes, the cell's status, the kept metrics, and the error of a failed cell.
    /// Rows in plan order; the same bytes whichever machines ran the cells.
    public var csv: String {
        // A metric named like an axis (frames: the axis may say 10%, the metric the count) is
        // suffixed "Used".
        let metricColumns = self.metrics.map { self.axes.contains($0) ? $0 + "Used" : $0 }
        var s =
            (self.axes + ["status"] + metricColumns + ["error"]).map(csvField).joined(separator: ",") + "\n"
        for row in self.rows {
            var fields = row.values
            if let r = row.result {
                fields.append(r.error == nil ? "ok" : "failed")
                fields += self.metrics.map { r.metric($0) ?? "" }
                fields.append(r.error ?? "")
            } else {
                fields.append("pending")
                fields += self.metrics.map { _ in "" }
                fields.append("")
            }
            s += fields.map(csvField).joined(separator: ",") + "\n"
        }
        return s
    }

    /// What `vmsim sweep status` prints.
    public func status(listFailed: Bool) -> [String] {
        var out = [
            "sweep \(self.name) (\(self.kind.rawValue)): \(self.rows.count) cells: \(self.finished) done, \(self.failed) failed, \(self.pending) pending"
        ]
        if listFailed {
            for row in self.rows {
                guard let r = row.result, let e = r.error else { continue }
                out.append(
                    "  failed \(r.id) "
                        + zip(self.axes, row.values).map { "\($0)=\($1)" }.joined(separator: " ") + ": \(e)")
            }
        }
        return out
    }

    // MARK: - Plots

    /// The axis the plots put on x: frames or a memory size, or another numeric axis.
    func numericAxes() -> [Int] {
        let preferred = [
            "frames", "memory", "swap", "min-free-kbytes", "watermark-scale-factor", "cpus", "kernel-image",
        ]
        let numeric = self.axes.indices.filter { k in
            self.axes[k] != "seed" && self.rows.allSatisfy { self.number(axis: k, row: $0) != nil }
        }
        return numeric.sorted {
            (preferred.firstIndex(of: self.axes[$0]) ?? 99, $0) < (
                preferred.firstIndex(of: self.axes[$1]) ?? 99, $1
            )
        }
    }

    /// An axis value as a number on the plot: frames as resolved (shares of the distinct pages
    /// become counts), sizes in MiB.
    func number(axis k: Int, row: (values: [String], result: CellResult?)) -> Double? {
        let name = self.axes[k]
        let v = row.values[k]
        if name == "frames", let f = row.result?.metric("frames"), let d = Double(f) { return d }
        if name == "frames" && v.hasSuffix("%") { return row.result == nil ? 0 : nil }
        if ["memory", "swap", "kernel-image"].contains(name) {
            guard let b = try? ByteSize.parse(v) else { return nil }
            return Double(b) / Double(1 << 20)
        }
        return Double(v)
    }

    func axisLabel(_ k: Int) -> String {
        switch self.axes[k] {
        case "frames": return "frames"
        case "memory", "swap", "kernel-image": return "\(self.axes[k]) (MiB)"
        default: return self.axes[k]
        }
    }

    /// The metric the plots show: the miss ratio where there is one.
    var plotted: String {
        if self.kind != .scenario { return "missRatio" }
        return self.metrics.first { !["expectationsPassed", "expectationsFailed", "refused"].contains($0) }
            ?? "pgfault"
    }

    /// The plots a person would want for the axes present, as (file name, SVG): the metric
    /// against the first numeric axis, one line per value of the other axes, one panel per
    /// trace (or scenario); and a heatmap for the first two numeric axes. Seeds are averaged.
    public func plots() -> [(name: String, svg: String)] {
        let numeric = self.numericAxes()
        guard let x = numeric.first else { return [] }
        let panelAxis = self.axes.firstIndex { $0 == "trace" || $0 == "scenario" }
        let seedAxis = self.axes.firstIndex(of: "seed")
        let metric = self.plotted
        var out: [(name: String, svg: String)] = []
        let panels = panelAxis.map { p in unique(self.rows.map { $0.values[p] }) } ?? [""]
        // Lines: the metric against x, one series per combination of the other axes.
        let seriesAxes = self.axes.indices.filter { $0 != x && $0 != panelAxis && $0 != seedAxis }
        var svgs: [String] = []
        for panel in panels {
            let rows = self.rows.filter { r in panelAxis.map { r.values[$0] == panel } ?? true }
            var series: [PlotSeries] = []
            for combo in unique(rows.map { r in seriesAxes.map { r.values[$0] } }) {
                var points: [Double: [Double]] = [:]
                for r in rows where seriesAxes.map({ r.values[$0] }) == combo {
                    guard let res = r.result, res.error == nil,
                        let y = res.metric(metric).flatMap(Double.init),
                        let xv = self.number(axis: x, row: r)
                    else { continue }
                    points[xv, default: []].append(y)
                }
                guard !points.isEmpty else { continue }
                let name =
                    seriesAxes.count == 1
                    ? combo[0]
                    : zip(seriesAxes, combo).map { "\(self.axes[$0])=\($1)" }.joined(separator: " ")
                series.append(
                    PlotSeries(
                        name: name.isEmpty ? metric : name,
                        points: points.keys.sorted().map {
                            ($0, points[$0]!.reduce(0, +) / Double(points[$0]!.count))
                        }))
            }
            guard !series.isEmpty else { continue }
            svgs.append(
                renderPlotSVG(
                    title: panel.isEmpty ? self.name : (panel as NSString).lastPathComponent,
                    subtitle: "\(self.name): \(metric) by \(self.axisLabel(x))"
                        + (seedAxis != nil ? ", mean over seeds" : ""),
                    xLabel: self.axisLabel(x), yLabel: metric, series: series))
        }
        if !svgs.isEmpty {
            out.append(("\(metric)-by-\(self.axes[x]).svg", gridSVG(svgs, width: 860, height: 540)))
        }
        // Heatmap of the first two numeric axes, per panel and combination of the others.
        if numeric.count >= 2 {
            let y = numeric[1]
            let others = self.axes.indices.filter { $0 != x && $0 != y && $0 != panelAxis && $0 != seedAxis }
            var maps: [String] = []
            for panel in panels {
                let rows = self.rows.filter { r in panelAxis.map { r.values[$0] == panel } ?? true }
                for combo in unique(rows.map { r in others.map { r.values[$0] } }) where maps.count < 16 {
                    var cells: [Double: [Double: [Double]]] = [:]
                    for r in rows where others.map({ r.values[$0] }) == combo {
                        guard let res = r.result, res.error == nil,
                            let v = res.metric(metric).flatMap(Double.init),
                            let xv = self.number(axis: x, row: r), let yv = self.number(axis: y, row: r)
                        else { continue }
                        cells[xv, default: [:]][yv, default: []].append(v)
                    }
                    guard !cells.isEmpty else { continue }
                    let title =
                        ([panel.isEmpty ? "" : (panel as NSString).lastPathComponent]
                        + zip(others, combo).map { "\(self.axes[$0])=\($1)" }).filter { !$0.isEmpty }.joined(
                            separator: " ")
                    maps.append(
                        renderHeatmapSVG(
                            title: title.isEmpty ? self.name : title, xLabel: self.axisLabel(x),
                            yLabel: self.axisLabel(y), metric: metric,
                            cells: cells.mapValues { $0.mapValues { $0.reduce(0, +) / Double($0.count) } }))
                }
            }
            if !maps.isEmpty {
                out.append(
                    (
                        "\(metric)-heatmap-\(self.axes[x])-\(self.axes[y]).svg",
                        gridSVG(maps, width: 640, height: 520)
                    ))
            }
        }
        return out
    }
}

extension SweepStore {
    /// The sweep's name, kind and kept metrics, as the last run recorded them.
    public func recordedInfo() throws(SweepError) -> (name: String, kind: SweepKind, metrics: [String]) {
        let path = self.directory + "/sweep.tsv"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SweepError(
                file: path,
                message: "no sweep here (no sweep.tsv): run `vmsim sweep run SPEC --out DIR` first")
        }
        var fields: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let kind = fields["kind"].flatMap(SweepKind.init(rawValue:)) else {
            throw SweepError(file: path, message: "no kind recorded")
        }
        let metrics = (fields["metrics"] ?? "").split(separator: ",").map(String.init)
        return (fields["name"] ?? "sweep", kind, metrics.isEmpty ? kind.defaultMetrics : metrics)
    }

    /// Records the sweep's name, kind and kept metrics (the last run's win: they change no cell).
    public func recordInfo(_ spec: SweepSpec) throws(SweepError) {
        try self.writeAtomically(
            path: self.directory + "/sweep.tsv",
            text:
                "name\t\(oneLine(spec.name))\nkind\t\(spec.kind.rawValue)\nmetrics\t\(spec.metrics.joined(separator: ","))\n"
        )
    }

    /// Writes the table and plots into the directory; returns the files written.
    public func collect() throws(SweepError) -> [String] {
        let table = try SweepTable(store: self)
        var written: [String] = []
        try self.writeAtomically(path: self.directory + "/results.csv", text: table.csv)
        written.append(self.directory + "/results.csv")
        for (name, svg) in table.plots() {
            try self.writeAtomically(path: self.directory + "/" + name, text: svg)
            written.append(self.directory + "/" + name)
        }
        return written
    }
}

func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

func unique<T: Hashable>(_ xs: [T]) -> [T] {
    var seen = Set<T>()
    return xs.filter { seen.insert($0).inserted }
}

/// Several standalone SVGs side by side, two to a row, in one SVG.
func gridSVG(_ svgs: [String], width: Int, height: Int) -> String {
    guard svgs.count > 1 else { return svgs.first ?? "" }
    let columns = 2
    let rows = (svgs.count + columns - 1) / columns
    var s =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(columns * width)\" height=\"\(rows * height)\">\n"
    for (k, svg) in svgs.enumerated() {
        let x = (k % columns) * width
        let y = (k / columns) * height
        s += svg.replacingOccurrences(
            of: "<svg xmlns=\"http://www.w3.org/2000/svg\" ", with: "<svg x=\"\(x)\" y=\"\(y)\" ")
    }
    return s + "</svg>\n"
}
