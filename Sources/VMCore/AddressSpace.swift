import VMPhys
import VMTypes

/// The per-mm page counters (`enum mm_counter_type`, in the kernel's order).
public enum MMCounter: Int, CaseIterable, Sendable {
    case filePages = 0
    case anonPages
    case swapEntries
    case shmemPages
}

/// A process's address space: its VMAs, page tables and counters.
///
/// Models `struct mm_struct` (include/linux/mm_types.h). The VMAs live in an `OrderedTree` keyed
/// by start address (Linux: the maple tree `mm_mt`); `findVMA(_:)` returns the first VMA that
/// ends above an address, exactly as `find_vma()` does. Each VMA's entry carries the free space
/// just below it (from the previous VMA's end, or from 0), the maple tree's gap tracking, so
/// `highestGap(fitting:above:below:)` finds room for a mapping in O(log n). Every per-VMA
/// operation — lookup, insertion, removal, a change of bounds — is O(log n) in the number of
/// VMAs; walks over a range cost O(log n) per VMA in it.
public final class AddressSpace {
    public let id: Int
    /// `pgd`: the root table's frame (what CR3 holds while this mm runs).
    public internal(set) var pgd: PFN
    var tree = OrderedTree<UInt64, Int>()
    /// Starts of VMAs that `fork()` left next to a neighbour they could merge with (see
    /// `Kernel.fork`); a later merge there forgets the address.
    var unmergedAtFork: Set<UInt64> = []
    var slots: [VMA?] = []
    var freeSlots: [Int] = []
    /// `map_count`: number of VMAs.
    public internal(set) var mapCount = 0
    /// `total_vm`, `data_vm`, `stack_vm`, `exec_vm`, `locked_vm`, `pinned_vm`, in pages.
    public internal(set) var totalVM = 0
    public internal(set) var dataVM = 0
    public internal(set) var stackVM = 0
    public internal(set) var execVM = 0
    public internal(set) var lockedVM = 0
    public internal(set) var pinnedVM = 0
    /// `hiwater_rss`, `hiwater_vm`: high-water marks, updated when RSS/total_vm is about to drop.
    public internal(set) var hiwaterRSS = 0
    public internal(set) var hiwaterVM = 0
    /// `rss_stat`, indexed by `MMCounter`.
    public internal(set) var rss: [Int] = [0, 0, 0, 0]
    /// Page-table pages below the root (`pgtables_bytes / PAGE_SIZE`; the PGD is not counted).
    public internal(set) var pageTablePages = 0
    /// The memory cgroup its page tables are charged to (nil: the root), and how many are.
    public internal(set) var memcg: MemCgroup?
    var memcgTables = 0
    public internal(set) var startCode: UInt64 = 0
    public internal(set) var endCode: UInt64 = 0
    public internal(set) var startData: UInt64 = 0
    public internal(set) var endData: UInt64 = 0
    public internal(set) var startBrk: UInt64 = 0
    public internal(set) var brk: UInt64 = 0
    public internal(set) var startStack: UInt64 = 0
    public internal(set) var mmapBase: UInt64 = 0
    /// Pages charged to `Committed_AS` (VM_ACCOUNT areas).
    public internal(set) var committedPages = 0
    /// `mm_users`.
    var users = 1
    /// `tlb_gen`: bumped when this mm's PTEs change while it is not loaded on the CPU; the next
    /// switch to it flushes its PCID (the deferred flush of arch/x86/mm/tlb.c).
    var tlbGen: UInt64 = 0
    /// The executable (`exe_file`).
    /// `exe_file`: the open file of the executable (an `OpenFile` id).
    public internal(set) var exeFile: Int?
    /// The `mm_struct` slab object.
    var object: UInt64 = 0

    init(id: Int, pgd: PFN) {
        self.id = id
        self.pgd = pgd
    }

