import VMCore
import VMPaging
import VMPhys
import VMTrace
import VMTypes

/// One line of a `/proc/PID/maps` file.
public struct MapsEntry: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var read: Bool
    public var write: Bool
    public var exec: Bool
    public var shared: Bool
    public var name: String
    /// Where the entry was read: the maps file and its 1-based line (for errors).
    public var file = ""
    public var line = 0

    /// Parses a maps file (`start-end perms offset dev inode [path]` per line); errors name the
    /// line and column.
    public static func parse(_ text: String, file: String) throws(TraceError) -> [MapsEntry] {
        var entries: [MapsEntry] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            func fail(_ column: Int, _ message: String) -> TraceError {
                TraceError(file: file, line: n + 1, column: column + 1, message: message)
            }
            let chars = Array(line.utf8)
            var i = 0
            func hex() -> UInt64? {
                var v: UInt64 = 0
                let s = i
                while i < chars.count, let d = hexValueOf(chars[i]) {
                    if i - s == 16 { return nil }
                    v = v << 4 | d
                    i += 1
                }
                return i == s ? nil : v
            }
            guard let start = hex() else { throw fail(i, "expected the start address (hex)") }
            guard i < chars.count && chars[i] == UInt8(ascii: "-") else { throw fail(i, "expected '-'") }
            i += 1
            guard let end = hex() else { throw fail(i, "expected the end address (hex)") }
            guard end > start else { throw fail(0, "the end address is not above the start") }
            guard i < chars.count && chars[i] == UInt8(ascii: " ") else { throw fail(i, "expected a space") }
            i += 1
            guard i + 4 <= chars.count else { throw fail(i, "expected permissions like r-xp") }
            let p = chars[i..<(i + 4)].map { Character(UnicodeScalar($0)) }
            guard
                (p[0] == "r" || p[0] == "-") && (p[1] == "w" || p[1] == "-") && (p[2] == "x" || p[2] == "-")
                    && (p[3] == "p" || p[3] == "s")
            else { throw fail(i, "expected permissions like r-xp") }
            i += 4
            // offset, dev, inode, then the optional name.
            var fields = 0
            while fields < 3 {
                while i < chars.count && chars[i] == UInt8(ascii: " ") { i += 1 }
                let s = i
                while i < chars.count && chars[i] != UInt8(ascii: " ") { i += 1 }
                if i == s { throw fail(i, "expected the offset, device and inode fields") }
                fields += 1
            }
            while i < chars.count && (chars[i] == UInt8(ascii: " ") || chars[i] == UInt8(ascii: "\t")) {
                i += 1
            }
            let name = String(decoding: chars[i...], as: UTF8.self)
            entries.append(
                MapsEntry(
                    start: start, end: end, read: p[0] == "r", write: p[1] == "w", exec: p[2] == "x",
                    shared: p[3] == "s", name: name, file: file, line: n + 1))
        }
        return entries
    }
}

func hexValueOf(_ c: UInt8) -> UInt64? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(c - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(c - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(c - UInt8(ascii: "A") + 10)
    default: return nil
    }
}

/// How a kernel-mode replay ended.
public enum ReplayOutcome: Sendable, Equatable {
    case completed
    /// Killed by a signal at the access with this (0-based) index.
    case signal(SignalInfo, access: Int)
    case outOfMemory(access: Int)
}

