import PropertyBased
import Testing

@testable import VMLibc

/// Drives an allocator with a random program and checks, after every call, everything a correct
/// allocator guarantees: the heap's structural invariants (`checkInvariants`), aligned and
/// disjoint live blocks, no allocator store inside memory the program owns, every byte the
/// program wrote reading back (kept byte-exact by the in-memory backend), realloc keeping the
/// old contents, calloc returning zeros.
final class RandomProgram {
    let sys: InMemorySystem
    let a: any UserAllocator
    /// Live blocks: pointer → (usable size, pattern seed).
    var live: [UInt64: (usable: UInt64, seed: UInt8)] = [:]
    var order: [UInt64] = []
    var nextSeed: UInt8 = 1
    var failures: [String] = []

    init(_ make: (InMemorySystem) -> any UserAllocator, configure: (InMemorySystem) -> Void = { _ in }) {
        self.sys = InMemorySystem(keepsBytes: true)
        configure(self.sys)
        self.a = make(self.sys)
    }

    func fail(_ s: String) { if self.failures.count < 5 { self.failures.append(s) } }

    /// The bytes the program stores in a block: never zero, different for each seed.
    func pattern(_ seed: UInt8, _ n: UInt64) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Int(n)) { buffer, count in
            var v = seed &* 31
            for i in 0..<Int(n) {
                buffer[i] = v | 1
                v &+= 7
            }
            count = Int(n)
        }
    }

    /// A size from a mix: a few recurring sizes (so tcache bins fill and fastbins and small
    /// bins get used), any tcache size, medium sizes, sizes around the mmap threshold.
    static func size(_ r: UInt64) -> UInt64 {
        switch r % 16 {
        case 0..<5: return [24, 40, 100, 120, 500, 1500, 3000][Int((r >> 8) % 7)]
        case 5..<8: return r >> 8 % 1040
        case 8..<12: return 1040 + (r >> 8) % 8000
        case 12..<14: return 8000 + (r >> 8) % 70000
        case 14: return 100_000 + (r >> 8) % 80000
        default: return (r >> 8) % 4 == 0 ? 140_000 + (r >> 8) % 200_000 : 300 + (r >> 8) % 600
        }
    }

    func adopt(
        _ p: UInt64, wanted: UInt64, zeroed: Bool = false,
        keep: (old: UInt64, seed: UInt8, usable: UInt64)? = nil
    ) {
        let usable = self.a.usableSize(p)
        if usable < wanted { self.fail("usable size \(usable) < \(wanted)") }
        if p % 16 != 0 { self.fail("pointer 0x\(String(p, radix: 16)) is not 16-aligned") }
        for (q, b) in self.live where q < p + max(usable, 1) && p < q + max(b.usable, 1) {
            self.fail("0x\(String(p, radix: 16)) overlaps live 0x\(String(q, radix: 16))")
        }
        if zeroed && !self.sys.read(p, length: usable).allSatisfy({ $0 == 0 }) {
            self.fail("calloc memory at 0x\(String(p, radix: 16)) is not zero")
        }
        if let keep {
            let n = min(keep.usable, usable)
            if self.sys.read(p, length: n) != Array(self.pattern(keep.seed, keep.usable)[0..<Int(n)]) {
                self.fail("realloc lost the contents of 0x\(String(keep.old, radix: 16))")
            }
        }
        let seed = self.nextSeed
        self.nextSeed &+= 1
        if self.nextSeed == 0 { self.nextSeed = 1 }
        self.sys.write(p, self.pattern(seed, usable))
        self.live[p] = (usable, seed)
        self.order.append(p)
    }

    func verify(_ p: UInt64) {
        guard let b = self.live[p] else { return }
        if self.sys.read(p, length: b.usable) != self.pattern(b.seed, b.usable) {
            self.fail("the bytes of 0x\(String(p, radix: 16)) changed")
        }
    }

    func forget(_ p: UInt64) {
        self.live[p] = nil
        self.order.removeAll { $0 == p }
    }

    /// One random call.
    func step(_ r: UInt64) throws {
        self.sys.writeLog = []
        var returned: UInt64?
        let pick = self.order.isEmpty ? nil : self.order[Int((r >> 40) % UInt64(self.order.count))]
        switch (r >> 4) % 20 {
        case 0..<6:
            let n = Self.size(r >> 8)
            if let p = try self.a.malloc(n) {
                returned = p
                self.adopt(p, wanted: n)
            }
        case 6..<11:
            if let p = pick {
                self.verify(p)
                self.forget(p)
                try self.a.free(p)
            }
        case 11:
            // A burst of one size, as programs allocate nodes: fills tcache bins, then fastbins.
            let n = Self.size(r >> 8) % 2000
            for _ in 0..<(8 + (r >> 50) % 16) {
                self.sys.writeLog = []
                guard let p = try self.a.malloc(n) else { break }
                self.checkStores(returned: p)
                self.adopt(p, wanted: n)
                if let v = self.a.checkInvariants() { self.fail("invariant: \(v)") }
            }
            self.sys.writeLog = []
        case 12, 13:
            // Free a run of the most recent blocks: oldest first, newest first, or every other
            // one (the pattern that fragments a heap).
            let k = min(self.order.count, Int(4 + (r >> 50) % 20))
            var run = Array(self.order.suffix(k))
            switch (r >> 48) % 3 {
            case 0: run.reverse()
            case 1: run = run.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            default: break
            }
            for p in run {
                self.sys.writeLog = []
                self.verify(p)
                self.forget(p)
                try self.a.free(p)
                self.checkStores(returned: nil)
                if let v = self.a.checkInvariants() { self.fail("invariant: \(v)") }
            }
        case 14, 15, 16:
            let n = Self.size(r >> 8)
            if let p = pick {
                self.verify(p)
                let old = self.live[p]!
                self.forget(p)
                if let q = try self.a.realloc(p, n) {
                    returned = q
                    self.adopt(q, wanted: n, keep: (p, old.seed, old.usable))
                } else if n != 0 {
                    self.live[p] = old
                    self.order.append(p)
                }
            }
        case 17:
            let n = Self.size(r >> 8)
            if let p = try self.a.calloc(1 + (r >> 60) % 3, n / 3) {
                returned = p
                self.adopt(p, wanted: (1 + (r >> 60) % 3) * (n / 3), zeroed: true)
            }
        case 18:
            let align: UInt64 = [32, 64, 256, 4096, 65536, 24, 8][Int((r >> 8) % 7)]
            let n = Self.size(r >> 12)
            if let p = try self.a.memalign(align, n) {
                returned = p
                var expected: UInt64 = 16
                while expected < align { expected <<= 1 }
                if p % expected != 0 { self.fail("memalign(\(align)) gave 0x\(String(p, radix: 16))") }
                self.adopt(p, wanted: n)
            }
        default:
            if let g = self.a as? GlibcMalloc {
                switch (r >> 8) % 6 {
                case 0: g.mallopt(.topPad, Int32((r >> 16) % 300_000))
                case 1: g.mallopt(.trimThreshold, Int32((r >> 16) % 300_000))
                case 2: g.mallopt(.mmapThreshold, Int32(4096 + (r >> 16) % 300_000))
                case 3: g.mallopt(.mxfast, Int32((r >> 16) % 161))
                case 4: g.mallopt(.perturb, Int32((r >> 16) % 256))
                default: try g.mallocTrim((r >> 16) % 200_000)
                }
            } else if let p = pick {
                self.verify(p)
            }
        }
        self.checkStores(returned: returned)
        if let v = self.a.checkInvariants() { self.fail("invariant: \(v)") }
    }

    /// No store of the allocator lands in a block the program owns (the block just handed out
    /// excepted: tcache_get clears its key word, calloc clears it, realloc copies into it).
    func checkStores(returned: UInt64?) {
        let blocks = self.live.filter { $0.key != returned }.map { ($0.key, $0.key + $0.value.usable) }.sorted
        {
            $0.0 < $1.0
        }
        for (addr, len) in self.sys.writeLog ?? [] {
            // The last block starting below the store's end is the only one it can reach.
            var lo = 0
            var hi = blocks.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if blocks[mid].0 < addr + len { lo = mid + 1 } else { hi = mid }
            }
            if lo > 0 && blocks[lo - 1].1 > addr {
                self.fail(
                    "a store to 0x\(String(addr, radix: 16))+\(len) hit live block 0x\(String(blocks[lo - 1].0, radix: 16))"
                )
            }
        }
    }

    func finishAll() throws {
        for p in self.order {
            self.verify(p)
            try self.a.free(p)
            if let v = self.a.checkInvariants() { self.fail("invariant after freeing all: \(v)") }
        }
        self.live = [:]
        self.order = []
        if self.a.stats.liveBytes != 0 { self.fail("live bytes \(self.a.stats.liveBytes) after freeing all") }
    }
}

