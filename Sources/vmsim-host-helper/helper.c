/* vmsim-host-helper: one process of a scenario, run for real on the host kernel.
 *
 * `vmsim run FILE --on-host` starts one helper per `spawn` line (and the helpers fork themselves
 * for `fork` lines). A helper reads one command per line from DIR/NAME.cmd (a FIFO), performs it
 * with the real system call or the real loads and stores, and answers one line on DIR/NAME.res:
 *
 *     ok min=MINOR maj=MAJOR inb=BLOCKS_IN [key=value …]
 *     err ERRNO message
 *     sig signo=N code=SI_CODE addr=0x… min=… maj=…   (then the helper dies of that signal)
 *
 * After `catch SIGNO 1` (a scenario's `on segv|sigbus continue`) that signal, raised by an
 * `access`, is caught instead: the handler siglongjmps out of the access loop, as a program's
 * handler would, and the answer is `ok … caught=1 signo=N code=SI_CODE addr=ADDRESS`.
 *
 * MINOR/MAJOR are getrusage(RUSAGE_SELF) deltas taken immediately around the operation, so the
 * helper's own work (parsing, answering) is outside them. The helper is linked statically (no
 * dynamic loader, no lazy binding), never calls malloc, runs its command loop on a stack of its
 * own (so the real `[stack]` VMA holds only what execve put there, as the simulated one does),
 * and after every fork writes every page it uses itself — its static buffers, that stack, the
 * signal stack — in both processes, so the copy-on-write faults fork causes for the helper's own
 * memory happen before, not inside, a measured operation.
 *
 * The helper exits when its command FIFO reaches end of file (the driver went away) and when the
 * driver's process group is killed. It touches no file outside DIR except /proc/self/{maps,smaps,
 * pagemap,status} and /proc/kpageflags. Run with `--cachestat PATH` it prints the page cache
 * state of one file (cachestat(2), Linux 6.5) and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#define MADV_PAGEOUT 21
#endif
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

#define PG 4096UL
#define IO_BUF (1UL << 20)
#define LOOP_STACK (256UL << 10)

static char g_dir[512];
static int g_cmd = -1, g_res = -1;
static char g_line[8192];
static size_t g_have, g_line_len;
static char g_out[8192];
static char g_io[IO_BUF] __attribute__((aligned(4096)));
static char g_loop_stack[LOOP_STACK] __attribute__((aligned(4096)));
static char g_sig_stack[64 << 10] __attribute__((aligned(4096)));
static ucontext_t g_main_ctx, g_loop_ctx;
static struct rusage g_before;
/* `catch SIGNO 1`: signals an access survives (siglongjmp to g_access_jb while g_armed). */
static volatile sig_atomic_t g_catch[32], g_armed;
static volatile uint64_t g_caught_signo, g_caught_code, g_caught_addr;
static sigjmp_buf g_access_jb;
static int g_kpf = -1, g_pagemap = -1;


struct openfile {
    char path[512];
    int fd;
};
static struct openfile g_files[64];

/* ---- output without stdio (the signal handler uses it too) ---- */

static size_t put_str(char *b, size_t n, const char *s)
{
    while (*s) b[n++] = *s++;
    return n;
}

static size_t put_u64(char *b, size_t n, uint64_t v)
{
    char t[24];
    int i = 0;
    do {
        t[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i) b[n++] = t[--i];
    return n;
}

static size_t put_kv(char *b, size_t n, const char *k, uint64_t v)
{
    b[n++] = ' ';
    n = put_str(b, n, k);
    b[n++] = '=';
    return put_u64(b, n, v);
}

static void send_line(char *b, size_t n)
{
    b[n++] = '\n';
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(g_res, b + off, n - off);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) continue;
            _exit(111);
        }
        off += (size_t)w;
    }
}

/* ---- measurement ---- */

static inline void measure_begin(void) { getrusage(RUSAGE_SELF, &g_before); }

