import Foundation
import VMPaging
import VMTypes

extension TranslationExercise {
    /// The problem as text: machine, tables, and the accesses to translate.
    public func problemText() -> String {
        let g = self.architecture.paging
        var out = ""
        if let memory = self.memory {
            out +=
                "Address translation exercise — \(g.addressBits)-bit addresses, \(1 << g.pageShift)-byte pages, levels "
            out +=
                g.levelBits.map(String.init).joined(separator: "/")
                + ", \(g.entryBytes)-byte entries (valid bit + "
            out +=
                "\(g.entryBytes * 8 - 1)-bit frame number), \(memory.pages) physical pages, seed \(self.seed)\n\n"
            out += "PDBR: \(self.root.rawValue) (decimal) [the page directory is held in this page]\n\n"
            let digits = String(memory.pages - 1).count
            for page in 0..<memory.pages {
                out += "page " + Pad.right(page, digits) + ": "
                let base = page * memory.pageSize
                out += (0..<memory.pageSize).map { hexDigits(UInt64(memory.byte(base + $0)), width: 2) }
                    .joined()
                out += "\n"
            }
            out += "\n"
            for q in self.questions {
                out +=
                    "Virtual Address \(hex(q.offset, width: self.addressDigits)): Translates To What Physical Address (And Fetches what Value)? Or Fault?\n"
            }
            return out
        }
        let levels = g.levelBits.map(String.init).joined(separator: "/")
        out +=
            "Address translation exercise — \(self.architecture.name): \(g.levels) levels (\(levels)/\(g.pageShift)), "
        out += "\(g.entryBytes)-byte entries, seed \(self.seed)\n"
        switch self.style {
        case .flat:
            out +=
                "Segmentation: Linux's flat model (every segment base 0), so the linear address is the offset.\n"
        case .protected:
            out += "Segmentation: protected mode, CPL 3 for user accesses. GDT:\n"
            for (i, d) in self.segmentation.gdt.enumerated() {
                guard let d else { continue }
                let kind: String
                switch d.kind {
                case .code(let r): kind = r ? "code, readable" : "code, execute-only"
                case .data(let w, let down):
                    kind = (w ? "data, writable" : "data, read-only") + (down ? ", expand-down" : "")
                }
                out +=
                    "  GDT[\(i)] selector \(hex(UInt64(i << 3), width: 4)): base \(hex(UInt64(d.base), width: 8)) limit \(hex(UInt64(d.limit), width: 5))"
                out += d.granularity4K ? " (4 KiB units)" : " (bytes)"
                out += " DPL \(d.dpl) \(kind)\n"
            }
        case .real:
            out +=
                "Real mode: no paging; physical address = segment × 16 + offset (A20 closed: 20-bit wrap).\n\n"
            out += "Translate:\n"
            for (n, q) in self.questions.enumerated() {
                out += "  \(n + 1). \(hex(UInt64(q.segment ?? 0), width: 4)):\(hex(q.offset, width: 4))\n"
            }
            return out
        }
        out += "TLB: \(self.tlbGeometry.entries) entries, \(self.tlbGeometry.ways)-way, empty at the start. "
        out += self.architecture.hasNoExecute ? "NX enabled. " : ""
        out += "CR0.WP set.\n\n"
        out +=
            "CR3 = \(self.hexPhys(self.root.rawValue << 12)): \(g.levelNames[0]) in frame \(hex(self.root.rawValue))\n"
        if let store = self.store {
            var queue: [(PFN, Int)] = [(self.root, 0)]
            var seen = Set<UInt64>()
            var i = 0
            while i < queue.count {
                let (table, level) = queue[i]
                i += 1
                guard seen.insert(table.rawValue).inserted else { continue }
                out +=
                    "\n\(g.levelNames[level]) (level \(level)) in frame \(hex(table.rawValue)), entries that are not empty:\n"
                for (index, entry) in store.entries(of: table) {
                    out +=
                        "  [" + hex(UInt64(index), width: 3) + "] @ "
                        + self.hexPhys(store.entryAddress(table, index))
                    out += "  " + hex(entry.rawValue, width: self.entryDigits) + "  "
                    if let swap = entry.swapEntry {
                        out += "not present (swap entry \(swap))\n"
                        continue
                    }
                    out += self.flagNames(entry)
                    if level < g.levels - 1 && !entry.contains(.pageSize) {
                        out += " → table at \(self.hexPhys(entry.pfn.rawValue << 12))\n"
                        queue.append((entry.pfn, level + 1))
                    } else {
                        out += " → frame \(hex(entry.pfn.rawValue))\n"
                    }
                }
            }
        }
        out += "\nTranslate, in order (the TLB carries over from one to the next):\n"
        for (n, q) in self.questions.enumerated() {
            out += "  \(n + 1). " + Pad.left("\(q.mode.rawValue) \(q.access.rawValue)", 14)
            if let seg = q.segment {
                out += hex(UInt64(seg), width: 4) + ":" + hex(q.offset, width: 8)
            } else {
                out += self.hexAddress(q.offset)
            }
            out += "\n"
        }
        return out
    }

