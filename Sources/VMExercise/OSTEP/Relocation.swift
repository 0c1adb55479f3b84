/// `vm-mechanism/relocation.py`: base-and-bounds translation of random virtual addresses.
///
/// A line-by-line port. Where the script would search forever for a base that fits (a limit as
/// large as physical memory), vmsim stops and says so instead of hanging.
enum RelocationScript {
    static func parser() -> OptionParser {
        var p = OptionParser(prog: "relocation.py")
        p.add(
            "-s", "--seed", dest: "seed", action: .storeInt, default: .int(PyInt(0)), help: "the random seed")
        p.add(
            "-a", "--asize", dest: "asize", action: .storeString, default: .string("1k"),
            help: "address space size (e.g., 16, 64k, 32m, 1g)")
        p.add(
            "-p", "--physmem", dest: "psize", action: .storeString, default: .string("16k"),
            help: "physical memory size (e.g., 16, 64k, 32m, 1g)")
        p.add(
            "-n", "--addresses", dest: "num", action: .storeInt, default: .int(PyInt(5)),
            help: "number of virtual addresses to generate")
        p.add(
            "-b", "--b", dest: "base", action: .storeString, default: .string("-1"),
            help: "value of base register")
        p.add(
            "-l", "--l", dest: "limit", action: .storeString, default: .string("-1"),
            help: "value of limit register")
        p.add(
            "-c", "--compute", dest: "solve", action: .storeTrue, default: .bool(false),
            help: "compute answers for me")
        return p
    }

    static func run(_ arguments: [String], _ io: ScriptIO) throws {
        let options = try self.parser().parse(arguments, io)
        io.print("")
        io.print("ARG seed", options.string("seed"))
        io.print("ARG address space size", options.string("asize"))
        io.print("ARG phys mem size", options.string("psize"))
        io.print("")

        var random = ostepSeed(options.pyInt("seed"))
        let asize = try ostepConvert(options.string("asize"), io)
        let psize = try ostepConvert(options.string("psize"), io)
        if psize <= 1 {
            io.print("Error: must specify a non-zero physical memory size.")
            throw ScriptExit(status: 1)
        }
        if asize == 0 {
            io.print("Error: must specify a non-zero address-space size.")
            throw ScriptExit(status: 1)
        }
        if psize <= asize {
            io.print(
                "Error: physical memory size must be GREATER than address space size (for this simulation)")
            throw ScriptExit(status: 1)
        }
        var limit = try ostepConvert(options.string("limit"), io)
        var base = try ostepConvert(options.string("base"), io)
        if limit == -1 {
            limit = try pyIntFromFloat(Double(asize) / 4.0 + (Double(asize) / 4.0 * random.random()))
        }
        if base == -1 {
            base = try placeRandomly(psize: psize, possible: limit < psize, random: &random) {
                try checked($0.addingReportingOverflow(limit)) < psize
            }
        }
        let solve = options.bool("solve")
        io.print("Base-and-Bounds register information:")
        io.print("")
        io.print("  Base   : 0x\(pyFormat(base, width: 8, zeroPad: true, hex: true)) (decimal \(base))")
        io.print("  Limit  : \(limit)")
        io.print("")
        let end = try checked(base.addingReportingOverflow(limit))
        if end > psize {
            io.print("Error: address space does not fit into physical memory with those base/bounds values.")
            io.print("Base + Limit:", String(end), "  Psize:", String(psize))
            throw ScriptExit(status: 1)
        }
        io.print("Virtual Address Trace")
        let num = try machineInt(options.pyInt("num"))
        var i = 0
        while i < num {
            let vaddr = try pyIntFromFloat(Double(asize) * random.random())
            let va =
                "  VA \(pyFormat(i, width: 2)): 0x\(pyFormat(vaddr, width: 8, zeroPad: true, hex: true)) "
                + "(decimal: \(pyFormat(vaddr, width: 4))) --> "
            if !solve {
                io.print(va + "PA or segmentation violation?")
            } else if vaddr >= limit {
                io.print(va + "SEGMENTATION VIOLATION")
            } else {
                let paddr = try checked(vaddr.addingReportingOverflow(base))
                io.print(
                    va + "VALID: 0x\(pyFormat(paddr, width: 8, zeroPad: true, hex: true)) "
                        + "(decimal: \(pyFormat(paddr, width: 4)))")
            }
            i += 1
        }
        io.print("")
        if !solve {
            io.print("For each virtual address, either write down the physical address it translates to")
            io.print("OR write down that it is an out-of-bounds address (a segmentation violation). For")
            io.print("this problem, you should assume a simple virtual address space of a given size.")
            io.print("")
        }
    }
}

/// The scripts' `while done == 0: base = int(psize * random.random()); if fits(base): done = 1`.
///
/// `possible` says whether any integer in 0..<psize fits (the caller knows the arithmetic); when
/// none does the script would loop forever, and vmsim stops with `NotReproduced` instead — as it
/// does after 100 million tries.
func placeRandomly(
    psize: Int, possible: Bool, random: inout PyRandom, fits: (Int) throws -> Bool
) throws -> Int {
    if possible {
        for _ in 0..<100_000_000 {
            let candidate = try pyIntFromFloat(Double(psize) * random.random())
            if try fits(candidate) { return candidate }
        }
    }
    throw NotReproduced(message: "no random base fits, so the script would loop forever here")
}
