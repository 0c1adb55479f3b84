/* signals.c - a process that catches SIGSEGV and SIGBUS and siglongjmps past the bad access.
 *
 *   signals LABEL [DIR]      (DIR: where the test file goes, default /tmp)
 *
 * What vmsim's `NAME: on segv|sigbus continue` models (Tests/VMSimTests/SignalTests.swift):
 *
 *   sigcgt      /proc/self/status SigCgt before and after sigaction(SIGSEGV/SIGBUS), and in a
 *               forked child (handlers are inherited)
 *   loop_*      a loop over 4 pages (one access per page, as a scenario `read`/`write` line) whose
 *               third page is bad, inside one sigsetjmp: ru_minflt/ru_majflt of the loop, si_code,
 *               si_addr, and which pages are present afterwards (pagemap bit 63) — the fourth page
 *               is never touched, because siglongjmp leaves the loop
 *   each_*      ru_minflt/ru_majflt around each single bad access (handler and siglongjmp included)
 *   repeat      five bad accesses in a row, then a good write: the process keeps running
 *   fork_child  a forked child catches its own SIGSEGV
 *   dmesg       "segfault at" lines in /dev/kmsg: none for a caught SIGSEGV
 *               (show_signal_msg() returns when !unhandled_signal()), one for an uncaught one
 *               (a child with SIG_DFL)
 *
 * Build and run: gcc -O1 -static -Wall -o /tmp/signals signals.c && /tmp/signals signals /tmp
 * Output: results/signals.txt.
 */
#include "common.h"

static const char *L;
static sigjmp_buf jb;
static volatile sig_atomic_t got_sig, got_code, n_caught;
static void *volatile got_addr;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    n_caught++;
    siglongjmp(jb, 1);
}

static void install(int sig, void (*h)(int, siginfo_t *, void *))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    if (h) {
        sa.sa_sigaction = h;
        sa.sa_flags = SA_SIGINFO;
    } else {
        sa.sa_handler = SIG_DFL;
    }
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0)
        die("sigaction");
}

static const char *sig_name(int sig)
{
    return sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : "none";
}

static const char *code_name(int sig, int code)
{
    if (sig == SIGSEGV)
        return code == SEGV_MAPERR ? "SEGV_MAPERR" : code == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
    if (sig == SIGBUS)
        return code == BUS_ADRERR ? "BUS_ADRERR" : "other";
    return "none";
}

static void sigcgt(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    if (!f)
        die("status");
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "SigCgt:", 7))
            printf("%s=%s", key, line + 8);
    fclose(f);
}

/* One access per page over `pages` pages from `base`, the way a scenario line runs. */
static void loop(const char *name, char *base, int pages, int write_access)
{
    got_sig = 0;
    volatile int reached = -1;
    struct flt a = flt_now();
    if (sigsetjmp(jb, 1) == 0) {
        for (int i = 0; i < pages; i++) {
            reached = i;
            if (write_access)
                *(volatile char *)(base + (size_t)i * PG) = 1;
            else
                (void)*(volatile char *)(base + (size_t)i * PG);
        }
    }
    struct flt b = flt_now();
    out_flt(K("%s.%s", L, name), flt_sub(b, a));
    printf("%s.%s.signal=%s\n", L, name, sig_name(got_sig));
    printf("%s.%s.si_code=%s\n", L, name, code_name(got_sig, got_code));
    printf("%s.%s.si_addr_page=%ld\n", L, name,
           got_sig ? (long)(((char *)got_addr - base) / (long)PG) : -1L);
    printf("%s.%s.last_page_reached=%d\n", L, name, reached);
    for (int i = 0; i < pages; i++)
        printf("%s.%s.page%d.present=%d\n", L, name, i, !!(pagemap(base + (size_t)i * PG) & PM_PRESENT));
}

/* One bad access alone: faults counted around it (the signal delivery, the handler and
 * siglongjmp included). */
static void each(const char *name, char *addr, int write_access)
{
    got_sig = 0;
    struct flt a = flt_now();
    if (sigsetjmp(jb, 1) == 0) {
        if (write_access)
            *(volatile char *)addr = 1;
        else
            (void)*(volatile char *)addr;
    }
    struct flt b = flt_now();
    out_flt(K("%s.%s", L, name), flt_sub(b, a));
    printf("%s.%s.signal=%s\n%s.%s.si_code=%s\n", L, name, sig_name(got_sig), L, name,
           code_name(got_sig, got_code));
    printf("%s.%s.si_addr_is_access_addr=%d\n", L, name, got_addr == (void *)addr);
}

/* Lines of /dev/kmsg from now on that contain `needle`. */
static int kmsg_open(void)
{
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
    if (fd >= 0)
        lseek(fd, 0, SEEK_END);
    return fd;
}

