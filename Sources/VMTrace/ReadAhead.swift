import TraceInput

/// A trace reader that parses on a second thread, a few batches ahead of its consumer: the
/// consumer (a kernel-mode replay, whose every access runs the simulated MMU and kernel) and
/// the parser then overlap instead of taking turns. Memory is the ring of batches (4 × 64 Ki
/// accesses, 2.3 MiB), whatever the trace's length.
///
/// The inner reader is used only by the producer thread once this reader exists. An error is
/// delivered in order: the batches read before it first, then `read` throws it. When the
/// consumer stops early, deinit stops the producer and waits for it.
public final class ReadAheadReader: TraceReader {
    let pipeline: ReadAheadPipeline
    public let format: TraceFormat
    public let name: String
    public let compression: Compression
    public private(set) var stats = ReaderStats()
    public private(set) var position: InputPosition

    /// Reads `inner` ahead on a thread of its own.
    public init(_ inner: any TraceReader) {
        self.format = inner.format
        self.name = inner.name
        self.compression = inner.compression
        self.position = inner.position
        self.pipeline = ReadAheadPipeline(inner)
    }

    deinit { self.pipeline.shutDown() }

    public func read(into batch: AccessBatch) throws -> Bool {
        guard let (stats, position) = try self.pipeline.take(into: batch) else {
            batch.count = 0
            return false
        }
        self.stats = stats
        self.position = position
        return true
    }
}

/// The ring `ReadAheadReader` shares with its producer thread (handed over through a
/// `SlotRing`): each slot carries a batch and the reader's stats and position after it, or the
/// end, or an error.
final class ReadAheadPipeline: @unchecked Sendable {
    static let slots = 4
    let inner: any TraceReader
    let batches: [AccessBatch]
    /// Per slot: the stats and position after it (nil: the end), or the error that ended it.
    var after: [(stats: ReaderStats, position: InputPosition)?]
    var errors: [(any Error)?]
    let ring = SlotRing(slots: ReadAheadPipeline.slots)
    /// The consumer's side: the next slot, and whether the end (or an error) was taken.
    var next = 0
    var over = false

    init(_ inner: any TraceReader) {
        self.inner = inner
        self.batches = (0..<Self.slots).map { _ in AccessBatch() }
        self.after = Array(repeating: nil, count: Self.slots)
        self.errors = Array(repeating: nil, count: Self.slots)
        SlotRing.startThread(named: "vmsim-read-ahead") { self.produce() }
    }

    /// The producer: fills slots until the end, an error, or `shutDown()`.
    func produce() {
        var slot = 0
        while true {
            if !self.ring.waitForFreeSlot() { break }
            let batch = self.batches[slot]
            var more = false
            do {
                more = try self.inner.read(into: batch)
                self.after[slot] = more ? (self.inner.stats, self.inner.position) : nil
            } catch {
                self.errors[slot] = error
                self.after[slot] = nil
            }
            self.ring.publish()
            if !more { break }
            slot = (slot + 1) % Self.slots
        }
        self.ring.producerFinished()
    }

    /// Copies the next batch into `batch`: its stats and position, or nil at the end.
    func take(into batch: AccessBatch) throws -> (ReaderStats, InputPosition)? {
        if self.over { return nil }
        self.ring.waitForFullSlot()
        let slot = self.next
        self.next = (slot + 1) % Self.slots
        if let error = self.errors[slot] {
            self.over = true
            throw error
        }
        guard let after = self.after[slot] else {
            self.over = true
            return nil
        }
        let source = self.batches[slot]
        precondition(batch.capacity >= source.count, "ReadAheadReader: batch too small")
        batch.count = source.count
        batch.hasNext = source.hasNext
        batch.keys.update(from: source.keys, count: source.count)
        batch.writes.update(from: source.writes, count: source.count)
        if source.hasNext { batch.next.update(from: source.next, count: source.count) }
        self.ring.release()
        return after
    }

    /// Stops the producer (it may be waiting for a free slot) and waits until it has.
    func shutDown() { self.ring.shutDown() }
}
