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

/// Block I/O and the simulated clock (block/blk-core.c, fs/mpage.c, kernel/time): reads and
/// writes of page-cache pages become disk requests that complete later; time advances only
/// when a task waits (for a page under I/O, for writeback) or a scenario says `tick`, and the
/// events due on the way — I/O completions, flusher wake-ups — run in time order.
extension Kernel {
    /// The largest request the disk takes (`max_sectors_kb` 1280 KiB: `io_pages`).
    static let maxRequestPages: UInt64 = 320

    // MARK: Submitting

    /// `submit_bio()` for reads of `indices` (ascending) of `file`, whose pages are already in
    /// the cache, locked and not up to date. Pages in consecutive blocks share a request; pages
    /// in holes are zero-filled at once without I/O, as `mpage_readahead()` does.
    func submitRead(_ file: SimFile, _ indices: [UInt64]) {
        var run: [UInt64] = []
        var runBlock: UInt64 = 0
        func flush() {
            guard !run.isEmpty else { return }
            self.queueIO(
                BlockRequest(operation: .read, block: runBlock, count: UInt64(run.count)), .read(file.id, run)
            )
            self.phys.count(.pgpgin, UInt64(run.count) * UInt64(self.phys.pageSize >> 10))
            run = []
        }
        for index in indices {
            guard let block = file.block(of: index) else {
                flush()
                self.readComplete(file, index)
                continue
            }
            if let last = run.last, index == last + 1, block == runBlock + UInt64(run.count),
                UInt64(run.count) < Kernel.maxRequestPages
            {
                run.append(index)
            } else {
                flush()
                run = [index]
                runBlock = block
            }
        }
        flush()
    }

    /// Submits writes of (index, word) pairs, ascending, of `file`: pages in consecutive blocks
    /// share a request. Pages in holes get blocks first (allocation at writeback, as delayed
    /// allocation does).
    func submitWrite(_ file: SimFile, _ items: [(index: UInt64, word: UInt64)]) {
        self.allocateBlocks(file, items.map(\.index))
        var run: [(index: UInt64, word: UInt64)] = []
        var runBlock: UInt64 = 0
        func flush() {
            guard !run.isEmpty else { return }
            self.queueIO(
                BlockRequest(operation: .write, block: runBlock, count: UInt64(run.count)),
                .write(file.id, run))
            self.phys.count(.pgpgout, UInt64(run.count) * UInt64(self.phys.pageSize >> 10))
            run = []
        }
        for item in items {
            let block = file.block(of: item.index)!
            if let last = run.last, item.index == last.index + 1, block == runBlock + UInt64(run.count),
                UInt64(run.count) < Kernel.maxRequestPages
            {
                run.append(item)
            } else {
                flush()
                run = [item]
                runBlock = block
            }
        }
        flush()
    }

    /// Gives blocks to the pages among `indices` that are in holes: consecutive new pages get
    /// consecutive blocks.
    func allocateBlocks(_ file: SimFile, _ indices: [UInt64]) {
        var pending: [UInt64] = []
        func flush() {
            guard let first = pending.first else { return }
            let count = UInt64(pending.count)
            let block = self.allocBlocks(count)
            if let last = file.extents.last, last.index + last.count == first,
                last.block + last.count == block
            {
                file.extents[file.extents.count - 1].count += count
            } else {
                file.extents.append(Extent(index: first, block: block, count: count))
                file.extents.sort { $0.index < $1.index }
            }
            pending = []
        }
        for index in indices where file.block(of: index) == nil {
            if let last = pending.last, index != last + 1 { flush() }
            pending.append(index)
        }
        flush()
    }

    /// Hands a request to the disk and remembers what to do when it completes.
    func queueIO(_ request: BlockRequest, _ work: IOWork) {
        let done = self.vfs.disk.submit(request, now: self.now)
        self.emit(
            .blockIO(
                write: request.operation == .write, block: request.block, pages: request.count,
                time: self.now,
                completes: done))
        self.vfs.ioSequence += 1
        let io = PendingIO(time: done, sequence: self.vfs.ioSequence, work: work)
        // Completion order: by time, then submission order.
        self.vfs.nextDue = min(self.vfs.nextDue, done)
        var i = self.vfs.pendingIO.count
        while i > 0,
            (self.vfs.pendingIO[i - 1].time, self.vfs.pendingIO[i - 1].sequence) > (io.time, io.sequence)
        {
            i -= 1
        }
        self.vfs.pendingIO.insert(io, at: i)
    }

    // MARK: Completing

    func complete(_ io: PendingIO) {
        self.vfs.disk.complete()
        switch io.work {
        case .read(let id, let indices):
            let file = self.file(id)
            for index in indices { self.readComplete(file, index) }
        case .write(let id, let items):
            let file = self.file(id)
            for item in items {
                if !file.released { file.disk[item.index] = item.word }
                if let pfn = file.pages[item.index] { self.endPageWriteback(file, pfn) }
            }
        case .swap(let type, let write, let items):
            self.completeSwapIO(type, write: write, items)
        }
    }

    /// A page's read finished: its content is the disk's, it is up to date and unlocked. (A
    /// page truncated away while its read was in flight is no longer in the cache.)
    func readComplete(_ file: SimFile, _ index: UInt64) {
        guard let pfn = file.pages[index] else { return }
        let memMap = self.phys.memMap
        guard memMap.test(pfn, .locked), !memMap.test(pfn, .uptodate) else { return }
        memMap.setContent(pfn, file.diskContent(index))
        memMap.insertFlags(pfn, .uptodate)
        memMap.removeFlags(pfn, .locked)
    }

    // MARK: The clock

