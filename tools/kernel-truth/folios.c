/* folios.c - page-cache folio sizes and file-mapping faults.
 *
 *   folios LABEL NPAGES METHOD DIR [PASSES]
 *     METHOD = big   : file written with one write(2), fsync
 *              small : file written with NPAGES 4 KiB write(2)s, fsync
 *              mb    : file written with 1 MiB write(2)s, fsync
 *              cold  : as big, then fsync + posix_fadvise(DONTNEED); every pass
 *                      below starts from an empty page cache (DONTNEED again)
 *     PASSES = comma list of shared,private,swrite,pwrite (default all)
 *
 * For each mapping type (MAP_SHARED, MAP_PRIVATE) and each read pattern
 * (seq, stride16, stride64, reverse, random) a fresh mapping of the whole
 * file, starting at a 2 MiB boundary, is made and read once: faults, mincore
 * residency, smaps and the folio census of the mapping.  For MAP_SHARED the
 * sequential pass is repeated with the mapping 4 KiB and 64 KiB past a 2 MiB
 * boundary and at the address mmap chooses (seq_off4k, seq_off64k,
 * seq_natural).  Then the write tests (shared: write all, msync,
 * write all again; private: write all).
 *
 * Folio census: /proc/self/pagemap gives the PFN of every present PTE or PMD
 * of the mapping, /proc/kpageflags the compound head/tail bits, so a folio's
 * size is the head plus the following tail PFNs.  After file creation the
 * census maps the file in a scratch mapping and reads one byte of every page
 * mincore() reports resident (never a non-resident page, so the census
 * causes no I/O and no readahead).
 */
#include "common.h"

static const char *L;
static size_t N, LEN;
static int fd;
static int cold;
static unsigned char *vec;
static size_t *order_idx;

static void out_io(const char *key, struct flt d)
{
    printf("%s.minflt=%ld\n%s.majflt=%ld\n%s.inblock=%ld\n", key, d.min, key, d.maj, key, d.inblock);
}

static void drop_cache(const char *key)
{
    fdatasync(fd);
    int r = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    char *m = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
    long res = mincore_count(m, LEN, vec);
    munmap(m, LEN);
    if (key) {
        printf("%s.fadvise_dontneed_ret=%d\n", key, r);
        printf("%s.resident_after_drop=%ld\n", key, res);
    }
}

static void census_file(const char *key)
{
    char *m = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        die("mmap census");
    long res = mincore_count(m, LEN, vec);
    printf("%s.resident=%ld\n", key, res);
    volatile char s = 0;
    for (size_t i = 0; i < N; i++)
        if (vec[i] & 1)
            s += m[i * PG];
    (void)s;
    folio_report(K("%s.cache", key), m, LEN);
    munmap(m, LEN);
}

/* Build the access order for a pattern; returns number of accesses. */
static size_t make_order(const char *pat)
{
    size_t n = 0;
    if (!strcmp(pat, "seq"))
        for (size_t i = 0; i < N; i++)
            order_idx[n++] = i;
    else if (!strcmp(pat, "stride16"))
        for (size_t i = 0; i < N; i += 16)
            order_idx[n++] = i;
    else if (!strcmp(pat, "stride64"))
        for (size_t i = 0; i < N; i += 64)
            order_idx[n++] = i;
    else if (!strcmp(pat, "reverse"))
        for (size_t i = N; i-- > 0;)
            order_idx[n++] = i;
    else if (!strcmp(pat, "random")) {
        rng_state = 12345;
        for (size_t i = 0; i < N; i++)
            order_idx[i] = i;
        for (size_t i = N - 1; i > 0; i--) {
            size_t j = rng() % (i + 1);
            size_t t = order_idx[i];
            order_idx[i] = order_idx[j];
            order_idx[j] = t;
        }
        n = N;
    }
    return n;
}

/* Fresh mapping of the whole file.  off_kb < 0: wherever mmap puts it
 * (ext4 aligns mappings of 2 MiB or more to 2 MiB, smaller ones land
 * anywhere); otherwise at a 2 MiB boundary plus off_kb KiB. */
