// Deliberately naive reference ports of libCacheSim eviction policies.
//
// The tests use these classes to check that the optimized ports give the same hit/miss sequence. Each
// class follows the C source of 1a1a11a/libCacheSim function by function (find / can_insert / evict /
// insert), using plain arrays and O(n) scans. All objects have size 1, so a cache size is a number of
// objects, and obj_md_size is 0. Commits read:
//   cache/cache.c 7477283          FIFO.c 2800fe4        LRU.c 4d47e20         LFU.c 11c93a3
//   Clock.c 6cecdd8                Sieve.c 11c93a3       ARC.c 7e3f484         TwoQ.c 6cecdd8
//   LIRS.c a3580aa                 S3FIFO.c 687f14c      Belady.c 2800fe4      chainedHashTableV2.c 6cecdd8
//
// Every `get` is `cache_get_base` (cache/cache.c):
//   hit = find(req, update_cache: true) != NULL
//   if !hit && can_insert(req) { while occupied + obj_size > cache_size { evict(req) }; insert(req) }
// A hit on a ghost / non-resident entry is a miss. The `next` argument is used only by RefBelady.

// MARK: - cache_obj_t, the object queue and the hash table

/// One `cache_obj_t`. The policy union starts zeroed (`create_cache_obj_from_request` runs memset 0).
private struct RefObj {
    let id: UInt64
    /// Insertion order. `chained_hashtable_insert_v2` prepends to the bucket chain, so if an id were ever
    /// inserted twice, `hashtable_find_obj_id` would return the most recently inserted copy.
    let stamp: Int
    /// clock.freq / sieve.freq / S3FIFO.freq
    var freq = 0
    /// LIRS.is_LIR
    var isLIR = false
    /// LIRS.in_cache
    var inCache = false
}

/// A `q_head`/`q_tail` doubly linked list plus its hash table, as one array:
/// index 0 is `q_head` (newest), the last index is `q_tail` (oldest).
private struct RefList {
    var objs: [RefObj] = []
    var nextStamp = 0

    var count: Int { objs.count }

    /// `q_tail`, or nil for NULL.
    var tail: Int? { objs.isEmpty ? nil : objs.count - 1 }

    /// hashtable_find_obj_id
    func find(_ id: UInt64) -> Int? {
        var found: Int?
        for (index, obj) in objs.enumerated() where obj.id == id {
            if let best = found, objs[best].stamp > obj.stamp {
                continue
            }
            found = index
        }
        return found
    }

    /// Where a given `cache_obj_t` (identified by its insertion stamp) is now.
    func index(ofStamp stamp: Int) -> Int? {
        objs.firstIndex { $0.stamp == stamp }
    }

    /// hashtable_insert + prepend_obj_to_head
    mutating func prepend(_ id: UInt64) -> Int {
        objs.insert(RefObj(id: id, stamp: nextStamp), at: 0)
        nextStamp += 1
        return 0
    }

    /// move_obj_to_head
    mutating func moveToHead(_ index: Int) -> Int {
        let obj = objs.remove(at: index)
        objs.insert(obj, at: 0)
        return 0
    }

    /// remove_obj_from_list + hashtable_delete
    mutating func remove(at index: Int) {
        objs.remove(at: index)
    }
}

// MARK: - FIFO (FIFO.c)

/// FIFO.c. Also the sub-cache type used by RefTwoQ (Ain, Aout) and RefS3FIFO (small, ghost, main).
final class RefFIFO {
    fileprivate let cacheSize: Int64
    fileprivate var list = RefList()

    init(capacity: Int) {
        cacheSize = Int64(capacity)
    }

    /// FIFO_get = cache_get_base
    func get(_ id: UInt64, next: Int64) -> Bool {
        if find(id, update: true) != nil {
            return true
        }
        if !canInsert() {
            return false
        }
        while occupied + 1 > cacheSize {
            evict()
        }
        insert(id)
        return false
    }

    /// cache_get_occupied_byte_default
    fileprivate var occupied: Int64 { Int64(list.count) }

    /// cache_can_insert_default: `obj_size + obj_md_size > cache_size` means false.
    fileprivate func canInsert() -> Bool {
        1 <= cacheSize
    }

    /// FIFO_find = cache_find_base: a hit changes nothing.
    fileprivate func find(_ id: UInt64, update: Bool) -> Int? {
        list.find(id)
    }

    /// FIFO_insert: cache_insert_base + prepend_obj_to_head. No size check.
    @discardableResult
    fileprivate func insert(_ id: UInt64) -> Int {
        list.prepend(id)
    }

    /// FIFO_to_evict: q_tail
    fileprivate func toEvict() -> Int? {
        list.tail
    }

    /// FIFO_evict: drop q_tail.
    fileprivate func evict() {
        guard let tail = list.tail else {
            fatalError("RefFIFO.evict on an empty queue (NULL dereference in FIFO_evict)")
        }
        list.remove(at: tail)
    }