    /// The task on the CPU spends `ns` of simulated time; events due meanwhile (I/O
    /// completions, the flusher, the periodic kswapd) run. Costs charged: 1 ns per user
    /// memory access, 1 µs per page fault handled, 200 ns per page `read(2)`/`write(2)` copies.
    @inline(__always) func chargeCPU(_ ns: UInt64) {
        self.setNow(self.now &+ ns)
        if self.now >= self.vfs.nextDue { self.runDueEvents() }
    }

    func runDueEvents() {
        while let next = self.nextEventTime(), next <= self.now { self.runNextEvent() }
        self.vfs.nextDue = self.nextEventTime() ?? .max
    }

    /// Something new is scheduled at `time`.
    func noteEvent(at time: UInt64) { self.vfs.nextDue = min(self.vfs.nextDue, time) }

    /// Advances the simulated clock by `nanoseconds`, running what falls due on the way.
    /// The clock saturates at 2⁶⁴−1 ns (584 years) rather than wrapping.
    public func advanceClock(by nanoseconds: UInt64) {
        self.advanceClock(to: self.now > UInt64.max - nanoseconds ? .max : self.now + nanoseconds)
    }

    /// Advances the simulated clock to `target`, completing I/O and running the flusher at
    /// their times, in order.
    /// kswapd, woken and not reclaiming already, runs as time passes (at its throttle's end);
    /// when it cannot progress it waits for the next event.
    public func advanceClock(to target: UInt64) {
        var kswapdBlocked = false
        while true {
            let next = self.nextEventTime()
            let kswapd: UInt64? =
                self.reclaim.kswapdWoken && self.reclaim.depth == 0 && !kswapdBlocked
                ? max(self.now, self.reclaim.kswapdThrottledUntil) : nil
            if let k = kswapd, k <= target, next.map({ k <= $0 }) ?? true {
                if k > self.now { self.setNow(k) }
                self.runKswapdIfWoken()
                if self.reclaim.kswapdWoken && self.reclaim.kswapdThrottledUntil <= self.now {
                    kswapdBlocked = true
                }
                continue
            }
            guard let n = next, n <= target else { break }
            if n == self.reclaim.nextPeriodicWake, self.skipIdlePeriodicWakes(until: target) { continue }
            self.runNextEvent()
            kswapdBlocked = false
        }
        if target > self.now { self.setNow(target) }
        self.vfs.nextDue = self.nextEventTime() ?? .max
    }

    /// The periodic kswapd's wakes change nothing while every zone stays above its low
    /// watermark, and nothing but another event can change that: when no other event comes
    /// before `target`, jumps the timer to its last wake at or before `target` (so a long `tick`
    /// costs one check, not one per simulated second). Returns whether it skipped.
    func skipIdlePeriodicWakes(until target: UInt64) -> Bool {
        guard let wake = self.reclaim.nextPeriodicWake, !self.reclaim.kswapdWoken else { return false }
        let others = [self.vfs.pendingIO.first?.time, self.vfs.flusherWakeAt].compactMap { $0 }.min()
        guard others.map({ $0 > target }) ?? true, target - wake >= 2_000_000_000 else { return false }
        let low = self.phys.zones.contains { $0.managedPages > 0 && $0.freePages < $0.lowWatermark }
        guard !low else { return false }
        let last = wake + (target - wake) / 1_000_000_000 * 1_000_000_000
        guard last > wake else { return false }
        self.reclaim.nextPeriodicWake = last
        return true
    }

    func setNow(_ time: UInt64) {
        self.now = time
        self.phys.now = time
    }

    /// When the next I/O completes or the flusher wakes, if anything is scheduled.
    func nextEventTime() -> UInt64? {
        [self.vfs.pendingIO.first?.time, self.vfs.flusherWakeAt, self.reclaim.nextPeriodicWake].compactMap {
            $0
        }.min()
    }

    /// Runs the earliest scheduled event, advancing the clock to it.
    func runNextEvent() {
        guard let next = self.nextEventTime() else { return }
        if next > self.now { self.setNow(next) }
        if let io = self.vfs.pendingIO.first, io.time == next {
            self.vfs.pendingIO.removeFirst()
            self.complete(io)
        } else if self.vfs.flusherWakeAt == next {
            self.vfs.flusherWakeAt = nil
            self.flusherRun()
        } else {
            self.kswapdTimer()
        }
    }

    /// Sleeps the current task until `done()` holds, running events as time passes; the time
    /// slept is the task's block-I/O delay. Returns false if nothing scheduled can make
    /// `done()` true.
    @discardableResult
    func waitUntil(_ done: () -> Bool) -> Bool {
        let start = self.now
        defer {
            if let task = self.current, self.now > start {
                task.blkioDelay += self.now - start
                self.emit(.ioWait(pid: task.pid, nanoseconds: self.now - start))
            }
        }
        while !done() {
            // Only I/O completions and the flusher can end a wait; the periodic kswapd's timer
            // alone would tick forever.
            guard !self.vfs.pendingIO.isEmpty || self.vfs.flusherWakeAt != nil else { return false }
            self.runNextEvent()
        }
        return true
    }

    /// `folio_wait_locked()`: waits for a read in flight.
    func waitOnPageLocked(_ pfn: PFN) {
        let memMap = self.phys.memMap
        self.waitUntil { !memMap.test(pfn, .locked) }
    }

    /// `folio_wait_writeback()`.
    func waitOnPageWriteback(_ pfn: PFN) {
        let memMap = self.phys.memMap
        self.waitUntil { !memMap.test(pfn, .writeback) }
    }

    /// Waits until no I/O of `file` is in flight.
    func waitOnFileIO(_ file: SimFile) {
        let id = file.id
        self.waitUntil {
            !self.vfs.pendingIO.contains {
                switch $0.work {
                case .read(let f, _), .write(let f, _): return f == id
                case .swap: return false
                }
            }
        }
    }
}
