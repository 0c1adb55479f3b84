import VMPhys
import VMTypes

/// The five LRU lists of a node (`enum lru_list`, include/linux/mmzone.h).
public enum LRUList: Int, CaseIterable, Sendable {
    case inactiveAnon = 0
    case activeAnon
    case inactiveFile
    case activeFile
    case unevictable

    public var isFile: Bool { self == .inactiveFile || self == .activeFile }
    public var isActive: Bool { self == .activeAnon || self == .activeFile }
    /// The node counter (`NR_LRU_BASE + lru`).
    var nodeItem: NodeStatItem {
        switch self {
        case .inactiveAnon: return .nrInactiveAnon
        case .activeAnon: return .nrActiveAnon
        case .inactiveFile: return .nrInactiveFile
        case .activeFile: return .nrActiveFile
        case .unevictable: return .nrUnevictable
        }
    }
    /// The zone counter (`NR_ZONE_LRU_BASE + lru`).
    var zoneItem: ZoneStatItem {
        switch self {
        case .inactiveAnon: return .nrZoneInactiveAnon
        case .activeAnon: return .nrZoneActiveAnon
        case .inactiveFile: return .nrZoneInactiveFile
        case .activeFile: return .nrZoneActiveFile
        case .unevictable: return .nrZoneUnevictable
        }
    }
    public var name: String {
        ["inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable"][self.rawValue]
    }
}

/// LRU lists (mm/swap.c, mm/vmscan.c's list helpers): pages join at the head; reclaim scans from
/// the tail. vmsim keeps one set of lists per memory cgroup (the root's is the node's when there are none),
/// as Linux does (`mem_cgroup_lruvec()`); a page is on the lists of the cgroup it is charged to.
extension Kernel {
    /// The list a page is on, from its flags (`folio_lru_list()`).
    func lruList(of pfn: PFN) -> LRUList {
        if let gen = self.phys.memMap.lruGen(pfn) {
            // On a generation list: the two youngest generations are the active lists.
            let active = self.lruvecs[self.lruvecID(of: pfn)].gen.isActive(gen)
            if self.phys.memMap.test(pfn, .swapBacked) { return active ? .activeAnon : .inactiveAnon }
            return active ? .activeFile : .inactiveFile
        }
        if self.phys.memMap.test(pfn, .unevictable) { return .unevictable }
        let file = !self.phys.memMap.test(pfn, .swapBacked)
        let active = self.phys.memMap.test(pfn, .active)
        switch (file, active) {
        case (false, false): return .inactiveAnon
        case (false, true): return .activeAnon
        case (true, false): return .inactiveFile
        case (true, true): return .activeFile
        }
    }

    /// `lruvec_add_folio()`: puts a page at the head of its list.
    func lruAdd(_ pfn: PFN, to list: LRUList) {
        precondition(!self.phys.memMap.test(pfn, .lru), "lruAdd: \(pfn) is already on an LRU list")
        self.phys.memMap.insertFlags(pfn, .lru)
        if self.lruGenEnabled && list != .unevictable { return self.lruGenAdd(pfn, reclaiming: false) }
        self.lruvecs[self.lruvecID(of: pfn)].add(pfn, to: list, toTail: false, self.phys.memMap)
        self.lruCount(pfn, list, 1)
    }

    /// `lruvec_del_folio()`: takes a page off its list.
    func lruRemove(_ pfn: PFN) {
        precondition(self.phys.memMap.test(pfn, .lru), "lruRemove: \(pfn) is not on an LRU list")
        if self.phys.memMap.lruGen(pfn) != nil {
            self.lruGenDel(pfn, reclaiming: false)
            self.phys.memMap.removeFlags(pfn, .lru)
            return
        }
        let list = self.lruList(of: pfn)
        self.lruvecs[self.lruvecID(of: pfn)].remove(pfn, from: list, self.phys.memMap)
        self.phys.memMap.removeFlags(pfn, .lru)
        self.lruCount(pfn, list, -1)
    }