    /// FIFO_remove
    @discardableResult
    fileprivate func remove(_ id: UInt64) -> Bool {
        guard let index = list.find(id) else {
            return false
        }
        list.remove(at: index)
        return true
    }
}

// MARK: - LRU (LRU.c)

/// LRU.c. Also the sub-cache type used by RefTwoQ (Am) and RefLIRS (S, Q, NH).
final class RefLRU {
    fileprivate let cacheSize: Int64
    fileprivate var list = RefList()

    init(capacity: Int) {
        cacheSize = Int64(capacity)
    }

    /// LRU_get = cache_get_base
    func get(_ id: UInt64, next: Int64) -> Bool {
        if find(id, update: true) != nil {
            return true
        }
        if !canInsert() {
            return false
        }
        while occupied + 1 > cacheSize {
            evict()
        }
        insert(id)
        return false
    }

    /// cache_get_occupied_byte_default
    fileprivate var occupied: Int64 { Int64(list.count) }

    /// cache_can_insert_default
    fileprivate func canInsert() -> Bool {
        1 <= cacheSize
    }

    /// LRU_find: with update_cache a hit is moved to q_head. Returns the object's (new) index.
    fileprivate func find(_ id: UInt64, update: Bool) -> Int? {
        guard let index = list.find(id) else {
            return nil
        }
        return update ? list.moveToHead(index) : index
    }

    /// LRU_insert: cache_insert_base + prepend_obj_to_head. No size check.
    @discardableResult
    fileprivate func insert(_ id: UInt64) -> Int {
        list.prepend(id)
    }

    /// LRU_to_evict: q_tail
    fileprivate func toEvict() -> Int? {
        list.tail
    }

    /// LRU_evict: drop q_tail.
    fileprivate func evict() {
        guard let tail = list.tail else {
            fatalError("RefLRU.evict on an empty queue (NULL dereference in LRU_evict)")
        }
        list.remove(at: tail)
    }

    /// LRU_remove
    @discardableResult
    fileprivate func remove(_ id: UInt64) -> Bool {
        guard let index = list.find(id) else {
            return false
        }
        list.remove(at: index)
        return true
    }
}

// MARK: - LFU (LFU.c)

/// LFU.c: frequency buckets (freq_map of freq_node lists), evicting the first object of the lowest
/// non-empty bucket. Objects are appended to a bucket's tail on insert and on every hit.
final class RefLFU {
    private let cacheSize: Int64
    /// obj->lfu.freq of each cached object (the hash table)
    private var freqOf: [UInt64: Int] = [:]
    /// freq_map: freq -> freq_node list, first_obj at index 0, last_obj at the end.
    private var freqMap: [Int: [UInt64]] = [1: []]
    private var minFreq = 1
    private var maxFreq = 1

    init(capacity: Int) {
        cacheSize = Int64(capacity)
    }

    /// LFU_get = cache_get_base
    func get(_ id: UInt64, next: Int64) -> Bool {
        if find(id) {
            return true
        }
        if !(1 <= cacheSize) {
            return false
        }
        while Int64(freqOf.count) + 1 > cacheSize {
            evict()
        }
        insert(id)
        return false
    }

    /// LFU_find with update_cache
    private func find(_ id: UInt64) -> Bool {
        guard let oldFreq = freqOf[id] else {
            return false
        }
        let freq = oldFreq + 1
        freqOf[id] = freq
        if maxFreq < freq {
            maxFreq = freq
        }
        // old_node: remove_obj_from_list
        freqMap[oldFreq]?.removeAll { $0 == id }
        // new_node (created if missing): append_obj_to_tail
        freqMap[freq, default: []].append(id)
        if freqMap[oldFreq]?.isEmpty ?? true {
            if minFreq == oldFreq {
                updateMinFreq()
            }
            if oldFreq != 1 {
                freqMap[oldFreq] = nil
            }
        }
        return true
    }

    /// LFU_insert
    private func insert(_ id: UInt64) {
        minFreq = 1
        freqOf[id] = 1
        freqMap[1, default: []].append(id)
    }

    /// LFU_evict
    private func evict() {
        let key = minFreqNode()
        guard var node = freqMap[key], !node.isEmpty else {
            fatalError("RefLFU.evict: empty min-freq node (NULL dereference in LFU_evict)")
        }
        let victim = node.removeFirst()
        freqMap[key] = node
        if node.isEmpty {
            // "we delay the min_freq update to next eviction"
            minFreq = 0
        }
        freqOf[victim] = nil
    }

    /// get_min_freq_node (returns the bucket's key)
    private func minFreqNode() -> Int {
        if minFreq == 1 {
            return 1
        }
        if minFreq == 0 {
            updateMinFreq()
        }
        return minFreq
    }

