import VMPaging
import VMTypes

/// One address to translate in an exercise.
public struct TranslationQuestion: Codable, Hashable, Sendable {
    /// Segment selector (protected mode) or paragraph (real mode); nil for the flat model.
    public var segment: UInt16?
    /// The offset (the logical address within the segment; the linear address in the flat model).
    public var offset: UInt64
    public var access: Access
    public var mode: CPUMode
}

/// One level of a worked translation.
public struct TranslationStep: Codable, Hashable, Sendable {
    public var level: Int
    /// `PGD`, `PUD`, `PMD`, `PTE` … or `PDE`/`PTE` for teaching machines.
    public var name: String
    public var index: Int
    /// Physical address of the entry read.
    public var entryAddress: UInt64
    /// The entry's raw value as read (before Accessed/Dirty were set).
    public var entry: UInt64
    /// The entry's flags as a dump prints them.
    public var flags: String
    /// What the entry means: the next table, the frame, or why the walk stops.
    public var meaning: String
}

/// The worked answer for one question.
public struct TranslationAnswer: Codable, Hashable, Sendable {
    public var question: TranslationQuestion
    /// The linear address after segmentation, or nil if segmentation faulted.
    public var linear: UInt64?
    public var segmentation: String
    public var tlb: String?
    public var steps: [TranslationStep]
    public var physical: UInt64?
    /// Teaching machines: the byte at the physical address.
    public var value: UInt8?
    public var fault: String?
    public var errorCode: UInt32?
    /// Accessed/Dirty bits the hardware set on the way.
    public var updates: [String]
}

/// Errors in the parameters of an exercise.
public struct ExerciseError: Error, Sendable, CustomStringConvertible {
    public var setting: String
    public var message: String
    public var description: String { "\(self.setting): \(self.message)" }
}

/// A reproducible address-translation exercise: page tables placed in random frames, a list of
/// accesses to translate, and the worked answers — the whiteboard version of the MMU.
///
/// Real architectures use x86 entry formats (with the walk's Accessed/Dirty updates and a TLB
/// that starts empty); teaching geometries use the one-byte "valid bit + frame" entries of the
/// OSTEP homework, with the whole physical memory printed so values can be fetched.
public final class TranslationExercise {
    public enum SegmentationStyle: String, Sendable, CaseIterable {
        /// Linux: every base 0, so linear = offset.
        case flat
        /// i386 protected mode with textbook descriptors of non-zero bases.
        case protected
        /// 8086 real mode: no paging, physical = segment × 16 + offset.
        case real
    }

    public let architecture: Architecture
    public let seed: UInt64
    public let style: SegmentationStyle
    public private(set) var questions: [TranslationQuestion] = []
    /// x86 tables (nil for teaching machines and real mode).
    public let store: SparsePageTableStore?
    /// Teaching machine memory (nil for x86 formats).
    public let memory: TeachingMemory?
    public private(set) var root = PFN(rawValue: 0)
    public private(set) var segmentation: Segmentation
    public let tlbGeometry: TLBGeometry
    var rng: SeededGenerator
    var usedFrames = Set<UInt64>()

    /// Builds an exercise for `architecture` from `seed` with `count` questions.
    public init(
        architecture: Architecture, seed: UInt64, count: Int = 6, style: SegmentationStyle = .flat,
        physicalPages: Int = 128, tlb: TLBGeometry = TLBGeometry(entries: 16, ways: 4)
    ) throws(ExerciseError) {
        guard (1...64).contains(count) else {
            throw ExerciseError(setting: "count", message: "expected 1…64 questions, got \(count)")
        }
        let teaching = !Architecture.named.contains { $0.name == architecture.name }
        if style == .protected && (architecture.is64Bit || teaching) {
            throw ExerciseError(
                setting: "segmentation", message: "protected-mode segments need i386 or i386-pae")
        }
        if style == .real && teaching {
            throw ExerciseError(setting: "segmentation", message: "real mode has no paging; use --arch i386")
        }
        self.architecture = architecture
        self.seed = seed
        self.style = style
        self.tlbGeometry = tlb
        self.rng = SeededGenerator(seed: seed)
        self.segmentation = Segmentation.linuxFlat(for: architecture, cpl: 3)
        if teaching {
            guard architecture.paging.isConsistent, (1...8).contains(architecture.paging.entryBytes) else {
                throw ExerciseError(
                    setting: "geometry",
                    message: "address bits must equal page bits plus the level bits, entries 1…8 bytes")
            }
            // Entries hold (8 × bytes − 1)-bit frame numbers; 1 << 63 would be negative as an Int.
            let frameBits = architecture.paging.entryBytes * 8 - 1
            let maxFrames = frameBits >= 16 ? 1 << 16 : 1 << frameBits
            guard physicalPages >= 4 && physicalPages <= maxFrames else {
                throw ExerciseError(
                    setting: "physical-pages",
                    message: "expected 4…\(maxFrames) pages (entries hold \(frameBits)-bit frame numbers)"
                )
            }
            self.store = nil
            self.memory = TeachingMemory(geometry: architecture.paging, pages: physicalPages)
            self.buildTeaching(count: count)
        } else if style == .real {
            self.store = nil
            self.memory = nil
            self.segmentation = Segmentation(mode: .real)
            self.buildRealMode(count: count)
        } else {
            self.store = SparsePageTableStore(geometry: architecture.paging)
            self.memory = nil
            self.buildX86(count: count)
        }
    }

