#!/usr/bin/env python3
"""Build the measurement tables of README.md from results/*.txt.

usage: tables.py [--write]   print the tables, or replace the part of
                             README.md between the <!-- tables:begin --> and
                             <!-- tables:end --> markers.

A value written A..B means the runs differed (min..max); the exact per-run
values are in the results file as unstable.KEY.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, "results")


def load(name):
    d = {}
    cases = []
    path = os.path.join(RES, name + ".txt")
    if not os.path.exists(path):
        return d, cases
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"# case (\S+): (.*)", line)
            if m:
                cases.append((m.group(1), m.group(2)))
                continue
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                d[k] = v
    return d, cases


def unstable_keys(d, case):
    p = "unstable." + case + "."
    return [k[len(p):] for k in d if k.startswith(p)]


def g(d, case, key, default="-"):
    return d.get(case + "." + key, default)


def short(v, n=60):
    return v if len(v) <= n else v[: n - 3] + "..."


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(x).replace("|", "\\|") for x in r) + " |")
    return "\n".join(out) + "\n"


def stab(d, case, keys):
    """'stable' or the list of the shown keys whose runs differed."""
    u = unstable_keys(d, case)
    bad = [k for k in u if any(k == s or k.startswith(s + ".") or k.endswith("." + s) for s in keys)]
    shown = [k for k in u if k in keys]
    if not shown:
        return "stable"
    return "unstable: " + ", ".join(shown)


def mf(d, case, key):
    """minflt/majflt pair as 'min/maj'."""
    return "%s/%s" % (g(d, case, key + ".minflt"), g(d, case, key + ".majflt"))


def thp_tables():
    d, cases = load("thp")
    out = []
    # touch
    rows = []
    for c, cmd in cases:
        if ".touch." not in c:
            continue
        mode, _, size, off, adv = c.split(".")[:5]
        keys = ["write.minflt", "write.faults_per_block", "write.smaps.AnonHugePages_kB",
                "write.vmstat.thp_fault_alloc", "write.vmstat.thp_fault_fallback", "write.folios.folio_hist",
                "start_offset_in_pmd_kB"]
        rows.append([c, mode, size, off.replace("off", ""), adv, g(d, c, "start_offset_in_pmd_kB"),
                     g(d, c, "write.minflt"), g(d, c, "write.faults_per_block"),
                     g(d, c, "write.smaps.AnonHugePages_kB"), g(d, c, "write.vmstat.thp_fault_alloc"),
                     g(d, c, "write.vmstat.thp_fault_fallback"), g(d, c, "write.folios.folio_hist"),
                     stab(d, c, keys)])
    out.append("#### THP: write every 4 KiB page of a fresh private anonymous mapping\n")
    out.append("Source: mm/huge_memory.c `do_huge_pmd_anonymous_page()`, `__thp_vma_allowable_orders()` "
               "(madvise mode needs VM_HUGEPAGE, VM_NOHUGEPAGE always refuses), include/linux/huge_mm.h "
               "`thp_vma_suitable_order()` (the 2 MiB-aligned block must lie inside the VMA), mm/mmap.c "
               "`__get_unmapped_area()` (only lengths that are a multiple of 2 MiB are THP-aligned by mmap, "
               "6.12+). faults/block = faults/pages for each 2 MiB-aligned block the mapping touches.\n")
    out.append(table(["case", "THP mode", "size", "offset KiB", "madvise", "start in PMD (KiB)", "faults",
                      "faults/block", "AnonHugePages kB", "thp_fault_alloc", "thp_fault_fallback",
                      "folio orders", "stability"], rows))
    # zero page
    rows = []
    for c, cmd in cases:
        if ".zero." not in c:
            continue
        keys = ["read.minflt", "read.folios.huge_zero_page", "read.folios.zero_page", "read.smaps.Rss_kB",
                "write_first.minflt", "write_first.vmstat.thp_fault_alloc", "write_first.smaps.AnonHugePages_kB",
                "write_first.smaps.Rss_kB", "write_rest.minflt", "write_rest.smaps.AnonHugePages_kB",
                "read.vmstat.thp_zero_page_alloc", "write_first.vmstat.thp_split_pmd"]
        rows.append([c, g(d, c, "read.minflt"), g(d, c, "read.folios.huge_zero_page"),
                     g(d, c, "read.folios.zero_page"), g(d, c, "read.smaps.Rss_kB"),
                     g(d, c, "read.vmstat.thp_zero_page_alloc"), g(d, c, "write_first.minflt"),
                     g(d, c, "write_first.vmstat.thp_fault_alloc"), g(d, c, "write_first.vmstat.thp_split_pmd"),
                     g(d, c, "write_first.smaps.Rss_kB"), g(d, c, "write_first.smaps.AnonHugePages_kB"),
                     g(d, c, "write_rest.minflt"), g(d, c, "write_rest.smaps.AnonHugePages_kB"),
                     stab(d, c, keys)])
    out.append("\n#### THP: read every page of a 4 MiB aligned mapping, then write page 0, then the other 1023\n")
    out.append("Source: mm/huge_memory.c `do_huge_pmd_anonymous_page()` (read fault + `use_zero_page` maps the "
               "huge zero folio, `THP_ZERO_PAGE_ALLOC` counts only its first allocation), "
               "`do_huge_pmd_wp_page()` -> `do_huge_zero_wp_pmd()` (since 6.14: a write to the huge zero PMD "
               "allocates a THP in one fault instead of splitting), mm/memory.c `do_anonymous_page()` / "
               "`wp_page_copy()` for 4 KiB.\n")
    out.append(table(["case", "read faults", "huge-zero PTEs", "4K zero PTEs", "Rss after read kB",
                      "thp_zero_page_alloc", "write page0 faults", "thp_fault_alloc", "thp_split_pmd",
                      "Rss kB", "AnonHugePages kB", "write rest faults", "AnonHugePages end", "stability"], rows))
    # split
    rows = []
    for c, cmd in cases:
        if ".split." not in c:
            continue
        keys = ["op.minflt", "op.vmstat.thp_split_pmd", "op.vmstat.thp_deferred_split_page", "op.vmstat.thp_split_page",
                "after_op.smaps.AnonHugePages_kB", "after_op.smaps.vmas", "after_op.folios.folio_hist",
                "reread_all.minflt", "rewrite_others.minflt", "rewrite_victim.minflt", "final.smaps.AnonHugePages_kB",
                "final.folios.folio_hist"]
        rows.append([c, g(d, c, "setup_write.minflt"), g(d, c, "op.minflt"), g(d, c, "op.vmstat.thp_split_pmd"),
                     g(d, c, "op.vmstat.thp_deferred_split_page"), g(d, c, "op.vmstat.thp_split_page"),
                     g(d, c, "after_op.smaps.vmas"), g(d, c, "after_op.smaps.AnonHugePages_kB"),
                     g(d, c, "after_op.folios.folio_hist"), g(d, c, "after_op.page101.folio_order"),
                     g(d, c, "reread_all.minflt"), g(d, c, "rewrite_others.minflt"),
                     g(d, c, "rewrite_victim.minflt"), g(d, c, "final.smaps.AnonHugePages_kB"),
                     g(d, c, "final.folios.folio_hist"), stab(d, c, keys)])
    out.append("\n#### THP: operation on one 4 KiB page (page 100) inside the first of two THPs (4 MiB, MADV_HUGEPAGE)\n")
    out.append("Source: mm/huge_memory.c `__split_huge_pmd()` / `__split_huge_pmd_locked()` (counts "
               "`THP_SPLIT_PMD`; the folio stays order 9, now PTE-mapped), `deferred_split_folio()` (counts "
               "`THP_DEFERRED_SPLIT_PAGE` when a page of the folio is unmapped; the folio itself is split later "
               "by the shrinker), mm/mprotect.c `change_pmd_range()`; restore: `can_change_pte_writable()` "
               "makes the PTE writable again without a fault.  After DONTNEED the victim reads as the 4 KiB "
               "zero page (1 fault) and a write allocates a 4 KiB page (1 fault).\n")
    out.append(table(["case", "setup faults", "op faults", "thp_split_pmd", "thp_deferred_split_page",
                      "thp_split_page", "VMAs after", "AnonHugePages after", "folio orders after",
                      "page101 order", "re-read faults", "re-write faults", "victim write faults",
                      "AnonHugePages end", "folio orders end", "stability"], rows))
    # fork
    rows = []
    for c, cmd in cases:
        if ".fork." not in c:
            continue
        keys = ["child_read_all.minflt", "child_after_read.smaps.AnonHugePages_kB", "child_write_page0.minflt",
                "child_write_page0.vmstat.thp_split_pmd", "child_after_write_page0.smaps.AnonHugePages_kB",
                "child_after_write_page0.page0.folio_order", "child_after_write_page0.page1.folio_order",
                "child_write_rest.minflt", "parent_while_child_alive.smaps.AnonHugePages_kB",
                "parent_after_exit.smaps.AnonHugePages_kB", "parent_write_page0.minflt",
                "parent_after_write_page0.page0.pfn_eq_before", "parent_write_rest.minflt",
                "parent_final.smaps.AnonHugePages_kB"]
        rows.append([c, g(d, c, "child_read_all.minflt"), g(d, c, "child_after_read.smaps.AnonHugePages_kB"),
                     g(d, c, "child_after_read.page0.exclusive"), g(d, c, "child_write_page0.minflt"),
                     g(d, c, "child_write_page0.vmstat.thp_split_pmd"),
                     g(d, c, "child_after_write_page0.smaps.AnonHugePages_kB"),
                     g(d, c, "child_after_write_page0.page0.folio_order") + "/" +
                     g(d, c, "child_after_write_page0.page1.folio_order"),
                     g(d, c, "child_write_rest.minflt"), g(d, c, "child_after_write_all.smaps.AnonHugePages_kB"),
                     g(d, c, "parent_while_child_alive.smaps.AnonHugePages_kB"),
                     g(d, c, "parent_after_exit.smaps.AnonHugePages_kB"), g(d, c, "parent_write_page0.minflt"),
                     g(d, c, "parent_after_write_page0.page0.pfn_eq_before"),
                     g(d, c, "parent_after_write_page0.page0.folio_order"), g(d, c, "parent_write_rest.minflt"),
                     g(d, c, "parent_final.smaps.AnonHugePages_kB"), stab(d, c, keys)])
    out.append("\n#### THP: fork with two THPs (4 MiB, MADV_HUGEPAGE)\n")
    out.append("Source: mm/huge_memory.c `copy_huge_pmd()` (PMD copied write-protected, folio shared), "
               "`do_huge_pmd_wp_page()` (shared folio: `__split_huge_pmd()` + `VM_FAULT_FALLBACK`, then "
               "mm/memory.c `do_wp_page()` copies one 4 KiB page; folio with refcount 1: reused, PMD made "
               "writable, 1 fault per 2 MiB).\n")
    out.append(table(["case", "child read faults", "child AnonHuge after read", "child page0 exclusive",
                      "child write page0 faults", "thp_split_pmd", "child AnonHuge after", "child page0/page1 order",
                      "child write rest faults", "child AnonHuge end", "parent AnonHuge (child alive)",
                      "parent AnonHuge after exit", "parent write page0 faults", "same PFN", "order",
                      "parent write rest faults", "parent AnonHuge end", "stability"], rows))
    # collapse
    rows = []
    for c, cmd in cases:
        if ".collapse." not in c:
            continue
        keys = ["setup_write.minflt", "collapse.ret", "collapse.errno", "collapse.minflt",
                "collapse.vmstat.thp_collapse_alloc", "after.smaps.AnonHugePages_kB", "after.smaps.Rss_kB",
                "write_all_after.minflt"]
        rows.append([c, g(d, c, "setup_write.minflt"), g(d, c, "before.smaps.Rss_kB"), g(d, c, "collapse.ret"),
                     g(d, c, "collapse.errno"), mf(d, c, "collapse"), g(d, c, "collapse.vmstat.thp_collapse_alloc"),
                     g(d, c, "after.smaps.Rss_kB"), g(d, c, "after.smaps.AnonHugePages_kB"),
                     g(d, c, "after.folios.folio_hist"), g(d, c, "write_all_after.minflt"), stab(d, c, keys)])
    out.append("\n#### THP: MADV_COLLAPSE on 4 MiB (two PMD blocks) of 4 KiB pages\n")
    out.append("fill: full = every page written, half = every other page, one = one page per 2 MiB.  "
               "advice: none = no madvise, hugeafter = MADV_NOHUGEPAGE while writing then MADV_HUGEPAGE, "
               "nohuge = MADV_NOHUGEPAGE kept.  Source: mm/khugepaged.c `madvise_collapse()` (ignores the "
               "sysfs `enabled` mode and `max_ptes_none`, refuses VM_NOHUGEPAGE with EINVAL, counts "
               "`THP_COLLAPSE_ALLOC`, takes no faults: unpopulated PTEs become zero-filled subpages).\n")
    out.append(table(["case", "setup faults", "Rss before kB", "ret", "errno", "collapse min/maj faults",
                      "thp_collapse_alloc", "Rss after kB", "AnonHugePages after", "folio orders", "write-all faults",
                      "stability"], rows))
    return "".join(out)


def folios_tables():
    d, cases = load("folios")
    out = []
    rows = []
    pats = ["seq", "stride16", "stride64", "reverse", "random"]
    for c, cmd in cases:
        keys = []
        row = [c, g(d, c, "after_fsync.cache.folio_hist"), g(d, c, "create.minflt")]
        for t in ["shared", "private"]:
            cells = []
            for p in pats:
                k = "%s.%s" % (t, p)
                keys += [k + ".minflt", k + ".majflt"]
                cells.append("%s/%s" % (g(d, c, k + ".minflt"), g(d, c, k + ".majflt")))
            row.append(" ".join(cells))
        for p in ["seq_off4k", "seq_off64k", "seq_natural"]:
            k = "shared." + p
            keys += [k + ".minflt", k + ".majflt"]
            row.append("%s/%s" % (g(d, c, k + ".minflt"), g(d, c, k + ".majflt")))
        row.append(g(d, c, "shared.seq.smaps.FilePmdMapped_kB"))
        row.append(g(d, c, "shared.seq.mapped.folio_hist"))
        row.append(stab(d, c, keys))
        rows.append(row)
    out.append("#### Page cache: folio sizes and read faults (min/maj per pass; each pass on a fresh mapping "
               "at a 2 MiB boundary; seq s16 s64 rev rand)\n")
    out.append("Source: ext4 large folios (fs/ext4 6.16+, `mapping_set_large_folios`), mm/filemap.c "
               "`__filemap_get_folio()` with `fgf_set_order(len)` (a write(2) of L bytes allocates folios of "
               "up to L, max order 9), readahead folio orders in mm/readahead.c `page_cache_ra_order()`. "
               "Fault side, 6.18: mm/memory.c `do_fault_around()` + mm/filemap.c `filemap_map_pages()` -> "
               "`filemap_map_folio_range()` maps a large folio *whole* when it lies inside the VMA, does not "
               "cross a page-table (2 MiB) boundary and does not contain the file's last page (357b92761d94 "
               "\"mm/filemap: map entire large folio faultaround\", 74207de2ba10 \"mm/memory: do not populate "
               "page table entries beyond i_size\"); the last folio is mapped whole only by `finish_fault()`, "
               "when its 2 MiB block has no page table yet; `filemap_map_pmd()` / `do_set_pmd()` maps an "
               "order-9 folio at an aligned address with one PMD (FilePmdMapped); order-0 folios get the "
               "16-page fault-around window.\n")
    out.append(table(["case", "cache folio orders after write+fsync", "write(2) faults", "MAP_SHARED passes",
                      "MAP_PRIVATE passes", "shared seq +4KiB", "shared seq +64KiB", "shared seq natural",
                      "FilePmdMapped kB (seq)", "mapped folio orders (seq)", "stability"], rows))
    rows = []
    for c, cmd in cases:
        keys = ["shared.write.first.minflt", "shared.write.first.majflt", "shared.write.msync.minflt",
                "shared.write.second.minflt", "shared.write.reread.minflt", "private.write.first.minflt",
                "private.write.first.majflt", "private.write.second.minflt", "private.write.readfirst.read.minflt",
                "private.write.readfirst.write.minflt"]
        rows.append([c, mf(d, c, "shared.write.first"), g(d, c, "shared.write.first.smaps.Private_Dirty_kB") + "/" +
                     g(d, c, "shared.write.first.smaps.Shared_Dirty_kB"), mf(d, c, "shared.write.msync"),
                     mf(d, c, "shared.write.second"), mf(d, c, "shared.write.reread"),
                     mf(d, c, "private.write.first"), g(d, c, "private.write.first.smaps.Anonymous_kB"),
                     g(d, c, "private.write.first.mapped.folio_hist"), mf(d, c, "private.write.second"),
                     mf(d, c, "private.write.readfirst.read"), mf(d, c, "private.write.readfirst.write"),
                     stab(d, c, keys)])
    out.append("\n#### Page cache: write faults (min/maj)\n")
    out.append("Source: mm/memory.c `do_shared_fault()` -> `finish_fault()` maps the whole folio on a write "
               "fault too (19773df031bc \"mm/fault: try to map the entire file folio in finish_fault()\", 6.18); "
               "after `msync(MS_SYNC)` the PTEs are write-protected by `folio_mkclean()` and every PTE takes its own "
               "`wp_page_shared()` fault (a PMD-mapped folio takes one); private: `do_cow_fault()` / "
               "`wp_page_copy()` copy into order-0 anonymous pages, one fault per page.\n")
    out.append(table(["case", "shared write all", "Private/Shared_Dirty kB", "msync", "shared write again",
                      "re-read", "private write all", "Anonymous kB", "anon folio orders", "private write again",
                      "private read first", "then write", "stability"], rows))
    return "".join(out)


def retry_tables():
    d, cases = load("retry")
    rows = []
    for c, cmd in cases:
        keys = ["total.minflt", "total.majflt", "total.inblock", "fault_events", "major_at"]
        rows.append([c, g(d, c, "map_offset_in_pmd_kB"), g(d, c, "total.minflt"), g(d, c, "total.majflt"),
                     g(d, c, "total.inblock"), g(d, c, "fault_events"), short(g(d, c, "major_at"), 40),
                     short(g(d, c, "minor_at"), 50), g(d, c, "resident_after_willneed"),
                     g(d, c, "smaps.FilePmdMapped_kB"), short(g(d, c, "mapped.folio_hist"), 50), stab(d, c, keys)])
    out = ["#### Cold file, mapped, pages read one at a time (page 0, 1, 2, ...)\n",
           "Source: mm/filemap.c `filemap_fault()` -> `do_sync_mmap_readahead()` (read-around: "
           "ra->start = pgoff - ra_pages/2, size = ra_pages = read_ahead_kb/4 = 2048 pages, async_size = 512, "
           "order 0; VM_RAND_READ: no readahead; VM_SEQ_READ: `page_cache_sync_ra()`), `do_async_mmap_readahead()` "
           "(PG_readahead marker, order grows by 2 per window in `page_cache_async_ra()`), mm/memory.c "
           "`mm_account_fault()` (a retried fault counts once, as major), `do_fault_around()` for the minor "
           "faults. MADV_WILLNEED: mm/readahead.c `force_page_cache_ra()` reads at most max(io_pages, ra_pages) "
           "= 2048 pages. inblock = 512-byte sectors submitted (block/blk-core.c `submit_bio()` -> "
           "`task_io_account_read()`).\n",
           table(["case", "map offset KiB", "minflt", "majflt", "inblock", "fault events", "major at page",
                  "minor at page", "resident after WILLNEED", "FilePmdMapped kB", "mapped folio orders",
                  "stability"], rows)]
    pd = {}
    p = os.path.join(RES, "retry-perf.txt")
    if os.path.exists(p):
        rows = []
        cur = None
        with open(p) as f:
            for line in f:
                line = line.strip()
                m = re.match(r"# case (\S+)", line)
                if m:
                    cur = m.group(1)
                    continue
                if "=" in line and cur:
                    k, v = line.split("=", 1)
                    pd[k] = v
        for n in ["1000", "100000"]:
            c = "perf.n" + n
            if c + ".perf.faults" in pd:
                rows.append([c, pd.get(c + ".total.minflt", "-"), pd.get(c + ".total.majflt", "-"),
                             pd.get(c + ".major_at", "-"), pd.get(c + ".perf.read_faults", "-"),
                             short(pd.get(c + ".perf.read_pages", "-"), 70)])
        out.append("\nTraced with `perf record -e exceptions:page_fault_user` (one event per hardware exception, "
                   "read exceptions inside the mapping; error code 4 = user read of a not-present page).  A fault "
                   "that waits for I/O and is retried inside the kernel is one exception and one counted (major) "
                   "fault:\n")
        out.append(table(["case", "rusage minflt", "rusage majflt", "major at page", "read exceptions",
                          "first exceptions page:error"], rows))
    return "".join(out)


def readahead_tables():
    d, cases = load("readahead")
    rows = []
    for c, cmd in cases:
        keys = ["total.minflt", "total.majflt", "total.inblock", "io_at", "miss_at", "major_at"]
        rows.append([c, g(d, c, "total.minflt") + "/" + g(d, c, "total.majflt"), g(d, c, "total.inblock"),
                     g(d, c, "miss_at"), short(g(d, c, "io_at"), 90), g(d, c, "major_at"),
                     short(g(d, c, "cache.folio_hist", g(d, c, "mapped.folio_hist")), 50), stab(d, c, keys)])
    return ("#### Readahead windows on a cold file: read(2) of 4 KiB steps vs mmap touches\n"
            "io_at = step:pages submitted (inblock/8) for every step that started I/O; miss_at = steps whose "
            "page was not uptodate in the page cache before the step (settled = wait for I/O to finish after "
            "each step that started I/O).  Source: mm/readahead.c `page_cache_sync_ra()` / "
            "`get_init_ra_size()` (first window 4 pages for a 1-page read), `page_cache_async_ra()` / "
            "`get_next_ra_size()` (x4 then x2 up to ra_pages = 2048), `page_cache_ra_order()` (large folios, "
            "order +2 per window, windows trimmed at EOF and to folio alignment), mm/filemap.c "
            "`filemap_get_pages()` (read(2)) and `do_sync_mmap_readahead()` (mmap: one 2048-page window around "
            "the fault, marker at size - async_size).\n" +
            table(["case", "min/maj faults", "inblock", "miss at", "I/O at step:pages", "major at",
                   "folio orders", "stability"], rows))


def shmem_tables():
    d, cases = load("shmem")
    rows = []
    for c, cmd in cases:
        pre = c
        if ".anonfork" in c:
            pre = c + ".child"
        keys = ["read.minflt", "write.minflt", "child.read.minflt", "child.write.minflt"]
        rows.append([c, g(d, c, "parent_write.minflt"), g(d, pre, "read.minflt"),
                     g(d, pre, "after_read.smaps.Rss_kB"), g(d, pre, "write.minflt"),
                     g(d, pre, "after_write.smaps.Rss_kB"),
                     g(d, pre, "after_write.smaps.Private_Dirty_kB") + "/" + g(d, pre, "after_write.smaps.Shared_Dirty_kB"),
                     g(d, pre, "after_write.folios.folio_hist"), stab(d, c, keys)])
    return ("#### Read N pages, then write them: does the read fault install a writable PTE?\n"
            "Source: mm/mmap.c `vma_wants_writenotify()` (false for shmem/tmpfs: no `page_mkwrite`, "
            "`mapping_can_writeback()` false, so `vm_page_prot` stays writable and mm/memory.c "
            "`set_pte_range()` installs writable PTEs on read faults; true for ext4, which has "
            "`page_mkwrite`), mm/shmem.c `shmem_fault()` (a hole is allocated on a read fault: no zero page "
            "for shared mappings), mm/memory.c `do_anonymous_page()` (private: zero page, then a COW fault).\n" +
            table(["case", "parent write faults", "read faults", "Rss after read kB", "write faults",
                   "Rss after write kB", "Private/Shared_Dirty kB", "folio orders", "stability"], rows))


def ops_tables():
    d, cases = load("ops")
    out = []
    rows = []
    for c, cmd in cases:
        if not c.startswith("populate."):
            continue
        keys = ["call.minflt", "call.majflt", "read_after.minflt", "write_after.minflt"]
        rows.append([c, g(d, c, "call", "mmap(MAP_POPULATE)" if "map_populate" in c else "mlock"),
                     g(d, c, "call.ret"), mf(d, c, "call"), g(d, c, "after_call.smaps.Rss_kB"),
                     g(d, c, "after_call.smaps.Locked_kB"), g(d, c, "after_call.folios.zero_page"),
                     g(d, c, "after_call.folios.folio_hist"), mf(d, c, "read_after"), mf(d, c, "write_after"),
                     stab(d, c, keys)])
    out.append("#### Populate (1024 pages, 4 MiB at a 2 MiB boundary): faults charged to the caller\n"
               "Source: mm/gup.c `faultin_page()` -> `handle_mm_fault(..., regs=NULL)`; mm/memory.c "
               "`mm_account_fault()` increments current->min_flt/maj_flt even for GUP (no perf event); "
               "mm/madvise.c `madvise_populate()`; file read: fault-around / whole-folio mapping as for "
               "user faults (the last folio of the file, which ends at EOF, is mapped in 16-page windows).\n")
    out.append(table(["case", "call", "ret", "call min/maj", "Rss kB", "Locked kB", "zero-page PTEs", "folio orders",
                      "read after", "write after", "stability"], rows))
    # stack
    rows = []
    for c, cmd in cases:
        if not c.startswith("stack."):
            continue
        for gname in ["grow4M", "grow32M"]:
            k = gname
            keys = [k + ".minflt", k + ".minflt_minus_new_pages", k + ".signal", k + ".stack_vma_after_kB"]
            rows.append([c + "." + gname, g(d, c, "rlimit_stack_kB"), g(d, c, k + ".new_pages_touched"),
                         g(d, c, k + ".minflt"), g(d, c, k + ".minflt_minus_new_pages"), g(d, c, k + ".signal"),
                         g(d, c, k + ".si_code"), g(d, c, k + ".fault_addr_is_page_below_vma_start"),
                         g(d, c, k + ".stack_vma_after_kB"), stab(d, c, keys)])
    out.append("\n#### Stack growth (touching pages top-down below the current stack)\n"
               "Source: mm/mmap.c `expand_stack_locked()` / `acct_stack_growth()` (`size > rlimit(RLIMIT_STACK)` "
               "-> -ENOMEM), arch/x86/mm/fault.c `lock_mm_and_find_vma()` failure -> `bad_area_nosemaphore()` "
               "-> SEGV_MAPERR, not counted.\n")
    out.append(table(["case", "RLIMIT_STACK kB", "new pages touched", "faults", "faults - new pages", "signal",
                      "si_code", "fault addr = page below VMA", "stack VMA after kB", "stability"], rows))
    # rlimits
    rows = []
    for c in ["rlimit_as", "rlimit_data"]:
        pre = c + "."
        for k in sorted({k[len(pre):].rsplit(".", 1)[0] for k in d if k.startswith(pre) and k.endswith(".ok")}):
            rows.append([c, k, g(d, c, k + ".ok"), g(d, c, k + ".errno")])
        if c == "rlimit_data":
            rows.append([c, "mprotect64M_ro_to_rw", "ret " + g(d, c, "mprotect64M_ro_to_rw.ret"),
                         g(d, c, "mprotect64M_ro_to_rw.errno")])
    out.append("\n#### RLIMIT_AS (VmSize + 64 MiB) and RLIMIT_DATA (VmData + 16 MiB)\n"
               "Source: mm/mmap.c `may_expand_vm()` (RLIMIT_AS: every mapping, total_vm; RLIMIT_DATA: only "
               "`is_data_mapping()` = private writable, not stack), mm/mmap.c `brk` -> `check_data_rlimit()`; "
               "mm/mprotect.c `mprotect_fixup()` charges data_vm when a private mapping becomes writable.\n")
    out.append(table(["limit", "operation", "ok", "errno"], rows))
    rows = []
    c = "rlimit_memlock"
    for who in ["root", "nobody"]:
        for k in ["mlock4M", "mlock_next6M", "mlock16M", "limit0_mlock4K"]:
            kk = who + "." + k
            rows.append([who, k, g(d, c, kk + ".ret"), g(d, c, kk + ".errno"), mf(d, c, kk)])
        rows.append([who, "VmLck kB at end", g(d, c, who + ".VmLck_kB"), "", ""])
    out.append("\n#### RLIMIT_MEMLOCK = 8 MiB, as root (CAP_IPC_LOCK) and as uid 65534\n"
               "Source: mm/mlock.c `do_mlock()` (`can_do_mlock()` -> EPERM when the limit is 0 and no "
               "CAP_IPC_LOCK; locked_vm + len > limit without CAP_IPC_LOCK -> ENOMEM), mlock populates "
               "(GUP faults charged to the caller).\n")
    out.append(table(["user", "operation", "ret", "errno", "min/maj faults"], rows))
    c = "rusage_children"
    rows = [[c, g(d, c, "npages"), g(d, c, "child.touch_minflt"), g(d, c, "child.self_total_minflt"),
             g(d, c, "children_before_wait.minflt"), g(d, c, "children_after_wait.minflt"),
             g(d, c, "children_after_wait_minus_child_self"),
             g(d, c, "grandchild_waited.includes_grandchild_pages"),
             g(d, c, "grandchild_not_waited.includes_grandchild_pages"),
             stab(d, c, ["children_before_wait.minflt", "children_after_wait_minus_child_self"])]]
    out.append("\n#### getrusage(RUSAGE_CHILDREN)\n"
               "Source: kernel/exit.c `wait_task_zombie()` adds the reaped child's min_flt + its own reaped "
               "children's (`cmin_flt`) to the parent's signal->cmin_flt; kernel/sys.c `getrusage()`.\n")
    out.append(table(["case", "pages", "child touch faults", "child total faults", "children before wait",
                      "children after wait", "after - child total", "waited grandchild included",
                      "unwaited grandchild included", "stability"], rows))
    c = "signals"
    rows = []
    names = sorted({k[len(c) + 1:].rsplit(".", 1)[0] for k in d if k.startswith(c + ".") and k.endswith(".attempts")})
    for n in names:
        rows.append([n, g(d, c, n + ".attempts"), g(d, c, n + ".signals"), g(d, c, n + ".signal"),
                     g(d, c, n + ".si_code"), g(d, c, n + ".si_addr_is_access_addr"), mf(d, c, n)])
    rows.append(["file_tail_of_last_page (byte 200 of a 100-byte file)", "1", "0", "none", "-", "-",
                 mf(d, c, "file_tail_of_last_page")])
    out.append("\n#### Signals from bad accesses (SA_SIGINFO handler, siglongjmp past the access)\n"
               "Source: arch/x86/mm/fault.c `do_user_addr_fault()`: no VMA -> `bad_area_nosemaphore()` "
               "SEGV_MAPERR; `access_error()` -> `bad_area_access_error()` SEGV_ACCERR (both before "
               "`handle_mm_fault()`, so not counted); beyond EOF: mm/filemap.c `filemap_fault()` returns "
               "VM_FAULT_SIGBUS -> `do_sigbus()` BUS_ADRERR, and mm/memory.c `mm_account_fault()` skips "
               "VM_FAULT_ERROR results (counted in /proc/vmstat pgfault only).\n")
    out.append(table(["access", "attempts", "signals", "signal", "si_code", "si_addr exact", "min/maj faults"], rows))
    rows = []
    for m in ["childwrite", "none", "parentfirst"]:
        c = "cow." + m
        rows.append([c, g(d, c, "before_fork.exclusive"), g(d, c, "child_after_fork.exclusive"),
                     g(d, c, "child_after_fork.kpagecount"), g(d, c, "child_write.minflt"),
                     g(d, c, "child_after_write.pfn_eq_parent"), g(d, c, "parent_child_alive.exclusive"),
                     g(d, c, "parent_write_child_alive.minflt"),
                     g(d, c, "parent_after_write_child_alive.pfn_eq_original"),
                     g(d, c, "parent_after_exit.exclusive"), g(d, c, "parent_write_after_exit.minflt"),
                     g(d, c, "parent_after_write.pfn_eq_before_write"), stab(d, c, ["child_write.minflt",
                     "parent_write_after_exit.minflt"])])
    out.append("\n#### fork + COW of one private anonymous page: pagemap bit 56 (exclusive) and PFN\n"
               "Source: fs/proc/task_mmu.c `pte_to_pagemap_entry()` (PM_MMAP_EXCLUSIVE = the page is mapped "
               "once, a mapcount test, not PageAnonExclusive), mm/memory.c `do_wp_page()` -> "
               "`wp_can_reuse_anon_folio()` (refcount 1: reuse the frame, 1 fault, same PFN) / `wp_page_copy()`.\n")
    out.append(table(["case", "excl before fork", "child excl after fork", "kpagecount", "child write faults",
                      "child PFN = parent's", "parent excl (child alive)", "parent write (child alive) faults",
                      "parent PFN unchanged", "parent excl after exit", "parent write after exit faults",
                      "same PFN (reuse)", "stability"], rows))
    return "".join(out)


def main():
    parts = ["### 1. Transparent huge pages (thp.c)\n\n", thp_tables(),
             "\n### 2. Large folios in the page cache (folios.c)\n\n", folios_tables(),
             "\n### 3. Fault retry after I/O (retry.c)\n\n", retry_tables(),
             "\n### 4. Readahead (readahead.c)\n\n", readahead_tables(),
             "\n### 5. Shared memory (shmem.c)\n\n", shmem_tables(),
             "\n### 6. Operations (ops.c)\n\n", ops_tables()]
    text = "".join(parts)
    if "--write" in sys.argv:
        p = os.path.join(HERE, "README.md")
        s = open(p).read()
        a = s.index("<!-- tables:begin -->") + len("<!-- tables:begin -->")
        b = s.index("<!-- tables:end -->")
        s = s[:a] + "\n" + text + "\n" + s[b:]
        open(p, "w").write(s)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
