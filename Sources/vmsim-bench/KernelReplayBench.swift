import ArgumentParser
import Foundation

extension Bench {
    /// `vmsim replay TRACE --kernel` end to end, as a user runs it (a child process: reading the
    /// trace twice, laying out the areas, the replay through the whole simulated kernel), on a
    /// real program's lackey trace given with `--kernel-trace` (capture one with valgrind as
    /// README shows). Prints the median of three runs: accesses per wall second, the replay
    /// loop's own rate, and the peak resident set, which streaming keeps constant.
    func kernelReplayBench() throws {
        guard let trace = self.kernelTrace else {
            print(
                "kernel-replay: skipped (give --kernel-trace FILE: a real program's lackey trace, "
                    + "e.g. valgrind --tool=lackey --trace-mem=yes --log-file=FILE gzip -c big > /dev/null)")
            return
        }
        var runs: [(wall: Double, loop: Double, accesses: Int, peak: Int)] = []
        for _ in 0..<3 {
            let start = Date()
            let r = runChild(vmsimBinary(), ["replay", trace, "--kernel", "--memory", "1GiB", "--timing"])
            let wall = Date().timeIntervalSince(start)
            guard r.status == 0 || r.status == 256,
                let line = r.err.split(separator: "\n").first(where: { $0.hasPrefix("kernel replay:") })
            else {
                throw ValidationError("vmsim replay --kernel failed: \(r.err.prefix(400))")
            }
            // "kernel replay: N accesses in S s, R M accesses/s"
            let words = line.split(separator: " ")
            let accesses = Int(words[2]) ?? 0
            let loop = Double(words[5]) ?? 0
            runs.append((wall, loop, accesses, r.peak))
        }
        runs.sort { $0.wall < $1.wall }
        let m = runs[1]
        print(
            String(
                format:
                    "kernel replay, end to end (%@)   %6.2f M accesses/s   (%d in %.2f s; loop alone %.2f s; peak %d MB; walls %@ s)",
                (trace as NSString).lastPathComponent, Double(m.accesses) / m.wall / 1e6, m.accesses, m.wall,
                m.loop, m.peak >> 20, runs.map { String(format: "%.2f", $0.wall) }.joined(separator: ", ")))
    }
}
