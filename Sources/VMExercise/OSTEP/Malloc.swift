/// `vm-freespace/malloc.py`: a free-list allocator (BEST, WORST or FIRST fit; five list orders;
/// optional coalescing) driven by random or listed operations.
///
/// A line-by-line port, bugs included: with random operations a failed allocation is reported
/// as returning `-1 + headerSize`; in an `-A` list an operation that is neither `+N` nor `-N`
/// calls an undefined `abort` (a NameError), freeing an index that never got memory is a
/// KeyError, and the list order is re-sorted with Python's stable `sorted`.
enum MallocScript {
    static func parser() -> OptionParser {
        var p = OptionParser(prog: "malloc.py")
        p.add(
            "-s", "--seed", dest: "seed", action: .storeInt, default: .int(PyInt(0)), help: "the random seed")
        p.add(
            "-S", "--size", dest: "heapSize", action: .storeInt, default: .int(PyInt(100)),
            help: "size of the heap")
        p.add(
            "-b", "--baseAddr", dest: "baseAddr", action: .storeInt, default: .int(PyInt(1000)),
            help: "base address of heap")
        p.add(
            "-H", "--headerSize", dest: "headerSize", action: .storeInt, default: .int(PyInt(0)),
            help: "size of the header")
        p.add(
            "-a", "--alignment", dest: "alignment", action: .storeInt, default: .int(PyInt(-1)),
            help: "align allocated units to size; -1->no align")
        p.add(
            "-p", "--policy", dest: "policy", action: .storeString, default: .string("BEST"),
            help: "list search (BEST, WORST, FIRST)")
        p.add(
            "-l", "--listOrder", dest: "order", action: .storeString, default: .string("ADDRSORT"),
            help: "list order (ADDRSORT, SIZESORT+, SIZESORT-, INSERT-FRONT, INSERT-BACK)")
        p.add(
            "-C", "--coalesce", dest: "coalesce", action: .storeTrue, default: .bool(false),
            help: "coalesce the free list?")
        p.add(
            "-n", "--numOps", dest: "opsNum", action: .storeInt, default: .int(PyInt(10)),
            help: "number of random ops to generate")
        p.add(
            "-r", "--range", dest: "opsRange", action: .storeInt, default: .int(PyInt(10)),
            help: "max alloc size")
        p.add(
            "-P", "--percentAlloc", dest: "opsPAlloc", action: .storeInt, default: .int(PyInt(50)),
            help: "percent of ops that are allocs")
        p.add(
            "-A", "--allocList", dest: "opsList", action: .storeString, default: .string(""),
            help: "instead of random, list of ops (+10,-0,etc)")
        p.add(
            "-c", "--compute", dest: "solve", action: .storeTrue, default: .bool(false),
            help: "compute answers for me")
        return p
    }

    /// The script's `malloc` class.
    struct Heap {
        var size: Int
        var headerSize: Int
        var freelist: [(addr: Int, size: Int)]
        var sizemap: [Int: Int] = [:]
        var policy: String
        var order: String
        var coalesce: Bool
        var align: Int

        mutating func malloc(_ request: Int) throws -> (Int, Int) {
            var size = request
            if self.align != -1 {
                let left = pyMod(size, self.align)
                size = try checked(size.addingReportingOverflow(left != 0 ? self.align - left : 0))
            }
            size = try checked(size.addingReportingOverflow(self.headerSize))
            var bestIdx = -1
            var bestSize = self.policy == "BEST" ? self.size + 1 : -1
            var bestAddr = 0
            var count = 0
            for (i, entry) in self.freelist.enumerated() {
                count += 1
                if entry.size >= size
                    && ((self.policy == "BEST" && entry.size < bestSize)
                        || (self.policy == "WORST" && entry.size > bestSize) || self.policy == "FIRST")
                {
                    bestAddr = entry.addr
                    bestSize = entry.size
                    bestIdx = i
                    if self.policy == "FIRST" { break }
                }
            }
            guard bestIdx != -1 else { return (-1, count) }
            if bestSize > size {
                self.freelist[bestIdx] = (
                    try checked(bestAddr.addingReportingOverflow(size)), bestSize - size
                )
            } else {
                self.freelist.remove(at: bestIdx)
            }
            if self.sizemap[bestAddr] != nil { throw PyException(type: "AssertionError", message: "") }
            self.sizemap[bestAddr] = size
            return (bestAddr, count)
        }

