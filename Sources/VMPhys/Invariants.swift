import VMTypes

/// Whole-structure consistency checks for tests (`_checkInvariants()` in swift-collections style).
extension PhysicalMemory {
    /// Checks free lists, per-CPU lists, page accounting, slabs and vmalloc; returns every
    /// violation found (empty when consistent). With `deep`, every frame of every zone is
    /// classified (free, per-CPU, allocated, reserved, hole) and the classes must add up —
    /// O(frames), so only for small machines.
    public func checkInvariants(deep: Bool = true) -> [String] {
        var problems: [String] = []
        for z in 0..<self.zoneCount {
            let zone = self.zoneStorage[z]
            let name = zone.type.name
            var freeSeen = 0
            var blocks: [(UInt64, UInt64)] = []
            var blocksAtOrBeyondPageblock = 0
            for order in 0...self.maxOrder {
                var count = 0
                var prev: UInt32 = 0
                var cur = zone.areas[order].head
                while cur != 0 {
                    let pfn = PFN(rawValue: UInt64(cur))
                    if !zone.contains(pfn) { problems.append("\(name): free block \(pfn) outside the zone") }
                    if !self.memMap.test(pfn, .buddy) {
                        problems.append("\(name): free block \(pfn) lacks PageBuddy")
                    }
                    if self.memMap.order(pfn) != order {
                        problems.append(
                            "\(name): block \(pfn) on order-\(order) list has order \(self.memMap.order(pfn))"
                        )
                    }
                    if pfn.rawValue & ((1 << UInt64(order)) - 1) != 0 {
                        problems.append("\(name): block \(pfn) misaligned for order \(order)")
                    }
                    if self.memMap.lruPrev(pfn) != prev {
                        problems.append("\(name): broken prev link at \(pfn)")
                    }
                    if self.memMap.refCount(pfn) != 0 {
                        problems.append("\(name): free block \(pfn) has references")
                    }
                    blocks.append((pfn.rawValue, pfn.rawValue + (1 << UInt64(order))))
                    count += 1
                    freeSeen += 1 << order
                    if order >= self.pageblockOrder { blocksAtOrBeyondPageblock += 1 << order }
                    prev = cur
                    cur = self.memMap.lruNext(pfn)
                    if count > Int(zone.spannedPages) {
                        problems.append("\(name): order-\(order) free list loops")
                        break
                    }
                }
                if prev != zone.areas[order].tail { problems.append("\(name): order-\(order) tail is wrong") }
                let lazy = order == self.maxOrder ? self.untouchedBootBlocks(zone: z) : 0
                if count + lazy != zone.areas[order].count {
                    problems.append(
                        "\(name): order-\(order) nr_free \(zone.areas[order].count) but \(count + lazy) blocks"
                    )
                }
                if order == self.maxOrder {
                    freeSeen += lazy << order
                    blocksAtOrBeyondPageblock += lazy << order
                    for r in zone.lazyRuns[zone.lazyRunIndex...] { blocks.append((r.next, r.end)) }
                }
            }
            if freeSeen != zone.freePages {
                problems.append("\(name): NR_FREE_PAGES \(zone.freePages) but lists hold \(freeSeen)")
            }
            if blocksAtOrBeyondPageblock != zone.state(.nrFreePagesBlocks) {
                problems.append(
                    "\(name): nr_free_pages_blocks is \(zone.state(.nrFreePagesBlocks)), lists hold \(blocksAtOrBeyondPageblock)"
                )
            }
            blocks.sort { $0.0 < $1.0 }
            for i in blocks.indices.dropFirst() where blocks[i].0 < blocks[i - 1].1 {
                problems.append("\(name): free blocks overlap at pfn \(hex(blocks[i].0))")
            }
            for (lo, hi) in blocks {
                for r in self.memMap.reservedRanges where r.lowerBound < hi && lo < r.upperBound {
                    problems.append("\(name): free block at \(hex(lo)) overlaps a reserved range")
                }
            }
            // Per-CPU list.
            var pcpCount = 0
            var cur = self.pcpStorage[z].head
            var pcpFrames: [UInt64] = []
            while cur != 0 && pcpCount <= Int(zone.spannedPages) {
                let pfn = PFN(rawValue: UInt64(cur))
                if self.memMap.refCount(pfn) != 0 || self.memMap.test(pfn, .buddy) {
                    problems.append("\(name): per-CPU page \(pfn) is in use or on a buddy list")
                }
                pcpFrames.append(pfn.rawValue)
                pcpCount += 1
                cur = self.memMap.lruNext(pfn)
            }
            if pcpCount != self.pcpStorage[z].count {
                problems.append("\(name): pcp count \(self.pcpStorage[z].count) but list holds \(pcpCount)")
            }
            if zone.freePages + pcpCount > Int(zone.managedPages) {
                problems.append("\(name): more free pages than managed")
            }

            guard deep, zone.spannedPages > 0 else { continue }
            // Classify every frame outside untouched boot runs:
            // 0 unknown, 1 free, 2 per-CPU, 3 allocated, 4 reserved or hole.
            var state = [UInt8](repeating: 0, count: Int(zone.spannedPages))
            func mark(_ lo: UInt64, _ hi: UInt64, _ v: UInt8, _ what: String) {
                for p in lo..<hi {
                    let i = Int(p - zone.startPFN)
                    if state[i] != 0 {
                        problems.append("\(name): frame \(hex(p)) is both \(what) and class \(state[i])")
                        return
                    }
                    state[i] = v
                }
            }
            for (lo, hi) in blocks { mark(lo, hi, 1, "free") }
            for p in pcpFrames { mark(p, p + 1, 2, "per-CPU") }
            var present = Set<UInt64>()
            for m in self.boot.memory {
                let lo = max(m.lowerBound, zone.startPFN)
                let hi = min(m.upperBound, zone.endPFN)
                if lo < hi { for p in lo..<hi { present.insert(p) } }
            }
            var p = zone.startPFN
            var allocated = 0
            while p < zone.endPFN {
                let i = Int(p - zone.startPFN)
                if state[i] != 0 {
                    p += 1
                    continue
                }
                let pfn = PFN(rawValue: p)
                if !present.contains(p) || self.memMap.isReserved(pfn) {
                    state[i] = 4
                    p += 1
                    continue
                }
                if self.memMap.refCount(pfn) > 0 || self.memMap.test(pfn, .zeroPage) {
                    let order = self.memMap.order(pfn)
                    let end = min(p + (1 << UInt64(order)), zone.endPFN)
                    mark(p, end, 3, "allocated")
                    allocated += Int(end - p)
                    p = end
                    continue
                }
                problems.append(
                    "\(name): frame \(pfn) is neither free, per-CPU, allocated nor reserved (leaked)")
                p += 1
            }
            if allocated != zone.allocatedPages - pcpCount {
                problems.append(
                    "\(name): \(allocated) frames allocated but managed − free − pcp = \(zone.allocatedPages - pcpCount)"
                )
            }
        }
        problems += self.checkSlabInvariants()
        // vmalloc.
        var lastEnd: UInt64 = 0
        var pages = 0
        for area in self.vmallocState.areas {
            if area.start < lastEnd { problems.append("vmalloc: areas overlap at \(hex(area.start))") }
            if area.start < self.vmallocState.start || area.end - 1 > self.vmallocState.end {
                problems.append("vmalloc: area \(hex(area.start)) outside the vmalloc range")
            }
            lastEnd = area.end
            pages += area.pages.count
        }
        if pages != self.vmallocState.nrPages {
            problems.append("vmalloc: nr_pages \(self.vmallocState.nrPages) but areas hold \(pages)")
        }
        return problems
    }

