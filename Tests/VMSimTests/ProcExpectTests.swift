import Testing
import VMCore

@testable import VMSim

/// `expect NAME.smaps[REF].FIELD` and `expect NAME.pagemap[REF].FIELD`, with a subject allowed on
/// the right side, against Linux 6.18.44 (x86_64) on this machine: tools/kernel-truth/ops.c case
/// `cow` (results/ops.txt: the pagemap exclusive bit and PFN equality across fork and COW) and
/// tools/kernel-truth/shmem.c case `anonfork` (results/shmem.txt: smaps of shared anonymous
/// memory in a forked child).
@Suite struct ProcExpectTests {
    /// ops.txt `cow.childwrite`: exclusive before fork; the child's page is the parent's
    /// (`pfn_eq_parent=1`), not exclusive; the child's write costs 1 fault and gives it its own
    /// exclusive frame; the parent's page is exclusive again (`parent_child_alive.exclusive=1`).
    @Test func copyOnWriteAfterForkAsPagemapShowsIt() {
        expectScenario(
            """
            spawn p
            p: mmap buf 4KiB
            p: write buf value=1
            expect p.pagemap[buf].exclusive == 1
            expect p.pagemap[buf].present == 1
            expect p.pagemap[buf].file == 0
            expect p.pagemap[buf].swap == 0
            p: fork c
            expect c.pagemap[buf].pfn == p.pagemap[buf].pfn
            expect c.pagemap[buf].exclusive == 0
            expect p.pagemap[buf].exclusive == 0
            reset counters
            c: write buf value=2
            expect c.minflt == 1
            expect c.pagemap[buf].exclusive == 1
            expect c.pagemap[buf].pfn != p.pagemap[buf].pfn
            expect p.pagemap[buf].exclusive == 1
            c: exit
            p: wait c
            reset counters
            p: write buf value=4
            expect p.minflt == 1
            expect p.pagemap[buf].exclusive == 1
            p: expect buf == 4
            """)
    }

    /// ops.txt `cow.parentfirst`: the parent writes while the child lives: 1 fault, a new frame,
    /// exclusive; the child keeps the original frame, now mapped once (exclusive=1), value 1; the
    /// parent's later write after the child exits takes no fault.
    @Test func theParentsCopyLeavesTheChildTheOriginal() {
        expectScenario(
            """
            spawn p
            p: mmap buf 4KiB
            p: write buf value=1
            p: fork c
            expect c.pagemap[buf].pfn == p.pagemap[buf].pfn
            reset counters
            p: write buf value=3
            expect p.minflt == 1
            expect p.pagemap[buf].pfn != c.pagemap[buf].pfn
            expect p.pagemap[buf].exclusive == 1
            expect c.pagemap[buf].exclusive == 1
            c: expect buf == 1
            c: exit
            p: wait c
            reset counters
            p: write buf value=4
            expect p.minflt == 0
            """)
    }

    /// ops.txt `cow.none`: nobody writes: both see one frame, neither exclusive
    /// (`parent_child_alive.exclusive=0`); after the child exits, exclusive again.
    @Test func anUnwrittenPageStaysSharedUntilTheChildExits() {
        expectScenario(
            """
            spawn p
            p: mmap buf 4KiB
            p: write buf value=1
            p: fork c
            expect p.pagemap[buf].exclusive == 0
            expect c.pagemap[buf].exclusive == 0
            expect p.pagemap[buf].pfn == c.pagemap[buf].pfn
            c: exit
            p: wait c
            expect p.pagemap[buf].exclusive == 1
            reset counters
            p: write buf value=4
            expect p.minflt == 1
            """)
    }

    /// shmem.txt `n16.anonfork`: 16 pages of MAP_SHARED|MAP_ANONYMOUS written by the parent; the
    /// forked child reads them with 1 fault (fault-around), then smaps shows Rss 64 kB, Pss 32,
    /// Shared_Dirty 64, Private_* 0, Referenced 64, Anonymous 0, Swap 0, Locked 0, THPeligible 0,
    /// and pagemap shows them present, not exclusive, "file/shared" (bit 61); its write costs 0.
    @Test func smapsOfSharedAnonymousMemoryInAForkedChild() {
        expectScenario(
            """
            spawn p
            p: mmap s 64KiB anon shared
            p: write s
            p: fork c
            reset counters
            c: read s
            expect c.minflt == 1
            expect c.smaps[s].Size == 64KiB
            expect c.smaps[s].Rss == 64KiB
            expect c.smaps[s].Pss == 32KiB
            expect c.smaps[s].Shared_Clean == 0
            expect c.smaps[s].Shared_Dirty == 64KiB
            expect c.smaps[s].Private_Clean == 0
            expect c.smaps[s].Private_Dirty == 0
            expect c.smaps[s].Referenced == 64KiB
            expect c.smaps[s].Anonymous == 0
            expect c.smaps[s].AnonHugePages == 0
            expect c.smaps[s].ShmemPmdMapped == 0
            expect c.smaps[s].FilePmdMapped == 0
            expect c.smaps[s].Swap == 0
            expect c.smaps[s].Locked == 0
            expect c.smaps[s].THPeligible == 0
            expect c.smaps[s].KernelPageSize == 4KiB
            expect c.pagemap[s[60KiB]].present == 1
            expect c.pagemap[s[60KiB]].file == 1
            expect c.pagemap[s[60KiB]].exclusive == 0
            expect c.pagemap[s[60KiB]].pfn == p.pagemap[s[60KiB]].pfn
            reset counters
            c: write s
            expect c.minflt == 0
            """)
    }

