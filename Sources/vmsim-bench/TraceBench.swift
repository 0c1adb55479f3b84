import Foundation
import VMCore
import VMPhys
import VMSim
import VMTrace

/// glibc's `malloc_trim()` (malloc.h is not in the Glibc module): returns freed heap to the system.
@_silgen_name("malloc_trim") func mallocTrim(_ pad: Int) -> Int32

/// The resident-set peak of this process since the last reset (`VmHWM`), in bytes; resets it
/// through `/proc/self/clear_refs` (value 5) after freeing what malloc holds.
enum PeakMemory {
    static func reset() {
        _ = mallocTrim(0)
        if let fd = fopen("/proc/self/clear_refs", "w") {
            fputs("5", fd)
            fclose(fd)
        }
    }

    static func peak() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.filter(\.isNumber)
            return (Int(digits) ?? 0) * 1024
        }
        return 0
    }
}

/// Runs a child process to completion: its standard output and error, and its peak resident
/// set (`ru_maxrss` from `wait4`, in bytes).
func runChild(_ path: String, _ arguments: [String]) -> (out: String, err: String, peak: Int, status: Int32) {
    var outPipe: [Int32] = [0, 0]
    var errPipe: [Int32] = [0, 0]
    _ = pipe(&outPipe)
    _ = pipe(&errPipe)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
    posix_spawn_file_actions_addclose(&actions, outPipe[0])
    posix_spawn_file_actions_addclose(&actions, errPipe[0])
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    posix_spawn_file_actions_destroy(&actions)
    close(outPipe[1])
    close(errPipe[1])
    guard rc == 0 else { return ("", "cannot run \(path)", 0, -1) }
    func drain(_ fd: Int32) -> String {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            data += buf[0..<n]
        }
        close(fd)
        return String(decoding: data, as: UTF8.self)
    }
    let out = drain(outPipe[0])
    let err = drain(errPipe[0])
    var status: Int32 = 0
    var usage = rusage()
    _ = wait4(pid, &status, 0, &usage)
    return (out, err, Int(usage.ru_maxrss) * 1024, status)
}

/// The `vmsim` binary built next to this one.
func vmsimBinary() -> String {
    let me = CommandLine.arguments[0]
    let dir = me.contains("/") ? String(me[..<me.lastIndex(of: "/")!]) : "."
    return dir + "/vmsim"
}

/// The benchmark traces of the trace suite: 10 million page requests (× scale) each, as
/// libCacheSim's performance claims are measured — uniform over 100k pages, Zipf(0.9) over 1M
/// pages, a loop over 50k pages — in libCacheSim's oracleGeneral binary format.
struct BenchTrace {
    var name: String
    var spec: TraceSpec
    var path: String
    var distinct = 0
}

extension Bench {
    func traceSuite() throws {
        let length = self.n(10_000_000)
        let dir = self.traceDir ?? (NSTemporaryDirectory() + "vmsim-bench-traces")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var traces = [
            BenchTrace(
                name: "uniform-100k", spec: TraceSpec(pattern: .uniform, length: length, pages: 100_000),
                path: ""),
            BenchTrace(
                name: "zipf0.9-1M", spec: TraceSpec(pattern: .zipf, length: length, pages: 1_000_000),
                path: ""),
            BenchTrace(
                name: "loop-50k", spec: TraceSpec(pattern: .loop, length: length, pages: 50_000), path: ""),
        ]
        for i in traces.indices {
            traces[i].spec.alpha = 0.9
            traces[i].path = "\(dir)/\(traces[i].name)-\(length).oracleGeneral.bin"
            if (try? FileManager.default.attributesOfItem(atPath: traces[i].path)[.size] as? Int) != length
                * 24
            {
                try generateTrace(traces[i].spec, format: .oracleGeneral, path: traces[i].path)
            }
            let dense = try DenseTrace(reader: openTrace(traces[i].path, options: TraceOptions()))
            traces[i].distinct = dense.distinct
        }
        print(
            "trace: \(length) requests per trace, oracleGeneral input from \(dir); rate = requests/s end to end"
        )
        print(
            "       (read, map ids, simulate), best of \(self.traceRepeats); peak = resident-set peak of the run"
        )
        // Reading and mapping alone: the floor under every policy.
        for t in traces {
            PeakMemory.reset()
            let m = measure("read+map \(t.name)", unit: "req", repeats: self.traceRepeats) {
                let reader = try! openTrace(t.path, options: TraceOptions())
                let mapper = IDMapper()
                let batch = AccessBatch()
                var n = 0
                var sum: UInt32 = 0
                while try! reader.read(into: batch) {
                    for i in 0..<batch.count { sum &+= mapper.map(batch.keys[i]) }
                    n += batch.count
                }
                if sum == 1 { print("") }
                return n
            }
            print(m.line + "   peak \(PeakMemory.peak() >> 20) MiB")
        }
        let policies: [PolicyKind] =
            self.tracePolicies.isEmpty
            ? [
                .lru, .fifo, .clock, .sieve, .arc, .lirs, .twoq, .s3fifo, .opt, .lfu, .clock2, .clockpro,
                .mru, .random, .linux, .mglru,
            ]
            : self.tracePolicies.compactMap { PolicyKind(rawValue: $0) }
        // Each cell runs as `vmsim replay` in a fresh process — what a user runs — which reports
        // its own rate (--timing) and whose peak memory wait4 gives.
        let vmsim = vmsimBinary()
        guard access(vmsim, X_OK) == 0 else {
            print("trace: \(vmsim) not found; build it (swift build -c release) first")
            return
        }
        var rows:
            [(policy: PolicyKind, trace: String, share: String, rate: Double, peak: Int, missRatio: Double)] =
                []
        for p in policies {
            for t in traces {
                if p == .clockpro && t.name.hasPrefix("loop") {
                    // CLOCK-Pro's cold target collapses on a loop, leaving one or two cold pages in
                    // a clock of 2c entries: HAND_cold walks most of the clock per miss, as in
                    // go-clockpro (docs/TRACES.md). Minutes per cell: left out.
                    print("clockpro \(t.name): skipped (HAND_cold walks O(c) entries per miss on a loop)")
                    continue
                }
                for share in [0.01, 0.1, 0.5] {
                    let frames = max(1, Int(Double(t.distinct) * share))
                    var best = 0.0
                    var peak = 0
                    var ratio = 0.0
                    for _ in 0..<self.traceRepeats {
                        let r = runChild(
                            vmsim,
                            [
                                "replay", t.path, "--format", "oracleGeneral", "--frames", "\(frames)",
                                "--policy",
                                p.rawValue, "--json", "--timing",
                            ])
                        guard r.status == 0, let rate = Self.rate(in: r.err) else {
                            print("\(p.rawValue) \(t.name): vmsim failed: \(r.err)")
                            continue
                        }
                        best = max(best, rate)
                        peak = max(peak, r.peak)
                        if let range = r.out.range(of: "\"missRatio\": ") {
                            ratio = Double(r.out[range.upperBound...].prefix { $0 != "," }) ?? 0
                        }
                    }
                    rows.append((p, t.name, "\(Int(share * 100))%", best, peak, ratio))
                    let label = "\(p.rawValue) \(t.name) \(Int(share * 100))%".padding(
                        toLength: 44, withPad: " ", startingAt: 0)
                    print(
                        label + String(format: "%10.2f M req/s", best / 1e6)
                            + "   miss \(fixed(ratio, 4))   peak \(peak >> 20) MiB")
                }
            }
        }
        // Summary: the slowest cell per policy, against the targets.
        print("")
        print("policy     slowest (M req/s)   fastest   peak MiB")
        for p in policies {
            let cells = rows.filter { $0.policy == p }
            guard let slow = cells.min(by: { $0.rate < $1.rate }),
                let fast = cells.max(by: { $0.rate < $1.rate })
            else { continue }
            let peak = cells.map(\.peak).max() ?? 0
            print(
                p.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                    + String(
                        format: " %8.1f (%@ %@)   %7.1f   %6d", slow.rate / 1e6, slow.trace, slow.share,
                        fast.rate / 1e6, peak >> 20))
        }
        try self.parseSuite(dir: dir, length: length)
        self.mrcSuite(traces)
    }

