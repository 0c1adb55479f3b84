import Testing
import VMPaging
import VMPhys
import VMTypes

@testable import VMCore

/// Readahead windows, the dentry and inode caches, writeback and the disk model.
@Suite struct PageCacheTests {
    func bootWithFile(_ pages: UInt64, cached: Bool = false, disk: DiskKind = .ssd) -> (Kernel, Task, Int) {
        var config = MachineConfig()
        config.memory = 256 << 20
        config.disk = disk
        let k = try! Kernel(config: config)
        try! k.installFile("/data/f", size: pages << 12, cached: cached)
        let t = try! k.spawn(name: "reader")
        let fd = try! k.open(t, "/data/f")
        return (k, t, fd)
    }

    /// The XArray's node count: one node per 64 slots at each level under the root; a lone
    /// entry at offset 0 needs none.
    @Test func theIndexCountsTheNodesLinuxWouldAllocate() {
        let index = PageCacheIndex()
        let pfn = PFN(rawValue: 42)
        index[0] = pfn
        #expect(index.nodeCount == 0)
        index[1] = pfn
        #expect(index.nodeCount == 1)
        for i in UInt64(0)..<64 { index[i] = pfn }
        #expect(index.nodeCount == 1)
        index[64] = pfn
        #expect(index.nodeCount == 3)  // a root over two leaves
        index[4096] = pfn
        #expect(index.nodeCount == 6)  // height 3: root, two level-1 nodes, three leaves
        index[4096] = nil
        #expect(index.nodeCount == 3)
        #expect(index.maxIndex == 64)
        for i in UInt64(0)...64 { index[i] = nil }
        #expect(index.isEmpty && index.nodeCount == 0)
        index[100] = pfn
        #expect(index.nodeCount == 2)
        #expect(index.keys == [100] && index[100] == pfn && index[99] == nil)
    }

    @Test func windowSizesFollowTheKernelFormulas() {
        // get_init_ra_size(): 1-2 pages → 4, 3-4 → 8 … for a 32-page maximum.
        #expect(Kernel.initialReadaheadSize(1, max: 32) == 4)
        #expect(Kernel.initialReadaheadSize(2, max: 32) == 4)
        #expect(Kernel.initialReadaheadSize(3, max: 32) == 8)
        #expect(Kernel.initialReadaheadSize(8, max: 32) == 16)
        #expect(Kernel.initialReadaheadSize(9, max: 32) == 32)
        #expect(Kernel.nextReadaheadSize(4, max: 32) == 8)
        #expect(Kernel.nextReadaheadSize(1, max: 32) == 4)
        #expect(Kernel.nextReadaheadSize(16, max: 32) == 32)
        #expect(Kernel.nextReadaheadSize(32, max: 32) == 32)
    }

    /// 4 KiB sequential reads of an uncached file: windows of 4, 8, 16, 32, 32 pages, each
    /// started when the reader reaches the marked page.
    @Test func sequentialSmallReadsRampTheWindowUp() throws {
        let (k, t, fd) = self.bootWithFile(200)
        let file = k.file(at: "/data/f")!
        var cachedAfter: [Int] = []
        for page in UInt64(0)..<40 {
            let words = try k.read(t, fd: fd, length: 4096)
            #expect(words == [SimFile.initialContent(inode: file.inode, index: page)])
            cachedAfter.append(file.cachedPages)
        }
        // Read 0: sync window 0..<4 (mark at 1). Read 1: async 4..<12. Read 4: async 12..<28.
        // Read 12: async 28..<60. Read 28: async 60..<92.
        #expect(cachedAfter[0] == 4)
        #expect(cachedAfter[1] == 12)
        #expect(cachedAfter[3] == 12)
        #expect(cachedAfter[4] == 28)
        #expect(cachedAfter[12] == 60)
        #expect(cachedAfter[28] == 92)
        #expect(file.openRA(k, t, fd).size == 32)
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func aLargeReadUsesTheDiskIOSizeAndOneRequestPerWindow() throws {
        let (k, t, fd) = self.bootWithFile(1000)
        k.resetCounters()
        let words = try k.read(t, fd: fd, offset: 0, length: 1000 << 12)
        #expect(words.count == 1000)
        // A 1000-page request may read up to io_pages (320) at a time: 320, 320, 320, 40.
        #expect(k.vfs.disk.stats.readsCompleted == 4)
        #expect(k.vfs.disk.stats.sectorsRead == 8000)
        #expect(k.phys.events(.pgpgin) == 4000)
    }

    @Test func smallRandomReadsReadJustTheRequestAndASequentialOneStartsAWindow() throws {
        let (k, t, fd) = self.bootWithFile(1000)
        let file = k.file(at: "/data/f")!
        // No history and nothing cached before page 500: a small random read, read as is.
        _ = try k.read(t, fd: fd, offset: 500 << 12, length: 4096)
        #expect(file.cachedPages == 1)
        // Right after the previous read: a new window of 4 (501..<505).
        _ = try k.read(t, fd: fd, offset: 501 << 12, length: 4096)
        #expect(file.cachedPages == 5)
        #expect((501..<505).allSatisfy { file.pages[$0] != nil })
        _ = try k.read(t, fd: fd, offset: 100 << 12, length: 4096)
        #expect(file.cachedPages == 6)
        // POSIX_FADV_RANDOM: even a sequential read reads only what it asks for.
        try k.fadvise(t, fd: fd, offset: 0, length: 0, advice: .random)
        _ = try k.read(t, fd: fd, offset: 101 << 12, length: 4096)
        #expect(file.cachedPages == 7)
    }

    @Test func readsOfAPageStillInFlightWaitButDoNotReadAgain() throws {
        let (k, t, fd) = self.bootWithFile(64, disk: .hdd)
        k.resetCounters()
        try k.fadvise(t, fd: fd, offset: 0, length: 64 << 12, advice: .willneed)
        #expect(k.vfs.disk.stats.readsCompleted == 1)
        #expect(k.vfs.disk.inFlight == 1)
        let before = k.now
        _ = try k.read(t, fd: fd, offset: 10 << 12, length: 4096)
        #expect(k.now > before)
        #expect(t.blkioDelay > 0 && t.blkioDelay <= k.now - before)
        #expect(k.vfs.disk.stats.readsCompleted == 1)
        #expect(k.vfs.disk.inFlight == 0)
    }

    @Test func hddSeeksCostMoreThanSequentialTransfers() {
        let disk = BlockDevice(kind: .hdd, capacityBlocks: 1 << 26)
        let sequential = disk.serviceTime(BlockRequest(operation: .read, block: 100, count: 32), head: 100)
        let seek = disk.serviceTime(BlockRequest(operation: .read, block: 1 << 25, count: 32), head: 100)
        #expect(sequential < 1_000_000)  // 128 KiB at 150 MB/s: 0.87 ms
        #expect(seek > 10_000_000)  // half the disk away: seek + half a rotation
        let ssd = BlockDevice(kind: .ssd, capacityBlocks: 1 << 26)
        #expect(
            ssd.serviceTime(BlockRequest(operation: .read, block: 1 << 25, count: 1), head: 100)
                == ssd.serviceTime(BlockRequest(operation: .read, block: 101, count: 1), head: 100))
    }