    var isTeaching: Bool { self.memory != nil }

    func random(_ bound: Int) -> Int { Int(self.rng.below(UInt64(bound))) }

    /// A frame not used yet, below `limit`.
    func freshFrame(limit: UInt64) -> PFN {
        while true {
            let f = 1 + self.rng.below(limit - 1)
            if self.usedFrames.insert(f).inserted { return PFN(rawValue: f) }
        }
    }

    // MARK: x86 formats

    enum RegionKind { case code, data, stack, kernel }

    func buildX86(count: Int) {
        guard let store = self.store else { return }
        let arch = self.architecture
        let g = arch.paging
        let frameLimit: UInt64 = 1 << UInt64(min(g.physicalBits - 12, 28))
        self.root = self.freshFrame(limit: frameLimit)
        store.addTable(self.root, level: 0)
        if self.style == .protected { self.buildDescriptors() }
        let leafSpan: UInt64 = 1 << UInt64(g.shift(ofLevel: g.levels - 2))
        let page = arch.pageSize
        // Typical places: text low, heap after it, stack at the top of user space, one kernel page.
        var bases: [(RegionKind, UInt64)]
        if arch.is64Bit {
            bases = [
                (.code, 0x40_0000), (.data, 0x60_0000 + leafSpan * UInt64(self.random(8))),
                (.stack, 0x7ffd_0000_0000 + leafSpan * UInt64(self.random(1024))),
                (.kernel, arch.pageOffset + leafSpan * UInt64(1 + self.random(256))),
            ]
        } else {
            bases = [
                (.code, 0x0800_0000), (.data, 0x0800_0000 + leafSpan * UInt64(1 + self.random(4))),
                (.stack, 0xBFC0_0000 - leafSpan * UInt64(self.random(2))),
                (.kernel, 0xC000_0000 + leafSpan * UInt64(1 + self.random(16))),
            ]
        }
        var pages: [(RegionKind, UInt64, PTEFlags?)] = []  // nil flags: a hole (none or swap)
        for (kind, base) in bases {
            let region = base & ~(leafSpan - 1)
            let leaf = self.ensureTables(store, region, kernel: kind == .kernel, frameLimit: frameLimit)
            let first = (kind == .stack ? Int(leafSpan / page) - 8 : self.random(Int(leafSpan / page) - 8))
            for i in 0..<6 {
                let va = region + UInt64(first + i) * page
                var flags: PTEFlags = [.present]
                switch kind {
                case .code: flags.insert(.user)
                case .data, .stack:
                    flags.formUnion([.user, .writable])
                    if arch.hasNoExecute { flags.insert(.noExecute) }
                case .kernel:
                    flags.formUnion([.writable, .global])
                    if arch.hasNoExecute { flags.insert(.noExecute) }
                }
                let index = g.index(of: va, atLevel: g.levels - 1)
                if i == 2 && kind != .kernel {
                    // A hole: either never touched (none) or swapped out (a swap entry).
                    if self.random(2) == 0 {
                        store.writeEntry(
                            leaf, index, level: g.levels - 1,
                            PTE(swap: SwapEntry(type: 0, offset: UInt64(1 + self.random(4000)))))
                    }
                    pages.append((kind, va, nil))
                    continue
                }
                if self.random(3) == 0 { flags.insert(.accessed) }
                if flags.contains(.accessed) && flags.contains(.writable) && self.random(2) == 0 {
                    flags.insert(.dirty)
                }
                store.writeEntry(
                    leaf, index, level: g.levels - 1,
                    PTE(pfn: self.freshFrame(limit: frameLimit), flags: flags))
                pages.append((kind, va, flags))
            }
        }
        // Questions: a fixed mix first (so every exercise shows the main cases), then random ones.
        var plan = ["ok", "fault-rights", "hole", "upper"]
        for i in plan.indices.reversed() { plan.swapAt(i, self.random(i + 1)) }
        plan.insert("ok", at: 0)
        while plan.count < count {
            plan.append(["ok", "repeat", "fault-rights", "hole", "kernel", "supervisor"][self.random(6)])
        }
        plan = Array(plan.prefix(count))
        var asked: [TranslationQuestion] = []
        for kind in plan {
            var q: TranslationQuestion
            let offset = UInt64(self.random(Int(page) / 8)) * 8
            func pick(_ filter: ((RegionKind, UInt64, PTEFlags?)) -> Bool) -> (RegionKind, UInt64, PTEFlags?)
            {
                let choices = pages.filter(filter)
                return choices[self.random(choices.count)]
            }
            switch kind {
            case "repeat" where !asked.isEmpty:
                q = asked[self.random(asked.count)]
                q.offset = (q.offset & ~(page - 1)) + offset
                q.access = self.random(2) == 0 ? .read : .write
            case "fault-rights":
                if arch.hasNoExecute && self.random(2) == 0 {
                    let p = pick { $0.0 == .data || $0.0 == .stack }
                    q = TranslationQuestion(
                        offset: p.1 + offset, access: p.2 == nil ? .read : .execute, mode: .user)
                } else {
                    let p = pick { $0.0 == .code && $0.2 != nil }
                    q = TranslationQuestion(offset: p.1 + offset, access: .write, mode: .user)
                }
            case "hole":
                let p = pick { $0.2 == nil }
                q = TranslationQuestion(
                    offset: p.1 + offset, access: self.random(2) == 0 ? .read : .write, mode: .user)
            case "upper":
                // Somewhere no table covers: the walk stops above the leaf level.
                let va =
                    arch.is64Bit
                    ? 0x5555_0000_0000 + leafSpan * UInt64(self.random(64))
                    : 0x4000_0000 + leafSpan * UInt64(self.random(64))
                q = TranslationQuestion(offset: va + offset, access: .read, mode: .user)
            case "kernel":
                let p = pick { $0.0 == .kernel }
                q = TranslationQuestion(offset: p.1 + offset, access: .read, mode: .kernel)
            case "supervisor":
                let p = pick { $0.0 == .kernel }
                q = TranslationQuestion(offset: p.1 + offset, access: .read, mode: .user)
            default:
                let p = pick { $0.2 != nil && $0.0 != .kernel }
                let access: Access =
                    p.0 == .code
                    ? (self.random(2) == 0 ? .execute : .read) : (self.random(2) == 0 ? .write : .read)
                q = TranslationQuestion(offset: p.1 + offset, access: access, mode: .user)
            }
            if self.style == .protected && q.segment == nil { q = self.segmented(q) }
            asked.append(q)
        }
        self.questions = asked
    }