    /// The rate in `vmsim replay --timing`'s line ("… accesses in S s, R M accesses/s").
    static func rate(in text: String) -> Double? {
        guard let r = text.range(of: " M accesses/s") else { return nil }
        let before = text[..<r.lowerBound]
        guard let space = before.lastIndex(of: " ") else { return nil }
        return Double(before[before.index(after: space)...]).map { $0 * 1e6 }
    }

    /// Text and lackey parsing: lines per second through the reader (no policy).
    func parseSuite(dir: String, length: Int) throws {
        var spec = TraceSpec(pattern: .zipf, length: length, pages: 1_000_000)
        spec.writeRatio = 0.3
        for format in [TraceFormat.lackey, .text, .txt, .din] {
            let path = "\(dir)/parse-\(length).\(format.rawValue)"
            if !FileManager.default.fileExists(atPath: path) {
                try generateTrace(spec, format: format, path: path)
            }
            var options = TraceOptions()
            options.format = format
            let m = measure(
                "parse \(format.rawValue) (zipf, 30% writes)", unit: "lines", repeats: self.traceRepeats
            ) {
                let reader = try! openTrace(path, options: options)
                let batch = AccessBatch()
                var sum: UInt64 = 0
                while try! reader.read(into: batch) {
                    for i in 0..<batch.count { sum &+= batch.keys[i] }
                }
                if sum == 1 { print("") }
                return reader.stats.lines
            }
            print(m.line)
        }
    }

    /// The exact LRU miss-ratio curve (stack distances), accesses per second over a dense trace.
    func mrcSuite(_ traces: [BenchTrace]) {
        for t in traces {
            let dense = try! DenseTrace(reader: openTrace(t.path, options: TraceOptions()))
            PeakMemory.reset()
            let m = measure("exact LRU MRC \(t.name)", unit: "req", repeats: self.traceRepeats) {
                let d = lruStackDistances(dense)
                return d.accesses
            }
            print(m.line + "   peak \(PeakMemory.peak() >> 20) MiB (the trace in memory included)")
            let exact = lruStackDistances(dense).missCurve()
            let est = VMTrace.shards(dense, rate: 0.01)
            var sum = 0.0
            var plain = 0.0
            for c in 1...dense.distinct {
                sum += abs(est.missRatio(frames: c) - Double(exact[c]) / Double(dense.count))
                plain += abs(
                    est.missRatio(frames: c, adjusted: false) - Double(exact[c]) / Double(dense.count))
            }
            let s = measure("SHARDS 1% \(t.name)", unit: "req", repeats: self.traceRepeats) {
                _ = VMTrace.shards(dense, rate: 0.01)
                return dense.count
            }
            print(
                s.line + "   mean abs error \(fixed(sum / Double(dense.distinct), 4)) "
                    + "(\(fixed(plain / Double(dense.distinct), 4)) unadjusted)")
        }
    }
}
