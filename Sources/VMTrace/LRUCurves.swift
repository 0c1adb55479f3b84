/// LRU's misses, evictions and dirty evictions at every number of frames, from one pass over a
/// trace: what `simulate(.lru, frames: c, …)` counts, for all c at once.
///
/// Misses come from the stack distances (Mattson et al. 1970: LRU with c frames hits exactly the
/// accesses whose distance is at most c). LRU evicts only to make room for a miss, so once the
/// frames are full every miss evicts one page: evictions(c) = misses(c) − min(c, distinct).
///
/// Dirty evictions need one more number per page, `dirtyFrom`: the smallest c at which the page,
/// as it stands after its latest access, has been written since it was last loaded. An access at
/// distance d reloads the page at every c < d (its residency began again, clean) and keeps it at
/// every c ≥ d; a write makes it dirty at every c. So after an access, `dirtyFrom` is 1 for a
/// write, else max(dirtyFrom, d) (∞ after a first access that reads). The gap before the page's
/// next access, at distance d′, evicts the page at every c < d′; it was a dirty eviction at
/// every c in dirtyFrom…d′−1, added to a difference array. After the last access of a page the
/// "next distance" is its rank in the final LRU stack (1 = the most recent page): the page is
/// evicted at every c below it by the pages after it.
public struct LRUCurves: Sendable, Equatable {
    /// Accesses in the trace.
    public var accesses = 0
    /// Distinct pages.
    public var distinct = 0
    /// `misses[c]`, `dirtyEvictions[c]` for c = 0…distinct (index 0: no frames; unused).
    public var misses: [Int] = []
    /// Per size, evicted pages that were dirty.
    public var dirtyEvictions: [Int] = []

    /// What LRU counts with `frames` frames (at least one), as `simulate` reports it.
    public func counts(frames: Int) -> ReplayCounts {
        let c = min(max(frames, 1), self.distinct)
        var r = ReplayCounts()
        r.accesses = self.accesses
        guard self.distinct > 0 else { return r }
        let misses = self.misses[c]
        r.hits = self.accesses - misses
        r.evictions = misses - min(max(frames, 1), self.distinct)
        r.dirtyEvictions = self.dirtyEvictions[c]
        return r
    }
}

/// LRU at every size in one pass over a dense trace (O(log distinct) per access, O(distinct)
/// memory beyond the trace).
public func lruCurves(_ trace: DenseTrace) -> LRUCurves {
    let distinct = trace.distinct
    var counter = StackDistanceCounter(distinct: distinct)
    // counts[d]: reuses at distance d; dirty[c]: difference array of dirty evictions.
    var counts = [Int](repeating: 0, count: distinct + 2)
    var dirty = [Int](repeating: 0, count: distinct + 2)
    let never = Int32.max
    var dirtyFrom = [Int32](repeating: never, count: max(distinct, 1))
    var cold = 0
    trace.ids.withUnsafeBufferPointer { ids in
        for i in 0..<ids.count {
            let id = Int(ids[i])
            let d = counter.access(id)
            let write = trace.isWrite(i)
            if d == 0 {
                cold += 1
                dirtyFrom[id] = write ? 1 : never
            } else {
                counts[d] += 1
                // The gap just ended evicted the page at every c < d; dirty at c ≥ dirtyFrom.
                let from = Int(dirtyFrom[id])
                if from < d {
                    dirty[from] += 1
                    dirty[d] -= 1
                }
                dirtyFrom[id] = write ? 1 : max(dirtyFrom[id], Int32(truncatingIfNeeded: d))
            }
        }
    }
    // The final stack: the rank of each page from the most recent access.
    var rank = 0
    for w in stride(from: counter.bits.count - 1, through: 0, by: -1) where counter.bits[w] != 0 {
        var x = counter.bits[w]
        while x != 0 {
            let bit = 63 - x.leadingZeroBitCount
            x &= ~(UInt64(1) << UInt64(bit))
            rank += 1
            let id = Int(counter.owner[w * 64 + bit])
            let from = Int(dirtyFrom[id])
            if from < rank {
                dirty[from] += 1
                dirty[rank] -= 1
            }
        }
    }
    var result = LRUCurves()
    result.accesses = trace.count
    result.distinct = distinct
    result.misses = [Int](repeating: 0, count: distinct + 1)
    result.dirtyEvictions = [Int](repeating: 0, count: distinct + 1)
    var beyond = 0
    for c in stride(from: distinct, through: 0, by: -1) {
        result.misses[c] = cold + beyond
        beyond += counts[c]
    }
    var running = 0
    for c in 0...distinct {
        running += dirty[c]
        result.dirtyEvictions[c] = running
    }
    return result
}