    /// update_min_freq: the first non-empty bucket above min_freq, up to max_freq.
    private func updateMinFreq() {
        var freq = minFreq + 1
        while freq <= maxFreq {
            if let node = freqMap[freq], !node.isEmpty {
                minFreq = freq
                break
            }
            freq += 1
        }
    }
}

// MARK: - Clock (Clock.c)

/// Clock.c (FIFO-Reinsertion / second chance, optionally an n-bit counter).
final class RefClock {
    private let cacheSize: Int64
    /// `(1 << n_bit_counter) - 1`
    private let maxFreq: Int
    /// init-freq; not clamped to max_freq, as in Clock.c.
    private let initFreq: Int
    private var list = RefList()

    init(capacity: Int, bits: Int = 1, initFreq: Int = 0) {
        cacheSize = Int64(capacity)
        maxFreq = (1 << bits) - 1
        self.initFreq = initFreq
    }

    /// Clock_get = cache_get_base
    func get(_ id: UInt64, next: Int64) -> Bool {
        if find(id) {
            return true
        }
        if !(1 <= cacheSize) {
            return false
        }
        while Int64(list.count) + 1 > cacheSize {
            evict()
        }
        insert(id)
        return false
    }

    /// Clock_find: saturating increment.
    private func find(_ id: UInt64) -> Bool {
        guard let index = list.find(id) else {
            return false
        }
        if list.objs[index].freq < maxFreq {
            list.objs[index].freq += 1
        }
        return true
    }

    /// Clock_insert
    private func insert(_ id: UInt64) {
        let index = list.prepend(id)
        list.objs[index].freq = initFreq
    }

    /// Clock_evict: the hand is q_tail; a referenced object loses one count and moves to q_head.
    private func evict() {
        guard var victim = list.tail else {
            fatalError("RefClock.evict on an empty queue")
        }
        while list.objs[victim].freq >= 1 {
            list.objs[victim].freq -= 1
            _ = list.moveToHead(victim)
            victim = list.objs.count - 1
        }
        list.remove(at: victim)
    }
}

// MARK: - SIEVE (Sieve.c)

/// Sieve.c
final class RefSieve {
    private let cacheSize: Int64
    private var list = RefList()
    /// params->pointer, the hand (nil is NULL: start from q_tail). It always names a cached object.
    private var pointer: UInt64?

    init(capacity: Int) {
        cacheSize = Int64(capacity)
    }

    /// Sieve_get = cache_get_base
    func get(_ id: UInt64, next: Int64) -> Bool {
        if find(id) {
            return true
        }
        if !(1 <= cacheSize) {
            return false
        }
        while Int64(list.count) + 1 > cacheSize {
            evict()
        }
        insert(id)
        return false
    }

    /// Sieve_find: set the visited bit.
    private func find(_ id: UInt64) -> Bool {
        guard let index = list.find(id) else {
            return false
        }
        list.objs[index].freq = 1
        return true
    }

    /// Sieve_insert
    private func insert(_ id: UInt64) {
        let index = list.prepend(id)
        list.objs[index].freq = 0
    }

    /// Sieve_evict: walk from the hand towards q_head (queue.prev), wrapping to q_tail.
    private func evict() {
        var index: Int
        if let hand = pointer {
            guard let found = list.find(hand) else {
                fatalError("RefSieve: the hand names an object that is not cached")
            }
            index = found
        } else {
            guard let tail = list.tail else {
                fatalError("RefSieve.evict on an empty queue")
            }
            index = tail
        }
        while list.objs[index].freq > 0 {
            list.objs[index].freq -= 1
            // obj = obj->queue.prev == NULL ? q_tail : obj->queue.prev
            index = index == 0 ? list.objs.count - 1 : index - 1
        }
        // params->pointer = obj->queue.prev
        pointer = index == 0 ? nil : list.objs[index - 1].id
        list.remove(at: index)
    }
}

// MARK: - ARC (ARC.c)

/// ARC.c. Ghost entries stay in the hash table (here: in b1/b2) with ARC.ghost set.
final class RefARC {
    private let cacheSize: Int64
    /// L1_data (T1), index 0 = head
    private var t1: [UInt64] = []
    /// L2_data (T2)
    private var t2: [UInt64] = []
    /// L1_ghost (B1)
    private var b1: [UInt64] = []
    /// L2_ghost (B2)
    private var b2: [UInt64] = []
    private var p: Double = 0
    private var currObjInL1Ghost = false
    private var currObjInL2Ghost = false
    private var vtimeLastReqInGhost: Int64 = -1
    /// cache->n_req
    private var nReq: Int64 = 0

    init(capacity: Int) {
        cacheSize = Int64(capacity)
    }

