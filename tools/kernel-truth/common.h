/* Shared helpers for the kernel-truth measurement programs.
 *
 * Every program prints plain `key=value` lines on stdout.  Keys are
 * dot-separated: CASE.STEP.metric.  Keys starting with `info.` carry values
 * that are expected to differ from run to run (addresses, PFNs) and are not
 * checked for stability by run.sh.
 *
 * Fault counts come from getrusage(RUSAGE_SELF) taken immediately before and
 * after the measured operation.  Programs are linked statically and call
 * prefault_self() first, so the program's own text, data, heap and stack are
 * already mapped; the "calib" lines every program prints show that an empty
 * measured region costs 0 faults.
 */
#ifndef KT_COMMON_H
#define KT_COMMON_H
#pragma GCC diagnostic ignored "-Wunused-function"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define MiB (1024UL * 1024UL)
#define PMD_SZ (2UL * MiB)

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/* include/uapi/linux/kernel-page-flags.h */
#define KPF_LOCKED 0
#define KPF_REFERENCED 2
#define KPF_UPTODATE 3
#define KPF_DIRTY 4
#define KPF_LRU 5
#define KPF_ACTIVE 6
#define KPF_WRITEBACK 8
#define KPF_MMAP 11
#define KPF_ANON 12
#define KPF_SWAPBACKED 14
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_HUGE 17
#define KPF_NOPAGE 20
#define KPF_THP 22
#define KPF_ZERO_PAGE 24

/* Documentation/admin-guide/mm/pagemap.rst */
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define PM_SOFT_DIRTY (1ULL << 55)
#define PM_EXCLUSIVE (1ULL << 56)
#define PM_UFFD_WP (1ULL << 57)
#define PM_FILE (1ULL << 61)
#define PM_SWAP (1ULL << 62)
#define PM_PRESENT (1ULL << 63)

struct flt {
    long min, maj, inblock;
};

static inline struct flt flt_now(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    struct flt f = {r.ru_minflt, r.ru_majflt, r.ru_inblock};
    return f;
}

static inline struct flt flt_sub(struct flt b, struct flt a)
{
    struct flt d = {b.min - a.min, b.maj - a.maj, b.inblock - a.inblock};
    return d;
}

