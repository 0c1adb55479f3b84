/// Why a request to the kernel failed: the `errno` the system call would set.
public enum MallocSystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `ENOMEM`: no room in the address space, over a limit, or the commit check refused.
    case outOfMemory
    /// `EINVAL`: a bad address or length (not page-aligned, zero, not a mapping).
    case invalidArgument
    /// The backend does not implement this call (`mremap` on a kernel without it); the
    /// allocator falls back as glibc does when the call fails.
    case notSupported

    public var description: String {
        switch self {
        case .outOfMemory: return "ENOMEM"
        case .invalidArgument: return "EINVAL"
        case .notSupported: return "ENOSYS"
        }
    }
}

/// How the allocator touches memory.
public enum MemoryAccessKind: UInt8, Sendable {
    /// A load: a header read, a size check, a bin link followed.
    case read
    /// A store whose value is the allocator's own (a chunk header, a footer, a bin link, a tcache
    /// count, a perturb fill). Backends that keep one content word per page keep the word: the
    /// program's data in that page is not what changed.
    case write
    /// A load and then a store of the same bytes (a counter incremented, a list head replaced):
    /// faults once, as the store (an x86 read-modify-write instruction faults once, for writing).
    case update
}

/// The kernel below the C library: the system calls malloc makes, and the memory it touches.
///
/// An allocator (`GlibcMalloc`, `FreeListAllocator`) owns no memory. It asks this object to move
/// the program break and to map and unmap anonymous memory, and it reports every byte range it
/// reads or writes itself — chunk headers, footers (`prev_size`), the `tcache_perthread_struct`,
/// bin links stored in free chunks, calloc's clearing, realloc's copy — so that page faults, RSS
/// and copy-on-write after `fork` follow from what the allocator does, exactly as they would in a
/// real process. The program's own loads and stores of its allocations go to the same backend
/// directly, not through the allocator.
///
/// Contract, for an implementation on the simulated kernel:
/// - Calls are made in program order, from one thread (the model has one arena).
/// - Addresses and lengths given to `munmap`, `mremap` and `madviseDontNeed` are page-aligned
///   and lie inside memory this backend returned from `brk` or `mmap`.
/// - `access`, `zero` and `copy` ranges may span pages and are never empty.
/// - A `false` result from `access`, `zero` or `copy` means the process is gone (SIGSEGV,
///   SIGBUS, killed by the OOM killer); the allocator finishes its bookkeeping and the public
///   call that made the access throws `MallocAbort.killed`.
/// - Failures of system calls are values, never traps: `brk` returns the old break (as the
///   system call does), the others return `MallocSystemError`.
public protocol MallocSystem: AnyObject {
    /// Bytes per page (`getpagesize()`); a power of two.
    var pageSize: UInt64 { get }

    /// `brk(2)` as the system call behaves: asks for the program break to become `newBreak`
    /// and returns the break afterwards — `newBreak` on success, the unchanged break on failure
    /// (over `RLIMIT_DATA`, into another mapping, out of commit). `brk(0)` (any value below the
    /// start of the heap) only reports the current break. Shrinking releases the pages above the
    /// new page-aligned end.
    func brk(_ newBreak: UInt64) -> UInt64

    /// `mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`: a new
    /// zero-filled, page-aligned private mapping of `length` bytes (a multiple of the page size).
    func mmap(length: UInt64) -> Result<UInt64, MallocSystemError>

    /// `munmap(2)` of a page-aligned range the allocator mapped (glibc ignores the result).
    @discardableResult
    func munmap(_ address: UInt64, length: UInt64) -> Result<Void, MallocSystemError>

    /// `mremap(address, oldLength, newLength, MREMAP_MAYMOVE)`: resizes a mapping, moving it
    /// (page tables and all, no copy) if it cannot grow in place. Returns the new address.
    /// `.failure(.notSupported)` is a valid answer: realloc then copies, as glibc does when
    /// mremap fails.
    func mremap(_ address: UInt64, oldLength: UInt64, newLength: UInt64) -> Result<UInt64, MallocSystemError>

    /// `madvise(address, length, MADV_DONTNEED)`: drops the pages; the next touch faults in a
    /// zero-filled page. Used by `malloc_trim`.
    func madviseDontNeed(_ address: UInt64, length: UInt64)

    /// A load or store by the allocator of `[address, address + length)`. Returns false if the
    /// access ended the process.
    func access(_ address: UInt64, length: UInt64, kind: MemoryAccessKind) -> Bool

    /// `memset(address, 0, length)` (calloc's clear). Returns false if the process died.
    func zero(_ address: UInt64, length: UInt64) -> Bool

    /// `memcpy(destination, source, length)` (realloc's move). The ranges do not overlap.
    /// A backend with content words copies them page by page. Returns false if the process died.
    func copy(to destination: UInt64, from source: UInt64, length: UInt64) -> Bool
}
