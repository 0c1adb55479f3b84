import Testing
import VMCore

@testable import VMSim

/// `NAME: on segv|sigbus continue|default`: a handler that returns past the faulting access (as
/// one ending in `siglongjmp` does), against what Linux 6.18.44 (x86_64) on this machine does:
/// tools/kernel-truth/signals.c, output in tools/kernel-truth/results/signals.txt (three runs,
/// identical). Its loops make one access per page over 4 pages whose third is bad, inside one
/// `sigsetjmp`, as a scenario line does.
@Suite struct SignalTests {
    /// signals.txt `loop_accerr_write`: minflt=2, SIGSEGV SEGV_ACCERR at page 2, pages 2 and 3 not
    /// present; `loop_accerr_write_again`: minflt=0, the same signal.
    @Test func aCaughtAccessErrorEndsTheLineAndTheProcessRunsOn() {
        expectScenario(
            """
            spawn p
            p: on segv continue
            p: mmap buf 16KiB
            p: mprotect buf[8KiB:12KiB] r
            reset counters
            p: write buf expect segv
            expect p.minflt == 2
            expect p.majflt == 0
            expect p.alive == 1
            expect p.signals[segv] == 1
            expect p.signals == 1
            expect p.si_signo == SIGSEGV
            expect p.si_code == SEGV_ACCERR
            expect p.si_addr == p.addr[buf[8KiB]]
            expect p.pagemap[buf].present == 1
            expect p.pagemap[buf[4KiB]].present == 1
            expect p.pagemap[buf[8KiB]].present == 0
            expect p.pagemap[buf[12KiB]].present == 0
            reset counters
            p: write buf expect segv
            expect p.minflt == 0
            expect p.signals[segv] == 2
            expect p.si_code == SEGV_ACCERR
            expect p.pagemap[buf[12KiB]].present == 0
            """)
    }

    /// signals.txt `loop_maperr_read`: minflt=2 (two zero-page reads), SEGV_MAPERR at page 2,
    /// page 3 never read; `each_maperr_read`/`_write`: 0 faults each.
    @Test func aCaughtMapErrorCountsNoFault() {
        expectScenario(
            """
            spawn p
            p: on segv continue
            p: mmap buf 16KiB
            p: munmap buf[8KiB:12KiB]
            reset counters
            p: read buf expect segv
            expect p.minflt == 2
            expect p.si_code == SEGV_MAPERR
            expect p.si_addr == p.addr[buf[8KiB]]
            expect p.pagemap[buf[12KiB]].present == 0
            reset counters
            p: read buf[8KiB] expect segv
            p: write buf[8KiB] expect segv
            expect p.minflt == 0
            expect p.signals[segv] == 3
            expect p.signals[sigbus] == 0
            """)
    }

    /// signals.txt `loop_sigbus_read`: a 2-page cached file mapped 4 pages shared, read: minflt=1
    /// (fault-around maps both pages), SIGBUS BUS_ADRERR at page 2; `loop_sigbus_write`:
    /// minflt=2 (the read-only PTEs fault for write); `each_sigbus_*`: 0 faults.
    @Test func aCaughtSIGBUSBeyondTheEndOfTheFileCountsNoFault() {
        expectScenario(
            """
            file /f size=8KiB cached
            spawn p
            p: on sigbus continue
            p: mmap fm 16KiB file=/f shared rw
            reset counters
            p: read fm expect sigbus
            expect p.minflt == 1
            expect p.majflt == 0
            expect p.signals[sigbus] == 1
            expect p.si_signo == SIGBUS
            expect p.si_code == BUS_ADRERR
            expect p.si_addr == p.addr[fm[8KiB]]
            expect p.pagemap[fm[4KiB]].present == 1
            expect p.pagemap[fm[8KiB]].present == 0
            reset counters
            p: write fm expect sigbus
            expect p.minflt == 2
            reset counters
            p: read fm[8KiB] expect sigbus
            p: write fm[12KiB] expect sigbus
            expect p.minflt == 0
            expect p.signals[sigbus] == 4
            expect p.si_addr == p.addr[fm[12KiB]]
            """)
    }

    /// signals.txt `repeat`: five bad accesses to PROT_NONE, 0 faults, five caught, SEGV_ACCERR;
    /// then a good write: 1 fault, the process alive.
    @Test func fiveBadAccessesInARowThenAGoodOne() {
        expectScenario(
            """
            spawn p
            p: on segv continue
            p: mmap r 8KiB
            p: mprotect r[0:4KiB] none
            reset counters
            p: read r[0] expect segv
            p: read r[0] expect segv
            p: read r[0] expect segv
            p: read r[0] expect segv
            p: read r[0] expect segv
            expect p.minflt == 0
            expect p.signals[segv] == 5
            expect p.si_code == SEGV_ACCERR
            p: write r[4KiB] value=9
            expect p.minflt == 1
            p: expect r[4KiB] == 9
            expect p.alive == 1
            """)
    }

