/* calloc: no clearing for an mmapped chunk or for the part of a chunk carved from top that was
 * sbrk'd by this very call (MORECORE_CLEARS); everything else is memset, and calloc bypasses
 * the tcache (it calls _int_malloc directly). */
#include "truth.h"

int main(void) {
    truth_init();
    void *first = malloc(16); /* heap initialised: top is about 131 KiB */
    ptr("first", first);
    struct snap s = before();
    char *big = calloc(1, 1 << 20); /* mmapped: no clearing, one fault for the header page */
    after("mmap", s);
    ptr("mmap", big);
    s = before();
    char *inside = calloc(1, 100000); /* fits in the old top: cleared, so every page faults */
    after("in_top", s);
    ptr("in_top", inside);
    s = before();
    char *fresh = calloc(1, 100000); /* needs sbrk: only the old top's part is cleared */
    after("fresh_top", s);
    ptr("fresh_top", fresh);
    put("fresh_top_brk", (long long)(cur_brk() - brk0));
    /* Reused memory is cleared: dirty a chunk, free it, calloc it back. */
    char *d = malloc(5000);
    void *wall = malloc(16);
    memset(d, 0xAB, 5000);
    free(d);
    s = before();
    char *r = calloc(1, 5000);
    after("reused", s);
    put("reused_is_d", r == d);
    int zero = 1;
    for (int i = 0; i < 5000; i++)
        if (r[i]) zero = 0;
    put("reused_zero", zero);
    /* calloc does not take from the tcache. */
    void *t = malloc(24);
    free(t);
    void *c = calloc(1, 24);
    put("calloc_uses_tcache", c == t);
    void *m = malloc(24);
    put("malloc_uses_tcache", m == t);
    (void)wall;
    (void)first;
    put_mallinfo("mi");
    truth_done();
    return 0;
}