static size_t measured(char *b, size_t n)
{
    struct rusage after;
    getrusage(RUSAGE_SELF, &after);
    n = put_kv(b, n, "min", (uint64_t)(after.ru_minflt - g_before.ru_minflt));
    n = put_kv(b, n, "maj", (uint64_t)(after.ru_majflt - g_before.ru_majflt));
    n = put_kv(b, n, "inb", (uint64_t)(after.ru_inblock - g_before.ru_inblock));
    return n;
}

static void reply_ok_extra(const char *k1, uint64_t v1)
{
    size_t n = put_str(g_out, 0, "ok");
    n = measured(g_out, n);
    if (k1) n = put_kv(g_out, n, k1, v1);
    send_line(g_out, n);
}

static void reply_err(int e, const char *what)
{
    size_t n = put_str(g_out, 0, "err ");
    n = put_u64(g_out, n, (uint64_t)e);
    g_out[n++] = ' ';
    n = put_str(g_out, n, what);
    n = put_str(g_out, n, ": ");
    n = put_str(g_out, n, strerror(e));
    send_line(g_out, n);
}

/* A SIGSEGV or SIGBUS during an operation: report it (with the faults counted up to it), then
 * die of the signal for real, so the parent's wait status says so. */
static void on_fatal(int signo, siginfo_t *info, void *uc)
{
    (void)uc;
    if (g_armed && signo > 0 && signo < 32 && g_catch[signo]) {
        g_armed = 0;
        g_caught_signo = (uint64_t)signo;
        g_caught_code = (uint64_t)(int64_t)info->si_code;
        g_caught_addr = (uint64_t)(uintptr_t)info->si_addr;
        siglongjmp(g_access_jb, 1);
    }
    char b[256];
    size_t n = put_str(b, 0, "sig");
    n = put_kv(b, n, "signo", (uint64_t)signo);
    n = put_kv(b, n, "code", (uint64_t)(int64_t)info->si_code);
    n = put_kv(b, n, "addr", (uint64_t)(uintptr_t)info->si_addr);
    struct rusage after;
    getrusage(RUSAGE_SELF, &after);
    n = put_kv(b, n, "min", (uint64_t)(after.ru_minflt - g_before.ru_minflt));
    n = put_kv(b, n, "maj", (uint64_t)(after.ru_majflt - g_before.ru_majflt));
    n = put_kv(b, n, "inb", 0);
    send_line(b, n);
    signal(signo, SIG_DFL);
    raise(signo);
    _exit(128 + signo);
}

/* Reads every page of an object's readable PT_LOAD segments (dl_iterate_phdr callback). */
static int read_segments(struct dl_phdr_info *info, size_t size, void *unused)
{
    (void)size;
    (void)unused;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R)) continue;
        uintptr_t a = (uintptr_t)(info->dlpi_addr + ph->p_vaddr) & ~(PG - 1);
        uintptr_t end = (uintptr_t)(info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
        for (; a < end; a += PG) (void)*(volatile char *)a;
    }
    return 0;
}

/* Writes every page the helper itself uses, so that none of them faults inside a measurement
 * (after fork they are all write-protected, in both processes). */
static void prefault_self(void)
{
    volatile char *p;
    for (p = g_io; p < g_io + IO_BUF; p += PG) *p = *p;
    for (p = g_loop_stack; p < g_loop_stack + LOOP_STACK; p += PG) *p = *p;
    for (p = g_sig_stack; p < g_sig_stack + sizeof g_sig_stack; p += PG) *p = *p;
    for (p = g_line; p < g_line + sizeof g_line; p += PG) *p = *p;
    for (p = g_out; p < g_out + sizeof g_out; p += PG) *p = *p;
    /* The loaded objects' text and read-only data too: after fork the child's private file
     * mappings start without PTEs, and the signal handler's, siglongjmp's and the C library's
     * pages must not fault inside a caught access. */
    dl_iterate_phdr(read_segments, NULL);
    extern char __data_start[], _end[];
    for (p = (char *)((uintptr_t)__data_start & ~(PG - 1)); p < _end; p += PG) *p = *p;
}

