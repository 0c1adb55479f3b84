import VMCore
import VMPaging
import VMPhys
import VMTrace
import VMTypes

/// Reclaim's anonymous victims from a replacement policy that sees every access of the replay
/// (a page id is its dense id, in order of first appearance; `keys` holds each id's trace key,
/// filled in by the replay loop as pages appear, and its address is `key << shift + relocation`).
final class PolicyVictims: ReclaimVictimSource {
    let policy: any ReplacementPolicy
    let mm: AddressSpace
    var keys: [UInt64] = []
    let shift: UInt64
    let relocation: UInt64
    var named = 0

    init(policy: any ReplacementPolicy, mm: AddressSpace, shift: UInt64, relocation: UInt64) {
        self.policy = policy
        self.mm = mm
        self.shift = shift
        self.relocation = relocation
    }

    func nextVictim() -> (mm: AddressSpace, address: UInt64)? {
        guard let id = self.policy.evict() else { return nil }
        self.named += 1
        // The policy only sees accesses that were performed, so the page has an address.
        return (self.mm, (self.keys[Int(id)] << self.shift) &+ self.relocation)
    }
}

/// A kernel-mode replay's loop over the trace, once the process and its areas are set up: the
/// trace is read a batch at a time (`KernelReplayTrace.reader()`: streamed from the file, or
/// from memory), so the loop holds one batch whatever the trace's length.
struct ReplayLoop {
    let kernel: Kernel
    let task: Task
    let name: String
    let trace: KernelReplayTrace
    /// Trace keys are page numbers of `1 << shift` bytes, moved up by `relocation`, on an
    /// architecture with `bits`-bit addresses; `span` is the size of a trace page.
    let shift: UInt64
    let relocation: UInt64
    let bits: Int
    let span: UInt64
    let firstTouchWrites: Bool
    let progress: Progress?
    let timeline: Timeline?

    /// What the loop counted, and the clock and victim counter it started from.
    struct Counts {
        var performed = 0
        var stores = 0
        var firstTouchStores = 0
        var outcome = ReplayOutcome.completed
        var startTime: UInt64 = 0
        var skippedBefore = 0
    }

    /// Resets the kernel's counters and replays every access as a user load or store; `policy`
    /// (nil: the kernel's LRU alone) sees each access that was performed, with `nextUse` for
    /// OPT, and `victims` learns each new page's key. Generic over the policy, so its `access`
    /// is a direct call, not an existential one.
    func run<P: ReplacementPolicy>(_ policy: P?, victims: PolicyVictims? = nil, nextUse: [UInt32]) throws
        -> Counts
    {
        let (kernel, task) = (self.kernel, self.task)
        let (shift, relocation, bits, span) = (self.shift, self.relocation, self.bits, self.span)
        let reader = try self.trace.reader()
        let expected = self.trace.survey.count
        kernel.resetCounters()
        var counts = Counts(startTime: kernel.now, skippedBefore: kernel.reclaim.victimsSkipped)
        // Dense ids, numbered in order of first appearance as the policy needs them: an access is
        // its page's first exactly when its id is the next one not seen yet. Only a policy or
        // `firstTouchWrites` needs them.
        let mapper = policy != nil || self.firstTouchWrites ? IDMapper() : nil
        var unseen: UInt32 = 0
        let sampled = [(self.name, task)]
        self.timeline?.sample(kernel: kernel, processes: sampled, accesses: 0, line: 0)
        let batch = AccessBatch()
        var i = 0
        // The next access index at which the timeline samples or progress is told.
        var nextCheck = 0
        func checkpoint() {
            if let timeline = self.timeline, UInt64(i) >= timeline.nextSample {
                timeline.sample(kernel: kernel, processes: sampled, accesses: UInt64(i), line: 0)
            }
            self.progress?.update(i)
            nextCheck = min(i + 0x10000, self.timeline.map { Int(clamping: $0.nextSample) } ?? .max)
        }
        checkpoint()
        reading: while try reader.read(into: batch) {
            let (keys, writes) = (batch.keys, batch.writes)
            for j in 0..<batch.count {
                let key = keys[j]
                guard
                    let address = KernelReplay.address(
                        ofKey: key, shift: shift, relocation: relocation, bits: bits)
                else {
                    // No address the CPU can issue: x86 raises #GP for it as for any
                    // non-canonical address, and Linux reports SIGSEGV with si_addr 0.
                    let moved = relocation == 0 ? "" : ", moved up by \(hex(relocation)),"
                    counts.outcome = .signal(
                        SignalInfo(
                            .sigsegv, .kernel, address: 0,
                            detail:
                                "general protection: page \(hex(key)) of \(ByteSize.human(span))\(moved) is beyond the \(bits)-bit address space"
                        ), access: i)
                    break reading
                }
                var write = writes[j] != 0
                var id: UInt32 = 0
                if let mapper {
                    id = mapper.map(key)
                    if id == unseen {
                        unseen &+= 1
                        victims?.keys.append(key)
                        if self.firstTouchWrites && !write {
                            write = true
                            counts.firstTouchStores += 1
                        }
                    }
                }
                if write { counts.stores += 1 }
                switch kernel.userAccess(task, address: address, access: write ? .write : .read) {
                case .ok:
                    counts.performed += 1
                    if let policy {
                        let next: Int64 = nextUse.isEmpty || nextUse[i] == .max ? .max : Int64(nextUse[i])
                        _ = policy.access(Int32(bitPattern: id), write: write, next: next)
                    }
                // A replayed task installs no handler, so nothing is caught; a signal ends it.
                case .signal(let info), .caught(let info):
                    counts.outcome = .signal(info, access: i)
                case .outOfMemory:
                    counts.outcome = .outOfMemory(access: i)
                }
                i += 1
                if counts.outcome != .completed {
                    if self.timeline != nil { checkpoint() }
                    break reading
                }
                if i >= nextCheck { checkpoint() }
            }
        }
        if counts.outcome == .completed && i != expected {
            throw TraceError(
                file: self.trace.survey.name, line: 0, column: 0,
                message:
                    "the trace changed while it was replayed: the first pass read \(expected) accesses, the second \(i)"
            )
        }
        // The last sample at the end of the replay (or where it stopped).
        if let timeline = self.timeline, timeline.samples.last?.accesses != UInt64(i) {
            timeline.sample(kernel: kernel, processes: sampled, accesses: UInt64(i), line: 0)
        }
        return counts
    }
}

/// Makes the policy reclaim's victim source (sized for the trace's pages) for the length of the
/// replay, and runs the loop specialized for it.
struct PolicyReplayLoop: PolicyBody {
    let loop: ReplayLoop
    let mm: AddressSpace
    let nextUse: [UInt32]
    typealias Failure = any Error

    func run<P: ReplacementPolicy>(_ policy: P) throws -> (counts: ReplayLoop.Counts, victims: PolicyVictims)
    {
        let kernel = self.loop.kernel
        policy.reserve(self.loop.trace.survey.distinct)
        let source = PolicyVictims(
            policy: policy, mm: self.mm, shift: self.loop.shift, relocation: self.loop.relocation)
        kernel.reclaim.victims = source
        defer { kernel.reclaim.victims = nil }
        return (try self.loop.run(policy, victims: source, nextUse: self.nextUse), source)
    }
}
