import Foundation
import Testing

/// Golden files: expected output committed under Tests/VMSimTests/Golden. Set
/// `VMSIM_RECORD_GOLDEN=1` to rewrite them from the current output, then review the diff.
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Golden")
    static var recording: Bool { ProcessInfo.processInfo.environment["VMSIM_RECORD_GOLDEN"] == "1" }

    /// Compares `actual` with the golden file `name`, or records it.
    static func check(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let url = self.directory.appendingPathComponent(name)
        if self.recording {
            try? FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record(
                "missing golden file \(name); run with VMSIM_RECORD_GOLDEN=1", sourceLocation: sourceLocation)
            return
        }
        if expected != actual {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let line =
                zip(e, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(e.count, a.count)
            let want = line < e.count ? String(e[line]) : "<end>"
            let got = line < a.count ? String(a[line]) : "<end>"
            Issue.record(
                "\(name) differs at line \(line + 1): expected '\(want)', got '\(got)'",
                sourceLocation: sourceLocation)
        }
    }
}
