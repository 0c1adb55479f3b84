import VMTypes

/// Zone watermarks, lowmem reserves and per-CPU list sizes, computed as mm/page_alloc.c does.
extension PhysicalMemory {
    /// `SWAP_CLUSTER_MAX`: the smallest min watermark of a HighMem/Movable zone, and reclaim's batch.
    public static let swapClusterMax = 32

    /// Integer square root, rounding down (`int_sqrt()`, lib/math/int_sqrt.c).
    static func intSqrt(_ x: UInt64) -> UInt64 {
        if x < 2 { return x }
        var r = UInt64(Double(x).squareRoot())
        while r * r > x { r -= 1 }
        while (r + 1) * (r + 1) <= x { r += 1 }
        return r
    }

    /// `mult_frac(x, n, d)`: x * n / d without overflowing the intermediate product.
    static func multFrac(_ x: UInt64, _ n: UInt64, _ d: UInt64) -> UInt64 {
        let q = x / d
        let r = x % d
        return q * n + r * n / d
    }

    /// `nr_free_buffer_pages()` at boot: managed pages of every zone `GFP_USER` may use (all but
    /// HighMem, Movable and Device), minus high watermarks (still zero when this first runs).
    func freeBufferPages() -> UInt64 {
        var sum: UInt64 = 0
        for zone in self.zones where zone.type <= .normal {
            let high = UInt64(zone.highWatermark)
            if zone.managedPages > high { sum += zone.managedPages - high }
        }
        return sum
    }

    /// `calculate_min_free_kbytes()`: `int_sqrt(lowmem_kbytes * 16)` clamped to 128…262144.
    ///
    /// Simplified: a kernel with transparent huge pages raises it further
    /// (`set_recommended_min_free_kbytes()`); vmsim does not model THP, so pass the raised value
    /// with `--min-free-kbytes` to reproduce such a machine.
    public func calculateMinFreeKbytes() -> Int {
        let lowmemKbytes = self.freeBufferPages() * (self.pageSize >> 10)
        let value = PhysicalMemory.intSqrt(lowmemKbytes * 16)
        return Int(min(max(value, 128), 262144))
    }

    /// `__setup_per_zone_wmarks()`: min in proportion to each low zone's share of `min_free_kbytes`
    /// (HighMem/Movable: `managed / 1024` clamped to 32…128), then low = min + gap and
    /// high = low + gap, promo = high + gap, gap = max(min / 4, managed × watermark_scale_factor / 10000).
    public func setupPerZoneWatermarks() {
        let pagesMin = UInt64(self.minFreeKbytes) >> UInt64(self.pageShift - 10)
        var lowmemPages: UInt64 = 0
        for zone in self.zones where zone.type != .highMem && zone.type != .movable {
            lowmemPages += zone.managedPages
        }
        for z in 0..<self.zoneCount {
            let zone = self.zoneStorage[z]
            var tmp = lowmemPages == 0 ? 0 : pagesMin * zone.managedPages / lowmemPages
            if zone.type == .highMem || zone.type == .movable {
                let minPages = min(max(zone.managedPages / 1024, UInt64(PhysicalMemory.swapClusterMax)), 128)
                self.zoneStorage[z].watermarks[WatermarkLevel.min.rawValue] = Int(minPages)
            } else {
                self.zoneStorage[z].watermarks[WatermarkLevel.min.rawValue] = Int(tmp)
            }
            tmp = max(
                tmp >> 2, PhysicalMemory.multFrac(zone.managedPages, UInt64(self.watermarkScaleFactor), 10000)
            )
            self.zoneStorage[z].watermarkBoost = 0
            let minW = self.zoneStorage[z].watermarks[WatermarkLevel.min.rawValue]
            self.zoneStorage[z].watermarks[WatermarkLevel.low.rawValue] = minW + Int(tmp)
            self.zoneStorage[z].watermarks[WatermarkLevel.high.rawValue] = minW + 2 * Int(tmp)
            self.zoneStorage[z].watermarks[WatermarkLevel.promo.rawValue] = minW + 3 * Int(tmp)
        }
        self.calculateTotalReservePages()
    }

    /// `setup_per_zone_lowmem_reserve()`: zone i keeps back (managed pages of zones above i, up to
    /// j) / `lowmem_reserve_ratio[i]` from allocations whose highest usable zone is j.
    public func setupPerZoneLowmemReserve() {
        let count = self.zoneCount
        for i in 0..<(count - 1) {
            let ratio = self.lowmemReserveRatio[i]
            let clear = ratio == 0 || self.zoneStorage[i].managedPages == 0
            var managed: UInt64 = 0
            for j in (i + 1)..<count {
                managed += self.zoneStorage[j].managedPages
                self.zoneStorage[i].reserves[j] = clear ? 0 : Int(managed / UInt64(ratio))
            }
        }
        self.calculateTotalReservePages()
    }

