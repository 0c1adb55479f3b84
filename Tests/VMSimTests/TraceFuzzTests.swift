import Foundation
import Testing
import VMCore
import VMPhys
import VMTrace
import VMTypes

@testable import VMSim

/// Hostile traces and maps files must end cleanly: every reader either reads the input or stops
/// with an error naming `file:line:column` — never a trap, a hang or an allocation the input's
/// size does not justify — and what a reader accepts replays (policy mode and kernel mode) to
/// an outcome. Inputs are byte-level mutations of valid traces in every format the readers take
/// (lackey, text, txt, csv, din, oracleGeneral) and of `/proc/PID/maps` files. Deterministic
/// (fixed seeds); `VMSIM_FUZZ=N` runs N inputs per test instead of the CI count, for a longer
/// local run.
@Suite struct TraceFuzzTests {
    /// Inputs per test in CI.
    static var count: Int {
        ProcessInfo.processInfo.environment["VMSIM_FUZZ"].flatMap(Int.init) ?? 240
    }

    /// Valid traces, one or more per format, that the mutations start from.
    static let seeds: [(name: String, format: TraceFormat, bytes: [UInt8])] = {
        var seeds: [(String, TraceFormat, [UInt8])] = [
            (
                "t.lackey", .lackey,
                Array(
                    """
                    ==12345== Lackey, an example Valgrind tool
                    I  0400d7d4,8
                     L 1ffefffb80,8
                     S 1ffefffb88,8
                     M 0421f0c8,4
                    I  0400d7d8,3
                     L 7ffffffff000,8
                     S 00001000,4096
                    ==12345== exit

                    """.utf8)
            ),
            ("t.text", .text, Array("0x1000 R\n0x2000 W\n0x7ffffffff000 r\n# comment\n\n0x3fff w\n".utf8)),
            ("h.text", .text, Array("deadbeef\n1000 W\nabc R\n".utf8)),
            ("d.text", .text, Array("4096\n8192 W\n12288 R\n".utf8)),
            ("t.txt", .txt, Array("1\n2\n3\n1\n900000000000\nobject-a\n007\n\n2\n".utf8)),
            ("t.csv", .csv, Array("time,id,size,op\n0,17,4096,read\n1,18,4096,write\n2,0x11,64,w\n".utf8)),
            ("n.csv", .csv, Array("5,1\n6,2\n\"7\",3\n".utf8)),
            ("tab.csv", .csv, Array("id\top\n1\tr\n2\tw\n".utf8)),
            ("t.din", .din, Array("0 1000\n1 0x2000\n2 400000 extra\n3 0\n4 0\n0 7ffffffff000\n".utf8)),
        ]
        // Generated traces, so the seeds also hold what vmsim writes itself.
        for format in [TraceFormat.lackey, .text, .txt, .csv, .din, .oracleGeneral] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "vmsim-fuzz-seed-\(UUID().uuidString).\(format.rawValue)"
            ).path
            var spec = TraceSpec(pattern: .zipf, length: 48, pages: 20)
            spec.writeRatio = 0.3
            spec.seed = 7
            try? generateTrace(spec, format: format, path: path)
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: path))).map { Array($0) } ?? []
            try? FileManager.default.removeItem(atPath: path)
            seeds.append(("gen.\(format.rawValue)", format, bytes))
        }
        return seeds
    }()

    /// Reads one input to the end with `options`: nil if it was read, else the error, which must
    /// name the input, a line and a column.
    @discardableResult
    static func read(
        _ bytes: [UInt8], name: String, options: TraceOptions, label: String
    ) -> (trace: DenseTrace?, error: TraceError?) {
        do {
            let reader = try openTrace(bytes: bytes, name: name, options: options)
            let trace = try DenseTrace(reader: reader)
            let stats = trace.stats
            #expect(stats.bad <= stats.lines && stats.firstBad.count <= min(stats.bad, 5), "\(label)")
            for e in stats.firstBad {
                #expect(e.file == name && e.line >= 1 && e.column >= 1, "\(label): \(e)")
            }
            return (trace, nil)
        } catch let error as TraceError {
            #expect(error.file == name, "\(label): \(error)")
            if error.line == 0 {
                // About the file as a whole (binary where text was expected, or a --format the
                // content contradicts): it names the file.
                #expect(error.column == 0 && error.description.hasPrefix("\(name): "), "\(label): \(error)")
            } else {
                #expect(error.column >= 1, "\(label): \(error)")
                #expect(error.description.hasPrefix("\(name):\(error.line):\(error.column): "), "\(label)")
            }
            return (nil, error)
        } catch {
            Issue.record("\(label): not a TraceError: \(error)")
            return (nil, nil)
        }
    }

    /// A machine for kernel-mode replays: small, so a fuzz run boots many.
    static func smallKernel() throws -> Kernel {
        var config = MachineConfig()
        config.memory = 32 << 20
        config.swap = 8 << 20
        return try Kernel(config: config)
    }

    /// Replays a trace that was read, in policy mode and (every `kernelEvery`th input) in kernel
    /// mode, with the kernel's invariants checked afterwards.
    static func replay(_ trace: DenseTrace, pageShift: Int, label: String, kernel: Bool) {
        for policy in [PolicyKind.lru, .arc, .opt] {
            let counts = simulate(policy, frames: 3, trace: trace)
            #expect(counts.accesses == trace.count && counts.hits <= counts.accesses, "\(label) \(policy)")
        }
        guard kernel else { return }
        do {
            let k = try Self.smallKernel()
            let result = try KernelReplay.run(kernel: k, trace: trace, traceShift: pageShift, maps: nil)
            #expect(result.performed <= result.accesses, "\(label)")
            let problems = k.checkInvariants(deep: false)
            #expect(problems.isEmpty, "\(label): invariants broken after the replay: \(problems.prefix(3))")
        } catch let error as TraceError {
            // Setting the process up may be refused (an area the kernel cannot map): said so.
            #expect(!error.message.isEmpty, "\(label)")
        } catch {
            Issue.record("\(label): \(error)")
        }
    }

    @Test func mutatedTracesOfEveryFormatReadOrFailWithTheirPlace() {
        let seeds = Self.seeds
        var read = 0
        var failed = 0
        for round in 0..<Self.count {
            let seed = seeds[round % seeds.count]
            var mutator = TraceMutator(seed: UInt64(round))
            let bytes = mutator.mutate(
                seed.bytes, count: 1 + round % 5, binary: seed.format == .oracleGeneral)
            let label = "\(seed.name) mutation \(round)"
            var options = TraceOptions()
            options.format = seed.format
            options.pageSize = [4096, 16, 1 << 21][round % 3]
            // Its own format, then detected from the content, then skipping what is malformed.
            let own = Self.read(bytes, name: seed.name, options: options, label: label)
            if let trace = own.trace {
                read += 1
                Self.replay(
                    trace, pageShift: options.pageSize.trailingZeroBitCount, label: label,
                    kernel: round % 6 == 0)
            } else {
                failed += 1
            }
            var detected = TraceOptions()
            detected.pageNumbers = round % 2 == 0
            Self.read(bytes, name: seed.name, options: detected, label: label + " (detected)")
            options.skipBad = true
            if let trace = Self.read(bytes, name: seed.name, options: options, label: label + " (skip-bad)")
                .trace,
                round % 6 == 3
            {
                Self.replay(
                    trace, pageShift: options.pageSize.trailingZeroBitCount, label: label + " (skip-bad)",
                    kernel: true)
            }
        }
        // Both outcomes occur, so the mutations neither leave the traces intact nor destroy them.
        #expect(read > 0 && failed > 0, "\(read) read, \(failed) refused")
    }

    @Test func aLineLongerThanTheReadChunkIsRefusedNotHeld() throws {
        // 3 MiB without a newline, from a file (the reader's chunks are 1 MiB).
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vmsim-long-\(UUID().uuidString).text"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = Array("0x1000\n".utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "1"), count: 3 << 20)
        bytes += Array("\n0x2000\n".utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        var options = TraceOptions()
        options.format = .text
        #expect(
            throws: TraceError(
                file: path, line: 2, column: 1, message: "line longer than 1 MiB (is this a trace?)")
        ) {
            _ = try DenseTrace(reader: try openTrace(path, options: options))
        }
        options.skipBad = true
        let trace = try DenseTrace(reader: try openTrace(path, options: options))
        #expect(trace.count == 2 && trace.stats.bad == 1 && trace.stats.lines == 3)
    }

    /// A maps file like one captured from a real process.
    static let mapsSeed = """
        00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon
        00651000-00652000 r--p 00051000 08:02 173521      /usr/bin/dbus-daemon
        00652000-00655000 rw-p 00052000 08:02 173521      /usr/bin/dbus-daemon
        00e03000-00e24000 rw-p 00000000 00:00 0           [heap]
        7f2c0d000000-7f2c0d021000 rw-s 00000000 00:00 0   /dev/shm/a name with spaces
        7ffcb2a70000-7ffcb2a91000 rw-p 00000000 00:00 0   [stack]
        7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0

        """

    @Test func mutatedMapsFilesParseAndMapOrFailWithTheirLine() throws {
        let trace = DenseTrace(
            name: "t", pages: [0x400, 0x652, 0xe03, 0x7f2c0d000, 0x7ffcb2a90, 0x7fffffffe, 0xfffffffffffff],
            writes: [false, true, true, true, true, true, false])
        var mapped = 0
        for round in 0..<max(8, Self.count / 3) {
            var mutator = TraceMutator(seed: 500_000 + UInt64(round))
            let bytes = mutator.mutate(Array(Self.mapsSeed.utf8), count: 1 + round % 4, binary: false)
            let label = "maps mutation \(round)"
            let text = String(decoding: bytes, as: UTF8.self)
            let maps: [MapsEntry]
            do {
                maps = try MapsEntry.parse(text, file: "fuzz.maps")
            } catch {
                #expect(
                    error.file == "fuzz.maps" && error.line >= 1 && error.column >= 1, "\(label): \(error)")
                continue
            }
            do {
                let kernel = try Self.smallKernel()
                let result = try KernelReplay.run(kernel: kernel, trace: trace, traceShift: 12, maps: maps)
                #expect(result.performed <= result.accesses, "\(label)")
                let problems = kernel.checkInvariants(deep: false)
                #expect(problems.isEmpty, "\(label): \(problems.prefix(3))")
                mapped += 1
            } catch let error as TraceError {
                // An entry that cannot be mapped is the maps file's error, at its line.
                #expect(
                    error.file == "fuzz.maps" && error.line >= 1 && error.column >= 1, "\(label): \(error)")
            } catch {
                Issue.record("\(label): \(error)")
            }
        }
        #expect(mapped > 0)
    }

    @Test func mapsEntriesThatCannotBeMappedAreRefusedAtTheirLine() throws {
        let trace = DenseTrace(name: "t", pages: [0x400])
        for (line, why) in [
            ("ffffffffffff0000-ffffffffffffffff rw-p 0 0:0 0", "not page-aligned"),
            ("7ffffffff000-800000000000 rw-p 0 0:0 0", "beyond the user address space"),
            ("0-1000 rw-p 0 0:0 0", "below mmap_min_addr"),
        ] {
            let maps = try MapsEntry.parse("00400000-00401000 r-xp 0 0:0 0\n" + line + "\n", file: "m.maps")
            let error = #expect(throws: TraceError.self) {
                _ = try KernelReplay.run(
                    kernel: try Self.smallKernel(), trace: trace, traceShift: 12, maps: maps)
            }
            #expect(error?.file == "m.maps" && error?.line == 2 && error?.column == 1)
            #expect(error?.message.contains(why) == true, "\(String(describing: error))")
        }
    }
}

