/// The built-in demo scenario `vmsim run` runs without a file (generated from
/// examples/demo.vmsim by scripts/embed-demo.sh; a test checks they agree).
public enum DemoScenario {
    public static let name = "demo"
    public static let text = #"""
        # vmsim demo: processes, demand paging, copy-on-write fork, a SIGSEGV, files, shared memory,
        # writeback, memory pressure with kswapd and swap, and the reports.
        # Each line is echoed with what it did: faults by handler, RSS, free memory, reclaim, swap.
        # Run it with `vmsim run` (built in) or `vmsim run examples/demo.vmsim --trace`.
        machine memory=256MiB arch=x86_64 swap=512MiB

        # A program with 1 MiB of text, 64 KiB of data and 256 KiB of bss; its break starts after bss.
        spawn web text=1MiB data=64KiB bss=256KiB
        web: mmap buf 4MiB anon private rw

        # Demand paging: reading untouched memory maps the shared zero page (one fault per page, no memory).
        reset counters
        web: read buf[0:1MiB]
        expect web.minflt == 256
        expect web.rssanon == 4KiB
        # Writing gets a fresh zeroed page per 4 KiB (the read pages take a second fault each).
        web: write buf value=7
        expect web.minflt == 1280
        expect web.rssanon >= 4MiB

        # The heap: brk grows the [heap] VMA (merged with bss); pages come on first touch.
        web: brk +1MiB
        web: write heap value=1

        # fork: PTEs are copied write-protected. The child reads for free and copies on write.
        web: fork worker
        reset counters
        worker: read buf[0:64KiB]
        expect worker.minflt == 0
        worker: write buf[0:64KiB] value=9
        expect worker.minflt == 16
        worker: expect buf[8KiB] == 9
        web: expect buf[8KiB] == 7

        # After the child exits, the parent's pages have one user again: reused in place, not copied.
        worker: exit
        reset counters
        web: write buf[0:64KiB] value=8
        expect web.minflt == 16
        expect vmstat.pgreuse == 16

        # Protection: a write to a read-only mapping is a SIGSEGV (not counted as a fault).
        web: fork crasher
        crasher: mprotect buf r
        crasher: write buf[4KiB] expect segv
        expect crasher.killed == 11

        # The stack grows on demand within RLIMIT_STACK, one fault per page.
        reset counters
        web: write stack[7MiB:8MiB] stride=4KiB
        expect web.minflt == 256

        # Files through mmap. A cached file maps 16 pages per read fault (fault-around: 1000 pages,
        # 63 faults); a file not in memory costs one major fault, then readahead stays ahead of the reader.
        file /srv/index size=1000p cached
        file /srv/archive size=2000p
        web: mmap index 1000p file=/srv/index shared r
        reset counters
        web: read index
        expect web.minflt == 63
        web: mmap archive 2000p file=/srv/archive private r
        reset counters
        web: read archive
        expect web.majflt == 1
        expect /srv/archive:cached == 2000p

        # Shared memory: a SysV segment one process fills and another reads (the same frames).
        spawn db
        db: shm cache 1MiB key=42
        db: write cache value=42
        web: shm cache 1MiB key=42
        web: expect cache[512KiB] == 42
        expect meminfo.Shmem == 1MiB

        # Writeback: write(2) dirties page-cache pages; the flusher writes them once they are 30 s old.
        web: fwrite /srv/log[0:256KiB] value=5
        expect /srv/log:dirty == 256KiB
        tick 31s
        expect /srv/log:dirty == 0

        # Memory pressure: a batch job writes more anonymous memory than the machine has free.
        # Allocations fall below the low watermark and wake kswapd; it reclaims in batches of 32 —
        # clean page cache dropped, anonymous pages written to swap — and when it cannot keep up the
        # allocating task reclaims directly. Nothing is lost: the job reads its data back from swap.
        spawn batch
        batch: mmap work 256MiB anon private rw
        batch: write work value=5
        expect vmstat.pswpout > 0
        expect vmstat.pgsteal_kswapd > 0
        expect meminfo.SwapFree < 512MiB
        batch: expect work[0:64MiB] == 5
        expect batch.majflt > 0
        tick 1s

        translate web buf[8KiB] write
        # The reports in the kernel's own format. `vmsim run --show meminfo,buddyinfo,zoneinfo,slabinfo`
        # adds the system-wide ones at the end.
        show web maps
        show swaps

        """#
}
