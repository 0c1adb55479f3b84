import VMPhys
import VMTypes

/// A System V shared-memory segment (`struct shmid_kernel`, ipc/shm.c).
public final class ShmSegment {
    /// `shmid`: `SEQ_MULTIPLIER` × sequence + index (the sequence stays 0 here).
    public let id: Int
    /// The key it was created with (`IPC_PRIVATE`, 0, once removed).
    public internal(set) var key: Int
    /// `shm_segsz` in bytes.
    public let size: UInt64
    /// The shmem file holding the pages.
    public let file: FileID
    /// Permission bits (`shm_perm.mode`), 0600 unless given.
    public let mode: Int
    public let creatorPID: Int
    public internal(set) var lastPID: Int
    /// `shm_atim`, `shm_dtim`, `shm_ctim` in simulated nanoseconds.
    public internal(set) var attachTime: UInt64 = 0
    public internal(set) var detachTime: UInt64 = 0
    public internal(set) var changeTime: UInt64
    /// `SHM_DEST`: removed with `IPC_RMID`, destroyed when the last attachment goes.
    public internal(set) var destroyed = false

    init(id: Int, key: Int, size: UInt64, file: FileID, mode: Int, creatorPID: Int, now: UInt64) {
        self.id = id
        self.key = key
        self.size = size
        self.file = file
        self.mode = mode
        self.creatorPID = creatorPID
        self.lastPID = 0
        self.changeTime = now
    }
}

/// The segment ids of the IPC namespace (`struct ipc_ids` for `shm_ids()`, ipc/util.c): segments
/// by id, ids by key, and the next id. Simplified: ids are handed out in sequence and never reused
/// (Linux's IDR reuses the lowest free index with a new sequence number).
public final class ShmIDs {
    private(set) var byID: [Int: ShmSegment] = [:]
    private var byKey: [Int: Int] = [:]
    private var nextID = 0

    init() {}

    /// Segments in id order.
    public var segments: [ShmSegment] { self.byID.keys.sorted().map { self.byID[$0]! } }
    public subscript(id: Int) -> ShmSegment? { self.byID[id] }
    /// `ipc_findkey()`: the segment created with `key` (never for `IPC_PRIVATE`).
    func find(key: Int) -> ShmSegment? { key == 0 ? nil : self.byKey[key].flatMap { self.byID[$0] } }
    /// The segment whose pages are shmem file `file`.
    func segment(of file: FileID) -> ShmSegment? { self.byID.values.first { $0.file == file } }

    /// `ipc_addid()`: the id the next segment gets, once `make` builds it.
    func add(key: Int, _ make: (Int) -> ShmSegment) -> ShmSegment {
        let segment = make(self.nextID)
        self.nextID += 1
        self.byID[segment.id] = segment
        if key != 0 { self.byKey[key] = segment.id }
        return segment
    }

    /// `IPC_RMID`: the key no longer finds the segment (`ipc_set_key_private()`).
    func makePrivate(_ segment: ShmSegment) {
        if segment.key != 0 { self.byKey[segment.key] = nil }
        segment.key = 0
    }

    /// `ipc_rmid()`.
    func remove(_ segment: ShmSegment) {
        guard self.byID[segment.id] === segment else { return }
        self.byID[segment.id] = nil
    }
}

/// System V shared memory (ipc/shm.c): segments are shmem files; `shmat` maps one shared,
/// `shmdt` unmaps it, `IPC_RMID` destroys it once nothing is attached.
extension Kernel {
    /// `SHMMAX`/`SHMALL` defaults are effectively unlimited; `SHMMIN` is 1 byte.
    public static let shmMax: UInt64 = (UInt64(1) << 63) - (UInt64(1) << 24)

    /// Segments in id order.
    public var shmSegments: [ShmSegment] { self.shm.segments }

    /// The segment with id `id`.
    public func shmSegment(_ id: Int) -> ShmSegment? { self.shm[id] }

    /// `nattch`: the areas attached (Linux counts each VMA: a split attachment counts twice).
    public func shmAttachCount(_ segment: ShmSegment) -> Int { self.file(segment.file).mappers.count }

