/* readahead.c - readahead windows on a cold file, read(2) vs mmap.
 *
 *   readahead LABEL NPAGES DIR MODE [CREATE] [SETTLE]
 *     MODE   = read  : read(2) of 4 KiB, sequentially, on a fresh fd
 *              mmap  : MAP_SHARED read-only mapping, touch one byte per page
 *     CREATE = big (one write(2)) | small (4 KiB writes)
 *     SETTLE = 0 | 1: after each step that started I/O, wait until the page
 *              cache residency stops changing (up to 200 ms) before going on
 *     ALIGN  = KiB offset of the mapping from a 2 MiB boundary (default 0), or
 *              natural (wherever mmap puts it; fault-around windows then
 *              depend on the random address)
 *
 * Residency comes from mincore() on a separate, never-touched MAP_SHARED
 * mapping of the same file (mincore reports uptodate page-cache folios, so
 * it needs no PTEs).  For every step (one read or one page touch) that
 * changed anything, an event is printed:
 *   index : hit|miss (was that page resident before the step)
 *         / minflt / majflt / inblock (512-byte sectors submitted by us)
 *         / resident count right after the step
 *         [/ settled resident count]
 * A "miss" step is a synchronous readahead (or a major fault for mmap); a
 * "hit" step that grows residency or submits I/O is an asynchronous
 * readahead triggered by the PG_readahead marker on that page.
 */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: readahead LABEL NPAGES DIR read|mmap [big|small] [0|1] [ALIGN_KB|natural]\n");
        return 2;
    }
    const char *L = argv[1];
    size_t N = (size_t)atol(argv[2]), LEN = N * PG;
    const char *mode = argv[4];
    const char *cr = argc > 5 ? argv[5] : "big";
    int settle = argc > 6 ? atoi(argv[6]) : 0;
    const char *align = argc > 7 ? argv[7] : "0";
    unsigned char *vec = malloc(N + 1);
    memset(vec, 0, N + 1);
    char *buf = malloc(LEN > 1 * MiB ? LEN : 1 * MiB);
    for (size_t i = 0; i < LEN; i += PG)
        memset(buf + i, 'a' + (i / PG) % 26, PG);
    struct ev {
        long idx, miss, min, maj, inb, res, set;
    } *evs = malloc(sizeof(struct ev) * (N + 1));
    memset(evs, 0, sizeof(struct ev) * (N + 1));
    prefault_self(1);
    open_pagemap();
    calib(L);

    char path[512];
    snprintf(path, sizeof path, "%s/kt-ra-%zu-%d", argv[3], N, getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open");
    if (!strcmp(cr, "small")) {
        for (size_t i = 0; i < N; i++)
            if (write(fd, buf + i * PG, PG) != (ssize_t)PG)
                die("write");
    } else if (write(fd, buf, LEN) != (ssize_t)LEN)
        die("write");
    fsync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    int rfd = open(path, O_RDONLY);
    char *probe = mmap(NULL, LEN, PROT_READ, MAP_SHARED, rfd, 0);
    if (probe == MAP_FAILED)
        die("mmap probe");
    exp_add(probe, LEN);
    printf("%s.npages=%zu\n%s.mode=%s\n%s.create=%s\n%s.settle=%d\n", L, N, L, mode, L, cr, L, settle);
    printf("%s.resident_before=%ld\n", L, mincore_count(probe, LEN, vec));
    char *m = NULL;
    if (!strcmp(mode, "mmap")) {
        if (!strcmp(align, "natural")) {
            m = mmap(NULL, LEN, PROT_READ, MAP_SHARED, rfd, 0);
            if (m == MAP_FAILED)
                die("mmap");
            exp_add(m, LEN);
        } else {
            void *res;
            size_t rl;
            m = map_at_pmd_offset(LEN, (size_t)atol(align) * 1024, PROT_READ, MAP_SHARED, rfd, 0, &res, &rl);
        }
        printf("%s.map_offset_in_pmd_kB=%lu\n", L, (unsigned long)((uintptr_t)m % PMD_SZ) / 1024);
        printf("info.%s.map_addr=%p\n", L, m);
    }
    long nev = 0, tmin = 0, tmaj = 0, tinb = 0, nmiss = 0;
    volatile char s = 0;
    for (size_t i = 0; i < N; i++) {
        if (mincore(probe + i * PG, PG, vec) != 0)
            die("mincore");
        int miss = !(vec[0] & 1);
        struct flt x = flt_now();
        if (m)
            s += m[i * PG];
        else if (read(rfd, buf, PG) != (ssize_t)PG)
            die("read");
        struct flt y = flt_now();
        struct flt d = flt_sub(y, x);
        long res = mincore_count(probe, LEN, vec);
        if (d.min || d.maj || d.inblock || miss || (nev && res != evs[nev - 1].res) || !nev) {
            long set = res;
            if (settle && (d.inblock || miss)) {
                for (int k = 0; k < 100; k++) {
                    usleep(2000);
                    long r2 = mincore_count(probe, LEN, vec);
                    if (r2 == set && k > 2)
                        break;
                    set = r2;
                }
            }
            evs[nev].idx = (long)i;
            evs[nev].miss = miss;
            evs[nev].min = d.min;
            evs[nev].maj = d.maj;
            evs[nev].inb = d.inblock;
            evs[nev].res = res;
            evs[nev].set = set;
            nev++;
        }
        tmin += d.min;
        tmaj += d.maj;
        tinb += d.inblock;
        nmiss += miss;
    }
    (void)s;
    printf("%s.total.minflt=%ld\n%s.total.majflt=%ld\n%s.total.inblock=%ld\n%s.total.miss_steps=%ld\n", L, tmin, L,
           tmaj, L, tinb, L, nmiss);
    printf("%s.miss_at=", L);
    int first = 1;
    for (long e = 0; e < nev; e++)
        if (evs[e].miss) {
            printf("%s%ld", first ? "" : ",", evs[e].idx);
            first = 0;
        }
    printf("%s\n", first ? "none" : "");
    printf("%s.io_at=", L); /* index:pages submitted (inblock/8) */
    first = 1;
    for (long e = 0; e < nev; e++)
        if (evs[e].inb) {
            printf("%s%ld:%ld", first ? "" : ",", evs[e].idx, evs[e].inb / 8);
            first = 0;
        }
    printf("%s\n", first ? "none" : "");
    printf("%s.major_at=", L);
    first = 1;
    for (long e = 0; e < nev; e++)
        if (evs[e].maj) {
            printf("%s%ld", first ? "" : ",", evs[e].idx);
            first = 0;
        }
    printf("%s\n", first ? "none" : "");
    printf("%s.nevents=%ld\n", L, nev);
    printf("%s.events=", L);
    long shown = 0;
    for (long e = 0; e < nev && shown < 400; e++, shown++) {
        printf("%s%ld:%s/%ld/%ld/%ld/%ld", e ? ";" : "", evs[e].idx, evs[e].miss ? "miss" : "hit", evs[e].min,
               evs[e].maj, evs[e].inb, evs[e].res);
        if (settle)
            printf("/%ld", evs[e].set);
    }
    printf("%s\n", shown < nev ? ";..." : "");
    printf("%s.resident_end=%ld\n", L, mincore_count(probe, LEN, vec));
    if (m) {
        smaps_report(L, m, LEN);
        folio_report(K("%s.mapped", L), m, LEN);
    } else {
        /* folio census without I/O: every page is resident now */
        volatile char t = 0;
        for (size_t i = 0; i < N; i++)
            t += probe[i * PG];
        (void)t;
        folio_report(K("%s.cache", L), probe, LEN);
    }
    close(rfd);
    unlink(path);
    fflush(stdout);
    return 0;
}