    private var l1DataSize: Int64 { Int64(t1.count) }
    private var l2DataSize: Int64 { Int64(t2.count) }
    private var l1GhostSize: Int64 { Int64(b1.count) }
    private var l2GhostSize: Int64 { Int64(b2.count) }

    /// ARC_get = cache_get_base
    func get(_ id: UInt64, next: Int64) -> Bool {
        nReq += 1
        if find(id) {
            return true
        }
        if !(1 <= cacheSize) {
            return false
        }
        // cache_get_occupied_byte_default: only T1 + T2 are counted.
        while l1DataSize + l2DataSize + 1 > cacheSize {
            evict()
        }
        insert(id)
        return false
    }

    /// ARC_find with update_cache
    private func find(_ id: UInt64) -> Bool {
        let inCacheOrGhost = t1.contains(id) || t2.contains(id) || b1.contains(id) || b2.contains(id)
        if !inCacheOrGhost {
            // returns before the flags are reset
            return false
        }
        currObjInL1Ghost = false
        currObjInL2Ghost = false

        if let index = b1.firstIndex(of: id) {
            // case II: ghost hit in B1 (a miss)
            vtimeLastReqInGhost = nReq
            currObjInL1Ghost = true
            let ratio = Double(l2GhostSize) / Double(l1GhostSize)
            let delta = ratio > 1 ? ratio : 1
            let sum = p + delta
            p = sum < Double(cacheSize) ? sum : Double(cacheSize)
            b1.remove(at: index)
            return false
        }
        if let index = b2.firstIndex(of: id) {
            // case III: ghost hit in B2 (a miss)
            vtimeLastReqInGhost = nReq
            currObjInL2Ghost = true
            let ratio = Double(l1GhostSize) / Double(l2GhostSize)
            let delta = ratio > 1 ? ratio : 1
            let diff = p - delta
            p = diff > 0 ? diff : 0
            b2.remove(at: index)
            return false
        }
        // case I: a real hit
        if let index = t1.firstIndex(of: id) {
            t1.remove(at: index)
            t2.insert(id, at: 0)
        } else if let index = t2.firstIndex(of: id) {
            t2.remove(at: index)
            t2.insert(id, at: 0)
        }
        return true
    }

    /// ARC_insert
    private func insert(_ id: UInt64) {
        if vtimeLastReqInGhost == nReq && (currObjInL1Ghost || currObjInL2Ghost) {
            t2.insert(id, at: 0)
            currObjInL1Ghost = false
            currObjInL2Ghost = false
            vtimeLastReqInGhost = -1
        } else {
            t1.insert(id, at: 0)
        }
    }

    /// ARC_evict
    private func evict() {
        if vtimeLastReqInGhost == nReq && (currObjInL1Ghost || currObjInL2Ghost) {
            replace()
        } else {
            evictMissOnAllQueues()
        }
    }

    /// _ARC_replace
    private func replace() {
        let cond1 = l1DataSize > 0
        let cond2 = Double(l1DataSize) > p
        let cond3 = Double(l1DataSize) == p && currObjInL2Ghost
        let cond4 = l2DataSize == 0
        if (cond1 && (cond2 || cond3)) || cond4 {
            // _ARC_evict_L1_data: T1 tail -> B1 head
            guard let victim = t1.popLast() else {
                fatalError("RefARC: _ARC_evict_L1_data with an empty T1")
            }
            b1.insert(victim, at: 0)
        } else {
            // _ARC_evict_L2_data: T2 tail -> B2 head
            guard let victim = t2.popLast() else {
                fatalError("RefARC: _ARC_evict_L2_data with an empty T2")
            }
            b2.insert(victim, at: 0)
        }
    }

    /// _ARC_evict_miss_on_all_queues (case IV)
    private func evictMissOnAllQueues() {
        let incomingSize: Int64 = 1
        if l1DataSize + l1GhostSize + incomingSize > cacheSize {
            if l1GhostSize > 0 {
                // _ARC_evict_L1_ghost, then replace
                b1.removeLast()
                replace()
            } else {
                // _ARC_evict_L1_data_no_ghost
                guard t1.popLast() != nil else {
                    fatalError("RefARC: _ARC_evict_L1_data_no_ghost with an empty T1")
                }
            }
        } else {
            if l1DataSize + l1GhostSize + l2DataSize + l2GhostSize >= cacheSize * 2 {
                if l2GhostSize > 0 {
                    // _ARC_evict_L2_ghost
                    b2.removeLast()
                }
            }
            replace()
        }
    }
}

// MARK: - 2Q (TwoQ.c)

/// TwoQ.c: Ain (FIFO), Aout (FIFO of ghost ids), Am (LRU), each a full sub-cache.
final class RefTwoQ {
    private let cacheSize: Int64
    private let ainCacheSize: Int64
    private let aoutCacheSize: Int64
    private let amCacheSize: Int64
    private let ain: RefFIFO
    private let aout: RefFIFO
    private let am: RefLRU
    private var hitOnGhost = false

