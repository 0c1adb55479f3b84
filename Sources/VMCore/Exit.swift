import VMPaging
import VMPhys
import VMTypes

/// Process exit and reaping (kernel/exit.c: `do_exit()`, `wait4()`, `release_task()`).
extension Kernel {
    // MARK: exit and wait

    /// `do_exit()`: the address space is released (`exit_mm()` → `mmput()`), the kernel stack is
    /// freed, children go to init, and the task becomes a zombie until its parent reaps it
    /// (init reaps its children at once).
    public func exitTask(_ task: Task, reason: ExitReason) {
        guard task.state == .running || task.state == .sleeping else { return }
        if let mm = task.mm {
            task.mm = nil
            // Someone else holds the mm (swapoff's walk): its memory goes now, as the OOM
            // reaper frees a victim's (`__oom_reap_task_mm()`), and the VMAs, page tables and
            // mm_struct with the last mmput().
            if mm.users > 1 { self.reapMM(mm) }
            self.mmput(mm)
        }
        // exit_files(): every descriptor closed.
        for fd in task.files.keys.sorted() { try? self.close(task, fd: fd) }
        if self.current === task { self.current = nil }
        self.freeKernelStack(task)
        task.state = .zombie
        task.exitReason = reason
        for pid in task.children {
            guard let child = self.tasks[pid] else { continue }
            child.parentPID = 1
            self.tasks[1]?.children.append(pid)
            if child.state == .zombie { self.reap(child) }
        }
        task.children = []
        self.emit(.exit(pid: task.pid, reason: reason))
        if task.parentPID == 1 || task.parentPID == 0 { self.reap(task) }
    }

    /// `wait()` by `parent`: reaps a zombie child (the given one, or any); returns it.
    @discardableResult
    public func wait(_ parent: Task, for pid: Int? = nil) -> Task? {
        let candidates = parent.children.compactMap { self.tasks[$0] }.filter {
            $0.state == .zombie && (pid == nil || $0.pid == pid)
        }
        guard let child = candidates.first else { return nil }
        // wait_task_zombie(): the child's faults and those of the children it waited for are
        // added to the parent's cmin_flt/cmaj_flt before release_task().
        parent.childMinorFaults += child.minorFaults + child.childMinorFaults
        parent.childMajorFaults += child.majorFaults + child.childMajorFaults
        self.reap(child)
        return child
    }

    /// `release_task()`: frees a zombie's task_struct and forgets it.
    func reap(_ task: Task) {
        guard task.state == .zombie else { return }
        task.state = .dead
        self.tasks[task.parentPID]?.children.removeAll { $0 == task.pid }
        self.releaseTask(task)
        self.emit(.reap(pid: task.pid))
    }

    func releaseTask(_ task: Task) {
        self.memcgForget(task)
        self.freeKernelStack(task)
        if task.object != 0 {
            self.phys.kmemCacheFree(self.caches.taskStruct, task.object)
            task.object = 0
        }
        task.state = .dead
        self.tasks[task.pid] = nil
    }
}
