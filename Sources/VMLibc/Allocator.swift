import VMTypes

/// An outcome of a C library call that ends the process instead of returning.
public enum MallocAbort: Error, Sendable, Equatable, CustomStringConvertible {
    /// The allocator found a bad pointer or a corrupted heap and aborts (glibc's
    /// `malloc_printerr()`: the message on stderr, then SIGABRT). The message is glibc's where
    /// glibc detects the error; the model detects every invalid free, and says "vmsim:" where
    /// glibc would silently corrupt its heap instead.
    case abort(String)
    /// The backend reported that one of the allocator's own accesses ended the process.
    case killed

    public var description: String {
        switch self {
        case .abort(let message): return message
        case .killed: return "the process was killed during the call"
        }
    }
}

/// An `errno` value a C library allocation call sets when it returns NULL.
public enum MallocErrno: Int32, Error, Sendable, Equatable, CustomStringConvertible {
    case ENOMEM = 12
    case EINVAL = 22

    public var description: String {
        switch self {
        case .ENOMEM: return "ENOMEM"
        case .EINVAL: return "EINVAL"
        }
    }
}

/// The C library's allocation interface (`<stdlib.h>`, `<malloc.h>`), for any allocator model.
///
/// Pointers are addresses in the simulated process; NULL is `nil`. A call that returns NULL sets
/// `errno`. Calls that would end the process (a detected double free, an access the kernel
/// kills the process for) throw `MallocAbort`.
public protocol UserAllocator: AnyObject {
    /// The allocator's name as scenarios spell it: `glibc`, `freelist:best`, …
    var name: String { get }
    /// The kernel below.
    var system: any MallocSystem { get }
    /// `errno` after the last call that returned NULL or failed.
    var errno: MallocErrno? { get }

    /// `malloc(size)`.
    func malloc(_ size: UInt64) throws(MallocAbort) -> UInt64?
    /// `free(pointer)`; `free(NULL)` does nothing.
    func free(_ pointer: UInt64?) throws(MallocAbort)
    /// `calloc(count, size)`: zeroed memory.
    func calloc(_ count: UInt64, _ size: UInt64) throws(MallocAbort) -> UInt64?
    /// `realloc(pointer, size)`: `realloc(NULL, n)` is `malloc(n)`; `realloc(p, 0)` frees `p`
    /// and returns NULL (glibc's `REALLOC_ZERO_BYTES_FREES`).
    func realloc(_ pointer: UInt64?, _ size: UInt64) throws(MallocAbort) -> UInt64?
    /// `memalign(alignment, size)` (also `aligned_alloc` in glibc 2.36).
    func memalign(_ alignment: UInt64, _ size: UInt64) throws(MallocAbort) -> UInt64?
    /// `posix_memalign(&p, alignment, size)`: the pointer, or the error it returns.
    func posixMemalign(_ alignment: UInt64, _ size: UInt64) throws(MallocAbort) -> Result<UInt64, MallocErrno>
    /// `malloc_usable_size(pointer)`.
    func usableSize(_ pointer: UInt64) -> UInt64
    /// The heap, chunk by chunk.
    func heapDump() -> HeapDump
    /// Counters and sizes.
    var stats: AllocatorStats { get }
    /// Checks every structural invariant; returns the first violation, or nil.
    func checkInvariants() -> String?
    /// The child's allocator after `fork(2)`: the same heap state (bins, chunks, thresholds,
    /// counters) over the child's copy of memory, `system`.
    func forked(onto system: any MallocSystem) -> any UserAllocator
}

/// What an allocator has done and holds.
public struct AllocatorStats: Sendable, Equatable {
    /// Bytes the program asked for and has not freed (the sum of live requests).
    public var liveBytes: UInt64 = 0
    /// Live allocations.
    public var liveAllocations = 0
    /// The most live bytes at any time.
    public var peakLiveBytes: UInt64 = 0
    /// Bytes of heap obtained with `brk` (and, after `brk` failed, heap segments mapped instead):
    /// glibc's `system_mem`.
    public var heapBytes: UInt64 = 0
    /// The most heap bytes at any time.
    public var peakHeapBytes: UInt64 = 0
    /// Bytes in chunks mapped on their own (glibc's `mmapped_mem`).
    public var mmappedBytes: UInt64 = 0
    /// The most mmapped bytes at any time.
    public var peakMmappedBytes: UInt64 = 0
    /// Chunks mapped on their own right now.
    public var mmappedChunks = 0
    /// System calls the allocator made.
    public var brkCalls = 0
    public var mmapCalls = 0
    public var munmapCalls = 0
    public var mremapCalls = 0
    public var madviseCalls = 0
    /// Calls of each kind made to the allocator.
    public var mallocCalls = 0
    public var freeCalls = 0
    public var callocCalls = 0
    public var reallocCalls = 0
    public var memalignCalls = 0

    public init() {}

    /// Heap plus mapped bytes over live bytes (1 is perfect; 0 when nothing is live).
    public var overhead: Double {
        self.liveBytes == 0 ? 0 : Double(self.heapBytes + self.mmappedBytes) / Double(self.liveBytes)
    }
}

