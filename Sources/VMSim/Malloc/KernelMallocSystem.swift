import VMCore
import VMLibc
import VMPaging
import VMTypes

/// One process of the simulated kernel as the C library's allocator sees it: `brk`, `mmap`,
/// `munmap`, `madvise` as system calls of that task, and the allocator's own loads and stores
/// (headers, bin links, calloc's clearing, realloc's copy) as user-mode accesses through its MMU
/// — so page faults, RSS, swap and copy-on-write after `fork` follow from what the allocator does.
///
/// Simplified: the simulated kernel has no `mremap`, so `mremap` answers ENOSYS and glibc's
/// realloc of a mapped chunk copies instead (as glibc does when mremap fails). Memory keeps one
/// content word per page: the allocator's stores keep the word (`keepContent`), `zero` stores 0
/// in each page it touches, and `copy` carries each page's word to the page it lands in.
public final class KernelMallocSystem: ReplayMemory {
    public let kernel: Kernel
    public let task: Task
    public let pageSize: UInt64
    public let startBrk: UInt64
    /// The most resident pages seen at the end of an allocator call or program access.
    public private(set) var peakResidentPages = 0

    public init(kernel: Kernel, task: Task) {
        self.kernel = kernel
        self.task = task
        self.pageSize = kernel.phys.pageSize
        self.startBrk = task.mm?.startBrk ?? 0
    }

    var isAlive: Bool { self.task.state == .running && self.task.mm != nil }

    public var currentBrk: UInt64 { self.task.mm?.brk ?? self.startBrk }
    public var residentPages: Int { self.task.mm?.rssPages ?? 0 }
    public var minorFaults: Int { self.task.minorFaults }

    func notePeak() { self.peakResidentPages = max(self.peakResidentPages, self.residentPages) }

    public func brk(_ newBreak: UInt64) -> UInt64 {
        guard self.isAlive, let mm = self.task.mm else { return 0 }
        guard newBreak >= mm.startBrk else { return mm.brk }
        return self.kernel.brk(self.task, to: newBreak)
    }

    public func mmap(length: UInt64) -> Result<UInt64, MallocSystemError> {
        guard self.isAlive else { return .failure(.outOfMemory) }
        do {
            return .success(
                try self.kernel.mmap(
                    self.task, MapRequest(length: length, protection: [.read, .write], shared: false)))
        } catch {
            if case .invalid = error { return .failure(.invalidArgument) }
            return .failure(.outOfMemory)
        }
    }

    @discardableResult
    public func munmap(_ address: UInt64, length: UInt64) -> Result<Void, MallocSystemError> {
        guard self.isAlive else { return .failure(.invalidArgument) }
        do { try self.kernel.munmap(self.task, address: address, length: length) } catch {
            return .failure(.invalidArgument)
        }
        return .success(())
    }

    public func mremap(_ address: UInt64, oldLength: UInt64, newLength: UInt64) -> Result<
        UInt64, MallocSystemError
    > {
        .failure(.notSupported)
    }

    public func madviseDontNeed(_ address: UInt64, length: UInt64) {
        guard self.isAlive else { return }
        try? self.kernel.madvise(self.task, address: address, length: length, advice: .dontneed)
    }

    /// Runs `body` for the first address of each page of `[address, address + length)`.
    func eachPage(_ address: UInt64, _ length: UInt64, _ body: (UInt64) -> Bool) -> Bool {
        guard length > 0 else { return true }
        let last = address &+ (length - 1)
        guard last >= address else { return false }
        var a = address
        while true {
            guard self.isAlive, body(a) else { return false }
            let next = (a & ~(self.pageSize - 1)) &+ self.pageSize
            guard next > a, next <= last else { break }
            a = next
        }
        self.notePeak()
        return true
    }

    public func access(_ address: UInt64, length: UInt64, kind: MemoryAccessKind) -> Bool {
        let access: Access = kind == .read ? .read : .write
        return self.eachPage(address, length) { a in
            self.kernel.userAccess(self.task, address: a, access: access, keepContent: true).value != nil
        }
    }

    public func zero(_ address: UInt64, length: UInt64) -> Bool {
        self.eachPage(address, length) { a in
            self.kernel.userAccess(self.task, address: a, access: .write, value: 0).value != nil
        }
    }

    public func copy(to destination: UInt64, from source: UInt64, length: UInt64) -> Bool {
        self.eachPage(destination, length) { d in
            guard
                let word = self.kernel.userAccess(
                    self.task, address: source &+ (d - destination), access: .read
                ).value
            else { return false }
            return self.kernel.userAccess(self.task, address: d, access: .write, value: word).value != nil
        }
    }

    /// The program itself stores into (or loads from) its allocation: each page gets the
    /// process's usual word (pid and page number), as a scenario's `write` does.
    @discardableResult
    public func touchByProgram(_ address: UInt64, length: UInt64, write: Bool) -> Bool {
        self.eachPage(address, length) { a in
            let word = (UInt64(self.task.pid) << 32) | (a >> UInt64(self.kernel.phys.pageShift))
            return self.kernel.userAccess(self.task, address: a, access: write ? .write : .read, value: word)
                .value
                != nil
        }
    }
}

/// An allocator by the name scenarios use: `glibc`, `freelist:first|best|worst|next`.
func allocatorNamed(_ name: String, system: any MallocSystem) -> (any UserAllocator)? {
    if name == "glibc" { return GlibcMalloc(system: system) }
    return FreeListAllocator(name: name, system: system)
}

/// The allocator names `spawn … allocator=` accepts.
public let allocatorNames = ["glibc"] + FreeListAllocator.names
