// Range system calls at the end of the address space (issue 11, class 1): the errno Linux gives
// for lengths that page-align past 2^64, ends past TASK_SIZE and addresses in the last page of
// the 64-bit space. vmsim's Tests/VMCoreTests/AddressRangeTests.swift checks the same table.
// Build and run: gcc -O1 -o /tmp/bounds tools/kernel-truth/bounds.c && /tmp/bounds
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void show(const char *name, int failed) {
    printf("%-36s %s\n", name, failed ? strerrorname_np(errno) : "ok");
}
#define CALL(name, expr) do { errno = 0; show(name, (expr) == -1); } while (0)
#define MAP(name, expr) do { errno = 0; show(name, (expr) == MAP_FAILED); } while (0)

int main(void) {
    const uint64_t top = 0x7ffffffff000ULL; // TASK_SIZE on x86-64 with 4-level paging
    const uint64_t last = 0xfffffffffffff000ULL;
    void *m = mmap((void *)0x7ffff0000000ULL, 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (m == MAP_FAILED) return 1;
    const int anon = MAP_PRIVATE | MAP_ANONYMOUS;
    MAP("mmap len=2^64-1", mmap(0, UINT64_MAX, PROT_READ, anon, -1, 0));
    MAP("mmap len=2^63", mmap(0, 1ULL << 63, PROT_READ, anon, -1, 0));
    MAP("mmap fixed last-page 8MiB", mmap((void *)last, 8 << 20, PROT_READ, anon | MAP_FIXED, -1, 0));
    MAP("mmap fixed top-4K 8KiB", mmap((void *)(top - 4096), 8192, PROT_READ, anon | MAP_FIXED, -1, 0));
    MAP("mmap hint last-page 8MiB", mmap((void *)last, 8 << 20, PROT_READ, anon, -1, 0));
    CALL("munmap 0x10000 2^64-1", munmap((void *)0x10000, UINT64_MAX));
    CALL("munmap last-page 8KiB", munmap((void *)last, 0x2000));
    CALL("munmap top 4KiB", munmap((void *)top, 4096));
    CALL("munmap top-4K 8KiB", munmap((void *)(top - 4096), 8192));
    CALL("mprotect m 2^64-1", mprotect(m, UINT64_MAX, PROT_READ));
    CALL("mprotect m 2^64-4096", mprotect(m, UINT64_MAX - 4095, PROT_READ));
    CALL("mprotect last-page 8KiB", mprotect((void *)last, 0x2000, PROT_READ));
    CALL("mprotect top 4KiB", mprotect((void *)top, 4096, PROT_READ));
    CALL("madvise m 2^64-1 DONTNEED", madvise(m, UINT64_MAX, MADV_DONTNEED));
    CALL("madvise m 2^64-4096 DONTNEED", madvise(m, UINT64_MAX - 4095, MADV_DONTNEED));
    CALL("madvise last-page 8KiB DONTNEED", madvise((void *)last, 0x2000, MADV_DONTNEED));
    CALL("madvise top 4KiB DONTNEED", madvise((void *)top, 4096, MADV_DONTNEED));
    CALL("madvise m 2^63 RANDOM", madvise(m, 1ULL << 63, MADV_RANDOM));
    CALL("mlock m 2^64-1", mlock(m, UINT64_MAX));
    CALL("mlock m 2^64-4096", mlock(m, UINT64_MAX - 4095));
    CALL("mlock last-page 8KiB", mlock((void *)last, 0x2000));
    CALL("mlock top 4KiB", mlock((void *)top, 4096));
    CALL("munlock m 2^64-1", munlock(m, UINT64_MAX));
    CALL("munlock last-page 8KiB", munlock((void *)last, 0x2000));
    CALL("msync m 2^64-1", msync(m, UINT64_MAX, MS_SYNC));
    CALL("msync m 2^64-4096", msync(m, UINT64_MAX - 4095, MS_SYNC));
    CALL("msync last-page 8KiB", msync((void *)last, 0x2000, MS_SYNC));
    CALL("msync top 4KiB", msync((void *)top, 4096, MS_SYNC));
    void *before = sbrk(0);
    CALL("brk 2^64-1", brk((void *)UINT64_MAX));
    CALL("brk top+4KiB", brk((void *)(top + 4096)));
    printf("%-36s %s\n", "break unchanged", sbrk(0) == before ? "yes" : "no");
    return 0;
}
