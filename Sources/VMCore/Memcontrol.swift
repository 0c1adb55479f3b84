import VMPhys
import VMTypes

/// The events of `memory.events` (`enum memcg_memory_event`, include/linux/memcontrol.h), in
/// the order the file prints them, and the swap ones of `memory.swap.events`.
public enum MemcgEvent: Int, CaseIterable, Sendable {
    case low = 0, high, max, oom, oomKill, oomGroupKill
    case swapHigh, swapMax, swapFail
    /// The name in `memory.events` / `memory.swap.events`.
    public var name: String {
        ["low", "high", "max", "oom", "oom_kill", "oom_group_kill", "high", "max", "fail"][self.rawValue]
    }
    public static let memoryEvents: [MemcgEvent] = [.low, .high, .max, .oom, .oomKill, .oomGroupKill]
    public static let swapEvents: [MemcgEvent] = [.swapHigh, .swapMax, .swapFail]
}

/// The per-cgroup counters vmsim keeps for `memory.stat` (local to the cgroup; the file sums a
/// subtree, as `memcg_page_state()` does). Pages unless the name says otherwise.
public enum MemcgStat: Int, CaseIterable, Sendable {
    /// Charged anonymous pages (mapped, or in the swap cache, or swapped in).
    case anon = 0
    /// Charged page-cache pages (files and shmem).
    case file
    /// Of `file`: shmem pages.
    case shmem
    /// Page-table pages charged to the cgroup (`NR_PAGETABLE`, `__GFP_ACCOUNT`).
    case pagetables
    // Events (`memcg_vm_event_stat[]`), counted where the kernel counts them per memcg.
    case pgscanKswapd, pgscanDirect, pgscanProactive
    case pgstealKswapd, pgstealDirect, pgstealProactive
    case pgfault, pgmajfault, pgrefill, pgactivate, pgdeactivate
    // Workingset events (`mod_lruvec_state()` on the refaulting page's lruvec).
    case workingsetRefaultAnon, workingsetRefaultFile, workingsetActivateAnon, workingsetActivateFile
    case workingsetRestoreAnon, workingsetRestoreFile

    /// The cgroup counter for a node's workingset counter, if it is one.
    init?(workingset item: NodeStatItem) {
        switch item {
        case .workingsetRefaultAnon: self = .workingsetRefaultAnon
        case .workingsetRefaultFile: self = .workingsetRefaultFile
        case .workingsetActivateAnon: self = .workingsetActivateAnon
        case .workingsetActivateFile: self = .workingsetActivateFile
        case .workingsetRestoreAnon: self = .workingsetRestoreAnon
        case .workingsetRestoreFile: self = .workingsetRestoreFile
        default: return nil
        }
    }
}

/// A hierarchical `struct page_counter` (mm/page_counter.c): usage, the limit, protection and
/// the high-water mark of one cgroup's charges, which count its descendants' too.
public struct PageCounter: Sendable {
    /// `usage`: pages charged to the cgroup and its descendants.
    public internal(set) var usage = 0
    /// `watermark` (`memory.peak`).
    public internal(set) var peak = 0
    /// `failcnt`: charges refused because this counter was at its limit.
    public internal(set) var failcnt = 0
    /// `max` (`memory.max`, `memory.swap.max`), `high`, `low`, `min`, in pages.
    public var max = Int.max
    public var high = Int.max
    public var low = 0
    public var min = 0
    /// `emin`, `elow`: the effective protection `page_counter_calculate_protection()` computed
    /// for the reclaim running now.
    var emin = 0
    var elow = 0
}

/// A memory cgroup: `struct mem_cgroup` (mm/memcontrol.c, cgroup v2).
///
/// A node of the hierarchy rooted at `/`; every task belongs to one (`css_set`), a fork's
/// child to its parent's, and `move` changes a task's cgroup without moving what it charged
/// (cgroup v2 has no charge migration). The cgroup owns one `LRUVec` (index `id` of the
/// kernel's `lruvecs`, `mem_cgroup_lruvec()`): the pages charged to it are on its lists, so
/// reclaim of a cgroup scans only its own and its descendants' pages.
///
/// As in Linux, nothing is charged to the root cgroup itself (`mem_cgroup_is_root()` skips the
/// page counter): its counters only sum its children's.
public final class MemCgroup {
    /// Index in `Kernel.memcg.groups` and `Kernel.lruvecs` (0: the root).
    public let id: Int
    /// `/`, `/app`, `/app/web`.
    public let path: String
    /// `unowned`, not `weak` (a cgroup with children cannot be removed, so the parent outlives
    /// them): a weak reference gives the parent a side table, and every retain and release of
    /// it — each charge walks up the tree — takes the slow path.
    public private(set) unowned var parent: MemCgroup?
    public internal(set) var children: [MemCgroup] = []
    /// `memory`: pages (anonymous, page cache, kernel) charged here and below.
    public internal(set) var memory = PageCounter()
    /// `swap`: swap slots charged here and below (`memory.swap.current`).
    public internal(set) var swap = PageCounter()
    /// `memory.oom.group`: an OOM kill inside takes every task of the cgroup.
    public var oomGroup = false
    /// `memory_events[]` (hierarchical: a descendant's events count here too) and
    /// `memory_events_local[]`.
    public internal(set) var events = [Int](repeating: 0, count: MemcgEvent.allCases.count)
    public internal(set) var localEvents = [Int](repeating: 0, count: MemcgEvent.allCases.count)
    /// Local counters (see `MemcgStat`).
    public internal(set) var stat = [Int](repeating: 0, count: MemcgStat.allCases.count)
    /// Pids of the tasks in the cgroup (`cgroup.procs`).
    public internal(set) var tasks: Set<Int> = []
    /// Simulated nanoseconds its tasks slept in `mem_cgroup_handle_over_high()`.
    public internal(set) var throttledNanos: UInt64 = 0
    /// `memory.pressure` (the cgroup's `psi_group`).
    public internal(set) var psi = PSIGroup()

