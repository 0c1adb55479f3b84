/* thp.c - transparent huge pages on anonymous memory.
 *
 *   thp LABEL touch SIZE_KB OFFSET ADVICE ACCESS
 *       OFFSET  = natural (plain mmap, kernel picks the address) or KiB after a
 *                 2 MiB boundary (0 = aligned)
 *       ADVICE  = none | huge | nohuge
 *       ACCESS  = write | read | readwrite  (readwrite: read all, write page 0,
 *                 write the rest)
 *   thp LABEL split OP        OP = munmap | mprotect | dontneed
 *   thp LABEL fork CHILD      CHILD = none (child only reads) | one | all
 *   thp LABEL collapse FILL [ADVICE]   FILL = full | half | one; ADVICE none|nohuge|hugeafter
 *   thp LABEL settings
 */
#include "common.h"

static const char *L; /* label = key prefix */

static void touch_range(char *p, size_t len, int write)
{
    if (write)
        for (size_t i = 0; i < len; i += PG)
            p[i] = 1;
    else {
        volatile char s = 0;
        for (size_t i = 0; i < len; i += PG)
            s += ((volatile char *)p)[i];
        (void)s;
    }
}

/* Touch [p, p+len) and report faults per 2 MiB (absolute) block. */
static struct flt touch_blocks(const char *key, char *p, size_t len, int write)
{
    struct flt tot = {0, 0, 0};
    char list[1024] = "";
    uintptr_t a = (uintptr_t)p, end = a + len;
    while (a < end) {
        uintptr_t b = (a & ~(PMD_SZ - 1)) + PMD_SZ;
        if (b > end)
            b = end;
        struct flt x = flt_now();
        touch_range((char *)a, b - a, write);
        struct flt y = flt_now();
        struct flt d = flt_sub(y, x);
        tot.min += d.min;
        tot.maj += d.maj;
        char item[64];
        snprintf(item, sizeof item, "%s%ld/%lu", list[0] ? "," : "", d.min + d.maj, (unsigned long)((b - a) / PG));
        strncat(list, item, sizeof list - strlen(list) - 1);
        a = b;
    }
    out_flt(key, tot);
    printf("%s.faults_per_block=%s\n", key, list); /* faults/pages for each 2MiB block */
    return tot;
}

static void report(const char *key, char *p, size_t len)
{
    smaps_report(key, p, len);
    folio_report(K("%s.folios", key), p, len);
}

static int advise(char *p, size_t len, const char *adv)
{
    if (!strcmp(adv, "huge"))
        return madvise(p, len, MADV_HUGEPAGE);
    if (!strcmp(adv, "nohuge"))
        return madvise(p, len, MADV_NOHUGEPAGE);
    return 0;
}

static void do_touch(int argc, char **argv)
{
    if (argc < 7)
        die("usage touch");
    size_t len = (size_t)atol(argv[3]) * 1024;
    const char *offs = argv[4], *adv = argv[5], *acc = argv[6];
    void *res = NULL;
    size_t rl = 0;
    char *p;
    if (!strcmp(offs, "natural")) {
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            die("mmap");
        exp_add(p, len);
    } else {
        p = map_at_pmd_offset(len, (size_t)atol(offs) * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                              -1, 0, &res, &rl);
    }
    printf("%s.thp_enabled=%s\n", L, thp_mode());
    printf("%s.len_kB=%zu\n", L, len / 1024);
    printf("%s.start_offset_in_pmd_kB=%lu\n", L, (unsigned long)((uintptr_t)p % PMD_SZ) / 1024);
    printf("%s.madvise_ret=%d\n", L, advise(p, len, adv));
    struct vmsnap a, b;
    if (!strcmp(acc, "write")) {
        vm_snap(&a, vm_default);
        touch_blocks(K("%s.write", L), p, len, 1);
        vm_snap(&b, vm_default);
        vm_delta(K("%s.write", L), &a, &b);
        report(K("%s.write", L), p, len);
    } else {
        vm_snap(&a, vm_default);
        touch_blocks(K("%s.read", L), p, len, 0);
        vm_snap(&b, vm_default);
        vm_delta(K("%s.read", L), &a, &b);
        report(K("%s.read", L), p, len);
        if (!strcmp(acc, "readwrite")) {
            vm_snap(&a, vm_default);
            struct flt x = flt_now();
            p[0] = 1;
            struct flt y = flt_now();
            vm_snap(&b, vm_default);
            out_flt(K("%s.write_first", L), flt_sub(y, x));
            vm_delta(K("%s.write_first", L), &a, &b);
            report(K("%s.write_first", L), p, len);
            vm_snap(&a, vm_default);
            touch_blocks(K("%s.write_rest", L), p + PG, len - PG, 1);
            vm_snap(&b, vm_default);
            vm_delta(K("%s.write_rest", L), &a, &b);
            report(K("%s.write_rest", L), p, len);
        }
    }
    if (res)
        munmap(res, rl);
    else
        munmap(p, len);
}