/* ---- commands ---- */

static char *g_tok;
static char *next_word(void)
{
    while (*g_tok == ' ') g_tok++;
    if (!*g_tok) return NULL;
    char *w = g_tok;
    while (*g_tok && *g_tok != ' ') g_tok++;
    if (*g_tok) *g_tok++ = 0;
    return w;
}
static uint64_t next_u64(void)
{
    char *w = next_word();
    return w ? strtoull(w, NULL, 0) : 0;
}
static int64_t next_i64(void)
{
    char *w = next_word();
    return w ? strtoll(w, NULL, 0) : 0;
}

static int prot_of(const char *s)
{
    int p = 0;
    for (; *s; s++) {
        if (*s == 'r') p |= PROT_READ;
        if (*s == 'w') p |= PROT_WRITE;
        if (*s == 'x') p |= PROT_EXEC;
    }
    return p;
}

static int open_scenario_file(const char *path, int flags)
{
    for (int i = 0; i < 64; i++)
        if (g_files[i].fd > 0 && strcmp(g_files[i].path, path) == 0) return g_files[i].fd;
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    for (int i = 0; i < 64; i++)
        if (g_files[i].fd <= 0) {
            strncpy(g_files[i].path, path, sizeof g_files[i].path - 1);
            g_files[i].fd = fd;
            break;
        }
    return fd;
}

static void close_scenario_file(const char *path)
{
    for (int i = 0; i < 64; i++)
        if (g_files[i].fd > 0 && strcmp(g_files[i].path, path) == 0) {
            close(g_files[i].fd);
            g_files[i].fd = 0;
        }
}

static int advice_of(const char *s)
{
    static const struct {
        const char *name;
        int value;
    } t[] = {{"normal", MADV_NORMAL},       {"random", MADV_RANDOM},     {"sequential", MADV_SEQUENTIAL},
             {"willneed", MADV_WILLNEED},   {"dontneed", MADV_DONTNEED}, {"free", MADV_FREE},
             {"remove", MADV_REMOVE},       {"dontfork", MADV_DONTFORK}, {"dofork", MADV_DOFORK},
             {"cold", MADV_COLD},           {"pageout", MADV_PAGEOUT},   {"populate_read", MADV_POPULATE_READ},
             {"populate_write", MADV_POPULATE_WRITE}, {"mergeable", MADV_MERGEABLE},
             {"unmergeable", MADV_UNMERGEABLE}, {"wipeonfork", MADV_WIPEONFORK},
             {"keeponfork", MADV_KEEPONFORK}, {"dontdump", MADV_DONTDUMP}, {"dodump", MADV_DODUMP},
             {"hugepage", MADV_HUGEPAGE},   {"nohugepage", MADV_NOHUGEPAGE}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].name, s) == 0) return t[i].value;
    return -1;
}

static int fadvice_of(const char *s)
{
    if (!strcmp(s, "normal")) return POSIX_FADV_NORMAL;
    if (!strcmp(s, "random")) return POSIX_FADV_RANDOM;
    if (!strcmp(s, "sequential")) return POSIX_FADV_SEQUENTIAL;
    if (!strcmp(s, "willneed")) return POSIX_FADV_WILLNEED;
    if (!strcmp(s, "dontneed")) return POSIX_FADV_DONTNEED;
    if (!strcmp(s, "noreuse")) return POSIX_FADV_NOREUSE;
    return -1;
}

/* pagemap facts over [start, last]: present, zero page, exclusive, file, swapped, THP pages, and
 * an FNV-1a hash of the present PFNs (equal hashes: the same frames). */
