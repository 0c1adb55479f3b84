import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

/// Regression tests for issue 11's kernel classes: swap-area limits and their host footprint,
/// the page cache bounded by RAM, kernel loops that stop on a fatal signal, swapoff against
/// OOM kills, active swap files, and negative dentries.
@Suite struct KernelBoundsTests {
    func machine(memory: UInt64 = 64 << 20, swap: UInt64 = 0, arch: Architecture = .x86_64) throws -> Kernel {
        var config = MachineConfig()
        config.memory = memory
        config.swap = swap
        config.architecture = arch
        return try Kernel(config: config)
    }

    /// Spawns `name` with `pages` private anonymous pages, page i holding `tag << 32 | i`.
    func process(_ k: Kernel, _ name: String, pages: Int, tag: Int) throws -> (Task, UInt64) {
        let t = try k.spawn(name: name)
        let start = try k.mmap(
            t, MapRequest(length: UInt64(pages) << 12, protection: [.read, .write], shared: false))
        for i in 0..<pages { _ = k.write(t, start + UInt64(i) << 12, UInt64(tag << 32 | i)) }
        return (t, start)
    }

    // MARK: swapoff against OOM kills (class 4)

    /// A 64 MiB machine whose three processes (56 + 8 + 8 MiB) are mostly on swap: bringing
    /// everything back cannot fit, so swapping in OOM-kills the big process while swapoff is
    /// walking its page tables. The walk holds the mm, so it stays valid; the kill reaps its
    /// memory, the walk skips it, swapoff completes and the others read back every value.
    @Test func swapoffSurvivesAnOOMKillOfTheProcessItIsSwappingIn() throws {
        let k = try self.machine(swap: 256 << 20)
        var procs: [(Task, UInt64, Int)] = []
        for (tag, mib) in [56, 8, 8].enumerated() {
            let (t, start) = try self.process(k, "p\(tag)", pages: mib << 8, tag: tag)
            procs.append((t, start, mib << 8))
        }
        #expect(k.swapAreas[0].inUse > 16 << 8)
        try k.swapoff("/dev/sda2")
        #expect(k.swapAreas.isEmpty)
        #expect(k.phys.events(.oomKill) >= 1)
        #expect(procs[0].0.state != .running)
        #expect(k.checkInvariants().isEmpty)
        for (tag, (t, start, pages)) in procs.enumerated().dropFirst() {
            #expect(t.state == .running)
            for i in stride(from: 0, to: pages, by: 7) {
                #expect(k.read(t, start + UInt64(i) << 12).value == UInt64(tag << 32 | i))
            }
        }
        #expect(k.checkInvariants().isEmpty)
    }

    // MARK: The page cache is bounded by RAM (class 3)

