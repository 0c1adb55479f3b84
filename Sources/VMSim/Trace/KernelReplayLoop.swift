import VMCore
import VMPaging
import VMPhys
import VMTrace
import VMTypes

/// Reclaim's anonymous victims from a replacement policy that sees every access of the replay
/// (a page id is the trace key; its address is `key << shift + relocation`).
final class PolicyVictims: ReclaimVictimSource {
    let policy: any ReplacementPolicy
    let mm: AddressSpace
    let keys: [UInt64]
    let shift: UInt64
    let relocation: UInt64
    var named = 0

    init(policy: any ReplacementPolicy, mm: AddressSpace, keys: [UInt64], shift: UInt64, relocation: UInt64) {
        self.policy = policy
        self.mm = mm
        self.keys = keys
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

/// A kernel-mode replay's loop over the trace, once the process and its areas are set up.
struct ReplayLoop {
    let kernel: Kernel
    let task: Task
    let name: String
    let trace: DenseTrace
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
    /// OPT. Generic over the policy, so its `access` is a direct call, not an existential one.
    func run<P: ReplacementPolicy>(_ policy: P?, nextUse: [UInt32]) -> Counts {
        let (kernel, task, trace) = (self.kernel, self.task, self.trace)
        let (shift, relocation, bits, span) = (self.shift, self.relocation, self.bits, self.span)
        kernel.resetCounters()
        var counts = Counts(startTime: kernel.now, skippedBefore: kernel.reclaim.victimsSkipped)
        // Dense ids are numbered in order of first appearance: an access is its page's first
        // exactly when its id is the next one not seen yet.
        var unseen: UInt32 = 0
        let sampled = [(self.name, task)]
        self.timeline?.sample(kernel: kernel, processes: sampled, accesses: 0, line: 0)
        trace.ids.withUnsafeBufferPointer { ids in
            trace.keys.withUnsafeBufferPointer { keys in
                for i in 0..<ids.count {
                    let key = keys[Int(ids[i])]
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
                        break
                    }
                    var write = trace.isWrite(i)
                    if ids[i] == unseen {
                        unseen &+= 1
                        if self.firstTouchWrites && !write {
                            write = true
                            counts.firstTouchStores += 1
                        }
                    }
                    if write { counts.stores += 1 }
                    let r = kernel.userAccess(task, address: address, access: write ? .write : .read)
                    switch r {
                    case .ok:
                        counts.performed += 1
                        if let policy {
                            let next: Int64 =
                                nextUse.isEmpty || nextUse[i] == .max ? .max : Int64(nextUse[i])
                            _ = policy.access(Int32(bitPattern: ids[i]), write: write, next: next)
                        }
                    // A replayed task installs no handler, so nothing is caught; a signal ends it.
                    case .signal(let info), .caught(let info):
                        counts.outcome = .signal(info, access: i)
                    case .outOfMemory:
                        counts.outcome = .outOfMemory(access: i)
                    }
                    if let timeline = self.timeline, UInt64(i &+ 1) >= timeline.nextSample {
                        timeline.sample(kernel: kernel, processes: sampled, accesses: UInt64(i + 1), line: 0)
                    }
                    if counts.outcome != .completed { break }
                    if i & 0xFFFF == 0 { self.progress?.update(i) }
                }
            }
        }
        // The last sample at the end of the replay (or where it stopped).
        let end = UInt64(counts.outcome == .completed ? trace.count : counts.performed + 1)
        if let timeline = self.timeline, timeline.samples.last?.accesses != end {
            timeline.sample(kernel: kernel, processes: sampled, accesses: end, line: 0)
        }
        return counts
    }
}

/// Makes the policy reclaim's victim source (sized for the trace's pages) for the length of the
/// replay, and runs the loop specialized for it.
struct PolicyReplayLoop: PolicyBody {
    let loop: ReplayLoop
    let mm: AddressSpace
    let needsFuture: Bool

    func run<P: ReplacementPolicy>(_ policy: P) -> (counts: ReplayLoop.Counts, victims: PolicyVictims) {
        let kernel = self.loop.kernel
        policy.reserve(self.loop.trace.distinct)
        let source = PolicyVictims(
            policy: policy, mm: self.mm, keys: self.loop.trace.keys, shift: self.loop.shift,
            relocation: self.loop.relocation)
        kernel.reclaim.victims = source
        defer { kernel.reclaim.victims = nil }
        let nextUse = self.needsFuture ? self.loop.trace.nextUse() : []
        return (self.loop.run(policy, nextUse: nextUse), source)
    }
}