static void *cur_res;
static size_t cur_rl;
static char *fresh_map_at(int flags, int prot, long off_kb)
{
    if (cold)
        drop_cache(NULL);
    char *m;
    if (off_kb < 0) {
        m = mmap(NULL, LEN, prot, flags, fd, 0);
        if (m == MAP_FAILED)
            die("mmap");
        cur_res = NULL;
    } else
        m = map_at_pmd_offset(LEN, (size_t)off_kb * 1024, prot, flags, fd, 0, &cur_res, &cur_rl);
    printf("info.%s.map_addr=%p\n", L, m);
    return m;
}
static char *fresh_map(int flags, int prot)
{
    return fresh_map_at(flags, prot, 0);
}
static void unmap(char *m)
{
    if (cur_res) {
        munmap(cur_res, cur_rl);
        exp_del(cur_res);
        cur_res = NULL;
    } else
        munmap(m, LEN);
}

static void after(const char *key, char *m)
{
    printf("%s.resident=%ld\n", key, mincore_count(m, LEN, vec));
    smaps_report(key, m, LEN);
    folio_report(K("%s.mapped", key), m, LEN);
}

static void read_passes(const char *type, int flags)
{
    const char *pats[] = {"seq", "stride16", "stride64", "reverse", "random", "seq_off4k", "seq_off64k", "seq_natural", NULL};
    for (int p = 0; pats[p]; p++) {
        if (strncmp(type, "shared", 6) && !strncmp(pats[p], "seq_", 4))
            continue; /* the alignment variants only for MAP_SHARED */
        const char *key = K("%s.%s.%s", L, type, pats[p]);
        char kcopy[256];
        snprintf(kcopy, sizeof kcopy, "%s", key);
        size_t n = make_order(!strncmp(pats[p], "seq", 3) ? "seq" : pats[p]);
        long off = !strcmp(pats[p], "seq_off4k") ? 4 : !strcmp(pats[p], "seq_off64k") ? 64 : !strcmp(pats[p], "seq_natural") ? -1 : 0;
        char *m = fresh_map_at(flags, PROT_READ, off);
        printf("%s.accesses=%zu\n", kcopy, n);
        printf("%s.map_offset_in_pmd_kB=%lu\n", kcopy, (unsigned long)((uintptr_t)m % PMD_SZ) / 1024);
        volatile char s = 0;
        struct flt a = flt_now();
        for (size_t i = 0; i < n; i++)
            s += m[order_idx[i] * PG];
        struct flt b = flt_now();
        (void)s;
        out_io(kcopy, flt_sub(b, a));
        after(kcopy, m);
        unmap(m);
    }
}

static void write_all(char *m, int v)
{
    for (size_t i = 0; i < N; i++)
        m[i * PG] = (char)v;
}

static void shared_write(void)
{
    const char *key = K("%s.shared.write", L);
    char k[256];
    snprintf(k, sizeof k, "%s", key);
    char *m = fresh_map(MAP_SHARED, PROT_READ | PROT_WRITE);
    struct flt a = flt_now();
    write_all(m, 'a');
    struct flt b = flt_now();
    out_io(K("%s.first", k), flt_sub(b, a));
    after(K("%s.first", k), m);
    a = flt_now();
    int r = msync(m, LEN, MS_SYNC);
    b = flt_now();
    printf("%s.msync.ret=%d\n", k, r);
    out_io(K("%s.msync", k), flt_sub(b, a));
    after(K("%s.msync", k), m);
    a = flt_now();
    write_all(m, 'b');
    b = flt_now();
    out_io(K("%s.second", k), flt_sub(b, a));
    after(K("%s.second", k), m);
    /* read after write: no faults expected, PTEs present */
    a = flt_now();
    volatile char s = 0;
    for (size_t i = 0; i < N; i++)
        s += m[i * PG];
    b = flt_now();
    out_io(K("%s.reread", k), flt_sub(b, a));
    msync(m, LEN, MS_SYNC);
    unmap(m);
}