@Suite struct PropertyTests {
    static let program = Gen.uint64(in: 0...UInt64.max).array(of: 1...120)

    /// Random malloc/free/realloc/calloc/memalign/mallopt/malloc_trim programs keep the glibc
    /// model's heap consistent after every call, and lose no byte.
    @Test func glibcKeepsItsInvariantsAndTheProgramsBytes() async {
        await propertyCheck(count: 25, input: Self.program) { ops in
            let prog = RandomProgram { GlibcMalloc(system: $0) }
            for op in ops {
                try prog.step(op)
                if !prog.failures.isEmpty { break }
            }
            try prog.finishAll()
            #expect(prog.failures.isEmpty, "\(prog.failures)")
        }
    }

    /// The same with a kernel that refuses: brk fails beyond a limit (so sysmalloc continues the
    /// heap in mapped segments behind fenceposts), mmap fails beyond a limit, no mremap.
    @Test func glibcSurvivesBrkAndMmapFailures() async {
        await propertyCheck(count: 20, input: Self.program, Gen.uint64(in: 0...UInt64.max)) { ops, knobs in
            let prog = RandomProgram({ GlibcMalloc(system: $0) }) { sys in
                sys.brkLimit = sys.startBrk + 4096 * (knobs % 200)
                if knobs >> 8 % 2 == 0 { sys.mmapLimit = 4096 * (400 + (knobs >> 16) % 2000) }
                sys.supportsMremap = (knobs >> 32) % 2 == 0
            }
            for (i, op) in ops.enumerated() {
                if i == ops.count / 2 { prog.sys.brkLimit = nil }
                try prog.step(op)
                if !prog.failures.isEmpty { break }
            }
            try prog.finishAll()
            #expect(prog.failures.isEmpty, "\(prog.failures)")
        }
    }

    /// The teaching allocators under the same checks.
    @Test(arguments: FitPolicy.allCases)
    func freeListAllocatorsKeepTheirInvariants(_ policy: FitPolicy) async {
        await propertyCheck(count: 10, input: Self.program) { ops in
            let prog = RandomProgram { FreeListAllocator(system: $0, policy: policy) }
            for op in ops {
                try prog.step(op)
                if !prog.failures.isEmpty { break }
            }
            try prog.finishAll()
            #expect(prog.failures.isEmpty, "\(prog.failures)")
        }
    }
}