    init(id: Int, path: String, parent: MemCgroup?) {
        self.id = id
        self.path = path
        self.parent = parent
    }

    public var isRoot: Bool { self.parent == nil }

    /// This cgroup and its descendants, parents before children (`mem_cgroup_iter()`'s order).
    public var subtree: [MemCgroup] {
        var out: [MemCgroup] = [self]
        var i = 0
        while i < out.count {
            let children = out[i].children
            out.insert(contentsOf: children, at: i + 1)
            i += 1
        }
        return out
    }

    /// Whether `self` is `other` or below it (`mem_cgroup_is_descendant()`).
    public func isDescendant(of other: MemCgroup) -> Bool {
        var c: MemCgroup? = self
        while let g = c {
            if g === other { return true }
            c = g.parent
        }
        return false
    }

    /// A counter of `memory.stat` summed over the subtree.
    public func hierarchical(_ item: MemcgStat) -> Int {
        self.subtree.reduce(0) { $0 + $1.stat[item.rawValue] }
    }

    /// `memcg_memory_event()`: counted locally, and in `memory.events` of every ancestor below
    /// the root.
    func memoryEvent(_ event: MemcgEvent) {
        self.localEvents[event.rawValue] += 1
        var c: MemCgroup? = self
        while let g = c, !g.isRoot {
            g.events[event.rawValue] += 1
            c = g.parent
        }
    }

    func count(_ item: MemcgStat, _ n: Int = 1) { self.stat[item.rawValue] += n }

    // MARK: page_counter (mm/page_counter.c)

    /// `page_counter_try_charge()` on `memory` (or `swap`): charges `n` pages to this cgroup and
    /// each ancestor, or — if one would exceed its `max` — undoes the charge, counts a failure
    /// there and returns that cgroup. The root is never charged itself (its children are).
    func tryCharge(_ n: Int, swap: Bool) -> MemCgroup? {
        var c: MemCgroup? = self
        var charged: [MemCgroup] = []
        while let g = c {
            let counter = swap ? g.swap : g.memory
            if counter.usage + n > counter.max {
                if swap { g.swap.failcnt += 1 } else { g.memory.failcnt += 1 }
                for d in charged { d.uncharge(n, swap: swap, up: false) }
                return g
            }
            g.add(n, swap: swap)
            charged.append(g)
            c = g.parent
        }
        return nil
    }

    /// `page_counter_charge()`: charges `n` pages whatever the limits (kernel memory vmsim does
    /// not fail, and charges forced past `max`).
    func forceCharge(_ n: Int, swap: Bool) {
        var c: MemCgroup? = self
        while let g = c {
            g.add(n, swap: swap)
            c = g.parent
        }
    }

    private func add(_ n: Int, swap: Bool) {
        if swap {
            self.swap.usage += n
            self.swap.peak = Swift.max(self.swap.peak, self.swap.usage)
        } else {
            self.memory.usage += n
            self.memory.peak = Swift.max(self.memory.peak, self.memory.usage)
        }
    }

    /// `page_counter_uncharge()`: this cgroup and (with `up`) its ancestors.
    func uncharge(_ n: Int, swap: Bool, up: Bool = true) {
        var c: MemCgroup? = self
        while let g = c {
            if swap { g.swap.usage -= n } else { g.memory.usage -= n }
            precondition(
                (swap ? g.swap.usage : g.memory.usage) >= 0, "page_counter_uncharge: \(g.path) below zero")
            c = up ? g.parent : nil
        }
    }

    /// `mem_cgroup_margin()`: pages that can be charged before some ancestor's `max`.
    var margin: Int {
        var m = Int.max
        var c: MemCgroup? = self
        while let g = c {
            m = Swift.min(m, g.memory.max == Int.max ? Int.max : Swift.max(g.memory.max - g.memory.usage, 0))
            c = g.parent
        }
        return m
    }
}

/// The memory controller's state: the cgroups, and which cgroup each page is charged to
/// (`folio->memcg_data`), with the kind of charge in the top two bits.
public final class MemcgState {
    /// Every cgroup by id; 0 is the root.
    public internal(set) var groups: [MemCgroup] = [MemCgroup(id: 0, path: "/", parent: nil)]
    /// Per PFN: the charged cgroup's id | kind << 14 (0: not charged — a root page, or not a
    /// user page). Empty until the first cgroup below the root is made: a machine without
    /// cgroups never touches it.
    var owner: [UInt16] = []
    /// Per swap area: the cgroup each slot's swap charge belongs to (`swap_cgroup`).
    var swapOwner: [Int: [UInt64: UInt16]] = [:]
    /// The task's pages charged while some ancestor was over `memory.high`
    /// (`current->memcg_nr_pages_over_high`), by pid.
    var pagesOverHigh: [Int: Int] = [:]
    /// Tasks' cgroups by pid (a task not listed is in the root).
    var taskGroup: [Int: MemCgroup] = [:]
    /// Nesting of charges in progress (a reclaim inside a charge does not recurse into OOM).
    var charging = 0

    public var root: MemCgroup { self.groups[0] }
    /// Whether any cgroup exists below the root (memcg work is skipped otherwise).
    public var isActive: Bool { self.groups.count > 1 }

    /// The cgroup at `path`, if it exists.
    public func group(at path: String) -> MemCgroup? {
        self.groups.first { $0.path == path }
    }

    static let kindShift: UInt16 = 14
    static let idMask: UInt16 = (1 << 14) - 1
}

/// What a charged page is, for `memory.stat` (the top two bits of `MemcgState.owner`).
enum MemcgKind: UInt16 {
    case anon = 1
    case file = 2
    case shmem = 3
    var stat: MemcgStat { self == .anon ? .anon : .file }
}

