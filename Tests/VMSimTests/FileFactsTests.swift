import Testing
import VMCore

@testable import VMSim

/// The file-mapping, page-cache and shared-memory facts of KERNEL-FACTS.md (Linux 6.18,
/// `fault_around_bytes` 64 KiB, `read_ahead_kb` 128), each as a scenario.
@Suite struct FileFactsTests {
    @Test func readingAThousandCachedPagesOneByOneTakes63Faults() {
        expectScenario(
            """
            file /data/f size=1000p cached
            spawn p
            p: mmap m 1000p file=/data/f private r
            reset counters
            p: read m
            expect p.minflt == 63
            expect p.majflt == 0
            expect p.rssfile == 1000p
            """)
    }

    @Test func stridedReadsFaultOncePerFaultAroundWindow() {
        expectScenario(
            """
            file /data/f size=1000p cached
            spawn p
            p: mmap a 1000p file=/data/f shared r
            p: mmap b 1000p file=/data/f shared r
            reset counters
            p: read a stride=16p
            expect p.minflt == 63
            expect p.rssfile == 1000p
            reset counters
            p: read b stride=8p
            expect p.minflt == 63
            """)
    }

    /// Linux 6.4+ `do_fault_around()`: the window starts at the 16-page boundary below the
    /// fault or at the VMA start, whichever is higher, and runs 16 pages from there.
    @Test func faultAroundIsClampedToTheVMAAndEndOfFile() {
        expectScenario(
            """
            file /data/f size=64p cached
            file /data/short size=10p cached
            spawn p
            p: mmap aligned 40p file=/data/f private r at=0x7f0000000000
            p: mmap skewed 40p file=/data/f private r at=0x7f000010e000
            reset counters
            p: read aligned
            expect p.minflt == 3
            reset counters
            p: read skewed
            expect p.minflt == 4
            p: mmap tail 16p file=/data/short private r at=0x7f0000200000
            reset counters
            p: read tail[0:10p]
            expect p.minflt == 1
            expect p.rssfile == 90p
            p: read tail[10p] expect sigbus
            expect p.killed == 7
            """)
    }

    @Test func sharedWritesFaultOncePerPageAndAgainAfterWriteback() {
        expectScenario(
            """
            file /data/f size=200p cached
            spawn p
            p: mmap m 200p file=/data/f shared rw
            reset counters
            p: write m value=5
            expect p.minflt == 200
            expect /data/f:dirty == 200p
            expect meminfo.Dirty >= 800KiB
            p: write m value=6
            expect p.minflt == 200
            p: msync m
            expect /data/f:dirty == 0
            expect /data/f:writeback == 0
            reset counters
            p: write m value=7
            expect p.minflt == 200
            p: fsync /data/f
            reset counters
            p: read m
            expect p.minflt == 0
            p: write m[0:10p] value=8
            expect p.minflt == 10
            p: expect /data/f[0] == 8
            p: expect /data/f[20p] == 7
            """)
    }

    @Test func privateWritesCopyEveryPageAndReadingFirstSavesNone() {
        expectScenario(
            """
            file /data/f size=100p cached
            spawn p
            p: mmap a 100p file=/data/f private rw
            p: mmap b 100p file=/data/f private rw
            reset counters
            p: write a value=1
            expect p.minflt == 100
            expect p.rssanon == 101p
            reset counters
            p: read b
            expect p.minflt == 7
            p: write b value=2
            expect p.minflt == 107
            expect /data/f:dirty == 0
            p: expect /data/f[0] != 1
            """)
    }

    @Test func anUncachedFileTakesOneMajorFaultThenReadahead() {
        expectScenario(
            """
            file /data/cold size=1000p
            spawn p
            p: mmap m 1000p file=/data/cold private r
            reset counters
            p: read m[0]
            expect p.majflt == 1
            expect /data/cold:cached == 32p
            expect disk.read_bytes == 128KiB
            p: read m
            expect p.majflt == 1
            expect /data/cold:cached == 1000p
            expect vmstat.pgmajfault == 1
            """)
    }

    @Test func readAroundCentresTheWindowOnTheFault() {
        expectScenario(
            """
            file /data/cold size=1000p
            spawn p
            p: mmap m 1000p file=/data/cold private r
            reset counters
            p: read m[500p]
            expect p.majflt == 1
            expect /data/cold:cached == 32p
            p: read m[484p:516p]
            expect p.majflt == 1
            p: read m[483p]
            expect p.majflt == 2
            """)
    }

    @Test func madviseRandomMakesEveryPageAMajorFault() {
        expectScenario(
            """
            file /data/cold size=300p
            spawn p
            p: mmap m 300p file=/data/cold private r
            p: madvise m random
            reset counters
            p: read m
            expect p.majflt == 300
            expect p.minflt == 0
            expect disk.reads == 300
            """)
    }

    @Test func madviseWillneedReadsAheadSoNoFaultIsMajor() {
        expectScenario(
            """
            file /data/cold size=100p
            spawn p
            p: mmap m 100p file=/data/cold private r
            p: madvise m willneed
            expect /data/cold:cached == 100p
            tick 10ms
            reset counters
            p: read m
            expect p.majflt == 0
            expect p.minflt == 7
            """)
    }