    /// Makes sure the tables above the leaf exist for `va`; returns the leaf table's frame.
    func ensureTables(_ store: SparsePageTableStore, _ va: UInt64, kernel: Bool, frameLimit: UInt64) -> PFN {
        let g = self.architecture.paging
        var table = self.root
        for level in 0..<(g.levels - 1) {
            let index = g.index(of: va, atLevel: level)
            let entry = store.readEntry(table, index, level: level)
            if entry.isPresent {
                table = entry.pfn
                continue
            }
            let fresh = self.freshFrame(limit: frameLimit)
            store.addTable(fresh, level: level + 1)
            var flags: PTEFlags = [.present, .writable, .accessed]
            if !kernel { flags.insert(.user) }
            if g.levels == 3 && level == 0 && g.addressBits == 32 { flags = [.present] }  // PAE PDPTE
            store.writeEntry(table, index, level: level, PTE(pfn: fresh, flags: flags))
            table = fresh
        }
        return table
    }

    /// Protected mode: a GDT whose user data segment has a non-zero base, as textbooks draw it.
    func buildDescriptors() {
        var gdt = Segmentation.linuxFlat(for: self.architecture, cpl: 3).gdt
        let base = UInt32(self.random(16)) << 12
        gdt[1] = SegmentDescriptor(
            base: base, limit: 0xBFFFF - (base >> 12), granularity4K: true,
            kind: .data(writable: true, expandDown: false), dpl: 3)
        gdt[2] = SegmentDescriptor(
            base: base, limit: 0xBFFFF - (base >> 12), granularity4K: true, kind: .code(readable: true),
            dpl: 3)
        self.segmentation = Segmentation(mode: .protected, gdt: gdt, cpl: 3)
    }

