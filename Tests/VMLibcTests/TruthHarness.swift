import Foundation
import Testing

@testable import VMLibc

/// Runs a Swift port of one of tools/malloc-truth's C programs against the model and records
/// the same `key=value` facts the C program records on the real glibc, so a test can compare
/// them with the committed results file key by key.
final class Probe {
    let sys: InMemorySystem
    let m: GlibcMalloc
    var out: [(String, Int64)] = []
    let brk0: UInt64

    init(keepsBytes: Bool = false) {
        self.sys = InMemorySystem(keepsBytes: keepsBytes)
        self.m = GlibcMalloc(system: self.sys)
        self.brk0 = self.sys.startBrk
        self.put("brk0_mod_page", Int64(self.brk0 % 4096))
    }

    func put(_ key: String, _ v: Int64) { self.out.append((key, v)) }
    func put(_ key: String, _ v: Bool) { self.put(key, v ? 1 : 0) }
    func put(_ key: String, _ v: UInt64) { self.put(key, Int64(bitPattern: v)) }
    func put(_ key: String, _ v: Int) { self.put(key, Int64(v)) }

    struct Snap {
        var flt: Int
        var rss: Int
        var brk: UInt64
    }

    func before() -> Snap {
        Snap(flt: self.sys.minorFaults, rss: self.sys.residentPages, brk: self.sys.currentBrk)
    }

    func after(_ op: String, _ s: Snap) {
        self.put(op + ".minflt", self.sys.minorFaults - s.flt)
        self.put(op + ".rss_pages", self.sys.residentPages - s.rss)
        self.put(op + ".brk_delta", Int64(bitPattern: self.sys.currentBrk &- s.brk))
    }

    var heap: Int64 { Int64(self.sys.currentBrk - self.brk0) }

    /// As truth.h's ptr(): offset from the initial break (heap chunks), page offset, the
    /// IS_MMAPPED bit, the chunk size.
    func ptr(_ key: String, _ p: UInt64?) {
        guard let p, let word = self.m.sizeWord(of: p) else {
            self.put(key + ".null", 1)
            return
        }
        if word & 2 == 0 { self.put(key + ".off", Int64(bitPattern: p &- self.brk0)) }
        self.put(key + ".mod", Int64(p % 4096))
        self.put(key + ".mmapped", word & 2 != 0)
        self.put(key + ".chunk", Int64(word & ~7))
    }

    func mallinfo(_ key: String) {
        let mi = self.m.mallinfo2()
        for (name, v) in [
            ("arena", mi.arena), ("ordblks", mi.ordblks), ("smblks", mi.smblks), ("hblks", mi.hblks),
            ("hblkhd", mi.hblkhd), ("usmblks", mi.usmblks), ("fsmblks", mi.fsmblks),
            ("uordblks", mi.uordblks),
            ("fordblks", mi.fordblks), ("keepcost", mi.keepcost),
        ] {
            self.put(key + "." + name, v)
        }
    }

    /// truth.h's touch(): the program writes every page of the range.
    func touch(_ p: UInt64?, _ n: UInt64) { self.sys.touchByProgram(p!, length: n, write: true) }

    func malloc(_ n: UInt64) -> UInt64? { self.checked { try self.m.malloc(n) } }
    func calloc(_ n: UInt64, _ s: UInt64) -> UInt64? { self.checked { try self.m.calloc(n, s) } }
    func realloc(_ p: UInt64?, _ n: UInt64) -> UInt64? { self.checked { try self.m.realloc(p, n) } }
    func memalign(_ a: UInt64, _ n: UInt64) -> UInt64? { self.checked { try self.m.memalign(a, n) } }
    func free(_ p: UInt64?) { self.checked { try self.m.free(p) } }

    func checked<T>(_ body: () throws -> T) -> T {
        do {
            let r = try body()
            if let violation = self.m.checkInvariants() { Issue.record("invariant: \(violation)") }
            return r
        } catch {
            fatalError("the model aborted: \(error)")
        }
    }
}

/// The committed measurements, tools/malloc-truth/results/NAME.txt, as key → value (the machine
/// description lines dropped).
func measured(_ name: String) throws -> [String: Int64] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tools/malloc-truth/results/\(name).txt")
    let text = try String(contentsOf: url, encoding: .utf8)
    var facts: [String: Int64] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let v = Int64(parts[1]) else { continue }
        facts[String(parts[0])] = v
    }
    return facts
}

/// Compares a probe's facts with a results file: every measured fact must be produced and equal.
func expectAgreement(_ probe: Probe, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws
{
    let real = try measured(name)
    var model: [String: Int64] = [:]
    for (k, v) in probe.out { model[k] = v }
    for (key, value) in real.sorted(by: { $0.key < $1.key }) {
        guard let mine = model[key] else {
            Issue.record("\(name): the model does not produce \(key)", sourceLocation: sourceLocation)
            continue
        }
        #expect(
            mine == value, "\(name): \(key) is \(value) on glibc, \(mine) in the model",
            sourceLocation: sourceLocation)
    }
    for key in model.keys where real[key] == nil {
        Issue.record("\(name): \(key) was not measured", sourceLocation: sourceLocation)
    }
}
