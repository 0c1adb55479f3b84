import VMPhys
import VMTypes

/// A VMA named by its mm and its slot in that mm (stable for the VMA's life).
public struct VMARef: Hashable, Sendable {
    public var mm: Int
    public var slot: Int
}

/// The reverse-map root for anonymous pages: which VMAs may map pages filed under it.
///
/// Models `struct anon_vma` (include/linux/rmap.h): `root` (the oldest ancestor), `parent`,
/// `num_children`, and the interval tree of `anon_vma_chain`s — here the set of linked VMAs.
/// A page's `mapping` names the anon_vma it was created under; after fork the parent's and the
/// child's VMAs are all linked to it, so rmap finds every PTE of a shared page.
public struct AnonVMA: Sendable {
    public internal(set) var root: AnonVMAID
    public internal(set) var parent: AnonVMAID?
    public internal(set) var numChildren = 0
    /// VMAs linked through an anon_vma_chain.
    public internal(set) var linked: Set<VMARef> = []
    var object: UInt64 = 0
    /// Pages whose `mapping` names this anon_vma (it stays while any does).
    var pagesFiled = 0
}

/// Reverse mapping (mm/rmap.c): anon_vma setup, cloning on split and fork, unlinking, and the
/// walk from a page to every PTE that maps it.
extension Kernel {
    func anonVMA(_ id: AnonVMAID) -> AnonVMA {
        guard let a = self.anonVMAs[id.rawValue] else { preconditionFailure("anonVMA: \(id) was freed") }
        return a
    }

    func allocAnonVMA(root: AnonVMAID?, parent: AnonVMAID?) -> AnonVMAID? {
        guard let object = self.phys.kmemCacheAlloc(self.caches.anonVMA, .kernel) else { return nil }
        let id: AnonVMAID
        if let reused = self.freeAnonVMAIDs.popLast() {
            id = reused
        } else {
            id = AnonVMAID(rawValue: self.anonVMAs.count)
            self.anonVMAs.append(nil)
        }
        self.anonVMAs[id.rawValue] = AnonVMA(root: root ?? id, parent: parent, object: object)
        return id
    }

    /// `anon_vma_chain_link()`: links VMA `ref` into anon_vma `id`.
    func linkAnonVMA(_ id: AnonVMAID, to ref: VMARef, in mm: AddressSpace) -> Bool {
        guard let object = self.phys.kmemCacheAlloc(self.caches.anonVMAChain, .kernel) else { return false }
        var vma = mm.vma(ref.slot)
        vma.anonChain.append(AnonChainLink(anonVMA: id, object: object))
        mm.update(ref.slot, vma)
        self.anonVMAs[id.rawValue]!.linked.insert(ref)
        return true
    }

    /// `__anon_vma_prepare()`: gives a VMA its own anon_vma before its first anonymous page.
    /// Returns false when memory runs out (the fault then fails with OOM).
    func anonVMAPrepare(_ mm: AddressSpace, slot: Int) -> Bool {
        if mm.vma(slot).anonVMA != nil { return true }
        guard let id = self.allocAnonVMA(root: nil, parent: nil) else { return false }
        guard self.linkAnonVMA(id, to: VMARef(mm: mm.id, slot: slot), in: mm) else {
            self.freeAnonVMAIfUnused(id)
            return false
        }
        var vma = mm.vma(slot)
        vma.anonVMA = id
        mm.update(slot, vma)
        return true
    }

    /// `anon_vma_clone()`: links `dst` into every anon_vma `src` is linked into (after a split, the
    /// new half sees the same pages).
    func anonVMAClone(_ mm: AddressSpace, dst: Int, from src: VMA) -> Bool {
        var vma = mm.vma(dst)
        vma.anonChain = []
        vma.anonVMA = src.anonVMA
        mm.update(dst, vma)
        for link in src.anonChain
        where !self.linkAnonVMA(link.anonVMA, to: VMARef(mm: mm.id, slot: dst), in: mm) {
            return false
        }
        return true
    }

    /// `anon_vma_fork()`: the child VMA is linked to all the parent's anon_vmas (to find pages
    /// still shared) and gets a new anon_vma of its own for the pages it will copy.
    func anonVMAFork(_ child: AddressSpace, slot: Int, parent pvma: VMA) -> Bool {
        guard let parentAnon = pvma.anonVMA else { return true }
        guard self.anonVMAClone(child, dst: slot, from: pvma) else { return false }
        let root = self.anonVMA(parentAnon).root
        guard let id = self.allocAnonVMA(root: root, parent: parentAnon) else { return false }
        self.anonVMAs[parentAnon.rawValue]!.numChildren += 1
        var vma = child.vma(slot)
        vma.anonVMA = id
        child.update(slot, vma)
        return self.linkAnonVMA(id, to: VMARef(mm: child.id, slot: slot), in: child)
    }