    /// signals.txt `sigcgt`: 0 before, 0x440 (bits 10 and 6) after both handlers; a forked
    /// child has them too (`fork_child.sigcgt`) and catches its own SIGSEGV (`fork_child.caught=1`,
    /// 0 faults).
    @Test func handlersShowInSigCgtAndAreInheritedAtFork() {
        let (runner, output) = runScenario(
            """
            spawn p
            show p status
            p: on segv continue
            p: on sigbus continue
            show p status
            p: fork c
            show c status
            reset counters
            c: read 0x10000 expect segv
            expect c.minflt == 0
            expect c.alive == 1
            expect c.signals[segv] == 1
            expect p.signals[segv] == 0
            expect c.si_code == SEGV_MAPERR
            """)
        #expect(runner?.expectationsFailed == 0, "\(output)")
        #expect(runner?.expectationsPassed == 6)
        let masks = output.split(separator: "\n").filter { $0.hasPrefix("SigCgt:") }
        #expect(
            masks == ["SigCgt:\t0000000000000000", "SigCgt:\t0000000000000440", "SigCgt:\t0000000000000440"])
    }

    /// show_signal_msg() (arch/x86/mm/fault.c) returns when the signal is handled: signals.txt
    /// `dmesg.caught_segfault_lines=0`, `dmesg.uncaught_segfault_lines=1`.
    @Test func onlyAnUncaughtSegfaultIsLogged() {
        let (runner, output) = runScenario(
            """
            spawn p
            p: on segv continue
            p: read 0x10000 expect segv
            show dmesg
            p: on segv default
            p: read 0x10000 expect segv
            expect p.killed == 11
            show dmesg
            """)
        #expect(runner?.expectationsFailed == 0, "\(output)")
        let parts = output.components(separatedBy: "==> /proc/dmesg <==")
        #expect(parts.count == 3)
        guard parts.count == 3 else { return }
        #expect(!parts[1].contains("segfault at 10000"), "\(parts[1])")
        #expect(parts[2].contains("segfault at 10000"), "\(parts[2])")
    }

    /// A handler for one signal does not catch the other; without a handler the line still kills.
    @Test func aHandlerCatchesOnlyItsSignal() {
        expectScenario(
            """
            file /f size=4KiB cached
            spawn p
            p: on segv continue
            p: mmap fm 8KiB file=/f shared r
            p: read fm[4KiB] expect sigbus
            expect p.killed == 7
            expect p.signals == 0
            """)
    }

    /// The narration and the event stream say the signal was caught.
    @Test func theNarrationAndTheEventsSayTheSignalWasCaught() throws {
        let (output, events) = try traced(
            """
            spawn p
            p: on segv continue
            p: read 0x10000
            expect p.alive == 1
            """)
        #expect(output.contains { $0.contains("SIGSEGV at 0x10000") && $0.contains("caught by the handler") })
        let signal = try #require(events.first { $0.contains("\"type\":\"signal\"") })
        #expect(signal.contains("\"caught\":true"), "\(signal)")
        #expect(signal.contains("\"code\":\"SEGV_MAPERR\""), "\(signal)")
    }

    /// An `expect segv` whose access succeeds, or raises the other signal, fails even with a handler.
    @Test func anExpectedSignalThatDoesNotComeFails() {
        let (runner, _) = runScenario(
            """
            file /f size=4KiB cached
            spawn p
            p: on segv continue
            p: on sigbus continue
            p: mmap buf 4KiB
            p: write buf expect segv
            p: mmap fm 8KiB file=/f shared r
            p: read fm[4KiB] expect segv
            expect p.alive == 1
            """)
        #expect(runner?.expectationsFailed == 2)
        #expect(runner?.expectationsPassed == 1)
    }

    @Test(arguments: [
        ("spawn p\np: on segv", "s.vmsim:2:11: expected 'continue' or 'default'"),
        ("spawn p\np: on kill continue", "s.vmsim:2:7: SIGKILL cannot be caught"),
        ("spawn p\np: on sigpipe continue", "s.vmsim:2:7: unknown signal 'sigpipe'"),
        ("spawn p\np: on segv ignore", "s.vmsim:2:12: expected 'continue'"),
        ("spawn p\np: on segv continue now", "s.vmsim:2:21: unexpected 'now'"),
        ("on segv continue", "s.vmsim:1:1: unknown command 'on'"),
        ("spawn p\nexpect p.signals[kill] == 1", "s.vmsim:2:10: unknown field 'signals[kill]'"),
        ("spawn p\nexpect p.si_code == SEGV_WHATEVER", "s.vmsim:2:21: expected PROCESS.FIELD"),
    ])
    func malformedSignalLinesAreErrors(text: String, prefix: String) {
        let message = parseError(text)
        #expect(message.hasPrefix(prefix), "\(message)")
    }

    /// A process that catches the signal stays in the static picture: later lines may use it.
    @Test func aCaughtSignalLeavesTheProcessInTheStaticPicture() {
        #expect(
            parseError("spawn p\np: on segv continue\np: read 0x10000 expect segv\np: read text")
                == "no error")
        #expect(parseError("spawn p\np: read 0x10000 expect segv\np: read text").hasPrefix("s.vmsim:3:1:"))
        #expect(
            parseError(
                "spawn p\np: on segv continue\np: on segv default\np: read 0x10000 expect segv\np: read text"
            )
            .hasPrefix("s.vmsim:5:1:"))
        #expect(
            parseError("spawn p\np: on segv continue\np: fork c\nc: read 0x10000 expect segv\nc: read text")
                == "no error")
    }
}
