/// `vm-segmentation/segmentation.py`: translation through two segments, one growing up and one
/// growing down, with random base and limit registers.
///
/// A line-by-line port. `vaddr >= asize / 2` is a float comparison in Python 3 and an integer
/// (floor) one in Python 2, which differs for odd address-space sizes. Where the script would
/// search forever for a segment placement, vmsim stops and says so.
enum SegmentationScript {
    static let maximumAddresses = 10_000_000

    static func parser() -> OptionParser {
        var p = OptionParser(prog: "segmentation.py")
        p.add(
            "-s", "--seed", dest: "seed", action: .storeInt, default: .int(PyInt(0)), help: "the random seed")
        p.add(
            "-A", "--addresses", dest: "addresses", action: .storeString, default: .string("-1"),
            help: "a set of comma-separated pages to access; -1 means randomly generate")
        p.add(
            "-a", "--asize", dest: "asize", action: .storeString, default: .string("1k"),
            help: "address space size (e.g., 16, 64k, 32m, 1g)")
        p.add(
            "-p", "--physmem", dest: "psize", action: .storeString, default: .string("16k"),
            help: "physical memory size (e.g., 16, 64k, 32m, 1g)")
        p.add(
            "-n", "--numaddrs", dest: "num", action: .storeInt, default: .int(PyInt(5)),
            help: "number of virtual addresses to generate")
        p.add(
            "-b", "--b0", dest: "base0", action: .storeString, default: .string("-1"),
            help: "value of segment 0 base register")
        p.add(
            "-l", "--l0", dest: "len0", action: .storeString, default: .string("-1"),
            help: "value of segment 0 limit register")
        p.add(
            "-B", "--b1", dest: "base1", action: .storeString, default: .string("-1"),
            help: "value of segment 1 base register")
        p.add(
            "-L", "--l1", dest: "len1", action: .storeString, default: .string("-1"),
            help: "value of segment 1 limit register")
        p.add("-c", dest: "solve", action: .storeTrue, default: .bool(false), help: "compute answers for me")
        return p
    }

    static func abortIf(_ condition: Bool, _ message: String, _ io: ScriptIO) throws {
        if condition {
            io.print("Error:", message)
            throw ScriptExit(status: 1)
        }
    }