/// Byte-level mutations for traces and maps files: bytes replaced, inserted and deleted; tokens
/// that break number parsing or arithmetic spliced in (all-ones addresses, 2^64, sizes that
/// span the address space, separators); lines duplicated, swapped and cut; the input truncated.
/// For binary input, whole little-endian words are overwritten with boundary values too.
struct TraceMutator {
    var rng: SeededGenerator

    init(seed: UInt64) { self.rng = SeededGenerator(seed: seed) }

    static let bytes: [UInt8] =
        Array("0123456789abcdefxX,:-= \t\r\n\"#ILSMRW".utf8) + [0x00, 0x1b, 0x7f, 0x80, 0xc3, 0xfe, 0xff]
    static let tokens: [String] = [
        "ffffffffffffffff", "fffffffffffff000", "0xffffffffffffffff", "18446744073709551615",
        "18446744073709551616", "9223372036854775808", "99999999999999999999999", "4294967296",
        "7ffffffff000", "800000000000", ",18446744073709551615", ",4096", ",0", " M ", "I  ", "==1== ",
        "0x", "-", "--", "\r\n", "\n\n", ",,,,", "\"", "1\t", "000000000000000000001",
    ]
    static let words: [UInt64] = [
        0, 1, 0xFFFF_FFFF, 1 << 32, UInt64(Int64.max), 1 << 63, .max, 0xFFFF_FFFF_FFFF_F000,
    ]

