import VMCore
import VMTypes

@testable import VMSim

/// Writes random scenarios from the language's grammar, for the fuzz tests: mostly lines a user
/// could mean (so runs get deep into the kernel), mixed with hostile ones — numbers at every
/// boundary, names of processes that exited or never existed, reversed and out-of-range ranges,
/// operations in odd orders (double munmap, write after munmap, fork of a killed process,
/// swapoff while in use, attaching a removed segment, truncating a mapped or swap file).
///
/// The generator keeps a rough picture of what exists (processes, regions, files, segments,
/// swap areas) only to make valid lines likely; it never needs to be right.
struct ScenarioFuzzer {
    var rng: SeededGenerator
    /// How often (0 … 1) a value is drawn from the hostile set rather than a sensible one.
    var hostility: Double
    /// Upper bound on sensible region sizes, so a fast CI run stays fast.
    var maxRegion: UInt64

    var live: [String] = []
    var dead: [String] = []
    var regions: [String: [String]] = [:]
    var files: [String] = []
    var swaps: [String] = []
    var keys: [Int] = []
    /// Memory cgroups declared so far (`/` always is).
    var cgroups: [String] = ["/"]
    var nextName = 0

    init(seed: UInt64, hostility: Double = 0.15, maxRegion: UInt64 = 8 << 20) {
        self.rng = SeededGenerator(seed: seed)
        self.hostility = hostility
        self.maxRegion = maxRegion
    }