/// The memory controller (mm/memcontrol.c, cgroup v2 interface): cgroups and their charges.
///
/// Charged: anonymous pages at fault (`mem_cgroup_charge()` in `do_anonymous_page()`,
/// `wp_page_copy()`, `do_cow_fault()`), page-cache and shmem pages on insertion
/// (`filemap_add_folio()`, to the cgroup of the task on the CPU), swapped-in pages (to the
/// cgroup that owns the swap slot, `mem_cgroup_swapin_charge_folio()`), swap slots
/// (`__mem_cgroup_try_charge_swap()`, `memory.swap.current`), and page-table pages as kernel
/// memory (`__GFP_ACCOUNT`). Not charged: slab objects, kernel stacks, vmalloc.
///
/// Simplified: no per-CPU charge batching (`MEMCG_CHARGE_BATCH` stock) — every page charges
/// and uncharges its counters at once; page tables are charged to the cgroup the address space
/// was created in (Linux charges each table to the allocating task's cgroup: the same until a
/// task is moved) and never fail their charge (they may push the cgroup past `memory.max`;
/// the next page charged then reclaims); cgroups are never removed.
extension Kernel {
    // MARK: Hierarchy

    /// `mkdir` in the cgroup file system: a new cgroup under its parent. Throws if the parent
    /// is missing or the path is malformed; returns the existing one if it exists.
    @discardableResult
    public func memcgCreate(_ path: String) throws(MMError) -> MemCgroup {
        if let g = self.memcg.group(at: path) { return g }
        guard path.hasPrefix("/"), path.count > 1, !path.hasSuffix("/"), !path.contains("//") else {
            throw .invalid("'\(path)' is not a cgroup path (/NAME[/NAME…])")
        }
        let parentPath =
            path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "/"
        guard let parent = self.memcg.group(at: parentPath) else {
            throw .invalid("no cgroup \(parentPath) to create \(path) in")
        }
        guard self.memcg.groups.count < Int(MemcgState.idMask) else { throw .invalid("too many cgroups") }
        let g = MemCgroup(id: self.memcg.groups.count, path: path, parent: parent)
        parent.children.append(g)
        self.memcg.groups.append(g)
        self.lruvecs.append(LRUVec())
        if self.memcg.owner.isEmpty {
            self.memcg.owner = [UInt16](repeating: 0, count: self.phys.memMap.capacity)
        }
        return g
    }

    /// The cgroup `task` belongs to.
    public func memcg(of task: Task) -> MemCgroup { self.memcg.taskGroup[task.pid] ?? self.memcg.root }

    /// Writing the pid to `cgroup.procs` of `group`: the task moves; what it charged stays.
    public func memcgMove(_ task: Task, to group: MemCgroup) {
        self.memcg(of: task).tasks.remove(task.pid)
        if group.isRoot {
            self.memcg.taskGroup[task.pid] = nil
        } else {
            self.memcg.taskGroup[task.pid] = group
            group.tasks.insert(task.pid)
        }
    }

    /// A task is gone (`cgroup_exit()`).
    func memcgForget(_ task: Task) {
        guard let g = self.memcg.taskGroup.removeValue(forKey: task.pid) else { return }
        g.tasks.remove(task.pid)
        self.memcg.pagesOverHigh[task.pid] = nil
    }

    /// The cgroup a page is charged to (the root when none).
    func memcgOfPage(_ pfn: PFN) -> MemCgroup {
        guard !self.memcg.owner.isEmpty else { return self.memcg.root }
        return self.memcg.groups[Int(self.memcg.owner[Int(pfn.rawValue)] & MemcgState.idMask)]
    }

    /// `mem_cgroup_get_nr_swap_pages()`: free swap, less what `memory.swap.max` of `group` and
    /// its ancestors below the root still allow.
    func memcgSwapPagesAvailable(_ group: MemCgroup) -> Int {
        var n = self.swapFreePages
        var c: MemCgroup? = group
        while let g = c, !g.isRoot {
            if g.swap.max != Int.max { n = min(n, g.swap.max - g.swap.usage) }
            c = g.parent
        }
        return n
    }

    /// The lruvec a page belongs on (`folio_lruvec()`).
    @inline(__always) func lruvecID(of pfn: PFN) -> Int {
        self.memcg.owner.isEmpty ? 0 : Int(self.memcg.owner[Int(pfn.rawValue)] & MemcgState.idMask)
    }

    /// The cgroup charges go to now: the task on the CPU's (the root for kernel threads).
    var chargeTarget: MemCgroup {
        guard let task = self.current else { return self.memcg.root }
        return self.memcg(of: task)
    }

    // MARK: Charging pages

    /// `mem_cgroup_charge()`: charges a newly allocated page (not yet on an LRU list) to `group`
    /// (the current task's by default). False when the cgroup is at `memory.max` and neither
    /// reclaim nor the OOM killer inside it made room: the caller frees the page and fails
    /// as for no memory.
    func memcgCharge(_ pfn: PFN, _ kind: MemcgKind, to group: MemCgroup? = nil) -> Bool {
        guard self.memcg.isActive else { return true }
        let g = group ?? self.chargeTarget
        guard !g.isRoot else { return true }
        guard self.tryChargeMemcg(g, 1) else { return false }
        self.memcg.owner[Int(pfn.rawValue)] = UInt16(g.id) | kind.rawValue << MemcgState.kindShift
        g.count(kind.stat)
        if kind == .shmem { g.count(.shmem) }
        return true
    }

    /// `mem_cgroup_uncharge()`: a page is freed; its cgroup's counters drop.
    func memcgUncharge(_ pfn: PFN) {
        guard !self.memcg.owner.isEmpty else { return }
        let raw = self.memcg.owner[Int(pfn.rawValue)]
        guard raw != 0 else { return }
        self.memcg.owner[Int(pfn.rawValue)] = 0
        let g = self.memcg.groups[Int(raw & MemcgState.idMask)]
        let kind = MemcgKind(rawValue: raw >> MemcgState.kindShift)!
        g.uncharge(1, swap: false)
        g.count(kind.stat, -1)
        if kind == .shmem { g.count(.shmem, -1) }
    }