    /// `get_mm_rss()`.
    public var rssPages: Int {
        self.rss[MMCounter.filePages.rawValue] + self.rss[MMCounter.anonPages.rawValue]
            + self.rss[MMCounter.shmemPages.rawValue]
    }
    func addRSS(_ counter: MMCounter, _ delta: Int) { self.rss[counter.rawValue] += delta }
    public func counter(_ counter: MMCounter) -> Int { self.rss[counter.rawValue] }
    /// `update_hiwater_rss()` / `update_hiwater_vm()`.
    func updateHiwater() {
        self.hiwaterRSS = max(self.hiwaterRSS, self.rssPages)
        self.hiwaterVM = max(self.hiwaterVM, self.totalVM)
    }

    // MARK: VMAs

    /// `find_vma()`: the first VMA whose end is above `address` (it may start above it too).
    public func findVMA(_ address: UInt64) -> VMA? {
        self.findSlot(address).map { self.slots[$0]! }
    }

    func findSlot(_ address: UInt64) -> Int? {
        if let (_, slot) = self.tree.floor(address), self.slots[slot]!.end > address { return slot }
        return self.tree.higher(address)?.value
    }

    /// The VMA containing `address`, if any.
    public func vma(containing address: UInt64) -> VMA? {
        guard let (_, slot) = self.tree.floor(address), self.slots[slot]!.end > address else { return nil }
        return self.slots[slot]
    }

    func slot(containing address: UInt64) -> Int? {
        guard let (_, slot) = self.tree.floor(address), self.slots[slot]!.end > address else { return nil }
        return slot
    }

    /// Every VMA in address order.
    public var vmas: [VMA] { self.tree.entries.map { self.slots[$0.value]! } }

    /// The VMAs that overlap `range`, in order, as slots.
    func slots(overlapping range: Range<UInt64>) -> [Int] {
        var result: [Int] = []
        var cursor = self.findSlot(range.lowerBound)
        while let slot = cursor, self.slots[slot]!.start < range.upperBound {
            result.append(slot)
            cursor = self.tree.higher(self.slots[slot]!.start)?.value
        }
        return result
    }

    /// The VMA just below / above another.
    func prevSlot(of slot: Int) -> Int? { self.tree.lower(self.slots[slot]!.start)?.value }
    func nextSlot(of slot: Int) -> Int? { self.tree.higher(self.slots[slot]!.start)?.value }

    /// Stores in the tree the free space below the VMA in `slot` (`vma.start` minus the end of
    /// the VMA before it, or minus 0).
    func refreshGap(_ slot: Int) {
        let vma = self.slots[slot]!
        let below = self.tree.lower(vma.start).map { self.slots[$0.value]!.end } ?? 0
        precondition(below <= vma.start, "AddressSpace.refreshGap: VMAs overlap at \(hex(vma.start))")
        self.tree.setGap(vma.start, vma.start - below)
    }

    /// Refreshes the gap of the VMA that starts at or above `address` (after the VMA below it
    /// changed its end, appeared or went).
    func refreshGap(above address: UInt64) {
        if let (_, slot) = self.tree.ceiling(address) { self.refreshGap(slot) }
    }

    /// The end of the highest free range that leaves at least `length` bytes between `low` and
    /// `high` once clipped to them (`vma_iter_area_highest()` → `mas_empty_area_rev()`), or nil.
    /// The range's end is clipped to `high`. O(log n).
    func highestGap(fitting length: UInt64, above low: UInt64, below high: UInt64) -> UInt64? {
        guard high >= low, high - low >= length else { return nil }
        // The free range at the top, ending at `high` (or at a VMA that contains `high - 1`).
        var bound: UInt64
        if let (start, slot) = self.tree.lower(high) {
            let below = self.slots[slot]!
            if below.end < high && high - max(below.end, low) >= length { return high }
            bound = start
        } else {
            return high
        }
        // Below the VMA at `bound`: the highest VMA at or under it with that much room below.
        guard let (start, _) = self.tree.lastEntry(atOrBelow: bound, gapAtLeast: length) else { return nil }
        // Lower gaps are clipped further by `low`: if this one does not fit, none does.
        return start >= low && start - low >= length ? start : nil
    }