static void cmd_pagemap(uint64_t start, uint64_t last)
{
    uint64_t present = 0, zero = 0, excl = 0, file = 0, swapped = 0, thp = 0, hash = 1469598103934665603ULL;
    if (g_pagemap < 0) g_pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (g_kpf < 0) g_kpf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    if (g_pagemap < 0) {
        reply_err(errno, "open /proc/self/pagemap");
        return;
    }
    for (uint64_t va = start & ~(PG - 1); va <= last; va += PG) {
        uint64_t e = 0;
        if (pread(g_pagemap, &e, 8, (off_t)(va / PG * 8)) != 8) break;
        if (e & (1ULL << 62)) swapped++;
        if (!(e & (1ULL << 63))) {
            if (va + PG < va) break;
            continue;
        }
        present++;
        if (e & (1ULL << 56)) excl++;
        if (e & (1ULL << 61)) file++;
        uint64_t pfn = e & ((1ULL << 55) - 1);
        for (int i = 0; i < 8; i++) hash = (hash ^ ((pfn >> (8 * i)) & 0xff)) * 1099511628211ULL;
        uint64_t f = 0;
        if (pfn && g_kpf >= 0 && pread(g_kpf, &f, 8, (off_t)(pfn * 8)) == 8) {
            if (f & (1ULL << 24)) zero++;
            if (f & (1ULL << 22)) thp++;
        }
        if (va + PG < va) break;
    }
    size_t n = put_str(g_out, 0, "ok min=0 maj=0 inb=0");
    n = put_kv(g_out, n, "present", present);
    n = put_kv(g_out, n, "zero", zero);
    n = put_kv(g_out, n, "exclusive", excl);
    n = put_kv(g_out, n, "file", file);
    n = put_kv(g_out, n, "swapped", swapped);
    n = put_kv(g_out, n, "thp", thp);
    n = put_kv(g_out, n, "pfnhash", hash);
    n = put_kv(g_out, n, "pfnsvisible", g_kpf >= 0);
    send_line(g_out, n);
}

/* One access per stride from start to last (inclusive): 'r' loads a word, 'w' stores VALUE (or
 * (pid << 32) | page number, as the simulation does), 'x' calls the address. */
static void cmd_access(char kind, uint64_t start, uint64_t last, uint64_t stride, int has_value,
                       uint64_t value)
{
    uint64_t pid = (uint64_t)getpid();
    uint64_t sum = 0;
    measure_begin();
    if (sigsetjmp(g_access_jb, 1) != 0) {
        /* A caught signal: the handler left the loop, the rest of the range is not touched. */
        size_t n = put_str(g_out, 0, "ok");
        n = measured(g_out, n);
        n = put_kv(g_out, n, "caught", 1);
        n = put_kv(g_out, n, "signo", g_caught_signo);
        n = put_kv(g_out, n, "code", g_caught_code);
        n = put_kv(g_out, n, "addr", g_caught_addr);
        send_line(g_out, n);
        return;
    }
    g_armed = 1;
    for (uint64_t a = start;;) {
        uint64_t word = has_value ? value : ((pid << 32) | (a >> 12));
        if (kind == 'w') {
            if ((a & (PG - 1)) <= PG - 8) {
                *(volatile uint64_t *)(uintptr_t)a = word;
            } else {
                *(volatile uint8_t *)(uintptr_t)a = (uint8_t)word;
            }
        } else if (kind == 'x') {
            ((void (*)(void))(uintptr_t)a)();
        } else {
            sum += *(volatile uint8_t *)(uintptr_t)a;
        }
        if (a + stride < a || a + stride > last) break;
        a += stride;
    }
    g_armed = 0;
    (void)sum;
    reply_ok_extra(NULL, 0);
}

static int holds(const char *op, uint64_t a, uint64_t b)
{
    if (!strcmp(op, "==")) return a == b;
    if (!strcmp(op, "!=")) return a != b;
    if (!strcmp(op, "<=")) return a <= b;
    if (!strcmp(op, ">=")) return a >= b;
    if (!strcmp(op, "<")) return a < b;
    return a > b;
}

