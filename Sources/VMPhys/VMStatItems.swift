// Generated from /proc/vmstat of Linux 6.18 (x86_64); names and order are the kernel's
// (mm/vmstat.c vmstat_text[]). Items vmsim does not model stay at zero, as on a kernel
// built without the feature's activity.

/// Per-zone counters (`enum zone_stat_item`, include/linux/mmzone.h).
public enum ZoneStatItem: Int, CaseIterable, Sendable {
    case nrFreePages
    case nrFreePagesBlocks
    case nrZoneInactiveAnon
    case nrZoneActiveAnon
    case nrZoneInactiveFile
    case nrZoneActiveFile
    case nrZoneUnevictable
    case nrZoneWritePending
    case nrMlock
    case nrZspages
    case nrFreeCma

    /// The name `/proc/vmstat` and `/proc/zoneinfo` print.
    public var name: String { Self.names[self.rawValue] }
    static let names: [String] = [
        "nr_free_pages", "nr_free_pages_blocks", "nr_zone_inactive_anon", "nr_zone_active_anon",
        "nr_zone_inactive_file", "nr_zone_active_file", "nr_zone_unevictable", "nr_zone_write_pending",
        "nr_mlock", "nr_zspages", "nr_free_cma",
    ]
}

/// Per-zone NUMA allocation counters (`enum numa_stat_item`); vmsim has one node, so every
/// allocation is a hit and local.
public enum NUMAStatItem: Int, CaseIterable, Sendable {
    case numaHit
    case numaMiss
    case numaForeign
    case numaInterleave
    case numaLocal
    case numaOther

    /// The name `/proc/vmstat` and `/proc/zoneinfo` print.
    public var name: String { Self.names[self.rawValue] }
    static let names: [String] = [
        "numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local", "numa_other",
    ]
}

/// Per-node counters (`enum node_stat_item`); vmsim models one node.
public enum NodeStatItem: Int, CaseIterable, Sendable {
    case nrInactiveAnon
    case nrActiveAnon
    case nrInactiveFile
    case nrActiveFile
    case nrUnevictable
    case nrSlabReclaimable
    case nrSlabUnreclaimable
    case nrIsolatedAnon
    case nrIsolatedFile
    case workingsetNodes
    case workingsetRefaultAnon
    case workingsetRefaultFile
    case workingsetActivateAnon
    case workingsetActivateFile
    case workingsetRestoreAnon
    case workingsetRestoreFile
    case workingsetNodereclaim
    case nrAnonPages
    case nrMapped
    case nrFilePages
    case nrDirty
    case nrWriteback
    case nrShmem
    case nrShmemHugepages
    case nrShmemPmdmapped
    case nrFileHugepages
    case nrFilePmdmapped
    case nrAnonTransparentHugepages
    case nrVmscanWrite
    case nrVmscanImmediateReclaim
    case nrDirtied
    case nrWritten
    case nrThrottledWritten
    case nrKernelMiscReclaimable
    case nrFollPinAcquired
    case nrFollPinReleased
    case nrKernelStack
    case nrPageTablePages
    case nrSecPageTablePages
    case nrIommuPages
    case nrSwapcached
    case pgpromoteSuccess
    case pgpromoteCandidate
    case pgpromoteCandidateNrl
    case pgdemoteKswapd
    case pgdemoteDirect
    case pgdemoteKhugepaged
    case pgdemoteProactive
    case nrHugetlb
    case nrBalloonPages
    case nrKernelFilePages