    /// `try_charge_memcg()`: charge `n` pages; over `memory.max` somewhere up the tree, reclaim
    /// that cgroup's subtree (`try_to_free_mem_cgroup_pages()`) and retry while it makes
    /// progress or for `MAX_RECLAIM_RETRIES` (16) rounds, then invoke the OOM killer inside it
    /// (`mem_cgroup_oom()`) and retry while it kills. A charge from inside reclaim
    /// (`PF_MEMALLOC`) is forced. Charged pages past `memory.high` are remembered for the task's
    /// return to user space (`memcg_nr_pages_over_high`).
    func tryChargeMemcg(_ g: MemCgroup, _ n: Int) -> Bool {
        var retries = 16
        var passedOOM = false
        while true {
            guard let over = g.tryCharge(n, swap: false) else { break }
            if self.reclaim.depth > 0 || self.memcg.charging > 0 {
                g.forceCharge(n, swap: false)
                break
            }
            over.memoryEvent(.max)
            self.memcg.charging += 1
            let reclaimed = self.tryToFreeMemCgroupPages(over, n, maySwap: true)
            self.memcg.charging -= 1
            if over.margin >= n { continue }
            if reclaimed > 0 { continue }
            if retries > 0 {
                retries -= 1
                continue
            }
            if passedOOM, let task = self.current, self.fatalSignalPending(task) { return false }
            self.memcg.charging += 1
            let killed = self.memcgOOM(over)
            self.memcg.charging -= 1
            guard killed else { return false }
            passedOOM = true
            retries = 16
        }
        // Over memory.high anywhere up the tree: the task reclaims or sleeps on its way out.
        var c: MemCgroup? = g
        while let x = c, !x.isRoot {
            if x.memory.usage > x.memory.high || x.swap.usage > x.swap.high {
                if let task = self.current { self.memcg.pagesOverHigh[task.pid, default: 0] += n }
                break
            }
            c = x.parent
        }
        return true
    }

    /// Page-table pages of `mm` changed by `delta`: charged to (or uncharged from) the cgroup
    /// its address space belongs to (`NR_PAGETABLE` of `memory.stat`, forced charges).
    func memcgChargePageTables(_ mm: AddressSpace, _ delta: Int) {
        guard delta != 0, let g = mm.memcg else { return }
        if delta > 0 { g.forceCharge(delta, swap: false) } else { g.uncharge(-delta, swap: false) }
        g.count(.pagetables, delta)
    }

    /// Binds a new address space to `task`'s cgroup and charges the tables it already has.
    func memcgBind(_ mm: AddressSpace, to task: Task) {
        guard self.memcg.isActive else { return }
        let g = self.memcg(of: task)
        guard !g.isRoot else { return }
        mm.memcg = g
        mm.memcgTables = mm.pageTablePages
        self.memcgChargePageTables(mm, mm.pageTablePages)
    }

    /// Follows `mm.pageTablePages` after page tables were allocated or freed.
    @inline(__always) func memcgSyncPageTables(_ mm: AddressSpace) {
        guard mm.memcg != nil, mm.memcgTables != mm.pageTablePages else { return }
        self.memcgChargePageTables(mm, mm.pageTablePages - mm.memcgTables)
        mm.memcgTables = mm.pageTablePages
    }

    // MARK: Swap charges

    /// `__mem_cgroup_try_charge_swap()`: the slot `entry` given to `pfn` is charged to the page's
    /// cgroup, unless that would exceed some `memory.swap.max` (then the slot goes back and the
    /// page stays in memory: false; `memory.swap.events` max and fail).
    func memcgChargeSwap(_ pfn: PFN, _ entry: SwapEntry) -> Bool {
        guard self.memcg.isActive else { return true }
        let g = self.memcgOfPage(pfn)
        guard !g.isRoot else { return true }
        if let over = g.tryCharge(1, swap: true) {
            over.memoryEvent(.swapMax)
            g.memoryEvent(.swapFail)
            return false
        }
        self.memcg.swapOwner[entry.type, default: [:]][entry.offset] = UInt16(g.id)
        return true
    }

    /// `__mem_cgroup_uncharge_swap()`: a slot became free.
    func memcgUnchargeSwap(type: Int, offset: UInt64) {
        guard let id = self.memcg.swapOwner[type]?.removeValue(forKey: offset) else { return }
        self.memcg.groups[Int(id)].uncharge(1, swap: true)
    }

    /// The cgroup that owns a swap slot's charge (`lookup_swap_cgroup_id()`), if any.
    func memcgOfSwap(_ entry: SwapEntry) -> MemCgroup? {
        guard let id = self.memcg.swapOwner[entry.type]?[entry.offset] else { return nil }
        return self.memcg.groups[Int(id)]
    }

    // MARK: memory.high

    /// `MEMCG_CHARGE_BATCH`: the charge batch the penalty is scaled to.
    static let memcgChargeBatch = 64
    /// `HZ` of the kernel the penalty is computed for (jiffies → simulated time).
    static let hz: UInt64 = 1000

    /// `calculate_overage()`: how far `usage` is over `high`, in 2⁻²⁰ units of `high`.
    static func overage(usage: Int, high: Int) -> UInt64 {
        guard high != Int.max, usage > high else { return 0 }
        let h = UInt64(max(high, 1))
        return (UInt64(usage) - h) << 20 / h
    }

    /// `calculate_high_delay()`: the penalty in jiffies — quadratic in the overage
    /// (`overage² · HZ >> 20 >> 14`), scaled by the pages charged over the batch size.
    static func highDelay(pages: Int, maxOverage: UInt64) -> UInt64 {
        guard maxOverage > 0 else { return 0 }
        let (sq, overflow) = maxOverage.multipliedReportingOverflow(by: maxOverage)
        let squared = overflow ? UInt64.max : sq
        let (p, o2) = squared.multipliedReportingOverflow(by: Kernel.hz)
        let penalty = ((o2 ? UInt64.max : p) >> 20) >> 14
        let (scaled, o3) = penalty.multipliedReportingOverflow(by: UInt64(pages))
        return (o3 ? UInt64.max : scaled) / UInt64(Kernel.memcgChargeBatch)
    }

