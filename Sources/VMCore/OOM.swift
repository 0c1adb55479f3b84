import VMPhys
import VMTypes

/// The OOM killer (mm/oom_kill.c): when reclaim cannot free memory for an allocation, the task
/// with the highest badness is killed and its memory freed.
extension Kernel {
    /// `oom_badness()`: resident pages + swap entries + page-table pages, plus
    /// `oom_score_adj` × (total pages / 1000). Nil for tasks that cannot be chosen: kernel
    /// threads, init, tasks already dying, `oom_score_adj` -1000.
    public func oomBadness(_ task: Task, totalPages: Int) -> Int? {
        guard let mm = task.mm, task.pid != 1, task.state == .running, task.oomScoreAdj != -1000,
            !self.reclaim.pendingKills.contains(task.pid)
        else { return nil }
        var points = mm.rssPages + mm.counter(.swapEntries) + mm.pageTablePages
        points += task.oomScoreAdj * (totalPages / 1000)
        return points
    }

    /// `out_of_memory()` → `select_bad_process()` → `oom_kill_process()`, with the kernel's log:
    /// who invoked it, the memory state, the task table, and the kill. The victim is killed at
    /// once and its memory freed (`oom_reaper`); a victim that is the task allocating dies when
    /// its fault or system call returns. Returns true if memory was freed.
    func oomKill(gfp: GFP, order: Int) -> Bool {
        let totalPages = Int(self.phys.totalRAMPages) + self.swapTotalPages
        let invoker = self.current
        self.printk(
            "\(invoker?.name ?? "kswapd0") invoked oom-killer: gfp_mask=\(hex(UInt64(gfp.rawValue)))(\(gfp)), order=\(order), oom_score_adj=\(invoker?.oomScoreAdj ?? 0)"
        )
        self.printk("Mem-Info:")
        let s = self.phys.state
        self.printk(
            "active_anon:\(s(.nrActiveAnon)) inactive_anon:\(s(.nrInactiveAnon)) isolated_anon:\(s(.nrIsolatedAnon))"
        )
        self.printk(
            " active_file:\(s(.nrActiveFile)) inactive_file:\(s(.nrInactiveFile)) isolated_file:\(s(.nrIsolatedFile))"
        )
        self.printk(" unevictable:\(s(.nrUnevictable)) dirty:\(s(.nrDirty)) writeback:\(s(.nrWriteback))")
        self.printk(
            " slab_reclaimable:\(s(.nrSlabReclaimable)) slab_unreclaimable:\(s(.nrSlabUnreclaimable))")
        self.printk(" mapped:\(s(.nrMapped)) shmem:\(s(.nrShmem)) pagetables:\(s(.nrPageTablePages))")
        self.printk(
            " free:\(self.phys.freePages) free_pcp:\(self.phys.pcp.reduce(0) { $0 + $1.count }) free_cma:0")
        self.printk("Free swap  = \(self.swapFreePages * Int(self.phys.pageSize >> 10))kB")
        self.printk("Total swap = \(self.swapTotalPages * Int(self.phys.pageSize >> 10))kB")
        self.printk("Tasks state (memory values in pages):")
        self.printk(
            "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name"
        )
        var victim: Task?
        var chosen = Int.min
        for task in self.taskList {
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
        let kb = { (pages: Int) in pages * Int(self.phys.pageSize >> 10) }
        self.printk(
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=\(self.memcg(of: victim).path),task=\(victim.name),pid=\(victim.pid),uid=0"
        )
        self.printk(
            "Out of memory: Killed process \(victim.pid) (\(victim.name)) total-vm:\(kb(mm.totalVM))kB, anon-rss:\(kb(mm.counter(.anonPages)))kB, file-rss:\(kb(mm.counter(.filePages)))kB, shmem-rss:\(kb(mm.counter(.shmemPages)))kB, UID:0 pgtables:\(kb(mm.pageTablePages))kB oom_score_adj:\(victim.oomScoreAdj)"
        )
        self.phys.count(.oomKill)
        self.emit(.oomKill(pid: victim.pid, name: victim.name, points: chosen))
        if victim === self.current || victim.state != .running {
            // The allocating task itself: it dies when its fault or call returns.
            self.reclaim.pendingKills.insert(victim.pid)
            return false
        }
        self.exitTask(victim, reason: .killed(.sigkill))
        self.printk(
            "oom_reaper: reaped process \(victim.pid) (\(victim.name)), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
        )
        return true
    }

    /// The way back to user space after a fault or system call: kswapd gets to run if woken,
    /// and a task the OOM killer chose while it was in the kernel dies now. Returns false if
    /// `task` was killed.
    @discardableResult
    func returnToUser(_ task: Task?) -> Bool {
        self.runKswapdIfWoken()
        // resume_user_mode_work(): over memory.high, reclaim or sleep first.
        if let task, !self.memcg.pagesOverHigh.isEmpty, task.state == .running {
            self.memcgHandleOverHigh(task)
        }
        guard let task, self.reclaim.pendingKills.contains(task.pid) else { return true }
        self.reclaim.pendingKills.remove(task.pid)
        if task.state == .running {
            self.exitTask(task, reason: .killed(.sigkill))
            self.printk(
                "oom_reaper: reaped process \(task.pid) (\(task.name)), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
            )
        }
        return false
    }
}

/// Right-aligns `value` in `width` columns (printk's `%Nd`).
func rpad<T>(_ value: T, _ width: Int) -> String {
    let s = "\(value)"
    return s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}
