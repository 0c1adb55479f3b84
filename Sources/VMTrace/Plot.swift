#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One line of a plot.
public struct PlotSeries: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    /// Drawn dashed (estimates).
    public var dashed = false
    /// Points at smaller x do not set the y range (they are drawn, and cut off at its top if
    /// they lie above it): a miss-ratio curve's degenerate sizes — 0 and 1 frames, or the sizes
    /// where a policy's tiny-cache rule makes it cache nothing — would otherwise squash every
    /// difference people look at onto the x axis.
    public var scaleFrom = 0.0
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
    let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
        "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    ]
    var s = ""
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
    s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
    s += "<defs><clipPath id=\"plot-area\"><rect x=\"\(fixed(left, 1))\" y=\"\(fixed(top - 4, 1))\" "
    s += "width=\"\(fixed(plotW + 4, 1))\" height=\"\(fixed(plotH + 8, 1))\"/></clipPath></defs>\n"
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s +=
        "<text x=\"\(fixed(left, 1))\" y=\"28\" font-size=\"18\" font-weight=\"bold\">\(xmlEscape(title))</text>\n"
    s +=
        "<text x=\"\(fixed(left, 1))\" y=\"48\" font-size=\"12\" fill=\"#555\">\(xmlEscape(subtitle))</text>\n"
    // Grid and ticks.
    s += "<g class=\"axis\" id=\"y-axis\">\n"
    for t in yTicks {
        let y = fixed(py(t), 1)
        s +=
            "<line x1=\"\(fixed(left, 1))\" y1=\"\(y)\" x2=\"\(fixed(left + plotW, 1))\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>\n"
        s +=
            "<text x=\"\(fixed(left - 8, 1))\" y=\"\(fixed(py(t) + 4, 1))\" font-size=\"11\" text-anchor=\"end\">"
        s += "\(tickLabel(t))</text>\n"
    }
    s += "<line x1=\"\(fixed(left, 1))\" y1=\"\(fixed(top, 1))\" x2=\"\(fixed(left, 1))\" "
    s += "y2=\"\(fixed(top + plotH, 1))\" stroke=\"black\"/>\n"
    s += "<text x=\"20\" y=\"\(fixed(top + plotH / 2, 1))\" font-size=\"13\" text-anchor=\"middle\" "
    s += "transform=\"rotate(-90 20 \(fixed(top + plotH / 2, 1)))\">\(xmlEscape(yLabel))</text>\n"
    s += "</g>\n<g class=\"axis\" id=\"x-axis\">\n"
    for t in xTicks {
        let x = fixed(px(t), 1)
        s +=
            "<line x1=\"\(x)\" y1=\"\(fixed(top, 1))\" x2=\"\(x)\" y2=\"\(fixed(top + plotH, 1))\" stroke=\"#e5e5e5\"/>\n"
        s += "<text x=\"\(x)\" y=\"\(fixed(top + plotH + 18, 1))\" font-size=\"11\" text-anchor=\"middle\">"
        s += "\(tickLabel(t))</text>\n"
    }
    s += "<line x1=\"\(fixed(left, 1))\" y1=\"\(fixed(top + plotH, 1))\" x2=\"\(fixed(left + plotW, 1))\" "
    s += "y2=\"\(fixed(top + plotH, 1))\" stroke=\"black\"/>\n"
    s += "<text x=\"\(fixed(left + plotW / 2, 1))\" y=\"\(fixed(height - 30, 1))\" font-size=\"13\" "
    s += "text-anchor=\"middle\">\(xmlEscape(xLabel + (logX ? " (log scale)" : "")))</text>\n"
    s += "</g>\n"
    let cut = drawn.contains { $0.contains { $0.y > yEnd + 1e-12 || $0.y < yStart - 1e-12 } }
    if cut {
        s += "<text x=\"\(fixed(left + plotW / 2, 1))\" y=\"\(fixed(height - 10, 1))\" font-size=\"11\" "
        s += "fill=\"#555\" text-anchor=\"middle\">the y range leaves out degenerate sizes (0–1 frames, "
        s += "sizes where a policy caches nothing); their points run off the plot</text>\n"
    }
    // Lines.
    for (k, line) in series.enumerated() {
        let color = palette[k % palette.count]
        let points = drawn[k]
        let pts = downsample(points, to: 1200).map { "\(fixed(px($0.x), 1)),\(fixed(py($0.y), 1))" }
        s += "<polyline clip-path=\"url(#plot-area)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\""
        if line.dashed { s += " stroke-dasharray=\"6 4\"" }
        s += " points=\"\(pts.joined(separator: " "))\"/>\n"
        if points.count <= 64 {
            for p in points {
                s +=
                    "<circle clip-path=\"url(#plot-area)\" cx=\"\(fixed(px(p.x), 1))\" cy=\"\(fixed(py(p.y), 1))\" "
                s += "r=\"2.5\" fill=\"\(color)\"/>\n"
            }
        }
        // Legend.
        let ly = top + 8 + Double(k) * 20
        let lx = left + plotW + 20
        s +=
            "<line x1=\"\(fixed(lx, 1))\" y1=\"\(fixed(ly, 1))\" x2=\"\(fixed(lx + 24, 1))\" y2=\"\(fixed(ly, 1))\" "
        s += "stroke=\"\(color)\" stroke-width=\"2\"\(line.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
        s +=
            "<text x=\"\(fixed(lx + 30, 1))\" y=\"\(fixed(ly + 4, 1))\" font-size=\"12\">\(xmlEscape(line.name))</text>\n"
    }
    s += "</svg>\n"
    return s
}