/* `expect REF OP VALUE`: one word per page, as the simulation reads it. */
static void cmd_check(uint64_t start, uint64_t last, const char *op, uint64_t value)
{
    uint64_t bad = 0, seen = 0;
    int failed = 0;
    measure_begin();
    for (uint64_t a = start;;) {
        uint64_t v;
        if ((a & (PG - 1)) <= PG - 8)
            v = *(volatile uint64_t *)(uintptr_t)a;
        else
            v = *(volatile uint8_t *)(uintptr_t)a;
        if (!holds(op, v, value)) {
            failed = 1;
            bad = a;
            seen = v;
            break;
        }
        uint64_t next = (a & ~(PG - 1)) + PG;
        if (next < a || next > last) break;
        a = next;
    }
    size_t n = put_str(g_out, 0, "ok");
    n = measured(g_out, n);
    n = put_kv(g_out, n, "held", !failed);
    if (failed) {
        n = put_kv(g_out, n, "at", bad);
        n = put_kv(g_out, n, "value", seen);
    }
    send_line(g_out, n);
}

static void cmd_fread(const char *path, uint64_t start, uint64_t end)
{
    int fd = open_scenario_file(path, O_RDONLY);
    if (fd < 0) {
        reply_err(errno, path);
        return;
    }
    struct stat st;
    fstat(fd, &st);
    if (end == UINT64_MAX || end > (uint64_t)st.st_size) end = (uint64_t)st.st_size;
    measure_begin();
    for (uint64_t off = start; off < end;) {
        size_t len = end - off > IO_BUF ? IO_BUF : (size_t)(end - off);
        ssize_t r = pread(fd, g_io, len, (off_t)off);
        if (r <= 0) break;
        off += (uint64_t)r;
    }
    reply_ok_extra("size", (uint64_t)st.st_size);
}

static void cmd_fwrite(const char *path, uint64_t start, uint64_t end, uint64_t value)
{
    int fd = open_scenario_file(path, O_RDWR | O_CREAT);
    if (fd < 0) {
        reply_err(errno, path);
        return;
    }
    for (size_t i = 0; i + 8 <= IO_BUF; i += 8) memcpy(g_io + i, &value, 8);
    measure_begin();
    for (uint64_t off = start; off < end;) {
        size_t len = end - off > IO_BUF ? IO_BUF : (size_t)(end - off);
        ssize_t w = pwrite(fd, g_io, len, (off_t)off);
        if (w <= 0) break;
        off += (uint64_t)w;
    }
    reply_ok_extra(NULL, 0);
}

/* The page cache state of a file: cachestat(2), Linux 6.5. */
struct cachestat_range {
    uint64_t off, len;
};
struct cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

static int cachestat_line(const char *path, char *b, size_t *np)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct cachestat_range r = {0, 0};
    struct cachestat cs;
    memset(&cs, 0, sizeof cs);
    long rc = syscall(SYS_cachestat, fd, &r, &cs, 0);
    int e = errno;
    struct stat st;
    fstat(fd, &st);
    close(fd);
    if (rc != 0) {
        errno = e;
        return -1;
    }
    size_t n = *np;
    n = put_kv(b, n, "cached", cs.nr_cache);
    n = put_kv(b, n, "dirty", cs.nr_dirty);
    n = put_kv(b, n, "writeback", cs.nr_writeback);
    n = put_kv(b, n, "size", (uint64_t)st.st_size);
    *np = n;
    return 0;
}

static void cmd_shm(uint64_t shmid, uint64_t key_private, uint64_t size, int create)
{
    (void)key_private;
    int id = (int)shmid;
    if (create) {
        id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
        if (id < 0) {
            reply_err(errno, "shmget");
            return;
        }
    }
    measure_begin();
    void *a = shmat(id, NULL, 0);
    if (a == (void *)-1) {
        reply_err(errno, "shmat");
        return;
    }
    size_t n = put_str(g_out, 0, "ok");
    n = measured(g_out, n);
    n = put_kv(g_out, n, "addr", (uint64_t)(uintptr_t)a);
    n = put_kv(g_out, n, "shmid", (uint64_t)id);
    send_line(g_out, n);
}

