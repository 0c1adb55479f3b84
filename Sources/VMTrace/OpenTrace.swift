import TraceInput

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Opening a trace: the byte source (plain, gzip or zstd), the format (given or detected), the
// reader for it; and the checks that a given format does not contradict the content.

/// Opens a trace for streaming, detecting its format when `options.format` is nil.
public func openTrace(_ path: String, options: TraceOptions) throws -> any TraceReader {
    let source = try ByteSource(path: path)
    return try makeReader(source, options: options)
}

/// A reader over bytes in memory (tests, fuzzing).
public func openTrace(bytes: [UInt8], name: String, options: TraceOptions) throws -> any TraceReader {
    try makeReader(ByteSource(name: name, bytes: bytes), options: options)
}

/// The reader for `source`: the format given or detected, checked against the content.
func makeReader(_ source: ByteSource, options: TraceOptions) throws -> any TraceReader {
    guard options.pageSize > 0 && options.pageSize & (options.pageSize - 1) == 0 else {
        throw TraceError(
            file: source.name, line: 0, column: 0,
            message: "page size \(options.pageSize) is not a power of two")
    }
    if source.available == 0 && !source.eof { try source.refill() }
    let sample = UnsafeBufferPointer(start: source.buffer + source.start, count: source.available)
    if source.compression != .none, let inner = Compression.named(inMagicOf: sample) {
        throw TraceError(
            file: source.name, line: 0, column: 0,
            message: "the \(source.compression.rawValue) stream holds \(inner)-compressed data "
                + "(compressed twice?); vmsim undoes one layer")
    }
    let guess = guessFormat(sample, name: source.name)
    var format = options.format
    if let given = format {
        if let seen = guess.format, formatContradicts(given: given, content: seen) {
            var what = "it looks like \(seen.rawValue)"
            if let (line, text) = guess.evidence { what += " (line \(line): \(text))" }
            throw TraceError(
                file: source.name, line: 0, column: 0,
                message: "--format \(given.rawValue) contradicts the content: \(what); "
                    + "leave out --format to read it as \(seen.rawValue)")
        }
        if given == .oracleGeneral && !guess.binary && !sample.isEmpty {
            throw TraceError(
                file: source.name, line: 0, column: 0,
                message:
                    "--format oracleGeneral contradicts the content: the file is text, not 24-byte binary records"
            )
        }
        if given != .oracleGeneral && guess.binary {
            throw TraceError(
                file: source.name, line: 0, column: 0,
                message: "--format \(given.rawValue) contradicts the content: the file is binary, not text"
                    + (guess.problem.map { " (\($0))" } ?? ""))
        }
    } else {
        format = guess.format
        if format == nil {
            if let problem = guess.problem {
                throw TraceError(file: source.name, line: 0, column: 0, message: problem)
            }
            throw TraceError(
                file: source.name, line: 1, column: 1,
                message: "cannot tell the trace format; name it with --format "
                    + TraceFormat.allCases.map(\.rawValue).joined(separator: "|"))
        }
    }
    let shift = options.pageShift
    switch format! {
    case .lackey:
        return LineReader(
            source: source, parser: LackeyFormat(shift: shift, instructions: options.instructions),
            skipBad: options.skipBad)
    case .text:
        let parser = TextFormat(shift: options.pageNumbers ? 0 : shift, bareHex: sampleHasBareHex(sample))
        return LineReader(source: source, parser: parser, skipBad: options.skipBad)
    case .txt:
        return LineReader(source: source, parser: TxtFormat(), skipBad: options.skipBad)
    case .csv:
        let firstLine = Array(sample.prefix { $0 != UInt8(ascii: "\n") })
        let delimiter = options.csvDelimiter ?? detectDelimiter(firstLine)
        let names = csvFieldNames(firstLine, delimiter: delimiter)
        let header =
            options.csvHeader
            ?? csvLooksLikeHeader(firstLine, delimiter: delimiter, column: options.csvIDColumn ?? 1)
        var idColumn = options.csvIDColumn
        var opColumn = options.csvOpColumn
        if header {
            if idColumn == nil,
                let i = names.firstIndex(where: {
                    ["id", "obj_id", "obj-id", "objid", "page", "key", "address", "addr"].contains($0)
                })
            {
                idColumn = i + 1
            }
            if opColumn == nil,
                let i = names.firstIndex(where: { ["op", "operation", "type", "rw"].contains($0) })
            {
                opColumn = i + 1
            }
        }
        let parser = CSVFormat(
            delimiter: delimiter, idColumn: max(1, idColumn ?? 1), opColumn: opColumn, headerPending: header)
        return LineReader(source: source, parser: parser, skipBad: options.skipBad)
    case .oracleGeneral:
        return OracleReader(source: source, skipBad: options.skipBad)
    case .din:
        return LineReader(
            source: source, parser: DinFormat(shift: shift, instructions: options.instructions),
            skipBad: options.skipBad)
    }
}
