import Foundation

/// What one cell produced: its metrics in the kind's order, or the error that stopped it.
public struct CellResult: Sendable, Equatable {
    public var id: String
    /// nil when the cell ran; the one-line error otherwise.
    public var error: String?
    /// (metric, value as text), in the kind's metric order.
    public var metrics: [(name: String, value: String)]

    public init(id: String, error: String? = nil, metrics: [(name: String, value: String)] = []) {
        self.id = id
        self.error = error
        self.metrics = metrics
    }

    public static func == (a: CellResult, b: CellResult) -> Bool {
        a.id == b.id && a.error == b.error && a.metrics.map(\.name) == b.metrics.map(\.name)
            && a.metrics.map(\.value) == b.metrics.map(\.value)
    }

    public func metric(_ name: String) -> String? { self.metrics.first { $0.name == name }?.value }

    /// The file's text: `name<TAB>value` lines, status first.
    var text: String {
        var s = "id\t\(self.id)\n"
        if let error {
            s += "status\tfailed\nerror\t\(oneLine(error))\n"
        } else {
            s += "status\tok\n"
        }
        for m in self.metrics { s += "\(m.name)\t\(oneLine(m.value))\n" }
        return s
    }

    init?(text: String) {
        var fields: [(String, String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let tab = line.firstIndex(of: "\t") else { return nil }
            fields.append((String(line[..<tab]), String(line[line.index(after: tab)...])))
        }
        guard fields.count >= 2, fields[0].0 == "id", fields[1].0 == "status" else { return nil }
        self.id = fields[0].1
        var rest = fields.dropFirst(2)
        switch fields[1].1 {
        case "ok": self.error = nil
        case "failed":
            guard let e = rest.first, e.0 == "error" else { return nil }
            self.error = e.1
            rest = rest.dropFirst()
        default: return nil
        }
        self.metrics = rest.map { ($0.0, $0.1) }
    }
}

func oneLine(_ s: String) -> String {
    String(s.map { $0 == "\n" || $0 == "\t" || $0 == "\r" ? " " : $0 })
}

/// A sweep's output directory, shared by every process that runs part of it (local workers,
/// Slurm array tasks on other nodes):
///
///     DIR/plan.tsv          the cells (id and values), written by every run, identical each time
///     DIR/cells/ID.ok       a finished cell's metrics
///     DIR/cells/ID.failed   a failed cell's error
///
/// A result is written to a temporary name in `cells/` and renamed into place (rename(2) is
/// atomic on one file system, NFS and Lustre included), so a killed run leaves a cell either
/// finished or absent, never half-written; and a cell is finished exactly when its `.ok` file
/// exists, which is all resuming needs.
public struct SweepStore: Sendable {
    public let directory: String
    var cellsDirectory: String { self.directory + "/cells" }

    public init(directory: String) {
        self.directory = directory
    }

    /// Creates the directory and records the plan; refuses a directory holding another sweep.
    public func prepare(plan: SweepPlan) throws(SweepError) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: self.cellsDirectory, withIntermediateDirectories: true)
        } catch {
            throw SweepError(
                file: self.directory,
                message: "cannot create the output directory: \(error.localizedDescription)")
        }
        let listing = plan.listing
        let path = self.directory + "/plan.tsv"
        if let existing = fm.contents(atPath: path) {
            guard String(decoding: existing, as: UTF8.self) == listing else {
                throw SweepError(
                    file: path,
                    message:
                        "this directory holds the results of a different sweep (the plan differs); use another --out"
                )
            }
            return
        }
        try self.writeAtomically(path: path, text: listing)
    }

    /// The plan recorded in the directory (for status without the spec).
    public func recordedPlan() throws(SweepError) -> [(id: String, values: [String])] {
        let path = self.directory + "/plan.tsv"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SweepError(
                file: path, message: "no sweep here (no plan.tsv): run `vmsim sweep run SPEC --out DIR` first"
            )
        }
        var cells: [(id: String, values: [String])] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "\t").map(String.init)
            guard let id = parts.first else { continue }
            cells.append((id, Array(parts.dropFirst())))
        }
        return cells
    }

    public func isFinished(_ id: String) -> Bool {
        FileManager.default.fileExists(atPath: self.cellsDirectory + "/\(id).ok")
    }

    public func hasFailed(_ id: String) -> Bool {
        FileManager.default.fileExists(atPath: self.cellsDirectory + "/\(id).failed")
    }

    /// Records a result atomically; a success removes an earlier failure of the cell.
    public func record(_ result: CellResult) throws(SweepError) {
        let name = result.error == nil ? "ok" : "failed"
        try self.writeAtomically(path: self.cellsDirectory + "/\(result.id).\(name)", text: result.text)
        if result.error == nil { unlink(self.cellsDirectory + "/\(result.id).failed") }
    }

    /// The cell's result, if it has one (finished wins over failed).
    public func result(_ id: String) -> CellResult? {
        for name in ["ok", "failed"] {
            if let data = FileManager.default.contents(atPath: self.cellsDirectory + "/\(id).\(name)"),
                let r = CellResult(text: String(decoding: data, as: UTF8.self)), r.id == id
            {
                return r
            }
        }
        return nil
    }

    /// Writes `text` to a unique temporary file next to `path`, flushes it, and renames it over `path`.
    func writeAtomically(path: String, text: String) throws(SweepError) {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        var host = [UInt8](repeating: 0, count: 256)
        host.withUnsafeMutableBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { _ = gethostname($0.baseAddress!, 255) }
        }
        let hostname = String(decoding: host.prefix { $0 != 0 }, as: UTF8.self)
        let temp = dir + "/.tmp.\(base).\(hostname).\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw SweepError(file: temp, message: "cannot create: \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                let message = String(cString: strerror(errno))
                close(fd)
                unlink(temp)
                throw SweepError(file: temp, message: "cannot write: \(message)")
            }
            written += n
        }
        fsync(fd)
        close(fd)
        guard rename(temp, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temp)
            throw SweepError(file: path, message: "cannot rename into place: \(message)")
        }
    }
}
