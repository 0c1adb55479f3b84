/* Shared helpers for the glibc malloc measurements (see README.md).
 *
 * Every program records what it measures into a static buffer as `key=value` lines and writes
 * it with write(2) at the end, so nothing here calls malloc behind the program's back (no stdio
 * before the last line). mlockall(MCL_CURRENT) at start faults in libc's text and data, so the
 * minor-fault counts taken around each operation count the heap's anonymous pages only.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static char out_buf[1 << 16];
static size_t out_len;
static uintptr_t brk0; /* the program break when main started */

static void out_str(const char *s) {
    size_t n = strlen(s);
    if (out_len + n < sizeof out_buf) {
        memcpy(out_buf + out_len, s, n);
        out_len += n;
    }
}

static void out_num(long long v, int hex) {
    char tmp[32];
    int i = 0, neg = v < 0;
    unsigned long long u = neg ? -(unsigned long long)v : (unsigned long long)v;
    do {
        int d = (int)(u % (hex ? 16 : 10));
        tmp[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        u /= hex ? 16 : 10;
    } while (u);
    if (neg) out_str("-");
    if (hex) out_str("0x");
    char rev[32];
    for (int j = 0; j < i; j++) rev[j] = tmp[i - 1 - j];
    rev[i] = 0;
    out_str(rev);
}

/* key=decimal */
static void put(const char *key, long long v) {
    out_str(key);
    out_str("=");
    out_num(v, 0);
    out_str("\n");
}

/* key=0xhex */
static void putx(const char *key, unsigned long long v) {
    out_str(key);
    out_str("=");
    out_num((long long)v, 1);
    out_str("\n");
}

static void put2(const char *a, const char *b, long long v) {
    char key[128];
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 2 > sizeof key) return;
    memcpy(key, a, la);
    key[la] = '.';
    memcpy(key + la + 1, b, lb + 1);
    put(key, v);
}

static long minflt(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_minflt;
}

/* Resident anonymous pages: statm's resident minus shared (file-backed) pages. */
static long anon_pages(void) {
    static char buf[256];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    long f[3] = {0, 0, 0};
    int k = 0;
    for (char *p = buf; *p && k < 3; p++) {
        if (*p == ' ') {
            k++;
            continue;
        }
        if (*p >= '0' && *p <= '9') f[k] = f[k] * 10 + (*p - '0');
    }
    return f[1] - f[2];
}

static uintptr_t cur_brk(void) { return (uintptr_t)sbrk(0); }

/* A snapshot before an operation; `after` records the deltas under `op`. */
struct snap {
    long flt, anon;
    uintptr_t brk;
};
static struct snap before(void) {
    struct snap s;
    s.brk = cur_brk();
    s.anon = anon_pages();
    s.flt = minflt();
    return s;
}
static void after(const char *op, struct snap s) {
    long flt = minflt();
    long anon = anon_pages();
    uintptr_t b = cur_brk();
    put2(op, "minflt", flt - s.flt);
    put2(op, "rss_pages", anon - s.anon);
    put2(op, "brk_delta", (long long)(b - s.brk));
}

static size_t chunk_word(void *p) { return ((size_t *)p)[-1]; }

/* A returned pointer: its offset from the initial break (heap chunks only), its offset in the page, whether its
 * chunk is mmapped (IS_MMAPPED, bit 1 of the size word) and the chunk size. */
static void ptr(const char *key, void *p) {
    /* An mmapped chunk's address is random (ASLR of the mmap base): only its page offset is
     * reproducible. */
    if (!(chunk_word(p) & 2)) put2(key, "off", (long long)((uintptr_t)p - brk0));
    put2(key, "mod", (long long)((uintptr_t)p % 4096));
    put2(key, "mmapped", (chunk_word(p) & 2) != 0);
    put2(key, "chunk", (long long)(chunk_word(p) & ~(size_t)7));
}

static void put_mallinfo(const char *key) {
    struct mallinfo2 m = mallinfo2();
    put2(key, "arena", (long long)m.arena);
    put2(key, "ordblks", (long long)m.ordblks);
    put2(key, "smblks", (long long)m.smblks);
    put2(key, "hblks", (long long)m.hblks);
    put2(key, "hblkhd", (long long)m.hblkhd);
    put2(key, "usmblks", (long long)m.usmblks);
    put2(key, "fsmblks", (long long)m.fsmblks);
    put2(key, "uordblks", (long long)m.uordblks);
    put2(key, "fordblks", (long long)m.fordblks);
    put2(key, "keepcost", (long long)m.keepcost);
}

/* Touch every page of [p, p+n) with a write, as a program using the memory would. */
static void touch(void *p, size_t n) {
    volatile char *c = p;
    for (size_t i = 0; i < n; i += 4096) c[i] = 1;
    if (n) c[n - 1] = 1;
}

static void truth_init(void) {
    mlockall(MCL_CURRENT);
    brk0 = cur_brk();
    put("brk0_mod_page", (long long)(brk0 % 4096));
}

static void truth_done(void) { write(1, out_buf, out_len); }
