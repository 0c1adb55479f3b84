import VMCore
import VMPaging
import VMPhys
import VMTypes

/// Running the file, page-cache and shared-memory commands.
extension ScenarioRunner {
    /// The process's descriptor for `path`, opening it (creating it with `create`) on first use.
    func descriptor(_ task: Task, _ path: String, create: Bool) throws(MMError) -> Int {
        if let fd = self.descriptors[task.pid]?[path], task.files[fd] != nil { return fd }
        let fd = try self.kernel.open(task, path, create: create)
        self.descriptors[task.pid, default: [:]][path] = fd
        return fd
    }

    /// The byte range of a file reference: a range as written, one byte, or the whole file.
    func byteRange(_ ref: FileRef, size: UInt64) -> Range<UInt64> {
        if ref.single { return ref.start..<(ref.start + 1) }
        let end = ref.end ?? size
        return ref.start..<max(end, ref.start)
    }

    func executeFileCommand(_ statement: Statement) {
        let kernel = self.kernel
        let page = kernel.phys.pageSize
        func withTask(_ body: (Task) throws(MMError) -> Void) {
            guard let name = statement.process, let task = self.task(statement, name) else { return }
            do { try body(task) } catch { self.refuse(statement, error.description) }
        }
        func global(_ body: () throws(MMError) -> Void) {
            do { try body() } catch { self.refuse(statement, error.description) }
        }
        switch statement.command {
        case .file(let path, let size, let cached):
            global { () throws(MMError) in try kernel.installFile(path, size: size, cached: cached) }
        case .swapon(let path, let size, let kind, let priority):
            global { () throws(MMError) in
                _ = try kernel.swapon(path, size: size, kind: kind, priority: priority)
            }
        case .swapoff(let path):
            global { () throws(MMError) in try kernel.swapoff(path) }
        case .oomScoreAdj(let n):
            guard let name = statement.process, let task = self.task(statement, name) else { return }
            task.oomScoreAdj = n
        case .mkdir(let path):
            global { () throws(MMError) in try kernel.makeDirectory(path) }
        case .fileRead(let ref):
            withTask { task throws(MMError) in
                let fd = try self.descriptor(task, ref.path, create: false)
                let size = kernel.file(task.files[fd].flatMap(kernel.openFile)!.file).size
                let range = self.byteRange(ref, size: size)
                guard !range.isEmpty else { return }
                try kernel.read(task, fd: fd, offset: range.lowerBound, length: UInt64(range.count))
            }
        case .fileWrite(let ref, let value):
            withTask { task throws(MMError) in
                let fd = try self.descriptor(task, ref.path, create: true)
                let size = kernel.file(task.files[fd].flatMap(kernel.openFile)!.file).size
                let range = self.byteRange(ref, size: size)
                guard !range.isEmpty else {
                    throw .invalid("nothing to write: give a range, e.g. \(ref.path)[0:64KiB]")
                }
                try kernel.write(
                    task, fd: fd, offset: range.lowerBound, length: UInt64(range.count),
                    value: value ?? UInt64(task.pid))
            }
        case .fsync(let path):
            withTask { task throws(MMError) in
                try kernel.fsync(task, fd: try self.descriptor(task, path, create: false))
            }
        case .close(let path):
            withTask { task throws(MMError) in
                guard let fd = self.descriptors[task.pid]?[path] else {
                    throw .badFile("\(path) is not open")
                }
                self.descriptors[task.pid]?[path] = nil
                try kernel.close(task, fd: fd)
            }
        case .fadvise(let ref, let advice):
            withTask { task throws(MMError) in
                let fd = try self.descriptor(task, ref.path, create: false)
                let offset = ref.start
                let length = ref.single ? 1 : ref.end.map { $0 - ref.start } ?? 0
                try kernel.fadvise(task, fd: fd, offset: offset, length: length, advice: advice)
            }
        case .expectFile(let ref, let op, let expected):
            guard let name = statement.process, let task = self.task(statement, name) else { return }
            do {
                let fd = try self.descriptor(task, ref.path, create: false)
                let size = kernel.file(task.files[fd].flatMap(kernel.openFile)!.file).size
                let range = self.byteRange(ref, size: size)
                var offset = range.lowerBound
                while offset < range.upperBound {
                    let words = try kernel.read(task, fd: fd, offset: offset, length: 1)
                    guard let word = words.first else {
                        self.fail(
                            statement, "offset \(offset) is beyond the end of \(ref.path) (\(size) bytes)")
                        return
                    }
                    if !op.holds(word, expected) {
                        self.fail(statement, "\(ref.path) at offset \(offset) holds \(word) (\(hex(word)))")
                        return
                    }
                    offset = (offset / page + 1) * page
                }
                self.expectationsPassed += 1
            } catch {
                self.refuse(statement, error.description)
            }
        case .msync(let ref, let sync):
            self.withRange(statement, ref) { task, range throws(MMError) in
                let start = range.lowerBound & ~(page - 1)
                try kernel.msync(task, address: start, length: range.upperBound - start, sync: sync)
            }
        case .shmAttach(let region, let size, let key, let readOnly):
            withTask { task throws(MMError) in
                let id = try kernel.shmget(task, key: key, size: size)
                let start = try kernel.shmat(task, id: id, readOnly: readOnly)
                self.regions[task.pid, default: [:]][region] = (start, kernel.pageAlign(size))
            }
        case .shmDetach(let region):
            withTask { task throws(MMError) in
                guard let r = self.regions[task.pid]?[region] else {
                    throw .invalid("\(region) is not attached")
                }
                try kernel.shmdt(task, address: r.start)
                self.regions[task.pid]?[region] = nil
            }
        case .shmRemove(let key):
            global { () throws(MMError) in
                guard let segment = kernel.shmSegments.first(where: { $0.key == key }) else {
                    throw .invalid("no segment with key \(key)")
                }
                try kernel.shmRemove(id: segment.id)
            }
        case .truncate(let path, let size):
            global { () throws(MMError) in try kernel.truncate(path, size: size) }
        case .unlink(let path):
            global { () throws(MMError) in try kernel.unlink(path) }
        case .sync:
            kernel.sync()
        case .dropCaches(let mode):
            global { () throws(MMError) in try kernel.dropCaches(mode) }
        case .tick(let ns):
            kernel.advanceClock(by: ns)
        case .sysctl(let settings):
            for (name, value, _) in settings {
                do { try kernel.setSysctl(name, value) } catch {
                    self.refuse(statement, error.description)
                    return
                }
            }
        default:
            preconditionFailure("executeFileCommand: \(statement.text) is not a file command")
        }
    }
}
