#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `vm-paging/paging-linear-translate.py`: a linear page table in random frames, and virtual
/// addresses to translate through it.
///
/// A line-by-line port. `mustbemultipleof` compares `int(float(a)/float(b))` with `a / b`, which
/// is true division in Python 3 but floor division in Python 2 — so under Python 2 the script
/// never rejects a size that is not a multiple of the page size. Page-table bits come from
/// `math.log` (the C library's `log`, as in CPython).
enum PagingLinearTranslateScript {
    static let maximumPages = 1 << 26
    static let maximumAddresses = 10_000_000

    static func parser() -> OptionParser {
        var p = OptionParser(prog: "paging-linear-translate.py")
        p.add(
            "-A", "--addresses", dest: "addresses", action: .storeString, default: .string("-1"),
            help: "a set of comma-separated pages to access; -1 means randomly generate")
        p.add(
            "-s", "--seed", dest: "seed", action: .storeInt, default: .int(PyInt(0)), help: "the random seed")
        p.add(
            "-a", "--asize", dest: "asize", action: .storeString, default: .string("16k"),
            help: "address space size (e.g., 16, 64k, 32m, 1g)")
        p.add(
            "-p", "--physmem", dest: "psize", action: .storeString, default: .string("64k"),
            help: "physical memory size (e.g., 16, 64k, 32m, 1g)")
        p.add(
            "-P", "--pagesize", dest: "pagesize", action: .storeString, default: .string("4k"),
            help: "page size (e.g., 4k, 8k, whatever)")
        p.add(
            "-n", "--numaddrs", dest: "num", action: .storeInt, default: .int(PyInt(5)),
            help: "number of virtual addresses to generate")
        p.add(
            "-u", "--used", dest: "used", action: .storeInt, default: .int(PyInt(50)),
            help: "percent of virtual address space that is used")
        p.add("-v", dest: "verbose", action: .storeTrue, default: .bool(false), help: "verbose mode")
        p.add("-c", dest: "solve", action: .storeTrue, default: .bool(false), help: "compute answers for me")
        return p
    }

    static func fail(_ message: String, _ io: ScriptIO) throws -> Never {
        io.print(message)
        throw ScriptExit(status: 1)
    }

    static func mustBeMultiple(_ big: Int, _ num: Int, _ message: String, _ io: ScriptIO) throws {
        let truncated = try pyIntFromFloat(try pyFloatDivide(Double(big), Double(num)))
        let differs: Bool
        switch try pyDivide(big, num, io) {
        case .float(let q): differs = Double(truncated) != q
        case .int(let q): differs = truncated != q
        }
        if differs { try fail("Error in argument: \(message)", io) }
    }

    /// `int(math.log(float(x))/math.log(2.0))`.
    static func log2Bits(_ x: Int) throws -> Int {
        if x <= 0 { throw PyException(type: "ValueError", message: "math domain error") }
        return try pyIntFromFloat(log(Double(x)) / log(2.0))
    }