    /// `unlink_anon_vmas()`: removes a VMA's links and frees anon_vmas nothing uses any more.
    func unlinkAnonVMAs(_ mm: AddressSpace, slot: Int) {
        var vma = mm.vma(slot)
        let ref = VMARef(mm: mm.id, slot: slot)
        for link in vma.anonChain {
            self.anonVMAs[link.anonVMA.rawValue]!.linked.remove(ref)
            self.phys.kmemCacheFree(self.caches.anonVMAChain, link.object)
            self.freeAnonVMAIfUnused(link.anonVMA)
        }
        vma.anonChain = []
        vma.anonVMA = nil
        mm.update(slot, vma)
    }

    /// Frees an anon_vma with no linked VMAs and no children, then tries its parent.
    func freeAnonVMAIfUnused(_ id: AnonVMAID) {
        guard let a = self.anonVMAs[id.rawValue], a.linked.isEmpty, a.numChildren == 0 else { return }
        // Pages filed under it (swap cache) are re-filed by whoever still maps them; an anon_vma
        // that pages still name stays until they are gone.
        guard a.pagesFiled == 0 else { return }
        self.phys.kmemCacheFree(self.caches.anonVMA, a.object)
        self.anonVMAs[id.rawValue] = nil
        self.freeAnonVMAIDs.append(id)
        if let parent = a.parent {
            self.anonVMAs[parent.rawValue]!.numChildren -= 1
            self.freeAnonVMAIfUnused(parent)
        }
    }

    /// Files a new anonymous page under the VMA's anon_vma (`__folio_set_anon()`):
    /// `mapping` = anon_vma, `index` = linear page index.
    /// A page that may be mapped by other processes too (`exclusive` false: read back from a
    /// swap slot shared since fork) is filed under the root anon_vma, which every related VMA
    /// is linked to.
    func setPageAnon(_ pfn: PFN, vma: VMA, address: UInt64, exclusive: Bool = true) {
        self.setPageAnon(
            pfn, anonVMA: vma.anonVMA, index: vma.linearPageIndex(address, pageShift: self.phys.pageShift),
            exclusive: exclusive)
    }

    /// `folio_add_new_anon_rmap()` for the page a fault maps (its VMA's anon_vma and page index).
    func setPageAnon(_ pfn: PFN, _ vmf: VMFault) {
        self.setPageAnon(pfn, anonVMA: vmf.anonVMA, index: vmf.pageIndex, exclusive: true)
    }

    /// Files `pfn` under `anonVMA` (its root when not exclusive) at page index `index`.
    func setPageAnon(_ pfn: PFN, anonVMA: AnonVMAID?, index: UInt64, exclusive: Bool) {
        guard let anon = anonVMA else { preconditionFailure("setPageAnon: VMA without anon_vma") }
        self.fileAnonPage(pfn, under: exclusive ? anon : self.anonVMA(anon).root)
        self.phys.memMap.insertFlags(pfn, [.anon, .swapBacked, .uptodate])
        if exclusive { self.phys.memMap.insertFlags(pfn, .anonExclusive) }
        self.phys.memMap.setIndex(pfn, index)
    }

    /// Sets a page's `mapping` to anon_vma `id`, keeping the count of pages filed per anon_vma.
    func fileAnonPage(_ pfn: PFN, under id: AnonVMAID) {
        let old = self.phys.memMap.mapping(pfn)
        if self.phys.memMap.test(pfn, .anon) && old != 0 {
            self.anonVMAs[Int(old) - 1]!.pagesFiled -= 1
        }
        self.phys.memMap.setMapping(pfn, UInt32(id.rawValue + 1))
        self.anonVMAs[id.rawValue]!.pagesFiled += 1
    }

    /// Clears an anonymous page's filing when it is freed.
    func unfileAnonPage(_ pfn: PFN) {
        let old = self.phys.memMap.mapping(pfn)
        guard self.phys.memMap.test(pfn, .anon), old != 0 else { return }
        let id = AnonVMAID(rawValue: Int(old) - 1)
        self.anonVMAs[id.rawValue]!.pagesFiled -= 1
        self.phys.memMap.setMapping(pfn, 0)
        self.freeAnonVMAIfUnused(id)
    }