    mutating func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &self.rng)] }

    mutating func mutate(_ input: [UInt8], count: Int, binary: Bool) -> [UInt8] {
        var b = input
        for _ in 0..<count {
            if b.isEmpty { b = Array(self.pick(Self.tokens).utf8) }
            let i = Int.random(in: 0..<b.count, using: &self.rng)
            switch Int.random(in: 0..<(binary ? 9 : 8), using: &self.rng) {
            case 0: b[i] = self.pick(Self.bytes)
            case 1: b.insert(self.pick(Self.bytes), at: i)
            case 2: b.removeSubrange(i..<min(b.count, i + Int.random(in: 1...8, using: &self.rng)))
            case 3: b.insert(contentsOf: Array(self.pick(Self.tokens).utf8), at: i)
            case 4: b[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &self.rng))
            case 5:
                var lines = b.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(
                    Array.init)
                let a = Int.random(in: 0..<lines.count, using: &self.rng)
                if Int.random(in: 0..<2, using: &self.rng) == 0 {
                    lines.insert(lines[a], at: a)
                } else {
                    lines.swapAt(a, Int.random(in: 0..<lines.count, using: &self.rng))
                }
                b = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            case 6: b.removeLast(Int.random(in: 0...min(b.count, 30), using: &self.rng))
            case 7:
                // A stretch copied elsewhere (long lines, repeated records).
                let n = Int.random(in: 1...min(b.count - i, 64), using: &self.rng)
                let copy = Array(b[i..<(i + n)])
                b.insert(contentsOf: copy, at: Int.random(in: 0...b.count, using: &self.rng))
            default:
                // Binary: a little-endian word at a record's id, size or next field.
                let at = i - i % 4
                let word = self.pick(Self.words)
                for k in 0..<8 where at + k < b.count {
                    b[at + k] = UInt8(truncatingIfNeeded: word >> UInt64(8 * k))
                }
            }
        }
        return b
    }
}
