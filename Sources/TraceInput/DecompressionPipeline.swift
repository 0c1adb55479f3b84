import Dispatch
import Foundation

/// Decompresses a file on a second thread, a bounded number of chunks ahead of the reader: the
/// producer fills free chunks with decompressed bytes, the reader empties full ones — a ring of
/// `slots` chunks handed over through a `SlotRing`, so the producer blocks when it is `slots`
/// chunks ahead and the reader when it catches up. Inflating (zlib ≈ 300 MB/s) then
/// overlaps parsing instead of adding to it.
///
/// An error in the producer is delivered in order: the chunks before it are read first, then
/// `read` throws it. `shutDown()` (the owner's deinit) stops the producer and waits for it.
final class DecompressionPipeline: @unchecked Sendable {
    static let slots = 4
    static let chunk = 1 << 20
    let file: FileBytes
    let buffers: UnsafeMutablePointer<UInt8>
    /// Bytes in each chunk (0: the end), and the file position after producing it.
    let lengths: UnsafeMutablePointer<Int>
    let positions: UnsafeMutablePointer<Int64>
    /// The producer's error, read by the reader after the chunk marked -1.
    var error: InputError?
    let ring = SlotRing(slots: DecompressionPipeline.slots)
    // The reader's side.
    var slot = -1
    var offset = 0
    var atEnd = false
    var readerPosition: Int64 = 0

    init(_ file: FileBytes) {
        self.file = file
        self.buffers = .allocate(capacity: Self.slots * Self.chunk)
        self.lengths = .allocate(capacity: Self.slots)
        self.lengths.initialize(repeating: 0, count: Self.slots)
        self.positions = .allocate(capacity: Self.slots)
        self.positions.initialize(repeating: 0, count: Self.slots)
        SlotRing.startThread(named: "vmsim-decompress") { self.produce() }
    }

    deinit {
        self.buffers.deallocate()
        self.lengths.deallocate()
        self.positions.deallocate()
    }

    /// The producer: fills chunks until the end, an error, or `shutDown()`.
    func produce() {
        var p = 0
        while true {
            if !self.ring.waitForFreeSlot() { break }
            let base = self.buffers + p * Self.chunk
            var n = 0
            var failed = false
            do {
                while n < Self.chunk {
                    let k = try self.file.read(into: base + n, count: Self.chunk - n)
                    if k == 0 { break }
                    n += k
                }
            } catch {
                self.error = error
                failed = true
            }
            // A failure comes after the bytes decoded before it, in a chunk of its own.
            if failed && n > 0 {
                self.lengths[p] = n
                self.positions[p] = self.file.position.consumed
                self.ring.publish()
                p = (p + 1) % Self.slots
                if !self.ring.waitForFreeSlot() { break }
            }
            self.lengths[p] = failed ? -1 : n
            self.positions[p] = self.file.position.consumed
            self.ring.publish()
            if failed || n == 0 { break }
            p = (p + 1) % Self.slots
        }
        self.ring.producerFinished()
    }

    var position: InputPosition {
        InputPosition(consumed: self.readerPosition, size: self.file.size)
    }

    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws(InputError) -> Int {
        guard count > 0 && !self.atEnd else { return 0 }
        if self.slot < 0 || self.offset == self.lengths[self.slot] {
            if self.slot >= 0 { self.ring.release() }
            self.ring.waitForFullSlot()
            self.slot = (self.slot + 1) % Self.slots
            self.offset = 0
            self.readerPosition = self.positions[self.slot]
            let n = self.lengths[self.slot]
            if n < 0 {
                self.atEnd = true
                throw self.error ?? InputError(file: self.file.name, message: "decompression failed")
            }
            if n == 0 {
                self.atEnd = true
                return 0
            }
        }
        let n = min(count, self.lengths[self.slot] - self.offset)
        buffer.update(from: self.buffers + self.slot * Self.chunk + self.offset, count: n)
        self.offset += n
        return n
    }

    /// Stops the producer and waits until it has left (it may be blocked on a free chunk).
    func shutDown() { self.ring.shutDown() }
}