    func checkSlabInvariants() -> [String] {
        var problems: [String] = []
        var slabPages = [0, 0]
        for cache in self.slab.caches {
            var active = 0
            var total = 0
            var count = 0
            var pages = 0
            var partialExpected = Set<Int>()
            var fullExpected = Set<Int>()
            for (id, slab) in cache.slabs.enumerated() {
                guard let slab else { continue }
                let order = self.memMap.order(slab.pfn)
                let objects = (Int(self.pageSize) << order) / cache.size
                count += 1
                pages += 1 << order
                total += objects
                active += slab.inuse
                if slab.inuse + slab.freeStack.count != objects {
                    problems.append(
                        "\(cache.name): slab \(id) has \(slab.inuse) used + \(slab.freeStack.count) free ≠ \(objects)"
                    )
                }
                if slab.inuse == objects { fullExpected.insert(id) } else { partialExpected.insert(id) }
                for i in 0..<(1 << order) where !self.memMap.test(slab.pfn.advanced(by: i), .slab) {
                    problems.append("\(cache.name): slab \(id) frame \(i) lacks PageSlab")
                }
            }
            if Set(cache.partial.ids) != partialExpected {
                problems.append("\(cache.name): partial list does not match slab states")
            }
            if Set(cache.full.ids) != fullExpected {
                problems.append("\(cache.name): full list does not match slab states")
            }
            if active != cache.activeObjects || total != cache.totalObjects || count != cache.slabCount
                || pages != cache.pages
            {
                problems.append(
                    "\(cache.name): counters out of step (active \(cache.activeObjects)/\(active), total \(cache.totalObjects)/\(total), slabs \(cache.slabCount)/\(count))"
                )
            }
            slabPages[cache.reclaimable ? 0 : 1] += pages
        }
        let large = self.slab.largeAllocations.values.reduce(0) { $0 + (1 << $1) }
        if slabPages[0] != self.state(.nrSlabReclaimable) {
            problems.append(
                "slab: nr_slab_reclaimable \(self.state(.nrSlabReclaimable)) but caches hold \(slabPages[0])")
        }
        if slabPages[1] + large != self.state(.nrSlabUnreclaimable) {
            problems.append(
                "slab: nr_slab_unreclaimable \(self.state(.nrSlabUnreclaimable)) but caches hold \(slabPages[1] + large)"
            )
        }
        return problems
    }
}