    /// `mem_find_max_overage()` / `swap_find_max_overage()`: the worst overage up the tree.
    func maxOverage(_ g: MemCgroup, swap: Bool) -> UInt64 {
        var worst: UInt64 = 0
        var c: MemCgroup? = g
        while let x = c, !x.isRoot {
            let counter = swap ? x.swap : x.memory
            worst = max(worst, Kernel.overage(usage: counter.usage, high: counter.high))
            c = x.parent
        }
        return worst
    }

    /// `mem_cgroup_handle_over_high()`: on its way back to user space, a task that charged
    /// pages over `memory.high` reclaims from every ancestor over its high (`reclaim_high()`,
    /// `memory.events` high), and while reclaim makes progress (or for 16 more rounds) tries
    /// again; if the penalty of the remaining overage is more than `HZ/100` jiffies (at most
    /// 2 s), it sleeps that long — simulated time passes, counted in the cgroup's throttle
    /// time. It is never OOM-killed for this.
    ///
    /// Runs once the task has `MEMCG_CHARGE_BATCH` (64) pages over high: Linux charges a page
    /// counter 64 pages at a time (the per-CPU stock refill in `try_charge_memcg()`), so the
    /// handler sees 64 pages per call and its 2-second clamp applies per 64 pages; vmsim
    /// charges page by page, and waiting for the batch keeps the kernel's penalty per page.
    func memcgHandleOverHigh(_ task: Task) {
        guard let pages = self.memcg.pagesOverHigh[task.pid], pages >= Kernel.memcgChargeBatch,
            self.reclaim.depth == 0
        else { return }
        self.memcg.pagesOverHigh[task.pid] = nil
        let g = self.memcg(of: task)
        var retries = 16
        var inRetry = false
        while !self.fatalSignalPending(task) {
            var reclaimed = 0
            var c: MemCgroup? = g
            while let x = c, !x.isRoot {
                if x.memory.usage > x.memory.high {
                    x.memoryEvent(.high)
                    reclaimed += self.tryToFreeMemCgroupPages(
                        x, inRetry ? Kernel.swapClusterMax : pages, maySwap: true)
                }
                c = x.parent
            }
            var penalty = Kernel.highDelay(pages: pages, maxOverage: self.maxOverage(g, swap: false))
            penalty += Kernel.highDelay(pages: pages, maxOverage: self.maxOverage(g, swap: true))
            penalty = min(penalty, 2 * Kernel.hz)
            if penalty <= Kernel.hz / 100 { return }
            if reclaimed > 0 || retries > 0 {
                if reclaimed == 0 { retries -= 1 }
                inRetry = true
                continue
            }
            let ns = penalty * (1_000_000_000 / Kernel.hz)
            g.throttledNanos += ns
            self.emit(
                .log(
                    "memcg: \(task.name)[\(task.pid)] throttled \(ns / 1_000_000) ms over memory.high of \(g.path)"
                ))
            let stall = self.psiMemstallEnter()
            self.advanceClock(by: ns)
            self.psiMemstallLeave(stall)
            return
        }
    }

    // MARK: Protection

    /// `page_counter_calculate_protection()` (mm/page_counter.c) for every cgroup below
    /// `root` (the reclaim's target): a child of the target is protected by its own
    /// `memory.min`/`memory.low`; deeper cgroups get their share of the parent's effective
    /// protection in proportion to their protected usage when the siblings claim more than
    /// the parent has (`effective_protection()`). Simplified: no `memory_recursiveprot`.
    func memcgCalculateProtection(_ root: MemCgroup) {
        for g in root.subtree {
            if g === root || g.memory.usage == 0 {
                g.memory.emin = 0
                g.memory.elow = 0
                continue
            }
            guard let parent = g.parent else { continue }
            if parent === root {
                g.memory.emin = g.memory.min
                g.memory.elow = g.memory.low
                continue
            }
            let siblingsMin = parent.children.reduce(0) { $0 + min($1.memory.usage, $1.memory.min) }
            let siblingsLow = parent.children.reduce(0) { $0 + min($1.memory.usage, $1.memory.low) }
            func effective(_ setting: Int, _ parentEffective: Int, _ siblings: Int) -> Int {
                let protected = min(g.memory.usage, setting)
                if siblings > parentEffective { return protected * parentEffective / max(siblings, 1) }
                return protected
            }
            g.memory.emin = effective(g.memory.min, parent.memory.emin, siblingsMin)
            g.memory.elow = effective(g.memory.low, parent.memory.elow, siblingsLow)
        }
    }

    // MARK: OOM inside a cgroup