    @Test func lookupsFillTheDentryAndInodeCachesAndTheShrinkerEmptiesThem() throws {
        let k = bootKernel()
        try k.installFile("/a/b/c", size: 8192)
        let t = try k.spawn(name: "t")
        let dentries = k.phys.slabCache(k.caches.dentry).activeObjects
        let buffers = k.bufferPages
        let fd = try k.open(t, "/a/b/c")
        // /a, /a/b, /a/b/c: three dentries, three inodes; directory and inode blocks read.
        #expect(k.phys.slabCache(k.caches.dentry).activeObjects == dentries + 3)
        #expect(k.bufferPages > buffers)
        #expect(throws: MMError.noEntry("/a/b/x")) { try k.open(t, "/a/b/x") }
        #expect(k.vfs.negativeDentries == 1)
        try k.close(t, fd: fd)
        #expect(k.vfs.unusedDentries >= 1)
        let again = try k.open(t, "/a/b/c")
        _ = try k.read(t, fd: again, length: 8192)
        try k.close(t, fd: again)
        #expect(k.file(at: "/a/b/c")!.cachedPages == 2)
        k.dropSlab()
        // Every unused dentry goes; c's inode goes with its clean pages (pginodesteal).
        #expect(k.vfs.unusedDentries == 0)
        #expect(k.file(at: "/a/b/c")!.inCore == false)
        #expect(k.file(at: "/a/b/c")!.cachedPages == 0)
        #expect(k.phys.events(.pginodesteal) == 2)
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func unlinkingAnOpenFileKeepsItUntilTheLastClose() throws {
        let k = bootKernel()
        try k.installFile("/f", size: 4 << 12, cached: true)
        let t = try k.spawn(name: "t")
        let fd = try k.open(t, "/f")
        try k.unlink("/f")
        #expect(k.file(at: "/f") == nil)
        #expect(throws: MMError.noEntry("/f")) { try k.open(t, "/f") }
        #expect(try k.read(t, fd: fd, offset: 0, length: 4096).count == 1)
        let cached = k.phys.state(.nrFilePages)
        try k.close(t, fd: fd)
        #expect(k.phys.state(.nrFilePages) == cached - 4)
        #expect(k.checkInvariants().isEmpty)
    }

    @Test func writersAboveTheDirtyLimitAreThrottledUntilWritebackCatchesUp() throws {
        var config = MachineConfig()
        config.memory = 128 << 20
        config.disk = .hdd
        let k = try Kernel(config: config)
        let t = try k.spawn(name: "w")
        let fd = try k.open(t, "/big", create: true)
        let limits = k.globalDirtyLimits()
        try k.write(t, fd: fd, offset: 0, length: UInt64(limits.dirty + 2000) << 12, value: 1)
        // The writer slept on writeback; dirty + writeback ended at or under the hard limit.
        #expect(t.blkioDelay > 0)
        #expect(k.phys.state(.nrDirty) + k.phys.state(.nrWriteback) <= k.globalDirtyLimits().dirty)
        #expect(k.checkInvariants().isEmpty)
        k.sync()
        #expect(k.phys.state(.nrDirty) == 0)
        #expect(k.phys.state(.nrWriteback) == 0)
    }

    @Test func sysctlsAreCheckedAndApplied() throws {
        let k = bootKernel()
        try k.setSysctl("vm.dirty_ratio", "30")
        #expect(k.sysctl.dirtyRatio == 30)
        #expect(throws: MMError.self) { try k.setSysctl("vm.dirty_ratio", "101") }
        #expect(throws: MMError.self) { try k.setSysctl("vm.nonsense", "1") }
        try k.setSysctl("block.read_ahead_kb", "0")
        try k.installFile("/f", size: 100 << 12)
        let t = try k.spawn(name: "t")
        let fd = try k.open(t, "/f")
        _ = try k.read(t, fd: fd, length: 4096)
        #expect(k.file(at: "/f")!.cachedPages == 1)
    }
}

extension SimFile {
    /// The readahead state of the task's descriptor.
    func openRA(_ k: Kernel, _ t: Task, _ fd: Int) -> ReadaheadState { k.openFile(t.files[fd]!)!.ra }
}
