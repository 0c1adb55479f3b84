/// Simulates `kind` with `frames` frames over a dense trace (OPT: `next`, each access's next
/// use, computed here when not given).
public func simulate(
    _ kind: PolicyKind, frames: Int, trace: DenseTrace, next: [UInt32]? = nil,
    options: PolicyOptions = PolicyOptions(), progress: Progress? = nil, timeline: MissTimeline? = nil
) -> ReplayCounts {
    let body = DenseReplay(
        trace: trace, next: kind.needsFuture ? next ?? trace.nextUse() : nil, progress: progress,
        timeline: timeline)
    return withPolicy(kind, frames: max(frames, 1), options: options, body)
}

/// `runDense` for the policy `withPolicy` makes.
struct DenseReplay: PolicyBody {
    /// The trace.
    let trace: DenseTrace
    /// Each access's next use (OPT only).
    let next: [UInt32]?
    /// Progress, per 2^20 accesses.
    let progress: Progress?
    /// Miss ratio per window, if asked for.
    let timeline: MissTimeline?
    func run<P: ReplacementPolicy>(_ policy: P) -> ReplayCounts {
        runDense(policy, self.trace, next: self.next, progress: self.progress, timeline: self.timeline)
    }
}

/// Simulates `kind` with `frames` frames over a streamed trace (constant memory apart from the
/// per-page state). OPT needs each access's next use: oracleGeneral traces carry it; for the
/// other formats the trace is read into memory first.
public func simulate(
    _ kind: PolicyKind, frames: Int, reader: any TraceReader, options: PolicyOptions = PolicyOptions(),
    progress: Progress? = nil, timeline: MissTimeline? = nil
) throws -> (ReplayCounts, distinct: Int) {
    if kind.needsFuture && reader.format != .oracleGeneral {
        let trace = try DenseTrace(reader: reader, progress: progress)
        progress?.finish()
        let simulating = progress.map {
            Progress(label: $0.label + " (\(kind.rawValue))", total: trace.count, enabled: $0.enabled)
        }
        let counts = simulate(
            kind, frames: frames, trace: trace, options: options, progress: simulating, timeline: timeline)
        simulating?.finish()
        return (counts, trace.distinct)
    }
    let body = StreamedReplay(reader: reader, mapper: IDMapper(), progress: progress, timeline: timeline)
    let counts = try withPolicy(kind, frames: max(frames, 1), options: options, body)
    return (counts, body.mapper.count)
}

/// `runStream` for the policy `withPolicy` makes.
struct StreamedReplay: PolicyBody {
    /// The trace, streamed.
    let reader: any TraceReader
    /// Keys to dense ids, as they appear.
    let mapper: IDMapper
    /// Progress, per batch.
    let progress: Progress?
    /// Miss ratio per window, if asked for.
    let timeline: MissTimeline?
    func run<P: ReplacementPolicy>(_ policy: P) throws(any Error) -> ReplayCounts {
        try runStream(
            policy, self.reader, mapper: self.mapper, progress: self.progress, timeline: self.timeline)
    }
}