    /// `calculate_totalreserve_pages()`: per zone, the largest lowmem reserve plus the high
    /// watermark, capped at the zone's managed pages.
    func calculateTotalReservePages() {
        var total = 0
        for zone in self.zones {
            var maxReserve = 0
            for j in zone.type.rawValue..<self.zoneCount where zone.reserves[j] > maxReserve {
                maxReserve = zone.reserves[j]
            }
            maxReserve += zone.highWatermark
            total += min(maxReserve, Int(zone.managedPages))
        }
        self.totalReservePages = total
    }

    /// Sets `vm.min_free_kbytes` and recomputes the watermarks (`min_free_kbytes_sysctl_handler`).
    public func setMinFreeKbytes(_ value: Int) {
        self.minFreeKbytes = value
        self.setupPerZoneWatermarks()
        self.setupPerCPUPagesets()
    }

    /// Sets `vm.watermark_scale_factor` and recomputes the watermarks.
    public func setWatermarkScaleFactor(_ value: Int) {
        self.watermarkScaleFactor = value
        self.setupPerZoneWatermarks()
        self.setupPerCPUPagesets()
    }

    /// Sets `vm.lowmem_reserve_ratio` and recomputes the reserves.
    public func setLowmemReserveRatio(_ ratios: [Int]) {
        precondition(
            ratios.count == self.zoneCount, "setLowmemReserveRatio: expected \(self.zoneCount) ratios")
        self.lowmemReserveRatio = ratios
        self.setupPerZoneLowmemReserve()
    }

    /// `calculate_normal_threshold()`: the per-CPU counter drift allowed before folding into
    /// the zone counter, `2 × fls(cpus) × (1 + fls(managed / 128 MiB))`, at most 125.
    public func statThreshold(zone z: Int) -> Int {
        func fls(_ x: Int) -> Int { x == 0 ? 0 : Int.bitWidth - x.leadingZeroBitCount }
        let mem = Int(self.zoneStorage[z].managedPages >> UInt64(27 - self.pageShift))
        return min(125, 2 * fls(self.config.cpus) * (1 + fls(mem)))
    }

    /// `zone_batchsize()`: about a quarter of a 1/1024 slice of the zone, at most 256 KiB of
    /// pages, rounded to (a power of two) − 1 to avoid cache aliasing.
    func zoneBatchSize(_ zone: Zone) -> Int {
        var batch = min(Int(zone.managedPages >> 10), (1 << 20) >> self.pageShift)
        batch /= 4
        if batch < 1 { batch = 1 }
        let n = batch + batch / 2
        var pow2 = 1
        while pow2 * 2 <= n { pow2 *= 2 }
        return pow2 - 1
    }

    /// The batch `zone_set_pageset_high_and_batch()` installs: `max(1, zone_batchsize())`.
    func pagesetBatch(_ zone: Zone) -> Int { max(1, self.zoneBatchSize(zone)) }

    /// `zone_highsize()` with the default `percpu_pagelist_high_fraction` of 0: the low watermark
    /// split across the node's CPUs, at least four batches.
    func zoneHighSize(_ zone: Zone, batch: Int) -> Int {
        max(zone.lowWatermark / self.config.cpus, batch << 2)
    }

    /// `zone_set_pageset_high_and_batch()`; trims a list that is now over its new high mark.
    func setupPerCPUPagesets() {
        for z in 0..<self.zoneCount {
            let zone = self.zoneStorage[z]
            guard zone.managedPages > 0 else {
                self.pcpStorage[z].batch = 1
                self.pcpStorage[z].high = 0
                self.pcpStorage[z].highMax = 0
                continue
            }
            let batch = self.pagesetBatch(zone)
            self.pcpStorage[z].batch = batch
            self.pcpStorage[z].high = self.zoneHighSize(zone, batch: batch)
            self.pcpStorage[z].highMax = max(Int(zone.managedPages / 8) / self.config.cpus, batch << 2)
            if self.pcpStorage[z].count >= self.pcpStorage[z].high && self.pcpStorage[z].count > 0 {
                self.freePCPPagesBulk(zone: z, count: self.pcpStorage[z].count - self.pcpStorage[z].high + 1)
            }
        }
    }
}
