/// `vm-beyondphys-policy/paging-policy.py`: hits and misses of FIFO, LRU, MRU, OPT, UNOPT, RAND
/// and CLOCK on a page reference string.
///
/// A line-by-line port, bugs included: a page numbered -1 is printed as "Replaced:-" when it is
/// evicted (the script uses -1 for "no victim"); CLOCK picks random pages and spends their
/// reference counts rather than sweeping a hand; `-C 0` dies of an IndexError on the first miss.
enum PagingPolicyScript {
    /// Generated reference strings longer than this are refused (the script would build the list).
    static let maximumAddresses = 10_000_000

    /// One entry of `addrList`: an int the script generated or read, or a string from `-a`
    /// that `int()` parses when it is used.
    enum Reference {
        case int(Int)
        case text(String)

        func value(_ io: ScriptIO) throws -> Int {
            switch self {
            case .int(let n): n
            case .text(let s): try pyIntFromString(s, io)
            }
        }
    }

    static func parser() -> OptionParser {
        var p = OptionParser(prog: "paging-policy.py")
        p.add(
            "-a", "--addresses", dest: "addresses", action: .storeString, default: .string("-1"),
            help: "a set of comma-separated pages to access; -1 means randomly generate")
        p.add(
            "-f", "--addressfile", dest: "addressfile", action: .storeString, default: .string(""),
            help: "a file with a bunch of addresses in it")
        p.add(
            "-n", "--numaddrs", dest: "numaddrs", action: .storeString, default: .string("10"),
            help: "if -a (--addresses) is -1, this is the number of addrs to generate")
        p.add(
            "-p", "--policy", dest: "policy", action: .storeString, default: .string("FIFO"),
            help: "replacement policy: FIFO, LRU, OPT, UNOPT, RAND, CLOCK")
        p.add(
            "-b", "--clockbits", dest: "clockbits", action: .storeInt, default: .int(PyInt(2)),
            help: "for CLOCK policy, how many clock bits to use")
        p.add(
            "-C", "--cachesize", dest: "cachesize", action: .storeString, default: .string("3"),
            help: "size of the page cache, in pages")
        p.add(
            "-m", "--maxpage", dest: "maxpage", action: .storeString, default: .string("10"),
            help: "if randomly generating page accesses, this is the max page number")
        p.add(
            "-s", "--seed", dest: "seed", action: .storeString, default: .string("0"),
            help: "random number seed")
        p.add(
            "-N", "--notrace", dest: "notrace", action: .storeTrue, default: .bool(false),
            help: "do not print out a detailed trace")
        p.add(
            "-c", "--compute", dest: "solve", action: .storeTrue, default: .bool(false),
            help: "compute answers for me")
        return p
    }

