import Foundation
import Testing

@testable import VMSimCLI

/// Every numeric flag of every subcommand, at the numbers that break unchecked arithmetic and
/// sizes — 0, 1, page − 1, page, 2^31, 2^32, 2^63 − 1, 2^63, 2^64 − 1, −1, sizes with every
/// unit — must end with exit 0, 1 or 2, within a time bound; an exit 2 says in one line what
/// was wrong, naming the flag (or, when the value made the input unreadable, the input's
/// `file:line:col`). Each command line is parsed in process first (flags are checked there,
/// before any work); one that parses runs as the built `vmsim`, out of process, so a trap or a
/// hang is seen, not suffered.
///
/// CI runs every boundary value of each flag on the command that owns it, and a rotating two
/// of them where an option group is shared (machine flags on `shell` and `replay --kernel`,
/// trace-reading flags on `compare` and `mrc`), and one of the four sizes that once allocated
/// by frame count for each policy (PolicySizingTests covers them all in process). `VMSIM_FUZZ=N` runs every value
/// everywhere plus N random combinations of several flags, for a longer local run.
@Suite struct FlagFuzzTests {
    static var longRun: Int? { ProcessInfo.processInfo.environment["VMSIM_FUZZ"].flatMap(Int.init) }

    /// Boundaries for integer and size flags.
    static let integers = [
        "0", "1", "4095", "4096", "2147483648", "4294967296", "9223372036854775807", "9223372036854775808",
        "18446744073709551615", "-1", "1TiB", "16EiB", "99999999999999999999999",
    ]
    /// Boundaries for fractional flags: the integers and what only a floating-point parser takes.
    static let reals = integers + ["0.5", "nan", "inf", "-inf", "1e400", "1e-300"]

    /// Each flag's documented limits and the numbers just past them, tried besides the boundaries.
    static let documentedLimits: [String: [String]] = [
        "memory": ["16MiB", "1TiB", "1025GiB"], "cpus": ["64", "65"],
        "watermark-scale-factor": ["3000", "3001"], "min-free-kbytes": ["1073741824", "1073741825"],
        "frames": ["1099511627776", "1099511627777", "100%", "0.0000001"],
        "page-size": ["16", "1073741824", "2147483648"], "points": ["10000", "10001"], "count": ["64", "65"],
        "phases": ["2147483648", "2147483649"], "pages": ["2147483649"], "length": ["1099511627777"],
        "csv-id-column": ["65536", "65537"], "csv-op-column": ["65536", "65537"],
        "shards": ["1", "1.0000001"],
        "alpha": ["100", "100.5"], "write-ratio": ["1", "1.0000001"], "entry-bytes": ["8", "9"],
        "physical-pages": ["65536", "65537"], "address-bits": ["32", "33"],
    ]

    /// One flag of one command: the command line without the flag, and how a value is written.
    struct Flag: Sendable {
        var base: [String]
        var name: String
        var values: [String]
        /// The value as the flag takes it (`Normal=V` for --zones).
        var spell: @Sendable (String) -> String = { $0 }
        /// In CI, only this many of the values, rotating (an option group or a size that is
        /// covered elsewhere); nil: all of them.
        var sampled: Int? = nil
        /// Standard input (shell).
        var input: String?

        func arguments(_ value: String) -> [String] { self.base + ["--\(self.name)", self.spell(value)] }
    }

    /// Files the commands read, made once.
    struct Fixtures: Sendable {
        let dir: String
        var scenario: String { self.dir + "/s.vmsim" }
        var txt: String { self.dir + "/t.txt" }
        var csv: String { self.dir + "/t.csv" }
        var lackey: String { self.dir + "/t.lackey" }
    }

    static let fixtures: Fixtures = {
        let dir = temporaryDirectory().path
        let f = Fixtures(dir: dir)
        var rng = SplitMix(seed: 11)
        var txt = ""
        var csv = "time,id,size,op\n"
        var lackey = "==1== Lackey\n"
        for i in 0..<300 {
            let page = rng.next() % 40
            txt += "\(page)\n"
            csv += "\(i),\(page),4096,\(rng.next() % 3 == 0 ? "write" : "read")\n"
            lackey +=
                "\(rng.next() % 3 == 0 ? " S" : " L") \(String(0x40_0000 + page * 4096 + 8, radix: 16)),8\n"
        }
        lackey += " L 7ffffffff000,8\n L fffffffffffff000,8\n"
        try? txt.write(toFile: f.txt, atomically: true, encoding: .utf8)
        try? csv.write(toFile: f.csv, atomically: true, encoding: .utf8)
        try? lackey.write(toFile: f.lackey, atomically: true, encoding: .utf8)
        try? "spawn a\nshow a status | a maps\n".write(toFile: f.scenario, atomically: true, encoding: .utf8)
        return f
    }()