    /// `mem_cgroup_out_of_memory()` → `out_of_memory()` with `oc->memcg`: the victim is chosen
    /// only among the tasks of `group`'s subtree (`mem_cgroup_scan_tasks()`), with
    /// `oom_badness()` against the cgroup's limit plus swap; with `memory.oom.group` set on the
    /// victim's cgroup (or an ancestor up to `group`), every task in it is killed
    /// (`mem_cgroup_get_oom_group()`). Returns whether a victim was chosen.
    func memcgOOM(_ group: MemCgroup) -> Bool {
        if group.margin >= 1 { return true }
        group.memoryEvent(.oom)
        let invoker = self.current
        let kb = { (pages: Int) in pages * Int(self.phys.pageSize >> 10) }
        self.printk(
            "\(invoker?.name ?? "kswapd0") invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=\(invoker?.oomScoreAdj ?? 0)"
        )
        let limit = group.memory.max == Int.max ? 0 : group.memory.max
        self.printk(
            "memory: usage \(kb(group.memory.usage))kB, limit \(kb(limit))kB, failcnt \(group.memory.failcnt)"
        )
        let swapLimit =
            group.swap.max == Int.max ? self.swapTotalPages : min(group.swap.max, self.swapTotalPages)
        self.printk(
            "swap: usage \(kb(group.swap.usage))kB, limit \(kb(swapLimit))kB, failcnt \(group.swap.failcnt)")
        self.printk("Tasks state (memory values in pages):")
        self.printk(
            "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name"
        )
        let totalPages = max(limit == 0 ? Int(self.phys.totalRAMPages) : limit, 1) + swapLimit
        var victim: Task?
        var chosen = Int.min
        let members = Set(group.subtree.flatMap { $0.tasks })
        for task in self.taskList where members.contains(task.pid) {
            guard let mm = task.mm, task.state == .running else { continue }
            self.printk(
                "[\(rpad(task.pid, 7))] \(rpad(0, 5)) \(rpad(task.pid, 5)) \(rpad(mm.totalVM, 8)) \(rpad(mm.rssPages, 8)) \(rpad(mm.counter(.anonPages), 8)) \(rpad(mm.counter(.filePages), 8)) \(rpad(mm.counter(.shmemPages), 9)) \(rpad(mm.pageTablePages * Int(self.phys.pageSize), 8)) \(rpad(mm.counter(.swapEntries), 8))         \(rpad(task.oomScoreAdj, 5)) \(task.name)"
            )
            guard let points = self.oomBadness(task, totalPages: totalPages), points >= chosen else {
                continue
            }
            chosen = points
            victim = task
        }
        guard let victim, let mm = victim.mm else {
            self.printk("Out of memory and no killable processes...")
            return false
        }
        let victimGroup = self.memcg(of: victim)
        self.printk(
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=\(group.path),task_memcg=\(victimGroup.path),task=\(victim.name),pid=\(victim.pid),uid=0"
        )
        self.printk(
            "Memory cgroup out of memory: Killed process \(victim.pid) (\(victim.name)) total-vm:\(kb(mm.totalVM))kB, anon-rss:\(kb(mm.counter(.anonPages)))kB, file-rss:\(kb(mm.counter(.filePages)))kB, shmem-rss:\(kb(mm.counter(.shmemPages)))kB, UID:0 pgtables:\(kb(mm.pageTablePages))kB oom_score_adj:\(victim.oomScoreAdj)"
        )
        // mem_cgroup_get_oom_group(): the highest cgroup with oom.group set, from the victim's
        // up to the OOM domain.
        var oomGroup: MemCgroup?
        var c: MemCgroup? = victimGroup
        while let x = c {
            if x.oomGroup { oomGroup = x }
            if x === group { break }
            c = x.parent
        }
        var victims = [victim]
        if let og = oomGroup {
            self.printk("Tasks in \(og.path) are going to be killed due to memory.oom.group set")
            let all = Set(og.subtree.flatMap { $0.tasks })
            victims += self.taskList.filter {
                all.contains($0.pid) && $0 !== victim && $0.state == .running && $0.mm != nil
                    && $0.oomScoreAdj != -1000
            }
            og.memoryEvent(.oomGroupKill)
        }
        for (i, v) in victims.enumerated() {
            self.memcg(of: v).memoryEvent(.oomKill)
            self.phys.count(.oomKill)
            self.emit(.oomKill(pid: v.pid, name: v.name, points: i == 0 ? chosen : 0))
            if i > 0 {
                self.printk(
                    "Memory cgroup out of memory: Killed process \(v.pid) (\(v.name)) total-vm:\(kb(v.mm?.totalVM ?? 0))kB, anon-rss:\(kb(v.mm?.counter(.anonPages) ?? 0))kB, file-rss:\(kb(v.mm?.counter(.filePages) ?? 0))kB, shmem-rss:\(kb(v.mm?.counter(.shmemPages) ?? 0))kB, UID:0 pgtables:\(kb(v.mm?.pageTablePages ?? 0))kB oom_score_adj:\(v.oomScoreAdj)"
                )
            }
            if v === self.current {
                self.reclaim.pendingKills.insert(v.pid)
                continue
            }
            self.exitTask(v, reason: .killed(.sigkill))
            self.printk(
                "oom_reaper: reaped process \(v.pid) (\(v.name)), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
            )
        }
        return true
    }

    // MARK: Reports

    /// `memory.stat` in the order of 6.18's `memory_stats[]` and `memcg_vm_event_stat[]`
    /// (`memcg_stat_format()`), in bytes for the sizes; fields vmsim does not model are 0.
    public func memcgStatText(_ g: MemCgroup) -> String {
        self.memcgStat(g).map { "\($0.0) \($0.1)\n" }.joined()
    }

    /// The names of `memory.stat`'s fields, in the file's order (`memcgStat` gives their values).
    public static let memcgStatNames: [String] =
        [
            "anon", "file", "kernel", "kernel_stack", "pagetables", "sec_pagetables", "percpu", "sock",
            "vmalloc", "shmem", "zswap", "zswapped", "file_mapped", "file_dirty", "file_writeback",
            "swapcached", "anon_thp", "file_thp", "shmem_thp",
        ] + LRUList.allCases.map(\.name)
        + [
            "slab_reclaimable", "slab_unreclaimable", "slab", "workingset_refault_anon",
            "workingset_refault_file", "workingset_activate_anon", "workingset_activate_file",
            "workingset_restore_anon", "workingset_restore_file", "workingset_nodereclaim", "pgdemote_kswapd",
            "pgdemote_direct", "pgdemote_khugepaged", "pgdemote_proactive", "pgscan", "pgsteal",
            "pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged", "pgscan_proactive", "pgsteal_kswapd",
            "pgsteal_direct", "pgsteal_khugepaged", "pgsteal_proactive", "pgfault", "pgmajfault", "pgrefill",
            "pgactivate", "pgdeactivate", "pglazyfree", "pglazyfreed", "swpin_zero", "swpout_zero", "zswpin",
            "zswpout", "zswpwb", "thp_fault_alloc", "thp_collapse_alloc", "thp_swpout", "thp_swpout_fallback",
        ]