    /// `rmap_walk_anon()` / `rmap_walk_file()`: every (mm, VMA, address) whose PTE maps `pfn`.
    public func rmapWalk(_ pfn: PFN) -> [(mm: AddressSpace, slot: Int, address: UInt64)] {
        let shift = self.phys.pageShift
        let index = self.phys.memMap.index(pfn)
        var candidates: [VMARef] = []
        if self.phys.memMap.test(pfn, .anon) {
            let mapping = self.phys.memMap.mapping(pfn)
            guard mapping != 0, let anon = self.anonVMAs[Int(mapping) - 1] else { return [] }
            candidates = Array(anon.linked)
        } else if self.phys.memMap.mapping(pfn) != 0 {
            candidates = Array(self.files[Int(self.phys.memMap.mapping(pfn)) - 1].mappers)
        }
        var result: [(mm: AddressSpace, slot: Int, address: UInt64)] = []
        // Walk in (mm, VMA) order so results never depend on hashing; most pages have one.
        if candidates.count > 1 { candidates.sort { ($0.mm, $0.slot) < ($1.mm, $1.slot) } }
        for ref in candidates {
            guard let mm = self.addressSpaces[ref.mm], let vma = mm.slots[ref.slot] else { continue }
            guard index >= vma.pgoff else { continue }
            let address = vma.start + ((index - vma.pgoff) << UInt64(shift))
            guard address < vma.end else { continue }
            let pte = self.pageTables.pte(root: mm.pgd, va: address)
            if pte.isPresent && pte.pfn == pfn { result.append((mm, ref.slot, address)) }
        }
        return result
    }

    // MARK: References and unmapping

    /// `folio_referenced()`: how many PTEs mapping `pfn` had the Accessed bit, clearing it (as
    /// `ptep_clear_flush_young()` does on x86: without a TLB flush, so a page hot in the TLB
    /// looks idle), and the flags of the areas that referenced it (`VM_LOCKED` from any).
    /// `onYoung` sees each young mapping after its bit is cleared (with lru_gen,
    /// `folio_referenced_one()` calls `lru_gen_look_around()` there).
    func pageReferenced(
        _ pfn: PFN, onYoung: (AddressSpace, VMA, UInt64) -> Void = { _, _, _ in }
    ) -> (Int, VMFlags) {
        var referenced = 0
        var flags: VMFlags = []
        for (mm, slot, address) in self.rmapWalk(pfn) {
            let vma = mm.vma(slot)
            if vma.flags.contains(.locked) {
                flags.insert(.locked)
                continue
            }
            var pte = self.pageTables.pte(root: mm.pgd, va: address)
            if pte.contains(.accessed) {
                pte.flags.remove(.accessed)
                _ = self.installPTE(mm, address, pte)
                referenced += 1
                flags.formUnion(vma.flags)
                onYoung(mm, vma, address)
            }
        }
        return (referenced, flags)
    }

    /// `try_to_unmap()`: removes every PTE mapping `pfn`. Anonymous pages leave a swap entry
    /// (exclusive when the page was), file and shmem pages nothing; a dirty PTE dirties the
    /// page; MADV_FREE pages are discarded unless written again (then they are swap-backed
    /// once more and stay). A `VM_LOCKED` area keeps the page (mlocked). Returns false if the
    /// page is still mapped.
    func tryToUnmap(_ pfn: PFN) -> Bool {
        for (mm, slot, address) in self.rmapWalk(pfn) {
            let vma = mm.vma(slot)
            if vma.flags.contains(.locked) {
                self.mlockPage(pfn)
                return false
            }
            let pte = self.pageTables.pte(root: mm.pgd, va: address)
            let anon = self.phys.memMap.test(pfn, .anon)
            if anon && !self.phys.memMap.test(pfn, .swapBacked) {
                // MADV_FREE: written since? Then it is anonymous memory again.
                if pte.contains(.dirty) || self.phys.memMap.test(pfn, .dirty) {
                    self.phys.memMap.insertFlags(pfn, .swapBacked)
                    return false
                }
                _ = self.installPTE(mm, address, .none)
                self.flushTLB(mm, range: address..<(address + self.phys.pageSize))
                self.removeMapping(pfn, mm: mm)
                continue
            }
            if pte.contains(.dirty) { self.phys.memMap.insertFlags(pfn, .dirty) }
            if anon {
                guard let entry = self.swapEntry(of: pfn) else { return false }
                self.swapDuplicate(entry)
                let exclusive = self.phys.memMap.test(pfn, .anonExclusive)
                _ = self.installPTE(mm, address, PTE(swap: entry, exclusive: exclusive))
                mm.addRSS(.swapEntries, 1)
            } else {
                _ = self.installPTE(mm, address, .none)
                if pte.contains(.dirty) { self.markPageDirty(pfn) }
            }
            self.flushTLB(mm, range: address..<(address + self.phys.pageSize))
            self.removeMapping(pfn, mm: mm)
        }
        if self.phys.memMap.test(pfn, .anon) && self.phys.memMap.mapCount(pfn) == 0 {
            self.phys.memMap.removeFlags(pfn, .anonExclusive)
        }
        return self.phys.memMap.mapCount(pfn) == 0
    }

    /// `folio_check_references()`.
}