    /// Every (command, numeric flag) pair.
    static var flags: [Flag] {
        let f = Self.fixtures
        let i = Self.integers
        let r = Self.reals
        func machine(_ base: [String], sampled: Int?, input: String? = nil) -> [Flag] {
            ["memory", "min-free-kbytes", "watermark-scale-factor", "kernel-image", "cpus", "swap"].map {
                Flag(base: base, name: $0, values: i, sampled: sampled, input: input)
            } + [
                Flag(
                    base: base, name: "zones", values: i, spell: { "DMA=3840,Normal=\($0)" },
                    sampled: sampled,
                    input: input),
                Flag(
                    base: base, name: "lowmem-reserve-ratio", values: i, spell: { "256,256,\($0),0,0" },
                    sampled: sampled, input: input),
            ]
        }
        func reading(_ base: [String], _ csvBase: [String], sampled: Int?) -> [Flag] {
            [
                Flag(base: base, name: "page-size", values: i, sampled: sampled),
                Flag(base: csvBase, name: "csv-id-column", values: i, sampled: sampled),
                Flag(base: csvBase, name: "csv-op-column", values: i, sampled: sampled),
            ]
        }
        let teaching = ["translate", "--address-bits", "15", "--page-size", "32", "--level-bits", "5,5"]
        let policies = [
            "fifo", "lru", "mru", "lfu", "clock", "clock2", "second-chance", "arc", "twoq", "lirs",
            "clockpro",
            "s3fifo", "sieve", "opt", "random", "linux", "mglru",
        ]
        var flags: [Flag] = machine(["run", f.scenario], sampled: nil)
        flags += machine(["shell"], sampled: 2, input: "spawn a\nshow a status\nquit\n")
        flags += [
            Flag(base: ["translate"], name: "seed", values: i),
            Flag(base: ["translate"], name: "count", values: i),
            Flag(
                base: ["translate", "--page-size", "32", "--level-bits", "5,5"], name: "address-bits",
                values: i),
            Flag(
                base: ["translate", "--address-bits", "15", "--level-bits", "5,5"], name: "page-size",
                values: i),
            Flag(
                base: ["translate", "--address-bits", "15", "--page-size", "32"], name: "level-bits",
                values: i,
                spell: { "5,\($0)" }),
            Flag(base: teaching, name: "entry-bytes", values: i),
            Flag(base: teaching, name: "physical-pages", values: i),
        ]
        // Policy mode: --frames for every policy at the sizes that once allocated by frames.
        flags.append(Flag(base: ["replay", f.txt], name: "frames", values: i))
        for p in policies {
            flags.append(
                Flag(
                    base: ["replay", f.txt, "--policy", p], name: "frames",
                    values: ["4294967296", "1099511627776", "2147483648", "9223372036854775807"], sampled: 1))
        }
        flags.append(
            Flag(base: ["replay", f.txt, "--frames", "8", "--policy", "random"], name: "seed", values: i))
        flags += reading(
            ["replay", f.lackey, "--frames", "8"], ["replay", f.csv, "--frames", "8", "--format", "csv"],
            sampled: nil)
        // Kernel mode: the machine flags and the trace's page size (the lackey trace ends in the
        // last pages of user space and of the 64-bit space).
        flags += machine(["replay", f.lackey, "--kernel", "--memory", "32MiB"], sampled: 2).map {
            var flag = $0
            if flag.name == "memory" { flag.base.removeLast(2) }
            return flag
        }
        flags.append(
            Flag(base: ["replay", f.lackey, "--kernel", "--memory", "32MiB"], name: "page-size", values: i))
        flags += [
            Flag(base: ["compare", f.txt, "--policies", "lru,arc,lirs,opt"], name: "frames", values: i),
            Flag(base: ["compare", f.txt, "--policies", "random"], name: "seed", values: i),
        ]
        flags += reading(
            ["compare", f.lackey, "--policies", "lru"],
            ["compare", f.csv, "--policies", "lru", "--format", "csv"],
            sampled: 2)
        flags += [
            Flag(base: ["mrc", f.txt, "--policies", "fifo,opt"], name: "points", values: i),
            Flag(base: ["mrc", f.txt], name: "shards", values: r),
            Flag(base: ["mrc", f.txt, "--policies", "random"], name: "seed", values: i),
        ]
        flags += reading(["mrc", f.lackey], ["mrc", f.csv, "--format", "csv"], sampled: 2)
        // trace-gen: a valid huge --length or --pages writes to /dev/full, so it stops at the
        // first write (ENOSPC, exit 2) instead of generating for hours.
        func generator(_ pattern: String, _ name: String, _ values: [String], out: String = "/dev/null")
            -> Flag
        {
            var base = ["trace-gen", "--pattern", pattern, "-o", out]
            if name != "length" { base += ["--length", "64"] }
            if name != "pages" { base += ["--pages", "10"] }
            return Flag(base: base, name: name, values: values)
        }
        let small = i.filter { ($0 as NSString).integerValue <= 4096 && !$0.contains("i") }
        let large = i.filter { !small.contains($0) }
        flags += [
            generator("uniform", "length", small), generator("uniform", "length", large, out: "/dev/full"),
            generator("uniform", "pages", small), generator("uniform", "pages", large, out: "/dev/full"),
            generator("zipf", "alpha", r),
            generator("phases", "phases", i),
            generator("phases", "working-set", i),
            generator("uniform", "write-ratio", r),
            generator("uniform", "seed", i),
            Flag(
                base: [
                    "trace-gen", "--pattern", "loop", "--length", "64", "--pages", "10", "--format", "lackey",
                ],
                name: "page-size", values: i),
        ]
        return flags
    }

