import VMCore
import VMPhys
import VMTrace
import VMTypes

/// A run's state over time: sampled after every scenario line and every `interval` user
/// accesses inside a line (a 256 MiB write is one line), so a time series shows what happens
/// while a line runs. Each sample holds every process's RSS (anonymous, file, shmem), free pages
/// per zone, the LRU lists, swap in use and the cumulative fault, swap and reclaim counters; the
/// CSV has them all, the SVG draws memory, fault rates and swap traffic on one x-axis.
public final class Timeline {
    public struct Sample: Sendable {
        public var accesses: UInt64
        public var time: UInt64
        public var line: Int
        /// Per process name: resident anonymous, file and shmem pages (nil: not alive).
        public var processes: [String: (anon: Int, file: Int, shmem: Int)]
        public var freeByZone: [Int]
        /// Active and inactive anonymous, active and inactive file pages.
        public var lru: (activeAnon: Int, inactiveAnon: Int, activeFile: Int, inactiveFile: Int)
        public var swapUsed: UInt64
        public var faults: UInt64
        public var majorFaults: UInt64
        public var swapIns: UInt64
        public var swapOuts: UInt64
        public var scanned: UInt64
        public var reclaimed: UInt64
    }

    /// User accesses between samples inside a line.
    public let interval: UInt64
    public private(set) var samples: [Sample] = []
    var names: [String] = []
    var zoneNames: [String] = []
    var pageSize: UInt64 = 4096
    var nextSampleAt: UInt64
    /// Cumulative counters survive `reset counters` (which zeroes the kernel's).
    var base = [UInt64](repeating: 0, count: 6)
    var lastRaw = [UInt64](repeating: 0, count: 6)
    /// The most samples kept (a long run is thinned: every other sample dropped, the interval
    /// doubled), so memory stays bounded.
    public static let maxSamples = 20_000
    var every: UInt64

    public init(interval: UInt64) {
        self.interval = max(interval, 1)
        self.every = self.interval
        self.nextSampleAt = self.interval
    }

    /// The access count at which the next sample is due.
    public var nextSample: UInt64 { self.nextSampleAt }

    /// Samples if `accesses` reached the next point; the runner calls it per access.
    @inline(__always) func maybeSample(_ runner: ScenarioRunner) {
        if runner.accesses >= self.nextSampleAt { self.sample(runner) }
    }

    /// Samples a scenario run: its processes, after `runner.accesses` user accesses.
    public func sample(_ runner: ScenarioRunner) {
        self.sample(
            kernel: runner.kernel, processes: runner.processes.map { ($0.key, $0.value) },
            accesses: runner.accesses, line: runner.currentLine ?? 0)
    }

    /// Samples `kernel` after `accesses` user accesses: `processes` by name (a kernel-mode
    /// replay's one process, a scenario's every one), in pid order so the CSV's columns come out
    /// the same on every run; `line` is the scenario line, or 0.
    public func sample(kernel: Kernel, processes tasks: [(String, Task)], accesses: UInt64, line: Int) {
        let phys = kernel.phys
        self.pageSize = phys.pageSize
        if self.zoneNames.isEmpty { self.zoneNames = phys.zones.filter(\.isPopulated).map(\.type.name) }
        var processes: [String: (anon: Int, file: Int, shmem: Int)] = [:]
        for (name, task) in tasks.sorted(by: { $0.1.pid < $1.1.pid }) {
            guard task.state == .running, let mm = task.mm else { continue }
            if !self.names.contains(name) { self.names.append(name) }
            processes[name] = (mm.counter(.anonPages), mm.counter(.filePages), mm.counter(.shmemPages))
        }
        let raw: [UInt64] = [
            phys.events(.pgfault), phys.events(.pgmajfault), phys.events(.pswpin), phys.events(.pswpout),
            phys.events(.pgscanKswapd) + phys.events(.pgscanDirect),
            phys.events(.pgstealKswapd) + phys.events(.pgstealDirect),
        ]
        for i in 0..<raw.count where raw[i] < self.lastRaw[i] { self.base[i] += self.lastRaw[i] }
        self.lastRaw = raw
        let c = (0..<raw.count).map { self.base[$0] + raw[$0] }
        let swapUsed = kernel.swapAreas.reduce(UInt64(0)) { $0 + $1.inUse }
        self.samples.append(
            Sample(
                accesses: accesses, time: kernel.now, line: line,
                processes: processes,
                freeByZone: phys.zones.filter(\.isPopulated).map(\.freePages),
                lru: (
                    phys.state(.nrActiveAnon), phys.state(.nrInactiveAnon), phys.state(.nrActiveFile),
                    phys.state(.nrInactiveFile)
                ),
                swapUsed: swapUsed, faults: c[0], majorFaults: c[1], swapIns: c[2], swapOuts: c[3],
                scanned: c[4],
                reclaimed: c[5]))
        if self.samples.count > Self.maxSamples {
            self.samples = self.samples.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            self.every *= 2
        }
        self.nextSampleAt = accesses + self.every
    }