    static func run(_ arguments: [String], _ io: ScriptIO) throws {
        let options = try self.parser().parse(arguments, io)
        for (label, key) in [
            ("addresses", "addresses"), ("addressfile", "addressfile"), ("numaddrs", "numaddrs"),
            ("policy", "policy"), ("clockbits", "clockbits"), ("cachesize", "cachesize"),
            ("maxpage", "maxpage"),
            ("seed", "seed"), ("notrace", "notrace"),
        ] {
            io.print("ARG \(label)", options.string(key))
        }
        io.print("")

        let addresses = options.string("addresses")
        let addressFile = options.string("addressfile")
        let numaddrs = try pyIntFromString(options.string("numaddrs"), io)
        let cachesize = try pyIntFromString(options.string("cachesize"), io)
        let seed = try pythonInt(options.string("seed"), python: io.python)
        let maxpage = try pyIntFromString(options.string("maxpage"), io)
        let policy = options.string("policy")
        let notrace = options.bool("notrace")
        let clockbits = try machineInt(options.pyInt("clockbits"))
        var random = ostepSeed(seed)

        var addrList: [Reference] = []
        if addressFile != "" {
            for line in try self.lines(of: addressFile, io) {
                addrList.append(.int(try pyIntFromString(line, io)))
            }
        } else if addresses == "-1" {
            if numaddrs > Self.maximumAddresses {
                throw NotReproduced(
                    message: "-n \(numaddrs): vmsim generates at most \(Self.maximumAddresses) addresses")
            }
            for _ in 0..<max(0, numaddrs) {
                addrList.append(.int(try pyIntFromFloat(Double(maxpage) * random.random())))
            }
        } else {
            addrList = addresses.split(separator: ",", omittingEmptySubsequences: false).map {
                .text(String($0))
            }
        }

        if !options.bool("solve") {
            io.print("Assuming a replacement policy of \(policy), and a cache of size \(cachesize) pages,")
            io.print("figure out whether each of the following page references hit or miss")
            io.print("in the page cache.\n")
            for reference in addrList {
                io.print("Access: \(try reference.value(io))  Hit/Miss?  State of Memory?")
            }
            io.print("")
            return
        }

        if !notrace { io.print("Solving...\n") }
        let leftStr: String
        let riteStr: String
        switch policy {
        case "FIFO": (leftStr, riteStr) = ("FirstIn", "Lastin ")
        case "LRU", "MRU": (leftStr, riteStr) = ("LRU", "MRU")
        case "OPT", "RAND", "UNOPT", "CLOCK": (leftStr, riteStr) = ("Left ", "Right")
        default:
            io.print("Policy \(policy) is not yet implemented")
            throw ScriptExit(status: 1)
        }

        var count = 0
        var memory: [Int] = []
        var hits = 0
        var miss = 0
        var ref: [Int: Int] = [:]
        for (addrIndex, reference) in addrList.enumerated() {
            let n = try reference.value(io)
            var idx = -1
            if let found = memory.firstIndex(of: n) {
                idx = found
                hits += 1
                if policy == "LRU" || policy == "MRU" {
                    memory.remove(at: found)
                    memory.append(n)
                }
            } else {
                miss += 1
            }
            var victim = -1
            if idx == -1 {
                if count == cachesize {
                    switch policy {
                    case "FIFO", "LRU": victim = try self.pop(&memory, 0)
                    case "MRU": victim = try self.pop(&memory, count - 1)
                    case "RAND":
                        victim = try self.pop(&memory, try pyIntFromFloat(random.random() * Double(count)))
                    case "CLOCK":
                        victim = -1
                        while victim == -1 {
                            let slot = try pyIntFromFloat(random.random() * Double(count))
                            guard slot >= -memory.count && slot < memory.count else {
                                throw PyException(type: "IndexError", message: "list index out of range")
                            }
                            let page = memory[slot < 0 ? slot + memory.count : slot]
                            if ref[page]! >= 1 {
                                ref[page]! -= 1
                            } else {
                                victim = page
                                memory.remove(at: memory.firstIndex(of: page)!)
                                break
                            }
                        }
                        ref[victim] = nil
                    case "OPT":
                        var maxReplace = -1
                        var replaceIdx = -1
                        for pageIndex in 0..<max(0, count) {
                            let page = memory[pageIndex]
                            let whenReferenced = try self.nextUse(
                                of: page, after: addrIndex, in: addrList, io)
                            if whenReferenced >= maxReplace {
                                replaceIdx = pageIndex
                                maxReplace = whenReferenced
                            }
                        }
                        victim = try self.pop(&memory, replaceIdx)
                    case "UNOPT":
                        var minReplace = addrList.count + 1
                        var replaceIdx = -1
                        for pageIndex in 0..<max(0, count) {
                            let page = memory[pageIndex]
                            let whenReferenced = try self.nextUse(
                                of: page, after: addrIndex, in: addrList, io)
                            if whenReferenced < minReplace {
                                replaceIdx = pageIndex
                                minReplace = whenReferenced
                            }
                        }
                        victim = try self.pop(&memory, replaceIdx)
                    default: break
                    }
                } else {
                    victim = -1
                    count += 1
                }
                memory.append(n)
                if victim != -1 && memory.contains(victim) {
                    throw PyException(type: "AssertionError", message: "")
                }
            }
            if let bits = ref[n] {
                ref[n] = bits + 1 > clockbits ? clockbits : bits + 1
            } else {
                ref[n] = 1
            }
            if !notrace {
                let list = "[" + memory.map(String.init).joined(separator: ", ") + "]"
                io.print(
                    "Access: \(n)  \(idx == -1 ? "MISS" : "HIT ") \(leftStr) -> \(pyFormat(list, width: 12)) <- "
                        + "\(riteStr) Replaced:\(victim == -1 ? "-" : String(victim)) [Hits:\(hits) Misses:\(miss)]"
                )
            }
        }
        io.print("")
        let rate = try pyFloatDivide(100.0 * Double(hits), Double(hits) + Double(miss))
        io.print("FINALSTATS hits \(hits)   misses \(miss)   hitrate \(pyFormatFixed(rate, precision: 2))")
        io.print("")
    }

    /// When `page` is next referenced after position `index`, or the list's length if never.
    static func nextUse(of page: Int, after index: Int, in list: [Reference], _ io: ScriptIO) throws -> Int {
        var future = index + 1
        while future < list.count {
            if try list[future].value(io) == page { return future }
            future += 1
        }
        return list.count
    }

    /// `list.pop(i)`, negative indices counting from the end.
    static func pop(_ list: inout [Int], _ index: Int) throws -> Int {
        if list.isEmpty { throw PyException(type: "IndexError", message: "pop from empty list") }
        guard index >= -list.count && index < list.count else {
            throw PyException(type: "IndexError", message: "pop index out of range")
        }
        return list.remove(at: index < 0 ? index + list.count : index)
    }

    /// `for line in open(name)`: lines with their newline (Python 3 reads text mode, so `\r\n`
    /// and `\r` end lines too; Python 2 splits at `\n` only).
    static func lines(of name: String, _ io: ScriptIO) throws -> [String] {
        guard let bytes = io.environment.readFile(name) else {
            throw PyException(
                type: io.python == .three ? "FileNotFoundError" : "IOError",
                message: "[Errno 2] No such file or directory: \(pythonRepr(name, python: io.python))")
        }
        var text: String
        if io.python == .three {
            guard let decoded = String(validating: bytes, as: UTF8.self) else {
                throw NotReproduced(message: "\(name) is not UTF-8 (Python 3 would raise UnicodeDecodeError)")
            }
            text = decoded.replacingCRLF()
        } else {
            text = String(decoding: bytes, as: UTF8.self)
        }
        var lines: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            current.unicodeScalars.append(scalar)
            if scalar == "\n" {
                lines.append(current)
                current = ""
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }
}

extension String {
    /// Universal newlines: `\r\n` and `\r` become `\n`.
    fileprivate func replacingCRLF() -> String {
        var out = String.UnicodeScalarView()
        var previousCR = false
        for scalar in self.unicodeScalars {
            if scalar == "\r" {
                out.append("\n")
                previousCR = true
                continue
            }
            if scalar == "\n" && previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            out.append(scalar)
        }
        return String(out)
    }
}