    static func run(_ arguments: [String], _ io: ScriptIO) throws {
        let options = try self.parser().parse(arguments, io)
        io.print("ARG seed", options.string("seed"))
        io.print("ARG address space size", options.string("asize"))
        io.print("ARG phys mem size", options.string("psize"))
        io.print("")

        var random = ostepSeed(options.pyInt("seed"))
        let asize = try ostepConvert(options.string("asize"), io)
        let psize = try ostepConvert(options.string("psize"), io)
        let addresses = options.string("addresses")
        try abortIf(psize <= 4, "must specify a bigger physical memory size", io)
        try abortIf(asize == 0, "must specify a non-zero address-space size", io)
        try abortIf(psize <= asize, "physical memory size > address space size (for this simulation)", io)

        var len0 = try ostepConvert(options.string("len0"), io)
        var len1 = try ostepConvert(options.string("len1"), io)
        var base0 = try ostepConvert(options.string("base0"), io)
        var base1 = try ostepConvert(options.string("base1"), io)
        let quarter = Double(asize) / 4.0
        if len0 == -1 { len0 = try pyIntFromFloat(quarter + (quarter * random.random())) }
        if len1 == -1 { len1 = try pyIntFromFloat(quarter + (quarter * random.random())) }
        if base0 == -1 || base1 == -1 {
            try abortIf(
                psize <= 2 * asize,
                "physical memory must be 2x GREATER than address space size (if randomly generating base registers)",
                io)
        }
        if base0 == -1 {
            let length = len0
            base0 = try placeRandomly(psize: psize, possible: len0 < psize, random: &random) {
                try checked($0.addingReportingOverflow(length)) < psize
            }
        }
        if base1 == -1 {
            // Candidates are 0..<psize; one fits below psize - len1 and clear of segment 0.
            let (b0, l0, l1) = (base0, len0, len1)
            let highest = min(psize - 1, psize - l1 - 1)
            let above = max(0, b0 + l0 + 1) <= highest
            let below = 0 <= min(highest, b0 - l1 - 1)
            base1 = try placeRandomly(psize: psize, possible: above || below, random: &random) { b in
                b + l1 < psize && (b > b0 + l0 || b + l1 < b0)
            }
        } else {
            base1 -= len1
        }
        try abortIf(psize < base0 + len0 - 1, "seg0 is not in physical memory", io)
        try abortIf(psize < base1, "seg1 is not in physical memory", io)
        try abortIf(
            Double(len0) > Double(asize) / 2.0, "length0 register is too large for this address space", io)
        try abortIf(
            Double(len1) > Double(asize) / 2.0, "length1 register is too large for this address space", io)

        let nbase1 = base1 + len1
        io.print("Segment register information:")
        io.print("")
        io.print(
            "  Segment 0 base  (grows positive) : 0x\(pyFormat(base0, width: 8, zeroPad: true, hex: true)) "
                + "(decimal \(base0))")
        io.print("  Segment 0 limit                  : \(len0)")
        io.print("")
        io.print(
            "  Segment 1 base  (grows negative) : 0x\(pyFormat(nbase1, width: 8, zeroPad: true, hex: true)) "
                + "(decimal \(nbase1))")
        io.print("  Segment 1 limit                  : \(len1)")
        io.print("")
        try abortIf((len0 + base0) > base1 && (base1 > base0), "segments overlap in physical memory", io)

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
        let half = try pyDivide(asize, 2, io)
        for (i, reference) in addrList.enumerated() {
            let vaddr = try reference.value(io)
            if vaddr < 0 || vaddr >= asize {
                io.print(
                    "Error: virtual address \(vaddr) cannot be generated in an address space of size \(asize)"
                )
                throw ScriptExit(status: 1)
            }
            let va =
                "  VA \(pyFormat(i, width: 2)): 0x\(pyFormat(vaddr, width: 8, zeroPad: true, hex: true)) "
                + "(decimal: \(pyFormat(vaddr, width: 4))) --> "
            if !solve {
                io.print(va + "PA or segmentation violation?")
                continue
            }
            let inSegment1: Bool
            switch half {
            case .float(let h): inSegment1 = Double(vaddr) >= h
            case .int(let h): inSegment1 = vaddr >= h
            }
            if inSegment1 {
                let paddr = nbase1 + (vaddr - asize)
                io.segmentRecords.append(
                    SegmentRecord(
                        vaddr: vaddr, segment: 1, base: nbase1, limit: len1, asize: asize,
                        paddr: paddr < base1 ? nil : paddr))
                if paddr < base1 {
                    io.print(va + "SEGMENTATION VIOLATION (SEG1)")
                } else {
                    io.print(
                        va + "VALID in SEG1: 0x\(pyFormat(paddr, width: 8, zeroPad: true, hex: true)) "
                            + "(decimal: \(pyFormat(paddr, width: 4)))")
                }
            } else if vaddr >= len0 {
                io.segmentRecords.append(
                    SegmentRecord(
                        vaddr: vaddr, segment: 0, base: base0, limit: len0, asize: asize, paddr: nil))
                io.print(va + "SEGMENTATION VIOLATION (SEG0)")
            } else {
                let paddr = vaddr + base0
                io.segmentRecords.append(
                    SegmentRecord(
                        vaddr: vaddr, segment: 0, base: base0, limit: len0, asize: asize, paddr: paddr))
                io.print(
                    va + "VALID in SEG0: 0x\(pyFormat(paddr, width: 8, zeroPad: true, hex: true)) "
                        + "(decimal: \(pyFormat(paddr, width: 4)))")
            }
        }
        io.print("")
        if !solve {
            for line in [
                "For each virtual address, either write down the physical address it translates to",
                "OR write down that it is an out-of-bounds address (a segmentation violation). For",
                "this problem, you should assume a simple address space with two segments: the top",
                "bit of the virtual address can thus be used to check whether the virtual address",
                "is in segment 0 (topbit=0) or segment 1 (topbit=1). Note that the base/limit pairs",
                "given to you grow in different directions, depending on the segment, i.e., segment 0",
                "grows in the positive direction, whereas segment 1 in the negative. ",
                "",
            ] {
                io.print(line)
            }
        }
    }
}