/// What a kernel-mode replay measured (over the replay only: counters are reset once the
/// process is set up).
public struct KernelReplayResult: Sendable {
    public var accesses = 0
    public var performed = 0
    public var outcome = ReplayOutcome.completed
    public var pid = 0
    public var areas: [(start: UInt64, end: UInt64, name: String)] = []
    /// Added to every trace address (synthetic traces whose pages start near 0).
    public var relocation: UInt64 = 0
    public var minorFaults = 0
    public var majorFaults = 0
    public var tlb = TLBStats()
    public var pswpin: UInt64 = 0
    public var pswpout: UInt64 = 0
    public var pgscan: UInt64 = 0
    public var pgsteal: UInt64 = 0
    public var simulatedNanoseconds: UInt64 = 0
    /// Accesses replayed as stores: the trace's writes, and with `firstTouchWrites` each page's
    /// first access.
    public var stores = 0
    /// First accesses to a page that were reads in the trace and replayed as stores.
    public var firstTouchStores = 0
    /// The replacement policy that chose reclaim's anonymous victims (nil: the kernel's LRU).
    public var policy: PolicyKind?
    /// The frames the policy was sized for (what the process can hold at most).
    public var policyFrames = 0
    /// Victims the policy named, and those reclaim could not take.
    public var policyVictims = 0
    public var policyVictimsSkipped = 0
}

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

/// Drives a process in the simulated kernel with a trace: every access is a user-mode load or
/// store through the MMU (TLB, page walk), faults are handled by the kernel (demand paging,
/// swap-in), and memory pressure runs reclaim and kswapd, as for any program in a scenario.
///
/// The process starts from a fresh exec whose image is unmapped again, so its address space
/// holds only the trace's areas: those of a `/proc/PID/maps` file captured with the trace, or
/// else one private read-write anonymous area per group of touched pages (pages less than 1 MiB
/// apart share an area). Instruction fetches are replayed as reads (the trace formats do not
/// say which pages are code). Traces whose pages start below `mmap_min_addr` (synthetic ones:
/// page numbers from 0) are moved up by 256 MiB, and the report says so.
///
/// With a `policy` (anything but `linux`), that policy sees every access the process makes
/// and chooses which anonymous pages reclaim takes (see `ReclaimVictimSource`): the kernel still
/// decides when to reclaim and how much — watermarks, kswapd, direct reclaim — and the policy
/// decides what. It is sized for the most pages the process can hold: the free pages once the
/// process is set up, less the zones' min watermarks (allocations stop there). OPT learns each
/// access's next use from a pre-pass over the trace.
///
/// With a `timeline`, the process's RSS, free memory, the LRU lists, swap and the fault and
/// reclaim counters are sampled every `timeline.interval` accesses (as `run --timeline` does).
///
/// `firstTouchWrites` replays the first access to each page as a store whatever the trace says:
/// traces without writes (libCacheSim's txt and oracleGeneral carry none) would otherwise map
/// every page to the shared zero page (`do_anonymous_page()`'s read path, mm/memory.c), so the
/// process would have no RSS and reclaim nothing to do.
public enum KernelReplay {
    /// Pages closer than this share one area.
    public static let mergeGap: UInt64 = 1 << 20

    /// The address of trace key `key` (a page number of `1 << shift` bytes) moved up by
    /// `relocation`, or nil when it has none below 2^`bits` (64 on x86-64, whose registers hold
    /// any such address; 32 on i386) — a page number of a `--page-numbers` or txt trace, or an
    /// address of a 64-bit program replayed on i386, can be anything up to 2^64 − 1.
    @inline(__always) static func address(
        ofKey key: UInt64, shift: UInt64, relocation: UInt64, bits: Int = 64
    ) -> UInt64? {
        guard key <= UInt64.max >> shift else { return nil }
        let (address, overflow) = (key << shift).addingReportingOverflow(relocation)
        guard !overflow, bits >= 64 || address >> UInt64(bits) == 0 else { return nil }
        return address
    }