/* A 4 MiB region at a 2 MiB boundary, MADV_HUGEPAGE, fully written. */
static char *make_thp(void **res, size_t *rl, size_t len)
{
    char *p = map_at_pmd_offset(len, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, res, rl);
    madvise(p, len, MADV_HUGEPAGE);
    struct flt x = flt_now();
    touch_range(p, len, 1);
    struct flt y = flt_now();
    out_flt(K("%s.setup_write", L), flt_sub(y, x));
    return p;
}

static void do_split(int argc, char **argv)
{
    if (argc < 4)
        die("usage split");
    const char *op = argv[3];
    size_t len = 4 * MiB;
    void *res;
    size_t rl;
    printf("%s.thp_enabled=%s\n", L, thp_mode());
    char *p = make_thp(&res, &rl, len);
    report(K("%s.before", L), p, len);
    const size_t victim = 100; /* page index inside the first 2 MiB block */
    char *v = p + victim * PG;
    struct vmsnap a, b;
    vm_snap(&a, vm_default);
    struct flt x = flt_now();
    int r;
    if (!strcmp(op, "munmap"))
        r = munmap(v, PG);
    else if (!strcmp(op, "mprotect"))
        r = mprotect(v, PG, PROT_READ);
    else if (!strcmp(op, "dontneed"))
        r = madvise(v, PG, MADV_DONTNEED);
    else
        die("op");
    struct flt y = flt_now();
    vm_snap(&b, vm_default);
    printf("%s.op=%s\n%s.op.ret=%d\n", L, op, L, r);
    out_flt(K("%s.op", L), flt_sub(y, x));
    vm_delta(K("%s.op", L), &a, &b);
    report(K("%s.after_op", L), p, len);
    page_report(K("%s.after_op.page0", L), p);
    page_report(K("%s.after_op.page101", L), p + 101 * PG);

    /* re-touch: read every page, then write every page except the victim */
    vm_snap(&a, vm_default);
    x = flt_now();
    for (size_t i = 0; i < len; i += PG)
        if (i / PG != victim || strcmp(op, "munmap"))
            (void)((volatile char *)p)[i];
    y = flt_now();
    vm_snap(&b, vm_default);
    out_flt(K("%s.reread_all", L), flt_sub(y, x));
    vm_delta(K("%s.reread_all", L), &a, &b);
    x = flt_now();
    for (size_t i = 0; i < len; i += PG)
        if (i / PG != victim)
            p[i] = 2;
    y = flt_now();
    out_flt(K("%s.rewrite_others", L), flt_sub(y, x));
    if (!strcmp(op, "dontneed")) {
        page_report(K("%s.victim_after_read", L), v);
        x = flt_now();
        *v = 3;
        y = flt_now();
        out_flt(K("%s.rewrite_victim", L), flt_sub(y, x));
        page_report(K("%s.victim_after_write", L), v);
    }
    if (!strcmp(op, "mprotect")) {
        x = flt_now();
        r = mprotect(v, PG, PROT_READ | PROT_WRITE);
        y = flt_now();
        printf("%s.restore.ret=%d\n", L, r);
        out_flt(K("%s.restore", L), flt_sub(y, x));
        x = flt_now();
        *v = 3;
        y = flt_now();
        out_flt(K("%s.rewrite_victim", L), flt_sub(y, x));
    }
    report(K("%s.final", L), p, len);
    munmap(res, rl);
}

