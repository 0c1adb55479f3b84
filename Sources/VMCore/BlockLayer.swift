import VMPhys
import VMTypes

/// What happens when a disk request completes (`bio->bi_end_io`).
enum IOWork {
    /// Page-cache pages become up to date and are unlocked (`mpage_read_end_io()`).
    case read(FileID, [UInt64])
    /// Pages' writeback ends; the words they held at submission reach the disk
    /// (`mpage_write_end_io()` → `folio_end_writeback()`).
    case write(FileID, [(index: UInt64, word: UInt64)])
    /// Swap slots of area `type` read into or written from pages: (slot, word, page).
    case swap(Int, write: Bool, [(UInt64, UInt64, PFN)])
}

/// A request on its way to the disk, with the time it completes.
struct PendingIO {
    var time: UInt64
    var sequence: UInt64
    var work: IOWork
}

/// The block layer (block/blk-core.c, block/blk-merge.c): requests go to the disk, which says
/// when each completes, and wait in completion order until the clock reaches them.
///
/// Pages submitted together are merged into one request per run of consecutive blocks (the
/// plug's back merges, `blk_attempt_plug_merge()`), at most `maxRequestPages` each
/// (`max_sectors_kb` 1280 KiB). Simplified: one hardware queue, no I/O scheduler reordering,
/// no merging with requests already sent.
public final class BlockLayer {
    /// The largest request the disk takes (`max_sectors_kb` 1280 KiB: `io_pages`).
    static let maxRequestPages: UInt64 = 320

    public let disk: BlockDevice
    /// Requests submitted and not yet completed, in completion order (time, then submission).
    private(set) var pending: [PendingIO] = []
    private var sequence: UInt64 = 0

    init(disk: BlockDevice) { self.disk = disk }

    /// Whether nothing is in flight.
    public var isIdle: Bool { self.pending.isEmpty }
    /// When the earliest request in flight completes.
    var nextCompletion: UInt64? { self.pending.first?.time }

    /// `submit_bio()`: hands `request` to the disk at `now`; returns when it completes.
    func submit(_ request: BlockRequest, _ work: IOWork, now: UInt64) -> UInt64 {
        let done = self.disk.submit(request, now: now)
        self.sequence += 1
        let io = PendingIO(time: done, sequence: self.sequence, work: work)
        var i = self.pending.count
        while i > 0, (self.pending[i - 1].time, self.pending[i - 1].sequence) > (io.time, io.sequence) {
            i -= 1
        }
        self.pending.insert(io, at: i)
        return done
    }

    /// The earliest request, taken off the queue as it completes.
    func completeNext() -> PendingIO {
        let io = self.pending.removeFirst()
        self.disk.complete()
        return io
    }

    /// Whether a request in flight matches `predicate` (a file's I/O, a swap area's).
    func hasPending(_ predicate: (IOWork) -> Bool) -> Bool { self.pending.contains { predicate($0.work) } }

    /// Splits `items` (ascending by page index) into requests: a run continues while both the
    /// page index and its block are the previous one's plus one, up to `maxRequestPages`.
    /// `block` gives an item's block, or nil for a hole, which ends the run and goes to `hole`.
    static func plugRuns<Item>(
        _ items: [Item], index: (Item) -> UInt64, block: (Item) -> UInt64?,
        hole: (Item) -> Void = { _ in }, submit: (_ block: UInt64, _ run: [Item]) -> Void
    ) {
        var run: [Item] = []
        var runBlock: UInt64 = 0
        var lastIndex: UInt64 = 0
        for item in items {
            guard let b = block(item) else {
                if !run.isEmpty { submit(runBlock, run) }
                run = []
                hole(item)
                continue
            }
            let i = index(item)
            if !run.isEmpty, i == lastIndex + 1, b == runBlock + UInt64(run.count),
                UInt64(run.count) < Self.maxRequestPages
            {
                run.append(item)
            } else {
                if !run.isEmpty { submit(runBlock, run) }
                run = [item]
                runBlock = b
            }
            lastIndex = i
        }
        if !run.isEmpty { submit(runBlock, run) }
    }
}
