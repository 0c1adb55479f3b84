/* ops.c - populate, rlimits, rusage of children, signals, COW and pagemap.
 *
 *   ops LABEL populate KIND N DIR
 *        KIND = anon_read | anon_write | anon_thp_write | shm_read | shm_write |
 *               file_read_warm | file_read_cold | file_write_shared | file_write_private |
 *               map_populate | mlock
 *   ops LABEL stack default|raised
 *   ops LABEL rlimit_as | rlimit_data
 *   ops LABEL rlimit_memlock
 *   ops LABEL rusage_children N
 *   ops LABEL signals DIR
 *   ops LABEL cow none|childwrite|parentfirst
 */
#include "common.h"

static const char *L;

/* ---------------- populate ---------------- */

static int make_file(const char *dir, size_t len, const char *tag, char *path, size_t pl)
{
    snprintf(path, pl, "%s/kt-ops-%s-%d", dir, tag, getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open");
    char *b = malloc(1 * MiB);
    memset(b, 'x', 1 * MiB);
    for (size_t d = 0; d < len; d += 1 * MiB)
        if (write(fd, b, len - d < MiB ? len - d : MiB) < 0)
            die("write");
    free(b);
    fsync(fd);
    return fd;
}

static void populate(int argc, char **argv)
{
    if (argc < 6)
        die("usage populate");
    const char *kind = argv[3];
    size_t N = (size_t)atol(argv[4]), LEN = N * PG;
    const char *dir = argv[5];
    void *res = NULL;
    size_t rl = 0;
    char *m = NULL;
    char path[512] = "";
    int fd = -1;
    int advice = -1;
    printf("%s.kind=%s\n%s.npages=%zu\n", L, kind, L, N);
    struct flt a, b;
    int r = 0, e = 0;
    if (!strncmp(kind, "anon", 4) || !strncmp(kind, "shm", 3)) {
        int fl = !strncmp(kind, "shm", 3) ? MAP_SHARED : MAP_PRIVATE;
        m = map_at_pmd_offset(LEN, 0, PROT_READ | PROT_WRITE, fl | MAP_ANONYMOUS, -1, 0, &res, &rl);
        if (!strcmp(kind, "anon_thp_write"))
            madvise(m, LEN, MADV_HUGEPAGE);
        advice = strstr(kind, "read") ? MADV_POPULATE_READ : MADV_POPULATE_WRITE;
    } else if (!strncmp(kind, "file", 4)) {
        fd = make_file(dir, LEN, "pop", path, sizeof path);
        if (!strcmp(kind, "file_read_cold"))
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        int fl = !strcmp(kind, "file_write_private") ? MAP_PRIVATE : MAP_SHARED;
        m = map_at_pmd_offset(LEN, 0, PROT_READ | PROT_WRITE, fl, fd, 0, &res, &rl);
        advice = strstr(kind, "read") ? MADV_POPULATE_READ : MADV_POPULATE_WRITE;
    } else if (!strcmp(kind, "map_populate")) {
        a = flt_now();
        m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        b = flt_now();
        exp_add(m, LEN);
        out_flt(K("%s.call", L), flt_sub(b, a));
    } else if (!strcmp(kind, "mlock")) {
        m = map_at_pmd_offset(LEN, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &res, &rl);
        a = flt_now();
        r = mlock(m, LEN);
        e = errno;
        b = flt_now();
        printf("%s.call.ret=%d\n%s.call.errno=%s\n", L, r, L, r ? strerrorname_np(e) : "0");
        out_flt(K("%s.call", L), flt_sub(b, a));
    } else
        die("kind");
    if (advice >= 0) {
        a = flt_now();
        r = madvise(m, LEN, advice);
        e = errno;
        b = flt_now();
        printf("%s.call=%s\n", L, advice == MADV_POPULATE_READ ? "MADV_POPULATE_READ" : "MADV_POPULATE_WRITE");
        printf("%s.call.ret=%d\n%s.call.errno=%s\n", L, r, L, r ? strerrorname_np(e) : "0");
        out_flt(K("%s.call", L), flt_sub(b, a));
    }
    smaps_report(K("%s.after_call", L), m, LEN);
    folio_report(K("%s.after_call.folios", L), m, LEN);
    volatile char s = 0;
    a = flt_now();
    for (size_t i = 0; i < LEN; i += PG)
        s += m[i];
    b = flt_now();
    out_flt(K("%s.read_after", L), flt_sub(b, a));
    a = flt_now();
    for (size_t i = 0; i < LEN; i += PG)
        m[i] = 5;
    b = flt_now();
    out_flt(K("%s.write_after", L), flt_sub(b, a));
    (void)s;
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
}

/* ---------------- stack ---------------- */

static sigjmp_buf jb;
static volatile sig_atomic_t got_sig, got_code;
static void *volatile got_addr;
static char altstack[64 * 1024];

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    siglongjmp(jb, 1);
}