static void out(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void out(const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s=", key);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* Format a key; a ring of buffers so nested K() calls do not clobber each other. */
static char kbuf[16][512];
static int kbuf_i;
static const char *K(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *K(const char *fmt, ...)
{
    char *b = kbuf[kbuf_i++ & 15];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, 512, fmt, ap);
    va_end(ap);
    return b;
}

static void out_flt(const char *prefix, struct flt d)
{
    printf("%s.minflt=%ld\n%s.majflt=%ld\n", prefix, d.min, prefix, d.maj);
}

static void die(const char *what)
{
    printf("error=%s:%s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

/* ---------- prefaulting the program itself ---------- */

static void __attribute__((noinline)) touch_stack(size_t bytes)
{
    volatile char *p = alloca(bytes);
    for (size_t i = 0; i < bytes; i += PG)
        p[i] = 0;
    p[bytes - 1] = 0;
}

/* Experiment regions: prefault_self() never touches these. */
static struct {
    unsigned long s, e;
} exp_reg[64];
static int n_exp;
static void exp_add(const void *a, size_t len)
{
    if (n_exp < 64) {
        exp_reg[n_exp].s = (unsigned long)a;
        exp_reg[n_exp].e = (unsigned long)a + len;
        n_exp++;
    }
}
static void exp_del(const void *a)
{
    for (int i = 0; i < n_exp; i++)
        if (exp_reg[i].s == (unsigned long)a) {
            exp_reg[i] = exp_reg[--n_exp];
            return;
        }
}

/* Read every page of every readable mapping (text, rodata, data, bss, heap,
 * the whole current stack VMA; not vdso/vvar and not registered experiment
 * regions) and write every page of the private writable ones (writing back
 * the byte just read), so later code paths cost no faults.  Call at
 * start (first=1) and again after fork() in both processes (first=0): the
 * fork write-protects our own data and stack, so the first write to each of
 * those pages would otherwise fault inside a measured region. */
static void prefault_self(int first)
{
    if (first) {
        static char obuf[1 << 16];
        setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
        void *warm = malloc(256 * 1024);
        memset(warm, 1, 256 * 1024);
        free(warm);
    }
    touch_stack(1024 * 1024);

    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        die("maps");
    char line[512];
    static struct {
        unsigned long s, e;
        int w;
    } m[128];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < 128) {
        unsigned long s, e;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3)
            continue;
        if (strstr(line, "[vvar") || strstr(line, "[vdso]") || strstr(line, "[vsyscall]"))
            continue;
        if (perms[0] != 'r')
            continue;
        int skip = 0;
        for (int i = 0; i < n_exp; i++)
            if (s < exp_reg[i].e && e > exp_reg[i].s)
                skip = 1;
        if (skip)
            continue;
        m[n].s = s;
        m[n].e = e;
        m[n].w = perms[1] == 'w' && perms[3] == 'p';
        n++;
    }
    fclose(f);
    for (int i = 0; i < n; i++)
        for (unsigned long a = m[i].s; a < m[i].e; a += PG) {
            volatile char *p = (volatile char *)a;
            char c = *p;
            if (m[i].w)
                *p = c;
        }
}

/* An empty measured region: must print 0/0. */
static void calib(const char *name)
{
    struct flt a = flt_now();
    struct flt b = flt_now();
    out_flt(K("%s.calib", name), flt_sub(b, a));
}

/* ---------- /proc/self/pagemap and /proc/kpageflags ---------- */

static int pm_fd = -1, kpf_fd = -1, kpc_fd = -1;

static void open_pagemap(void)
{
    if (pm_fd < 0)
        pm_fd = open("/proc/self/pagemap", O_RDONLY);
    if (kpf_fd < 0)
        kpf_fd = open("/proc/kpageflags", O_RDONLY);
    if (kpc_fd < 0)
        kpc_fd = open("/proc/kpagecount", O_RDONLY);
    if (pm_fd < 0 || kpf_fd < 0)
        die("open pagemap/kpageflags");
}

static void reopen_pagemap(void) /* after fork, in the child */
{
    if (pm_fd >= 0)
        close(pm_fd);
    pm_fd = open("/proc/self/pagemap", O_RDONLY);
}

static uint64_t pagemap(const void *addr)
{
    uint64_t e = 0;
    if (pread(pm_fd, &e, 8, ((uintptr_t)addr / PG) * 8) != 8)
        return 0;
    return e;
}

static uint64_t kpflags(uint64_t pfn)
{
    uint64_t f = 0;
    if (pread(kpf_fd, &f, 8, pfn * 8) != 8)
        return 0;
    return f;
}

static uint64_t kpcount(uint64_t pfn)
{
    uint64_t c = 0;
    if (kpc_fd < 0 || pread(kpc_fd, &c, 8, pfn * 8) != 8)
        return 0;
    return c;
}

#define BIT(f, b) ((int)(((f) >> (b)) & 1))

/* Folio containing pfn: head pfn and number of pages. */
static void folio_of(uint64_t pfn, uint64_t *head, uint64_t *nr)
{
    uint64_t f = kpflags(pfn);
    uint64_t h = pfn;
    if (BIT(f, KPF_COMPOUND_TAIL)) {
        for (int i = 0; i < 1024 && h > 0; i++) {
            h--;
            uint64_t g = kpflags(h);
            if (BIT(g, KPF_COMPOUND_HEAD))
                break;
        }
    } else if (!BIT(f, KPF_COMPOUND_HEAD)) {
        *head = pfn;
        *nr = 1;
        return;
    }
    uint64_t n = 1;
    while (n < 4096 && BIT(kpflags(h + n), KPF_COMPOUND_TAIL))
        n++;
    *head = h;
    *nr = n;
}

static int order_of(uint64_t nr)
{
    int o = 0;
    while ((1ULL << o) < nr)
        o++;
    return o;
}

/* Walk [addr, addr+len): count present pages, and distinct folios by order
 * (a folio is counted once, even if only part of it is mapped here).
 * Prints PREFIX.present, PREFIX.folios_order<k>, PREFIX.folio_hist,
 * PREFIX.pmd_blocks_fully_one_folio (2MiB-aligned blocks mapped by a single
 * order-9 folio at matching offsets), zero page counts. */
static void folio_report(const char *prefix, const void *addr, size_t len)
{
    size_t np = len / PG;
    uint64_t *ents = malloc(np * 8);
    if (pread(pm_fd, ents, np * 8, ((uintptr_t)addr / PG) * 8) != (ssize_t)(np * 8))
        memset(ents, 0, np * 8);
    long present = 0, swapped = 0, zero = 0, hugezero = 0, excl = 0, filep = 0, sdirty = 0;
    long cnt[16] = {0};
    long mapped_pages_by_order[16] = {0};
    uint64_t last_head = (uint64_t)-1, last_nr = 0;
    uint64_t *heads = malloc((np + 1) * 8); /* distinct large-folio heads seen */
    int *horder = malloc((np + 1) * sizeof(int));
    size_t nheads = 0;
    for (size_t i = 0; i < np; i++) {
        uint64_t e = ents[i];
        if (e & PM_SWAP)
            swapped++;
        if (!(e & PM_PRESENT))
            continue;
        present++;
        if (e & PM_EXCLUSIVE)
            excl++;
        if (e & PM_FILE)
            filep++;
        if (e & PM_SOFT_DIRTY)
            sdirty++;
        uint64_t pfn = e & PM_PFN_MASK;
        uint64_t f = kpflags(pfn);
        if (BIT(f, KPF_ZERO_PAGE)) {
            if (BIT(f, KPF_THP))
                hugezero++;
            else
                zero++;
            continue;
        }
        if (last_nr && pfn >= last_head && pfn < last_head + last_nr) {
            mapped_pages_by_order[order_of(last_nr)]++;
            continue;
        }
        uint64_t h, nr;
        folio_of(pfn, &h, &nr);
        last_head = h;
        last_nr = nr;
        int o = order_of(nr);
        if (o > 15)
            o = 15;
        mapped_pages_by_order[o]++;
        if (nr == 1)
            cnt[0]++;
        else {
            heads[nheads] = h;
            horder[nheads++] = o;
        }
    }
    /* count each large folio once even if its pages are mapped in several runs */
    for (size_t i = 0; i < nheads; i++) {
        int dup = 0;
        for (size_t j = (i > 4096 ? i - 4096 : 0); j < i; j++)
            if (heads[j] == heads[i]) {
                dup = 1;
                break;
            }
        if (!dup)
            cnt[horder[i]]++;
    }
    free(heads);
    free(horder);
    printf("%s.present=%ld\n", prefix, present);
    printf("%s.exclusive=%ld\n", prefix, excl);
    printf("%s.file_or_shared=%ld\n", prefix, filep);
    if (swapped)
        printf("%s.swapped=%ld\n", prefix, swapped);
    printf("%s.zero_page=%ld\n", prefix, zero);
    printf("%s.huge_zero_page=%ld\n", prefix, hugezero);
    printf("%s.folio_hist=", prefix);
    int first = 1;
    for (int o = 0; o < 16; o++)
        if (cnt[o]) {
            printf("%s%d:%ld", first ? "" : ",", o, cnt[o]);
            first = 0;
        }
    if (first)
        printf("none");
    printf("\n");
    printf("%s.pages_in_order=", prefix);
    first = 1;
    for (int o = 0; o < 16; o++)
        if (mapped_pages_by_order[o]) {
            printf("%s%d:%ld", first ? "" : ",", o, mapped_pages_by_order[o]);
            first = 0;
        }
    if (first)
        printf("none");
    printf("\n");
    free(ents);
}

/* One page: pfn (info), present, exclusive, folio order, kpageflags bits. */
static uint64_t page_report(const char *prefix, const void *addr)
{
    uint64_t e = pagemap(addr);
    uint64_t pfn = e & PM_PFN_MASK;
    printf("%s.present=%d\n", prefix, (e & PM_PRESENT) ? 1 : 0);
    printf("%s.exclusive=%d\n", prefix, (e & PM_EXCLUSIVE) ? 1 : 0);
    if (e & PM_PRESENT) {
        uint64_t f = kpflags(pfn), h, nr;
        folio_of(pfn, &h, &nr);
        printf("info.%s.pfn=0x%" PRIx64 "\n", prefix, pfn);
        printf("%s.folio_order=%d\n", prefix, order_of(nr));
        printf("%s.kpf_thp=%d\n", prefix, BIT(f, KPF_THP));
        printf("%s.kpf_zero_page=%d\n", prefix, BIT(f, KPF_ZERO_PAGE));
        printf("%s.kpf_anon=%d\n", prefix, BIT(f, KPF_ANON));
        printf("%s.kpf_head=%d\n", prefix, BIT(f, KPF_COMPOUND_HEAD));
        printf("%s.kpf_tail=%d\n", prefix, BIT(f, KPF_COMPOUND_TAIL));
        printf("%s.kpagecount=%" PRIu64 "\n", prefix, kpcount(pfn));
    }
    return (e & PM_PRESENT) ? pfn : 0;
}

/* ---------- /proc/self/smaps ---------- */

static const char *smaps_keys[] = {"Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
                                   "Referenced", "Anonymous", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped",
                                   "Swap", "Locked", NULL};

/* Sum the fields above over all VMAs overlapping [addr, addr+len). */
static void smaps_report(const char *prefix, const void *addr, size_t len)
{
    unsigned long lo = (unsigned long)addr, hi = lo + len;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        die("smaps");
    char line[512];
    long sum[32] = {0};
    int nvma = 0, in = 0;
    char thpel[16] = "?";
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = s < hi && e > lo;
            if (in)
                nvma++;
            continue;
        }
        if (!in)
            continue;
        for (int k = 0; smaps_keys[k]; k++) {
            size_t kl = strlen(smaps_keys[k]);
            if (!strncmp(line, smaps_keys[k], kl) && line[kl] == ':') {
                sum[k] += atol(line + kl + 1);
            }
        }
        if (!strncmp(line, "THPeligible:", 12))
            snprintf(thpel, sizeof thpel, "%d", atoi(line + 12));
    }
    fclose(f);
    printf("%s.smaps.vmas=%d\n", prefix, nvma);
    for (int k = 0; smaps_keys[k]; k++)
        printf("%s.smaps.%s_kB=%ld\n", prefix, smaps_keys[k], sum[k]);
    printf("%s.smaps.THPeligible=%s\n", prefix, thpel);
}

