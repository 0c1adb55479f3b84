import CPrefetch

/// The replacement policies vmsim simulates, by the names the command line takes.
public enum PolicyKind: String, CaseIterable, Sendable {
    case fifo, lru, mru, lfu, clock, clock2, secondChance = "second-chance", arc, twoq, lirs, clockpro,
        s3fifo,
        sieve, opt, random, linux, mglru

    /// What the policy is, in one line, and where its definition comes from.
    public var summary: String {
        switch self {
        case .fifo: return "first in, first out (libCacheSim FIFO)"
        case .lru: return "least recently used (libCacheSim LRU)"
        case .mru: return "most recently used (libCacheSim MRU; C API only there)"
        case .lfu: return "least frequently used, LRU among equals (libCacheSim LFU)"
        case .clock: return "CLOCK with a 1-bit reference counter (libCacheSim Clock)"
        case .clock2: return "CLOCK with a 2-bit counter (libCacheSim Clock, n-bit-counter=2)"
        case .secondChance: return "second chance: FIFO with a reference bit (= libCacheSim Clock)"
        case .arc: return "adaptive replacement cache (libCacheSim ARC)"
        case .twoq: return "2Q: FIFO in, ghost out, LRU main (libCacheSim TwoQ)"
        case .lirs: return "low inter-reference recency set (libCacheSim LIRS)"
        case .clockpro: return "CLOCK-Pro (Jiang, Chen, Zhang 2005; the textbook algorithm)"
        case .s3fifo: return "S3-FIFO (libCacheSim S3FIFO)"
        case .sieve: return "SIEVE (libCacheSim Sieve)"
        case .opt: return "Belady's optimal, demand fetch (libCacheSim Belady)"
        case .random: return "random eviction, seeded"
        case .linux: return "Linux's two-list active/inactive LRU with the two-touch rule"
        case .mglru: return "Linux's multi-generational LRU (MGLRU, 6.18) for anonymous pages"
        }
    }

    /// Whether the policy needs the time of each access's next use.
    public var needsFuture: Bool { self == .opt }
}

extension PolicyKind {
    /// The most frames a policy is sized for; larger counts are treated as this one.
    ///
    /// Exact, not an approximation: a trace has at most 2^31 distinct pages (ids are 32-bit),
    /// and every policy here evicts only when its frames are full, so with 2^40 frames — and
    /// every share of them a policy derives: S3-FIFO's 10 %, 2Q's quarter, LIRS's 1 % — nothing
    /// is ever evicted and any larger count gives the same hits. Kernel mode sizes a policy by
    /// RAM (at most 2^28 pages). Clamping here keeps the derived sizes (`2 × frames + 16`, …)
    /// far from overflow.
    public static let maxFrames = 1 << 40
}

/// `frames` as a policy keeps it: at least 1, at most `PolicyKind.maxFrames`.
func policyFrames(_ frames: Int) -> Int { min(max(frames, 1), PolicyKind.maxFrames) }

/// The slots a table of `limit` entries needs once ids below `seen` exist: no more than the
/// pages seen (a page is in a list at most once), and 1024 before any `reserve`, so tests that
/// never reserve can use ids below 1024.
func slotsFor(limit: Int, seen: Int) -> Int { max(1, min(limit, max(seen, 1024))) }

/// Options a policy may take.
public struct PolicyOptions: Sendable {
    /// Seed of the random policy.
    public var seed: UInt64 = 1
    /// Seed 1.
    public init() {}
}