    /// Sets the process up and replays `trace` (its keys are page numbers of `1 << traceShift`
    /// bytes).
    public static func run(
        kernel: Kernel, trace: DenseTrace, traceShift: Int, maps: [MapsEntry]?, name: String = "trace",
        policy policyKind: PolicyKind? = nil, options: PolicyOptions = PolicyOptions(),
        firstTouchWrites: Bool = false, progress: Progress? = nil, timeline: Timeline? = nil
    ) throws -> KernelReplayResult {
        var result = KernelReplayResult()
        result.accesses = trace.count
        progress?.setTotal(trace.count)
        let task: Task
        do {
            task = try kernel.spawn(name: name)
        } catch {
            throw TraceError(
                file: trace.name, line: 0, column: 0, message: "cannot start the process: \(error)")
        }
        result.pid = task.pid
        let page = kernel.phys.pageSize
        let userTop = kernel.architecture.userTop
        // Empty the image's address space.
        do { try kernel.munmap(task, address: 0, length: userTop & ~(page - 1)) } catch {
            throw TraceError(
                file: trace.name, line: 0, column: 0, message: "cannot clear the address space: \(error)")
        }
        var areas:
            [(
                start: UInt64, end: UInt64, read: Bool, write: Bool, exec: Bool, shared: Bool, name: String,
                line: Int
            )] = []
        let shift = UInt64(traceShift)
        let span = UInt64(1) << shift
        let bits = kernel.architecture.is64Bit ? 64 : kernel.architecture.paging.addressBits
        if let maps {
            for m in maps {
                // A maps file describes user space in whole pages above mmap_min_addr; anything
                // else cannot be mapped (checked here, before the kernel's own arithmetic sees it).
                func refuse(_ why: String) -> TraceError {
                    TraceError(
                        file: m.file, line: m.line, column: 1,
                        message: "cannot map \(hex(m.start))-\(hex(m.end)): \(why)")
                }
                guard m.start & (page - 1) == 0 && m.end & (page - 1) == 0 else {
                    throw refuse("not page-aligned (\(ByteSize.format(page)) pages)")
                }
                guard m.end <= userTop else {
                    throw refuse("beyond the user address space (which ends at \(hex(userTop)))")
                }
                guard m.start >= Kernel.mmapMinAddr else {
                    throw refuse("below mmap_min_addr (\(hex(Kernel.mmapMinAddr)))")
                }
                areas.append((m.start, m.end, m.read, m.write, m.exec, m.shared, m.name, m.line))
            }
        } else {
            let keys = trace.keys.sorted()
            if let lowest = keys.first, let a = Self.address(ofKey: lowest, shift: shift, relocation: 0),
                a < Kernel.mmapMinAddr
            {
                result.relocation = 256 << 20
            }
            var current: (start: UInt64, end: UInt64)?
            for key in keys {
                // Beyond user space (or beyond 64 bits): no area; those accesses fault.
                guard
                    let address = Self.address(
                        ofKey: key, shift: shift, relocation: result.relocation, bits: bits),
                    address < userTop, userTop - address >= span
                else { continue }
                let start = address & ~(page - 1)
                let last = address + span - 1  // ≤ userTop − 1: no overflow, nor in the round-up
                let end = (last | (page - 1)) + 1
                if let c = current, start <= c.end + Self.mergeGap {
                    current = (c.start, max(c.end, end))
                } else {
                    if let c = current { areas.append((c.start, c.end, true, true, false, false, "", 0)) }
                    current = (start, end)
                }
            }
            if let c = current { areas.append((c.start, c.end, true, true, false, false, "", 0)) }
        }
        for a in areas {
            var request = MapRequest(
                length: a.end - a.start,
                protection: Protection(rawValue: (a.read ? 1 : 0) | (a.write ? 2 : 0) | (a.exec ? 4 : 0)),
                shared: a.shared)
            request.address = a.start
            request.fixed = true
            request.noReserve = true
            if !a.name.isEmpty { request.name = a.name }
            do {
                _ = try kernel.mmap(task, request)
            } catch {
                let entry = maps?.first { $0.line == a.line }
                throw TraceError(
                    file: entry?.file ?? trace.name, line: entry?.line ?? 0, column: entry == nil ? 0 : 1,
                    message: "cannot map \(hex(a.start))-\(hex(a.end)) for the trace: \(error)")
            }
            result.areas.append((a.start, a.end, a.name))
        }
        let relocation = result.relocation
        var policy: (any ReplacementPolicy)?
        var victims: PolicyVictims?
        var nextUse: [UInt32] = []
        if let policyKind, policyKind != .linux, let mm = task.mm {
            let minimum = kernel.phys.zones.reduce(0) { $0 + $1.minWatermark }
            let frames = max(1, kernel.phys.freePages - minimum)
            let p = makePolicy(policyKind, frames: frames, options: options)
            p.reserve(trace.distinct)
            policy = p
            let source = PolicyVictims(
                policy: p, mm: mm, keys: trace.keys, shift: shift, relocation: relocation)
            victims = source
            kernel.reclaim.victims = source
            result.policy = policyKind
            result.policyFrames = frames
            if policyKind.needsFuture { nextUse = trace.nextUse() }
        }
        defer { kernel.reclaim.victims = nil }
        kernel.resetCounters()
        let startTime = kernel.now
        let skippedBefore = kernel.reclaim.victimsSkipped
        var performed = 0
        var stores = 0
        var firstTouchStores = 0
        // Dense ids are numbered in order of first appearance: an access is its page's first
        // exactly when its id is the next one not seen yet.
        var unseen: UInt32 = 0
        let sampled = [(name, task)]
        timeline?.sample(kernel: kernel, processes: sampled, accesses: 0, line: 0)
        trace.ids.withUnsafeBufferPointer { ids in
            trace.keys.withUnsafeBufferPointer { keys in
                for i in 0..<ids.count {
                    let key = keys[Int(ids[i])]
                    guard
                        let address = Self.address(
                            ofKey: key, shift: shift, relocation: relocation, bits: bits)
                    else {
                        // No address the CPU can issue: x86 raises #GP for it as for any
                        // non-canonical address, and Linux reports SIGSEGV with si_addr 0.
                        let moved = relocation == 0 ? "" : ", moved up by \(hex(relocation)),"
                        result.outcome = .signal(
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
                        if firstTouchWrites && !write {
                            write = true
                            firstTouchStores += 1
                        }
                    }
                    if write { stores += 1 }
                    let r = kernel.userAccess(task, address: address, access: write ? .write : .read)
                    switch r {
                    case .ok:
                        performed += 1
                        if let policy {
                            let next: Int64 =
                                nextUse.isEmpty || nextUse[i] == .max ? .max : Int64(nextUse[i])
                            _ = policy.access(Int32(bitPattern: ids[i]), write: write, next: next)
                        }
                    case .signal(let info):
                        result.outcome = .signal(info, access: i)
                    case .outOfMemory:
                        result.outcome = .outOfMemory(access: i)
                    }
                    if let timeline, UInt64(i &+ 1) >= timeline.nextSample {
                        timeline.sample(kernel: kernel, processes: sampled, accesses: UInt64(i + 1), line: 0)
                    }
                    if result.outcome != .completed { break }
                    if i & 0xFFFF == 0 { progress?.update(i) }
                }
            }
        }
        // The last sample at the end of the replay (or where it stopped).
        let end = UInt64(result.outcome == .completed ? trace.count : performed + 1)
        if let timeline, timeline.samples.last?.accesses != end {
            timeline.sample(kernel: kernel, processes: sampled, accesses: end, line: 0)
        }
        result.performed = performed
        result.stores = stores
        result.firstTouchStores = firstTouchStores
        result.minorFaults = task.minorFaults
        result.majorFaults = task.majorFaults
        result.tlb = kernel.mmu.tlb.stats
        let phys = kernel.phys
        result.pswpin = phys.events(.pswpin)
        result.pswpout = phys.events(.pswpout)
        result.pgscan = phys.events(.pgscanKswapd) + phys.events(.pgscanDirect)
        result.pgsteal = phys.events(.pgstealKswapd) + phys.events(.pgstealDirect)
        result.simulatedNanoseconds = kernel.now - startTime
        result.policyVictims = victims?.named ?? 0
        result.policyVictimsSkipped = kernel.reclaim.victimsSkipped - skippedBefore
        return result
    }
}