static int kmsg_count(int fd, const char *needle)
{
    char rec[2048];
    int n = 0;
    if (fd < 0)
        return -1;
    for (;;) {
        ssize_t r = read(fd, rec, sizeof rec - 1);
        if (r < 0) {
            if (errno == EPIPE)
                continue;
            break;
        }
        rec[r] = 0;
        if (strstr(rec, needle))
            n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    L = argc > 1 ? argv[1] : "signals";
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    prefault_self(1);
    open_pagemap();
    calib(L);
    sigcgt(K("%s.sigcgt.before", L));
    install(SIGSEGV, handler);
    install(SIGBUS, handler);
    sigcgt(K("%s.sigcgt.after_sigaction", L));

    /* Warm the delivery path once (handler text, siglongjmp) outside any measurement. */
    char *w = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(w, PG);
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0)
        (void)*(volatile char *)w;
    prefault_self(0);
    n_caught = 0;

    FILE *f = fopen("/proc/sys/debug/exception-trace", "r");
    int trace = -1;
    if (f) {
        if (fscanf(f, "%d", &trace) != 1)
            trace = -1;
        fclose(f);
    }
    printf("%s.debug.exception_trace=%d\n", L, trace);
    int kfd = kmsg_open();

    /* 4 anonymous pages, page 2 read-only: a write loop stops at page 2 (SEGV_ACCERR). */
    char *acc = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    exp_add(acc, 4 * PG);
    mprotect(acc + 2 * PG, PG, PROT_READ);
    loop("loop_accerr_write", acc, 4, 1);
    /* The same loop again: pages 0 and 1 are mapped now, page 2 still refuses the write. */
    loop("loop_accerr_write_again", acc, 4, 1);

    /* 4 anonymous pages, page 2 unmapped: a read loop stops at page 2 (SEGV_MAPERR). */
    char *map = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    exp_add(map, 4 * PG);
    munmap(map + 2 * PG, PG);
    loop("loop_maperr_read", map, 4, 0);

    /* A 2-page file (cached: just written) mapped 4 pages shared: a read loop stops at page 2
     * (SIGBUS, BUS_ADRERR). */
    char path[512];
    snprintf(path, sizeof path, "%s/kt-signals-%d", dir, getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    static char buf[2 * PG];
    memset(buf, 7, sizeof buf);
    if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
        die("write");
    fsync(fd);
    char *fm = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    exp_add(fm, 4 * PG);
    loop("loop_sigbus_read", fm, 4, 0);
    loop("loop_sigbus_write", fm, 4, 1);

    each("each_maperr_read", map + 2 * PG, 0);
    each("each_maperr_write", map + 2 * PG, 1);
    each("each_accerr_write", acc + 2 * PG, 1);
    each("each_sigbus_read", fm + 2 * PG, 0);
    each("each_sigbus_write", fm + 3 * PG, 1);

    /* Five bad accesses in a row, then a good one: the process runs on. */
    char *r = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    exp_add(r, 2 * PG);
    mprotect(r, PG, PROT_NONE);
    int before = n_caught;
    struct flt a = flt_now();
    for (int i = 0; i < 5; i++)
        if (sigsetjmp(jb, 1) == 0)
            (void)*(volatile char *)r;
    struct flt b = flt_now();
    out_flt(K("%s.repeat.five_bad", L), flt_sub(b, a));
    printf("%s.repeat.caught=%d\n", L, n_caught - before);
    printf("%s.repeat.si_code=%s\n", L, code_name(got_sig, got_code));
    a = flt_now();
    r[PG] = 1;
    b = flt_now();
    out_flt(K("%s.repeat.good_write_after", L), flt_sub(b, a));
    printf("%s.repeat.alive=1\n", L);
    printf("%s.total_caught=%d\n", L, (int)n_caught);
    fflush(stdout);

    /* Caught signals print nothing to the kernel log; read it now, before the uncaught one. */
    printf("%s.dmesg.caught_segfault_lines=%d\n", L, kmsg_count(kfd, "segfault at"));
    fflush(stdout);

    /* A forked child inherits the handlers and catches its own SIGSEGV. */
    pid_t pid = fork();
    if (pid == 0) {
        prefault_self(0);
        sigcgt(K("%s.fork_child.sigcgt", L));
        n_caught = 0;
        each("fork_child.maperr_read", map + 2 * PG, 0);
        printf("%s.fork_child.caught=%d\n", L, (int)n_caught);
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("%s.fork_child.exit_status=%d\n", L, WIFEXITED(st) ? WEXITSTATUS(st) : -1);

    /* A child without a handler dies of the same access, and the kernel logs it. */
    pid = fork();
    if (pid == 0) {
        install(SIGSEGV, NULL);
        (void)*(volatile char *)(map + 2 * PG);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    printf("%s.uncaught_child.signal=%s\n", L, WIFSIGNALED(st) ? sig_name(WTERMSIG(st)) : "none");
    printf("%s.dmesg.uncaught_segfault_lines=%d\n", L, kmsg_count(kfd, "segfault at"));
    close(fd);
    unlink(path);
    fflush(stdout);
    return 0;
}