/// A page-replacement policy over dense ids (the pages of a trace numbered in order of first
/// appearance) with a fixed number of frames.
///
/// Host memory follows the pages a policy sees, never the frame count: per-page state and every
/// table sized by frames (rings, heaps, lazy queues, ghost lists) grow in `reserve(_:)` to at
/// most the ids that exist, so `--frames 4294967296` costs what `--frames 100` does.
///
/// Follows libCacheSim's `cache_get_base()`: a request is a hit if the page is resident; on a
/// miss, if the policy can take the page, pages are evicted while the frames are full, then the
/// page is inserted. Ghost entries (ARC, 2Q, S3-FIFO, LIRS) are never hits.
public protocol ReplacementPolicy: AnyObject {
    init(frames: Int, options: PolicyOptions)
    /// One access to `id`; `next` is the (0-based) position of the next access to the same
    /// page, or `Int64.max` if there is none (only OPT uses it). Returns true on a hit.
    func access(_ id: Int32, write: Bool, next: Int64) -> Bool
    /// Makes room for ids below `count` (called before the first access to any id at or above
    /// 1024, and again as more ids appear); grows frame-sized tables to at most `count` entries.
    func reserve(_ count: Int)
    /// Frees one frame on demand from outside — kernel-mode reclaim asking the policy for its
    /// victim: evicts the page the policy would evict next (running its hands, moving pages
    /// between its lists, remembering ghosts, as its own eviction does) and returns it, or nil
    /// when nothing is resident. Counted in `stats` like any eviction.
    func evict() -> Int32?
    var stats: PolicyStats { get }
    /// Starts loading `id`'s state into the cache without waiting (a prefetch): the replay
    /// loops call it a few accesses ahead so the cache misses overlap.
    func prefetch(_ id: Int32)
}

extension ReplacementPolicy {
    public func prefetch(_ id: Int32) {}
}

/// Counters every policy keeps.
public struct PolicyStats: Sendable, Equatable {
    /// Pages evicted.
    public var evictions = 0
    /// Evicted pages that had been written since they were loaded.
    public var dirtyEvictions = 0
    /// Nothing evicted yet.
    public init() {}
}

/// Dirty bits per id, shared by the policies.
@usableFromInline
struct DirtyBits {
    /// One byte per id: 1 when dirty.
    @usableFromInline var bits: Slab<UInt8>
    /// Room for ids below `capacity`.
    @usableFromInline init(capacity: Int) { self.bits = Slab(count: capacity, fill: 0) }
    /// Room for ids below `n`.
    @inlinable mutating func grow(to n: Int) { self.bits.grow(to: n) }
    /// Marks `id` dirty.
    @inlinable func mark(_ id: Int32) { self.bits[Int(id)] = 1 }
    /// Clears the bit of an evicted page; true if it was dirty.
    @inlinable func evict(_ id: Int32) -> Bool {
        let d = self.bits[Int(id)] != 0
        self.bits[Int(id)] = 0
        return d
    }
    /// Frees the table.
    func free() { self.bits.free() }
}

extension PolicyKind {
    /// The smallest number of frames with which the policy caches anything: below it, libCacheSim's
    /// sizing rules (followed exactly, see each policy's doc comment) leave a list of size 0 and
    /// every access misses.
    public var smallestCachingSize: Int {
        switch self {
        case .twoq: return 4
        case .s3fifo: return 20
        case .lirs: return 2
        default: return 1
        }
    }

    /// Why the policy caches nothing at `frames` frames (every access misses), or nil if it does
    /// cache: the rule, as a note under a table.
    public func cachesNothingRule(frames: Int) -> String? {
        guard frames < self.smallestCachingSize else { return nil }
        switch self {
        case .twoq:
            return
                "twoq caches nothing below 4 frames: A1in gets ⌊25% × frames⌋ = 0 of them (libCacheSim TwoQ.c)"
        case .s3fifo:
            return "s3fifo caches nothing below 20 frames: its small FIFO gets ⌊10% × frames⌋ ≤ 1 and a "
                + "page is refused then (libCacheSim S3FIFO.c)"
        case .lirs:
            return "lirs caches nothing with 1 frame: the LIR set gets frames − 1 = 0 (libCacheSim LIRS.c)"
        default:
            return nil
        }
    }
}