    @Test func sharedAnonymousMemoryReadByAnotherProcessUsesFaultAround() {
        expectScenario(
            """
            spawn p
            p: mmap shm 1000p anon shared rw
            p: write shm value=9
            p: fork c
            reset counters
            c: read shm
            expect c.minflt == 63
            c: expect shm[999p] == 9
            expect meminfo.Shmem == 1000p
            expect c.rssshmem == 1000p
            reset counters
            # Read faults on shared shmem map writable (no write notification): the writes take
            # no fault (Linux 6.18, tools/kernel-truth/shmem.c and HostComparisonTests' shared-anon).
            c: write shm[0:10p] value=3
            expect c.minflt == 0
            p: expect shm[5p] == 3
            """)
    }

    /// A SysV attachment faults page by page: `shm_vm_ops` (ipc/shm.c) has no `map_pages`, so
    /// `should_fault_around()` (mm/memory.c) says no. Linux 6.18.44 on this machine: 1000 faults for
    /// 1000 pages, against 64 for shared anonymous memory (tools/kernel-truth/sysv-shm-read.c,
    /// results/sysv-shm-read.txt).
    @Test func sysvSegmentsAreSharedAndDestroyedAfterTheLastDetach() {
        expectScenario(
            """
            spawn a
            spawn b
            a: shm seg 1000p key=42
            a: write seg value=4
            b: shm seg 1000p key=42
            reset counters
            b: read seg
            expect b.minflt == 1000
            b: expect seg[100p] == 4
            shmrm key=42
            expect meminfo.Shmem == 1000p
            a: shmdt seg
            expect meminfo.Shmem == 1000p
            b: shmdt seg
            expect meminfo.Shmem == 0
            """)
    }

    @Test func writebackFollowsTheFlusherSchedule() {
        expectScenario(
            """
            mkdir /data
            spawn p
            p: fwrite /data/log[0:64KiB] value=3
            expect /data/log:dirty == 64KiB
            tick 29s
            expect /data/log:dirty == 64KiB
            tick 2s
            expect /data/log:dirty == 0
            expect /data/log:writeback == 0
            expect vmstat.nr_written >= 16
            expect disk.written_bytes >= 64KiB
            """)
    }

    @Test func dropCachesKeepsDirtyAndMappedPagesAndDataComesBackFromDisk() {
        expectScenario(
            """
            file /data/f size=64p cached
            file /data/g size=64p cached
            spawn p
            p: mmap m 64p file=/data/g shared r
            p: read m
            p: fwrite /data/f[0:8p] value=11
            drop caches
            expect /data/f:cached == 8p
            expect /data/g:cached == 64p
            expect vmstat.drop_pagecache == 1
            sync
            drop caches
            expect /data/f:cached == 0
            reset counters
            p: expect /data/f[4p] == 11
            expect disk.reads >= 1
            """)
    }

    @Test func truncateUnmapsThePagesBeyondTheEndAndAccessThereIsSigbus() {
        expectScenario(
            """
            file /data/f size=32p cached
            spawn p
            p: mmap m 32p file=/data/f private rw
            p: write m[20p] value=1
            p: read m
            truncate /data/f 16p
            expect /data/f:cached == 16p
            p: read m[0:16p]
            p: read m[20p] expect sigbus
            """)
    }

    @Test func anUnlinkedFileLivesWhileMappedAndItsPagesGoWithTheMapping() {
        expectScenario(
            """
            file /data/f size=100p cached
            spawn p
            p: mmap m 100p file=/data/f shared r
            p: read m
            expect meminfo.Cached >= 400KiB
            unlink /data/f
            p: expect m[50p] != 0
            expect meminfo.Mapped >= 400KiB
            p: munmap m
            expect meminfo.Mapped < 400KiB
            expect meminfo.Cached < 400KiB
            """)
    }

    /// `/proc/swaps` in `swap_show()`'s layout: the path padded to 40 columns, the type, sizes in
    /// KiB with an extra tab below 10 000 000, the priority.
    @Test func procSwapsHasTheKernelLayout() throws {
        let (runner, _) = runScenario(
            """
            machine memory=128MiB swap=256MiB
            swapon /swapfile size=64MiB file priority=5
            """)
        let text = ProcFS.swaps(try #require(runner).kernel)
        #expect(
            text
                == "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                + "/dev/sda2                               partition\t262140\t\t0\t\t-2\n"
                + "/swapfile                               file\t\t65532\t\t0\t\t5\n")
    }

    /// The reclaim counters move with the work and keep their kernel names.
    @Test func reclaimIsCountedInVmstat() {
        expectScenario(
            """
            machine memory=64MiB swap=128MiB
            file /data/f size=8MiB cached
            spawn p
            p: mmap m 80MiB anon private rw
            p: write m value=1
            expect vmstat.pswpout > 0
            expect vmstat.pgscan_anon > 0
            expect vmstat.pgsteal_anon > 0
            expect vmstat.pgsteal_file > 0
            expect vmstat.pageoutrun > 0
            expect vmstat.nr_vmscan_write > 0
            expect meminfo.SwapFree < 128MiB
            expect p.vmswap > 0
            p: expect m[0:80MiB] == 1
            expect vmstat.pswpin > 0
            expect p.majflt > 0
            """)
    }
}
