import VMPhys
import VMTypes

/// A shadow entry (`pack_shadow()`, mm/workingset.c): what reclaim leaves in a file's page
/// cache index, or in the swap cache, in place of the page it evicted, so that a later fault on
/// that offset can tell a refault of a recently evicted page from a first access.
///
/// Simplified: Linux packs the fields into one `xa_value` word in the slot the page had;
/// vmsim keeps them beside the index (`SimFile.shadows`, `SwapArea.shadows`), keyed by offset.
/// No `bucket_order` (on 64-bit the eviction counter fits without one), and no shadow-node
/// shrinker (`workingset_nodes`/`workingset_nodereclaim` stay 0): shadows go when the offset is
/// filled again, the file is truncated or its inode evicted, or the swap slot is freed.
public struct Shadow: Equatable, Sendable {
    /// The memory cgroup (lruvec) whose clock `eviction` was read on (`memcgid`).
    public var lruvec: Int
    /// Classic LRU: the lruvec's `nonresident_age` at eviction. MGLRU: its `min_seq` of the
    /// page's type at eviction (the token's sequence).
    public var eviction: Int
    /// MGLRU: the page's references through file descriptors, less one (the token's low bits).
    public var refs: Int
    /// `PG_workingset` at eviction: the page had been active.
    public var workingset: Bool
}

/// Workingset detection (mm/workingset.c, Linux 6.18): refault distances on the classic LRU.
///
/// Every eviction and every activation ages the lruvec's `nonresident_age` — and its parents',
/// since a cgroup's LRU order is made of its children's (`workingset_age_nonresident()`).
/// `workingset_eviction()` stores that clock in the page's shadow. When the page comes back,
/// `workingset_refault()` counts `workingset_refault_*`; if the distance since its eviction is
/// no more than the workingset the evicting lruvec holds (`workingset_test_recent()`: its
/// active file list, plus the inactive file list for anonymous pages, plus the anonymous
/// lists while swap has room), the page would have stayed with the memory it competes for: it
/// starts active (`workingset_activate_*`), and if it had been active before it was evicted
/// it is marked `PG_workingset` and its reclaim cost noted (`workingset_restore_*`,
/// `lru_note_cost_refault()`).
///
/// With MGLRU (`lru_gen` on) the shadow holds the generation and tier instead (see
/// `LRUGen.swift`: `lru_gen_eviction()`, `lru_gen_refault()`).
extension Kernel {
    /// `workingset_age_nonresident()`: the lruvec and its ancestors age by `n` pages.
    func workingsetAgeNonresident(_ lruvec: Int, _ n: Int) {
        var group: MemCgroup? = self.memcg.groups[lruvec]
        while let g = group {
            self.lruvecs[g.id].ageNonresident(n)
            group = g.parent
        }
    }

    /// `workingset_eviction()`: the shadow for `pfn`, evicted by reclaim for `target` (nil:
    /// global reclaim, whose clock is the root's). Ages that lruvec.
    func workingsetEviction(_ pfn: PFN, target: MemCgroup?) -> Shadow {
        if self.lruGenEnabled { return self.lruGenEviction(pfn) }
        let lruvec = target?.id ?? 0
        let eviction = self.lruvecs[lruvec].nonresidentAge
        self.workingsetAgeNonresident(lruvec, 1)
        return Shadow(
            lruvec: lruvec, eviction: eviction, refs: 0, workingset: self.phys.memMap.test(pfn, .workingset))
    }

    /// `workingset_test_recent()`: whether the page `shadow` stands for was evicted recently
    /// enough to have stayed resident had the workingset had all the evicting lruvec's memory.
    func workingsetTestRecent(_ shadow: Shadow, file: Bool) -> Bool {
        if self.lruGenEnabled { return self.lruGenTestRecent(shadow) }
        let distance = self.lruvecs[shadow.lruvec].nonresidentAge - shadow.eviction
        let group = self.memcg.groups[shadow.lruvec]
        func size(_ list: LRUList) -> Int {
            group.isRoot
                ? self.lruSize(list) : group.subtree.reduce(0) { $0 + self.lruvecs[$1.id].count(list) }
        }
        var workingset = size(.activeFile)
        if !file { workingset += size(.inactiveFile) }
        if self.memcgSwapPagesAvailable(group) > 0 {
            workingset += size(.activeAnon)
            if file { workingset += size(.inactiveAnon) }
        }
        return distance <= workingset
    }

    /// `workingset_refault()`: `pfn`, just allocated for an offset that held `shadow`, before it
    /// joins the LRU. Counted on the lruvec of the cgroup that now owns the page.
    func workingsetRefault(_ pfn: PFN, _ shadow: Shadow) {
        if self.lruGenEnabled { return self.lruGenRefault(pfn, shadow) }
        let file = !self.phys.memMap.test(pfn, .swapBacked)
        let owner = self.lruvecID(of: pfn)
        self.workingsetCount(owner, file ? .workingsetRefaultFile : .workingsetRefaultAnon)
        guard self.workingsetTestRecent(shadow, file: file) else { return }
        self.phys.memMap.insertFlags(pfn, .active)
        self.workingsetAgeNonresident(owner, 1)
        self.workingsetCount(owner, file ? .workingsetActivateFile : .workingsetActivateAnon)
        if shadow.workingset {
            self.phys.memMap.insertFlags(pfn, .workingset)
            self.lruNoteCost(file: file, io: 1, rotated: 0, lruvec: owner)
            self.workingsetCount(owner, file ? .workingsetRestoreFile : .workingsetRestoreAnon)
        }
    }

    /// `workingset_activation()`: a page activated by `folio_mark_accessed()` ages its lruvec.
    func workingsetActivation(_ pfn: PFN) {
        self.workingsetAgeNonresident(self.lruvecID(of: pfn), 1)
    }

    /// `mod_lruvec_state()` for a workingset event: the node's counter and the cgroup's.
    func workingsetCount(_ lruvec: Int, _ item: NodeStatItem) {
        self.phys.mod(item, 1)
        guard self.memcg.isActive, let stat = MemcgStat(workingset: item) else { return }
        self.memcg.groups[lruvec].count(stat)
    }
}
