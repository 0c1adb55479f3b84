/// `vm-smalltables/paging-multilevel-translate.py`: a two-level page table (15-bit addresses,
/// 32-byte pages, 128 physical pages) dumped as memory, and addresses to translate through it.
///
/// A line-by-line port of the script's `OS` class: `findFree` draws random free frames,
/// `procAlloc` maps random virtual pages (allocating page-table pages on demand) and fills each
/// data page with random bytes below 31; `-a` beyond what 128 frames can hold ends in the
/// script's AssertionError.
enum PagingMultilevelTranslateScript {
    static func parser() -> OptionParser {
        var p = OptionParser(prog: "paging-multilevel-translate.py")
        p.add(
            "-s", "--seed", dest: "seed", action: .storeInt, default: .int(PyInt(0)), help: "the random seed")
        p.add(
            "-a", "--allocated", dest: "allocated", action: .storeInt, default: .int(PyInt(64)),
            help: "number of virtual pages allocated")
        p.add(
            "-n", "--addresses", dest: "num", action: .storeInt, default: .int(PyInt(10)),
            help: "number of virtual addresses to generate")
        p.add(
            "-c", "--solve", dest: "solve", action: .storeTrue, default: .bool(false),
            help: "compute answers for me")
        return p
    }

    /// The script's `OS`: physical memory as bytes and the frames in use.
    struct Machine {
        static let pageSize = 32
        static let physPages = 128
        static let vaPages = 1024
        var memory = [Int](repeating: 0, count: pageSize * physPages)
        var usedPages = [Bool](repeating: false, count: physPages)
        var usedPagesCount = 0
        var pdbr = 0

        mutating func findFree(_ random: inout PyRandom) throws -> Int {
            if self.usedPagesCount >= Self.physPages {
                throw PyException(type: "AssertionError", message: "")
            }
            var look = try pyIntFromFloat(random.random() * Double(Self.physPages))
            while self.usedPages[look] { look = try pyIntFromFloat(random.random() * Double(Self.physPages)) }
            self.usedPagesCount += 1
            self.usedPages[look] = true
            return look
        }

        mutating func initPage(_ page: Int) {
            for i in (page << 5)..<((page << 5) + Self.pageSize) { self.memory[i] = 0x7f }
        }

        func pde(_ va: Int) -> (index: Int, address: Int, value: Int) {
            let index = (va & 0x7c00) >> 10
            let address = (self.pdbr << 5) | index
            return (index, address, self.memory[address])
        }

        func pte(_ va: Int, table: Int) -> (index: Int, address: Int, value: Int) {
            let index = (va & 0x03e0) >> 5
            let address = (table << 5) | index
            return (index, address, self.memory[address])
        }

        mutating func procAlloc(_ count: Int, _ random: inout PyRandom) throws -> [Int] {
            self.pdbr = try self.findFree(&random)
            self.initPage(self.pdbr)
            var used = [Bool](repeating: false, count: Self.vaPages)
            var allocated: [Int] = []
            for _ in 0..<max(0, count) {
                var vp = try pyIntFromFloat(random.random() * Double(Self.vaPages))
                while used[vp] { vp = try pyIntFromFloat(random.random() * Double(Self.vaPages)) }
                used[vp] = true
                allocated.append(vp)
                let pp = try self.findFree(&random)
                // allocVirtualPage
                let va = vp << 5
                let dir = self.pde(va)
                var table = dir.value & 0x7f
                if (dir.value & 0x80) >> 7 == 0 {
                    if table != 127 { throw PyException(type: "AssertionError", message: "") }
                    table = try self.findFree(&random)
                    self.memory[dir.address] = 0x80 | table
                    self.initPage(table)
                }
                let entry = self.pte(va, table: table)
                if (entry.value & 0x80) >> 7 != 0 || entry.value & 0x7f != 127 {
                    throw PyException(type: "AssertionError", message: "")
                }
                self.memory[entry.address] = 0x80 | pp
                // fillPage
                for j in 0..<Self.pageSize {
                    self.memory[pp * Self.pageSize + j] = try pyIntFromFloat(random.random() * 31)
                }
            }
            return allocated
        }
    }

    static func hex(_ value: Int, _ width: Int = 0) -> String {
        pyFormat(value, width: width, zeroPad: true, hex: true)
    }

    static func run(_ arguments: [String], _ io: ScriptIO) throws {
        let options = try self.parser().parse(arguments, io)
        io.print("ARG seed", options.string("seed"))
        io.print("ARG allocated", options.string("allocated"))
        io.print("ARG num", options.string("num"))
        io.print("")
        var random = ostepSeed(options.pyInt("seed"))
        var os = Machine()
        let used = try os.procAlloc(try machineInt(options.pyInt("allocated")), &random)
        for page in 0..<Machine.physPages {
            var line = "page \(pyFormat(page, width: 3)):"
            for j in 0..<Machine.pageSize { line += hex(os.memory[page * Machine.pageSize + j], 2) }
            io.print(line)
        }
        io.print(
            "\nPDBR:", String(os.pdbr), " (decimal) [This means the page directory is held in this page]\n")
        let num = try machineInt(options.pyInt("num"))
        let solve = options.bool("solve")
        var i = 0
        while i < num {
            let vaddr: Int
            if random.random() * 100 > 50.0 || i >= used.count {
                vaddr = try pyIntFromFloat(random.random() * 1024 * 32)
            } else {
                vaddr = (used[i] << 5) | (try pyIntFromFloat(random.random() * 32))
            }
            i += 1
            guard solve else {
                io.print(
                    "Virtual Address \(hex(vaddr, 4)): Translates To What Physical Address (And Fetches what Value)? Or Fault?"
                )
                continue
            }
            io.print("Virtual Address 0x\(hex(vaddr, 4)):")
            let dir = os.pde(vaddr)
            let dirValid = (dir.value & 0x80) >> 7
            let table = dir.value & 0x7f
            var record = TranslationRecord(vaddr: vaddr, offsetBits: 5)
            record.steps.append(
                .init(
                    table: "page directory (page \(os.pdbr))", index: dir.index, address: dir.address,
                    entry: dir.value, valid: dirValid == 1, pfn: table))
            defer { io.translations.append(record) }
            io.print(
                "  --> pde index:0x\(hex(dir.index)) [decimal \(dir.index)] pde contents:0x\(hex(dir.value)) "
                    + "(valid \(dirValid), pfn 0x\(hex(table, 2)) [decimal \(table)])")
            guard dirValid == 1 else {
                io.print("      --> Fault (page directory entry not valid)")
                continue
            }
            let entry = os.pte(vaddr, table: table)
            let valid = (entry.value & 0x80) >> 7
            let pfn = entry.value & 0x7f
            record.steps.append(
                .init(
                    table: "page table (page \(table))", index: entry.index, address: entry.address,
                    entry: entry.value, valid: valid == 1, pfn: pfn))
            io.print(
                "    --> pte index:0x\(hex(entry.index)) [decimal \(entry.index)] pte contents:0x\(hex(entry.value)) "
                    + "(valid \(valid), pfn 0x\(hex(pfn, 2)) [decimal \(pfn)])")
            guard valid == 1 else {
                io.print("      --> Fault (page table entry not valid)")
                continue
            }
            let paddr = (pfn << 5) | (vaddr & 0x1f)
            record.paddr = paddr
            record.value = os.memory[paddr]
            io.print(
                "      --> Translates to Physical Address 0x\(hex(paddr, 3)) --> Value: 0x\(hex(os.memory[paddr], 2))"
            )
        }
        io.print("")
        throw ScriptExit(status: 0)
    }
}