    /// Rewrites a question's linear address as selector:offset for the protected-mode GDT.
    func segmented(_ q: TranslationQuestion) -> TranslationQuestion {
        var q = q
        if q.mode == .kernel {
            q.segment = Segmentation.linuxSelectors(for: self.architecture, user: false).data
            return q
        }
        let index = q.access == .execute ? 2 : 1
        let base = UInt64(self.segmentation.gdt[index]!.base)
        q.segment = SegmentSelector(index: index, rpl: 3).rawValue
        q.offset = q.offset &- base
        if q.offset > 0xFFFF_FFFF { q.offset = 0xFFFF_F000 }  // below the base: becomes a limit fault
        return q
    }

    // MARK: Real mode

    func buildRealMode(count: Int) {
        var asked: [TranslationQuestion] = []
        for i in 0..<count {
            let segment = UInt16(self.random(0x10000))
            var offset = UInt64(self.random(0x10000))
            if i == count - 1 && count > 1 { offset = 0xFFF0 + UInt64(self.random(16)) }
            asked.append(
                TranslationQuestion(
                    segment: i == count - 1 && count > 2 ? 0xFFFF : segment, offset: offset,
                    access: .read, mode: .kernel))
        }
        self.questions = asked
    }

    // MARK: Teaching machines

    func buildTeaching(count: Int) {
        guard let memory = self.memory else { return }
        let g = self.architecture.paging
        let pages = memory.pages
        // Random contents everywhere, like OSTEP's homework; page tables overwrite their frames.
        for a in 0..<memory.bytes.count { memory.setByte(a, UInt8(self.random(256))) }
        // An invalid entry has the valid bit clear and every frame bit set (0x7f for one byte).
        let invalid = (UInt64(1) << UInt64(g.entryBytes * 8 - 1)) - 1
        self.root = self.freshFrame(limit: UInt64(pages))
        var tables: [(PFN, Int)] = [(self.root, 0)]
        var i = 0
        var leafTables: [PFN] = []
        while i < tables.count {
            let (table, level) = tables[i]
            i += 1
            for index in 0..<g.entries(atLevel: level) { memory.setRawEntry(table, index, invalid) }
            let isLeaf = level == g.levels - 1
            let fill = isLeaf ? max(2, g.entries(atLevel: level) / 3) : max(1, g.entries(atLevel: level) / 8)
            var slots = Array(0..<g.entries(atLevel: level))
            for k in slots.indices.reversed() { slots.swapAt(k, self.random(k + 1)) }
            for index in slots.prefix(fill) where self.usedFrames.count < pages - 1 {
                let frame = self.freshFrame(limit: UInt64(pages))
                memory.setRawEntry(table, index, (invalid + 1) | frame.rawValue)
                if !isLeaf { tables.append((frame, level + 1)) }
            }
            if isLeaf { leafTables.append(table) }
        }
        // Questions: half land on valid pages, the rest anywhere.
        var asked: [TranslationQuestion] = []
        let addressSpace = UInt64(1) << UInt64(g.addressBits)
        for k in 0..<count {
            var va = self.rng.below(addressSpace)
            if k % 2 == 0 {
                for _ in 0..<200 {
                    let candidate = self.rng.below(addressSpace)
                    var observer = NoWalkObserver()
                    if case .mapped = walkPageTables(
                        memory, rules: PagingRules(self.architecture),
                        features: CPUFeatures(noExecute: false),
                        root: self.root, address: candidate, access: .read, mode: .user,
                        setAccessedDirty: false, observer: &observer)
                    {
                        va = candidate
                        break
                    }
                }
            }
            asked.append(TranslationQuestion(offset: va, access: .read, mode: .user))
        }
        self.questions = asked
    }

    // MARK: Solving