    init(capacity: Int) {
        cacheSize = Int64(capacity)
        let ainSizeRatio = 0.25
        let aoutSizeRatio = 0.5
        // int64 = cache_size * ratio: a double product, truncated
        ainCacheSize = Int64(Double(cacheSize) * ainSizeRatio)
        aoutCacheSize = Int64(Double(cacheSize) * aoutSizeRatio)
        amCacheSize = cacheSize - ainCacheSize
        ain = RefFIFO(capacity: Int(ainCacheSize))
        aout = RefFIFO(capacity: Int(aoutCacheSize))
        am = RefLRU(capacity: Int(amCacheSize))
    }

    /// TwoQ_get = cache_get_base
    func get(_ id: UInt64, next: Int64) -> Bool {
        if find(id) {
            return true
        }
        if !canInsert() {
            return false
        }
        while occupied + 1 > cacheSize {
            evict()
        }
        insert(id)
        return false
    }

    /// TwoQ_get_occupied_byte: Ain + Am (Aout holds ghosts only)
    private var occupied: Int64 { ain.occupied + am.occupied }

    /// TwoQ_can_insert
    private func canInsert() -> Bool {
        1 <= ain.cacheSize && 1 <= cacheSize
    }

    /// TwoQ_find with update_cache
    private func find(_ id: UInt64) -> Bool {
        let inAin = ain.find(id, update: false) != nil
        hitOnGhost = false
        if inAin {
            return true
        }
        if aout.remove(id) {
            hitOnGhost = true
        }
        return am.find(id, update: true) != nil
    }

    /// TwoQ_insert
    private func insert(_ id: UInt64) {
        if hitOnGhost {
            hitOnGhost = false
            // a full LRU get: may evict inside Am
            _ = am.get(id, next: Int64.max)
        } else {
            // a direct insert, no size check
            ain.insert(id)
        }
    }

    /// TwoQ_evict
    private func evict() {
        if ain.occupied > ainCacheSize {
            guard let tail = ain.toEvict() else {
                fatalError("RefTwoQ: Ain_to_evict returned NULL")
            }
            let victim = ain.list.objs[tail].id
            // a full FIFO get on Aout: evicts Aout's oldest when Aout is full
            _ = aout.get(victim, next: Int64.max)
            ain.evict()
            return
        }
        am.evict()
    }
}

// MARK: - LIRS (LIRS.c)

/// LIRS.c: three LRU sub-caches used as stacks, S (LRU_s), Q (LRU_q) and NH (LRU_nh, the non-resident
/// HIR ids). S and Q hold separate object copies, each with its own is_LIR / in_cache flags. The
/// counters are uint64_t in C and are updated with wrapping arithmetic here; occupied_byte is maintained
/// by hand, exactly as LIRS.c does.
///
/// Quirk kept on purpose: in hit_RD_HIRinQ, evictLIR -> evictHIR can evict the very Q copy being hit
/// (Q holds one entry when cache_size < 200). The request still counts as a hit and the object gets a
/// resident S copy that occupied_byte does not count, so LIRS can hold a few more than cache_size
/// objects and, at small sizes, can even miss less than Belady.
final class RefLIRS {
    private let cacheSize: Int64
    private let hirsLimit: UInt64
    private let lirsLimit: UInt64
    private var hirsCount: UInt64 = 0
    private var lirsCount: UInt64 = 0
    private var nonresident: UInt64 = 0
    /// cache->occupied_byte
    private var occupied: Int64 = 0
    /// cache->n_obj
    private var nObj: Int64 = 0
    private let lruS: RefLRU
    private let lruQ: RefLRU
    private let lruNH: RefLRU

    init(capacity: Int) {
        cacheSize = Int64(capacity)
        let hirsRatio = 0.01
        // MAX(1, (uint64_t)(hirs_ratio * cache_size))
        let scaled = UInt64(hirsRatio * Double(cacheSize))
        hirsLimit = 1 > scaled ? 1 : scaled
        lirsLimit = UInt64(bitPattern: cacheSize) &- hirsLimit
        lruS = RefLRU(capacity: Int(truncatingIfNeeded: lirsLimit))
        lruQ = RefLRU(capacity: Int(truncatingIfNeeded: hirsLimit))
        lruNH = RefLRU(capacity: capacity)
    }

    /// LIRS_get: cache_get_base, then limitStack.
    func get(_ id: UInt64, next: Int64) -> Bool {
        let hit = getBase(id)
        limitStack()
        return hit
    }

    /// cache_get_base
    private func getBase(_ id: UInt64) -> Bool {
        if find(id) {
            return true
        }
        if !canInsert(id) {
            return false
        }
        var rounds = 0
        while occupied + 1 > cacheSize {
            evict(id)
            rounds += 1
            if rounds > 4 * Int(cacheSize) + 16 {
                fatalError("RefLIRS: LIRS_evict frees nothing; the C loop would never end")
            }
        }
        insert(id)
        return false
    }

