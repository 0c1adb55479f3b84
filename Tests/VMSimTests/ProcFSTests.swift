import Testing
import VMCore
import VMPhys
import VMTypes

@testable import VMSim

func bootKernel(_ settings: [(String, String)] = []) -> Kernel {
    var config = MachineConfig()
    for (name, value) in settings {
        do { try MachineSpec.apply(name, value, to: &config) } catch {
            fatalError("bad test setting \(name): \(error)")
        }
    }
    do { return try Kernel(config: config) } catch { fatalError("test machine failed to boot: \(error)") }
}

@Suite struct ProcFSTests {
    /// Field names of /proc/meminfo on Linux 6.18 x86_64 (this machine kind), in order.
    static let realMeminfoFields = [
        "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive",
        "Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)", "Unevictable", "Mlocked",
        "SwapTotal",
        "SwapFree", "Zswap", "Zswapped", "Dirty", "Writeback", "AnonPages", "Mapped", "Shmem", "KReclaimable",
        "Slab",
        "SReclaimable", "SUnreclaim", "KernelStack", "PageTables", "SecPageTables", "NFS_Unstable", "Bounce",
        "WritebackTmp", "CommitLimit", "Committed_AS", "VmallocTotal", "VmallocUsed", "VmallocChunk",
        "Percpu",
        "AnonHugePages", "ShmemHugePages", "ShmemPmdMapped", "FileHugePages", "FilePmdMapped", "Balloon",
        "HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp", "Hugepagesize", "Hugetlb",
        "DirectMap4k", "DirectMap2M", "DirectMap1G",
    ]

    @Test func meminfoHasTheRealKernelsFieldsInOrder() {
        let text = ProcFS.meminfo(bootKernel())
        let names = text.split(separator: "\n").map { String($0.prefix { $0 != ":" }) }
        #expect(names == Self.realMeminfoFields)
        // Layout: label padded to 16 columns, value right-aligned in 8, then " kB".
        #expect(text.contains("\nVmallocTotal:   34359738367 kB\n"))
        #expect(text.contains("\nHugePages_Total:       0\n"))
        #expect(text.contains("\nHugepagesize:       2048 kB\n"))
    }

    @Test func i386MeminfoAddsHighAndLowMemory() {
        let text = ProcFS.meminfo(bootKernel([("arch", "i386"), ("memory", "2GiB")]))
        let names = text.split(separator: "\n").map { String($0.prefix { $0 != ":" }) }
        #expect(Array(names[13...17]) == ["Mlocked", "HighTotal", "HighFree", "LowTotal", "LowFree"])
        #expect(names.suffix(2) == ["DirectMap4k", "DirectMap4M"])
        #expect(text.contains("Hugepagesize:       4096 kB"))
    }

    @Test func memTotalMatchesManagedPagesAndMemFreeMatchesFreePages() {
        let kernel = bootKernel()
        let fields = Dictionary(uniqueKeysWithValues: kernel.memInfo().map { ($0.name, $0.value) })
        #expect(fields["MemTotal"] == kernel.phys.totalRAMPages * 4)
        #expect(fields["MemFree"] == UInt64(kernel.phys.freePages) * 4)
        #expect(fields["MemTotal"]! < 1 << 20)
        #expect(fields["Slab"] == fields["SReclaimable"]! + fields["SUnreclaim"]!)
    }

