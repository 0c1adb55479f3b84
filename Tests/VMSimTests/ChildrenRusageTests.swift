import Testing

/// `getrusage(RUSAGE_CHILDREN)`: `cmin_flt`/`cmaj_flt` grow only when the parent waits for a
/// child (`wait_task_zombie()` in kernel/exit.c), by the child's faults and those of the children
/// it waited for itself. The numbers are Linux 6.18.44's on this machine:
/// tools/kernel-truth/ops.c `rusage_children`, results/ops.txt (`children_before_wait.minflt=0`,
/// `children_after_wait_minus_child_self=0`, `grandchild_not_waited…=0`,
/// `grandchild_waited.includes_grandchild_pages=1`).
@Suite struct ChildrenRusageTests {
    @Test func aChildsFaultsReachTheParentWhenItIsWaitedFor() {
        expectScenario(
            """
            spawn parent
            parent: fork child
            reset counters
            child: mmap m 1000p anon private rw
            child: write m value=1
            expect child.minflt == 1000
            child: exit
            expect parent.cminflt == 0
            parent: wait child
            expect parent.cminflt == 1000
            expect parent.cmajflt == 0
            expect parent.minflt == 0
            """)
    }

    @Test func aGrandchildCountsOnlyIfItsParentWaitedForIt() {
        expectScenario(
            """
            spawn top
            top: fork mid
            top: fork other
            reset counters
            mid: fork waited
            waited: mmap m 300p anon private rw
            waited: write m value=1
            waited: exit
            mid: wait waited
            mid: exit
            top: wait mid
            expect top.cminflt == 300
            other: fork orphan
            orphan: mmap m 200p anon private rw
            orphan: write m value=1
            orphan: exit
            other: exit
            top: wait other
            expect top.cminflt == 300
            """)
    }

    @Test func majorFaultsAreCarriedToo() {
        expectScenario(
            """
            file /data/f size=64p
            spawn parent
            parent: fork child
            reset counters
            child: mmap f 64p file=/data/f private r
            child: madvise f random
            child: read f
            expect child.majflt == 64
            child: exit
            parent: wait child
            expect parent.cmajflt == 64
            """)
    }
}