    /// Numbers that break arithmetic that is not checked.
    static let boundaries: [String] = [
        "0", "1", "4095", "4096", "4097", "2147483648", "4294967296", "9223372036854775807",
        "9223372036854775808", "18446744073709551615", "18446744073709551616", "0xffffffffffffffff",
        "0xfffffffffffff000", "0x7fffffffffff", "0x800000000000", "0x10000", "-1", "1EiB", "16EiB", "1TiB",
        "99999999999999999999999", "0x", "1.5", "1e9", "",
    ]

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self.rng) < p }
    mutating func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &self.rng)] }
    var hostile: Bool { mutating get { self.chance(self.hostility) } }

    mutating func size() -> String {
        if self.hostile { return self.pick(Self.boundaries) }
        let pages = UInt64.random(in: 1...max(1, self.maxRegion >> 12), using: &self.rng)
        return self.pick([
            "\(pages)p", "\(pages * 4)KiB", "\(pages << 12)", "0x\(String(pages << 12, radix: 16))",
        ])
    }

    mutating func number() -> String {
        self.hostile ? self.pick(Self.boundaries) : String(Int.random(in: 0...300, using: &self.rng))
    }

    mutating func process() -> String {
        if self.live.isEmpty || self.chance(0.05) {
            return self.pick(self.dead.isEmpty ? ["ghost"] : self.dead + ["ghost"])
        }
        return self.pick(self.live)
    }

    /// A declared cgroup, now and then one that is not.
    mutating func cgroup() -> String {
        self.chance(0.05) ? self.pick(["/nope", "/", "bad", "/a//b"]) : self.pick(self.cgroups)
    }

    mutating func newName(_ prefix: String) -> String {
        self.nextName += 1
        return "\(prefix)\(self.nextName)"
    }

    mutating func ref(_ p: String) -> String {
        var names = (self.regions[p] ?? []) + ["text", "data", "bss", "heap", "stack"]
        if self.chance(0.05) { names.append("nowhere") }
        let base =
            self.chance(0.08)
            ? self.pick(["0x400000", "0x0", "0xfffffffffffff000", "0xffffffffffffffff", "0x7f0000000000"])
            : self.pick(names)
        switch Int.random(in: 0..<6, using: &self.rng) {
        case 0: return base + "[\(self.size())]"
        case 1: return base + "[\(self.offset()):\(self.offset())]"
        case 2: return base + "[\(self.offset()):]"
        case 3: return base + "[:\(self.offset())]"
        default: return base
        }
    }

    mutating func offset() -> String {
        self.hostile ? self.pick(Self.boundaries) : "\(Int.random(in: 0...16, using: &self.rng))KiB"
    }

    mutating func filePath() -> String {
        if self.files.isEmpty || self.chance(0.2) {
            let p = self.pick(["/f", "/data/db", "/d/e/f", "/big", "/swapfile", "/x"])
            return p
        }
        return self.pick(self.files)
    }

    mutating func fileRef() -> String {
        let p = self.filePath()
        switch Int.random(in: 0..<4, using: &self.rng) {
        case 0: return p + "[\(self.offset()):\(self.offset())]"
        case 1: return p + "[\(self.offset())]"
        case 2: return p + "[\(self.offset()):]"
        default: return p
        }
    }

    mutating func machine() -> String {
        var words = ["machine"]
        func value(_ sensible: [String], _ bogus: [String]) -> String {
            self.hostile ? self.pick(bogus + Self.boundaries) : self.pick(sensible)
        }
        words.append("memory=" + value(["16MiB", "32MiB", "48MiB", "64MiB"], ["1TiB", "15MiB"]))
        if self.chance(0.6) { words.append("swap=" + value(["8MiB", "32MiB", "64MiB"], ["1TiB", "16EiB"])) }
        if self.chance(0.3) { words.append("kswapd=" + value(["modern", "periodic"], ["bogus"])) }
        if self.chance(0.3) { words.append("disk=" + value(["hdd", "ssd", "nvme"], ["floppy"])) }
        if self.chance(0.2) {
            words.append("arch=" + value(["x86_64", "i386", "i386-pae", "x86_64-la57"], ["mips"]))
        }
        if self.chance(0.1) { words.append("cpus=" + value(["1", "2", "64"], ["65", "0"])) }
        return words.joined(separator: " ")
    }

    static let malloptNames = [
        "M_MMAP_THRESHOLD", "M_TRIM_THRESHOLD", "M_TOP_PAD", "M_MMAP_MAX", "M_ARENA_MAX",
    ]
    static let malloptValues = ["0", "1", "-1", "4096", "1MiB", "2147483647", "-2147483648"]

    /// One line of a scenario.
    mutating func line() -> String {
        let p = self.process()
        switch Int.random(in: 0..<47, using: &self.rng) {
        case 0, 1:
            let name = self.newName("p")
            self.live.append(name)
            var words = ["spawn", name]
            if self.chance(0.2) { words.append("cgroup=\(self.cgroup())") }
            if self.chance(0.3) { words.append("text=\(self.size())") }
            if self.chance(0.2) { words.append("data=\(self.size())") }
            if self.chance(0.2) { words.append("bss=\(self.size())") }
            return words.joined(separator: " ")
        case 2...6:
            let r =
                self.chance(0.05) && !(self.regions[p]?.isEmpty ?? true)
                ? self.pick(self.regions[p]!) : self.newName("r")
            self.regions[p, default: []].append(r)
            var words = ["\(p): mmap", r, self.size()]
            if self.chance(0.3) { words.append("file=\(self.filePath())") }
            if self.chance(0.4) { words.append(self.pick(["private", "shared"])) }
            if self.chance(0.4) { words.append(self.pick(["r", "rw", "rx", "rwx", "none"])) }
            if self.chance(0.1) {
                words.append(
                    "at=\(self.pick(["0x7f0000000000", "0x10000", "0xfffffffffffff000", "0x0", "0x400000"]))")
            }
            if self.chance(0.1) { words.append("populate") }
            if self.chance(0.05) { words.append("locked") }
            if self.chance(0.05) { words.append("noreserve") }
            if self.chance(0.05) { words.append("offset=\(self.offset())") }
            return words.joined(separator: " ")
        case 7...13:
            var words = ["\(p): \(self.pick(["read", "write", "write", "fetch"]))", self.ref(p)]
            if self.chance(0.3) { words.append("value=\(self.number())") }
            if self.chance(0.15) { words.append("stride=\(self.size())") }
            if self.chance(0.1) { words += ["expect", self.pick(["segv", "sigbus", "oom"])] }
            return words.joined(separator: " ")
        case 14: return "\(p): munmap \(self.ref(p))"
        case 15: return "\(p): mprotect \(self.ref(p)) \(self.pick(["r", "rw", "none", "rx", "rwx"]))"
        case 16:
            return "\(p): madvise \(self.ref(p)) \(self.pick(Advice.allCases.map(\.rawValue)))"
        case 17:
            if self.chance(0.3) {
                return
                    "\(p): on \(self.pick(["segv", "sigbus", "kill", "bus", "x"])) \(self.pick(["continue", "default", "ignore"]))"
            }
            return "\(p): \(self.pick(["mlock", "munlock"])) \(self.ref(p))"
        case 18: return "\(p): brk \(self.pick(["+", "-", "="]))\(self.size())"
        case 19:
            let child = self.newName("c")
            self.live.append(child)
            self.regions[child] = self.regions[p]
            return "\(p): fork \(child)"
        case 20:
            if let i = self.live.firstIndex(of: p) {
                self.live.remove(at: i)
                self.dead.append(p)
            }
            return "\(p): exit" + (self.chance(0.5) ? " \(self.number())" : "")
        case 21: return "\(p): wait" + (self.chance(0.5) ? " \(self.process())" : "")
        case 22:
            return "\(p): expect \(self.ref(p)) \(self.pick(["==", "!=", "<", ">="])) \(self.number())"
        case 23:
            if self.chance(0.3) {
                let q = self.process()
                let kind = self.pick(["smaps", "pagemap", "addr", "smaps"])
                let field =
                    kind == "smaps"
                    ? "." + self.pick(ProcFS.smapsFieldNames + ["Nope"])
                    : kind == "pagemap" ? "." + self.pick(ExpectCommand.pagemapFields) : ""
                let rhs = self.pick([
                    self.number(), "SEGV_ACCERR", "\(self.process()).pagemap[\(self.ref(q))].pfn",
                    "\(q).si_addr",
                ])
                return "expect \(q).\(kind)[\(self.ref(q))]\(field) \(self.pick(["==", "!=", ">"])) \(rhs)"
            }
            let field = self.pick(ExpectCommand.processFields)
            return "expect \(self.process()).\(field) \(self.pick(["==", "<=", ">", "!="])) \(self.number())"
        case 24:
            let path = self.filePath()
            self.files.append(path)
            return "file \(path) size=\(self.size())" + (self.chance(0.5) ? " cached" : "")
        case 25:
            return "\(p): \(self.pick(["fread", "fwrite"])) \(self.fileRef())"
                + (self.chance(0.3) ? " value=\(self.number())" : "")
        case 26: return "\(p): \(self.pick(["fsync", "close"])) \(self.filePath())"
        case 27: return "\(p): fadvise \(self.fileRef()) \(self.pick(FileAdvice.allCases.map(\.rawValue)))"
        case 28: return "\(p): msync \(self.ref(p))" + (self.chance(0.5) ? " async" : "")
        case 29:
            let key =
                self.chance(0.5) && !self.keys.isEmpty
                ? self.pick(self.keys) : Int.random(in: 0...5, using: &self.rng)
            self.keys.append(key)
            let r = self.newName("s")
            self.regions[p, default: []].append(r)
            return "\(p): shm \(r) \(self.size()) key=\(self.hostile ? self.number() : String(key))"
                + (self.chance(0.2) ? " r" : "")
        case 30:
            let r = self.regions[p].flatMap { $0.isEmpty ? nil : self.pick($0) } ?? "nothing"
            return "\(p): shmdt \(r)"
        case 31: return "shmrm key=\(self.keys.isEmpty ? self.number() : String(self.pick(self.keys)))"
        case 32:
            let path = self.pick(["/swapfile", "/swap2", "/dev/sdb"])
            self.swaps.append(path)
            return "swapon \(path) size=\(self.size())" + (self.chance(0.5) ? " file" : "")
                + (self.chance(0.2) ? " priority=\(self.number())" : "")
        case 33: return "swapoff \(self.swaps.isEmpty ? "/swapfile" : self.pick(self.swaps))"
        case 34: return "\(self.pick(["truncate", "unlink"])) \(self.filePath())" + " \(self.size())"
        case 35:
            return self.pick(["sync", "drop caches", "drop caches 2", "drop caches 3", "reset counters"])
        case 36: return "tick \(self.pick(["1ms", "5s", "30s", "100us", "0ns", "5000000000s", "soon"]))"
        case 37:
            return
                "sysctl \(self.pick(["vm.swappiness", "vm.dirty_ratio", "vm.page-cluster", "vm.max_map_count", "vm.drop_caches", "block.read_ahead_kb"]))=\(self.number())"
        case 40, 41:
            // The C library's allocator: new allocations, and frees/reallocs of old ones (freed
            // names come back as double frees).
            let known = self.regions[p] ?? []
            if !known.isEmpty && self.chance(0.5) {
                let name = self.pick(known)
                return self.chance(0.6) ? "\(p): free \(name)" : "\(p): realloc \(name) \(self.size())"
            }
            let name = self.newName("m")
            self.regions[p, default: []].append(name)
            switch Int.random(in: 0..<3, using: &self.rng) {
            case 0: return "\(p): calloc \(name) \(self.number()) \(self.size())"
            case 1:
                return "\(p): memalign \(name) \(self.pick(["16", "4096", "24", "0", "1GiB"])) \(self.size())"
            default: return "\(p): malloc \(name) \(self.size())"
            }
        case 42:
            return self.chance(0.5)
                ? "\(p): malloc_trim" + (self.chance(0.5) ? " \(self.size())" : "")
                : "\(p): mallopt \(self.pick(Self.malloptNames))=\(self.pick(Self.malloptValues))"
        case 43:
            let known = self.regions[p] ?? []
            let name = known.isEmpty ? "heap" : self.pick(known)
            return self.chance(0.5)
                ? "\(p): expect \(name).\(self.pick(["ptr", "size", "usable"])) % \(self.pick(["16", "4096", "0", "1"])) == 0"
                : "expect \(p).heap.\(self.pick(["size", "live", "mmapped", "top", "brk"])) >= 0"
        case 44:
            // A new cgroup (under a declared one, or a missing parent) or writes to one.
            let path: String
            if self.chance(0.4) {
                let parent = self.cgroup()
                path = (parent == "/" ? "" : parent) + "/" + self.newName("g")
                if self.chance(0.9) { self.cgroups.append(path) }
            } else {
                path = self.cgroup()
            }
            var words = ["cgroup", path]
            let files = MemcgSetting.allCases.map(\.rawValue) + ["memory.bogus"]
            for _ in 0..<Int.random(in: 0...3, using: &self.rng) {
                let file = self.pick(files)
                let value =
                    file == "memory.oom.group"
                    ? self.pick(["0", "1", "2"])
                    : self.chance(0.2) && file != "memory.reclaim" ? "max" : self.size()
                words.append("\(file)=\(value)")
            }
            return words.joined(separator: " ")
        case 45: return "move \(self.process()) \(self.cgroup())"
        case 46:
            let g = self.cgroup()
            if self.chance(0.3) {
                return "show \(g) \(self.pick(Kernel.memcgFiles + ["memory.nope"]))"
            }
            let field = self.pick([
                "memory.current", "memory.peak", "memory.swap.current", "memory.events.oom_kill",
                "memory.events.max", "memory.events.local.high", "memory.swap.events.fail",
                "memory.stat.anon", "memory.stat.file", "memory.stat.pgsteal", "memory.stat.bogus",
            ])
            return "expect \(g):\(field) \(self.pick(["==", "<=", ">", "!="])) \(self.size())"
        case 38:
            let report = self.pick(ProcFS.globalReports)
            return self.chance(0.5) ? "show \(report)" : "show \(p) \(self.pick(ShowCommand.processReports))"
        default:
            return self.chance(0.5)
                ? "translate \(p) \(self.ref(p)) \(self.pick(["read", "write", "execute"]))"
                : "\(p): oom_score_adj \(self.pick(["-1000", "0", "500", "1000", "1001"]))"
        }
    }

    /// A whole scenario of `lines` lines (a `machine` line first, usually). Lines are checked
    /// with the real parser as they are made, and one that does not parse is made again — so
    /// hostile values that are valid syntax (an address at the top of the address space, a
    /// 2⁶³-byte mapping) reach the kernel instead of stopping the scenario at the parser. With
    /// probability `badLine` the scenario keeps one line that does not parse.
    mutating func scenario(lines: Int, badLine: Double = 0.05) -> String {
        var parser = ScenarioParser(file: "fuzz.vmsim")
        var out: [String] = []
        func accept(_ line: String) -> Bool {
            (try? parser.parseLine(line, number: out.count + 1)) != nil
        }
        let machine = self.machine()
        if self.chance(0.9) && accept(machine) { out.append(machine) }
        let name = self.newName("p")
        self.live.append(name)
        if accept("spawn \(name)") { out.append("spawn \(name)") }
        var keptBad = !self.chance(badLine)
        while out.count < lines {
            var line = self.line()
            var tries = 0
            while !accept(line) && tries < 20 {
                if !keptBad {
                    keptBad = true
                    break
                }
                line = self.line()
                tries += 1
            }
            out.append(line)
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// `text` with a few byte-level mutations: flipped, inserted, deleted and duplicated bytes,
    /// swapped and duplicated lines.
    mutating func mutate(_ text: String, count: Int) -> [UInt8] {
        var bytes = Array(text.utf8)
        let interesting: [UInt8] =
            Array("0123456789:[]=x#- \t\r\n\u{7f}".utf8) + [0x00, 0x1b, 0xc3, 0xff, 0xfe]
        for _ in 0..<count {
            guard !bytes.isEmpty else { break }
            let i = Int.random(in: 0..<bytes.count, using: &self.rng)
            switch Int.random(in: 0..<6, using: &self.rng) {
            case 0: bytes[i] = self.pick(interesting)
            case 1: bytes.insert(self.pick(interesting), at: i)
            case 2: bytes.remove(at: i)
            case 3: bytes.insert(contentsOf: Array(self.pick(Self.boundaries).utf8), at: i)
            case 4:
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(
                    Array.init)
                if lines.count > 2 {
                    let a = Int.random(in: 0..<lines.count, using: &self.rng)
                    let b = Int.random(in: 0..<lines.count, using: &self.rng)
                    lines.swapAt(a, b)
                }
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            default:
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(
                    Array.init)
                let a = Int.random(in: 0..<lines.count, using: &self.rng)
                lines.insert(lines[a], at: a)
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            }
        }
        return bytes
    }
}
