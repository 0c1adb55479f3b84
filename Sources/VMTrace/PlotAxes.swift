#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The parts every vmsim plot shares — the document's head, the axes with their grid, ticks and
// titles, the legend, the palette, tick arithmetic — so a miss-ratio curve and a timeline's
// panels look alike and the drawing code exists once.

/// Where a plot's data is drawn, in SVG user units.
struct PlotArea {
    /// The left edge.
    var left: Double
    /// The top edge.
    var top: Double
    /// The width.
    var width: Double
    /// The height.
    var height: Double
    /// The right edge.
    var right: Double { self.left + self.width }
    /// The bottom edge.
    var bottom: Double { self.top + self.height }
}

/// One axis of a plot area: its ticks, where a value lands on the page, and its title (nil:
/// none, e.g. the shared x axis of stacked panels, titled once below them).
struct PlotAxis {
    /// Values with a grid line and label.
    var ticks: [Double]
    /// Where a value lands on the page.
    var position: (Double) -> Double
    /// The axis title, or nil.
    var title: String?
}

/// Line colours, in the order series get them (matplotlib's tab10, then darker ones).
let plotPalette = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
]

/// The opening of a standalone SVG: size, white background, title and subtitle at `left`.
func svgHead(width: Double, height: Double, left: Double, title: String, subtitle: String, defs: String = "")
    -> String
{
    var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
    s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
    s += defs
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s +=
        "<text x=\"\(fixed(left, 1))\" y=\"28\" font-size=\"18\" font-weight=\"bold\">\(xmlEscape(title))</text>\n"
    s +=
        "<text x=\"\(fixed(left, 1))\" y=\"48\" font-size=\"12\" fill=\"#555\">\(xmlEscape(subtitle))</text>\n"
    return s
}

/// Both axes of `area`: grid lines at every tick, tick labels, the axis lines and their titles.
/// The y axis is one group opened with `groups.y`'s attributes (e.g. `class="axis" id="y-axis"`),
/// the x axis another, so a reader (or a test) finds each axis's labels in its group.
func renderAxes(_ area: PlotArea, x: PlotAxis, y: PlotAxis, groups: (x: String, y: String)) -> String {
    var s = "<g \(groups.y)>\n"
    for t in y.ticks {
        let py = fixed(y.position(t), 1)
        s += "<line x1=\"\(fixed(area.left, 1))\" y1=\"\(py)\" x2=\"\(fixed(area.right, 1))\" y2=\"\(py)\" "
        s += "stroke=\"#e5e5e5\"/>\n"
        s += "<text x=\"\(fixed(area.left - 8, 1))\" y=\"\(fixed(y.position(t) + 4, 1))\" font-size=\"11\" "
        s += "text-anchor=\"end\">\(tickLabel(t))</text>\n"
    }
    s += "<line x1=\"\(fixed(area.left, 1))\" y1=\"\(fixed(area.top, 1))\" x2=\"\(fixed(area.left, 1))\" "
    s += "y2=\"\(fixed(area.bottom, 1))\" stroke=\"black\"/>\n"
    if let title = y.title {
        let mid = fixed(area.top + area.height / 2, 1)
        s += "<text x=\"20\" y=\"\(mid)\" font-size=\"13\" text-anchor=\"middle\" "
        s += "transform=\"rotate(-90 20 \(mid))\">\(xmlEscape(title))</text>\n"
    }
    s += "</g>\n<g \(groups.x)>\n"
    for t in x.ticks {
        let px = fixed(x.position(t), 1)
        s += "<line x1=\"\(px)\" y1=\"\(fixed(area.top, 1))\" x2=\"\(px)\" y2=\"\(fixed(area.bottom, 1))\" "
        s += "stroke=\"#e5e5e5\"/>\n"
        s += "<text x=\"\(px)\" y=\"\(fixed(area.bottom + 17, 1))\" font-size=\"11\" text-anchor=\"middle\">"
        s += "\(tickLabel(t))</text>\n"
    }
    s += "<line x1=\"\(fixed(area.left, 1))\" y1=\"\(fixed(area.bottom, 1))\" x2=\"\(fixed(area.right, 1))\" "
    s += "y2=\"\(fixed(area.bottom, 1))\" stroke=\"black\"/>\n"
    if let title = x.title {
        s += "<text x=\"\(fixed(area.left + area.width / 2, 1))\" y=\"\(fixed(area.bottom + 40, 1))\" "
        s += "font-size=\"13\" text-anchor=\"middle\">\(xmlEscape(title))</text>\n"
    }
    s += "</g>\n"
    return s
}

/// A series as a polyline through at most 1200 of its points (`clipped`: to the `plot-area`
/// clip path).
func polylineSVG(
    _ points: [(x: Double, y: Double)], color: String, dashed: Bool, width: Double = 2, clipped: Bool = false,
    px: (Double) -> Double, py: (Double) -> Double
) -> String {
    let pts = downsample(points, to: 1200).map { "\(fixed(px($0.x), 1)),\(fixed(py($0.y), 1))" }
    var s = "<polyline\(clipped ? " clip-path=\"url(#plot-area)\"" : "") fill=\"none\" stroke=\"\(color)\" "
    s += "stroke-width=\"\(fixed(width, 1))\""
    if dashed { s += " stroke-dasharray=\"6 4\"" }
    return s + " points=\"\(pts.joined(separator: " "))\"/>\n"
}

/// One legend entry: a short line in the series' colour and style, and its name, at (`x`, `y`).
func legendEntrySVG(_ name: String, color: String, dashed: Bool, x: Double, y: Double) -> String {
    var s =
        "<line x1=\"\(fixed(x, 1))\" y1=\"\(fixed(y, 1))\" x2=\"\(fixed(x + 24, 1))\" y2=\"\(fixed(y, 1))\" "
    s += "stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
    s +=
        "<text x=\"\(fixed(x + 30, 1))\" y=\"\(fixed(y + 4, 1))\" font-size=\"12\">\(xmlEscape(name))</text>\n"
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

/// A tick's label: integers whole (10k, 1.5M for round large ones), fractions with the fewest
/// decimals that say them exactly (at most 4).
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

/// `s` with `&`, `<`, `>` and `"` escaped (attributes are quoted with `"`, so `'` needs none).
public func xmlEscape(_ s: String) -> String {
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
