import VMPaging
import VMPhys
import VMTypes

/// Reading and writing swap slots (mm/page_io.c: `swap_writepage()`, `swap_read_folio()`, and
/// their bio completions).
extension Kernel {
    // MARK: Swap I/O

    /// The disk block of slot `offset` of `area`.
    func swapBlock(_ area: SwapArea, _ offset: UInt64) -> UInt64 {
        if let id = area.file { return self.file(id).block(of: offset)! }
        return area.startBlock + offset
    }

    /// `swap_writepage()` for a batch: each page goes under writeback and its word is captured;
    /// runs of consecutive blocks share a request (the block layer's plug merges them).
    func swapWriteout(_ pages: [(pfn: PFN, entry: SwapEntry)]) {
        var byArea: [Int: [(UInt64, UInt64, PFN)]] = [:]
        for (pfn, e) in pages {
            self.phys.memMap.removeFlags(pfn, .dirty)
            self.phys.memMap.insertFlags(pfn, [.writeback, .reclaim])
            self.phys.mod(.nrWriteback, 1)
            if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrZoneWritePending, 1) }
            byArea[e.type, default: []].append((e.offset, self.phys.memMap.content(pfn), pfn))
        }
        self.phys.count(.pswpout, UInt64(pages.count))
        self.phys.mod(.nrVmscanWrite, pages.count)
        self.swap.writebackPages += pages.count
        for t in byArea.keys.sorted() {
            let area = self.swap.areas[t]!
            self.submitSwapIO(area, write: true, byArea[t]!.sorted { $0.0 < $1.0 })
        }
    }

    /// Groups (offset, word, page) into requests of consecutive blocks.
    func submitSwapIO(_ area: SwapArea, write: Bool, _ items: [(UInt64, UInt64, PFN)]) {
        BlockLayer.plugRuns(items, index: \.0, block: { self.swapBlock(area, $0.0) }) { block, run in
            self.queueIO(
                BlockRequest(operation: write ? .write : .read, block: block, count: UInt64(run.count)),
                .swap(area.type, write: write, run))
            self.phys.count(write ? .pgpgout : .pgpgin, UInt64(run.count) * UInt64(self.phys.pageSize >> 10))
        }
    }

    /// A swap request completed: a write's words reach the slots and its pages' writeback ends
    /// (a page reclaim wrote is rotated to the tail of the inactive list, `folio_rotate_reclaimable()`);
    /// a read's pages become up to date.
    func completeSwapIO(_ type: Int, write: Bool, _ items: [(UInt64, UInt64, PFN)]) {
        let area = self.swap.areas[type]
        for (offset, word, pfn) in items {
            if write {
                area?.storeDiskWord(offset, word)
                self.phys.memMap.removeFlags(pfn, .writeback)
                self.phys.mod(.nrWriteback, -1)
                self.phys.mod(.nrWritten, 1)
                self.swap.writebackPages -= 1
                if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrZoneWritePending, -1) }
                if self.phys.memMap.test(pfn, .reclaim) {
                    self.phys.memMap.removeFlags(pfn, .reclaim)
                    if self.phys.memMap.test(pfn, .lru) && !self.phys.memMap.test(pfn, .dirty)
                        && !self.phys.memMap.test(pfn, .unevictable)
                    {
                        self.lruRemove(pfn)
                        self.phys.memMap.removeFlags(pfn, .active)
                        self.lruAddTail(pfn, to: self.lruList(of: pfn))
                        self.phys.count(.pgrotated)
                    }
                }
            } else {
                guard self.phys.memMap.test(pfn, .locked) else { continue }
                self.phys.memMap.setContent(pfn, area?.diskWord(offset) ?? 0)
                self.phys.memMap.insertFlags(pfn, .uptodate)
                self.phys.memMap.removeFlags(pfn, .locked)
            }
        }
    }
}