static void install(int sig, int onalt)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | (onalt ? SA_ONSTACK : 0);
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static long stack_vma_kb(unsigned long *lo, unsigned long *hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "[stack]")) {
            sscanf(line, "%lx-%lx", lo, hi);
            kb = (long)((*hi - *lo) / 1024);
        }
    fclose(f);
    return kb;
}

static volatile char *volatile deepest;
static volatile long touched_below;
static unsigned long vma_lo_before;

/* alloca + touch every page from the top down, with no function call after
 * the alloca (a call would write its frame at the very bottom first). */
static void __attribute__((noinline)) touch_down(size_t bytes)
{
    volatile char *p = alloca(bytes);
    for (volatile char *q = p + bytes - 1; q >= p; q -= PG) {
        *q = 1;
        deepest = q;
        if ((unsigned long)q < vma_lo_before)
            touched_below++;
    }
}

static void grow_case(const char *name, size_t bytes)
{
    unsigned long lo, hi;
    long before = stack_vma_kb(&lo, &hi);
    vma_lo_before = lo;
    touched_below = 0;
    deepest = NULL;
    got_sig = 0;
    struct flt a = flt_now();
    if (sigsetjmp(jb, 1) == 0)
        touch_down(bytes);
    struct flt b = flt_now();
    long after = stack_vma_kb(&lo, &hi);
    printf("%s.%s.stack_vma_before_kB=%ld\n", L, name, before);
    printf("%s.%s.signal=%s\n", L, name, got_sig == SIGSEGV ? "SIGSEGV" : got_sig ? "other" : "none");
    if (got_sig) {
        printf("%s.%s.si_code=%s\n", L, name,
               got_code == SEGV_MAPERR ? "SEGV_MAPERR" : got_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other");
        printf("%s.%s.fault_addr_is_page_below_vma_start=%d\n", L, name,
               ((unsigned long)got_addr & ~(PG - 1)) == lo - PG);
    }
    printf("%s.%s.new_pages_touched=%ld\n", L, name, (long)touched_below);
    printf("%s.%s.minflt=%ld\n%s.%s.majflt=%ld\n", L, name, b.min - a.min, L, name, b.maj - a.maj);
    printf("%s.%s.minflt_minus_new_pages=%ld\n", L, name, (b.min - a.min) - (long)touched_below);
    printf("%s.%s.stack_vma_after_kB=%ld\n", L, name, after);
}

static void stack_case(int argc, char **argv)
{
    const char *which = argc > 3 ? argv[3] : "default";
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    install(SIGSEGV, 1);
    struct rlimit rl;
    getrlimit(RLIMIT_STACK, &rl);
    if (!strcmp(which, "raised")) {
        rl.rlim_cur = 64 * MiB;
        printf("%s.setrlimit_ret=%d\n", L, setrlimit(RLIMIT_STACK, &rl));
    }
    getrlimit(RLIMIT_STACK, &rl);
    printf("%s.rlimit_stack_kB=%lu\n", L, (unsigned long)rl.rlim_cur / 1024);
    grow_case("grow4M", 4 * MiB);   /* within any limit */
    grow_case("grow32M", 32 * MiB); /* beyond the default 8 MiB */
}

/* ---------------- rlimits ---------------- */

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':')
            v = atol(line + fl + 1);
    fclose(f);
    return v;
}

static void try_mmap(const char *key, size_t len, int prot, int flags)
{
    void *p = mmap(NULL, len, prot, flags, -1, 0);
    int e = errno;
    printf("%s.ok=%d\n%s.errno=%s\n", key, p != MAP_FAILED, key, p == MAP_FAILED ? strerrorname_np(e) : "0");
    if (p != MAP_FAILED)
        munmap(p, len);
}

static void try_brk(const char *key, long delta)
{
    void *old = sbrk(0);
    void *p = sbrk(delta);
    int e = errno;
    printf("%s.ok=%d\n%s.errno=%s\n", key, p != (void *)-1, key, p == (void *)-1 ? strerrorname_np(e) : "0");
    if (p != (void *)-1)
        brk(old);
}