static void open_fifos(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.cmd", g_dir, name);
    g_cmd = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "%s/%s.res", g_dir, name);
    g_res = open(path, O_WRONLY | O_CLOEXEC);
    if (g_cmd < 0 || g_res < 0) _exit(112);
}

/* One command line, or 0 at end of file. */
static int read_line(void)
{
    for (;;) {
        char *nl = memchr(g_line, '\n', g_have);
        if (nl) {
            *nl = 0;
            g_line_len = (size_t)(nl - g_line) + 1;
            return 1;
        }
        if (g_have >= sizeof g_line - 1) _exit(113);
        ssize_t r = read(g_cmd, g_line + g_have, sizeof g_line - 1 - g_have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        g_have += (size_t)r;
    }
}

static void consume_line(void)
{
    size_t len = g_line_len;
    memmove(g_line, g_line + len, g_have - len);
    g_have -= len;
}

static void hello(void)
{
    uint64_t stack_end = 0, stack_start = 0;
    FILE *f = fopen("/proc/self/maps", "re");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "[stack]")) {
            unsigned long a, b;
            if (sscanf(line, "%lx-%lx", &a, &b) == 2) {
                stack_start = a;
                stack_end = b;
            }
        }
    }
    if (f) fclose(f);
    size_t n = put_str(g_out, 0, "ok min=0 maj=0 inb=0");
    n = put_kv(g_out, n, "pid", (uint64_t)getpid());
    n = put_kv(g_out, n, "brk", (uint64_t)(uintptr_t)sbrk(0));
    n = put_kv(g_out, n, "stackstart", stack_start);
    n = put_kv(g_out, n, "stacktop", stack_end);
    send_line(g_out, n);
}