    /// The worked answers as text.
    public func answersText(_ answers: [TranslationAnswer]) -> String {
        let g = self.architecture.paging
        var out = ""
        if self.isTeaching {
            for a in answers {
                out += "Virtual Address \(hex(a.question.offset, width: self.addressDigits)):\n"
                var indent = "  "
                for step in a.steps {
                    let valid = step.flags.hasPrefix("valid 1")
                    let pfnText = step.flags.split(separator: " ").last.map(String.init) ?? ""
                    let pfn = UInt64(pfnText.dropFirst(2), radix: 16) ?? 0
                    out +=
                        indent
                        + "--> \(step.name.lowercased()) index:\(hex(UInt64(step.index))) [decimal \(step.index)] "
                    out +=
                        "\(step.name.lowercased()) contents:\(hex(step.entry)) (valid \(valid ? 1 : 0), pfn \(hex(pfn)) [decimal \(pfn)])\n"
                    indent += "  "
                }
                if let physical = a.physical {
                    out +=
                        indent
                        + "--> Translates to Physical Address \(hex(physical)) --> Value: \(hexDigits(UInt64(a.value ?? 0), width: 2))\n"
                } else {
                    out += indent + "--> Fault (\(a.steps.last?.name ?? "entry") entry not valid)\n"
                }
            }
            return out
        }
        for (n, a) in answers.enumerated() {
            let q = a.question
            if self.style == .real {
                out += "\(n + 1). \(hex(UInt64(q.segment ?? 0), width: 4)):\(hex(q.offset, width: 4))\n"
            } else {
                out += "\(n + 1). \(q.mode.rawValue) \(q.access.rawValue) "
                out +=
                    q.segment.map { hex(UInt64($0), width: 4) + ":" + hex(q.offset, width: 8) }
                    ?? self.hexAddress(q.offset)
                out += "\n"
            }
            out += "   segmentation: \(a.segmentation)\n"
            if self.style == .real {
                out += "   physical address \(hex(a.physical ?? 0, width: 5))\n"
                continue
            }
            guard let linear = a.linear else {
                out += "   → \(a.fault ?? "fault"): the process gets SIGSEGV\n"
                continue
            }
            if !self.architecture.requiresCanonical || self.architecture.isCanonical(linear) {
                var groups: [String] = []
                var names: [String] = []
                for level in 0..<g.levels {
                    let index = g.index(of: linear, atLevel: level)
                    groups.append(self.binary(UInt64(index), bits: g.levelBits[level]))
                    names.append("\(g.levelNames[level]) \(hex(UInt64(index), width: 3))")
                }
                groups.append(self.binary(linear & (self.architecture.pageSize - 1), bits: g.pageShift))
                names.append("offset \(hex(linear & (self.architecture.pageSize - 1), width: 3))")
                out += "   bits: " + groups.joined(separator: " ") + "\n"
                out += "         " + names.joined(separator: ", ") + "\n"
            }
            if let tlb = a.tlb { out += "   TLB \(tlb)\n" }
            for step in a.steps {
                out +=
                    "   \(step.name)[\(hex(UInt64(step.index), width: 3))] @ \(self.hexPhys(step.entryAddress)) = "
                out += hex(step.entry, width: self.entryDigits) + "  \(step.flags) → \(step.meaning)\n"
            }
            if let physical = a.physical {
                out += "   physical address \(self.hexPhys(physical))\n"
            }
            if let fault = a.fault {
                if let code = a.errorCode {
                    out += "   → page fault: \(fault); error code \(PFErrorCode(rawValue: code))\n"
                } else {
                    out += "   → \(fault)\n"
                }
            }
            for update in a.updates { out += "   \(update)\n" }
        }
        return out
    }

    func binary(_ value: UInt64, bits: Int) -> String {
        String((0..<bits).reversed().map { value >> UInt64($0) & 1 == 1 ? "1" : "0" })
    }

    /// The exercise (and, with `answers`, its solution) as deterministic JSON.
    public func json(answers: Bool) -> String {
        struct Table: Encodable {
            var frame: UInt64
            var level: Int
            var entries: [Entry]
        }
        struct Entry: Encodable {
            var index: Int
            var address: UInt64
            var value: UInt64
        }
        struct Document: Encodable {
            var architecture: String
            var seed: UInt64
            var segmentation: String
            var root: UInt64
            var tables: [Table]
            var memory: [String]?
            var questions: [TranslationQuestion]
            var answers: [TranslationAnswer]?
        }
        var tables: [Table] = []
        if let store = self.store {
            for (frame, _) in store.tables.sorted(by: { $0.key < $1.key }) {
                let pfn = PFN(rawValue: frame)
                let level = self.levelOf(pfn)
                tables.append(
                    Table(
                        frame: frame, level: level,
                        entries: store.entries(of: pfn).map {
                            Entry(
                                index: $0.index, address: store.entryAddress(pfn, $0.index),
                                value: $0.entry.rawValue)
                        }))
            }
        }
        let memory = self.memory.map { m in
            (0..<m.pages).map { page in
                (0..<m.pageSize).map { hexDigits(UInt64(m.byte(page * m.pageSize + $0)), width: 2) }.joined()
            }
        }
        let doc = Document(
            architecture: self.architecture.name, seed: self.seed, segmentation: self.style.rawValue,
            root: self.root.rawValue, tables: tables, memory: memory, questions: self.questions,
            answers: answers ? self.solve() : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(doc) else {
            preconditionFailure("TranslationExercise: encoding failed")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The level of a table, found by walking from the root.
    func levelOf(_ pfn: PFN) -> Int {
        guard let store = self.store else { return 0 }
        var frontier: [(PFN, Int)] = [(self.root, 0)]
        while let (table, level) = frontier.popLast() {
            if table == pfn { return level }
            if level < self.architecture.paging.levels - 1 {
                for (_, e) in store.entries(of: table) where e.isPresent && !e.contains(.pageSize) {
                    frontier.append((e.pfn, level + 1))
                }
            }
        }
        return -1
    }
}