    /// `memory.stat` of `g` as (name, value) rows, in the file's order (`memcgStatNames`).
    public func memcgStat(_ g: MemCgroup) -> [(String, Int)] {
        let page = Int(self.phys.pageSize)
        let h = { (item: MemcgStat) in g.hierarchical(item) }
        var lists = [Int](repeating: 0, count: LRUList.allCases.count)
        var swapcached = 0
        var mapped = 0
        var dirty = 0
        var writeback = 0
        for x in g.subtree {
            for list in LRUList.allCases { lists[list.rawValue] += self.lruvecs[x.id].count(list) }
        }
        if !self.memcg.owner.isEmpty {
            let ids = Set(g.subtree.map { UInt16($0.id) })
            for (i, raw) in self.memcg.owner.enumerated()
            where raw != 0 && ids.contains(raw & MemcgState.idMask) {
                let pfn = PFN(rawValue: UInt64(i))
                if self.phys.memMap.test(pfn, .swapCache) { swapcached += 1 }
                let kind = MemcgKind(rawValue: raw >> MemcgState.kindShift)!
                if kind != .anon {
                    if self.phys.memMap.mapCount(pfn) > 0 { mapped += 1 }
                    if self.phys.memMap.test(pfn, .dirty) { dirty += 1 }
                    if self.phys.memMap.test(pfn, .writeback) { writeback += 1 }
                }
            }
        }
        let kernel = h(.pagetables)
        var rows: [(String, Int)] = [
            ("anon", h(.anon) * page), ("file", h(.file) * page), ("kernel", kernel * page),
            ("kernel_stack", 0), ("pagetables", kernel * page), ("sec_pagetables", 0), ("percpu", 0),
            ("sock", 0), ("vmalloc", 0), ("shmem", h(.shmem) * page), ("zswap", 0), ("zswapped", 0),
            ("file_mapped", mapped * page), ("file_dirty", dirty * page),
            ("file_writeback", writeback * page),
            ("swapcached", swapcached * page), ("anon_thp", 0), ("file_thp", 0), ("shmem_thp", 0),
        ]
        for list in LRUList.allCases { rows.append((list.name, lists[list.rawValue] * page)) }
        rows += [
            ("slab_reclaimable", 0), ("slab_unreclaimable", 0), ("slab", 0),
            ("workingset_refault_anon", h(.workingsetRefaultAnon)),
            ("workingset_refault_file", h(.workingsetRefaultFile)),
            ("workingset_activate_anon", h(.workingsetActivateAnon)),
            ("workingset_activate_file", h(.workingsetActivateFile)),
            ("workingset_restore_anon", h(.workingsetRestoreAnon)),
            ("workingset_restore_file", h(.workingsetRestoreFile)), ("workingset_nodereclaim", 0),
            ("pgdemote_kswapd", 0), ("pgdemote_direct", 0),
            ("pgdemote_khugepaged", 0), ("pgdemote_proactive", 0),
            ("pgscan", h(.pgscanKswapd) + h(.pgscanDirect) + h(.pgscanProactive)),
            ("pgsteal", h(.pgstealKswapd) + h(.pgstealDirect) + h(.pgstealProactive)),
            ("pgscan_kswapd", h(.pgscanKswapd)), ("pgscan_direct", h(.pgscanDirect)),
            ("pgscan_khugepaged", 0), ("pgscan_proactive", h(.pgscanProactive)),
            ("pgsteal_kswapd", h(.pgstealKswapd)), ("pgsteal_direct", h(.pgstealDirect)),
            ("pgsteal_khugepaged", 0), ("pgsteal_proactive", h(.pgstealProactive)),
            ("pgfault", h(.pgfault)), ("pgmajfault", h(.pgmajfault)), ("pgrefill", h(.pgrefill)),
            ("pgactivate", h(.pgactivate)), ("pgdeactivate", h(.pgdeactivate)), ("pglazyfree", 0),
            ("pglazyfreed", 0), ("swpin_zero", 0), ("swpout_zero", 0), ("zswpin", 0), ("zswpout", 0),
            ("zswpwb", 0), ("thp_fault_alloc", 0), ("thp_collapse_alloc", 0), ("thp_swpout", 0),
            ("thp_swpout_fallback", 0),
        ]
        return rows
    }

    /// `memory.events` (or `memory.swap.events`; `local` for `memory.events.local`).
    public func memcgEventsText(_ g: MemCgroup, swap: Bool = false, local: Bool = false) -> String {
        let counts = local ? g.localEvents : g.events
        return (swap ? MemcgEvent.swapEvents : MemcgEvent.memoryEvents).map {
            "\($0.name) \(counts[$0.rawValue])\n"
        }.joined()
    }

    /// The value of a single-number file (`memory.current`, `memory.max` …) as the kernel
    /// prints it: bytes, or `max` for no limit.
    public func memcgFile(_ g: MemCgroup, _ name: String) -> String? {
        let page = Int(self.phys.pageSize)
        func limit(_ v: Int) -> String { v == Int.max ? "max" : "\(v * page)" }
        switch name {
        case "memory.current": return "\(g.memory.usage * page)"
        case "memory.peak": return "\(g.memory.peak * page)"
        case "memory.max": return limit(g.memory.max)
        case "memory.high": return limit(g.memory.high)
        case "memory.low": return "\(g.memory.low * page)"
        case "memory.min": return "\(g.memory.min * page)"
        case "memory.swap.current": return "\(g.swap.usage * page)"
        case "memory.swap.peak": return "\(g.swap.peak * page)"
        case "memory.swap.max": return limit(g.swap.max)
        case "memory.oom.group": return g.oomGroup ? "1" : "0"
        case "cgroup.procs": return g.tasks.sorted().map(String.init).joined(separator: "\n")
        default: return nil
        }
    }

    /// The files `memcgFile`, `memory.stat` and the events reports answer for.
    public static let memcgFiles = [
        "memory.current", "memory.peak", "memory.max", "memory.high", "memory.low", "memory.min",
        "memory.swap.current", "memory.swap.peak", "memory.swap.max", "memory.oom.group", "cgroup.procs",
        "memory.stat", "memory.events", "memory.events.local", "memory.swap.events", "memory.pressure",
    ]