        mutating func free(_ addr: Int) throws -> Int {
            guard let size = self.sizemap[addr] else { return -1 }
            switch self.order {
            case "INSERT-BACK": self.freelist.append((addr, size))
            case "INSERT-FRONT": self.freelist.insert((addr, size), at: 0)
            case "ADDRSORT":
                self.freelist.append((addr, size))
                self.freelist = stableSorted(self.freelist) { $0.addr < $1.addr }
            case "SIZESORT+":
                self.freelist.append((addr, size))
                self.freelist = stableSorted(self.freelist) { $0.size < $1.size }
            default:  // SIZESORT-: sorted(reverse=True) keeps equal sizes in their order.
                self.freelist.append((addr, size))
                self.freelist = stableSorted(self.freelist) { $0.size > $1.size }
            }
            if self.coalesce {
                var merged: [(addr: Int, size: Int)] = []
                var current = self.freelist[0]
                for entry in self.freelist.dropFirst() {
                    if entry.addr == (try checked(current.addr.addingReportingOverflow(current.size))) {
                        current = (
                            current.addr, try checked(current.size.addingReportingOverflow(entry.size))
                        )
                    } else {
                        merged.append(current)
                        current = entry
                    }
                }
                merged.append(current)
                self.freelist = merged
            }
            self.sizemap[addr] = nil
            return 0
        }

        func dump(_ io: ScriptIO) {
            var line = "Free List [ Size \(self.freelist.count) ]: "
            for entry in self.freelist { line += "[ addr:\(entry.addr) sz:\(entry.size) ]" }
            io.print(line)
        }
    }