    private func isNonResidentHIR(_ list: RefList, _ index: Int) -> Bool {
        !list.objs[index].isLIR && !list.objs[index].inCache
    }

    /// LIRS_find with update_cache: both S and Q are searched (and a found object moved to the top)
    /// before anything else.
    private func find(_ id: UInt64) -> Bool {
        let objS = lruS.find(id, update: true)
        let objQ = lruQ.find(id, update: true)
        if let indexS = objS {
            if lruS.list.objs[indexS].isLIR {
                // accessing an LIR block (hit)
                prune()
                return true
            }
            if lruS.list.objs[indexS].inCache {
                hitRDHIRinS(stampS: lruS.list.objs[indexS].stamp, id: id, hasQ: objQ != nil)
                return true
            }
            // a non-resident HIR block in S: a miss
            return false
        }
        if let indexQ = objQ {
            if lruQ.list.objs[indexQ].inCache {
                hitRDHIRinQ(id)
                return true
            }
            // assert(false) in C, compiled out under NDEBUG
            return false
        }
        return false
    }

    /// LIRS_can_insert (it may evict)
    private func canInsert(_ id: UInt64) -> Bool {
        // cache_can_insert_default
        if !(1 <= cacheSize) {
            return false
        }
        let objS = lruS.find(id, update: false)
        let objQ = lruQ.find(id, update: false)
        if let indexS = objS, isNonResidentHIR(lruS.list, indexS) {
            while lirsCount &+ 1 > lirsLimit {
                evictLIR()
            }
            if lruNH.remove(id) {
                nonresident &-= 1
            }
            return true
        }
        if objS == nil && objQ == nil {
            if 1 > lirsLimit || 1 > hirsLimit {
                return false
            }
            if lirsCount &+ 1 > lirsLimit && hirsCount &+ 1 > hirsLimit {
                while hirsCount &+ 1 > hirsLimit {
                    evictHIR()
                }
                return true
            }
            return true
        }
        fatalError("RefLIRS: LIRS_can_insert should not reach here (the C code aborts)")
    }

    /// LIRS_evict
    private func evict(_ id: UInt64) {
        let objS = lruS.find(id, update: false)
        let objQ = lruQ.find(id, update: false)
        // an HIR non-resident in S
        if let indexS = objS, isNonResidentHIR(lruS.list, indexS) {
            while hirsCount >= hirsLimit {
                evictHIR()
            }
            evictLIR()
        }
        // an HIR non-resident only in Q
        if objS == nil, let indexQ = objQ, !lruQ.list.objs[indexQ].inCache {
            while hirsCount >= hirsLimit {
                evictHIR()
            }
        }
        // in neither S nor Q
        if objS == nil && objQ == nil {
            if lirsCount &+ 1 > lirsLimit && hirsCount &+ 1 > hirsLimit {
                evictHIR()
            }
        }
    }

    /// LIRS_insert
    private func insert(_ id: UInt64) {
        let objS = lruS.find(id, update: false)
        let objQ = lruQ.find(id, update: false)

        // an HIR non-resident in S becomes LIR
        if let indexS = objS, isNonResidentHIR(lruS.list, indexS) {
            lruS.list.objs[indexS].isLIR = true
            lruS.list.objs[indexS].inCache = true
            lirsCount &+= 1
            occupied += 1
            nObj += 1
        }

        // an HIR non-resident only in Q
        if objS == nil, let indexQ = objQ, !lruQ.list.objs[indexQ].inCache {
            insertResidentHIR(id)
            hirsCount &+= 1
            occupied += 1
            nObj += 1
        }

        // in neither S nor Q
        if objS == nil && objQ == nil {
            if lirsCount &+ 1 <= lirsLimit {
                let indexS = lruS.insert(id)
                lruS.list.objs[indexS].isLIR = true
                lruS.list.objs[indexS].inCache = true
                lirsCount &+= 1
                occupied += 1
            } else {
                // the `hirs_count + size <= hirs_limit` branch and the final else are identical
                insertResidentHIR(id)
                hirsCount &+= 1
                occupied += 1
            }
            nObj += 1
        }
    }

    /// The repeated LIRS.c block: a resident HIR copy on top of S and on top of Q.
    private func insertResidentHIR(_ id: UInt64) {
        let indexS = lruS.insert(id)
        lruS.list.objs[indexS].isLIR = false
        lruS.list.objs[indexS].inCache = true
        let indexQ = lruQ.insert(id)
        lruQ.list.objs[indexQ].isLIR = false
        lruQ.list.objs[indexQ].inCache = true
    }