static void loop(void)
{
    hello();
    while (read_line()) {
        g_tok = g_line;
        char *op = next_word();
        if (!op) {
            reply_err(EINVAL, "empty command");
        } else if (!strcmp(op, "mmap")) {
            uint64_t len = next_u64();
            int prot = prot_of(next_word());
            int shared = (int)next_u64();
            char *path = next_word();
            uint64_t off = next_u64();
            uint64_t at = next_u64();
            int populate = (int)next_u64(), locked = (int)next_u64(), noreserve = (int)next_u64();
            int flags = shared ? MAP_SHARED : MAP_PRIVATE;
            int fd = -1;
            if (strcmp(path, "-") == 0) {
                flags |= MAP_ANONYMOUS;
            } else {
                fd = open(path, (shared && (prot & PROT_WRITE)) ? O_RDWR : O_RDONLY);
                if (fd < 0) {
                    reply_err(errno, path);
                    goto next;
                }
            }
            if (at) flags |= MAP_FIXED_NOREPLACE;
            if (populate) flags |= MAP_POPULATE;
            if (locked) flags |= MAP_LOCKED;
            if (noreserve) flags |= MAP_NORESERVE;
            measure_begin();
            void *a = mmap((void *)(uintptr_t)at, len, prot, flags, fd, (off_t)off);
            int e = errno;
            if (fd >= 0) close(fd);
            if (a == MAP_FAILED) {
                reply_err(e, "mmap");
            } else {
                reply_ok_extra("addr", (uint64_t)(uintptr_t)a);
            }
        } else if (!strcmp(op, "munmap") || !strcmp(op, "mprotect") || !strcmp(op, "madvise") ||
                   !strcmp(op, "mlock") || !strcmp(op, "munlock") || !strcmp(op, "msync")) {
            uint64_t a = next_u64(), len = next_u64();
            char *arg = next_word();
            int rc;
            measure_begin();
            if (!strcmp(op, "munmap")) {
                rc = munmap((void *)(uintptr_t)a, len);
            } else if (!strcmp(op, "mprotect")) {
                rc = mprotect((void *)(uintptr_t)a, len, prot_of(arg ? arg : ""));
            } else if (!strcmp(op, "madvise")) {
                int adv = advice_of(arg ? arg : "");
                rc = adv < 0 ? (errno = EINVAL, -1) : madvise((void *)(uintptr_t)a, len, adv);
            } else if (!strcmp(op, "mlock")) {
                rc = mlock((void *)(uintptr_t)a, len);
            } else if (!strcmp(op, "munlock")) {
                rc = munlock((void *)(uintptr_t)a, len);
            } else {
                rc = msync((void *)(uintptr_t)a, len, (arg && !strcmp(arg, "async")) ? MS_ASYNC : MS_SYNC);
            }
            if (rc != 0)
                reply_err(errno, op);
            else
                reply_ok_extra(NULL, 0);
        } else if (!strcmp(op, "brk")) {
            int64_t delta = next_i64();
            measure_begin();
            void *old = sbrk((intptr_t)delta);
            if (old == (void *)-1)
                reply_err(errno, "brk");
            else
                reply_ok_extra("brk", (uint64_t)(uintptr_t)sbrk(0));
        } else if (!strcmp(op, "access")) {
            char *k = next_word();
            uint64_t s = next_u64(), l = next_u64(), st = next_u64();
            int hv = (int)next_u64();
            uint64_t v = next_u64();
            cmd_access(k ? k[0] : 'r', s, l, st ? st : PG, hv, v);
        } else if (!strcmp(op, "check")) {
            uint64_t s = next_u64(), l = next_u64();
            char *cmp = next_word();
            uint64_t v = next_u64();
            cmd_check(s, l, cmp ? cmp : "==", v);
        } else if (!strcmp(op, "catch")) {
            uint64_t signo = next_u64(), on = next_u64();
            measure_begin();
            if (signo > 0 && signo < 32) g_catch[signo] = on != 0;
            reply_ok_extra(NULL, 0);
        } else if (!strcmp(op, "pagemap")) {
            uint64_t s = next_u64(), l = next_u64();
            cmd_pagemap(s, l);
        } else if (!strcmp(op, "fork")) {
            char *name = next_word();
            measure_begin();
            pid_t pid = fork();
            if (pid < 0) {
                reply_err(errno, "fork");
            } else if (pid == 0) {
                close(g_cmd);
                close(g_res);
                g_have = 0;
                g_line_len = 0;
                prefault_self();
                open_fifos(name);
                hello();
            } else {
                struct rusage after;
                getrusage(RUSAGE_SELF, &after);
                long min = after.ru_minflt - g_before.ru_minflt, maj = after.ru_majflt - g_before.ru_majflt;
                prefault_self();
                size_t n = put_str(g_out, 0, "ok");
                n = put_kv(g_out, n, "min", (uint64_t)min);
                n = put_kv(g_out, n, "maj", (uint64_t)maj);
                n = put_kv(g_out, n, "inb", 0);
                n = put_kv(g_out, n, "pid", (uint64_t)pid);
                send_line(g_out, n);
            }
        } else if (!strcmp(op, "exit")) {
            int code = (int)next_u64();
            size_t n = put_str(g_out, 0, "ok min=0 maj=0 inb=0");
            send_line(g_out, n);
            _exit(code);
        } else if (!strcmp(op, "wait")) {
            int64_t pid = next_i64();
            int status = 0;
            measure_begin();
            pid_t got = waitpid(pid > 0 ? (pid_t)pid : -1, &status, 0);
            if (got < 0) {
                reply_err(errno, "wait");
            } else {
                size_t n = put_str(g_out, 0, "ok");
                n = measured(g_out, n);
                n = put_kv(g_out, n, "pid", (uint64_t)got);
                n = put_kv(g_out, n, "status", (uint64_t)status);
                send_line(g_out, n);
            }
        } else if (!strcmp(op, "fread")) {
            char *p = next_word();
            uint64_t s = next_u64(), e = next_u64();
            cmd_fread(p ? p : "", s, e);
        } else if (!strcmp(op, "fwrite")) {
            char *p = next_word();
            uint64_t s = next_u64(), e = next_u64(), v = next_u64();
            cmd_fwrite(p ? p : "", s, e, v);
        } else if (!strcmp(op, "fsync") || !strcmp(op, "close") || !strcmp(op, "fadvise")) {
            char *p = next_word();
            if (!p) p = "";
            if (!strcmp(op, "close")) {
                measure_begin();
                close_scenario_file(p);
                reply_ok_extra(NULL, 0);
                goto next;
            }
            int fd = open_scenario_file(p, O_RDWR);
            if (fd < 0) {
                reply_err(errno, p);
                goto next;
            }
            int rc;
            if (!strcmp(op, "fsync")) {
                measure_begin();
                rc = fsync(fd);
            } else {
                uint64_t s = next_u64(), len = next_u64();
                int adv = fadvice_of(next_word() ?: "");
                measure_begin();
                rc = adv < 0 ? EINVAL : posix_fadvise(fd, (off_t)s, (off_t)len, adv);
                if (rc) errno = rc, rc = -1;
            }
            if (rc)
                reply_err(errno, op);
            else
                reply_ok_extra(NULL, 0);
        } else if (!strcmp(op, "shmget") || !strcmp(op, "shmat")) {
            uint64_t a = next_u64(), size = next_u64();
            cmd_shm(a, 0, size, !strcmp(op, "shmget"));
        } else if (!strcmp(op, "shmdt")) {
            uint64_t a = next_u64();
            measure_begin();
            if (shmdt((void *)(uintptr_t)a) != 0)
                reply_err(errno, "shmdt");
            else
                reply_ok_extra(NULL, 0);
        } else if (!strcmp(op, "cachestat")) {
            char *p = next_word();
            size_t n = put_str(g_out, 0, "ok min=0 maj=0 inb=0");
            if (cachestat_line(p ? p : "", g_out, &n) != 0)
                reply_err(errno, "cachestat");
            else
                send_line(g_out, n);
        } else {
            reply_err(EINVAL, "unknown command");
        }
    next:
        consume_line();
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--cachestat")) {
        char b[512];
        size_t n = put_str(b, 0, "ok");
        if (cachestat_line(argv[2], b, &n) != 0) {
            fprintf(stderr, "cachestat %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        b[n++] = '\n';
        return write(1, b, n) == (ssize_t)n ? 0 : 1;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: vmsim-host-helper DIR NAME (started by vmsim run --on-host)\n"
                        "       vmsim-host-helper --cachestat PATH\n");
        return 2;
    }
    /* Without address space randomisation, so that where mappings land (and so their alignment to
     * fault-around windows) is the same in every run. */
    int persona = personality(0xffffffff);
    if (persona != -1 && !(persona & ADDR_NO_RANDOMIZE) && personality((unsigned long)persona | ADDR_NO_RANDOMIZE) != -1)
        execv("/proc/self/exe", argv);
    strncpy(g_dir, argv[1], sizeof g_dir - 1);
    /* The scenario's heap starts on a page boundary after whatever the C library put there. */
    uintptr_t brk0 = (uintptr_t)sbrk(0);
    if (brk0 & (PG - 1)) sbrk((intptr_t)(PG - (brk0 & (PG - 1))));
    stack_t ss = {.ss_sp = g_sig_stack, .ss_size = sizeof g_sig_stack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    signal(SIGPIPE, SIG_DFL);
    open_fifos(argv[2]);
    prefault_self();
    /* The command loop runs on g_loop_stack: the process's own [stack] stays as execve left it. */
    getcontext(&g_loop_ctx);
    g_loop_ctx.uc_stack.ss_sp = g_loop_stack;
    g_loop_ctx.uc_stack.ss_size = LOOP_STACK;
    g_loop_ctx.uc_link = &g_main_ctx;
    makecontext(&g_loop_ctx, loop, 0);
    swapcontext(&g_main_ctx, &g_loop_ctx);
    return 0;
}