    @Test func buddyinfoListsPopulatedZonesWithElevenOrders() {
        let lines = ProcFS.buddyinfo(bootKernel()).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("Node 0, zone      DMA "))
        #expect(lines[1].hasPrefix("Node 0, zone    DMA32 "))
        #expect(lines[0].split(separator: " ").count == 4 + 11)
    }

    @Test func zoneinfoReproducesTheRealLayoutForAKnownMachine() {
        let kernel = bootKernel([
            ("zones", "DMA=3840,DMA32=772917,Normal=294912"), ("min-free-kbytes", "67584"),
        ])
        let text = ProcFS.zoneinfo(kernel)
        #expect(
            text.contains(
                """
                Node 0, zone      DMA
                  per-node stats
                      nr_inactive_anon 1
                """))
        #expect(
            text.contains(
                """
                  pages free     3840
                        boost    0
                        min      60
                        low      75
                        high     90
                        promo    105
                        spanned  3840
                        present  3840
                        managed  3840
                        cma      0
                        protection: (0, 3019, 4171, 4171, 4171)
                      nr_free_pages 3840
                      nr_free_pages_blocks 3584
                """))
        #expect(
            text.contains(
                """
                Node 0, zone  Movable
                  pages free     0
                        boost    0
                        min      32
                        low      32
                        high     32
                        promo    32
                        spanned  0
                        present  0
                        managed  0
                        cma      0
                        protection: (0, 0, 0, 0, 0)
                Node 0, zone   Device
                """))
        #expect(
            text.contains("  vm stats threshold: 24\n  node_unreclaimable:  0\n  start_pfn:           4096\n")
        )
    }

    @Test func slabinfoHasTheVersionHeaderAndSLUBColumns() {
        let kernel = bootKernel()
        let lines = ProcFS.slabinfo(kernel).split(separator: "\n")
        #expect(lines[0] == "slabinfo - version: 2.1")
        #expect(lines[1].hasPrefix("# name            <active_objs> <num_objs> <objsize>"))
        // Every cache is described by a kmem_cache object, so it holds as many as there are caches.
        let caches = kernel.phys.slab.caches.count
        #expect(lines.count == 2 + caches)
        #expect(lines.last!.hasPrefix("kmem_cache        " + Pad.right(caches, 6) + " "))
        #expect(
            lines.last!.hasSuffix(
                "    256   16    1 : tunables    0    0    0 : slabdata      2      2      0"))
    }

    @Test func vmallocinfoShowsGuardPagesAndCallers() {
        let kernel = bootKernel()
        // init and kthreadd got 16 KiB kernel stacks (plus a guard page each) at boot.
        let stacks = """
            0xffffc90000000000-0xffffc90000005000   20480 alloc_thread_stack_node pages=4 vmalloc N0=4
            0xffffc90000008000-0xffffc9000000d000   20480 alloc_thread_stack_node pages=4 vmalloc N0=4

            """
        #expect(ProcFS.vmallocinfo(kernel) == stacks)
        // Lowest fit: 8 KiB (one page and its guard) fits in the gap between the two stacks.
        let a = kernel.phys.vmalloc(4096, caller: "test_caller")!
        #expect(a == 0xffff_c900_0000_5000)
        let lines = ProcFS.vmallocinfo(kernel).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[1] == "0xffffc90000005000-0xffffc90000007000    8192 test_caller pages=1 vmalloc N0=1")
        kernel.phys.vfree(a)
        #expect(
            ProcFS.vmallocinfo(kernel) == stacks
                + "0xffffc90000005000-0xffffc90000007000    8192 unpurged vm_area\n")
    }

    @Test func vmstatNamesZoneCountersAfterTheArchitecturesZones() {
        let x86 = ProcFS.vmstat(bootKernel())
        #expect(x86.contains("\npgalloc_dma32 ") && x86.contains("\nallocstall_device 0\n"))
        let i386 = ProcFS.vmstat(bootKernel([("arch", "i386"), ("memory", "2GiB")]))
        #expect(i386.contains("\npgalloc_high ") && !i386.contains("dma32"))
        #expect(x86.hasSuffix("nr_unstable 0\n"))
    }

    @Test func defaultMachineReportsMatchTheirGoldenFiles() {
        let kernel = bootKernel()
        Golden.check(ProcFS.meminfo(kernel), "default/meminfo")
        Golden.check(ProcFS.buddyinfo(kernel), "default/buddyinfo")
        Golden.check(ProcFS.zoneinfo(kernel), "default/zoneinfo")
        Golden.check(ProcFS.slabinfo(kernel), "default/slabinfo")
        Golden.check(ProcFS.vmallocinfo(kernel), "default/vmallocinfo")
        Golden.check(ProcFS.vmstat(kernel), "default/vmstat")
    }

    @Test func jsonReportIsDeterministicAndCarriesTheSameNumbers() {
        let a = MachineReport(kernel: bootKernel()).json()
        let b = MachineReport(kernel: bootKernel()).json()
        #expect(a == b)
        #expect(a.contains("\"MemTotal\" : 1018884"))
    }
}
