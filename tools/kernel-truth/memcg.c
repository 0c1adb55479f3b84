/* memcg.c - a process inside a memory-limited cgroup (cgroup v1 memory controller; this
 * machine's cgroup2 hierarchy has no memory controller, see memcg.sh).
 *
 *   memcg LABEL CGDIR mmapread FILE MiB PASSES   child in CGDIR maps FILE (MiB, made here,
 *                                                 fsync'd and dropped from the cache first)
 *                                                 MAP_SHARED read-only and reads one byte per
 *                                                 page PASSES times
 *   memcg LABEL CGDIR anon MiB                    child in CGDIR writes MiB of private
 *                                                 anonymous memory (no swap: OOM)
 *
 * The parent stays outside CGDIR (it holds 8 MiB of its own, checked after) and prints the
 * child's per-pass faults and the cgroup's files: memory.usage_in_bytes after each pass,
 * memory.max_usage_in_bytes (the high-water mark: never above the limit), memory.failcnt,
 * memory.oom_control (oom_kill), memory.stat (pgmajfault, pgpgin, pgpgout, cache, rss ...).
 */
#include "common.h"

static char cg[512];

static long read_long(const char *file)
{
    char p[640];
    snprintf(p, sizeof p, "%s/%s", cg, file);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

/* KEY VALUE lines of a cgroup file, printed as PREFIX.KEY=VALUE for the keys asked for. */
static void keyed(const char *prefix, const char *file, const char **keys)
{
    char p[640], k[128];
    long v;
    snprintf(p, sizeof p, "%s/%s", cg, file);
    FILE *f = fopen(p, "r");
    if (!f)
        return;
    while (fscanf(f, "%127s %ld", k, &v) == 2)
        for (int i = 0; keys[i]; i++)
            if (!strcmp(k, keys[i]))
                printf("%s.%s=%ld\n", prefix, k, v);
    fclose(f);
}

static const char *stat_keys[] = {"cache", "rss", "mapped_file", "pgpgin", "pgpgout", "pgfault", "pgmajfault",
    "inactive_file", "active_file", "workingset_refault_file", "workingset_activate_file", NULL};
static const char *oom_keys[] = {"under_oom", "oom_kill", NULL};

static long vmstat(const char *key)
{
    FILE *f = fopen("/proc/vmstat", "r");
    char k[128];
    long v, out = -1;
    while (f && fscanf(f, "%127s %ld", k, &v) == 2)
        if (!strcmp(k, key))
            out = v;
    if (f)
        fclose(f);
    return out;
}

static void join(void)
{
    char p[640];
    snprintf(p, sizeof p, "%s/cgroup.procs", cg);
    FILE *f = fopen(p, "w");
    if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0)
        die("join cgroup");
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: memcg LABEL CGDIR mmapread FILE MiB PASSES | anon MiB\n");
        return 2;
    }
    const char *label = argv[1];
    snprintf(cg, sizeof cg, "%s", argv[2]);
    const char *kase = argv[3];
    prefault_self(1);
    printf("%s.limit_in_bytes=%ld\n", label, read_long("memory.limit_in_bytes"));
    /* The bystander: the parent's own 8 MiB, outside the cgroup. */
    size_t own = 8 * MiB;
    char *mine = mmap(NULL, own, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mine == MAP_FAILED)
        die("mmap own");
    memset(mine, 0x5a, own);
    long oom_before = vmstat("oom_kill");

    if (!strcmp(kase, "mmapread") && argc == 7) {
        const char *path = argv[4];
        size_t len = strtoul(argv[5], NULL, 10) * MiB;
        int passes = atoi(argv[6]);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            die("create");
        static char buf[1 << 20];
        memset(buf, 0x11, sizeof buf);
        for (size_t done = 0; done < len; done += sizeof buf)
            if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
                die("write");
        fsync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            join();
            prefault_self(0);
            int rfd = open(path, O_RDONLY);
            if (rfd < 0)
                die("open");
            volatile char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, rfd, 0);
            if (m == MAP_FAILED)
                die("mmap file");
            for (int p = 1; p <= passes; p++) {
                long before_maj = -1;
                struct flt a = flt_now();
                for (size_t off = 0; off < len; off += PG)
                    (void)m[off];
                struct flt b = flt_now();
                out_flt(K("%s.pass%d", label, p), flt_sub(b, a));
                printf("%s.pass%d.usage_in_bytes=%ld\n", label, p, read_long("memory.usage_in_bytes"));
                keyed(K("%s.pass%d.stat", label, p), "memory.stat", stat_keys);
                (void)before_maj;
            }
            fflush(stdout);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("%s.child.exit=%d\n", label, WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
        unlink(path);
    } else if (!strcmp(kase, "anon") && argc == 5) {
        size_t len = strtoul(argv[4], NULL, 10) * MiB;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            join();
            prefault_self(0);
            char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED)
                die("mmap anon");
            for (size_t off = 0; off < len; off += PG)
                m[off] = 1;
            printf("%s.child.survived=1\n", label);
            fflush(stdout);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("%s.child.signal=%d\n", label, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    } else {
        fprintf(stderr, "bad case\n");
        return 2;
    }
    printf("%s.max_usage_in_bytes=%ld\n", label, read_long("memory.max_usage_in_bytes"));
    printf("%s.failcnt=%ld\n", label, read_long("memory.failcnt"));
    keyed(K("%s.oom_control", label), "memory.oom_control", oom_keys);
    keyed(K("%s.stat", label), "memory.stat", stat_keys);
    printf("%s.vmstat.oom_kill.delta=%ld\n", label, vmstat("oom_kill") - oom_before);
    int intact = 1;
    for (size_t off = 0; off < own; off += PG)
        if (mine[off] != 0x5a)
            intact = 0;
    printf("%s.bystander.intact=%d\n", label, intact);
    return 0;
}
