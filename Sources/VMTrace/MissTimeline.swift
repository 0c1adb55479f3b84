/// A policy replay over time: after every window of `interval` accesses, the hits, evictions
/// and dirty evictions so far, so the miss ratio per window — a working set moving, a phase
/// change, a scan flushing the cache — shows next to the cumulative one that `replay` prints.
///
/// The replay loops end a chunk of work at each window's end and call `record`, so the loop
/// over accesses stays what it is without a timeline. A long replay is thinned as
/// `Timeline` is: past `maxWindows`, every other window end is dropped and the interval
/// doubles, so memory stays bounded and each window stays the same size.
public final class MissTimeline {
    /// The counts at the end of a window, cumulative from the start of the replay.
    public struct Point: Sendable, Equatable {
        /// Accesses replayed at the window's end.
        public var accesses: Int
        /// Hits so far.
        public var hits: Int
        /// Evictions so far.
        public var evictions: Int
        /// Dirty evictions so far.
        public var dirtyEvictions: Int
    }

    /// The accesses per window as asked for; `every` is the current one (doubled by thinning).
    public let interval: Int
    /// The current window length (`interval`, doubled at each thinning).
    public private(set) var every: Int
    /// The window ends so far, after a first point at 0 accesses.
    public private(set) var points = [Point(accesses: 0, hits: 0, evictions: 0, dirtyEvictions: 0)]
    /// The most points kept before thinning.
    public static let maxWindows = 20_000

    /// Windows of `interval` accesses (at least 1).
    public init(interval: Int) {
        self.interval = max(interval, 1)
        self.every = self.interval
    }

    /// The access count at which the current window ends.
    public var nextEnd: Int { self.points[self.points.count - 1].accesses + self.every }

    /// Records the counts at a window's end (or at the end of the trace, a shorter last window).
    public func record(accesses: Int, hits: Int, stats: PolicyStats) {
        guard accesses > self.points[self.points.count - 1].accesses else { return }
        self.points.append(
            Point(
                accesses: accesses, hits: hits, evictions: stats.evictions,
                dirtyEvictions: stats.dirtyEvictions))
        if self.points.count > Self.maxWindows {
            // Keep point 0 and every second window end: windows twice as long.
            self.points = self.points.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            self.every *= 2
        }
    }

    /// The windows: the accesses at each one's end, its length, misses and evictions.
    public var windows: [(end: Int, length: Int, misses: Int, evictions: Int, dirtyEvictions: Int, hits: Int)]
    {
        zip(self.points, self.points.dropFirst()).map { a, b in
            let length = b.accesses - a.accesses
            let hits = b.hits - a.hits
            return (
                b.accesses, length, length - hits, b.evictions - a.evictions,
                b.dirtyEvictions - a.dirtyEvictions,
                b.hits
            )
        }
    }

    /// One row per window: `accesses` (at its end), `window` (its length), `misses`,
    /// `miss_ratio` (in the window), `cumulative_miss_ratio`, `evictions`, `dirty_evictions`.
    public var csv: String {
        var lines = ["accesses,window,misses,miss_ratio,cumulative_miss_ratio,evictions,dirty_evictions"]
        for w in self.windows {
            let cumulative = Double(w.end - w.hits) / Double(w.end)
            lines.append(
                "\(w.end),\(w.length),\(w.misses),\(fixed(Double(w.misses) / Double(w.length), 6)),"
                    + "\(fixed(cumulative, 6)),\(w.evictions),\(w.dirtyEvictions)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Two panels over accesses: the miss ratio in each window and so far; evictions (and the
    /// dirty ones, which a kernel would write back) per 1000 accesses.
    public func svg(title: String, subtitle: String) -> String {
        let windows = self.windows
        let ratio = PlotSeries(
            name: "per window",
            points: windows.map { (Double($0.end), Double($0.misses) / Double($0.length)) })
        let cumulative = PlotSeries(
            name: "cumulative",
            points: windows.map { (Double($0.end), Double($0.end - $0.hits) / Double($0.end)) }, dashed: true)
        let evictions = PlotSeries(
            name: "evictions",
            points: windows.map { (Double($0.end), Double($0.evictions) * 1000 / Double($0.length)) })
        let dirty = PlotSeries(
            name: "dirty evictions",
            points: windows.map { (Double($0.end), Double($0.dirtyEvictions) * 1000 / Double($0.length)) },
            dashed: true)
        return renderPanelsSVG(
            title: title, subtitle: subtitle + "; windows of \(self.every) accesses", xLabel: "accesses",
            panels: [
                PlotPanel(title: "Miss ratio", yLabel: "misses per access", series: [ratio, cumulative]),
                PlotPanel(title: "Evictions", yLabel: "per 1000 accesses", series: [evictions, dirty]),
            ])
    }
}
