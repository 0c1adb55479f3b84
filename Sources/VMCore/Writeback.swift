import VMPaging
import VMPhys
import VMTypes

/// The `vm.*` sysctls and block-queue settings vmsim models (`/proc/sys/vm`, Documentation/
/// admin-guide/sysctl/vm.rst), with the kernel's defaults.
public struct VMSysctl: Sendable, Hashable {
    public var dirtyRatio = 20
    public var dirtyBackgroundRatio = 10
    public var dirtyExpireCentisecs: UInt64 = 3000
    public var dirtyWritebackCentisecs: UInt64 = 500
    /// `/sys/block/<disk>/queue/read_ahead_kb`.
    public var readAheadKB: UInt64 = 128
    public var swappiness = 60
    /// `vm.page-cluster`: swap readahead of 2^N pages.
    public var pageCluster = 3
    public var vfsCachePressure = 100
    public init() {}
}

/// Writeback (mm/page-writeback.c, fs/fs-writeback.c): cleaning dirty page-cache pages by
/// writing them to disk — from `fsync`/`sync`/`msync`, from the flusher thread woken every
/// `dirty_writeback_centisecs` (writing inodes dirty for longer than `dirty_expire_centisecs`,
/// and everything above `dirty_background_ratio`), and from writers throttled at `dirty_ratio`.
extension Kernel {
    /// `MAX_WRITEBACK_PAGES`: the flusher writes at most this much of one inode per pass.
    static let maxWritebackPages = 1024

    /// The sysctl names `setSysctl` accepts.
    public static let sysctlNames = [
        "vm.dirty_ratio", "vm.dirty_background_ratio", "vm.dirty_expire_centisecs",
        "vm.dirty_writeback_centisecs", "vm.drop_caches", "vm.max_map_count", "vm.swappiness",
        "vm.page-cluster", "vm.vfs_cache_pressure", "block.read_ahead_kb", "lru_gen.min_ttl_ms",
    ]

    /// `echo VALUE > /proc/sys/NAME` (with dots). Throws EINVAL for unknown names and values
    /// out of the kernel's range.
    public func setSysctl(_ name: String, _ value: String) throws(MMError) {
        guard let n = Int(value), n >= 0 else {
            throw .invalid("\(name): '\(value)' is not a non-negative integer")
        }
        // The vm.* knobs are C ints (proc_dointvec_minmax()): a value beyond INT_MAX is EINVAL,
        // so no product of a knob and a count later can overflow.
        guard name.hasPrefix("block.") || name.hasPrefix("lru_gen.") || n <= Int(Int32.max) else {
            throw .invalid("\(name): \(n) is beyond INT_MAX")
        }
        func range(_ r: ClosedRange<Int>) throws(MMError) {
            guard r.contains(n) else {
                throw .invalid("\(name): \(n) is outside \(r.lowerBound)…\(r.upperBound)")
            }
        }
        switch name {
        case "vm.dirty_ratio":
            try range(0...100)
            self.sysctl.dirtyRatio = n
        case "vm.dirty_background_ratio":
            try range(0...100)
            self.sysctl.dirtyBackgroundRatio = n
        case "vm.dirty_expire_centisecs":
            self.sysctl.dirtyExpireCentisecs = UInt64(n)
        case "vm.dirty_writeback_centisecs":
            self.sysctl.dirtyWritebackCentisecs = UInt64(n)
            // dirty_writeback_centisecs_handler(): 0 disables periodic writeback.
            if n == 0 { self.clock.cancel(.flusher) }
        case "vm.drop_caches":
            try range(1...3)
            try self.dropCaches(n)
        case "vm.max_map_count":
            self.maxMapCount = n
        case "vm.swappiness":
            try range(0...200)
            self.sysctl.swappiness = n
        case "vm.page-cluster":
            // page_cluster_max (mm/swap.c): 31.
            try range(0...31)
            self.sysctl.pageCluster = n
        case "vm.vfs_cache_pressure":
            self.sysctl.vfsCachePressure = n
        case "block.read_ahead_kb":
            self.sysctl.readAheadKB = UInt64(n)
        case "lru_gen.min_ttl_ms":
            // /sys/kernel/mm/lru_gen/min_ttl_ms (a jiffies count in ms; 0 disables it).
            try range(0...(1 << 40))
            self.reclaim.lruGenMinTTL = UInt64(n) * 1_000_000
        default:
            throw .invalid(
                "unknown sysctl '\(name)' (expected \(Kernel.sysctlNames.joined(separator: ", ")))")
        }
    }

    // MARK: Writing pages back

