/// Work to do with a policy whose kind is chosen at run time, written once for every policy
/// type: `withPolicy` makes the policy and calls `run` with its concrete type, so `run` — a
/// replay loop — is specialized for each policy, with no existential call per access.
public protocol PolicyBody {
    associatedtype Result
    associatedtype Failure: Error = Never
    /// Runs the work with a policy of concrete type `P`.
    func run<P: ReplacementPolicy>(_ policy: P) throws(Failure) -> Result
}

/// The one switch over `PolicyKind`: makes a policy of `kind` with `frames` frames and hands it
/// to `body`. Every replay — dense, streamed, kernel mode — and `makePolicy` go through it.
@inlinable
public func withPolicy<B: PolicyBody>(
    _ kind: PolicyKind, frames: Int, options: PolicyOptions = PolicyOptions(), _ body: B
) throws(B.Failure) -> B.Result {
    switch kind {
    case .fifo: return try body.run(FIFOPolicy(frames: frames, options: options))
    case .lru: return try body.run(LRUPolicy(frames: frames, options: options))
    case .mru: return try body.run(MRUPolicy(frames: frames, options: options))
    case .lfu: return try body.run(LFUPolicy(frames: frames, options: options))
    case .clock, .secondChance: return try body.run(ClockPolicy(frames: frames, options: options))
    case .clock2: return try body.run(ClockPolicy(frames: frames, bits: 2, initialFrequency: 0))
    case .arc: return try body.run(ARCPolicy(frames: frames, options: options))
    case .twoq: return try body.run(TwoQPolicy(frames: frames, options: options))
    case .lirs: return try body.run(LIRSPolicy(frames: frames, options: options))
    case .clockpro: return try body.run(ClockProPolicy(frames: frames, options: options))
    case .s3fifo: return try body.run(S3FIFOPolicy(frames: frames, options: options))
    case .sieve: return try body.run(SievePolicy(frames: frames, options: options))
    case .opt: return try body.run(OPTPolicy(frames: frames, options: options))
    case .random: return try body.run(RandomPolicy(frames: frames, options: options))
    case .linux: return try body.run(LinuxLRUPolicy(frames: frames, options: options))
    case .mglru: return try body.run(MGLRUPolicy(frames: frames, options: options))
    }
}

/// The policy itself, as an existential (for callers that keep it, e.g. tests and the kernel's
/// victim source).
struct MakePolicy: PolicyBody {
    /// The policy, boxed.
    func run<P: ReplacementPolicy>(_ policy: P) -> any ReplacementPolicy { policy }
}

/// Makes a policy of `kind`.
public func makePolicy(_ kind: PolicyKind, frames: Int, options: PolicyOptions = PolicyOptions())
    -> any ReplacementPolicy
{
    withPolicy(kind, frames: frames, options: options, MakePolicy())
}