    /// ops.txt `populate.mlock`: 1024 locked pages: Rss, Pss, Private_Dirty, Anonymous, Locked all
    /// 4096 kB. A reference covering two VMAs sums their entries; a byte of one VMA reads it whole.
    @Test func smapsSumsTheVMAsAReferenceOverlaps() {
        expectScenario(
            """
            spawn p
            p: mmap m 4MiB
            p: mlock m
            expect p.smaps[m].Rss == 4MiB
            expect p.smaps[m].Pss == 4MiB
            expect p.smaps[m].Private_Dirty == 4MiB
            expect p.smaps[m].Anonymous == 4MiB
            expect p.smaps[m].Locked == 4MiB
            p: munlock m[0:1MiB]
            expect p.smaps[m].Locked == 3MiB
            expect p.smaps[m].Rss == 4MiB
            expect p.smaps[m[0]].Rss == 1MiB
            expect p.smaps[m[1MiB:2MiB]].Size == 3MiB
            """)
    }

    /// A swapped page (the oldest, under memory pressure): present 0, swap 1, pfn 0; smaps counts
    /// it in Swap; reading it brings it back.
    @Test func aSwappedPageShowsInPagemapAndSmaps() {
        expectScenario(
            """
            machine memory=32MiB swap=64MiB
            spawn p
            p: mmap buf 4KiB
            p: write buf value=5
            p: mmap big 40MiB
            p: write big
            expect p.pagemap[buf].present == 0
            expect p.pagemap[buf].swap == 1
            expect p.pagemap[buf].pfn == 0
            expect p.smaps[buf].Swap == 4KiB
            expect p.smaps[buf].Rss == 0
            p: expect buf == 5
            expect p.pagemap[buf].present == 1
            """)
    }

    /// This machine's kernel is built without CONFIG_MEM_SOFT_DIRTY (ops.txt
    /// `cow.childwrite.before_fork.soft_dirty=0`, /proc/config.gz), so its bit 55 is always 0;
    /// vmsim models a kernel with it, as Debian's: a new VMA is VM_SOFTDIRTY, so its pages read
    /// soft-dirty (there is no clear_refs to clear it).
    @Test func softDirtyFollowsTheVMAFlag() {
        expectScenario(
            """
            spawn p
            p: mmap buf 4KiB
            expect p.pagemap[buf].soft_dirty == 1
            expect p.pagemap[buf].present == 0
            expect p.pagemap[buf].entry == 0x80000000000000
            """)
    }

    @Test(arguments: [
        (
            "spawn p\np: mmap b 4KiB\nexpect p.smaps[b].Rsss == 1",
            "s.vmsim:3:18: expected .FIELD after smaps[…]"
        ),
        ("spawn p\np: mmap b 4KiB\nexpect p.smaps[b] == 1", "s.vmsim:3:18: expected .FIELD after smaps[…]"),
        ("spawn p\np: mmap b 4KiB\nexpect p.pagemap[b].colour == 1", "s.vmsim:3:20: expected .FIELD"),
        ("spawn p\np: mmap b 4KiB\nexpect p.pagemap[nope].pfn == 1", "s.vmsim:3:18: p has no region 'nope'"),
        (
            "spawn p\np: mmap b 4KiB\nexpect p.pagemap[b[8KiB]].pfn == 1",
            "s.vmsim:3:20: range 8KiB is outside b"
        ),
        ("spawn p\np: mmap b 4KiB\nexpect p.pagemap[].pfn == 1", "s.vmsim:3:17: expected pagemap[REF]"),
        ("spawn p\np: mmap b 4KiB\nexpect p.pagemap[b.pfn == 1", "s.vmsim:3:28: expected SUBJECT OP VALUE"),
        ("spawn p\np: mmap b 4KiB\nexpect p.addr[b].x == 1", "s.vmsim:3:17: unexpected '.x' after addr"),
        ("spawn p\np: exit\nexpect p.smaps[b].Rss == 1", "s.vmsim:3:8: p has exited"),
        (
            "spawn p\np: mmap b 4KiB\nexpect p.pagemap[b].pfn == q.pagemap[b].pfn",
            "s.vmsim:3:28: unknown process 'q'"
        ),
        ("spawn p\np: mmap b 4KiB\nexpect p.pagemap[b].pfn == p.frob", "s.vmsim:3:30: unknown field 'frob'"),
        (
            "spawn p\np: mmap b 4KiB\np: expect b == p.minflt",
            "s.vmsim:3:23: a memory or file comparison takes a number"
        ),
    ])
    func malformedProcSubjectsAreErrors(text: String, prefix: String) {
        let message = parseError(text)
        #expect(message.hasPrefix(prefix), "\(message)")
    }
}