/* ---------- /proc/vmstat ---------- */

#define VM_MAX 64
struct vmsnap {
    int n;
    char name[VM_MAX][48];
    long v[VM_MAX];
};

static const char *vm_default[] = {"thp_fault_alloc", "thp_fault_fallback", "thp_fault_fallback_charge",
                                   "thp_split_pmd", "thp_split_page", "thp_deferred_split_page",
                                   "thp_zero_page_alloc", "thp_zero_page_alloc_failed", "thp_collapse_alloc",
                                   "thp_collapse_alloc_failed", "thp_file_mapped", "thp_file_alloc", NULL};

static void vm_snap(struct vmsnap *s, const char **keys)
{
    FILE *f = fopen("/proc/vmstat", "r");
    char name[64];
    long v;
    s->n = 0;
    for (int k = 0; keys[k] && k < VM_MAX; k++) {
        snprintf(s->name[k], 48, "%s", keys[k]);
        s->v[k] = 0;
        s->n = k + 1;
    }
    while (fscanf(f, "%63s %ld", name, &v) == 2)
        for (int k = 0; k < s->n; k++)
            if (!strcmp(name, s->name[k]))
                s->v[k] = v;
    fclose(f);
}

static void vm_delta(const char *prefix, struct vmsnap *a, struct vmsnap *b)
{
    for (int k = 0; k < a->n; k++)
        printf("%s.vmstat.%s=%ld\n", prefix, a->name[k], b->v[k] - a->v[k]);
}