static void do_fork(int argc, char **argv)
{
    if (argc < 4)
        die("usage fork");
    const char *cw = argv[3];
    size_t len = 4 * MiB;
    void *res;
    size_t rl;
    printf("%s.thp_enabled=%s\n", L, thp_mode());
    char *p = make_thp(&res, &rl, len);
    report(K("%s.parent_before", L), p, len);
    uint64_t pfn0 = page_report(K("%s.parent_before.page0", L), p);
    uint64_t pfn1 = pagemap(p + PG) & PM_PFN_MASK;
    struct vmsnap a, b, c0, c1;
    vm_snap(&c0, vm_default);
    int pfd[2];
    if (pipe(pfd))
        die("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        reopen_pagemap();
        prefault_self(0);
        struct flt x = flt_now();
        touch_range(p, len, 0);
        struct flt y = flt_now();
        out_flt(K("%s.child_read_all", L), flt_sub(y, x));
        report(K("%s.child_after_read", L), p, len);
        uint64_t c = page_report(K("%s.child_after_read.page0", L), p);
        printf("%s.child_after_read.page0.pfn_eq_parent=%d\n", L, c == pfn0);
        if (strcmp(cw, "none")) {
            vm_snap(&a, vm_default);
            x = flt_now();
            p[0] = 9;
            y = flt_now();
            vm_snap(&b, vm_default);
            out_flt(K("%s.child_write_page0", L), flt_sub(y, x));
            vm_delta(K("%s.child_write_page0", L), &a, &b);
            report(K("%s.child_after_write_page0", L), p, len);
            c = page_report(K("%s.child_after_write_page0.page0", L), p);
            printf("%s.child_after_write_page0.page0.pfn_eq_parent=%d\n", L, c == pfn0);
            c = page_report(K("%s.child_after_write_page0.page1", L), p + PG);
            printf("%s.child_after_write_page0.page1.pfn_eq_parent=%d\n", L, c == pfn1);
            if (!strcmp(cw, "all")) {
                vm_snap(&a, vm_default);
                x = flt_now();
                touch_range(p + PG, len - PG, 1);
                y = flt_now();
                vm_snap(&b, vm_default);
                out_flt(K("%s.child_write_rest", L), flt_sub(y, x));
                vm_delta(K("%s.child_write_rest", L), &a, &b);
                report(K("%s.child_after_write_all", L), p, len);
            }
        }
        fflush(stdout);
        /* let the parent look at itself while we are still alive */
        char ch = 'x';
        if (write(pfd[1], &ch, 1) != 1)
            _exit(2);
        usleep(200000);
        _exit(0);
    }
    char ch;
    if (read(pfd[0], &ch, 1) != 1)
        die("pipe read");
    prefault_self(0); /* our own data/stack pages are write-protected now; COW them outside the windows */
    report(K("%s.parent_while_child_alive", L), p, len);
    int st;
    waitpid(pid, &st, 0);
    prefault_self(0);
    vm_snap(&c1, vm_default);
    vm_delta(K("%s.fork_to_exit", L), &c0, &c1);
    report(K("%s.parent_after_exit", L), p, len);
    uint64_t q = page_report(K("%s.parent_after_exit.page0", L), p);
    printf("%s.parent_after_exit.page0.pfn_eq_before=%d\n", L, q == pfn0);
    vm_snap(&a, vm_default);
    struct flt x = flt_now();
    p[0] = 7;
    struct flt y = flt_now();
    vm_snap(&b, vm_default);
    out_flt(K("%s.parent_write_page0", L), flt_sub(y, x));
    vm_delta(K("%s.parent_write_page0", L), &a, &b);
    q = page_report(K("%s.parent_after_write_page0.page0", L), p);
    printf("%s.parent_after_write_page0.page0.pfn_eq_before=%d\n", L, q == pfn0);
    report(K("%s.parent_after_write_page0", L), p, len);
    x = flt_now();
    touch_range(p + PG, len - PG, 1);
    y = flt_now();
    out_flt(K("%s.parent_write_rest", L), flt_sub(y, x));
    report(K("%s.parent_final", L), p, len);
    munmap(res, rl);
}