    /// The name `/proc/vmstat` and `/proc/zoneinfo` print.
    public var name: String { Self.names[self.rawValue] }
    static let names: [String] = [
        "nr_inactive_anon", "nr_active_anon", "nr_inactive_file", "nr_active_file", "nr_unevictable",
        "nr_slab_reclaimable", "nr_slab_unreclaimable", "nr_isolated_anon", "nr_isolated_file",
        "workingset_nodes", "workingset_refault_anon", "workingset_refault_file",
        "workingset_activate_anon", "workingset_activate_file", "workingset_restore_anon",
        "workingset_restore_file", "workingset_nodereclaim", "nr_anon_pages", "nr_mapped", "nr_file_pages",
        "nr_dirty", "nr_writeback", "nr_shmem", "nr_shmem_hugepages", "nr_shmem_pmdmapped",
        "nr_file_hugepages", "nr_file_pmdmapped", "nr_anon_transparent_hugepages", "nr_vmscan_write",
        "nr_vmscan_immediate_reclaim", "nr_dirtied", "nr_written", "nr_throttled_written",
        "nr_kernel_misc_reclaimable", "nr_foll_pin_acquired", "nr_foll_pin_released", "nr_kernel_stack",
        "nr_page_table_pages", "nr_sec_page_table_pages", "nr_iommu_pages", "nr_swapcached",
        "pgpromote_success", "pgpromote_candidate", "pgpromote_candidate_nrl", "pgdemote_kswapd",
        "pgdemote_direct", "pgdemote_khugepaged", "pgdemote_proactive", "nr_hugetlb", "nr_balloon_pages",
        "nr_kernel_file_pages",
    ]
}

/// Event counters (`enum vm_event_item`, include/linux/vm_event_item.h), the second half of
/// `/proc/vmstat`. Count one with `stats.count(.pgfault)`.
public enum VMEvent: Int, CaseIterable, Sendable {
    case pgpgin
    case pgpgout
    case pswpin
    case pswpout
    case pgallocDma
    case pgallocDma32
    case pgallocNormal
    case pgallocMovable
    case pgallocDevice
    case allocstallDma
    case allocstallDma32
    case allocstallNormal
    case allocstallMovable
    case allocstallDevice
    case pgskipDma
    case pgskipDma32
    case pgskipNormal
    case pgskipMovable
    case pgskipDevice
    case pgfree
    case pgactivate
    case pgdeactivate
    case pglazyfree
    case pgfault
    case pgmajfault
    case pglazyfreed
    case pgrefill
    case pgreuse
    case pgstealKswapd
    case pgstealDirect
    case pgstealKhugepaged
    case pgstealProactive
    case pgscanKswapd
    case pgscanDirect
    case pgscanKhugepaged
    case pgscanProactive
    case pgscanDirectThrottle
    case pgscanAnon
    case pgscanFile
    case pgstealAnon
    case pgstealFile
    case zoneReclaimSuccess
    case zoneReclaimFailed
    case pginodesteal
    case slabsScanned
    case kswapdInodesteal
    case kswapdLowWmarkHitQuickly
    case kswapdHighWmarkHitQuickly
    case pageoutrun
    case pgrotated
    case dropPagecache
    case dropSlab
    case oomKill
    case numaPteUpdates
    case numaHugePteUpdates
    case numaHintFaults
    case numaHintFaultsLocal
    case numaPagesMigrated
    case pgmigrateSuccess
    case pgmigrateFail
    case thpMigrationSuccess
    case thpMigrationFail
    case thpMigrationSplit
    case compactMigrateScanned
    case compactFreeScanned
    case compactIsolated
    case compactStall
    case compactFail
    case compactSuccess
    case compactDaemonWake
    case compactDaemonMigrateScanned
    case compactDaemonFreeScanned
    case htlbBuddyAllocSuccess
    case htlbBuddyAllocFail
    case unevictablePgsCulled
    case unevictablePgsScanned
    case unevictablePgsRescued
    case unevictablePgsMlocked
    case unevictablePgsMunlocked
    case unevictablePgsCleared
    case unevictablePgsStranded
    case thpFaultAlloc
    case thpFaultFallback
    case thpFaultFallbackCharge
    case thpCollapseAlloc
    case thpCollapseAllocFailed
    case thpFileAlloc
    case thpFileFallback
    case thpFileFallbackCharge
    case thpFileMapped
    case thpSplitPage
    case thpSplitPageFailed
    case thpDeferredSplitPage
    case thpUnderusedSplitPage
    case thpSplitPmd
    case thpScanExceedNonePte
    case thpScanExceedSwapPte
    case thpScanExceedSharePte
    case thpSplitPud
    case thpZeroPageAlloc
    case thpZeroPageAllocFailed
    case thpSwpout
    case thpSwpoutFallback
    case balloonInflate
    case balloonDeflate
    case balloonMigrate
    case swapRa
    case swapRaHit
    case swpinZero
    case swpoutZero
    case ksmSwpinCopy
    case cowKsm
    case zswpin
    case zswpout
    case zswpwb
    case directMapLevel2Splits
    case directMapLevel3Splits
    case directMapLevel2Collapses
    case directMapLevel3Collapses