    /// A `cached` 1 TiB file on a 64 MiB machine: the last pages that fit in free memory are
    /// cached, in file order, nothing is reclaimed and kswapd is not woken — the work is
    /// bounded by RAM. Cached pages read back without I/O; the rest come from disk.
    @Test func aCachedFileLargerThanMemoryCachesItsLastPagesWithoutReclaim() throws {
        let k = try self.machine()
        // A file that fits is cached whole.
        let small = try k.installFile("/small", size: 1 << 20, cached: true)
        #expect(small.cachedPages == 256)
        let free = k.phys.freePages
        let file = try k.installFile("/big", size: 1 << 40, cached: true)
        let pages = file.sizeInPages(12)
        #expect(file.cachedPages > 0 && file.cachedPages < free)
        #expect(file.pages.keys.min() == pages - UInt64(file.cachedPages))
        #expect(file.pages[pages - 1] != nil)
        #expect(k.phys.events(.pgscanKswapd) == 0 && k.phys.events(.pgscanDirect) == 0)
        #expect(!k.reclaim.kswapdWoken)
        #expect(k.phys.freePages > 0)
        #expect(k.checkInvariants().isEmpty)
        let t = try k.spawn(name: "reader")
        let fd = try k.open(t, "/big")
        let reads = k.vfs.disk.stats.readsCompleted
        #expect(
            try k.read(t, fd: fd, offset: (pages - 1) << 12, length: 4096) == [
                SimFile.initialContent(inode: file.inode, index: pages - 1)
            ])
        #expect(k.vfs.disk.stats.readsCompleted == reads)
        #expect(
            try k.read(t, fd: fd, offset: 0, length: 4096) == [
                SimFile.initialContent(inode: file.inode, index: 0)
            ])
        #expect(k.vfs.disk.stats.readsCompleted > reads)
        #expect(k.checkInvariants().isEmpty)
        // Nothing was evicted to make room; a file beyond the file system's limit is refused.
        #expect(small.cachedPages == 256)
        #expect(throws: MMError.self) { try k.installFile("/huge", size: (16 << 40) + 1, cached: true) }
    }

    /// An executable far larger than memory (its image goes into the page cache at exec):
    /// exec's page-cache work is bounded by RAM, and the image's text faults in from disk.
    @Test func aHugeExecutableIsCachedOnlyAsFarAsMemoryAllows() throws {
        let k = try self.machine()
        let t = try k.spawn(name: "big", layout: ImageLayout(text: 1 << 40))
        let image = k.file(at: "/bin/big")!
        #expect(image.cachedPages > 0 && image.cachedPages < k.phys.totalRAMPages)
        #expect(k.phys.events(.pgscanKswapd) == 0 && k.phys.events(.pgscanDirect) == 0)
        let text = t.mm!.startCode
        #expect(
            k.userAccess(t, address: text, access: .read).value
                == SimFile.initialContent(inode: image.inode, index: 0))
        #expect(t.majorFaults == 1)
        #expect(k.checkInvariants().isEmpty)
    }

    // MARK: Kernel loops stop on a fatal signal (class 3)

    enum Prefault: CaseIterable { case populate, mapLocked, mlock }

    /// A 64 MiB populate (or `MAP_LOCKED`, or `mlock`) on a 32 MiB machine without swap: the
    /// faulting task is the OOM killer's choice. Its populate stops there — before, every
    /// remaining page's fault invoked the OOM killer again and it killed the bystanders one by
    /// one. The bystanders keep their data.
    @Test(arguments: Prefault.allCases)
    func aPrefaultStopsWhenItsTaskIsOOMKilled(how: Prefault) throws {
        let k = try self.machine(memory: 32 << 20)
        var bystanders: [(Task, UInt64)] = []
        for tag in 0..<3 { bystanders.append(try self.process(k, "b\(tag)", pages: 256, tag: tag)) }
        let hog = try k.spawn(name: "hog")
        var request = MapRequest(length: 64 << 20, protection: [.read, .write], shared: false)
        request.noReserve = true
        request.populate = how == .populate
        request.locked = how == .mapLocked
        let start = try k.mmap(hog, request)
        if how == .mlock {
            #expect(throws: Never.self) { try k.mlock(hog, address: start, length: 64 << 20, lock: true) }
        }
        #expect(hog.state != .running)
        #expect(k.phys.events(.oomKill) == 1)
        #expect(k.checkInvariants().isEmpty)
        for (tag, (t, start)) in bystanders.enumerated() {
            #expect(t.state == .running)
            for i in 0..<256 { #expect(k.read(t, start + UInt64(i) << 12).value == UInt64(tag << 32 | i)) }
        }
    }

    /// Populating a 1 TiB `PROT_NONE` area (and the hole after it) costs one step per area,
    /// not one per page: nothing to fault, nothing counted.
    @Test func populatingAnInaccessibleTerabyteSkipsItWhole() throws {
        let k = try self.machine()
        let t = try k.spawn(name: "p")
        var request = MapRequest(length: 1 << 40, protection: [], shared: false)
        request.populate = true
        let faults = (t.minorFaults, t.majorFaults, k.phys.events(.pgfault))
        _ = try k.mmap(t, request)
        #expect((t.minorFaults, t.majorFaults, k.phys.events(.pgfault)) == faults)
        #expect(t.state == .running)
        #expect(k.checkInvariants().isEmpty)
    }

    // MARK: Active swap files (class 5)

    /// While a swap file is active its inode is `S_SWAPFILE`: truncate (to another size),
    /// write and a shared writable mapping get ETXTBSY, unlink EPERM — so later swap I/O still
    /// finds every extent, and every swapped page comes back. After swapoff they work again.
    @Test func anActiveSwapFileCannotBeResizedWrittenMappedOrUnlinked() throws {
        let k = try self.machine(memory: 32 << 20)
        try k.swapon("/swapfile", size: 64 << 20, kind: .file)
        let (t, start) = try self.process(k, "p", pages: 28 << 8, tag: 5)
        #expect(k.swapAreas[0].inUse > 0)
        let size = k.file(at: "/swapfile")!.size
        #expect(throws: MMError.textBusy("/swapfile is an active swap file")) {
            try k.truncate("/swapfile", size: 0)
        }
        #expect(throws: MMError.textBusy("/swapfile is an active swap file")) {
            try k.truncate("/swapfile", size: size * 2)
        }
        try k.truncate("/swapfile", size: size)
        let fd = try k.open(t, "/swapfile")
        #expect(throws: MMError.textBusy("/swapfile is an active swap file")) {
            try k.write(t, fd: fd, offset: 0, length: 4096, value: 1)
        }
        #expect(throws: MMError.textBusy("/swapfile is an active swap file")) {
            try k.mmap(
                t,
                MapRequest(
                    length: 4096, protection: [.read, .write], shared: true, backing: .file(fd: fd, offset: 0)
                ))
        }
        // Reading it and mapping it privately or read-only are allowed.
        _ = try k.read(t, fd: fd, offset: 0, length: 4096)
        _ = try k.mmap(
            t, MapRequest(length: 4096, protection: [.read], shared: true, backing: .file(fd: fd, offset: 0)))
        #expect(throws: MMError.notPermitted("/swapfile is an active swap file")) {
            try k.unlink("/swapfile")
        }
        #expect(k.file(at: "/swapfile")?.size == size)
        #expect(k.checkInvariants().isEmpty)
        for i in 0..<(28 << 8) { #expect(k.read(t, start + UInt64(i) << 12).value == UInt64(5 << 32 | i)) }
        try k.close(t, fd: fd)
        k.exitTask(t, reason: .exited(code: 0))
        try k.swapoff("/swapfile")
        try k.truncate("/swapfile", size: 0)
        try k.unlink("/swapfile")
        #expect(k.file(at: "/swapfile") == nil)
        #expect(k.checkInvariants().isEmpty)
    }

    // MARK: Negative dentries (class 7)

    /// Every way a name comes into being turns a cached negative dentry for it positive
    /// (`d_instantiate()`): a file put on the disk, a directory, a swap file, a file created
    /// by open; and unlink turns it negative again.
    @Test func creatingANameTurnsItsNegativeDentryPositive() throws {
        let k = try self.machine()
        let t = try k.spawn(name: "p")
        for path in ["/x", "/d/f", "/d", "/swapfile", "/made"] {
            #expect(throws: MMError.noEntry(path)) { try k.open(t, path) }
        }
        let negative = k.vfs.negativeDentries
        #expect(negative >= 4)
        try k.installFile("/x", size: 4096)
        try k.makeDirectory("/d")
        try k.installFile("/d/f", size: 2 * 4096)
        try k.swapon("/swapfile", size: 1 << 20, kind: .file)
        let made = try k.open(t, "/made", create: true)
        try k.close(t, fd: made)
        #expect(k.vfs.negativeDentries == negative - 4)
        #expect(k.checkInvariants().isEmpty)
        for path in ["/x", "/d/f", "/swapfile", "/made"] {
            let fd = try k.open(t, path)
            try k.close(t, fd: fd)
        }
        let fd = try k.open(t, "/d/f")
        #expect(
            try k.read(t, fd: fd, offset: 4096, length: 4096) == [
                SimFile.initialContent(inode: k.file(at: "/d/f")!.inode, index: 1)
            ])
        try k.close(t, fd: fd)
        try k.unlink("/x")
        #expect(throws: MMError.noEntry("/x")) { try k.open(t, "/x") }
        try k.installFile("/x", size: 4096)
        let again = try k.open(t, "/x")
        #expect(
            try k.read(t, fd: again, length: 4096) == [
                SimFile.initialContent(inode: k.file(at: "/x")!.inode, index: 0)
            ])
        #expect(k.checkInvariants().isEmpty)
    }

    // MARK: Swap-area limits and host footprint (class 2)

    /// The largest area per architecture (`read_swap_header()` with mkswap's 32-bit
    /// `last_page` and `swapfile_maximum_size`): what a request far beyond it gets, and the
    /// kernel's warning where the header is larger than the swap entry can address.
    @Test(arguments: [
        (Architecture.x86_64, UInt64(UInt32.max), false),
        (Architecture.x86_64LA57, UInt64(UInt32.max), false),
        (Architecture.i386PAE, UInt64(1) << 26, true),
        (Architecture.i386, UInt64(1) << 23, true),
    ])
    func anOversizedSwapAreaIsTruncatedToTheArchitecturesLimit(arch: Architecture, slots: UInt64, warns: Bool)
        throws
    {
        let k = try self.machine(arch: arch)
        let area = try k.swapon("/dev/sdb", size: UInt64(Int64.max), kind: .partition)
        #expect(area.slots == slots)
        #expect(k.swapTotalPages == Int(slots - 1))
        #expect(k.swapFreePages == Int(slots - 1))
        let log = k.phys.log.entries.map(\.text)
        let lastPageKB = (UInt64(UInt32.max) - 1) * 4
        #expect(
            log.contains("Truncating oversized swap area, only using \(slots * 4)k out of \(lastPageKB)k")
                == warns)
        #expect(
            log.contains {
                $0.hasPrefix("Adding \((slots - 1) * 4)k swap on /dev/sdb.  Priority:-2 extents:1")
            })
        // A header within the limit is used whole, silently.
        let fits = try k.swapon("/dev/sdc", size: 1 << 30, kind: .partition)
        #expect(fits.slots == 1 << 18)
        #expect(log.filter { $0.hasPrefix("Truncating") }.count == (warns ? 1 : 0))
        #expect(k.checkInvariants().isEmpty)
    }

    /// `--swap 9223372036854775807` boots, and a 1 TiB and a maximal swap area cost a few
    /// hundred bytes of host memory: only the header's cluster holds slot counts until pages
    /// are swapped, and a cluster's counts go when its last slot is freed. The areas work: a
    /// process larger than RAM swaps and reads back, and the accounting reads right.
    @Test(arguments: [UInt64(1) << 40, UInt64(Int64.max)])
    func aHugeIdleSwapAreaCostsAlmostNothingOnTheHost(size: UInt64) throws {
        let k = try self.machine(memory: 32 << 20, swap: size)
        let area = k.swapAreas[0]
        #expect(area.allocatedClusters == 1)
        #expect(area.nextFreshCluster == 0 && area.freedClusters.isEmpty && area.nonfullClusters.isEmpty)
        #expect(area.table.disk.count == ClusterTable.clusterSize)
        let kb = Int(area.pages) * 4
        #expect(k.swapTotalPages * 4 == kb)
        let (t, start) = try self.process(k, "p", pages: 36 << 8, tag: 9)
        #expect(area.inUse > 0)
        #expect(area.allocatedClusters <= Int(area.inUse / 512) + 3)
        #expect(k.swapFreePages == Int(area.pages - area.inUse))
        #expect(k.checkInvariants().isEmpty)
        for i in 0..<(36 << 8) { #expect(k.read(t, start + UInt64(i) << 12).value == UInt64(9 << 32 | i)) }
        let inUse = area.inUse
        k.exitTask(t, reason: .exited(code: 0))
        // What is left is the few pages of init's that went out too; the clusters the
        // process used are gone (no cluster is kept without a slot in use: checkInvariants).
        #expect(area.inUse < 64 && area.inUse < inUse)
        #expect(area.allocatedClusters <= 1 + Int(area.inUse))
        // Disk words are kept only for slots in use.
        for (_, chunk) in area.table.clusters {
            for i in 0..<ClusterTable.clusterSize where area.table.diskWord(chunk, i) != 0 {
                #expect(area.table.map(chunk, i) != 0)
            }
        }
        #expect(k.checkInvariants().isEmpty)
    }

    /// A 16 TiB swap file is laid out in a bounded number of extents (small scattered ones
    /// for its first 4 GiB, 1 GiB runs after), its slots map to its blocks, and it swaps.
    @Test func aHugeSwapFileHasBoundedExtentsAndWorks() throws {
        let k = try self.machine(memory: 32 << 20)
        let area = try k.swapon("/huge.swap", size: 16 << 40, kind: .file)
        #expect(area.slots == UInt64(UInt32.max))
        let file = k.file(at: "/huge.swap")!
        #expect(file.size == 16 << 40)
        #expect(file.extents.count < 50_000)
        #expect(area.allocatedClusters == 1)
        // Extents are sorted and disjoint, and cover every slot.
        for (a, b) in zip(file.extents, file.extents.dropFirst()) {
            #expect(a.index + a.count == b.index && a.block + a.count < b.block)
        }
        #expect(file.block(of: area.slots - 1) != nil)
        let (t, start) = try self.process(k, "p", pages: 36 << 8, tag: 3)
        #expect(area.inUse > 0)
        for i in 0..<(36 << 8) { #expect(k.read(t, start + UInt64(i) << 12).value == UInt64(3 << 32 | i)) }
        #expect(k.checkInvariants().isEmpty)
        // Larger than the file system allows: EFBIG.
        #expect(throws: MMError.self) { try k.swapon("/too.big", size: (16 << 40) + 4096, kind: .file) }
    }
}
