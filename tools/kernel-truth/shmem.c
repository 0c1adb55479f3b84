/* shmem.c - read faults then write faults on shared memory.
 *
 *   shmem LABEL anon     N        MAP_SHARED|MAP_ANONYMOUS: read N, write N
 *   shmem LABEL anonw    N        MAP_SHARED|MAP_ANONYMOUS: write N
 *   shmem LABEL anonfork N        parent writes N, forks; child reads N, writes N
 *   shmem LABEL private  N        MAP_PRIVATE|MAP_ANONYMOUS: read N, write N
 *   shmem LABEL tmpfs    N hole|filled DIR [shared|private]
 *                                 file in DIR (tmpfs, e.g. /dev/shm): ftruncate
 *                                 only (hole) or written with write(2) (filled);
 *                                 read N, write N
 *   shmem LABEL ext4     N small|big DIR   same on an ext4 file (fsync'ed),
 *                                 for comparison (write-notify)
 *
 * Every mapping starts at a 2 MiB boundary so fault-around windows do not
 * depend on the random mmap address.
 */
#include "common.h"

static const char *L;

static void rw_test(const char *key, char *m, size_t len, int do_read)
{
    volatile char s = 0;
    if (do_read) {
        struct flt a = flt_now();
        for (size_t i = 0; i < len; i += PG)
            s += m[i];
        struct flt b = flt_now();
        out_flt(K("%s.read", key), flt_sub(b, a));
        smaps_report(K("%s.after_read", key), m, len);
        folio_report(K("%s.after_read.folios", key), m, len);
    }
    struct flt a = flt_now();
    for (size_t i = 0; i < len; i += PG)
        m[i] = 1;
    struct flt b = flt_now();
    out_flt(K("%s.write", key), flt_sub(b, a));
    smaps_report(K("%s.after_write", key), m, len);
    folio_report(K("%s.after_write.folios", key), m, len);
    (void)s;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: shmem LABEL anon|anonw|anonfork|private|tmpfs|ext4 N ...\n");
        return 2;
    }
    L = argv[1];
    const char *c = argv[2];
    size_t N = (size_t)atol(argv[3]), LEN = N * PG;
    char *buf = malloc(LEN);
    for (size_t i = 0; i < LEN; i += PG)
        memset(buf + i, 'a' + (i / PG) % 26, PG);
    prefault_self(1);
    open_pagemap();
    calib(L);
    printf("%s.npages=%zu\n", L, N);
    void *res;
    size_t rl;
    if (!strcmp(c, "anon") || !strcmp(c, "anonw") || !strcmp(c, "private")) {
        int fl = !strcmp(c, "private") ? MAP_PRIVATE : MAP_SHARED;
        char *m = map_at_pmd_offset(LEN, 0, PROT_READ | PROT_WRITE, fl | MAP_ANONYMOUS, -1, 0, &res, &rl);
        rw_test(L, m, LEN, strcmp(c, "anonw") != 0);
    } else if (!strcmp(c, "anonfork")) {
        char *m = map_at_pmd_offset(LEN, 0, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, &res, &rl);
        struct flt a = flt_now();
        for (size_t i = 0; i < LEN; i += PG)
            m[i] = 2;
        struct flt b = flt_now();
        out_flt(K("%s.parent_write", L), flt_sub(b, a));
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            reopen_pagemap();
            prefault_self(0);
            rw_test(K("%s.child", L), m, LEN, 1);
            fflush(stdout);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
    } else if (!strcmp(c, "tmpfs") || !strcmp(c, "ext4")) {
        if (argc < 6)
            die("usage tmpfs/ext4");
        const char *how = argv[4], *dir = argv[5];
        int priv = argc > 6 && !strcmp(argv[6], "private");
        char path[512];
        snprintf(path, sizeof path, "%s/kt-shmem-%zu-%d", dir, N, getpid());
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            die("open");
        if (!strcmp(how, "hole")) {
            if (ftruncate(fd, (off_t)LEN))
                die("ftruncate");
        } else if (!strcmp(how, "small")) {
            for (size_t i = 0; i < N; i++)
                if (write(fd, buf + i * PG, PG) != (ssize_t)PG)
                    die("write");
        } else if (write(fd, buf, LEN) != (ssize_t)LEN)
            die("write");
        if (!strcmp(c, "ext4"))
            fsync(fd);
        printf("%s.how=%s\n%s.maptype=%s\n", L, how, L, priv ? "private" : "shared");
        char *m = map_at_pmd_offset(LEN, 0, PROT_READ | PROT_WRITE, priv ? MAP_PRIVATE : MAP_SHARED, fd, 0, &res,
                                    &rl);
        rw_test(L, m, LEN, 1);
        munmap(res, rl);
        close(fd);
        unlink(path);
    } else
        die("case");
    fflush(stdout);
    return 0;
}
