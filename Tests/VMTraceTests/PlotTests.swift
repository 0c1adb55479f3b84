import Foundation
import Testing

@testable import VMTrace

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// What an SVG holds, as XMLParser sees it.
final class SVGOutline: NSObject, XMLParserDelegate {
    var elements: [String: Int] = [:]
    var ids: Set<String> = []
    var texts: [String] = []
    var yTickLabels: [String] = []
    var xTickLabels: [String] = []
    var stack: [String] = []
    var currentText = ""
    var points: [String] = []

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String]
    ) {
        self.elements[name, default: 0] += 1
        if let id = attributes["id"] {
            self.ids.insert(id)
            self.stack.append(id)
        } else {
            self.stack.append(name)
        }
        if name == "polyline", let p = attributes["points"] { self.points.append(p) }
        self.currentText = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { self.currentText += string }

    func parser(
        _ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?
    ) {
        self.stack.removeLast()
        if name == "text" {
            self.texts.append(self.currentText)
            if self.stack.last == "y-axis" { self.yTickLabels.append(self.currentText) }
            if self.stack.last == "x-axis" { self.xTickLabels.append(self.currentText) }
        }
    }

    static func parse(_ svg: String) throws -> SVGOutline {
        let outline = SVGOutline()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = outline
        #expect(parser.parse(), "the SVG is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")")
        return outline
    }
}

@Suite struct PlotTests {
    /// A curve that starts at 1 (0 frames) and falls to 0.05–0.10: the y range comes from the
    /// sizes people look at, not from the degenerate points.
    @Test func theYRangeIgnoresDegenerateSizes() throws {
        var curve: [(x: Double, y: Double)] = [(0, 1), (1, 0.9)]
        for c in 2...200 { curve.append((Double(c), 0.1 - Double(c) / 4000)) }
        let lru = PlotSeries(name: "LRU (exact)", points: curve, scaleFrom: 2)
        let s3 = PlotSeries(
            name: "S3FIFO", points: [(10, 1), (50, 0.08), (100, 0.07), (200, 0.06)], scaleFrom: 20)
        let svg = renderPlotSVG(
            title: "t", subtitle: "s", xLabel: "memory size (frames)", yLabel: "miss ratio",
            series: [lru, s3])
        let outline = try SVGOutline.parse(svg)
        #expect(outline.ids.isSuperset(of: ["x-axis", "y-axis", "plot-area"]))
        #expect(outline.texts.contains("memory size (frames)") && outline.texts.contains("miss ratio"))
        #expect(outline.texts.contains("LRU (exact)") && outline.texts.contains("S3FIFO"))
        let yTicks = outline.yTickLabels.compactMap(Double.init)
        #expect((yTicks.first ?? 1) <= 0.05)
        #expect((yTicks.last ?? 1) <= 0.1 + 1e-9, "y ticks \(yTicks)")
        #expect(outline.elements["polyline"] == 2)
        #expect(svg.contains("run off the plot"))
    }

    /// Curves that all lie high up start the y axis near them, not at 0.
    @Test func aNarrowHighRangeDoesNotStartAtZero() throws {
        let a = PlotSeries(name: "A", points: [(1, 0.82), (2, 0.8), (3, 0.79)])
        let b = PlotSeries(name: "B", points: [(1, 0.85), (2, 0.81), (3, 0.8)])
        let outline = try SVGOutline.parse(
            renderPlotSVG(title: "t", subtitle: "s", xLabel: "x", yLabel: "y", series: [a, b]))
        let yTicks = outline.yTickLabels.compactMap(Double.init)
        #expect(yTicks.first! > 0.7 && yTicks.first! <= 0.79 && yTicks.last! >= 0.85)
    }

    /// --log-x: ticks 1, 2, 5, 10, …; points at 0 frames left out; the label says so.
    @Test func theXAxisCanBeLogarithmic() throws {
        let curve = PlotSeries(name: "LRU", points: (0...5000).map { (Double($0), 1 / Double($0 + 1)) })
        let svg = renderPlotSVG(
            title: "t", subtitle: "s", xLabel: "memory size (frames)", yLabel: "miss ratio", series: [curve],
            logX: true)
        let outline = try SVGOutline.parse(svg)
        #expect(outline.xTickLabels.prefix(7) == ["1", "2", "5", "10", "20", "50", "100"])
        #expect(outline.xTickLabels.contains("5000"))
        #expect(outline.texts.contains("memory size (frames) (log scale)"))
        let first = outline.points[0].split(separator: " ").first.map(String.init)
        #expect(
            first?.hasPrefix("80.0,") == true, "the curve starts at 1 frame, on the y axis: \(first ?? "")")
    }

    @Test func ticksAreNiceNumbers() {
        #expect(niceTicks(from: 0, to: 0.3) == [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
        #expect(niceTicks(from: 0, to: 100) == [0, 20, 40, 60, 80, 100])
        #expect(logTicks(from: 3, to: 700) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
    }
}