    /// Adds a VMA (caller has checked it overlaps nothing); returns its slot.
    func insert(_ vma: VMA) -> Int {
        let slot: Int
        if let reused = self.freeSlots.popLast() {
            slot = reused
            self.slots[slot] = vma
        } else {
            slot = self.slots.count
            self.slots.append(vma)
        }
        self.tree.insert(vma.start, slot)
        self.refreshGap(slot)
        self.refreshGap(above: vma.end)
        self.mapCount += 1
        return slot
    }

    /// Removes a VMA by slot; returns it.
    @discardableResult
    func remove(_ slot: Int) -> VMA {
        guard let vma = self.slots[slot] else {
            preconditionFailure("AddressSpace.remove: empty slot \(slot)")
        }
        self.tree.remove(vma.start)
        self.slots[slot] = nil
        self.freeSlots.append(slot)
        self.mapCount -= 1
        self.refreshGap(above: vma.end)
        return vma
    }

    /// Replaces the VMA in `slot` (its start may change if it keeps its order).
    func update(_ slot: Int, _ vma: VMA) {
        guard let old = self.slots[slot] else {
            preconditionFailure("AddressSpace.update: empty slot \(slot)")
        }
        if old.start != vma.start {
            self.tree.remove(old.start)
            self.tree.insert(vma.start, slot)
        }
        self.slots[slot] = vma
        if old.start != vma.start { self.refreshGap(slot) }
        if old.end != vma.end {
            // The VMA above now has more or less room below it (a VMA split at `old.end`…
            // is already its own entry, found the same way).
            self.refreshGap(above: min(old.end, vma.end))
        }
    }

    func vma(_ slot: Int) -> VMA { self.slots[slot]! }

    /// What a fault needs of VMA `slot`, read in place (no copy of the area, its chain or name):
    /// flags, whether it is anonymous, its anon_vma and `linear_page_index(address)`.
    func faultFields(ofSlot slot: Int, address: UInt64, pageShift: Int) -> (VMFlags, Bool, AnonVMAID?, UInt64)
    {
        let vma = self.slots[slot].unsafelyUnwrapped
        let anonymous: Bool
        if case .anonymous = vma.backing { anonymous = true } else { anonymous = false }
        return (vma.flags, anonymous, vma.anonVMA, vma.linearPageIndex(address, pageShift: pageShift))
    }

    /// The anon_vma of VMA `slot`.
    func anonVMA(ofSlot slot: Int) -> AnonVMAID? { self.slots[slot].unsafelyUnwrapped.anonVMA }

    /// The flags of VMA `slot`.
    func flags(ofSlot slot: Int) -> VMFlags { self.slots[slot].unsafelyUnwrapped.flags }

    /// The start of VMA `slot`.
    func start(ofSlot slot: Int) -> UInt64 { self.slots[slot].unsafelyUnwrapped.start }

    /// Checks that VMAs are sorted, disjoint, page-aligned and non-empty, and that the counters
    /// match; returns the problems found.
    public func checkVMAs(pageShift: Int) -> [String] {
        var problems: [String] = []
        var lastEnd: UInt64 = 0
        var total = 0
        let mask = (UInt64(1) << UInt64(pageShift)) - 1
        for vma in self.vmas {
            if vma.start >= vma.end { problems.append("mm \(self.id): empty VMA at \(hex(vma.start))") }
            if vma.start & mask != 0 || vma.end & mask != 0 {
                problems.append("mm \(self.id): unaligned VMA \(hex(vma.start))")
            }
            if vma.start < lastEnd { problems.append("mm \(self.id): VMAs overlap at \(hex(vma.start))") }
            lastEnd = vma.end
            total += vma.pages(pageShift: pageShift)
        }
        for (start, slot) in self.tree.entries {
            let below = self.tree.lower(start).map { self.slots[$0.value]!.end } ?? 0
            if self.tree.gap(start) != start &- below {
                problems.append("mm \(self.id): VMA at \(hex(start)) (slot \(slot)) has a stale gap")
            }
        }
        if self.tree.count != self.mapCount {
            problems.append("mm \(self.id): map_count \(self.mapCount) but \(self.tree.count) VMAs")
        }
        if total != self.totalVM {
            problems.append("mm \(self.id): total_vm \(self.totalVM) but VMAs span \(total) pages")
        }
        return problems
    }
}