    /// `shmget(2)`: the segment with `key` (its size must not exceed the segment's), or a new
    /// one of `size` bytes when `create` (always new for `IPC_PRIVATE`, key 0).
    public func shmget(_ task: Task, key: Int, size: UInt64, create: Bool = true, mode: Int = 0o600)
        throws(MMError)
        -> Int
    {
        if let segment = self.shm.find(key: key) {
            guard size <= segment.size else {
                throw .invalid("segment \(key) is \(segment.size) bytes, smaller than \(size)")
            }
            return segment.id
        }
        guard create else { throw .noEntry("no segment with key \(key)") }
        guard size >= 1, size <= Kernel.shmMax else {
            throw .invalid("size \(size) is outside SHMMIN…SHMMAX")
        }
        let name = "SYSV" + hexDigits(UInt64(UInt32(truncatingIfNeeded: key)), width: 8)
        guard let file = self.createShmemFile(name, size: size) else {
            throw .noMemory("no memory for a segment")
        }
        let segment = self.shm.add(key: key) { id in
            ShmSegment(
                id: id, key: key, size: size, file: file.id, mode: mode, creatorPID: task.pid, now: self.now)
        }
        return segment.id
    }

    /// `shmat(2)`: maps the whole segment shared (read-only with `readOnly`) at `address` or
    /// where `mmap` puts it; returns the address.
    public func shmat(_ task: Task, id: Int, address: UInt64? = nil, readOnly: Bool = false) throws(MMError)
        -> UInt64
    {
        guard let segment = self.shm[id] else { throw .invalid("no segment \(id)") }
        // do_shmat(): a new file for the attachment, mapped with do_mmap().
        guard let open = self.allocOpenFile(self.file(segment.file), dentry: nil) else {
            throw .noMemory("no memory for a file")
        }
        let fd = self.installDescriptor(task, open.id)
        defer { try? self.close(task, fd: fd) }
        var request = MapRequest(
            length: segment.size, protection: readOnly ? [.read] : [.read, .write], shared: true,
            backing: .file(fd: fd, offset: 0))
        request.address = address
        request.fixed = address != nil
        let start = try self.mmap(task, request)
        segment.attachTime = self.now
        segment.lastPID = task.pid
        return start
    }

    /// `shmdt(2)`: unmaps the attachment starting at `address`.
    public func shmdt(_ task: Task, address: UInt64) throws(MMError) {
        guard let mm = task.mm, let vma = mm.vma(containing: address), vma.start == address,
            case .shmem(let fileID) = vma.backing,
            let segment = self.shm.segment(of: fileID)
        else { throw .invalid("no segment attached at \(hex(address))") }
        // The attachment's areas: from address on, the areas of this segment's file.
        // The segment is at most SHMMAX and the address below TASK_SIZE: the sum cannot wrap.
        let end = address + self.pageAlign(segment.size)
        let areas = mm.slots(overlapping: address..<end).map { mm.vma($0) }
        for other in areas where other.start >= address && other.backing == vma.backing {
            try self.munmap(task, address: other.start, length: other.size)
        }
        segment.detachTime = self.now
        segment.lastPID = task.pid
        self.shmDestroyIfUnused(segment)
    }

    /// `shmctl(IPC_RMID)`: marks the segment destroyed (its key becomes private); it goes when
    /// nothing is attached.
    public func shmRemove(id: Int) throws(MMError) {
        guard let segment = self.shm[id] else { throw .invalid("no segment \(id)") }
        self.shm.makePrivate(segment)
        segment.destroyed = true
        segment.changeTime = self.now
        self.shmDestroyIfUnused(segment)
    }

    /// `shm_destroy()` for a removed segment with no attachments: its shmem file (and pages) go.
    func shmDestroyIfUnused(_ segment: ShmSegment) {
        guard segment.destroyed, self.shmAttachCount(segment) == 0, self.shm[segment.id] === segment
        else { return }
        self.shm.remove(segment)
        self.iput(segment.file)
    }

    /// Called when an area of shmem file `id` goes away (`shm_close()`).
    func shmAreaClosed(_ id: FileID) {
        guard self.file(id).isShmem, self.file(id).mappers.isEmpty,
            let segment = self.shm.segment(of: id)
        else { return }
        self.shmDestroyIfUnused(segment)
    }
}
