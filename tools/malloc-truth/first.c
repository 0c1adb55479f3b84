/* The first malloc of a program: where the pointer lands relative to the initial break, how far
 * brk moves (the tcache_perthread_struct chunk of 0x290 bytes comes first, then the request, then
 * M_TOP_PAD = 128 KiB, rounded up to a page), and what the first call costs in page faults.
 * Usage: first SIZE */
#include "truth.h"

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], 0, 0) : 1;
    truth_init();
    put("request", (long long)n);
    struct snap s = before();
    void *p = malloc(n);
    after("first", s);
    ptr("p", p);
    put("heap_size", (long long)(cur_brk() - brk0));
    put("usable", (long long)malloc_usable_size(p));
    s = before();
    void *q = malloc(n);
    after("second", s);
    ptr("q", q);
    put("heap_size2", (long long)(cur_brk() - brk0));
    put_mallinfo("mi");
    truth_done();
    return 0;
}