    /// The name `/proc/vmstat` and `/proc/zoneinfo` print.
    public var name: String { Self.names[self.rawValue] }
    static let names: [String] = [
        "pgpgin", "pgpgout", "pswpin", "pswpout", "pgalloc_dma", "pgalloc_dma32", "pgalloc_normal",
        "pgalloc_movable", "pgalloc_device", "allocstall_dma", "allocstall_dma32", "allocstall_normal",
        "allocstall_movable", "allocstall_device", "pgskip_dma", "pgskip_dma32", "pgskip_normal",
        "pgskip_movable", "pgskip_device", "pgfree", "pgactivate", "pgdeactivate", "pglazyfree", "pgfault",
        "pgmajfault", "pglazyfreed", "pgrefill", "pgreuse", "pgsteal_kswapd", "pgsteal_direct",
        "pgsteal_khugepaged", "pgsteal_proactive", "pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged",
        "pgscan_proactive", "pgscan_direct_throttle", "pgscan_anon", "pgscan_file", "pgsteal_anon",
        "pgsteal_file", "zone_reclaim_success", "zone_reclaim_failed", "pginodesteal", "slabs_scanned",
        "kswapd_inodesteal", "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly", "pageoutrun",
        "pgrotated", "drop_pagecache", "drop_slab", "oom_kill", "numa_pte_updates", "numa_huge_pte_updates",
        "numa_hint_faults", "numa_hint_faults_local", "numa_pages_migrated", "pgmigrate_success",
        "pgmigrate_fail", "thp_migration_success", "thp_migration_fail", "thp_migration_split",
        "compact_migrate_scanned", "compact_free_scanned", "compact_isolated", "compact_stall",
        "compact_fail", "compact_success", "compact_daemon_wake", "compact_daemon_migrate_scanned",
        "compact_daemon_free_scanned", "htlb_buddy_alloc_success", "htlb_buddy_alloc_fail",
        "unevictable_pgs_culled", "unevictable_pgs_scanned", "unevictable_pgs_rescued",
        "unevictable_pgs_mlocked", "unevictable_pgs_munlocked", "unevictable_pgs_cleared",
        "unevictable_pgs_stranded", "thp_fault_alloc", "thp_fault_fallback", "thp_fault_fallback_charge",
        "thp_collapse_alloc", "thp_collapse_alloc_failed", "thp_file_alloc", "thp_file_fallback",
        "thp_file_fallback_charge", "thp_file_mapped", "thp_split_page", "thp_split_page_failed",
        "thp_deferred_split_page", "thp_underused_split_page", "thp_split_pmd", "thp_scan_exceed_none_pte",
        "thp_scan_exceed_swap_pte", "thp_scan_exceed_share_pte", "thp_split_pud", "thp_zero_page_alloc",
        "thp_zero_page_alloc_failed", "thp_swpout", "thp_swpout_fallback", "balloon_inflate",
        "balloon_deflate", "balloon_migrate", "swap_ra", "swap_ra_hit", "swpin_zero", "swpout_zero",
        "ksm_swpin_copy", "cow_ksm", "zswpin", "zswpout", "zswpwb", "direct_map_level2_splits",
        "direct_map_level3_splits", "direct_map_level2_collapses", "direct_map_level3_collapses",
    ]
}