    /// `write_cache_pages()` over `file` (the pages in `range`, all if nil): each dirty page is
    /// cleaned for I/O — its PTEs write-protected and cleaned (`folio_mkclean()`), so the next
    /// write through a shared mapping faults again — put under writeback and submitted; runs
    /// of consecutive blocks share a request. With `sync` (`WB_SYNC_ALL`) a page already under
    /// writeback is waited for and written again if dirty; otherwise it is skipped. Returns the
    /// pages submitted.
    @discardableResult
    func writebackFile(
        _ file: SimFile, range: Range<UInt64>?, sync: Bool, maxPages: Int = .max, reason: String = "sync"
    ) -> Int {
        guard !file.isShmem, file.dirtyPages > 0 else { return 0 }
        var indices = file.pages.compactMap { index, pfn in
            (range?.contains(index) ?? true) && self.phys.memMap.test(pfn, .dirty) ? index : nil
        }
        indices.sort()
        var items: [(index: UInt64, word: UInt64)] = []
        var submitted = 0
        for index in indices where submitted < maxPages {
            guard var pfn = file.pages[index] else { continue }
            if self.phys.memMap.test(pfn, .writeback) {
                guard sync else { continue }
                self.submitWrite(file, items)
                items = []
                self.waitOnPageWriteback(pfn)
                guard let again = file.pages[index] else { continue }
                pfn = again
            }
            guard self.phys.memMap.test(pfn, .dirty) else { continue }
            self.pageMkclean(pfn)
            self.clearPageDirty(file, pfn)
            self.startPageWriteback(file, pfn)
            items.append((index, self.phys.memMap.content(pfn)))
            submitted += 1
        }
        self.submitWrite(file, items)
        if submitted > 0 { self.emit(.writeback(path: file.path, pages: submitted, reason: reason)) }
        return submitted
    }

    /// `folio_mkclean()`: every PTE mapping `pfn` loses its write and dirty bits (a shared
    /// mapping's next write faults and dirties the page again); TLBs flushed.
    func pageMkclean(_ pfn: PFN) {
        for (mm, _, address) in self.rmapWalk(pfn) {
            var pte = self.pageTables.pte(root: mm.pgd, va: address)
            guard pte.contains(.writable) || pte.contains(.dirty) else { continue }
            pte.flags.remove([.writable, .dirty])
            _ = self.installPTE(mm, address, pte)
            self.flushTLB(mm, range: address..<(address + self.phys.pageSize))
        }
    }

    /// Files with dirty pages, the longest dirty first (the flusher's `b_dirty` list order).
    func dirtyFiles() -> [SimFile] {
        self.files.filter { $0.dirtyPages > 0 && !$0.isShmem }.sorted {
            ($0.dirtiedWhen ?? 0, $0.id.rawValue) < ($1.dirtiedWhen ?? 0, $1.id.rawValue)
        }
    }

    // MARK: The flusher

    /// `wb_workfn()` on its periodic wake-up: `wb_check_old_data_flush()` writes every inode
    /// dirty for longer than `dirty_expire_centisecs`, then `wb_check_background_flush()` writes
    /// until dirty memory is below the background threshold. Sleeps again for
    /// `dirty_writeback_centisecs` while anything is dirty.
    func flusherRun() {
        let expire = self.sysctl.dirtyExpireCentisecs * 10_000_000
        for file in self.dirtyFiles() where (file.dirtiedWhen ?? .max) &+ expire <= self.now {
            while file.dirtyPages > 0,
                self.writebackFile(
                    file, range: nil, sync: false, maxPages: Kernel.maxWritebackPages,
                    reason: "periodic (expired)")
                    > 0
            {}
        }
        self.backgroundWriteback()
        self.scheduleFlusher()
    }

    func scheduleFlusher() {
        let interval = self.sysctl.dirtyWritebackCentisecs * 10_000_000
        if interval > 0 && self.files.contains(where: { $0.dirtyPages > 0 && !$0.isShmem }) {
            if self.clock.deadline(.flusher) == nil { self.clock.arm(.flusher, at: self.now + interval) }
        } else {
            self.clock.cancel(.flusher)
        }
    }

    /// `wb_start_background_writeback()` → background `wb_writeback()`: writes inodes oldest
    /// first, up to `MAX_WRITEBACK_PAGES` each per pass, while `nr_dirty` is above the
    /// background threshold.
    func backgroundWriteback() {
        while self.phys.state(.nrDirty) > self.globalDirtyLimits().background {
            var progress = 0
            for file in self.dirtyFiles() {
                progress += self.writebackFile(
                    file, range: nil, sync: false, maxPages: Kernel.maxWritebackPages, reason: "background")
                if self.phys.state(.nrDirty) <= self.globalDirtyLimits().background { break }
            }
            if progress == 0 { break }
        }
    }

    /// `balance_dirty_pages()` (simplified): below the free-run ceiling — halfway between the
    /// background and the hard threshold — a writer dirties freely. Above it background
    /// writeback starts; above the hard threshold (`dirty_ratio`) the writer sleeps until
    /// writeback brings dirty + writeback pages back under it. Linux paces the sleep with a
    /// bandwidth estimate and `pos_ratio`; vmsim waits for the I/O to complete.
    /// `balance_dirty_pages_ratelimited()` deferred by a shared write fault of the current task.
    func balanceDirtyPagesIfPending() {
        guard let task = self.current, task.balanceDirtyPending else { return }
        task.balanceDirtyPending = false
        self.balanceDirtyPages()
    }

    func balanceDirtyPages() {
        let limits = self.globalDirtyLimits()
        let dirty = self.phys.state(.nrDirty) + self.phys.state(.nrWriteback)
        guard dirty > (limits.dirty + limits.background) / 2 else { return }
        if self.phys.state(.nrDirty) > limits.background { self.backgroundWriteback() }
        if dirty > limits.dirty {
            self.waitUntil {
                self.phys.state(.nrDirty) + self.phys.state(.nrWriteback) <= self.globalDirtyLimits().dirty
                    || self.block.isIdle
            }
        }
    }
}