    /// Every sample as CSV: accesses, time_ns, line, then per process `NAME_anon_kb`,
    /// `NAME_file_kb`, `NAME_shmem_kb` (empty while it does not exist), `free_ZONE_kb`, the four
    /// LRU lists, swap used, and the cumulative counters.
    public var csv: String {
        let kb = self.pageSize / 1024
        var header = ["accesses", "time_ns", "line"]
        for n in self.names { header += ["\(n)_anon_kb", "\(n)_file_kb", "\(n)_shmem_kb"] }
        header += self.zoneNames.map { "free_\($0)_kb" }
        header += [
            "active_anon_kb", "inactive_anon_kb", "active_file_kb", "inactive_file_kb", "swap_used_kb",
            "pgfault",
            "pgmajfault", "pswpin", "pswpout", "pgscan", "pgsteal",
        ]
        var lines = [header.joined(separator: ",")]
        for s in self.samples {
            var row = ["\(s.accesses)", "\(s.time)", "\(s.line)"]
            for n in self.names {
                if let p = s.processes[n] {
                    row += ["\(UInt64(p.anon) * kb)", "\(UInt64(p.file) * kb)", "\(UInt64(p.shmem) * kb)"]
                } else {
                    row += ["", "", ""]
                }
            }
            row += s.freeByZone.map { "\(UInt64($0) * kb)" }
            row += [s.lru.activeAnon, s.lru.inactiveAnon, s.lru.activeFile, s.lru.inactiveFile].map {
                "\(UInt64($0) * kb)"
            }
            row += ["\(s.swapUsed * kb)", "\(s.faults)", "\(s.majorFaults)", "\(s.swapIns)", "\(s.swapOuts)"]
            row += ["\(s.scanned)", "\(s.reclaimed)"]
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Three panels over user accesses: memory (each process's RSS, free, swap used, MiB);
    /// faults per 1000 accesses (minor and major); swap-ins and swap-outs per 1000 accesses.
    public func svg(title: String) -> String {
        let mib = Double(self.pageSize) / 1_048_576
        let xs = self.samples.map { Double($0.accesses) }
        var memory: [PlotSeries] = self.names.map { name in
            PlotSeries(
                name: "\(name) RSS",
                points: self.samples.enumerated().compactMap { i, s in
                    s.processes[name].map { (xs[i], Double($0.anon + $0.file + $0.shmem) * mib) }
                })
        }
        memory.append(
            PlotSeries(
                name: "free",
                points: self.samples.enumerated().map { (xs[$0], Double($1.freeByZone.reduce(0, +)) * mib) }))
        memory.append(
            PlotSeries(
                name: "swap used",
                points: self.samples.enumerated().map { (xs[$0], Double($1.swapUsed) * mib) },
                dashed: true))
        func rate(_ name: String, _ value: (Sample) -> UInt64, dashed: Bool = false) -> PlotSeries {
            var points: [(x: Double, y: Double)] = []
            for i in 1..<max(self.samples.count, 1) {
                let (a, b) = (self.samples[i - 1], self.samples[i])
                guard b.accesses > a.accesses else { continue }
                let d = value(b) >= value(a) ? value(b) - value(a) : 0
                points.append((Double(b.accesses), Double(d) * 1000 / Double(b.accesses - a.accesses)))
            }
            return PlotSeries(name: name, points: points, dashed: dashed)
        }
        let faults = [
            rate("minor faults", { $0.faults >= $0.majorFaults ? $0.faults - $0.majorFaults : 0 }),
            rate("major faults", { $0.majorFaults }),
        ]
        let swap = [rate("swap-in", { $0.swapIns }), rate("swap-out", { $0.swapOuts }, dashed: true)]
        let last = self.samples.last
        let subtitle =
            "\(self.samples.count) samples; \(last.map { "\($0.accesses) user accesses, \(shortDuration($0.time)) simulated" } ?? "empty")"
        return renderPanelsSVG(
            title: title, subtitle: subtitle, xLabel: "user accesses",
            panels: [
                PlotPanel(title: "Memory", yLabel: "MiB", series: memory),
                PlotPanel(title: "Page faults", yLabel: "per 1000 accesses", series: faults),
                PlotPanel(title: "Swap traffic", yLabel: "pages per 1000 accesses", series: swap),
            ])
    }
}