    /// How one run ended.
    struct Ending {
        var status: Int32
        var signalled: Bool
        var timedOut: Bool
        var stderr: String
    }

    /// Runs `vmsim` with `args` and `input` on standard input (none: /dev/null), killing it after
    /// `seconds`.
    static func run(_ args: [String], input: String?, seconds: Double) throws -> Ending {
        let process = Process()
        process.executableURL = vmsimExecutable
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: Self.fixtures.dir)
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let timedOut = ManagedFlag()
        let watchdog = DispatchWorkItem {
            timedOut.set()
            process.terminate()
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return Ending(
            status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
            timedOut: timedOut.value, stderr: String(decoding: data, as: UTF8.self))
    }

    /// Whether a refusal's one-line message names one of `flags` (as `--flag`, or in words: "the
    /// kernel image"), a place (`file:line:col`) or a file of the command line.
    static func namesTheCause(_ message: String, flags: [String], args: [String]) -> Bool {
        flags.contains {
            message.contains("--\($0)") || message.contains("'\($0)'")
                || message.contains($0.replacingOccurrences(of: "-", with: " "))  // "the kernel image"
        }
            || message.range(of: #":[0-9]+:[0-9]+: "#, options: .regularExpression) != nil
            || args.contains { $0.hasPrefix("/") && message.hasPrefix("vmsim: \($0): ") }
    }

    /// Parses one command line in process and, if the flags pass, runs it out of process;
    /// records an issue unless it ended with 0, 1 or 2 in time, with a one-line message naming
    /// the cause on exit 2. Returns whether it ran.
    @discardableResult
    static func check(_ args: [String], flags: [String], input: String?) -> Bool {
        let label = "vmsim " + args.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        do {
            _ = try VMSimCommand.parseAsRoot(args)
        } catch {
            let (message, status) = VMSimCommand.report(for: error)
            #expect(status == 2, "\(label): status \(status): \(message)")
            #expect(message.hasPrefix("vmsim: ") && !message.contains("\n"), "\(label): \(message)")
            #expect(
                Self.namesTheCause(message, flags: flags, args: args),
                "\(label): the message names neither the flag nor a place: \(message)")
            return false
        }
        let ending: Ending
        let start = Date()
        defer {
            if ProcessInfo.processInfo.environment["VMSIM_FUZZ_TIMES"] != nil {
                print(String(format: "%.3f s  ", Date().timeIntervalSince(start)) + label)
            }
        }
        do { ending = try Self.run(args, input: input, seconds: 120) } catch {
            Issue.record("\(label): cannot run: \(error)")
            return true
        }
        let tail = String(ending.stderr.suffix(600))
        if ending.timedOut {
            Issue.record("\(label): still running after 120 s\n\(tail)")
        } else if ending.signalled || !(0...2).contains(ending.status) {
            Issue.record(
                "\(label): \(ending.signalled ? "killed by signal" : "exit") \(ending.status)\n\(tail)")
        } else if ending.status == 2 {
            let message = ending.stderr.hasSuffix("\n") ? String(ending.stderr.dropLast()) : ending.stderr
            #expect(message.hasPrefix("vmsim: ") && !message.contains("\n"), "\(label): \(tail)")
            #expect(
                Self.namesTheCause(message, flags: flags, args: args),
                "\(label): the message names neither the flag nor a place: \(message)")
        }
        return true
    }

    /// The command lines of one CI (or long) run: each flag at its values.
    static func cases(long: Bool) -> [(args: [String], flags: [String], input: String?)] {
        var cases: [(args: [String], flags: [String], input: String?)] = []
        for (k, flag) in Self.flags.enumerated() {
            var values = flag.values
            if let n = flag.sampled, !long {
                values = (0..<n).map { flag.values[(k * n + $0) % flag.values.count] }
            } else if flag.values.count > 4 {
                // Not for the four large sizes --frames gets per policy.
                values += Self.documentedLimits[flag.name] ?? []
            }
            for v in values { cases.append((flag.arguments(v), [flag.name], flag.input)) }
        }
        return cases
    }

    /// Checks `cases` two at a time (the test machine's cores; a case that parses is a
    /// process); returns how many ran out of process.
    @discardableResult
    static func runAll(_ cases: [(args: [String], flags: [String], input: String?)]) -> Int {
        let ran = Counter()
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            for c in stride(from: worker, to: cases.count, by: 2)
            where Self.check(cases[c].args, flags: cases[c].flags, input: cases[c].input) {
                ran.add()
            }
        }
        return ran.value
    }

    @Test func everyNumericFlagAtEveryBoundaryEndsCleanly() {
        let cases = Self.cases(long: Self.longRun != nil)
        let ran = Self.runAll(cases)
        // The valid values do run: the boundaries are not all refused at parse time.
        #expect(ran * 5 >= cases.count, "\(ran) of \(cases.count) ran")
        print("FlagFuzzTests: \(cases.count) command lines, \(ran) ran out of process")
    }

    /// Long run only: several flags of one command at boundary values at once.
    @Test(.enabled(if: FlagFuzzTests.longRun != nil))
    func combinationsOfBoundaryFlagsEndCleanly() {
        var rng = SplitMix(seed: 2026)
        let flags = Self.flags
        var cases: [(args: [String], flags: [String], input: String?)] = []
        for _ in 0..<(Self.longRun ?? 0) {
            let first = flags[Int(rng.next() % UInt64(flags.count))]
            var args = first.arguments(first.values[Int(rng.next() % UInt64(first.values.count))])
            var names = [first.name]
            // More flags of the same command (same base), each at a boundary.
            let siblings = flags.filter { $0.base == first.base && $0.name != first.name }
            for _ in 0..<Int(rng.next() % 3) where !siblings.isEmpty {
                let s = siblings[Int(rng.next() % UInt64(siblings.count))]
                guard !names.contains(s.name) else { continue }
                args += ["--\(s.name)", s.spell(s.values[Int(rng.next() % UInt64(s.values.count))])]
                names.append(s.name)
            }
            cases.append((args, names, first.input))
        }
        let ran = Self.runAll(cases)
        print("FlagFuzzTests: \(cases.count) combinations, \(ran) ran out of process")
    }
}