    static func run(_ arguments: [String], _ io: ScriptIO) throws {
        let options = try self.parser().parse(arguments, io)
        let verbose = options.bool("verbose")
        io.print("ARG seed", options.string("seed"))
        io.print("ARG address space size", options.string("asize"))
        io.print("ARG phys mem size", options.string("psize"))
        io.print("ARG page size", options.string("pagesize"))
        io.print("ARG verbose", options.string("verbose"))
        io.print("ARG addresses", options.string("addresses"))
        io.print("")

        var random = PyRandom(seed: options.pyInt("seed"))
        let asize = try ostepConvert(options.string("asize"), io)
        let psize = try ostepConvert(options.string("psize"), io)
        let pagesize = try ostepConvert(options.string("pagesize"), io)
        let addresses = options.string("addresses")
        if psize <= 1 { try fail("Error: must specify a non-zero physical memory size.", io) }
        if asize < 1 { try fail("Error: must specify a non-zero address-space size.", io) }
        if psize <= asize {
            try fail(
                "Error: physical memory size must be GREATER than address space size (for this simulation)",
                io)
        }
        if psize >= 1 << 30 || asize >= 1 << 30 {
            try fail("Error: must use smaller sizes (less than 1 GB) for this simulation.", io)
        }
        try mustBeMultiple(asize, pagesize, "address space must be a multiple of the pagesize", io)
        try mustBeMultiple(psize, pagesize, "physical memory must be a multiple of the pagesize", io)

        let pages = try self.quotientAsInt(psize, pagesize, io)
        if pages > Self.maximumPages {
            throw NotReproduced(
                message: "\(pages) physical pages: vmsim follows at most \(Self.maximumPages)")
        }
        var used = [Bool](repeating: false, count: max(0, pages))
        let vpages = try self.quotientAsInt(asize, pagesize, io)
        let vabits = try log2Bits(asize)
        if pow(2.0, Double(vabits)) != Double(asize) {
            try fail("Error in argument: address space must be a power of 2", io)
        }
        let pagebits = try log2Bits(pagesize)
        if pow(2.0, Double(pagebits)) != Double(pagesize) {
            try fail("Error in argument: page size must be a power of 2", io)
        }
        let pagemask = (1 << pagebits) - 1
        let vpnmask = 0xFFFF_FFFF & ~pagemask

        for line in [
            "", "The format of the page table is simple:", "The high-order (left-most) bit is the VALID bit.",
            "  If the bit is 1, the rest of the entry is the PFN.",
            "  If the bit is 0, the page is not valid.",
            "Use verbose mode (-v) if you want to print the VPN # by", "each entry of the page table.", "",
            "Page Table (from entry 0 down to the max size)",
        ] {
            io.print(line)
        }
        let percentUsed = Double(try machineInt(options.pyInt("used")))
        var pt: [Int] = []
        for v in 0..<max(0, vpages) {
            let prefix = verbose ? "  [\(pyFormat(v, width: 8))]  " : "  "
            while true {
                if random.random() * 100.0 > 100.0 - percentUsed {
                    let u = try pyIntFromFloat(Double(pages) * random.random())
                    if !used[u] {
                        used[u] = true
                        io.print(
                            prefix + "0x" + pyFormat(0x8000_0000 | u, width: 8, zeroPad: true, hex: true))
                        pt.append(u)
                        break
                    }
                } else {
                    io.print(prefix + "0x" + pyFormat(0, width: 8, zeroPad: true, hex: true))
                    pt.append(-1)
                    break
                }
            }
        }
        io.print("")

        var addrList: [PagingPolicyScript.Reference] = []
        if addresses == "-1" {
            let num = try machineInt(options.pyInt("num"))
            if num > Self.maximumAddresses {
                throw NotReproduced(
                    message: "-n \(num): vmsim generates at most \(Self.maximumAddresses) addresses")
            }
            for _ in 0..<max(0, num) {
                addrList.append(.int(try pyIntFromFloat(Double(asize) * random.random())))
            }
        } else {
            addrList = addresses.split(separator: ",", omittingEmptySubsequences: false).map {
                .text(String($0))
            }
        }
        io.print("Virtual Address Trace")
        let solve = options.bool("solve")
        for reference in addrList {
            let vaddr = try reference.value(io)
            let va =
                "  VA 0x\(pyFormat(vaddr, width: 8, zeroPad: true, hex: true)) (decimal: \(pyFormat(vaddr, width: 8))) --> "
            if !solve {
                io.print(va + "PA or invalid address?")
                continue
            }
            let vpn = (vaddr & vpnmask) >> pagebits
            guard vpn < pt.count else {
                throw PyException(type: "IndexError", message: "array index out of range")
            }
            var record = TranslationRecord(vaddr: vaddr, offsetBits: pagebits)
            record.steps.append(
                .init(
                    table: "page table", index: vpn, address: nil,
                    entry: pt[vpn] < 0 ? 0 : 0x8000_0000 | pt[vpn],
                    valid: pt[vpn] >= 0, pfn: max(0, pt[vpn])))
            if pt[vpn] >= 0 { record.paddr = (pt[vpn] << pagebits) | (vaddr & pagemask) }
            io.translations.append(record)
            if pt[vpn] < 0 {
                io.print(va + " Invalid (VPN \(vpn) not valid)")
            } else {
                let paddr = (pt[vpn] << pagebits) | (vaddr & pagemask)
                io.print(
                    va
                        + "\(pyFormat(paddr, width: 8, zeroPad: true, hex: true)) (decimal \(pyFormat(paddr, width: 8))) [VPN \(vpn)]"
                )
            }
        }
        io.print("")
        if !solve {
            io.print("For each virtual address, write down the physical address it translates to")
            io.print("OR write down that it is an out-of-bounds address (e.g., segfault).")
            io.print("")
        }
    }

    /// `int(a / b)`: of a float quotient in Python 3, of a floor quotient in Python 2.
    static func quotientAsInt(_ a: Int, _ b: Int, _ io: ScriptIO) throws -> Int {
        switch try pyDivide(a, b, io) {
        case .float(let q): try pyIntFromFloat(q)
        case .int(let q): q
        }
    }
}