/// At most `n` points, keeping the first and last and every point where the curve turns.
func downsample(_ points: [(x: Double, y: Double)], to n: Int) -> [(x: Double, y: Double)] {
    guard points.count > n else { return points }
    var out: [(x: Double, y: Double)] = []
    let step = Double(points.count - 1) / Double(n - 1)
    for k in 0..<n { out.append(points[Int((Double(k) * step).rounded())]) }
    return out
}

/// The smallest 1, 2, 2.5 or 5 × 10^k at or above `v`.
func niceCeiling(_ v: Double) -> Double {
    var base = 1.0
    while base * 10 <= v { base *= 10 }
    while base > v { base /= 10 }
    for m in [1.0, 2, 2.5, 5, 10] where m * base >= v { return m * base }
    return 10 * base
}

/// 4–10 evenly spaced ticks at multiples of a nice step, from at or below `lo` to at or above
/// `hi`.
func niceTicks(from lo: Double, to hi: Double) -> [Double] {
    let span = hi - lo
    guard span > 0 else { return [lo, lo + 1] }
    var step = niceCeiling(span / 8)
    if span / step < 4 { step /= 2 }
    var t = (lo / step + 1e-9).rounded(.down) * step
    var ticks: [Double] = []
    while t < hi - step * 1e-9 {
        ticks.append(t)
        t += step
    }
    ticks.append(t)
    // Ticks computed by adding steps drift (0.30000000000000004): round them to the step's digits.
    let digits = max(0, -Int(log10(step).rounded(.down)) + 2)
    return ticks.map { (($0 * pow(10, Double(digits))).rounded()) / pow(10, Double(digits)) }
}

/// Log-scale ticks 1, 2, 5 × 10^k from the power of ten at or below `lo` to the tick at or
/// above `hi`.
func logTicks(from lo: Double, to hi: Double) -> [Double] {
    var ticks: [Double] = []
    var decade = pow(10, log10(max(lo, 1)).rounded(.down))
    while true {
        for m in [1.0, 2, 5] {
            let t = m * decade
            ticks.append(t)
            if t >= hi { return ticks }
        }
        decade *= 10
    }
}

func tickLabel(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e15 {
        let n = Int(v)
        if n >= 1_000_000 && n % 100_000 == 0 {
            return fixed(Double(n) / 1e6, n % 1_000_000 == 0 ? 0 : 1) + "M"
        }
        if n >= 10_000 && n % 1000 == 0 { return "\(n / 1000)k" }
        return "\(n)"
    }
    for d in 1...4 {
        let s = fixed(v, d)
        if abs((Double(s) ?? v) - v) < 1e-9 { return s }
    }
    return fixed(v, 4)
}

func xmlEscape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(c)
        }
    }
    return out
}