static void private_write(void)
{
    const char *key = K("%s.private.write", L);
    char k[256];
    snprintf(k, sizeof k, "%s", key);
    char *m = fresh_map(MAP_PRIVATE, PROT_READ | PROT_WRITE);
    struct flt a = flt_now();
    write_all(m, 'c');
    struct flt b = flt_now();
    out_io(K("%s.first", k), flt_sub(b, a));
    after(K("%s.first", k), m);
    a = flt_now();
    write_all(m, 'd');
    b = flt_now();
    out_io(K("%s.second", k), flt_sub(b, a));
    unmap(m);
    /* private read then write */
    m = fresh_map(MAP_PRIVATE, PROT_READ | PROT_WRITE);
    volatile char s = 0;
    a = flt_now();
    for (size_t i = 0; i < N; i++)
        s += m[i * PG];
    b = flt_now();
    out_io(K("%s.readfirst.read", k), flt_sub(b, a));
    a = flt_now();
    write_all(m, 'e');
    b = flt_now();
    out_io(K("%s.readfirst.write", k), flt_sub(b, a));
    after(K("%s.readfirst.write", k), m);
    unmap(m);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: folios LABEL NPAGES big|small|mb|cold DIR [PASSES]\n");
        return 2;
    }
    L = argv[1];
    N = (size_t)atol(argv[2]);
    LEN = N * PG;
    const char *method = argv[3];
    const char *passes = argc > 5 ? argv[5] : "shared,private,swrite,pwrite";
    cold = !strcmp(method, "cold");
    vec = malloc(N + 1);
    order_idx = malloc(N * sizeof(size_t));
    memset(vec, 0, N + 1);
    memset(order_idx, 0, N * sizeof(size_t));
    char *buf = malloc(LEN);
    for (size_t i = 0; i < LEN; i += PG)
        memset(buf + i, 'A' + (i / PG) % 26, PG);
    prefault_self(1);
    open_pagemap();
    calib(L);

    char path[512];
    snprintf(path, sizeof path, "%s/kt-folios-%zu-%s", argv[4], N, method);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open");
    printf("%s.npages=%zu\n%s.method=%s\n", L, N, L, method);
    {
        FILE *f = fopen("/sys/block/vda/queue/read_ahead_kb", "r");
        int ra = -1;
        if (f) {
            if (fscanf(f, "%d", &ra) != 1)
                ra = -1;
            fclose(f);
        }
        printf("%s.read_ahead_kb=%d\n", L, ra);
    }
    struct flt a = flt_now();
    if (!strcmp(method, "small")) {
        for (size_t i = 0; i < N; i++)
            if (write(fd, buf + i * PG, PG) != (ssize_t)PG)
                die("write");
    } else if (!strcmp(method, "mb")) {
        for (size_t done = 0; done < LEN; done += MiB) {
            size_t w = LEN - done < MiB ? LEN - done : MiB;
            if (write(fd, buf + done, w) != (ssize_t)w)
                die("write");
        }
    } else {
        size_t done = 0;
        while (done < LEN) {
            ssize_t w = write(fd, buf + done, LEN - done);
            if (w <= 0)
                die("write");
            done += (size_t)w;
        }
    }
    struct flt b = flt_now();
    out_io(K("%s.create", L), flt_sub(b, a));
    census_file(K("%s.after_write", L));
    fsync(fd);
    census_file(K("%s.after_fsync", L));
    if (cold)
        drop_cache(K("%s.drop", L));
    free(buf);

    if (strstr(passes, "shared"))
        read_passes("shared", MAP_SHARED);
    if (strstr(passes, "private"))
        read_passes("private", MAP_PRIVATE);
    if (strstr(passes, "swrite"))
        shared_write();
    if (strstr(passes, "pwrite"))
        private_write();
    if (!cold)
        census_file(K("%s.end", L));
    close(fd);
    unlink(path);
    fflush(stdout);
    return 0;
}
