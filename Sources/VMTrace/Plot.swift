/// One line of a plot.
public struct PlotSeries: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    /// Drawn dashed (estimates).
    public var dashed = false
    public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
        self.name = name
        self.points = points
        self.dashed = dashed
    }
}

/// Renders miss-ratio curves as a standalone SVG: axes with tick labels, axis titles, a title,
/// a grid and a legend. Deterministic text (fixed decimals), so the same data gives the same
/// bytes.
public func renderPlotSVG(
    title: String, subtitle: String, xLabel: String, yLabel: String, series: [PlotSeries]
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
    let xMax = max(1, series.flatMap { $0.points.map(\.x) }.max() ?? 1)
    let yTop = niceCeiling(max(0.01, series.flatMap { $0.points.map(\.y) }.max() ?? 1))
    let xTicks = niceTicks(max: xMax)
    let xEnd = xTicks.last ?? xMax
    let yTicks = niceTicks(max: yTop)
    let yEnd = yTicks.last ?? yTop
    func px(_ x: Double) -> Double { left + x / xEnd * plotW }
    func py(_ y: Double) -> Double { top + plotH - y / yEnd * plotH }
    let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
        "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    ]
    var s = ""
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
    s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s +=
        "<text x=\"\(fixed(left, 1))\" y=\"28\" font-size=\"18\" font-weight=\"bold\">\(xmlEscape(title))</text>\n"
    s +=
        "<text x=\"\(fixed(left, 1))\" y=\"48\" font-size=\"12\" fill=\"#555\">\(xmlEscape(subtitle))</text>\n"
    // Grid and ticks.
    for t in yTicks {
        let y = fixed(py(t), 1)
        s +=
            "<line x1=\"\(fixed(left, 1))\" y1=\"\(y)\" x2=\"\(fixed(left + plotW, 1))\" y2=\"\(y)\" stroke=\"#e5e5e5\"/>\n"
        s +=
            "<text x=\"\(fixed(left - 8, 1))\" y=\"\(fixed(py(t) + 4, 1))\" font-size=\"11\" text-anchor=\"end\">"
        s += "\(tickLabel(t))</text>\n"
    }
    for t in xTicks {
        let x = fixed(px(t), 1)
        s +=
            "<line x1=\"\(x)\" y1=\"\(fixed(top, 1))\" x2=\"\(x)\" y2=\"\(fixed(top + plotH, 1))\" stroke=\"#e5e5e5\"/>\n"
        s += "<text x=\"\(x)\" y=\"\(fixed(top + plotH + 18, 1))\" font-size=\"11\" text-anchor=\"middle\">"
        s += "\(tickLabel(t))</text>\n"
    }
    // Axes.
    s += "<line x1=\"\(fixed(left, 1))\" y1=\"\(fixed(top + plotH, 1))\" x2=\"\(fixed(left + plotW, 1))\" "
    s += "y2=\"\(fixed(top + plotH, 1))\" stroke=\"black\"/>\n"
    s += "<line x1=\"\(fixed(left, 1))\" y1=\"\(fixed(top, 1))\" x2=\"\(fixed(left, 1))\" "
    s += "y2=\"\(fixed(top + plotH, 1))\" stroke=\"black\"/>\n"
    s += "<text x=\"\(fixed(left + plotW / 2, 1))\" y=\"\(fixed(height - 18, 1))\" font-size=\"13\" "
    s += "text-anchor=\"middle\">\(xmlEscape(xLabel))</text>\n"
    s += "<text x=\"20\" y=\"\(fixed(top + plotH / 2, 1))\" font-size=\"13\" text-anchor=\"middle\" "
    s += "transform=\"rotate(-90 20 \(fixed(top + plotH / 2, 1)))\">\(xmlEscape(yLabel))</text>\n"
    // Lines.
    for (k, line) in series.enumerated() {
        let color = palette[k % palette.count]
        let pts = downsample(line.points, to: 1200).map { "\(fixed(px($0.x), 1)),\(fixed(py($0.y), 1))" }
        s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\""
        if line.dashed { s += " stroke-dasharray=\"6 4\"" }
        s += " points=\"\(pts.joined(separator: " "))\"/>\n"
        if line.points.count <= 64 {
            for p in line.points {
                s +=
                    "<circle cx=\"\(fixed(px(p.x), 1))\" cy=\"\(fixed(py(p.y), 1))\" r=\"2.5\" fill=\"\(color)\"/>\n"
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

/// 4–10 evenly spaced ticks from 0 covering `max`.
func niceTicks(max: Double) -> [Double] {
    guard max > 0 else { return [0, 1] }
    var step = niceCeiling(max / 8)
    if max / step < 4 { step /= 2 }
    var ticks: [Double] = []
    var t = 0.0
    while t < max - step * 1e-9 {
        ticks.append(t)
        t += step
    }
    ticks.append(t)
    return ticks
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
