import VMTypes

/// One request to the disk (a merged `struct request`): contiguous 4 KiB blocks.
public struct BlockRequest: Sendable, Hashable {
    public enum Operation: Sendable, Hashable { case read, write }
    public var operation: Operation
    public var block: UInt64
    public var count: UInt64
}

/// `/proc/diskstats` counters of the disk (include/linux/part_stat.h); times in nanoseconds.
public struct DiskStats: Sendable, Hashable {
    public var readsCompleted: UInt64 = 0
    public var readsMerged: UInt64 = 0
    public var sectorsRead: UInt64 = 0
    public var readNanos: UInt64 = 0
    public var writesCompleted: UInt64 = 0
    public var writesMerged: UInt64 = 0
    public var sectorsWritten: UInt64 = 0
    public var writeNanos: UInt64 = 0
    /// Time the disk had at least one request (`io_ticks`).
    public var busyNanos: UInt64 = 0
    /// Sum over requests of their time from submission to completion (`time_in_queue`).
    public var queueNanos: UInt64 = 0
    /// Seeks the model charged (HDD only): requests that did not continue where the head was.
    public var seeks: UInt64 = 0
}

/// The disk under the simulated file system: a latency model and its statistics.
///
/// Requests are served one at a time in submission order (a single queue with no reordering,
/// like the `none` scheduler on a disk without internal queueing); a request submitted while
/// the disk is busy starts when the previous one completes. The service time of a request is
/// its positioning time plus its transfer time:
///
/// - **hdd**: a request that does not start where the previous one ended pays a seek of
///   0.5 ms + 15 ms × √(distance / capacity) (full-stroke 15.5 ms, about 8.5 ms for a random
///   seek) and half a rotation at 7200 rpm (4.17 ms); transfer at 150 MB/s.
/// - **ssd**: 80 µs per read command and 30 µs per write command, transfer at 500 MB/s.
/// - **nvme**: 15 µs per command, transfer at 3 GB/s.
///
/// Simplified: no request merging in a queue, no parallelism inside SSDs, no write cache flushes.
public final class BlockDevice {
    public let kind: DiskKind
    /// Capacity in 4 KiB blocks.
    public let capacityBlocks: UInt64
    public internal(set) var stats = DiskStats()
    /// The block after the last one transferred (where an HDD's head is).
    public internal(set) var head: UInt64 = 0
    /// When the disk finishes the requests it has been given.
    public internal(set) var busyUntil: UInt64 = 0
    /// Requests submitted and not yet completed.
    public internal(set) var inFlight = 0

    public init(kind: DiskKind, capacityBlocks: UInt64) {
        self.kind = kind
        self.capacityBlocks = max(capacityBlocks, 1)
    }

    /// The time the disk spends on `request` when its head is at `head` (nanoseconds).
    public func serviceTime(_ request: BlockRequest, head: UInt64) -> UInt64 {
        let bytes = Double(request.count * 4096)
        switch self.kind {
        case .hdd:
            var positioning = 0.0
            if request.block != head {
                let distance = Double(request.block > head ? request.block - head : head - request.block)
                positioning = 0.5e6 + 15e6 * (distance / Double(self.capacityBlocks)).squareRoot() + 4.17e6
            }
            return UInt64(positioning + bytes / 150e6 * 1e9)
        case .ssd:
            let command = request.operation == .read ? 80e3 : 30e3
            return UInt64(command + bytes / 500e6 * 1e9)
        case .nvme:
            return UInt64(15e3 + bytes / 3e9 * 1e9)
        }
    }

    /// Queues `request` at time `now`; returns when it completes. Statistics are charged at
    /// submission (the completion time is already known).
    func submit(_ request: BlockRequest, now: UInt64) -> UInt64 {
        let start = max(now, self.busyUntil)
        if self.kind == .hdd && request.block != self.head { self.stats.seeks += 1 }
        let service = self.serviceTime(request, head: self.head)
        let done = start + service
        self.stats.busyNanos += service
        self.busyUntil = done
        self.head = request.block + request.count
        self.stats.queueNanos += done - now
        switch request.operation {
        case .read:
            self.stats.readsCompleted += 1
            self.stats.sectorsRead += request.count * 8
            self.stats.readNanos += done - now
        case .write:
            self.stats.writesCompleted += 1
            self.stats.sectorsWritten += request.count * 8
            self.stats.writeNanos += done - now
        }
        self.inFlight += 1
        return done
    }

    func complete() { self.inFlight -= 1 }

    func resetStats() { self.stats = DiskStats() }
}
