import VMPaging
import VMPhys
import VMTypes

/// How kswapd is woken.
public enum KswapdMode: String, Sendable, CaseIterable {
    /// Linux 2.6+: woken by an allocation that finds a zone below its low watermark; reclaims
    /// until an eligible zone is above its high watermark (`pgdat_balanced()`).
    case modern
    /// The 2.4-era daemon the notes describe: wakes every second, and when any zone is below
    /// `pages_low` reclaims until every zone is above `pages_high`.
    case periodic
}

/// kswapd, the per-node reclaim thread (mm/vmscan.c: `kswapd()`, `balance_pgdat()`,
/// `pgdat_balanced()`), and the periodic 2.4-era daemon the notes describe.
extension Kernel {
    // MARK: kswapd

    /// `pgdat_balanced()`: modern kswapd stops when any eligible zone has its high watermark
    /// free (plus the lowmem reserve for the allocations that woke it); the periodic one only
    /// when every zone has.
    func nodeBalanced(order: Int, highestZone: Int) -> Bool {
        let phys = self.phys
        if self.reclaim.mode == .periodic {
            return (0..<phys.zoneCount).allSatisfy { z in
                phys.zone(z).managedPages == 0 || phys.zone(z).freePages >= phys.zone(z).highWatermark
            }
        }
        for z in 0...min(highestZone, phys.zoneCount - 1) where phys.zone(z).managedPages > 0 {
            if phys.zoneWatermarkOK(
                zone: z, order: order, mark: phys.zone(z).highWatermark, highestZone: highestZone, flags: [])
            {
                return true
            }
        }
        return false
    }

    /// `balance_pgdat()`: from priority 12 down, each pass asks for the high watermark's worth
    /// of pages (at least 32 per zone), ages the anonymous lists, shrinks the node; a pass that
    /// frees nothing raises the pressure. Ends when the node is balanced. When pages are cycling
    /// through the LRU under writeback (`PGDAT_WRITEBACK`, `nr_immediate`) or the pass's goal is
    /// covered by writes to swap in flight (`writebackCoversGoal`), kswapd sleeps until some of it completes
    /// (`reclaim_throttle(VMSCAN_THROTTLE_WRITEBACK)`, at most 100 ms) and resumes then: the
    /// run ends with kswapd still woken. Returns pages reclaimed.
    @discardableResult
    func balanceNode(order: Int, highestZone: Int) -> Int {
        self.phys.count(.pageoutrun)
        self.reclaim.kswapdRuns += 1
        var sc = ScanControl(
            nrToReclaim: 0, gfp: .kernel, reclaimIdx: highestZone, isKswapd: true)
        sc.order = order
        self.reclaim.depth += 1
        defer { self.reclaim.depth -= 1 }
        var throttled = false
        while sc.priority >= 1 {
            if self.nodeBalanced(order: order, highestZone: highestZone) { break }
            sc.nrScanned = 0
            sc.nrToReclaim = 0
            for z in 0...min(highestZone, self.phys.zoneCount - 1) where self.phys.zone(z).managedPages > 0 {
                sc.nrToReclaim += max(self.phys.zone(z).highWatermark, Kernel.swapClusterMax)
            }
            // kswapd_age_node(): lru_gen_age_node(), or age_active_anon()
            if self.lruGenEnabled {
                self.lruGenInitialPriority(&sc)
                if self.lruGenAgeNode(sc) { break }
            } else if self.canReclaimAnon && self.inactiveIsLow(.inactiveAnon) {
                self.shrinkActiveList(.activeAnon, Kernel.swapClusterMax, &sc)
            }
            let before = sc.nrReclaimed
            sc.nrWriteback = 0
            sc.nrTaken = 0
            self.shrinkNode(&sc)
            if self.nodeBalanced(order: order, highestZone: highestZone) { break }
            // Pages cycling through the LRU faster than they are written, or enough of them
            // on their way to the disk: sleep until some writeback completes rather than scan
            // (and write) more.
            let cycling =
                sc.nrWriteback > 0 && sc.nrWriteback * 2 >= sc.nrTaken
                && sc.nrReclaimed - before < Kernel.swapClusterMax
            if cycling || self.writebackCoversGoal(sc, reclaimed: sc.nrReclaimed - before),
                let io = self.block.nextCompletion
            {
                self.reclaim.kswapdThrottledUntil = min(io, self.now + 100_000_000)
                // Resumed, it balances for the same request (the periodic one: every zone).
                self.reclaim.kswapdWoken = true
                self.reclaim.kswapdOrder = max(self.reclaim.kswapdOrder, order)
                self.reclaim.kswapdHighestZone = max(self.reclaim.kswapdHighestZone, highestZone)
                throttled = true
                break
            }
            // No need to raise the pressure while the scan would meet the target at 100% efficiency.
            let raise = sc.nrScanned < sc.nrToReclaim
            if raise || sc.nrReclaimed == before { sc.priority -= 1 }
        }
        // A run that stopped to wait for writeback has not failed: it resumes when it lands.
        if sc.nrReclaimed > 0 {
            self.reclaim.kswapdFailures = 0
        } else if !throttled {
            self.reclaim.kswapdFailures += 1
        }
        self.emit(.reclaim(pid: nil, scanned: sc.totalScanned, reclaimed: sc.nrReclaimed))
        return sc.nrReclaimed
    }

    /// Runs kswapd if an allocation woke it (at the end of a fault or system call: kswapd runs
    /// as soon as the woken CPU reschedules, in background time not charged to the task).
    public func runKswapdIfWoken() {
        guard self.reclaim.kswapdWoken, self.reclaim.depth == 0, self.now >= self.reclaim.kswapdThrottledUntil
        else { return }
        self.reclaim.kswapdWoken = false
        if let slept = self.reclaim.kswapdSleptAt {
            self.phys.count(
                self.now - slept < 100_000_000 ? .kswapdLowWmarkHitQuickly : .kswapdHighWmarkHitQuickly)
            self.reclaim.kswapdSleptAt = nil
        }
        let saved = self.current
        self.current = nil
        self.balanceNode(order: self.reclaim.kswapdOrder, highestZone: self.reclaim.kswapdHighestZone)
        self.current = saved
        // Throttled, kswapd keeps its request and resumes; otherwise it goes back to sleep.
        if !self.reclaim.kswapdWoken {
            self.reclaim.kswapdSleptAt = self.now
            self.reclaim.kswapdOrder = 0
            self.reclaim.kswapdHighestZone = 0
        }
    }

    /// The periodic kswapd's timer: once a second, reclaim if any zone is below its low watermark.
    func kswapdTimer() {
        self.clock.arm(.kswapd, at: self.now + 1_000_000_000)
        let low = self.phys.anyZoneBelowLow
        guard low, self.reclaim.depth == 0 else { return }
        let saved = self.current
        self.current = nil
        self.balanceNode(order: 0, highestZone: self.phys.zoneCount - 1)
        self.current = saved
    }

    /// Selects the kswapd model; the periodic one starts its one-second timer.
    public func setKswapdMode(_ mode: KswapdMode) {
        self.reclaim.mode = mode
        if mode == .periodic {
            self.clock.arm(.kswapd, at: self.now + 1_000_000_000)
        } else {
            self.clock.cancel(.kswapd)
        }
    }
}
