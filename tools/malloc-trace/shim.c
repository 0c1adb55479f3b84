/* vmsim malloc trace shim: logs every allocation call of a program, with the real program break
 * and whether the chunk glibc returned is mmapped, for `vmsim`'s VMLibc replay.
 *
 * Build:  gcc -O2 -shared -fPIC -o malloc-trace.so tools/malloc-trace/shim.c
 * Use:    VMSIM_MALLOC_TRACE=/tmp/trace.%p LD_PRELOAD=./malloc-trace.so PROGRAM ARGS...
 *         (%p becomes the process id: each process, a forked child included, gets its own file)
 *
 * Format (one line per call; sizes decimal, addresses hex without 0x; see README.md):
 *   # vmsim malloc trace v1 pid=PID tid=TID brk0=BRK exe=PATH
 *   m SIZE PTR BRK FLAG          malloc
 *   c COUNT SIZE PTR BRK FLAG    calloc
 *   r OLD SIZE PTR BRK FLAG      realloc
 *   a ALIGN SIZE PTR BRK FLAG    memalign, aligned_alloc, valloc (pvalloc: the rounded size)
 *   p ALIGN SIZE PTR BRK FLAG    posix_memalign (PTR 0 when it failed)
 *   f PTR BRK FLAG               free (FLAG: the freed chunk, read before freeing)
 *   # thread TID                 the calls below were made by thread TID (the header names
 *                                the first)
 * BRK is sbrk(0) after the call; FLAG is M when the chunk's size word has IS_MMAPPED (bit 1)
 * set, h for a heap chunk, - for NULL.
 *
 * Reentrancy: the real functions are glibc's exported __libc_malloc & co. (no dlsym, so no
 * recursion through dlsym's own calloc); lines are formatted by hand into a buffer and written
 * with write(2) (no stdio, which allocates); a thread-local flag passes calls made while the
 * shim itself runs straight through. The buffer (64 KiB) is flushed when full and at exit;
 * a program that leaves with _exit(2) or a signal loses the unflushed tail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int busy;
static int fd = -2; /* -2: not opened yet, -1: tracing off */
static pid_t owner;
static pid_t last_tid;
/* The program break before the first call the shim saw. */
static uintptr_t initial_brk;
static char buf[1 << 16];
static size_t len;

