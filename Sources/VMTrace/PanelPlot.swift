/// One panel of a multi-panel plot: its own y-axis and lines, sharing the x-axis with the
/// others.
public struct PlotPanel: Sendable {
    /// Above the panel.
    public var title: String
    /// The y axis's title, with units.
    public var yLabel: String
    /// The lines drawn.
    public var series: [PlotSeries]
    /// A panel titled `title`.
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
    var s = svgHead(width: width, height: height, left: left, title: title, subtitle: subtitle)
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
        s += renderAxes(
            PlotArea(left: left, top: y0, width: plotW, height: panelH),
            x: PlotAxis(ticks: xTicks, position: px, title: nil),
            y: PlotAxis(ticks: yTicks, position: py, title: panel.yLabel),
            groups: ("class=\"x-axis\"", "class=\"y-axis\""))
        for (k, line) in panel.series.enumerated() {
            let color = plotPalette[k % plotPalette.count]
            s += polylineSVG(line.points, color: color, dashed: line.dashed, width: 1.8, px: px, py: py)
            s += legendEntrySVG(
                line.name, color: color, dashed: line.dashed, x: left + plotW + 16,
                y: y0 + 12 + Double(k) * 18)
        }
        s += "</g>\n"
    }
    s += "<text x=\"\(fixed(left + plotW / 2, 1))\" y=\"\(fixed(height - 16, 1))\" font-size=\"13\" "
    s += "text-anchor=\"middle\">\(xmlEscape(xLabel))</text>\n"
    s += "</svg>\n"
    return s
}