    /// Works every question in order through segmentation, a TLB that starts empty, and the
    /// page walk (which sets Accessed and Dirty as hardware does — in a copy of the tables, so
    /// the exercise itself is unchanged and solving twice gives the same answers).
    public func solve() -> [TranslationAnswer] {
        let store = self.store?.copy()
        let rules = PagingRules(self.architecture)
        let features = CPUFeatures(
            writeProtect: true, smep: false, smap: false, noExecute: self.architecture.hasNoExecute)
        let tlb = TLB(l1: self.tlbGeometry, l2: nil, pcid: false)
        var answers: [TranslationAnswer] = []
        let g = self.architecture.paging
        for q in self.questions {
            var answer = TranslationAnswer(
                question: q, linear: nil, segmentation: "", tlb: nil, steps: [], physical: nil,
                value: nil, fault: nil, errorCode: nil, updates: [])
            // Segmentation.
            let linear: UInt64
            switch (self.style, q.segment) {
            case (.real, let seg?):
                let result = self.segmentation.linearAddress(
                    selector: seg, offset: q.offset, access: q.access)
                guard case .success(let l) = result else {
                    answer.fault = "\(result)"
                    answers.append(answer)
                    continue
                }
                answer.linear = l
                answer.physical = l
                answer.segmentation =
                    "\(hex(UInt64(seg), width: 4)) × 16 + \(hex(q.offset, width: 4)) = \(hex(l, width: 5)) (real mode, no paging)"
                answers.append(answer)
                continue
            case (.protected, let seg?):
                let cpl = q.mode == .user ? 3 : 0
                var s = self.segmentation
                s.cpl = cpl
                switch s.linearAddress(selector: seg, offset: q.offset, access: q.access) {
                case .failure(let f):
                    answer.segmentation = "selector \(hex(UInt64(seg), width: 4)): \(f)"
                    answer.fault = f.description
                    answers.append(answer)
                    continue
                case .success(let l):
                    let d = s.gdt[SegmentSelector(rawValue: seg).index]!
                    linear = l
                    answer.segmentation =
                        "selector \(hex(UInt64(seg), width: 4)) → GDT[\(SegmentSelector(rawValue: seg).index)] base \(hex(UInt64(d.base), width: 8)) limit \(hex(UInt64(d.effectiveLimit), width: 8)) DPL \(d.dpl): linear = \(hex(UInt64(d.base), width: 8)) + \(hex(q.offset, width: 8)) = \(hex(l, width: 8))"
                }
            default:
                linear = q.offset
                if self.isTeaching {
                    answer.segmentation = "no segmentation: linear = virtual"
                } else {
                    let sel = Segmentation.linuxSelectors(for: self.architecture, user: q.mode == .user)
                    let reg = q.access == .execute ? sel.code : sel.data
                    answer.segmentation =
                        "flat model: \(q.access == .execute ? "CS" : "DS") = \(hex(UInt64(reg), width: 4)), base 0, so linear = \(self.hexAddress(q.offset))"
                }
            }
            answer.linear = linear
            // TLB.
            let vpn = linear >> UInt64(g.pageShift)
            if !self.isTeaching, let value = tlb.lookup(vpn: vpn) {
                let bits = TLBEntryBits(rawValue: value & 0xFFF)
                if let cause = bits.faultCause(q.access, mode: q.mode, features: features) {
                    tlb.invalidatePage(vpn: vpn)
                    answer.tlb = "hit (vpn \(hex(vpn))), but the cached rights refuse it"
                    answer.fault = cause.description
                    var code: PFErrorCode = [.protection]
                    if q.access == .write { code.insert(.write) }
                    if q.mode == .user { code.insert(.user) }
                    if q.access == .execute && self.architecture.hasNoExecute { code.insert(.instruction) }
                    answer.errorCode = code.rawValue
                    answers.append(answer)
                    continue
                }
                if q.access != .write || bits.contains(.dirty) {
                    answer.tlb = "hit (vpn \(hex(vpn)) → frame \(hex(value >> 12)))"
                    answer.physical =
                        ((value >> 12) << UInt64(g.pageShift)) | (linear & (self.architecture.pageSize - 1))
                    answers.append(answer)
                    continue
                }
                answer.tlb = "hit (vpn \(hex(vpn))), but not yet dirty: the CPU walks to set Dirty"
            } else if !self.isTeaching {
                answer.tlb = "miss (vpn \(hex(vpn))): walk from CR3"
            }
            var recorder = WalkRecorder()
            let result: Translation
            if let store {
                result = walkPageTables(
                    store, rules: rules, features: features, root: self.root, address: linear,
                    access: q.access,
                    mode: q.mode, setAccessedDirty: true, observer: &recorder)
            } else {
                result = walkPageTables(
                    self.memory!, rules: rules, features: features, root: self.root, address: linear,
                    access: q.access, mode: q.mode, setAccessedDirty: false, observer: &recorder)
            }
            for step in recorder.steps { answer.steps.append(self.describe(step, rules: rules)) }
            switch result {
            case .mapped(let m):
                answer.physical = m.physAddr
                if let memory = self.memory { answer.value = memory.byte(Int(m.physAddr)) }
                if !self.isTeaching {
                    tlb.fill(vpn: vpn, pfn: m.physAddr >> UInt64(g.pageShift), bits: TLBEntryBits(m))
                    for step in recorder.steps {
                        let after = store!.readEntry(step.table, step.index, level: step.level)
                        if after.contains(.accessed) && !step.entry.contains(.accessed) {
                            answer.updates.append(
                                "sets Accessed in \(g.levelNames[step.level])[\(hex(UInt64(step.index)))]")
                        }
                        if after.contains(.dirty) && !step.entry.contains(.dirty) {
                            answer.updates.append(
                                "sets Dirty in \(g.levelNames[step.level])[\(hex(UInt64(step.index)))]")
                        }
                    }
                }
            case .fault(let f):
                answer.fault = f.cause.description
                if !self.isTeaching && f.cause != .nonCanonical { answer.errorCode = f.errorCode.rawValue }
                if let store {
                    for step in recorder.steps {
                        let after = store.readEntry(step.table, step.index, level: step.level)
                        if after.contains(.accessed) && !step.entry.contains(.accessed) {
                            answer.updates.append(
                                "sets Accessed in \(g.levelNames[step.level])[\(hex(UInt64(step.index)))]")
                        }
                    }
                }
            }
            answers.append(answer)
        }
        return answers
    }

