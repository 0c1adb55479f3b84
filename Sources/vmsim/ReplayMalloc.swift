import ArgumentParser
import Glibc
import VMCore
import VMLibc
import VMPhys
import VMSim

/// `vmsim replay-malloc TRACE`: a real program's allocation calls through the C library's
/// allocator model — in a simulated process of the kernel (the default), or with `--no-kernel`
/// over a bare in-memory address space.
struct ReplayMalloc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-malloc",
        abstract:
            "Replay a program's malloc/free trace through glibc's allocator inside a simulated process.",
        discussion: """
            TRACE is a log of tools/malloc-trace/shim.c (LD_PRELOAD) or the output of \
            valgrind --trace-malloc=yes, plain or gzip/zstd-compressed (told by the magic number); '-' reads \
            standard input. \
            Every call runs through the model of glibc 2.36's malloc (or --allocator freelist:best …) in a \
            process of the simulated kernel: brk, mmap, munmap and madvise are its system calls and every \
            header the allocator writes is a real access, so faults and RSS follow. Prints the calls and \
            system calls, peak and final heap, RSS, faults, fragmentation, and for shim traces how closely \
            the model's heap size, mmap decisions and pointers follow the real process's.
            """)

    @Argument(help: "The allocation trace ('-' for standard input).")
    var trace: String

    @Option(help: "The trace's format: shim or valgrind (default: detected from the first lines).")
    var format: String?

    @Option(help: "The allocator: glibc, freelist:first, freelist:best, freelist:worst, freelist:next.")
    var allocator = "glibc"

    @Flag(help: "The program writes every byte it allocates (RSS then counts its data, not only headers).")
    var writeAllocations = false

    @Flag(
        inversion: .prefixedNo,
        help: "Run inside a process of the simulated kernel, or (--no-kernel) over a bare address space.")
    var kernel = true

    @OptionGroup var machine: MachineOptions

    @Option(help: "Write a timeline (CSV: call, heap, real_heap, mmapped, live, rss_pages) to this file.")
    var timeline: String?

    @Option(help: "Calls between timeline samples (1 … 1000000000).")
    var timelineEvery = 1000

    /// Checks the flags' values before any trace is read.
    func validate() throws {
        guard allocatorNames.contains(self.allocator) else {
            throw ValidationError(
                "--allocator: unknown allocator '\(self.allocator)' (expected \(allocatorNames.joined(separator: ", ")))"
            )
        }
        if let f = self.format, AllocationTraceFormat(rawValue: f) == nil {
            throw ValidationError("--format: unknown format '\(f)' (expected shim, valgrind)")
        }
        guard (1...1_000_000_000).contains(self.timelineEvery) else {
            throw ValidationError("--timeline-every: \(self.timelineEvery) is out of range (1 … 1000000000)")
        }
        if !self.kernel && !self.machine.settings.isEmpty {
            throw ValidationError("machine flags need a kernel (drop --no-kernel)")
        }
    }

    /// Replays every trace and prints the report.
    func run() throws {
        var options = MallocReplayOptions()
        options.allocator = self.allocator
        options.writeAllocations = self.writeAllocations
        options.timelineEvery = self.timeline == nil ? 0 : self.timelineEvery
        let reader: AllocationTraceReader
        do {
            reader = try AllocationTraceReader(
                path: self.trace, format: self.format.flatMap(AllocationTraceFormat.init))
        } catch {
            throw CLIError(message: error.description)
        }
        let report: MallocReplayReport
        var outcome: String?
        do {
            if self.kernel {
                var config = try self.machine.apply(to: MachineConfig())
                if self.machine.memory == nil && config.zoneSizes == nil { config.memory = 256 << 20 }
                let kernel = try bootKernel(config)
                let task: Task
                do { task = try kernel.spawn(name: "replay") } catch {
                    throw CLIError(message: "cannot start the replayed process: \(error)")
                }
                let system = KernelMallocSystem(kernel: kernel, task: task)
                report = try replayMallocTrace(reader, options: options, system: system)
                let pid = task.pid
                if let reason = task.exitReason {
                    outcome = "the replayed process [\(pid)] \(reason)"
                } else {
                    let page = kernel.phys.pageSize
                    outcome =
                        "process [\(pid)] in the simulated kernel: \(task.minorFaults) minor and \(task.majorFaults) "
                        + "major faults, RSS \(UInt64(task.mm?.rssPages ?? 0) * page / 1024) KiB, "
                        + "VmSize \(UInt64(task.mm?.totalVM ?? 0) * page / 1024) KiB"
                }
            } else {
                report = try replayMallocTrace(reader, options: options)
            }
        } catch let error as AllocationTraceError {
            throw CLIError(message: error.description)
        }
        print(report.text, terminator: "")
        if let outcome { print(outcome) }
        if let path = self.timeline {
            var csv = "call,heap,real_heap,mmapped,live,rss_pages\n"
            for p in report.timeline {
                csv +=
                    "\(p.call),\(p.heap),\(p.realHeap.map(String.init) ?? ""),\(p.mmapped),\(p.live),\(p.residentPages)\n"
            }
            guard writeWholeFile(path, csv) else {
                throw CLIError(message: "\(path): cannot write the timeline")
            }
        }
    }
}

/// Writes `text` to `path` (replacing it) through a temporary file and a rename, so a reader
/// never sees half a file.
func writeWholeFile(_ path: String, _ text: String) -> Bool {
    let temporary = path + ".tmp-\(getpid())"
    guard let f = fopen(temporary, "w") else { return false }
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
    guard fclose(f) == 0, written == bytes.count else {
        unlink(temporary)
        return false
    }
    return rename(temporary, path) == 0
}