/// The state of one chunk in a heap dump.
public enum ChunkState: Sendable, Equatable, CustomStringConvertible {
    /// Allocated to the program.
    case inUse
    /// In tcache bin `n` (glibc: free to the program, in use to the arena).
    case tcache(Int)
    /// In fastbin `n` (likewise).
    case fastbin(Int)
    /// In the unsorted bin.
    case unsorted
    /// In small bin `n` (2…63).
    case smallbin(Int)
    /// In large bin `n` (64…126).
    case largebin(Int)
    /// On a teaching allocator's free list.
    case free
    /// The top chunk (the wilderness at the end of the heap).
    case top
    /// Mapped on its own.
    case mmapped
    /// A fencepost that glibc puts at the end of a heap segment it cannot merge with the next.
    case fencepost

    public var description: String {
        switch self {
        case .inUse: return "in use"
        case .tcache(let n): return "tcache[\(n)]"
        case .fastbin(let n): return "fastbin[\(n)]"
        case .unsorted: return "unsorted"
        case .smallbin(let n): return "smallbin[\(n)]"
        case .largebin(let n): return "largebin[\(n)]"
        case .free: return "free"
        case .top: return "top"
        case .mmapped: return "mmapped"
        case .fencepost: return "fencepost"
        }
    }

    /// Whether the program may use the chunk (in use or mapped on its own).
    public var isAllocated: Bool { self == .inUse || self == .mmapped }
}

/// A picture of an allocator's heap: chunks in address order with sizes and states, the bins,
/// the top chunk and the memory obtained from the system.
public struct HeapDump: Sendable, Equatable {
    public struct Chunk: Sendable, Equatable {
        /// The chunk's address (its header; the user pointer is 16 bytes on for glibc).
        public var address: UInt64
        /// Its size, header included.
        public var size: UInt64
        public var state: ChunkState
        /// The bytes the program asked for, for allocated chunks.
        public var requested: UInt64?
        public init(address: UInt64, size: UInt64, state: ChunkState, requested: UInt64? = nil) {
            self.address = address
            self.size = size
            self.state = state
            self.requested = requested
        }
    }

    public struct Bin: Sendable, Equatable {
        /// `tcache[3]`, `fastbin[0]`, `unsorted`, `smallbin[5]`, `largebin[70]`, `free list`.
        public var name: String
        /// Chunk addresses in list order (the order the allocator takes them: first is next).
        public var chunks: [UInt64]
    }

    public var allocator: String
    /// Heap chunks in address order, then mmapped chunks in address order.
    public var chunks: [Chunk]
    /// Non-empty bins.
    public var bins: [Bin]
    /// The top chunk's address and size (nil before the first allocation).
    public var top: (address: UInt64, size: UInt64)?
    /// The first byte of the heap and the program break.
    public var heapStart: UInt64
    public var programBreak: UInt64
    /// glibc's `system_mem` (heap bytes) and `mmapped_mem`.
    public var systemBytes: UInt64
    public var mmappedBytes: UInt64
    public var liveBytes: UInt64

    public static func == (a: HeapDump, b: HeapDump) -> Bool {
        a.allocator == b.allocator && a.chunks == b.chunks && a.bins == b.bins
            && a.top?.address == b.top?.address
            && a.top?.size == b.top?.size && a.heapStart == b.heapStart && a.programBreak == b.programBreak
            && a.systemBytes == b.systemBytes && a.mmappedBytes == b.mmappedBytes
            && a.liveBytes == b.liveBytes
    }

    /// The dump as text, one chunk per line, offsets from the heap start:
    ///
    ///     heap 0x555555559000-0x55555557a000 (132 KiB), mmapped 0 B, live 100 B
    ///     +0x0      0x290  in use
    ///     +0x290    0x70   in use (100)
    ///     +0x300    0x20d00 top
    ///     bins: tcache[0] 1: +0x2a0
    public var text: String {
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        // Heap addresses as offsets from the heap start; mapped chunks (and heap segments that
        // glibc mapped after brk failed) in full.
        func place(_ a: UInt64) -> String {
            a >= self.heapStart && a <= self.programBreak ? "+" + hex(a - self.heapStart) : hex(a)
        }
        var lines: [String] = []
        lines.append(
            "\(self.allocator): heap \(hex(self.heapStart))-\(hex(self.programBreak)) "
                + "(\(ByteSize.human(self.systemBytes))), mmapped \(ByteSize.human(self.mmappedBytes)), "
                + "live \(ByteSize.human(self.liveBytes))")
        for c in self.chunks {
            var line = place(c.address).padding(to: 12) + hex(c.size).padding(to: 10) + c.state.description
            if let r = c.requested { line += " (\(r))" }
            lines.append(line)
        }
        for b in self.bins {
            let shown = b.chunks.prefix(8).map(place).joined(separator: " ")
            lines.append("\(b.name) \(b.chunks.count): \(shown)\(b.chunks.count > 8 ? " …" : "")")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    func padding(to width: Int) -> String {
        self.count >= width ? self + " " : self + String(repeating: " ", count: width - self.count)
    }
}