    /// What one step read and what it means.
    func describe(_ step: WalkStep, rules: PagingRules) -> TranslationStep {
        let g = self.architecture.paging
        let names = self.isTeaching ? (g.levels == 2 ? ["PDE", "PTE"] : g.levelNames) : g.levelNames
        let address: UInt64
        let raw: UInt64
        let flags: String
        let meaning: String
        let isLast = step.level == g.levels - 1
        if let memory = self.memory {
            address = memory.entryAddress(step.table, step.index)
            raw = memory.rawEntry(step.table, step.index)
            let valid = step.entry.isPresent
            flags = "valid \(valid ? 1 : 0), pfn \(hex(raw & ((1 << UInt64(g.entryBytes * 8 - 1)) - 1)))"
            meaning =
                !valid
                ? "not valid: fault"
                : isLast
                    ? "page at frame \(hex(step.entry.pfn.rawValue))"
                    : "next table at frame \(hex(step.entry.pfn.rawValue))"
        } else {
            address = self.store!.entryAddress(step.table, step.index)
            raw = step.entry.rawValue
            let e = step.entry
            if e.isNone {
                flags = "-"
                meaning = "empty: not present"
            } else if let swap = e.swapEntry {
                flags = "-"
                meaning = "not present: swapped out (\(swap))"
            } else {
                flags = self.flagNames(e)
                let large = !isLast && rules.allowsLargePage(atLevel: step.level) && e.contains(.pageSize)
                meaning =
                    isLast || large
                    ? "maps frame \(hex(e.pfn.rawValue))"
                    : "next table at \(self.hexPhys(e.pfn.rawValue << 12))"
            }
        }
        return TranslationStep(
            level: step.level, name: names[step.level], index: step.index, entryAddress: address, entry: raw,
            flags: flags, meaning: meaning)
    }

    func flagNames(_ e: PTE) -> String {
        var parts = ["P"]
        parts.append(e.contains(.writable) ? "RW" : "RO")
        parts.append(e.contains(.user) ? "US" : "S")
        if e.contains(.accessed) { parts.append("A") }
        if e.contains(.dirty) { parts.append("D") }
        if e.contains(.pageSize) { parts.append("PS") }
        if e.contains(.global) { parts.append("G") }
        if e.contains(.noExecute) { parts.append("NX") }
        return parts.joined(separator: " ")
    }

    /// Width in hex digits of a virtual / physical address for this architecture.
    var addressDigits: Int { (self.architecture.paging.addressBits + 3) / 4 }
    var physDigits: Int {
        self.isTeaching
            ? (self.architecture.paging.pageShift + 16 + 3) / 4 : (self.architecture.is64Bit ? 10 : 8)
    }
    var entryDigits: Int { self.architecture.paging.entryBytes * 2 }
    func hexAddress(_ v: UInt64) -> String { hex(v, width: self.addressDigits) }
    func hexPhys(_ v: UInt64) -> String { hex(v, width: self.physDigits) }
}