    /// LIRS_prune: drop HIR entries from the bottom of S, stopping at an LIR entry or at q_head
    /// (q_head itself is never examined).
    private func prune() {
        while let tail = lruS.list.tail, tail != 0 {
            let obj = lruS.list.objs[tail]
            if obj.isLIR {
                break
            }
            if !obj.inCache {
                if lruNH.remove(obj.id) {
                    nonresident &-= 1
                }
            }
            lruS.evict()
        }
    }

    /// hit_RD_HIRinS: a resident HIR block in S becomes LIR.
    private func hitRDHIRinS(stampS: Int, id: UInt64, hasQ: Bool) {
        if hasQ {
            hirsCount &-= 1
            lruQ.remove(id)
            occupied -= 1
            nObj -= 1
        }
        while lirsCount &+ 1 > lirsLimit {
            evictLIR()
        }
        guard let indexS = lruS.list.index(ofStamp: stampS) else {
            fatalError("RefLIRS: hit_RD_HIRinS object was evicted from S (use after free in C)")
        }
        lruS.list.objs[indexS].isLIR = true
        lirsCount &+= 1
        occupied += 1
        nObj += 1
    }

    /// hit_RD_HIRinQ: a resident HIR block only in Q gets a resident HIR copy on top of S (it stays in Q,
    /// unless evictLIR -> evictHIR evicts it meanwhile).
    private func hitRDHIRinQ(_ id: UInt64) {
        while lirsCount &+ 1 > lirsLimit {
            evictLIR()
        }
        lruS.insert(id)
        guard let indexS = lruS.find(id, update: false) else {
            fatalError("RefLIRS: hit_RD_HIRinQ lost its new S object")
        }
        lruS.list.objs[indexS].isLIR = false
        lruS.list.objs[indexS].inCache = true
    }

    /// evictLIR: the bottom of S (whatever it is) leaves S; it becomes a resident HIR on top of Q.
    private func evictLIR() {
        guard let tail = lruS.toEvict() else {
            fatalError("RefLIRS: evictLIR with an empty S (NULL dereference in C)")
        }
        let id = lruS.list.objs[tail].id
        lirsCount &-= 1
        lruS.evict()
        occupied -= 1
        nObj -= 1

        if 1 <= hirsLimit {
            while hirsCount &+ 1 > hirsLimit {
                evictHIR()
            }
            lruQ.insert(id)
            guard let indexQ = lruQ.find(id, update: false) else {
                fatalError("RefLIRS: evictLIR lost its new Q object")
            }
            lruQ.list.objs[indexQ].isLIR = false
            lruQ.list.objs[indexQ].inCache = true
            hirsCount &+= 1
            occupied += 1
            nObj += 1
        }

        prune()
    }

    /// evictHIR: the bottom of Q leaves the cache; its S copy (if any) becomes non-resident and its id
    /// goes on top of NH.
    private func evictHIR() {
        guard let tail = lruQ.toEvict() else {
            fatalError("RefLIRS: evictHIR with an empty Q (NULL dereference in C)")
        }
        let id = lruQ.list.objs[tail].id
        hirsCount &-= 1
        lruQ.evict()

        if let indexS = lruS.find(id, update: false) {
            lruS.list.objs[indexS].inCache = false
            lruNH.insert(id)
            nonresident &+= 1
        }
        occupied -= 1
        nObj -= 1
    }

    /// limitStack: while S holds more than 2 * cache_size entries, drop the oldest NH id from NH and S.
    private func limitStack() {
        while lruS.occupied > 2 * cacheSize {
            guard let tail = lruNH.toEvict() else {
                break
            }
            let id = lruNH.list.objs[tail].id
            nonresident &-= 1
            lruS.remove(id)
            lruNH.evict()
        }
    }
}

// MARK: - S3-FIFO (S3FIFO.c, the "created 12/4/24" version)

/// S3FIFO.c: small FIFO, main FIFO (2-bit clock by reinsertion) and a ghost FIFO of ids.
final class RefS3FIFO {
    private let cacheSize: Int64
    private let moveToMainThreshold = 2
    private let small: RefFIFO
    /// NULL in C when ghost_fifo_size is 0
    private let ghost: RefFIFO?
    private let main: RefFIFO
    private var hitOnGhost = false
    private var hasEvicted = false

    init(capacity: Int) {
        cacheSize = Int64(capacity)
        let smallSizeRatio = 0.10
        let ghostSizeRatio = 0.90
        // (int64_t)cache_size * ratio: a double product, truncated on assignment
        let smallFifoSize = Int64(Double(cacheSize) * smallSizeRatio)
        let mainFifoSize = cacheSize - smallFifoSize
        let ghostFifoSize = Int64(Double(cacheSize) * ghostSizeRatio)
        small = RefFIFO(capacity: Int(smallFifoSize))
        ghost = ghostFifoSize > 0 ? RefFIFO(capacity: Int(ghostFifoSize)) : nil
        main = RefFIFO(capacity: Int(mainFifoSize))
    }

