#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One line of a plot.
public struct PlotSeries: Sendable {
    /// The legend's name.
    public var name: String
    /// The points, in x order.
    public var points: [(x: Double, y: Double)]
    /// Drawn dashed (estimates).
    public var dashed = false
    /// Points at smaller x do not set the y range (they are drawn, and cut off at its top if
    /// they lie above it): a miss-ratio curve's degenerate sizes — 0 and 1 frames, or the sizes
    /// where a policy's tiny-cache rule makes it cache nothing — would otherwise squash every
    /// difference people look at onto the x axis.
    public var scaleFrom = 0.0
    /// A series; `scaleFrom` leaves smaller x out of the y range.
    public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false, scaleFrom: Double = 0) {
        self.name = name
        self.points = points
        self.dashed = dashed
        self.scaleFrom = scaleFrom
    }
}

/// Renders miss-ratio curves as a standalone SVG: axes with tick labels (`class="axis"`,
/// `id="x-axis"`/`id="y-axis"`), axis titles, a title, a grid and a legend; curves clipped to
/// the plot area. The y range covers the points each series counts for its scale
/// (`scaleFrom`), starting at 0 unless they all lie in the upper half of it; `logX` draws the x
/// axis on a log scale (1, 2, 5, 10, … ticks; points at x ≤ 0 left out). Deterministic text
/// (fixed decimals), so the same data gives the same bytes.
public func renderPlotSVG(
    title: String, subtitle: String, xLabel: String, yLabel: String, series: [PlotSeries],
    logX: Bool = false
)
    -> String
{
    let width = 860.0
    let height = 540.0
    let left = 80.0
    let right = 200.0
    let top = 64.0
    let bottom = 64.0
    let plotW = width - left - right
    let plotH = height - top - bottom
    let drawn = series.map { line in logX ? line.points.filter { $0.x > 0 } : line.points }
    let allX = drawn.flatMap { $0.map(\.x) }
    var scaled: [Double] = []
    for (k, line) in series.enumerated() {
        scaled += drawn[k].filter { $0.x >= line.scaleFrom }.map(\.y)
    }
    if scaled.isEmpty { scaled = drawn.flatMap { $0.map(\.y) } }
    let yHigh = max(0.01, scaled.max() ?? 1)
    let yLow = scaled.min() ?? 0
    let yTicks = niceTicks(from: yLow > yHigh / 2 ? yLow : 0, to: yHigh)
    let yStart = yTicks.first ?? 0
    let yEnd = yTicks.last ?? yHigh
    let xTicks: [Double]
    let px: (Double) -> Double
    if logX {
        let lo = max(1, allX.min() ?? 1)
        let hi = max(lo * 10, allX.max() ?? 10)
        xTicks = logTicks(from: lo, to: hi)
        let a = log10(xTicks.first ?? 1)
        let b = log10(xTicks.last ?? 10)
        px = { left + (log10($0) - a) / max(b - a, 1e-9) * plotW }
    } else {
        xTicks = niceTicks(from: 0, to: max(1, allX.max() ?? 1))
        let xEnd = xTicks.last ?? 1
        px = { left + $0 / xEnd * plotW }
    }
    func py(_ y: Double) -> Double { top + plotH - (y - yStart) / max(yEnd - yStart, 1e-12) * plotH }
    let area = PlotArea(left: left, top: top, width: plotW, height: plotH)
    var s = svgHead(
        width: width, height: height, left: left, title: title, subtitle: subtitle,
        defs: "<defs><clipPath id=\"plot-area\"><rect x=\"\(fixed(left, 1))\" y=\"\(fixed(top - 4, 1))\" "
            + "width=\"\(fixed(plotW + 4, 1))\" height=\"\(fixed(plotH + 8, 1))\"/></clipPath></defs>\n")
    s += renderAxes(
        area, x: PlotAxis(ticks: xTicks, position: px, title: xLabel + (logX ? " (log scale)" : "")),
        y: PlotAxis(ticks: yTicks, position: py, title: yLabel),
        groups: ("class=\"axis\" id=\"x-axis\"", "class=\"axis\" id=\"y-axis\""))
    let cut = drawn.contains { $0.contains { $0.y > yEnd + 1e-12 || $0.y < yStart - 1e-12 } }
    if cut {
        s += "<text x=\"\(fixed(left + plotW / 2, 1))\" y=\"\(fixed(height - 10, 1))\" font-size=\"11\" "
        s += "fill=\"#555\" text-anchor=\"middle\">the y range leaves out degenerate sizes (0–1 frames, "
        s += "sizes where a policy caches nothing); their points run off the plot</text>\n"
    }
    for (k, line) in series.enumerated() {
        let color = plotPalette[k % plotPalette.count]
        let points = drawn[k]
        s += polylineSVG(points, color: color, dashed: line.dashed, clipped: true, px: px, py: py)
        if points.count <= 64 {
            for p in points {
                s +=
                    "<circle clip-path=\"url(#plot-area)\" cx=\"\(fixed(px(p.x), 1))\" cy=\"\(fixed(py(p.y), 1))\" "
                s += "r=\"2.5\" fill=\"\(color)\"/>\n"
            }
        }
        s += legendEntrySVG(
            line.name, color: color, dashed: line.dashed, x: left + plotW + 20, y: top + 8 + Double(k) * 20)
    }
    s += "</svg>\n"
    return s
}
