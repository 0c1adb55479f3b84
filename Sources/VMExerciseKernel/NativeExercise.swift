import VMExercise
import VMTypes

/// Exercises only a kernel model can pose: each generated from a seed and a difficulty, its
/// key computed by running vmsim's own kernel (the scenario runner, the buddy allocator, the
/// watermark setup), never by a second copy of the arithmetic.
public enum NativeExerciseKind: String, CaseIterable, Sendable {
    /// Predict minor and major faults and RSS after each line of a short scenario.
    case faults
    /// After a fork and some writes: which frames are shared, which copied, and mapcounts.
    case cow
    /// Free lists after each `alloc_pages`/`__free_pages`, and `/proc/buddyinfo`.
    case buddy
    /// Each zone's min/low/high watermarks and lowmem reserves, and watermark checks.
    case watermarks
    /// Page tables per level and their bytes for a layout, and TLB reach.
    case pageTables = "page-tables"
    /// Linux's two-list LRU after each reference, beside FIFO, LRU, CLOCK and OPT.
    case replacement

    public var summary: String {
        switch self {
        case .faults: "count the minor and major faults and the RSS after each line of a scenario"
        case .cow: "copy-on-write after fork: shared and copied frames, mapcounts"
        case .buddy: "the buddy allocator's free lists after each allocation and free"
        case .watermarks: "zone watermarks and lowmem reserves from min_free_kbytes, and watermark checks"
        case .pageTables: "page tables per level and their size for an address-space layout, and TLB reach"
        case .replacement:
            "Linux's active/inactive lists after each reference, beside FIFO, LRU, CLOCK and OPT"
        }
    }
}

/// A setting of a generated exercise that is out of range.
public struct NativeExerciseError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { self.message }
    public init(_ message: String) { self.message = message }
}

/// Builds the exercise of `kind` for `seed` and `difficulty` (1 easy … 3 hard).
public func nativeExercise(_ kind: NativeExerciseKind, seed: UInt64, difficulty: Int)
    throws(NativeExerciseError)
    -> WorkedExercise
{
    guard (1...3).contains(difficulty) else {
        throw NativeExerciseError("--difficulty: expected 1, 2 or 3, got \(difficulty)")
    }
    switch kind {
    case .faults: return try FaultCountExercise(seed: seed, difficulty: difficulty).worked
    case .cow: return try CopyOnWriteExercise(seed: seed, difficulty: difficulty).worked
    case .buddy: return try BuddyExercise(seed: seed, difficulty: difficulty).worked
    case .watermarks: return try WatermarkExercise(seed: seed, difficulty: difficulty).worked
    case .pageTables: return try PageTableSizeExercise(seed: seed, difficulty: difficulty).worked
    case .replacement: return try ReplacementExercise(seed: seed, difficulty: difficulty).worked
    }
}

extension SeededGenerator {
    /// A uniformly chosen integer in `range`.
    mutating func pick(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// A uniformly chosen element.
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}
