/* retry.c - faults on a cold file mapping, page by page.
 *
 *   retry LABEL NPAGES DIR [ADVICE] [MAPTYPE] [CREATE]
 *     ADVICE  = none | random | sequential | willneed   (madvise on the mapping)
 *     MAPTYPE = shared (default) | private
 *     CREATE  = big (one write(2), large folios; default) | small (4 KiB writes)
 *     ALIGN   = KiB offset of the mapping from a 2 MiB boundary (default 0) | natural
 *
 * The file is written, fsync'ed and dropped with posix_fadvise(DONTNEED).
 * Then it is mapped and page 0, 1, 2, ... N-1 are read one at a time, each
 * read bracketed by getrusage.  Every read that costs a fault is printed as an
 * event: page index, minor, major, ru_inblock (512-byte sectors read by this
 * task), page-cache residency (mincore) just after the fault (-1 after the
 * first 2000 events).
 * info.LABEL.map_addr is printed so a perf trace of
 * exceptions:page_fault_user can be matched to page indexes (perf_faults.py).
 */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: retry LABEL NPAGES DIR [none|random|sequential|willneed] [shared|private] [big|small] [ALIGN_KB|natural]\n");
        return 2;
    }
    const char *L = argv[1];
    size_t N = (size_t)atol(argv[2]), LEN = N * PG;
    const char *adv = argc > 4 ? argv[4] : "none";
    const char *mt = argc > 5 ? argv[5] : "shared";
    const char *cr = argc > 6 ? argv[6] : "big";
    const char *align = argc > 7 ? argv[7] : "0";
    unsigned char *vec = malloc(N + 1);
    struct ev {
        long page, min, maj, inb, res;
    } *evs = malloc(sizeof(struct ev) * (N + 1));
    memset(vec, 0, N + 1);
    memset(evs, 0, sizeof(struct ev) * (N + 1));
    char *buf = malloc(LEN);
    for (size_t i = 0; i < LEN; i += PG)
        memset(buf + i, 'a' + (i / PG) % 26, PG);
    prefault_self(1);
    open_pagemap();
    calib(L);

    char path[512];
    snprintf(path, sizeof path, "%s/kt-retry-%zu-%d", argv[3], N, getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open");
    if (!strcmp(cr, "small")) {
        for (size_t i = 0; i < N; i++)
            if (write(fd, buf + i * PG, PG) != (ssize_t)PG)
                die("write");
    } else if (write(fd, buf, LEN) != (ssize_t)LEN)
        die("write");
    free(buf);
    fsync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    int mflags = !strcmp(mt, "private") ? MAP_PRIVATE : MAP_SHARED;
    char *m;
    if (!strcmp(align, "natural")) {
        m = mmap(NULL, LEN, PROT_READ, mflags, fd, 0);
        if (m == MAP_FAILED)
            die("mmap");
        exp_add(m, LEN);
    } else {
        void *res;
        size_t rl;
        m = map_at_pmd_offset(LEN, (size_t)atol(align) * 1024, PROT_READ, mflags, fd, 0, &res, &rl);
    }
    printf("%s.map_offset_in_pmd_kB=%lu\n", L, (unsigned long)((uintptr_t)m % PMD_SZ) / 1024);
    printf("info.%s.map_addr=%p\n", L, m);
    printf("%s.npages=%zu\n%s.advice=%s\n%s.maptype=%s\n%s.create=%s\n", L, N, L, adv, L, mt, L, cr);
    printf("%s.resident_before=%ld\n", L, mincore_count(m, LEN, vec));
    int r = 0;
    struct flt a0 = flt_now();
    if (!strcmp(adv, "random"))
        r = madvise(m, LEN, MADV_RANDOM);
    else if (!strcmp(adv, "sequential"))
        r = madvise(m, LEN, MADV_SEQUENTIAL);
    else if (!strcmp(adv, "willneed"))
        r = madvise(m, LEN, MADV_WILLNEED);
    struct flt a1 = flt_now();
    printf("%s.madvise_ret=%d\n", L, r);
    printf("%s.madvise.minflt=%ld\n%s.madvise.majflt=%ld\n%s.madvise.inblock=%ld\n", L, a1.min - a0.min, L,
           a1.maj - a0.maj, L, a1.inblock - a0.inblock);
    if (!strcmp(adv, "willneed")) {
        usleep(100000);
        printf("%s.resident_after_willneed=%ld\n", L, mincore_count(m, LEN, vec));
    }
    long nev = 0, tmin = 0, tmaj = 0, tinb = 0;
    volatile char s = 0;
    for (size_t i = 0; i < N; i++) {
        struct flt x = flt_now();
        s += m[i * PG];
        struct flt y = flt_now();
        struct flt d = flt_sub(y, x);
        if (d.min || d.maj || d.inblock) {
            evs[nev].page = (long)i;
            evs[nev].min = d.min;
            evs[nev].maj = d.maj;
            evs[nev].inb = d.inblock;
            /* residency after the fault; only for the first 2000 events (mincore of
             * the whole file per event would make 100000 random faults quadratic) */
            evs[nev].res = nev < 2000 ? mincore_count(m, LEN, vec) : -1;
            nev++;
            tmin += d.min;
            tmaj += d.maj;
            tinb += d.inblock;
        }
    }
    (void)s;
    printf("%s.total.minflt=%ld\n%s.total.majflt=%ld\n%s.total.inblock=%ld\n", L, tmin, L, tmaj, L, tinb);
    printf("%s.fault_events=%ld\n", L, nev);
    /* page:min/maj/inblock/resident; ... */
    /* at most 2000 events and 2000 major pages are listed (",..." marks the cut) */
    printf("%s.events=", L);
    for (long e = 0; e < nev && e < 2000; e++)
        printf("%s%ld:%ld/%ld/%ld/%ld", e ? ";" : "", evs[e].page, evs[e].min, evs[e].maj, evs[e].inb, evs[e].res);
    printf("%s\n", nev > 2000 ? ";..." : "");
    printf("%s.major_at=", L);
    int first = 1;
    long nmaj = 0;
    for (long e = 0; e < nev; e++)
        if (evs[e].maj && nmaj++ < 2000) {
            printf("%s%ld", first ? "" : ",", evs[e].page);
            first = 0;
        }
    printf("%s\n", first ? "none" : (nmaj > 2000 ? ",..." : ""));
    printf("%s.minor_at=", L);
    first = 1;
    long shown = 0;
    for (long e = 0; e < nev; e++)
        if (evs[e].min && shown < 300) {
            printf("%s%ld", first ? "" : ",", evs[e].page);
            first = 0;
            shown++;
        }
    printf("%s\n", first ? "none" : (shown >= 300 ? ",..." : ""));
    printf("%s.resident_end=%ld\n", L, mincore_count(m, LEN, vec));
    smaps_report(L, m, LEN);
    folio_report(K("%s.mapped", L), m, LEN);
    munmap(m, LEN);
    close(fd);
    unlink(path);
    fflush(stdout);
    return 0;
}
