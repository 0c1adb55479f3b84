import ArgumentParser
import Foundation
import VMCore
import VMPhys
import VMSim
import VMTrace
import VMTypes

extension Replay {
    /// `replay --kernel`: boots the machine, runs the trace as a process and prints the report
    /// (text, or `KernelReplayReport` as JSON); exits 1 when the process was killed.
    func runKernel() throws {
        let policy = try parsePolicy(self.policy ?? "linux")
        var options = PolicyOptions()
        options.seed = self.seed
        var config = try self.machine.apply(to: MachineConfig())
        if self.machine.memory == nil && config.zoneSizes == nil { config.memory = 64 << 20 }
        let kernel = try bootKernel(config)
        let reports = try parseReportList(self.show)
        var maps: [MapsEntry]?
        if let path = self.maps {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CLIError(message: "\(path): cannot read the maps file")
            }
            maps = try traceErrors { try MapsEntry.parse(text, file: path) }
        }
        // A regular file is read twice, streamed (constant memory); anything else once, into memory.
        let progress = Progress(label: "reading")
        let input = try traceErrors {
            isRegularFile(self.trace)
                ? KernelReplayTrace(
                    survey: try TraceSurvey.read(
                        path: self.trace, options: try self.read.options(), progress: progress)
                ) { try self.read.open(self.trace) }
                : KernelReplayTrace(
                    try DenseTrace(reader: try self.read.open(self.trace), progress: progress))
        }
        progress.finish()
        let dense = input.survey
        let firstTouchWrites = self.firstTouch == "write"
        if dense.count > 0 && dense.writes == 0 && !firstTouchWrites {
            writeStderr(
                "vmsim: warning: \(self.trace) has no writes: every page it touches maps the shared zero page "
                    + "(no RSS, nothing to reclaim or swap); --first-touch write replays each page's first "
                    + "access as a store\n")
        }
        let timeline = self.timeline.map { _ in Timeline(interval: UInt64(self.interval)) }
        let replayProgress = Progress(label: "kernel replay")
        let start = monotonicSeconds()
        let result = try traceErrors {
            try KernelReplay.run(
                kernel: kernel, trace: input, traceShift: self.read.pageSize.trailingZeroBitCount, maps: maps,
                policy: policy, options: options, firstTouchWrites: firstTouchWrites,
                progress: replayProgress,
                timeline: timeline, cgroup: try self.cgroupLimits())
        }
        replayProgress.finish()
        let seconds = monotonicSeconds() - start
        if self.timing {
            writeStderr(
                "kernel replay: \(result.performed) accesses in \(fixed(seconds, 3)) s, "
                    + "\(fixed(Double(result.performed) / max(seconds, 1e-9) / 1e6, 2)) M accesses/s\n")
        }
        if let timeline {
            try self.writeTimeline(csv: timeline.csv) {
                timeline.svg(title: "\((self.trace as NSString).lastPathComponent): kernel replay over time")
            }
        }
        let report = KernelReplayReport(
            trace: self.trace, format: dense.format, policy: policy, memoryBytes: config.memory ?? 0,
            distinctPages: dense.distinct, result: result)
        let task = kernel.tasks[result.pid]
        if self.json {
            print(report.json())
            return
        }
        var out: [String] = []
        out.append(
            "kernel replay of \(self.trace) (\(dense.format.rawValue)): \(result.accesses) accesses to "
                + "\(dense.distinct) distinct pages, as pid \(result.pid) on \(ByteSize.format(config.memory ?? 0)) of RAM"
        )
        if result.relocation != 0 {
            out.append(
                "addresses  moved up by \(hex(result.relocation)) (the trace's pages start below mmap_min_addr)"
            )
        }
        out.append(
            "areas      \(result.areas.count) VMA\(result.areas.count == 1 ? "" : "s") "
                + (maps == nil ? "from the touched regions" : "from \(self.maps!)"))
        for a in result.areas.prefix(12) {
            out.append(
                "             \(hex(a.start))-\(hex(a.end)) \(ByteSize.human(a.end - a.start))\(a.name.isEmpty ? "" : " " + a.name)"
            )
        }
        if result.areas.count > 12 { out.append("             … \(result.areas.count - 12) more") }
        if result.policy != nil {
            out.append(
                "policy     \(policy.rawValue) chooses the anonymous pages reclaim takes (sized for "
                    + "\(result.policyFrames) frames; named \(result.policyVictims) victims, "
                    + "\(result.policyVictimsSkipped) not reclaimable)")
        } else {
            out.append("policy     linux (the kernel's active/inactive LRU lists)")
        }
        out.append(
            "stores     \(result.stores) of the accesses"
                + (firstTouchWrites ? " (\(result.firstTouchStores) first touches made stores)" : ""))
        out.append("outcome    \(report.outcome)")
        out.append(
            "faults     \(report.faults) (\(result.minorFaults) minor, \(result.majorFaults) major)"
        )
        out.append(
            "TLB        \(result.tlb.lookups) lookups, hit rate \(fixed(report.tlbHitRate * 100, 2))% "
                + "(L1 \(result.tlb.l1Hits), L2 \(result.tlb.l2Hits), misses \(result.tlb.misses))")
        out.append(
            "reclaim    \(result.pgscan) pages scanned, \(result.pgsteal) reclaimed; swap \(result.pswpin) in, \(result.pswpout) out"
        )
        out.append("time       \(ProcFS.duration(result.simulatedNanoseconds)) simulated")
        if let g = result.cgroup {
            let limit = { (v: UInt64?) in v.map { ByteSize.format($0) } ?? "max" }
            out.append(
                "cgroup     \(g.path): memory.max \(limit(g.max)), memory.high \(limit(g.high)); memory.current "
                    + "\(ByteSize.format(g.current)), memory.peak \(ByteSize.format(g.peak)), memory.swap.current "
                    + "\(ByteSize.format(g.swapCurrent))")
            out.append(
                "             memory.events: "
                    + MemcgEvent.memoryEvents.map { "\($0.name) \(g.events[$0.name] ?? 0)" }.joined(
                        separator: ", "))
            out.append(
                "             memory.stat: pgscan \(g.pgscan), pgsteal \(g.pgsteal), pgfault \(g.pgfault), "
                    + "pgmajfault \(g.pgmajfault)"
                    + (g.throttledNanoseconds > 0
                        ? "; throttled \(ProcFS.duration(g.throttledNanoseconds)) over memory.high" : ""))
        }
        out += readerSummary(dense.stats)
        if let task {
            out.append("")
            out.append("/proc/\(task.pid)/status (memory lines):")
            for line in ProcFS.status(kernel, task).split(separator: "\n")
            where line.hasPrefix("Vm") || line.hasPrefix("Rss") {
                out.append("  " + line)
            }
        }
        for r in reports {
            out.append("")
            out.append("\(r):")
            out.append(ReportName.render(r, kernel).trimmingSuffixNewlines)
        }
        print(out.joined(separator: "\n"))
        if result.outcome != .completed { throw ExitCode(1) }
    }
}

/// Whether `path` names a regular file (following symbolic links), which can be read twice.
func isRegularFile(_ path: String) -> Bool {
    var st = stat()
    return path != "-" && stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
}

extension String {
    /// The string without its trailing newlines.
    var trimmingSuffixNewlines: String {
        var s = Substring(self)
        while s.last == "\n" { s.removeLast() }
        return String(s)
    }
}