    /// S3FIFO_get = cache_get_base
    func get(_ id: UInt64, next: Int64) -> Bool {
        if find(id) {
            return true
        }
        if !canInsert() {
            return false
        }
        while occupied + 1 > cacheSize {
            evict()
        }
        insert(id)
        return false
    }

    /// S3FIFO_get_occupied_byte: small + main (the ghost is not counted)
    private var occupied: Int64 { small.occupied + main.occupied }

    /// S3FIFO_can_insert
    private func canInsert() -> Bool {
        1 <= small.cacheSize && 1 <= cacheSize
    }

    /// S3FIFO_find with update_cache
    private func find(_ id: UInt64) -> Bool {
        hitOnGhost = false
        if let index = small.find(id, update: true) {
            small.list.objs[index].freq += 1
            return true
        }
        if let ghost, ghost.remove(id) {
            hitOnGhost = true
        }
        if let index = main.find(id, update: true) {
            main.list.objs[index].freq += 1
            return true
        }
        return false
    }

    /// S3FIFO_insert
    private func insert(_ id: UInt64) {
        let target: RefFIFO
        if hitOnGhost {
            hitOnGhost = false
            target = main
        } else {
            if 1 >= small.cacheSize {
                // `req->obj_size >= small->cache_size`: not inserted at all
                return
            }
            if !hasEvicted && small.occupied >= small.cacheSize {
                target = main
            } else {
                target = small
            }
        }
        let index = target.insert(id)
        target.list.objs[index].freq = 0
    }

    /// S3FIFO_evict
    private func evict() {
        hasEvicted = true
        if main.occupied > main.cacheSize || small.occupied == 0 {
            evictMain()
        } else {
            evictSmall()
        }
    }

    /// S3FIFO_evict_small: loops until one object really leaves (or small is empty).
    private func evictSmall() {
        var evicted = false
        while !evicted && small.occupied > 0 {
            guard let tail = small.toEvict() else {
                fatalError("RefS3FIFO: small->to_evict returned NULL")
            }
            let obj = small.list.objs[tail]
            if obj.freq >= moveToMainThreshold {
                // a new main object (freq 0) at main's head
                main.insert(obj.id)
            } else {
                if let ghost {
                    _ = ghost.get(obj.id, next: Int64.max)
                }
                evicted = true
            }
            small.remove(obj.id)
        }
    }

    /// S3FIFO_evict_main: 2-bit clock by reinsertion.
    private func evictMain() {
        var evicted = false
        while !evicted && main.occupied > 0 {
            guard let tail = main.toEvict() else {
                fatalError("RefS3FIFO: main->to_evict returned NULL")
            }
            let obj = main.list.objs[tail]
            if obj.freq >= 1 {
                main.remove(obj.id)
                let index = main.insert(obj.id)
                main.list.objs[index].freq = min(obj.freq, 3) - 1
            } else {
                main.remove(obj.id)
                evicted = true
            }
        }
    }
}

// MARK: - Belady (Belady.c)

/// Belady.c (demand-fetch MIN): evict the cached object whose next access is farthest away. The incoming
/// object is always inserted. `next == Int64.max` means never accessed again; ties (only possible
/// among Int64.max) go to the earliest-inserted object here, the C heap picks by its layout, and the
/// miss count is the same either way.
final class RefBelady {
    private let cacheSize: Int64
    /// cached ids with Belady.next_access_vtime, in insertion order
    private var ids: [UInt64] = []
    private var nexts: [Int64] = []

    init(capacity: Int) {
        cacheSize = Int64(capacity)
    }

    /// Belady_get = cache_get_base
    func get(_ id: UInt64, next: Int64) -> Bool {
        if find(id, next: next) {
            return true
        }
        if !(1 <= cacheSize) {
            return false
        }
        while Int64(ids.count) + 1 > cacheSize {
            evict()
        }
        insert(id, next: next)
        return false
    }

    /// Belady_find: a hit takes the request's next access time (pqueue_change_priority).
    private func find(_ id: UInt64, next: Int64) -> Bool {
        guard let index = ids.firstIndex(of: id) else {
            return false
        }
        nexts[index] = next
        return true
    }

    /// Belady_insert
    private func insert(_ id: UInt64, next: Int64) {
        ids.append(id)
        nexts.append(next)
    }

    /// Belady_evict: pqueue_pop of the largest priority.
    private func evict() {
        guard var victim = nexts.indices.first else {
            fatalError("RefBelady.evict on an empty cache")
        }
        for index in nexts.indices where nexts[index] > nexts[victim] {
            victim = index
        }
        ids.remove(at: victim)
        nexts.remove(at: victim)
    }
}