/* ---------- misc ---------- */

/* Reserve 2*extra + len bytes PROT_NONE, return a PMD-aligned address inside
 * plus offset, mapped fresh with the given prot/flags (MAP_FIXED). */
static char *map_at_pmd_offset(size_t len, size_t offset, int prot, int flags, int fd, off_t off, void **res,
                               size_t *reslen)
{
    size_t rl = len + offset + 2 * PMD_SZ;
    char *r = mmap(NULL, rl, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        die("reserve");
    char *a = (char *)(((uintptr_t)r + PMD_SZ - 1) & ~(PMD_SZ - 1)) + offset;
    char *p = mmap(a, len, prot, flags | MAP_FIXED, fd, off);
    if (p == MAP_FAILED)
        die("mmap fixed");
    *res = r;
    *reslen = rl;
    exp_add(r, rl);
    return p;
}

static uint64_t rng_state = 12345;
static uint64_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng_state >> 33;
}

static long mincore_count(void *addr, size_t len, unsigned char *vec)
{
    size_t np = (len + PG - 1) / PG;
    if (mincore(addr, len, vec) != 0)
        return -1;
    long c = 0;
    for (size_t i = 0; i < np; i++)
        c += vec[i] & 1;
    return c;
}

static const char *thp_mode(void)
{
    static char buf[128];
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return "?";
    if (!fgets(buf, sizeof buf, f))
        buf[0] = 0;
    fclose(f);
    char *a = strchr(buf, '['), *b = strchr(buf, ']');
    if (a && b) {
        *b = 0;
        return a + 1;
    }
    return "?";
}

#endif