    func lruCount(_ pfn: PFN, _ list: LRUList, _ delta: Int) {
        self.phys.mod(list.nodeItem, delta)
        if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, list.zoneItem, delta) }
    }

    /// `folio_add_lru()` for a newly faulted anonymous or page-cache page: anonymous and file
    /// pages start inactive (anonymous ones since Linux 5.9); pages of `VM_LOCKED` areas go to
    /// the unevictable list and are counted as mlocked (`mlock_new_folio()`).
    func lruAddNew(_ pfn: PFN, vma: VMA?) {
        self.lruAddNew(pfn, locked: vma?.flags.contains(.locked) ?? false)
    }

    /// `lruAddNew` for a page of an area that is (`VM_LOCKED`) or is not mlocked.
    func lruAddNew(_ pfn: PFN, locked: Bool) {
        if locked {
            self.phys.memMap.insertFlags(pfn, [.unevictable, .mlocked])
            if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrMlock, 1) }
            self.phys.count(.unevictablePgsMlocked)
            self.lruAdd(pfn, to: .unevictable)
            return
        }
        self.folioAddLRU(pfn)
    }

    /// `folio_add_lru()` for a page new to the LRU; with lru_gen, one added during a page fault
    /// in an area with recency (not by reclaim) is activated first.
    func folioAddLRU(_ pfn: PFN) {
        if self.lruGenEnabled && self.reclaim.inLRUFault && self.reclaim.depth == 0
            && !self.phys.memMap.test(pfn, .unevictable)
        {
            self.phys.memMap.insertFlags(pfn, .active)
        }
        self.lruAdd(pfn, to: self.lruList(of: pfn))
    }

    /// Puts a page at the tail of its list (`lruvec_add_folio_tail()`): next in line for reclaim.
    func lruAddTail(_ pfn: PFN, to list: LRUList) {
        precondition(!self.phys.memMap.test(pfn, .lru), "lruAddTail: \(pfn) is already on an LRU list")
        self.phys.memMap.insertFlags(pfn, .lru)
        if self.lruGenEnabled && list != .unevictable { return self.lruGenAdd(pfn, reclaiming: true) }
        self.lruvecs[self.lruvecID(of: pfn)].add(pfn, to: list, toTail: true, self.phys.memMap)
        self.lruCount(pfn, list, 1)
    }

    /// `mlock_folio()`: a page of a `VM_LOCKED` area moves to the unevictable list, counted in
    /// `Mlocked`.
    func mlockPage(_ pfn: PFN) {
        guard !self.phys.memMap.test(pfn, .mlocked) else { return }
        let onLRU = self.phys.memMap.test(pfn, .lru)
        if onLRU { self.lruRemove(pfn) }
        self.phys.memMap.insertFlags(pfn, [.unevictable, .mlocked])
        self.phys.memMap.removeFlags(pfn, .active)
        if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrMlock, 1) }
        self.phys.count(.unevictablePgsMlocked)
        if onLRU { self.lruAdd(pfn, to: .unevictable) }
    }

    /// Takes a page off the LRU before it is freed, undoing its mlock accounting.
    func lruDelete(_ pfn: PFN) {
        if self.phys.memMap.test(pfn, .lru) { self.lruRemove(pfn) }
        if self.phys.memMap.test(pfn, .mlocked) {
            self.phys.memMap.removeFlags(pfn, .mlocked)
            if let z = self.phys.zoneIndex(of: pfn) { self.phys.modZone(z, .nrMlock, -1) }
        }
        self.phys.memMap.removeFlags(pfn, [.unevictable, .active, .referenced, .workingset])
        self.phys.memMap.setLRURefs(pfn, 0)
    }

    /// Pages on each list, oldest last, for `show lru` and tests.
    public func lruPages(_ list: LRUList) -> [PFN] {
        let classic = self.lruvecs.flatMap { $0.pages(list, self.phys.memMap) }
        return self.lruGenEnabled ? self.lruGenPages(list) + classic : classic
    }

    /// Number of pages on a list (over every cgroup's lruvec).
    public func lruSize(_ list: LRUList) -> Int {
        // By index: `reduce` would copy each LRUVec (its lists and generations) into the closure.
        var n = 0
        for i in self.lruvecs.indices { n += self.lruvecs[i].count(list) }
        return n
    }
}