static void rlimit_as(void)
{
    long vm = status_kb("VmSize");
    struct rlimit r = {(rlim_t)(vm * 1024 + 64 * MiB), RLIM_INFINITY};
    printf("%s.vmsize_kB=%ld\n%s.limit=VmSize+64MiB\n", L, vm, L);
    printf("%s.setrlimit_ret=%d\n", L, setrlimit(RLIMIT_AS, &r));
    try_mmap(K("%s.mmap32M", L), 32 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    try_mmap(K("%s.mmap128M", L), 128 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    try_mmap(K("%s.mmap128M_prot_none", L), 128 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
    try_mmap(K("%s.mmap128M_noreserve", L), 128 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    try_mmap(K("%s.mmap128M_shared", L), 128 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    try_brk(K("%s.brk32M", L), 32 * MiB);
    try_brk(K("%s.brk128M", L), 128 * MiB);
}

static void rlimit_data(void)
{
    long vd = status_kb("VmData");
    struct rlimit r = {(rlim_t)(vd * 1024 + 16 * MiB), RLIM_INFINITY};
    printf("%s.vmdata_kB=%ld\n%s.limit=VmData+16MiB\n", L, vd, L);
    printf("%s.setrlimit_ret=%d\n", L, setrlimit(RLIMIT_DATA, &r));
    try_mmap(K("%s.mmap8M_private_rw", L), 8 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    try_mmap(K("%s.mmap64M_private_rw", L), 64 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    try_mmap(K("%s.mmap64M_private_ro", L), 64 * MiB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    try_mmap(K("%s.mmap64M_shared_rw", L), 64 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    try_mmap(K("%s.mmap64M_private_rw_noreserve", L), 64 * MiB, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    try_brk(K("%s.brk8M", L), 8 * MiB);
    try_brk(K("%s.brk64M", L), 64 * MiB);
    /* mprotect a read-only private mapping to writable beyond the limit */
    void *p = mmap(NULL, 64 * MiB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int rr = mprotect(p, 64 * MiB, PROT_READ | PROT_WRITE);
    int e = errno;
    printf("%s.mprotect64M_ro_to_rw.ret=%d\n%s.mprotect64M_ro_to_rw.errno=%s\n", L, rr, L, rr ? strerrorname_np(e) : "0");
    munmap(p, 64 * MiB);
}

static void try_mlock(const char *key, char *p, size_t len)
{
    struct flt a = flt_now();
    int r = mlock(p, len);
    int e = errno;
    struct flt b = flt_now();
    printf("%s.ret=%d\n%s.errno=%s\n", key, r, key, r ? strerrorname_np(e) : "0");
    out_flt(key, flt_sub(b, a));
}

static void memlock_tests(const char *who)
{
    struct rlimit r;
    getrlimit(RLIMIT_MEMLOCK, &r);
    printf("%s.%s.uid=%d\n%s.%s.rlimit_memlock_kB=%lu\n", L, who, (int)getuid(), L, who,
           (unsigned long)r.rlim_cur / 1024);
    char *p = mmap(NULL, 32 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    exp_add(p, 32 * MiB);
    madvise(p, 32 * MiB, MADV_NOHUGEPAGE);
    try_mlock(K("%s.%s.mlock4M", L, who), p, 4 * MiB);
    printf("%s.%s.after_mlock4M.VmLck_kB=%ld\n", L, who, status_kb("VmLck"));
    try_mlock(K("%s.%s.mlock_next6M", L, who), p + 4 * MiB, 6 * MiB);
    try_mlock(K("%s.%s.mlock16M", L, who), p + 16 * MiB, 16 * MiB);
    printf("%s.%s.VmLck_kB=%ld\n", L, who, status_kb("VmLck"));
    munlock(p, 32 * MiB);
    struct rlimit z = {0, r.rlim_max};
    if (setrlimit(RLIMIT_MEMLOCK, &z) == 0)
        try_mlock(K("%s.%s.limit0_mlock4K", L, who), p, PG);
    munmap(p, 32 * MiB);
}

static void rlimit_memlock(void)
{
    memlock_tests("root");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        prefault_self(0);
        struct rlimit r = {8 * MiB, 8 * MiB};
        setrlimit(RLIMIT_MEMLOCK, &r);
        if (setgid(65534) || setuid(65534)) {
            printf("%s.nobody.setuid_failed=1\n", L);
            fflush(stdout);
            _exit(1);
        }
        prefault_self(0);
        memlock_tests("nobody");
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
}

/* ---------------- rusage children ---------------- */

static void rusage_children(int argc, char **argv)
{
    size_t N = argc > 3 ? (size_t)atol(argv[3]) : 1000;
    struct rusage c0, c1, c2;
    getrusage(RUSAGE_CHILDREN, &c0);
    int pfd[2];
    if (pipe(pfd))
        die("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        struct rusage s0, s1;
        getrusage(RUSAGE_SELF, &s0);
        char *m = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        madvise(m, N * PG, MADV_NOHUGEPAGE);
        for (size_t i = 0; i < N; i++)
            m[i * PG] = 1;
        getrusage(RUSAGE_SELF, &s1);
        long v[3] = {s1.ru_minflt - s0.ru_minflt, s1.ru_minflt, s1.ru_majflt};
        if (write(pfd[1], v, sizeof v) != sizeof v)
            _exit(3);
        _exit(0);
    }
    close(pfd[1]);
    long v[3] = {0, 0, 0};
    if (read(pfd[0], v, sizeof v) != sizeof v)
        die("pipe");
    /* wait until the child is a zombie, without reaping it */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
    getrusage(RUSAGE_CHILDREN, &c1);
    int st;
    waitpid(pid, &st, 0);
    getrusage(RUSAGE_CHILDREN, &c2);
    printf("%s.npages=%zu\n", L, N);
    printf("%s.child.touch_minflt=%ld\n", L, v[0]);
    printf("%s.child.self_total_minflt=%ld\n%s.child.self_total_majflt=%ld\n", L, v[1], L, v[2]);
    printf("%s.children_before_wait.minflt=%ld\n%s.children_before_wait.majflt=%ld\n", L, c1.ru_minflt - c0.ru_minflt,
           L, c1.ru_majflt - c0.ru_majflt);
    printf("%s.children_after_wait.minflt=%ld\n%s.children_after_wait.majflt=%ld\n", L, c2.ru_minflt - c0.ru_minflt, L,
           c2.ru_majflt - c0.ru_majflt);
    printf("%s.children_after_wait_minus_child_self=%ld\n", L, (c2.ru_minflt - c0.ru_minflt) - v[1]);
    /* grandchild: child forks a grandchild that touches N pages; waited / not waited by the child */
    for (int waited = 0; waited < 2; waited++) {
        getrusage(RUSAGE_CHILDREN, &c0);
        if (pipe(pfd))
            die("pipe");
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            pid_t g = fork();
            if (g == 0) {
                char *m = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                for (size_t i = 0; i < N; i++)
                    m[i * PG] = 1;
                _exit(0);
            }
            if (waited)
                waitpid(g, NULL, 0);
            else
                waitid(P_PID, (id_t)g, &si, WEXITED | WNOWAIT);
            struct rusage s1;
            getrusage(RUSAGE_SELF, &s1);
            long w[1] = {s1.ru_minflt};
            if (write(pfd[1], w, sizeof w) != sizeof w)
                _exit(3);
            _exit(0);
        }
        close(pfd[1]);
        long w[1] = {0};
        if (read(pfd[0], w, sizeof w) != sizeof w)
            die("pipe");
        close(pfd[0]);
        waitpid(pid, &st, 0);
        getrusage(RUSAGE_CHILDREN, &c2);
        const char *k = waited ? "grandchild_waited" : "grandchild_not_waited";
        printf("%s.%s.children_minflt_minus_child_self=%ld\n", L, k, (c2.ru_minflt - c0.ru_minflt) - w[0]);
        printf("%s.%s.includes_grandchild_pages=%d\n", L, k, (c2.ru_minflt - c0.ru_minflt) - w[0] >= (long)N);
    }
}

/* ---------------- signals ---------------- */

static const char *code_name(int sig, int code)
{
    if (sig == SIGSEGV)
        return code == SEGV_MAPERR ? "SEGV_MAPERR" : code == SEGV_ACCERR ? "SEGV_ACCERR" : code == SEGV_PKUERR ? "SEGV_PKUERR" : "other";
    if (sig == SIGBUS)
        return code == BUS_ADRERR ? "BUS_ADRERR" : code == BUS_ADRALN ? "BUS_ADRALN" : code == BUS_OBJERR ? "BUS_OBJERR" : "other";
    return "none";
}

static void sig_try(const char *name, volatile char *addr, int write_access, int times)
{
    long faults_min = 0, faults_maj = 0;
    int n_sig = 0, addr_ok = 1;
    int sig = 0, code = 0;
    for (int t = 0; t < times; t++) {
        got_sig = 0;
        struct flt a = flt_now();
        if (sigsetjmp(jb, 1) == 0) {
            if (write_access)
                *addr = 1;
            else
                (void)*addr;
        }
        struct flt b = flt_now();
        faults_min += b.min - a.min;
        faults_maj += b.maj - a.maj;
        if (got_sig) {
            n_sig++;
            sig = got_sig;
            code = got_code;
            if (got_addr != (void *)addr)
                addr_ok = 0;
        }
    }
    printf("%s.%s.attempts=%d\n%s.%s.signals=%d\n", L, name, times, L, name, n_sig);
    printf("%s.%s.signal=%s\n", L, name, sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : "none");
    printf("%s.%s.si_code=%s\n", L, name, code_name(sig, code));
    printf("%s.%s.si_addr_is_access_addr=%d\n", L, name, addr_ok);
    printf("%s.%s.minflt=%ld\n%s.%s.majflt=%ld\n", L, name, faults_min, L, name, faults_maj);
}

static void signals_case(int argc, char **argv)
{
    const char *dir = argc > 3 ? argv[3] : "/tmp";
    install(SIGSEGV, 0);
    install(SIGBUS, 0);
    /* warm the signal path once so its own first-time costs are outside */
    char *u = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(u, PG);
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0)
        (void)*(volatile char *)u;
    sig_try("unmapped_read", u, 0, 5);
    sig_try("unmapped_write", u, 1, 5);
    char *ro = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    exp_add(ro, 2 * PG);
    sig_try("readonly_anon_untouched_write", ro, 1, 5);
    (void)*(volatile char *)(ro + PG); /* maps the zero page read-only */
    sig_try("readonly_anon_present_write", ro + PG, 1, 5);
    char *pn = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    exp_add(pn, PG);
    sig_try("prot_none_read", pn, 0, 5);
    /* file: 100 bytes long, mapped 3 pages */
    char path[512];
    snprintf(path, sizeof path, "%s/kt-ops-sig-%d", dir, getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (write(fd, "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
              100) != 100)
        die("write");
    fsync(fd);
    char *fm = mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0);
    exp_add(fm, 3 * PG);
    sig_try("file_ro_write", fm, 1, 5);
    struct flt a = flt_now();
    volatile char c0 = fm[200]; /* beyond EOF but inside the last page: zero-filled tail */
    struct flt b = flt_now();
    printf("%s.file_tail_of_last_page.value=%d\n", L, (int)c0);
    out_flt(K("%s.file_tail_of_last_page", L), flt_sub(b, a));
    sig_try("file_beyond_eof_read", fm + PG, 0, 5);
    sig_try("file_beyond_eof_read_page2", fm + 2 * PG, 0, 5);
    char *fw = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    exp_add(fw, 3 * PG);
    sig_try("file_beyond_eof_write", fw + PG, 1, 5);
    char *fp = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    exp_add(fp, 3 * PG);
    sig_try("file_private_beyond_eof_write", fp + PG, 1, 5);
    close(fd);
    unlink(path);
}

/* ---------------- cow + pagemap ---------------- */

static void cow_case(int argc, char **argv)
{
    const char *mode = argc > 3 ? argv[3] : "childwrite";
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    exp_add(p, PG);
    p[0] = 1;
    uint64_t e0 = pagemap(p);
    uint64_t pfn0 = e0 & PM_PFN_MASK;
    printf("%s.mode=%s\n", L, mode);
    printf("%s.before_fork.exclusive=%d\n%s.before_fork.soft_dirty=%d\n", L, !!(e0 & PM_EXCLUSIVE), L,
           !!(e0 & PM_SOFT_DIRTY));
    printf("%s.before_fork.kpagecount=%" PRIu64 "\n", L, kpcount(pfn0));
    int p2c[2], c2p[2];
    if (pipe(p2c) || pipe(c2p))
        die("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        reopen_pagemap();
        prefault_self(0);
        char ch;
        uint64_t e = pagemap(p);
        printf("%s.child_after_fork.exclusive=%d\n", L, !!(e & PM_EXCLUSIVE));
        printf("%s.child_after_fork.pfn_eq_parent=%d\n", L, (e & PM_PFN_MASK) == pfn0);
        printf("%s.child_after_fork.kpagecount=%" PRIu64 "\n", L, kpcount(e & PM_PFN_MASK));
        if (!strcmp(mode, "childwrite")) {
            struct flt a = flt_now();
            p[0] = 2;
            struct flt b = flt_now();
            out_flt(K("%s.child_write", L), flt_sub(b, a));
            e = pagemap(p);
            printf("%s.child_after_write.exclusive=%d\n", L, !!(e & PM_EXCLUSIVE));
            printf("%s.child_after_write.pfn_eq_parent=%d\n", L, (e & PM_PFN_MASK) == pfn0);
        }
        fflush(stdout);
        if (write(c2p[1], "r", 1) != 1 || read(p2c[0], &ch, 1) != 1)
            _exit(2);
        /* parentfirst: parent wrote while we were alive; do we still see the old frame? */
        e = pagemap(p);
        printf("%s.child_after_parent_write.pfn_eq_original=%d\n", L, (e & PM_PFN_MASK) == pfn0);
        printf("%s.child_after_parent_write.exclusive=%d\n", L, !!(e & PM_EXCLUSIVE));
        printf("%s.child_after_parent_write.value=%d\n", L, (int)p[0]);
        fflush(stdout);
        _exit(0);
    }
    char ch;
    if (read(c2p[0], &ch, 1) != 1)
        die("pipe");
    prefault_self(0);
    uint64_t e = pagemap(p);
    printf("%s.parent_child_alive.exclusive=%d\n", L, !!(e & PM_EXCLUSIVE));
    printf("%s.parent_child_alive.kpagecount=%" PRIu64 "\n", L, kpcount(e & PM_PFN_MASK));
    if (!strcmp(mode, "parentfirst")) {
        struct flt a = flt_now();
        p[0] = 3;
        struct flt b = flt_now();
        out_flt(K("%s.parent_write_child_alive", L), flt_sub(b, a));
        e = pagemap(p);
        printf("%s.parent_after_write_child_alive.pfn_eq_original=%d\n", L, (e & PM_PFN_MASK) == pfn0);
        printf("%s.parent_after_write_child_alive.exclusive=%d\n", L, !!(e & PM_EXCLUSIVE));
    }
    fflush(stdout);
    if (write(p2c[1], "g", 1) != 1)
        die("pipe");
    int st;
    waitpid(pid, &st, 0);
    prefault_self(0);
    e = pagemap(p);
    printf("%s.parent_after_exit.exclusive=%d\n", L, !!(e & PM_EXCLUSIVE));
    printf("%s.parent_after_exit.pfn_eq_original=%d\n", L, (e & PM_PFN_MASK) == pfn0);
    printf("%s.parent_after_exit.kpagecount=%" PRIu64 "\n", L, kpcount(e & PM_PFN_MASK));
    uint64_t before_write = e & PM_PFN_MASK;
    struct flt a = flt_now();
    p[0] = 4;
    struct flt b = flt_now();
    out_flt(K("%s.parent_write_after_exit", L), flt_sub(b, a));
    e = pagemap(p);
    printf("%s.parent_after_write.exclusive=%d\n", L, !!(e & PM_EXCLUSIVE));
    printf("%s.parent_after_write.pfn_eq_original=%d\n", L, (e & PM_PFN_MASK) == pfn0);
    printf("%s.parent_after_write.pfn_eq_before_write=%d\n", L, (e & PM_PFN_MASK) == before_write);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ops LABEL populate|stack|rlimit_as|rlimit_data|rlimit_memlock|rusage_children|signals|cow ...\n");
        return 2;
    }
    L = argv[1];
    prefault_self(1);
    open_pagemap();
    calib(L);
    const char *c = argv[2];
    if (!strcmp(c, "populate"))
        populate(argc, argv);
    else if (!strcmp(c, "stack"))
        stack_case(argc, argv);
    else if (!strcmp(c, "rlimit_as"))
        rlimit_as();
    else if (!strcmp(c, "rlimit_data"))
        rlimit_data();
    else if (!strcmp(c, "rlimit_memlock"))
        rlimit_memlock();
    else if (!strcmp(c, "rusage_children"))
        rusage_children(argc, argv);
    else if (!strcmp(c, "signals"))
        signals_case(argc, argv);
    else if (!strcmp(c, "cow"))
        cow_case(argc, argv);
    else
        die("case");
    fflush(stdout);
    return 0;
}