static void do_collapse(int argc, char **argv)
{
    if (argc < 4)
        die("usage collapse");
    const char *fill = argv[3];
    const char *adv = argc > 4 ? argv[4] : "none";
    size_t len = 4 * MiB;
    void *res;
    size_t rl;
    printf("%s.thp_enabled=%s\n", L, thp_mode());
    char *p = map_at_pmd_offset(len, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &res, &rl);
    /* ADVICE none: no madvise (4 KiB pages in madvise/never mode);
     * nohuge: MADV_NOHUGEPAGE before writing and kept;
     * hugeafter: MADV_NOHUGEPAGE before writing (4 KiB pages in any mode),
     *            then MADV_HUGEPAGE just before MADV_COLLAPSE. */
    if (strcmp(adv, "none"))
        madvise(p, len, MADV_NOHUGEPAGE);
    size_t step = !strcmp(fill, "full") ? PG : !strcmp(fill, "half") ? 2 * PG : PMD_SZ;
    struct flt x = flt_now();
    for (size_t i = 0; i < len; i += step)
        p[i] = 1;
    struct flt y = flt_now();
    out_flt(K("%s.setup_write", L), flt_sub(y, x));
    if (!strcmp(adv, "hugeafter"))
        printf("%s.madv_hugepage_ret=%d\n", L, madvise(p, len, MADV_HUGEPAGE));
    report(K("%s.before", L), p, len);
    struct vmsnap a, b;
    vm_snap(&a, vm_default);
    x = flt_now();
    int r = madvise(p, len, MADV_COLLAPSE);
    int e = r ? errno : 0;
    y = flt_now();
    vm_snap(&b, vm_default);
    printf("%s.collapse.ret=%d\n%s.collapse.errno=%s\n", L, r, L, r ? strerrorname_np(e) : "0");
    out_flt(K("%s.collapse", L), flt_sub(y, x));
    vm_delta(K("%s.collapse", L), &a, &b);
    report(K("%s.after", L), p, len);
    x = flt_now();
    touch_range(p, len, 1);
    y = flt_now();
    out_flt(K("%s.write_all_after", L), flt_sub(y, x));
    munmap(res, rl);
}

static void settings(void)
{
    const char *files[] = {"enabled", "defrag", "use_zero_page", "hpage_pmd_size", "shmem_enabled",
                           "khugepaged/pages_to_scan", "khugepaged/scan_sleep_millisecs",
                           "khugepaged/alloc_sleep_millisecs", "khugepaged/max_ptes_none",
                           "khugepaged/max_ptes_swap", "khugepaged/max_ptes_shared", "khugepaged/defrag",
                           "khugepaged/full_scans", "khugepaged/pages_collapsed",
                           "hugepages-2048kB/enabled", "hugepages-64kB/enabled", NULL};
    for (int i = 0; files[i]; i++) {
        char path[256], buf[256] = "";
        snprintf(path, sizeof path, "/sys/kernel/mm/transparent_hugepage/%s", files[i]);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(buf, sizeof buf, f))
                buf[0] = 0;
            fclose(f);
        }
        buf[strcspn(buf, "\n")] = 0;
        char key[128];
        snprintf(key, sizeof key, "%s", files[i]);
        for (char *c = key; *c; c++)
            if (*c == '/' || *c == '-')
                *c = '.';
        if (!strncmp(files[i], "khugepaged/full_scans", 21) || !strncmp(files[i], "khugepaged/pages_collapsed", 26))
            printf("info.%s.%s=%s\n", L, key, buf);
        else
            printf("%s.%s=%s\n", L, key, buf);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: thp LABEL touch|split|fork|collapse|settings ...\n");
        return 2;
    }
    prefault_self(1);
    open_pagemap();
    L = argv[1];
    calib(L);
    if (!strcmp(argv[2], "touch"))
        do_touch(argc, argv);
    else if (!strcmp(argv[2], "split"))
        do_split(argc, argv);
    else if (!strcmp(argv[2], "fork"))
        do_fork(argc, argv);
    else if (!strcmp(argv[2], "collapse"))
        do_collapse(argc, argv);
    else if (!strcmp(argv[2], "settings"))
        settings();
    else
        die("unknown case");
    fflush(stdout);
    return 0;
}
