import VMTrace

/// A heatmap of a metric over two numeric axes as a standalone SVG: one square per (x, y) value
/// pair, colored from dark blue (the smallest value) through green to yellow (the largest),
/// the value written in each square when there are few, and a color scale. Deterministic text.
func renderHeatmapSVG(
    title: String, xLabel: String, yLabel: String, metric: String, cells: [Double: [Double: Double]]
)
    -> String
{
    let xs = cells.keys.sorted()
    let ys = Array(Set(cells.values.flatMap(\.keys))).sorted()
    let values = cells.values.flatMap(\.values)
    let lo = values.min() ?? 0
    let hi = values.max() ?? 1
    let width = 640.0
    let height = 520.0
    let left = 90.0
    let top = 50.0
    let plotW = width - left - 110
    let plotH = height - top - 70
    let cw = plotW / Double(max(xs.count, 1))
    let ch = plotH / Double(max(ys.count, 1))
    var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
    s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
    s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    s +=
        "<text x=\"\(fixed(left, 1))\" y=\"28\" font-size=\"16\" font-weight=\"bold\">\(xmlEscape(title)): \(xmlEscape(metric))</text>\n"
    for (i, x) in xs.enumerated() {
        for (j, y) in ys.enumerated() {
            guard let v = cells[x]?[y] else { continue }
            let t = hi > lo ? (v - lo) / (hi - lo) : 0.5
            let px = left + Double(i) * cw
            let py = top + plotH - Double(j + 1) * ch
            s +=
                "<rect x=\"\(fixed(px, 1))\" y=\"\(fixed(py, 1))\" width=\"\(fixed(cw, 1))\" height=\"\(fixed(ch, 1))\" "
            s +=
                "fill=\"\(rampColor(t))\"><title>\(xmlEscape(label(x))), \(xmlEscape(label(y))): \(fixed(v, 4))</title></rect>\n"
            if xs.count <= 12 && ys.count <= 16 {
                s +=
                    "<text x=\"\(fixed(px + cw / 2, 1))\" y=\"\(fixed(py + ch / 2 + 4, 1))\" font-size=\"10\" "
                s += "text-anchor=\"middle\" fill=\"\(t > 0.6 ? "black" : "white")\">\(fixed(v, 3))</text>\n"
            }
        }
    }
    let xStep = max(1, xs.count / 12)
    for (i, x) in xs.enumerated() where i % xStep == 0 {
        s += "<text x=\"\(fixed(left + (Double(i) + 0.5) * cw, 1))\" y=\"\(fixed(top + plotH + 16, 1))\" "
        s += "font-size=\"10\" text-anchor=\"middle\">\(xmlEscape(label(x)))</text>\n"
    }
    let yStep = max(1, ys.count / 16)
    for (j, y) in ys.enumerated() where j % yStep == 0 {
        s += "<text x=\"\(fixed(left - 6, 1))\" y=\"\(fixed(top + plotH - (Double(j) + 0.5) * ch + 4, 1))\" "
        s += "font-size=\"10\" text-anchor=\"end\">\(xmlEscape(label(y)))</text>\n"
    }
    s += "<text x=\"\(fixed(left + plotW / 2, 1))\" y=\"\(fixed(height - 24, 1))\" font-size=\"13\" "
    s += "text-anchor=\"middle\">\(xmlEscape(xLabel))</text>\n"
    s += "<text x=\"20\" y=\"\(fixed(top + plotH / 2, 1))\" font-size=\"13\" text-anchor=\"middle\" "
    s += "transform=\"rotate(-90 20 \(fixed(top + plotH / 2, 1)))\">\(xmlEscape(yLabel))</text>\n"
    // Color scale.
    let sx = left + plotW + 30
    for k in 0..<20 {
        let t = Double(k) / 19
        s +=
            "<rect x=\"\(fixed(sx, 1))\" y=\"\(fixed(top + plotH - Double(k + 1) * plotH / 20, 1))\" width=\"16\" "
        s += "height=\"\(fixed(plotH / 20 + 0.5, 1))\" fill=\"\(rampColor(t))\"/>\n"
    }
    s +=
        "<text x=\"\(fixed(sx + 22, 1))\" y=\"\(fixed(top + plotH, 1))\" font-size=\"10\">\(fixed(lo, 4))</text>\n"
    s +=
        "<text x=\"\(fixed(sx + 22, 1))\" y=\"\(fixed(top + 10, 1))\" font-size=\"10\">\(fixed(hi, 4))</text>\n"
    s += "</svg>\n"
    return s
}

/// Dark blue → teal → green → yellow (a viridis-like ramp through four stops).
func rampColor(_ t: Double) -> String {
    let stops: [(Double, Double, Double)] = [(68, 1, 84), (49, 104, 142), (53, 183, 121), (253, 231, 37)]
    let x = min(max(t, 0), 1) * Double(stops.count - 1)
    let i = min(Int(x), stops.count - 2)
    let f = x - Double(i)
    func mix(_ a: Double, _ b: Double) -> Int { Int((a + (b - a) * f).rounded()) }
    let (r0, g0, b0) = stops[i]
    let (r1, g1, b1) = stops[i + 1]
    return "rgb(\(mix(r0, r1)),\(mix(g0, g1)),\(mix(b0, b1)))"
}

func label(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : fixed(v, 2) }
