import VMTypes

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Synthetic page-reference patterns.
public enum TracePattern: String, CaseIterable, Sendable {
    /// A scan through `pages` pages, each touched by `length / pages` consecutive accesses (an
    /// array read word by word).
    case sequential
    /// Pages 0, 1, …, pages − 1, again and again (LRU's worst case once pages > frames).
    case loop
    /// Every access picks one of `pages` pages uniformly.
    case uniform
    /// Page k (0-based) is picked with probability ∝ 1/(k+1)^α.
    case zipf
    /// Working-set phases: `phases` equal stretches, each uniform over its own window of
    /// `workingSet` pages, the windows spread evenly over the `pages` pages.
    case phases
}

/// What to generate.
public struct TraceSpec: Sendable {
    /// The access pattern.
    public var pattern: TracePattern
    /// Accesses to generate.
    public var length: Int
    /// Distinct pages.
    public var pages: Int
    /// The Zipf exponent.
    public var alpha = 0.9
    /// Phases of the phases pattern.
    public var phases = 4
    /// Pages per phase; 0 means pages / 4.
    public var workingSet = 0
    /// Fraction of accesses that are writes.
    public var writeRatio = 0.0
    /// The random seed.
    public var seed: UInt64 = 1

    /// A spec with the other settings at their defaults.
    public init(pattern: TracePattern, length: Int, pages: Int) {
        self.pattern = pattern
        self.length = length
        self.pages = pages
    }
}

/// Generates the page numbers (and write flags) of a synthetic trace, one at a time and
/// deterministically for a seed.
public struct TraceGenerator {
    /// What to generate.
    let spec: TraceSpec
    /// The seeded random numbers.
    var rng: SeededGenerator
    /// Accesses generated so far.
    var index = 0
    /// Zipf: the cumulative distribution over ranks.
    let cdf: [Double]
    /// A random 64-bit value below this makes a write.
    let writeThreshold: UInt64

    /// A generator for `spec`.
    public init(_ spec: TraceSpec) {
        precondition(spec.pages >= 1 && spec.length >= 0)
        self.spec = spec
        self.rng = SeededGenerator(seed: spec.seed)
        if spec.pattern == .zipf {
            var c = [Double](repeating: 0, count: spec.pages)
            var sum = 0.0
            for k in 0..<spec.pages {
                sum += 1 / pow(Double(k + 1), spec.alpha)
                c[k] = sum
            }
            for k in 0..<spec.pages { c[k] /= sum }
            c[spec.pages - 1] = 1
            self.cdf = c
        } else {
            self.cdf = []
        }
        let ratio = min(max(spec.writeRatio, 0), 1)
        self.writeThreshold = ratio >= 1 ? .max : UInt64(ratio * 18_446_744_073_709_551_615.0)
    }

    /// The next access, or nil when the trace is complete.
    public mutating func next() -> (page: UInt64, write: Bool)? {
        guard self.index < self.spec.length else { return nil }
        let i = self.index
        self.index += 1
        let n = self.spec.pages
        let page: Int
        switch self.spec.pattern {
        case .sequential:
            let per = max(1, self.spec.length / n)
            page = min(i / per, n - 1)
        case .loop:
            page = i % n
        case .uniform:
            page = Int(self.rng.below(UInt64(n)))
        case .zipf:
            let u = Double(self.rng.next() >> 11) * 0x1p-53
            var lo = 0
            var hi = n - 1
            while lo < hi {
                let mid = (lo + hi) >> 1
                if self.cdf[mid] < u { lo = mid + 1 } else { hi = mid }
            }
            page = lo
        case .phases:
            let k = max(1, self.spec.phases)
            let w = min(n, self.spec.workingSet > 0 ? self.spec.workingSet : max(1, n / 4))
            // i × k / length in full width: both can be up to 2^63 − 1; the quotient is below k.
            let wide = i.multipliedFullWidth(by: k)
            let phase = min(k - 1, max(self.spec.length, 1).dividingFullWidth(wide).quotient)
            let stride = k > 1 ? (n - w) / (k - 1) : 0
            page = phase * stride + Int(self.rng.below(UInt64(w)))
        }
        let write = self.writeThreshold > 0 && self.rng.next() < self.writeThreshold
        return (UInt64(page), write)
    }
}

/// Writes a trace in one of the formats vmsim reads, through a large buffer.
public final class TraceWriter {
    /// Where the trace goes.
    let fd: Int32
    /// Whether `close` closes `fd` (not standard output).
    let ownsDescriptor: Bool
    /// The output format.
    let format: TraceFormat
    /// Bytes per page, for address formats.
    let pageSize: UInt64
    /// Output not written yet.
    var buffer: [UInt8] = []
    /// Records written (oracleGeneral's clock).
    var record = 0
    /// The output's name, for errors.
    let path: String

    /// `path` "-" is standard output.
    public init(path: String, format: TraceFormat, pageSize: Int = 4096) throws {
        self.path = path
        if path == "-" {
            self.fd = 1
            self.ownsDescriptor = false
        } else {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if fd < 0 {
                throw TraceError(
                    file: path, line: 0, column: 0,
                    message: "cannot create: \(String(cString: strerror(errno)))")
            }
            self.fd = fd
            self.ownsDescriptor = true
        }
        self.format = format
        self.pageSize = UInt64(pageSize)
        self.buffer.reserveCapacity(1 << 20)
        if format == .csv { self.buffer.append(contentsOf: Array("time,id,size,op\n".utf8)) }
    }