/// A count several threads add to.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { self.lock.withLock { self.n += 1 } }
    var value: Int { self.lock.withLock { self.n } }
}

/// A flag one thread sets and another reads.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var isSet = false
    func set() { self.lock.withLock { self.isSet = true } }
    var value: Bool { self.lock.withLock { self.isSet } }
}

/// SplitMix64: a seeded generator for the test's choices (the CLI tests do not link VMTypes).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The documented maximums together, in process: a machine at every upper limit boots, runs and
/// prints its reports (`--cpus 64` once overflowed `Cpus_allowed` in /proc/PID/status).
@Suite struct DocumentedLimitTests {
    @Test func aMachineAtEveryDocumentedMaximumRuns() {
        let file = scenarioFile("spawn a\na: mmap buf 1MiB anon\na: write buf value=7\nshow a status\n")
        let (text, status) = runCommand([
            file, "--memory", "1TiB", "--cpus", "64", "--watermark-scale-factor", "3000", "--swap", "1TiB",
            "--show", "meminfo,swaps",
        ])
        #expect(status == 0, "\(text)")
        #expect(text.contains("Cpus_allowed:\tffffffff,ffffffff\nCpus_allowed_list:\t0-63\n"))
        let odd = runCommand([file, "--cpus", "33"])
        #expect(odd.text.contains("Cpus_allowed:\t1,ffffffff\n"))
        #expect(runCommand([file, "--cpus", "2"]).text.contains("Cpus_allowed:\t3\n"))
    }
}
