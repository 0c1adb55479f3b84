import Dispatch
import Foundation

/// The hand-over between a producer thread and its consumer through a ring of `slots` buffers —
/// what `DecompressionPipeline` (decompressed chunks) and VMTrace's `ReadAheadReader` (parsed
/// batches) share: the producer waits for a free slot, fills it and publishes it; the consumer
/// waits for a full one, empties it and releases it. So the producer runs at most `slots`
/// ahead, and blocks rather than spins.
///
/// `shutDown()` stops a producer that may be waiting for a free slot and waits until it has
/// left (`producerFinished()`), whatever was produced and not consumed. The free-slot semaphore
/// is made with 0 and signalled `slots` times: libdispatch traps when a semaphore is freed below
/// the value it was made with, which a consumer that stops early would otherwise cause.
public final class SlotRing: @unchecked Sendable {
    public let slots: Int
    private let free = DispatchSemaphore(value: 0)
    private let full = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let stopLock = DispatchSemaphore(value: 1)
    private var stopping = false

    public init(slots: Int) {
        self.slots = slots
        for _ in 0..<slots { self.free.signal() }
    }

    /// Starts `body` on a thread of its own, not a Dispatch worker: a producer blocks, and a pool
    /// of as many workers as cores could be taken up by blocked producers.
    public static func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }

    // MARK: The producer's side

    /// Waits for a free slot; false when the consumer has shut the ring down (stop producing).
    public func waitForFreeSlot() -> Bool {
        self.free.wait()
        self.stopLock.wait()
        defer { self.stopLock.signal() }
        return !self.stopping
    }

    /// The slot just filled may be consumed.
    public func publish() { self.full.signal() }

    /// The producer has left (call once, last).
    public func producerFinished() { self.finished.signal() }

    // MARK: The consumer's side

    /// Waits for the next full slot.
    public func waitForFullSlot() { self.full.wait() }

    /// The slot just emptied may be filled again.
    public func release() { self.free.signal() }

    /// Stops the producer and waits until it has left.
    public func shutDown() {
        self.stopLock.wait()
        self.stopping = true
        self.stopLock.signal()
        self.free.signal()
        self.finished.wait()
    }
}