    static func run(_ arguments: [String], _ io: ScriptIO) throws {
        let options = try self.parser().parse(arguments, io)
        let headerSize = try machineInt(options.pyInt("headerSize"))
        let policy = options.string("policy")
        let order = options.string("order")
        let align = try machineInt(options.pyInt("alignment"))
        var m = Heap(
            size: try machineInt(options.pyInt("heapSize")), headerSize: headerSize,
            freelist: [
                (try machineInt(options.pyInt("baseAddr")), try machineInt(options.pyInt("heapSize")))
            ],
            policy: policy, order: order, coalesce: options.bool("coalesce"), align: align)
        guard ["FIRST", "BEST", "WORST"].contains(policy),
            ["ADDRSORT", "SIZESORT+", "SIZESORT-", "INSERT-FRONT", "INSERT-BACK"].contains(order),
            align == -1 || align > 0
        else { throw PyException(type: "AssertionError", message: "") }

        for (label, key) in [
            ("seed", "seed"), ("size", "heapSize"), ("baseAddr", "baseAddr"), ("headerSize", "headerSize"),
            ("alignment", "alignment"), ("policy", "policy"), ("listOrder", "order"),
            ("coalesce", "coalesce"),
            ("numOps", "opsNum"), ("range", "opsRange"), ("percentAlloc", "opsPAlloc"),
            ("allocList", "opsList"),
            ("compute", "solve"),
        ] {
            io.print(label, options.string(key))
        }
        io.print("")
        let percent = Double(try machineInt(options.pyInt("opsPAlloc"))) / 100.0
        var random = ostepSeed(options.pyInt("seed"))
        if !(percent > 0) { throw PyException(type: "AssertionError", message: "") }
        let solve = options.bool("solve")
        var p: [Int: Int] = [:]
        let opsList = options.string("opsList")
        if opsList == "" {
            var live: [Int] = []
            var c = 0
            var j = 0
            let opsNum = try machineInt(options.pyInt("opsNum"))
            let opsRange = Double(try machineInt(options.pyInt("opsRange")))
            while j < opsNum {
                var printed = false
                if random.random() < percent {
                    let size = try checked(
                        try pyIntFromFloat(random.random() * opsRange).addingReportingOverflow(1))
                    let (ptr, cnt) = try m.malloc(size)
                    if ptr != -1 {
                        p[c] = ptr
                        live.append(c)
                    }
                    io.write("ptr[\(c)] = Alloc(\(size))")
                    if solve {
                        let shown = try checked(ptr.addingReportingOverflow(headerSize))
                        io.mallocRecords.append(
                            MallocRecord(
                                call: "ptr[\(c)] = Alloc(\(size))", returned: shown, searched: cnt,
                                freeList: m.freelist))
                        io.print(" returned \(shown) (searched \(cnt) elements)")
                    } else {
                        io.print(" returned ?")
                    }
                    c += 1
                    j += 1
                    printed = true
                } else if !p.isEmpty {
                    let d = try pyIntFromFloat(random.random() * Double(live.count))
                    let rc = try m.free(p[live[d]]!)
                    io.print("Free(ptr[\(live[d])])")
                    io.print(solve ? "returned \(rc)" : "returned ?")
                    if solve {
                        io.mallocRecords.append(
                            MallocRecord(
                                call: "Free(ptr[\(live[d])])", returned: rc, searched: nil,
                                freeList: m.freelist))
                    }
                    p[live[d]] = nil
                    live.remove(at: d)
                    printed = true
                    j += 1
                }
                if printed {
                    if solve { m.dump(io) } else { io.print("List? ") }
                    io.print("")
                }
            }
            return
        }
        var c = 0
        for op in opsList.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard let first = op.unicodeScalars.first else {
                throw PyException(type: "IndexError", message: "string index out of range")
            }
            if first == "+" {
                let size = try pyIntFromString(self.secondField(op, "+"), io)
                let (ptr, cnt) = try m.malloc(size)
                if ptr != -1 { p[c] = ptr }
                io.write("ptr[\(c)] = Alloc(\(size))")
                io.print(solve ? " returned \(ptr) (searched \(cnt) elements)" : " returned ?")
                if solve {
                    io.mallocRecords.append(
                        MallocRecord(
                            call: "ptr[\(c)] = Alloc(\(size))", returned: ptr, searched: cnt,
                            freeList: m.freelist))
                }
                c += 1
            } else if first == "-" {
                let index = try pyIntFromString(self.secondField(op, "-"), io)
                if index >= p.count {
                    io.print("Invalid Free: Skipping")
                    continue
                }
                io.print("Free(ptr[\(index)])")
                guard let addr = p[index] else { throw PyException(type: "KeyError", message: String(index)) }
                let rc = try m.free(addr)
                io.print(solve ? "returned \(rc)" : "returned ?")
                if solve {
                    io.mallocRecords.append(
                        MallocRecord(
                            call: "Free(ptr[\(index)])", returned: rc, searched: nil, freeList: m.freelist))
                }
            } else {
                throw PyException(type: "NameError", message: "name 'abort' is not defined")
            }
            if solve { m.dump(io) } else { io.print("List?") }
            io.print("")
        }
    }

    /// `op.split(separator)[1]`.
    static func secondField(_ op: String, _ separator: Character) -> String {
        let fields = op.split(separator: separator, omittingEmptySubsequences: false)
        return fields.count > 1 ? String(fields[1]) : ""
    }
}

/// Python's `sorted(key=…)`: a stable merge sort (Swift's `sorted` does not promise stability).
func stableSorted<T>(_ items: [T], by less: (T, T) -> Bool) -> [T] {
    if items.count <= 1 { return items }
    let middle = items.count / 2
    let left = stableSorted(Array(items[..<middle]), by: less)
    let right = stableSorted(Array(items[middle...]), by: less)
    var out: [T] = []
    out.reserveCapacity(items.count)
    var i = 0
    var j = 0
    while i < left.count && j < right.count {
        if less(right[j], left[i]) {
            out.append(right[j])
            j += 1
        } else {
            out.append(left[i])
            i += 1
        }
    }
    out.append(contentsOf: left[i...])
    out.append(contentsOf: right[j...])
    return out
}