    /// Checks the controller's books: each cgroup's local charges equal the pages recorded as
    /// charged to it (by kind) plus its page tables; `memory.current` equals the subtree's
    /// local charges; `memory.swap.current` the slots recorded below it; every task of a
    /// cgroup alive. Empty on a machine without cgroups.
    func checkMemcgInvariants() -> [String] {
        guard self.memcg.isActive else { return [] }
        var problems: [String] = []
        var pages = [[Int]](repeating: [0, 0, 0], count: self.memcg.groups.count)
        for raw in self.memcg.owner where raw != 0 {
            pages[Int(raw & MemcgState.idMask)][Int(raw >> MemcgState.kindShift) - 1] += 1
        }
        var slots = [Int](repeating: 0, count: self.memcg.groups.count)
        for (_, owners) in self.memcg.swapOwner { for (_, id) in owners { slots[Int(id)] += 1 } }
        for g in self.memcg.groups where !g.isRoot {
            let p = pages[g.id]
            if g.stat[MemcgStat.anon.rawValue] != p[0] {
                problems.append(
                    "memcg \(g.path): anon \(g.stat[MemcgStat.anon.rawValue]) but \(p[0]) pages charged")
            }
            if g.stat[MemcgStat.file.rawValue] != p[1] + p[2] || g.stat[MemcgStat.shmem.rawValue] != p[2] {
                problems.append("memcg \(g.path): file/shmem counters disagree with the charged pages")
            }
            let local = { (x: MemCgroup) in
                x.stat[MemcgStat.anon.rawValue] + x.stat[MemcgStat.file.rawValue]
                    + x.stat[MemcgStat.pagetables.rawValue]
            }
            let expected = g.subtree.reduce(0) { $0 + local($1) }
            if g.memory.usage != expected {
                problems.append(
                    "memcg \(g.path): memory.current \(g.memory.usage) pages, charges sum to \(expected)")
            }
            let swapExpected = g.subtree.reduce(0) { $0 + slots[$1.id] }
            if g.swap.usage != swapExpected {
                problems.append(
                    "memcg \(g.path): memory.swap.current \(g.swap.usage), slots charged \(swapExpected)")
            }
            for pid in g.tasks where self.tasks[pid] == nil {
                problems.append("memcg \(g.path): task \(pid) is gone")
            }
        }
        var tables = [Int](repeating: 0, count: self.memcg.groups.count)
        for mm in self.addressSpaces.values { if let g = mm.memcg { tables[g.id] += mm.memcgTables } }
        for g in self.memcg.groups where !g.isRoot && tables[g.id] != g.stat[MemcgStat.pagetables.rawValue] {
            problems.append(
                "memcg \(g.path): pagetables \(g.stat[MemcgStat.pagetables.rawValue]), address spaces hold \(tables[g.id])"
            )
        }
        return problems
    }
}

/// The cgroup files a writer sets (`memory_max_write()`, `memory_high_write()`, …).
public enum MemcgSetting: String, CaseIterable, Sendable {
    case max = "memory.max"
    case high = "memory.high"
    case low = "memory.low"
    case min = "memory.min"
    case swapMax = "memory.swap.max"
    case oomGroup = "memory.oom.group"
    case reclaim = "memory.reclaim"
}

extension Kernel {
    /// Writes one cgroup file from outside any task (a shell, a container runtime).
    ///
    /// - `memory.max` lowered below the usage reclaims the subtree down to it (16 rounds without
    ///   progress at most), then OOM-kills inside it until it fits or nothing is left to kill
    ///   (`memory_max_write()`);
    /// - `memory.high` reclaims down to it, never kills (`memory_high_write()`);
    /// - `memory.low`, `memory.min`, `memory.swap.max`, `memory.oom.group` just set;
    /// - `memory.reclaim` reclaims `value` pages proactively in quarter-sized batches
    ///   (`memory_reclaim()`); false (`EAGAIN`) if it fell short after 16 fruitless tries.
    ///
    /// `value` is in pages (`Int.max`: `max`; for `memory.oom.group`, 0 or 1). Returns false
    /// only for a `memory.reclaim` that fell short.
    @discardableResult
    public func memcgWrite(_ g: MemCgroup, _ setting: MemcgSetting, pages value: Int) -> Bool {
        precondition(!g.isRoot, "memcgWrite: the root cgroup has no \(setting.rawValue)")
        let saved = self.current
        self.current = nil
        defer {
            self.current = saved
            self.runKswapdIfWoken()
        }
        switch setting {
        case .max:
            g.memory.max = value
            var reclaims = 16
            while g.memory.usage > g.memory.max {
                if reclaims > 0 {
                    if self.tryToFreeMemCgroupPages(g, g.memory.usage - g.memory.max, maySwap: true) == 0 {
                        reclaims -= 1
                    }
                    continue
                }
                g.memoryEvent(.max)
                guard self.memcgOOM(g) else { break }
            }
        case .high:
            g.memory.high = value
            var retries = 16
            while g.memory.usage > g.memory.high {
                let reclaimed = self.tryToFreeMemCgroupPages(
                    g, g.memory.usage - g.memory.high, maySwap: true)
                if reclaimed == 0 {
                    if retries == 0 { break }
                    retries -= 1
                }
            }
        case .low: g.memory.low = value
        case .min: g.memory.min = value
        case .swapMax: g.swap.max = value
        case .oomGroup: g.oomGroup = value != 0
        case .reclaim:
            var reclaimed = 0
            var retries = 16
            while reclaimed < value {
                let batch = (value - reclaimed) / 4
                let got = self.tryToFreeMemCgroupPages(g, batch, maySwap: true, proactive: true)
                if got == 0 {
                    if retries == 0 { return false }
                    retries -= 1
                }
                reclaimed += got
            }
        }
        return true
    }
}
