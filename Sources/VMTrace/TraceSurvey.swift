import Dispatch
import Foundation
import TraceInput

/// What one streaming pass over a trace found, without keeping its accesses: how many there
/// are, how many are writes, and the distinct pages (in order of first appearance). Memory is
/// proportional to the pages the trace touches, not to its length: a kernel-mode replay lays
/// out the process's areas from it, then reads the trace a second time.
public struct TraceSurvey: Sendable, Equatable {
    /// The trace's name and format.
    public var name: String
    public var format: TraceFormat
    /// Accesses.
    public var count = 0
    /// Accesses that are writes.
    public var writes = 0
    /// Each distinct page (or object id), in order of first appearance.
    public var keys: [UInt64] = []
    /// Non-access lines, skipped instructions and malformed lines.
    public var stats = ReaderStats()

    /// Distinct pages.
    public var distinct: Int { self.keys.count }

    /// Reads the whole trace once.
    public init(reader: any TraceReader, progress: Progress? = nil) throws {
        try self.init(reader: reader) { progress?.update($0, input: $1) }
    }

    /// Reads the whole trace once, telling `report` the accesses so far and the position.
    init(reader: any TraceReader, report: (Int, InputPosition) -> Void) throws {
        self.name = reader.name
        self.format = reader.format
        let mapper = IDMapper()
        let batch = AccessBatch()
        var last = UInt64.max
        var lastKnown = false
        while try reader.read(into: batch) {
            let keys = batch.keys
            let writes = batch.writes
            var w = 0
            for i in 0..<batch.count {
                let key = keys[i]
                w &+= Int(writes[i])
                // Consecutive accesses to one page are the rule (a program's fetches and its
                // stack): only a change of page needs the table.
                if key == last && lastKnown { continue }
                last = key
                lastKnown = true
                let before = mapper.count
                _ = mapper.map(key)
                if mapper.count != before { self.keys.append(key) }
            }
            self.count += batch.count
            self.writes += w
            if mapper.count > Int(Int32.max) {
                throw TraceError(
                    file: reader.name, line: 0, column: 0, message: "more than 2^31 distinct pages")
            }
            report(self.count, reader.position)
        }
        self.stats = reader.stats
    }

    /// The survey of a trace in memory.
    public init(_ trace: DenseTrace) {
        self.name = trace.name
        self.format = trace.format
        self.count = trace.count
        self.writes = trace.writes
        self.keys = trace.keys
        self.stats = trace.stats
    }
}

extension TraceSurvey {
    /// The smallest file read in two parts.
    public static let splitBytes: Int64 = 32 << 20

    /// Surveys the trace at `path`. A large plain file in a format whose lines parse alone
    /// (lackey, din, txt; not `--skip-bad`, whose report lists the first bad lines) is read in
    /// two parts on two threads, split at a line boundary near the middle, and the parts'
    /// findings joined as one pass would have made them (pages in order of first appearance;
    /// an error in the second part names its line in the whole file). Anything else is read in
    /// one pass. Files smaller than `splitAbove` bytes are read in one pass.
    public static func read(
        path: String, options: TraceOptions, progress: Progress? = nil, splitAbove: Int64 = splitBytes
    ) throws -> TraceSurvey {
        let whole = try openTrace(path, options: options)
        guard whole.compression == .none, !options.skipBad,
            [TraceFormat.lackey, .din, .txt].contains(whole.format),
            let size = whole.position.size, size >= max(splitAbove, 2),
            let split = try lineBoundary(path, after: size / 2), split < size
        else { return try TraceSurvey(reader: whole, progress: progress) }
        var parts = options
        parts.format = whole.format
        let first = try makeReader(ByteSource(path: path, range: 0..<split), options: parts)
        let second = try makeReader(ByteSource(path: path, range: split..<size), options: parts)
        let other = SurveyPart(second)
        let scale = Double(size) / Double(split)
        let head = Result {
            try TraceSurvey(reader: first) { done, at in
                progress?.update(
                    Int(Double(done) * scale),
                    input: InputPosition(consumed: Int64(Double(at.consumed) * scale), size: size))
            }
        }
        other.done.wait()
        var survey = try head.get()
        let tail: TraceSurvey
        do { tail = try other.result!.get() } catch var error as TraceError {
            if error.line > 0 { error.line += survey.stats.lines }
            throw error
        }
        survey.name = whole.name
        let mapper = IDMapper()
        for key in survey.keys { _ = mapper.map(key) }
        for key in tail.keys where mapper.lookup(key) == nil {
            _ = mapper.map(key)
            survey.keys.append(key)
        }
        survey.count += tail.count
        survey.writes += tail.writes
        survey.stats.lines += tail.stats.lines
        survey.stats.noise += tail.stats.noise
        survey.stats.instructionsSkipped += tail.stats.instructionsSkipped
        return survey
    }

    /// The offset just past the first newline at or after `offset` in `path`, or nil if there
    /// is none.
    static func lineBoundary(_ path: String, after offset: Int64) throws -> Int64? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TraceError(
                file: path, line: 0, column: 0, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let chunk = 1 << 16
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { buffer.deallocate() }
        var at = offset
        while true {
            let n = pread(fd, buffer, chunk, off_t(at))
            if n <= 0 { return nil }
            for i in 0..<n where buffer[i] == UInt8(ascii: "\n") { return at + Int64(i) + 1 }
            at += Int64(n)
        }
    }
}

/// The second part of a survey, read on a thread of its own.
final class SurveyPart: @unchecked Sendable {
    let reader: any TraceReader
    var result: Result<TraceSurvey, any Error>?
    let done = DispatchSemaphore(value: 0)

    init(_ reader: any TraceReader) {
        self.reader = reader
        let thread = Thread {
            self.result = Result { try TraceSurvey(reader: self.reader) { _, _ in } }
            self.done.signal()
        }
        thread.name = "vmsim-survey"
        thread.start()
    }
}
