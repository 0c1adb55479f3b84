import Testing
import VMCore

@testable import VMSim

/// (`rssanon` includes the 4 KiB stack page every process starts with.)
///
/// Anonymous transparent huge pages against the real kernel: every number below was measured on
/// Linux 6.18.44 (x86_64, `transparent_hugepage/enabled` switched between madvise, always and
/// never) by tools/kernel-truth/thp.c; the results are in tools/kernel-truth/results/thp.txt under
/// the case named in each comment (faults are `ru_minflt` deltas).
@Suite struct THPTests {
    /// `madvise.touch.4096k.off0.{none,huge,nohuge}`: 1024, 2, 1024 faults; AnonHugePages 0, 4096 kB, 0.
    @Test func madviseModeNeedsMadvHugepage() {
        expectScenario(
            """
            spawn p
            p: mmap a 4MiB anon private rw at=0x7f0000000000
            p: mmap b 4MiB anon private rw at=0x7f0001000000
            p: madvise b hugepage
            p: mmap c 4MiB anon private rw at=0x7f0002000000
            p: madvise c nohugepage
            reset counters
            p: write a
            expect p.minflt == 1024
            expect vmstat.thp_fault_alloc == 0
            p: write b
            expect p.minflt == 1026
            expect vmstat.thp_fault_alloc == 2
            expect vmstat.thp_fault_fallback == 0
            expect meminfo.AnonHugePages == 4MiB
            p: write c
            expect p.minflt == 2050
            expect p.rssanon == 12292KiB
            """)
    }

    /// `madvise.touch.8192k.off4.huge` and `.off1024.huge`: 515 faults, 3 THPs (6144 kB);
    /// `madvise.touch.3072k.off0.huge`: 257, one THP; `.off4.huge`: 768, none (no aligned block
    /// inside: THPeligible 0).
    @Test func onlyWhollyCoveredAlignedBlocksGetAPMD() {
        expectScenario(
            """
            spawn p
            p: mmap a 8MiB anon private rw at=0x7f0000001000
            p: madvise a hugepage
            p: mmap b 8MiB anon private rw at=0x7f0001100000
            p: madvise b hugepage
            p: mmap c 3MiB anon private rw at=0x7f0002000000
            p: madvise c hugepage
            p: mmap d 3MiB anon private rw at=0x7f0003001000
            p: madvise d hugepage
            reset counters
            p: write a
            expect p.minflt == 515
            expect meminfo.AnonHugePages == 6MiB
            p: write b
            expect p.minflt == 1030
            expect meminfo.AnonHugePages == 12MiB
            p: write c
            expect p.minflt == 1287
            p: write d
            expect p.minflt == 2055
            expect vmstat.thp_fault_alloc == 7
            expect meminfo.AnonHugePages == 14MiB
            """)
    }

    /// `always.touch.4096k.off0.none`: 2 faults without any madvise; `.nohuge`: 1024;
    /// `never.touch.4096k.off0.huge`: 1024.
    @Test func alwaysAndNeverModes() {
        expectScenario(
            """
            machine thp=always
            spawn p
            p: mmap a 4MiB anon private rw at=0x7f0000000000
            p: mmap b 4MiB anon private rw at=0x7f0001000000
            p: madvise b nohugepage
            reset counters
            p: write a
            expect p.minflt == 2
            p: write b
            expect p.minflt == 1026
            """)
        expectScenario(
            """
            machine thp=never
            spawn p
            p: mmap a 4MiB anon private rw at=0x7f0000000000
            p: madvise a hugepage
            reset counters
            p: write a
            expect p.minflt == 1024
            expect vmstat.thp_fault_alloc == 0
            """)
    }

    /// `madvise.zero.4096k.off0.huge`: reading 4 MiB takes 2 faults and maps the huge zero page
    /// (Rss 0); the first write takes 1 fault and allocates a THP (thp_fault_alloc 1, Rss and
    /// AnonHugePages 2048 kB); writing the rest 1 more.
    @Test func readFaultsMapTheHugeZeroPage() {
        expectScenario(
            """
            spawn p
            p: mmap a 4MiB anon private rw at=0x7f0000000000
            p: madvise a hugepage
            reset counters
            p: read a
            expect p.minflt == 2
            expect p.rssanon == 4KiB
            expect vmstat.thp_fault_alloc == 0
            expect vmstat.thp_zero_page_alloc == 1
            p: write a[0:4KiB]
            expect p.minflt == 3
            expect vmstat.thp_fault_alloc == 1
            expect p.rssanon == 2052KiB
            p: write a
            expect p.minflt == 4
            expect p.rssanon == 4100KiB
            expect meminfo.AnonHugePages == 4MiB
            expect vmstat.thp_split_pmd == 0
            """)
    }