    deinit { if self.ownsDescriptor { close(self.fd) } }

    /// One access to `page`; `next` is the 1-based index of the next access to it (oracleGeneral
    /// only), or -1.
    public func write(page: UInt64, write: Bool, next: Int64 = -1) throws {
        let address = page &* self.pageSize
        switch self.format {
        case .lackey:
            self.append(write ? " S " : " L ")
            self.appendHex(address, minDigits: 8)
            self.append(",8\n")
        case .text:
            self.append("0x")
            self.appendHex(address, minDigits: 8)
            self.append(write ? " W\n" : " R\n")
        case .txt:
            self.appendDecimal(page)
            self.buffer.append(10)
        case .csv:
            self.appendDecimal(UInt64(self.record))
            self.buffer.append(UInt8(ascii: ","))
            self.appendDecimal(page)
            self.append(write ? ",4096,write\n" : ",4096,read\n")
        case .din:
            self.append(write ? "1 " : "0 ")
            self.appendHex(address, minDigits: 1)
            self.buffer.append(10)
        case .oracleGeneral:
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: self.record).littleEndian) {
                self.buffer.append(contentsOf: $0)
            }
            withUnsafeBytes(of: page.littleEndian) { self.buffer.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(4096).littleEndian) { self.buffer.append(contentsOf: $0) }
            withUnsafeBytes(of: next.littleEndian) { self.buffer.append(contentsOf: $0) }
        }
        self.record += 1
        if self.buffer.count >= 1 << 20 { try self.flush() }
    }

    /// Writes what is buffered.
    public func flush() throws {
        var off = 0
        try self.buffer.withUnsafeBytes { b in
            while off < b.count {
                let n = Glibc.write(self.fd, b.baseAddress! + off, b.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TraceError(
                        file: self.path, line: 0, column: 0,
                        message: "write failed: \(String(cString: strerror(errno)))")
                }
                off += n
            }
        }
        self.buffer.removeAll(keepingCapacity: true)
    }

    /// Buffers `s`.
    func append(_ s: StaticString) {
        s.withUTF8Buffer { self.buffer.append(contentsOf: $0) }
    }

    /// Buffers `v` in hex, at least `minDigits` digits.
    func appendHex(_ v: UInt64, minDigits: Int) {
        var digits = 1
        while digits < 16 && v >> UInt64(4 * digits) != 0 { digits += 1 }
        digits = max(digits, minDigits)
        for k in stride(from: digits - 1, through: 0, by: -1) {
            let d = UInt8((v >> UInt64(4 * k)) & 0xF)
            self.buffer.append(d < 10 ? UInt8(ascii: "0") + d : UInt8(ascii: "a") + d - 10)
        }
    }

    /// Buffers `v` in decimal.
    func appendDecimal(_ v: UInt64) {
        if v == 0 {
            self.buffer.append(UInt8(ascii: "0"))
            return
        }
        var tmp: [UInt8] = []
        var x = v
        while x > 0 {
            tmp.append(UInt8(ascii: "0") + UInt8(x % 10))
            x /= 10
        }
        self.buffer.append(contentsOf: tmp.reversed())
    }
}

/// Generates `spec` into `path` in `format`. oracleGeneral needs each access's next use, so
/// that format is generated into memory first (12 bytes per access) and written backwards-
/// computed; the others stream.
public func generateTrace(
    _ spec: TraceSpec, format: TraceFormat, path: String, pageSize: Int = 4096, progress: Progress? = nil
) throws {
    let writer = try TraceWriter(path: path, format: format, pageSize: pageSize)
    var gen = TraceGenerator(spec)
    progress?.setTotal(spec.length)
    var done = 0
    if format == .oracleGeneral {
        var pages: [UInt32] = []
        var writes: [Bool] = []
        // Grown as generated: a huge --length fails only as far as the memory it really needs.
        pages.reserveCapacity(min(spec.length, 1 << 20))
        while let a = gen.next() {
            pages.append(UInt32(truncatingIfNeeded: a.page))
            writes.append(a.write)
            done += 1
            if done & 0xFFFF == 0 { progress?.update(done / 2) }
        }
        // traceConv's convention: the 1-based index of the next request to the object, -1 if none.
        var next = [Int64](repeating: -1, count: pages.count)
        var last = [Int64](repeating: -1, count: spec.pages)
        for i in stride(from: pages.count - 1, through: 0, by: -1) {
            next[i] = last[Int(pages[i])]
            last[Int(pages[i])] = Int64(i + 1)
        }
        for i in 0..<pages.count {
            try writer.write(page: UInt64(pages[i]), write: writes[i], next: next[i])
            if i & 0xFFFF == 0 { progress?.update((pages.count + i) / 2) }
        }
    } else {
        while let a = gen.next() {
            try writer.write(page: a.page, write: a.write)
            done += 1
            if done & 0xFFFF == 0 { progress?.update(done) }
        }
    }
    try writer.flush()
}
