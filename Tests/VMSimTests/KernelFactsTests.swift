import Testing
import VMCore

@testable import VMSim

/// The fault counts of KERNEL-FACTS.md (measured with getrusage on Linux 6.18) for anonymous
/// memory, fork, protection and the stack, each as a scenario.
@Suite struct KernelFactsTests {
    @Test func firstReadMapsTheZeroPageThenTheFirstWriteFaultsAgain() {
        expectScenario(
            """
            spawn p
            p: mmap buf 100p anon private rw
            reset counters
            p: read buf
            expect p.minflt == 100
            expect p.rssanon == 4KiB
            p: write buf
            expect p.minflt == 200
            expect p.rssanon == 404KiB
            """)
    }

    @Test func firstWriteOfAnUntouchedPageIsOneFault() {
        expectScenario(
            """
            spawn p
            p: mmap buf 1000p anon private rw
            reset counters
            p: write buf
            expect p.minflt == 1000
            expect vmstat.pgfault == 1000
            expect vmstat.pgmajfault == 0
            """)
    }

    @Test func munmapOrDontneedThenTouchFaultsAgainAndFreesPageTables() {
        let runner = expectScenario(
            """
            spawn p
            expect p.vmpte == 12KiB
            p: mmap buf 512p anon private rw at=0x7f0000000000
            p: write buf value=5
            expect p.vmpte == 24KiB
            p: madvise buf dontneed
            expect p.vmpte == 20KiB
            reset counters
            p: expect buf[0:16KiB] == 0
            p: write buf value=6
            expect p.minflt == 516
            expect p.vmpte == 24KiB
            p: munmap buf
            expect p.vmpte == 12KiB
            p: mmap buf2 512p anon private rw at=0x7f0000000000
            reset counters
            p: write buf2 value=7
            expect p.minflt == 512
            """)
        #expect(runner != nil)
    }

    @Test func madvFreeWithoutPressureKeepsTheDataAndCostsNoFaults() {
        expectScenario(
            """
            spawn p
            p: mmap buf 64p anon private rw
            p: write buf value=42
            reset counters
            p: madvise buf free
            p: expect buf == 42
            expect p.minflt == 0
            expect vmstat.pglazyfree == 64
            """)
    }

    @Test func writeAfterMprotectReadIsSIGSEGVNotCountedAndRWComesBackWithoutFaults() {
        expectScenario(
            """
            spawn q
            q: mmap buf 16p anon private rw
            q: write buf value=1
            q: mprotect buf r
            reset counters
            q: write buf[0] expect segv
            expect q.minflt == 0
            expect vmstat.pgfault == 0
            spawn p
            p: mmap buf 16p anon private rw
            p: write buf value=1
            p: mprotect buf r
            p: mprotect buf rw
            reset counters
            p: write buf value=2
            expect p.minflt == 0
            """)
    }

    @Test func forkChildReadsForFreeAndCopiesOnWrite() {
        expectScenario(
            """
            spawn p
            p: mmap buf 200p anon private rw
            p: write buf value=3
            p: fork c
            reset counters
            c: read buf
            expect c.minflt == 0
            c: write buf value=4
            expect c.minflt == 200
            c: expect buf == 4
            p: expect buf == 3
            """)
    }

    @Test func afterTheChildExitsTheParentReusesItsFramesWithoutCopying() {
        expectScenario(
            """
            spawn p
            p: mmap buf 200p anon private rw
            p: write buf value=3
            p: fork c
            c: exit
            p: wait c
            reset counters
            p: write buf value=5
            expect p.minflt == 200
            expect vmstat.pgreuse == 200
            expect meminfo.AnonPages >= 800KiB
            """)
    }

    @Test func sharedMappingsAreNotCopiedAtForkAndReadsUseFaultAround() {
        expectScenario(
            """
            spawn p
            p: mmap shm 1000p anon shared rw at=0x7f0000000000
            reset counters
            p: write shm value=9
            expect p.minflt == 1000
            p: fork c
            reset counters
            c: read shm
            expect c.minflt == 63
            c: expect shm == 9
            """)
    }

    @Test func populateAndMlockPrefaultAndAreCounted() {
        expectScenario(
            """
            spawn p
            reset counters
            p: mmap a 100p anon private rw populate
            expect p.minflt == 100
            p: mmap b 50p anon private rw
            p: mlock b
            expect p.minflt == 150
            expect p.vmlck == 200KiB
            expect meminfo.Mlocked == 200KiB
            p: munlock b
            expect meminfo.Mlocked == 0
            """)
    }

    @Test func growingTheStackByKPagesCostsKFaults() {
        expectScenario(
            """
            spawn p
            reset counters
            p: write stack[6MiB:7MiB] stride=4KiB
            expect p.minflt == 256
            expect p.vmstk == 2MiB
            """)
    }

    @Test func collapseIsRejectedByName() {
        do {
            _ = try ScenarioParser.parse(
                "spawn p\np: mmap buf 4MiB anon private rw\np: madvise buf collapse\n", file: "t")
            Issue.record("MADV_COLLAPSE parsed")
        } catch {
            #expect(error.description == "t:3:16: MADV_COLLAPSE: khugepaged collapse is not modelled")
        }
    }
}
