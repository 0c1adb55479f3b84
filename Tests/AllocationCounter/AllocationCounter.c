// Counts heap allocations per thread, for tests that prove a hot path allocates nothing.
//
// Linked into the test executable only. On glibc, defining malloc and friends in the executable
// interposes them for the whole process; each forwards to glibc's own __libc_* entry point, so
// the allocator underneath is unchanged. Counting is per thread, so tests running in parallel
// on other threads do not disturb the count.
#include "AllocationCounter.h"

#if defined(__linux__) && defined(__GLIBC__)
#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static __thread int counting __attribute__((tls_model("initial-exec")));
static __thread long count __attribute__((tls_model("initial-exec")));

void *malloc(size_t size) {
    if (counting) count++;
    return __libc_malloc(size);
}
void free(void *ptr) { __libc_free(ptr); }
void *calloc(size_t n, size_t size) {
    if (counting) count++;
    return __libc_calloc(n, size);
}
void *realloc(void *ptr, size_t size) {
    if (counting) count++;
    return __libc_realloc(ptr, size);
}
void *memalign(size_t alignment, size_t size) {
    if (counting) count++;
    return __libc_memalign(alignment, size);
}
void *aligned_alloc(size_t alignment, size_t size) {
    if (counting) count++;
    return __libc_memalign(alignment, size);
}
int posix_memalign(void **out, size_t alignment, size_t size) {
    if (counting) count++;
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void vmsim_allocation_counter_start(void) {
    count = 0;
    counting = 1;
}
long vmsim_allocation_counter_stop(void) {
    counting = 0;
    return count;
}
#else
void vmsim_allocation_counter_start(void) {}
long vmsim_allocation_counter_stop(void) { return -1; }
#endif