    /// `madvise.split.{munmap,mprotect,dontneed}` (page 100 of the first THP): the operation
    /// takes no fault and splits one PMD (thp_split_pmd 1, AnonHugePages 4096 → 2048 kB; Rss
    /// 4092 kB after munmap and DONTNEED); re-reading everything takes 0 faults, or 1 for the
    /// DONTNEED'ed page (zero page), and writing it 1 more.
    @Test func partialMunmapMprotectAndDontneedSplitThePMD() {
        for op in ["munmap a[100p:101p]", "mprotect a[100p:101p] r", "madvise a[100p:101p] dontneed"] {
            let dontneed = op.contains("dontneed")
            let reread = dontneed ? 1 : 0
            let rss = op.contains("mprotect") ? "4100KiB" : "4096KiB"  // + 4 KiB of stack
            let region = op.contains("munmap") ? "a[101p:1024p]" : "a"
            expectScenario(
                """
                spawn p
                p: mmap a 4MiB anon private rw at=0x7f0000000000
                p: madvise a hugepage
                p: write a
                reset counters
                p: \(op)
                expect p.minflt == 0
                expect vmstat.thp_split_pmd == 1
                expect meminfo.AnonHugePages == 2MiB
                expect p.rssanon == \(rss)
                p: read \(region)
                expect p.minflt == \(reread)
                """
                    + (dontneed
                        ? "\np: write a[100p:101p]\nexpect p.minflt == 2\nexpect p.rssanon == 4100KiB\n"
                        : "\n"))
        }
    }

    /// `madvise.fork.child_all`: after fork the child reads all 4 MiB with 0 faults; its writes
    /// take one fault per 4 KiB page (1 + 1023), each copying one page; once the child has exited
    /// the parent's write takes 1 fault per PMD (reuse, the same frames, AnonHugePages 4096 kB).
    @Test func copyOnWriteOfAPMDMappedTHPAfterFork() {
        expectScenario(
            """
            spawn p
            p: mmap a 4MiB anon private rw at=0x7f0000000000
            p: madvise a hugepage
            p: write a value=1
            p: fork c
            reset counters
            c: read a
            expect c.minflt == 0
            c: write a[0:4KiB] value=2
            expect c.minflt == 1
            c: write a value=3
            expect c.minflt == 1024
            p: expect a[5p] == 1
            c: exit
            p: wait c
            reset counters
            p: write a value=4
            expect p.minflt == 2
            expect meminfo.AnonHugePages == 4MiB
            """)
    }

    /// ops.c `populate`: MADV_POPULATE_WRITE of a MADV_HUGEPAGE 4 MiB range faults twice, of a
    /// plain one 1024 times, charged to the caller; POPULATE_READ of a plain range maps the zero
    /// page (1024 faults, Rss 0), and a later write faults again; POPULATE_READ of shared
    /// anonymous memory takes 1024 faults and the writes after it none (`populate.shm_read` in
    /// tools/kernel-truth/results/ops.txt: shmem read faults map writable).
    @Test func madvPopulate() {
        expectScenario(
            """
            spawn p
            p: mmap a 4MiB anon private rw at=0x7f0000000000
            p: madvise a hugepage
            p: mmap b 4MiB anon private rw at=0x7f0001000000
            p: mmap r 4MiB anon private rw at=0x7f0002000000
            reset counters
            p: madvise a populate_write
            expect p.minflt == 2
            p: madvise b populate_write
            expect p.minflt == 1026
            expect p.rssanon == 8196KiB
            p: madvise r populate_read
            expect p.minflt == 2050
            expect p.rssanon == 8196KiB
            p: write a
            p: write b
            expect p.minflt == 2050
            p: write r[0:4KiB]
            expect p.minflt == 2051
            p: mmap s 4MiB anon shared rw
            reset counters
            p: madvise s populate_read
            expect p.minflt == 1024
            p: write s
            expect p.minflt == 1024
            """)
    }

    /// Reclaim splits a THP before swapping its pages out (try_to_unmap with TTU_SPLIT_HUGE_PMD);
    /// nothing is lost: the data comes back from swap.
    @Test func reclaimSplitsAndSwapsTHPPages() {
        expectScenario(
            """
            machine memory=64MiB swap=256MiB
            spawn p
            p: mmap a 32MiB anon private rw
            p: madvise a hugepage
            p: write a value=7
            p: mmap b 48MiB anon private rw
            p: write b value=8
            expect vmstat.thp_split_pmd > 0
            p: expect a[0] == 7
            p: expect a[31MiB] == 7
            p: expect b[0] == 8
            """)
    }
}
