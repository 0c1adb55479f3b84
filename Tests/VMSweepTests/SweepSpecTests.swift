import Foundation
import Testing

@testable import VMSweep

@Suite struct SweepSpecTests {
    @Test(arguments: [
        // (spec, the error it gets)
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  policy: [lru, nosuch]\n  frames: [4]\n",
            "s.yaml:4:17: policy: unknown policy 'nosuch'"
        ),
        ("kind: replay\nbogus: 1\n", "s.yaml:2:1: unknown key 'bogus'"),
        ("kind: batch\n", "s.yaml:1:7: unknown kind 'batch'"),
        ("axes: {}\n", "s.yaml:1:1: missing 'kind'"),
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: [4, 0]\n",
            "s.yaml:4:15: frames: '0' is not a positive"
        ),
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: [4, 120%]\n",
            "s.yaml:4:15: frames: '120%' is not N%"
        ),
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: {from: 8, to: 4}\n",
            "s.yaml:4:25: frames: 'to' is below 'from'"
        ),
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: {from: 1, to: 9, stride: 2}\n",
            "s.yaml:4:28: frames: unknown range key 'stride'"
        ),
        (
            "kind: replay\naxes:\n  trace: [nosuch/*.txt]\n  frames: [4]\n",
            "s.yaml:3:11: trace: 'nosuch/*.txt' matches no file"
        ),
        (
            "kind: replay\naxes:\n  trace: [missing.txt]\n  frames: [4]\n",
            "s.yaml:3:11: trace: no file 'missing.txt'"
        ),
        (
            "kind: replay\nfixed: {frames: 4}\naxes:\n  trace: [a.txt]\n  frames: [8]\n",
            "s.yaml:5:3: 'frames' is both fixed and an axis"
        ),
        ("kind: replay\naxes:\n  trace: [a.txt]\n", "s.yaml:2:1: a replay sweep needs 'frames'"),
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: [4]\n  memory: [64MiB]\n",
            "s.yaml:5:3: unknown parameter 'memory' for a replay sweep"
        ),
        ("kind: kernel\naxes:\n  trace: [a.txt]\n  memory: [64MiB, lots]\n", "s.yaml:4:19: memory: "),
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: [4, 8]\nexclude:\n  - {policy: lru}\n",
            "s.yaml:6:6: exclude: 'policy' is not an axis"
        ),
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: [4, 8]\nexclude:\n  - {frames: 5}\n",
            "s.yaml:6:14: exclude: '5' is not a value of axis 'frames'"
        ),
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: [4, 4]\n",
            "s.yaml:4:11: frames: '4' appears twice"
        ),
        (
            "kind: replay\nmetrics: [misses, speed]\naxes:\n  trace: [a.txt]\n  frames: [4]\n",
            "s.yaml:2:19: unknown metric 'speed'"
        ),
        ("kind: replay\naxes:\n  trace: [a.txt\n  frames: [4]\n", "s.yaml:4:"),
        ("kind: replay\nkind: kernel\n", "s.yaml:1:1: duplicate key 'kind'"),
        (
            "kind: replay\naxes:\n  trace: [a.txt]\n  frames: [4]\n  seed: [-1]\n",
            "s.yaml:5:10: seed: '-1' is not"
        ),
        (
            "kind: replay\nfixed: {format: punch-cards}\naxes:\n  trace: [a.txt]\n  frames: [4]\n",
            "s.yaml:2:17: format: unknown format 'punch-cards'"
        ),
        ("- just\n- a list\n", "s.yaml:1:1: sweep spec: expected a mapping"),
        ("", "s.yaml: the sweep spec is empty"),
    ])
    func badSpecsAreRefusedWithLineAndColumn(_ spec: String, _ expected: String) {
        let dir = temporaryDirectory("spec")
        writeTrace(dir + "/a.txt", length: 10, pages: 4, seed: 1)
        let error = specError(spec, directory: dir)
        #expect(error?.hasPrefix(expected) == true, "got \(error ?? "no error")")
    }

    @Test func rangesListsAndGlobsExpand() throws {
        let dir = temporaryDirectory("spec")
        for name in ["x1.txt", "x2.txt", "y.txt"] {
            writeTrace(dir + "/" + name, length: 10, pages: 4, seed: 1)
        }
        let spec = try SweepSpec.parse(
            """
            sweep: s
            kind: replay
            axes:
              trace: ["x*.txt", y.txt]
              policy: [LRU, fifo]
              frames: {from: 4, to: 16, step: 4}
              seed: {from: 1, to: 8, factor: 2}
            """, file: "s.yaml", directory: dir)
        #expect(spec.axes.map(\.name) == ["trace", "policy", "frames", "seed"])
        #expect(spec.axes[0].values == ["x1.txt", "x2.txt", "y.txt"])
        #expect(spec.axes[1].values == ["lru", "fifo"])
        #expect(spec.axes[2].values == ["4", "8", "12", "16"])
        #expect(spec.axes[3].values == ["1", "2", "4", "8"])
        #expect(spec.metrics == SweepKind.replay.defaultMetrics)
        let percent = try SweepSpec.parse(
            "kind: replay\naxes:\n  trace: [y.txt]\n  frames: {from: 10%, to: 50%, step: 12.5%}\n",
            file: "s.yaml",
            directory: dir)
        #expect(percent.axes[1].values == ["10%", "22.5%", "35%", "47.5%"])
    }

    @Test func kernelAndScenarioSpecsTakeMachineSettings() throws {
        let dir = temporaryDirectory("spec")
        writeTrace(dir + "/a.txt", length: 10, pages: 4, seed: 1)
        _ = FileManager.default.createFile(atPath: dir + "/s.vmsim", contents: Data("spawn a\n".utf8))
        let kernel = try SweepSpec.parse(
            "kind: kernel\nfixed: {swap: 64MiB}\naxes:\n  trace: [a.txt]\n  memory: [32MiB, 64MiB]\n  kswapd: [modern, periodic]\n",
            file: "s.yaml", directory: dir)
        #expect(kernel.fixed.map(\.name) == ["swap"])
        #expect(kernel.axes.map(\.values) == [["a.txt"], ["32MiB", "64MiB"], ["modern", "periodic"]])
        // A scenario's own errors are found before anything runs, at the spec's line.
        _ = FileManager.default.createFile(
            atPath: dir + "/bad.vmsim", contents: Data("spawn a\nfrobnicate\n".utf8))
        let error = specError("kind: scenario\naxes:\n  scenario: [s.vmsim, bad.vmsim]\n", directory: dir)
        #expect(error?.hasPrefix("s.yaml:3:23: scenario: ") == true, "got \(error ?? "none")")
        #expect(error?.contains("bad.vmsim:2:") == true)
    }
}
