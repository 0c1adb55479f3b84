/// One panel of a multi-panel plot: its own y-axis and lines, sharing the x-axis with the
/// others.
public struct PlotPanel: Sendable {
    public var title: String
    public var yLabel: String
    public var series: [PlotSeries]
    public init(title: String, yLabel: String, series: [PlotSeries]) {
        self.title = title
        self.yLabel = yLabel
        self.series = series
    }
}

/// Renders panels stacked on one shared x-axis (a timeline: memory, fault rates, swap) as a
/// standalone SVG, each with a y-axis with units, grid lines and a legend on the right.
/// Deterministic text, so the same data gives the same bytes.
public func renderPanelsSVG(title: String, subtitle: String, xLabel: String, panels: [PlotPanel]) -> String {
    let width = 900.0
    let left = 80.0
    let right = 210.0
    let top = 84.0
    let panelH = 170.0
    let gap = 42.0
    let bottom = 56.0
    let height = top + Double(panels.count) * panelH + Double(max(panels.count - 1, 0)) * gap + bottom
    let plotW = width - left - right
    let xMax = max(1, panels.flatMap { $0.series.flatMap { $0.points.map(\.x) } }.max() ?? 1)
    let xTicks = niceTicks(from: 0, to: xMax)
    let xEnd = xTicks.last ?? xMax
    func px(_ x: Double) -> Double { left + x / xEnd * plotW }
    let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    var s = ""
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
    s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s +=
        "<text x=\"\(fixed(left, 1))\" y=\"28\" font-size=\"18\" font-weight=\"bold\">\(xmlEscape(title))</text>\n"
    s +=
        "<text x=\"\(fixed(left, 1))\" y=\"48\" font-size=\"12\" fill=\"#555\">\(xmlEscape(subtitle))</text>\n"
    for (p, panel) in panels.enumerated() {
        let y0 = top + Double(p) * (panelH + gap)
        let yTop = niceCeiling(max(1e-9, panel.series.flatMap { $0.points.map(\.y) }.max() ?? 1))
        let yTicks = niceTicks(from: 0, to: yTop)
        let yEnd = max(yTicks.last ?? yTop, 1e-9)
        func py(_ y: Double) -> Double { y0 + panelH - y / yEnd * panelH }
        s += "<g class=\"panel\">\n"
        s +=
            "<text x=\"\(fixed(left, 1))\" y=\"\(fixed(y0 - 8, 1))\" font-size=\"13\" font-weight=\"bold\">"
            + "\(xmlEscape(panel.title))</text>\n"
        for t in yTicks {
            let y = fixed(py(t), 1)
            s +=
                "<line x1=\"\(fixed(left, 1))\" y1=\"\(y)\" x2=\"\(fixed(left + plotW, 1))\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>\n"
            s +=
                "<text x=\"\(fixed(left - 8, 1))\" y=\"\(fixed(py(t) + 4, 1))\" font-size=\"11\" text-anchor=\"end\">"
                + "\(tickLabel(t))</text>\n"
        }
        for t in xTicks {
            let x = fixed(px(t), 1)
            s +=
                "<line x1=\"\(x)\" y1=\"\(fixed(y0, 1))\" x2=\"\(x)\" y2=\"\(fixed(y0 + panelH, 1))\" stroke=\"#f0f0f0\"/>\n"
            s +=
                "<text x=\"\(x)\" y=\"\(fixed(y0 + panelH + 15, 1))\" font-size=\"10\" text-anchor=\"middle\">"
            s += "\(tickLabel(t))</text>\n"
        }
        s += "<line class=\"x-axis\" x1=\"\(fixed(left, 1))\" y1=\"\(fixed(y0 + panelH, 1))\" "
        s += "x2=\"\(fixed(left + plotW, 1))\" y2=\"\(fixed(y0 + panelH, 1))\" stroke=\"black\"/>\n"
        s +=
            "<line class=\"y-axis\" x1=\"\(fixed(left, 1))\" y1=\"\(fixed(y0, 1))\" x2=\"\(fixed(left, 1))\" "
        s += "y2=\"\(fixed(y0 + panelH, 1))\" stroke=\"black\"/>\n"
        let mid = fixed(y0 + panelH / 2, 1)
        s += "<text x=\"22\" y=\"\(mid)\" font-size=\"12\" text-anchor=\"middle\" "
        s += "transform=\"rotate(-90 22 \(mid))\">\(xmlEscape(panel.yLabel))</text>\n"
        for (k, line) in panel.series.enumerated() {
            let color = palette[k % palette.count]
            let pts = downsample(line.points, to: 1200).map { "\(fixed(px($0.x), 1)),\(fixed(py($0.y), 1))" }
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\""
            if line.dashed { s += " stroke-dasharray=\"6 4\"" }
            s += " points=\"\(pts.joined(separator: " "))\"/>\n"
            let ly = y0 + 12 + Double(k) * 18
            s += "<line x1=\"\(fixed(left + plotW + 16, 1))\" y1=\"\(fixed(ly, 1))\" "
            s +=
                "x2=\"\(fixed(left + plotW + 40, 1))\" y2=\"\(fixed(ly, 1))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(fixed(left + plotW + 46, 1))\" y=\"\(fixed(ly + 4, 1))\" font-size=\"11\">"
            s += "\(xmlEscape(line.name))</text>\n"
        }
        s += "</g>\n"
    }
    s += "<text x=\"\(fixed(left + plotW / 2, 1))\" y=\"\(fixed(height - 16, 1))\" font-size=\"13\" "
    s += "text-anchor=\"middle\">\(xmlEscape(xLabel))</text>\n"
    s += "</svg>\n"
    return s
}
