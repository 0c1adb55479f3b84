import Foundation
import VMTrace
import VMTypes

/// A kernel-mode replay as JSON (`vmsim replay --kernel --json`): the trace, the machine's RAM,
/// and what `KernelReplayResult` measured, with policy mode's names (`hits`, `misses`,
/// `missRatio`, `evictions`) for the same quantities so scripts can read either mode.
public struct KernelReplayReport: Encodable, Sendable {
    public var trace: String
    public var format: String
    public var mode = "kernel"
    public var policy: String
    public var memoryBytes: UInt64
    /// Accesses performed, and the trace's (more when the process was killed first).
    public var accesses: Int
    public var traceAccesses: Int
    public var distinctPages: Int
    public var outcome: String
    public var areas: Int
    public var minorFaults: Int
    public var majorFaults: Int
    public var faults: Int
    public var tlbLookups: UInt64
    public var tlbHits: UInt64
    public var tlbHitRate: Double
    public var pswpin: UInt64
    public var pswpout: UInt64
    public var pgscan: UInt64
    public var pgsteal: UInt64
    public var simulatedNanoseconds: UInt64
    public var stores: Int
    public var firstTouchStores: Int
    /// Accesses that did not fault, faults, their share, and pages reclaimed.
    public var hits: Int
    public var misses: Int
    public var missRatio: Double
    public var evictions: UInt64
    /// With a policy choosing reclaim's victims: the frames it was sized for, the victims it
    /// named, and those reclaim could not take (absent for `linux`).
    public var policyFrames: Int?
    public var policyVictims: Int?
    public var policyVictimsSkipped: Int?
    /// With `--cgroup-max`/`--cgroup-high`: the process's memory cgroup after the run (absent
    /// without one).
    public var cgroup: KernelReplayCgroup?

    public init(
        trace: String, format: TraceFormat, policy: PolicyKind, memoryBytes: UInt64, distinctPages: Int,
        result: KernelReplayResult
    ) {
        self.trace = trace
        self.format = format.rawValue
        self.policy = policy.rawValue
        self.memoryBytes = memoryBytes
        self.accesses = result.performed
        self.traceAccesses = result.accesses
        self.distinctPages = distinctPages
        self.outcome = Self.describe(result.outcome)
        self.areas = result.areas.count
        self.minorFaults = result.minorFaults
        self.majorFaults = result.majorFaults
        self.faults = result.minorFaults + result.majorFaults
        self.tlbLookups = result.tlb.lookups
        self.tlbHits = result.tlb.l1Hits + result.tlb.l2Hits
        self.tlbHitRate = result.tlb.lookups == 0 ? 0 : Double(self.tlbHits) / Double(result.tlb.lookups)
        self.pswpin = result.pswpin
        self.pswpout = result.pswpout
        self.pgscan = result.pgscan
        self.pgsteal = result.pgsteal
        self.simulatedNanoseconds = result.simulatedNanoseconds
        self.stores = result.stores
        self.firstTouchStores = result.firstTouchStores
        self.hits = result.performed - self.faults
        self.misses = self.faults
        self.missRatio = result.performed == 0 ? 0 : Double(self.faults) / Double(result.performed)
        self.evictions = result.pgsteal
        if result.policy != nil {
            self.policyFrames = result.policyFrames
            self.policyVictims = result.policyVictims
            self.policyVictimsSkipped = result.policyVictimsSkipped
        }
        self.cgroup = result.cgroup
    }

    /// How the replay ended, in words: `completed`, or the signal or OOM kill and the access.
    public static func describe(_ outcome: ReplayOutcome) -> String {
        switch outcome {
        case .completed: return "completed"
        case .signal(let info, let access):
            return "killed by \(info.signal.name) at \(hex(info.address)) on access \(access + 1) (\(info))"
        case .outOfMemory(let access): return "killed by the OOM killer on access \(access + 1)"
        }
    }

    /// One line of JSON, keys sorted (deterministic).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else {
            preconditionFailure("KernelReplayReport: encoding failed")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