static void flush_locked(void) {
    size_t off = 0;
    while (fd >= 0 && off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    len = 0;
}

static void put(const char *s, size_t n) {
    if (len + n > sizeof buf) flush_locked();
    memcpy(buf + len, s, n);
    len += n;
}

static void put_str(const char *s) { put(s, strlen(s)); }

static void put_num(uintptr_t v, int hex) {
    char tmp[24];
    int i = sizeof tmp;
    do {
        unsigned d = (unsigned)(v % (hex ? 16 : 10));
        tmp[--i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= hex ? 16 : 10;
    } while (v);
    put(tmp + i, sizeof tmp - i);
}

/* A space and a number. */
static void field(uintptr_t v, int hex) {
    put(" ", 1);
    put_num(v, hex);
}

/* Opens the trace named by VMSIM_MALLOC_TRACE (with %p replaced by the pid). Called locked. */
static void open_trace(void) {
    const char *name = getenv("VMSIM_MALLOC_TRACE");
    owner = getpid();
    len = 0;
    last_tid = 0;
    if (!name || !*name) {
        fd = -1;
        return;
    }
    char path[4096];
    size_t n = 0;
    for (const char *s = name; *s && n + 24 < sizeof path; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            char tmp[16];
            int i = sizeof tmp;
            unsigned v = (unsigned)owner;
            do {
                tmp[--i] = (char)('0' + v % 10);
                v /= 10;
            } while (v);
            memcpy(path + n, tmp + i, sizeof tmp - i);
            n += sizeof tmp - i;
            s++;
        } else {
            path[n++] = *s;
        }
    }
    path[n] = 0;
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    put_str("# vmsim malloc trace v1 pid=");
    put_num((uintptr_t)owner, 0);
    put_str(" tid=");
    put_num((uintptr_t)syscall(SYS_gettid), 0);
    put_str(" brk0=");
    put_num(initial_brk ? initial_brk : (uintptr_t)sbrk(0), 1);
    char exe[1024];
    ssize_t e = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (e > 0) {
        put_str(" exe=");
        put(exe, (size_t)e);
    }
    put("\n", 1);
}

static void at_exit_flush(void) __attribute__((destructor));
static void at_exit_flush(void) {
    pthread_mutex_lock(&lock);
    if (fd >= 0 && owner == getpid()) flush_locked();
    pthread_mutex_unlock(&lock);
}

/* After fork the child drops the parent's unflushed lines and starts its own file. */
static void child_after_fork(void) {
    pthread_mutex_init(&lock, 0);
    if (fd >= 0) close(fd);
    fd = -2;
}

/* Records the break before the first real call (sbrk(0) makes no system call once libc has
 * read the break). */
static inline void note_brk(void) {
    if (!initial_brk) initial_brk = (uintptr_t)sbrk(0);
}

static char flag_of(void *p) {
    if (!p) return '-';
    return (((size_t *)p)[-1] & 2) ? 'M' : 'h';
}

/* Starts a line: opens the trace on first use, notes a change of thread. Returns 0 when not
 * tracing (the lock is then not held). */
static int begin(void) {
    pthread_mutex_lock(&lock);
    if (fd == -2) {
        open_trace();
        static int registered;
        if (!registered) {
            registered = 1;
            pthread_atfork(0, 0, child_after_fork);
        }
    } else if (fd >= 0 && owner != getpid()) {
        /* A child made by a raw clone/vfork: give it its own file too. */
        close(fd);
        open_trace();
    }
    if (fd < 0) {
        pthread_mutex_unlock(&lock);
        return 0;
    }
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (!last_tid) last_tid = tid; /* the thread that opened the trace, named in its header */
    if (tid != last_tid) {
        put_str("# thread");
        field((uintptr_t)tid, 0);
        put("\n", 1);
    }
    last_tid = tid;
    return 1;
}

static void end(void *result) {
    field((uintptr_t)result, 1);
    field((uintptr_t)sbrk(0), 1);
    char tail[3] = {' ', flag_of(result), '\n'};
    put(tail, 3);
    pthread_mutex_unlock(&lock);
}

void *malloc(size_t n) {
    if (busy) return __libc_malloc(n);
    busy = 1;
    int saved = errno;
    note_brk();
    void *p = __libc_malloc(n);
    int err = errno;
    if (begin()) {
        put("m", 1);
        field(n, 0);
        end(p);
    }
    errno = p ? saved : err;
    busy = 0;
    return p;
}

void *calloc(size_t c, size_t n) {
    if (busy) return __libc_calloc(c, n);
    busy = 1;
    note_brk();
    void *p = __libc_calloc(c, n);
    int err = errno;
    if (begin()) {
        put("c", 1);
        field(c, 0);
        field(n, 0);
        end(p);
    }
    errno = err;
    busy = 0;
    return p;
}

void *realloc(void *old, size_t n) {
    if (busy) return __libc_realloc(old, n);
    busy = 1;
    note_brk();
    void *p = __libc_realloc(old, n);
    int err = errno;
    if (begin()) {
        put("r", 1);
        field((uintptr_t)old, 1);
        field(n, 0);
        end(p);
    }
    errno = err;
    busy = 0;
    return p;
}

static void *aligned(char op, size_t align, size_t n, size_t logged) {
    note_brk();
    void *p = __libc_memalign(align, n);
    int err = errno;
    if (begin()) {
        put(&op, 1);
        field(align, 0);
        field(logged, 0);
        end(p);
    }
    errno = err;
    return p;
}

void *memalign(size_t align, size_t n) {
    if (busy) return __libc_memalign(align, n);
    busy = 1;
    void *p = aligned('a', align, n, n);
    busy = 0;
    return p;
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

void *valloc(size_t n) { return memalign((size_t)sysconf(_SC_PAGESIZE), n); }

void *pvalloc(size_t n) {
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded;
    if (__builtin_add_overflow(n, ps - 1, &rounded)) {
        errno = ENOMEM;
        return 0;
    }
    /* glibc 2.36's own rounding (it masks with -(pagesize - 1)). */
    return memalign(ps, rounded & -(ps - 1));
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (align % sizeof(void *) != 0 || !align || (align / sizeof(void *)) & (align / sizeof(void *) - 1))
        return EINVAL;
    if (busy) {
        void *p = __libc_memalign(align, n);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    busy = 1;
    int saved = errno;
    void *p = aligned('p', align, n, n);
    errno = saved;
    busy = 0;
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void free(void *p) {
    if (busy || !p) {
        __libc_free(p);
        return;
    }
    busy = 1;
    int saved = errno;
    note_brk();
    char flag = flag_of(p);
    __libc_free(p);
    if (begin()) {
        put("f", 1);
        field((uintptr_t)p, 1);
        field((uintptr_t)sbrk(0), 1);
        char tail[3] = {' ', flag, '\n'};
        put(tail, 3);
        pthread_mutex_unlock(&lock);
    }
    errno = saved;
    busy = 0;
}
