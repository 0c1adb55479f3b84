import VMPhys
import VMTypes

/// Page-cache I/O and the passing of time (fs/mpage.c, fs/buffer.c's waits): reads and writes of
/// page-cache pages become `BlockLayer` requests that complete later; time (the `Clock`)
/// advances only when a task runs or waits (for a page under I/O, for writeback) or a scenario
/// says `tick`, and the events due on the way — I/O completions, the flusher's and the periodic
/// kswapd's timers — run in time order.
extension Kernel {
    // MARK: Submitting

    /// `submit_bio()` for reads of `indices` (ascending) of `file`, whose pages are already in
    /// the cache, locked and not up to date. Pages in consecutive blocks share a request; pages
    /// in holes are zero-filled at once without I/O, as `mpage_readahead()` does.
    func submitRead(_ file: SimFile, _ indices: [UInt64]) {
        BlockLayer.plugRuns(
            indices, index: { $0 }, block: { file.block(of: $0) }, hole: { self.readComplete(file, $0) }
        ) { block, run in
            self.queueIO(
                BlockRequest(operation: .read, block: block, count: UInt64(run.count)), .read(file.id, run))
            self.phys.count(.pgpgin, UInt64(run.count) * UInt64(self.phys.pageSize >> 10))
        }
    }

    /// Submits writes of (index, word) pairs, ascending, of `file`: pages in consecutive blocks
    /// share a request. Pages in holes get blocks first (allocation at writeback, as delayed
    /// allocation does).
    func submitWrite(_ file: SimFile, _ items: [(index: UInt64, word: UInt64)]) {
        self.allocateBlocks(file, items.map(\.index))
        BlockLayer.plugRuns(items, index: \.index, block: { file.block(of: $0.index)! }) { block, run in
            self.queueIO(
                BlockRequest(operation: .write, block: block, count: UInt64(run.count)), .write(file.id, run))
            self.phys.count(.pgpgout, UInt64(run.count) * UInt64(self.phys.pageSize >> 10))
        }
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
        let done = self.block.submit(request, work, now: self.now)
        self.emit(
            .blockIO(
                write: request.operation == .write, block: request.block, pages: request.count,
                time: self.now,
                completes: done))
        self.clock.noteEvent(at: done)
    }

    // MARK: Completing

    func complete(_ io: PendingIO) {
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
        guard self.phys.memMap.test(pfn, .locked), !self.phys.memMap.test(pfn, .uptodate) else { return }
        self.phys.memMap.setContent(pfn, file.diskContent(index))
        self.phys.memMap.insertFlags(pfn, .uptodate)
        self.phys.memMap.removeFlags(pfn, .locked)
    }

    // MARK: The clock

    /// The task on the CPU spends `ns` of simulated time; events due meanwhile (I/O
    /// completions, the flusher, the periodic kswapd) run. Costs charged: 1 ns per user
    /// memory access, 1 µs per page fault handled, 200 ns per page `read(2)`/`write(2)` copies.
    @inline(__always) func chargeCPU(_ ns: UInt64) {
        self.setNow(self.now > UInt64.max - ns ? .max : self.now + ns)
        if self.now >= self.clock.nextDue { self.runDueEvents() }
    }

    func runDueEvents() {
        while let next = self.nextEventTime(), next <= self.now { self.runNextEvent() }
        self.clock.setNextDue(self.nextEventTime())
    }

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
            if n == self.clock.deadline(.kswapd), self.skipIdlePeriodicWakes(until: target) { continue }
            self.runNextEvent()
            kswapdBlocked = false
        }
        if target > self.now { self.setNow(target) }
        self.clock.setNextDue(self.nextEventTime())
    }

    /// The periodic kswapd's wakes change nothing while every zone stays above its low
    /// watermark, and nothing but another event can change that: when no other event comes
    /// before `target`, jumps the timer to its last wake at or before `target` (so a long `tick`
    /// costs one check, not one per simulated second). Returns whether it skipped.
    func skipIdlePeriodicWakes(until target: UInt64) -> Bool {
        guard let wake = self.clock.deadline(.kswapd), !self.reclaim.kswapdWoken else { return false }
        let others = [self.block.nextCompletion, self.clock.deadline(.flusher)].compactMap { $0 }.min()
        guard others.map({ $0 > target }) ?? true, target - wake >= 2_000_000_000 else { return false }
        let low = self.phys.anyZoneBelowLow
        guard !low else { return false }
        let last = wake + (target - wake) / 1_000_000_000 * 1_000_000_000
        guard last > wake else { return false }
        self.clock.arm(.kswapd, at: last)
        return true
    }

    func setNow(_ time: UInt64) {
        self.clock.advance(to: time)
        self.phys.now = time
    }

    /// When the next I/O completes or a timer fires, if anything is scheduled.
    func nextEventTime() -> UInt64? {
        switch (self.block.nextCompletion, self.clock.nextTimer) {
        case (let io?, let timer?): return min(io, timer)
        case (let io, let timer): return io ?? timer
        }
    }

    /// Runs the earliest scheduled event, advancing the clock to it.
    func runNextEvent() {
        guard let next = self.nextEventTime() else { return }
        if next > self.now { self.setNow(next) }
        if self.block.nextCompletion == next {
            self.complete(self.block.completeNext())
        } else if self.clock.deadline(.flusher) == next {
            self.clock.cancel(.flusher)
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
            guard !self.block.isIdle || self.clock.deadline(.flusher) != nil else { return false }
            self.runNextEvent()
        }
        return true
    }

    /// `folio_wait_locked()`: waits for a read in flight.
    func waitOnPageLocked(_ pfn: PFN) {
        // folio_wait_bit_common(): waiting for the read of a page refaulting from the
        // workingset is thrashing, a memory stall.
        let thrashing = self.phys.memMap.test(pfn, .workingset) && !self.phys.memMap.test(pfn, .uptodate)
        let stall = thrashing ? self.psiMemstallEnter() : nil
        self.waitUntil { !self.phys.memMap.test(pfn, .locked) }
        if thrashing { self.psiMemstallLeave(stall) }
    }

    /// `folio_wait_writeback()`.
    func waitOnPageWriteback(_ pfn: PFN) {
        self.waitUntil { !self.phys.memMap.test(pfn, .writeback) }
    }

    /// Waits until no I/O of `file` is in flight.
    func waitOnFileIO(_ file: SimFile) {
        let id = file.id
        self.waitUntil {
            !self.block.hasPending {
                switch $0 {
                case .read(let f, _), .write(let f, _): return f == id
                case .swap: return false
                }
            }
        }
    }
}
