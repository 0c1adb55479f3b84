#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fixed-capacity array of trivial values whose host memory is committed only where written.
///
/// Backed by an anonymous `mmap(MAP_NORESERVE)` reservation: the host kernel supplies zero-filled
/// pages on first touch, so a 1 TiB simulated machine costs host memory in proportion to the
/// frames the simulation actually uses — the same trick as Linux's virtually mapped `mem_map`
/// (`CONFIG_SPARSEMEM_VMEMMAP`). Every element starts as all-zero bits; types stored here are
/// designed so that zero is their "nothing happened yet" state.
///
/// A value with reference semantics over storage it does not free: exactly one owner (a final
/// class such as `MemMap`) calls `release()` in its `deinit`.
public struct LazyArray<Element: BitwiseCopyable> {
    @usableFromInline let base: UnsafeMutablePointer<Element>
    public let capacity: Int
    let byteCount: Int

    /// Reserves room for `capacity` elements. Traps only if the host refuses the reservation,
    /// which `MachineConfig.validate()` prevents by bounding the machine size.
    public init(capacity: Int) {
        self.capacity = max(capacity, 1)
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = self.capacity * MemoryLayout<Element>.stride
        self.byteCount = (bytes + pageSize - 1) / pageSize * pageSize
        #if canImport(Darwin)
            let flags = MAP_PRIVATE | MAP_ANON | MAP_NORESERVE
        #else
            let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        #endif
        let raw = mmap(nil, self.byteCount, PROT_READ | PROT_WRITE, flags, -1, 0)
        guard let raw, raw != MAP_FAILED else {
            fatalError("LazyArray: host refused to reserve \(self.byteCount) bytes")
        }
        self.base = raw.bindMemory(to: Element.self, capacity: self.capacity)
    }

    /// Returns the reservation to the host. Call exactly once.
    public func release() {
        munmap(UnsafeMutableRawPointer(self.base), self.byteCount)
    }

    @inlinable public subscript(i: Int) -> Element {
        get { self.base[i] }
        nonmutating set { self.base[i] = newValue }
    }

    /// Bytes of this reservation resident in host memory, measured with `mincore(2)`.
    public func residentBytes() -> Int {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = self.byteCount / pageSize
        var resident = 0
        var vec = [UInt8](repeating: 0, count: 4096)
        var page = 0
        while page < pages {
            let n = min(4096, pages - page)
            let start = UnsafeMutableRawPointer(self.base) + page * pageSize
            #if canImport(Darwin)
                let rc = vec.withUnsafeMutableBufferPointer {
                    mincore(
                        start, n * pageSize,
                        $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: n) { $0 })
                }
            #else
                let rc = vec.withUnsafeMutableBufferPointer { mincore(start, n * pageSize, $0.baseAddress!) }
            #endif
            if rc != 0 { return self.byteCount }
            for k in 0..<n where vec[k] & 1 != 0 { resident += pageSize }
            page += n
        }
        return resident
    }
}
