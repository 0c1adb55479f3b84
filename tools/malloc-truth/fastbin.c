/* Fastbins and malloc_consolidate: with the tcache bin full, freed 48-byte chunks go to a
 * fastbin (mallinfo2 smblks/fsmblks); a large request (>= 1024 bytes) consolidates them into
 * one free chunk, which a later small request splits. */
#include "truth.h"

int main(void) {
    truth_init();
    void *p[10];
    for (int i = 0; i < 10; i++) p[i] = malloc(40); /* chunk 48 */
    void *guard = malloc(16);
    (void)guard;
    for (int i = 0; i < 10; i++) free(p[i]); /* 0..6 tcache, 7..9 fastbin */
    put_mallinfo("before");
    struct snap s = before();
    void *big = malloc(2000); /* largebin request: malloc_consolidate */
    after("big", s);
    ptr("big", big);
    put("big_from_top", big > guard);
    put_mallinfo("after");
    /* 7, 8, 9 coalesced into one 144-byte chunk, sorted into its small bin. A 100-byte request
     * (chunk 112, no tcache entry) takes it by the binmap search and splits off 32 bytes. */
    void *q = malloc(100);
    put("split_is_p7", q == p[7]);
    ptr("q", q);
    put_mallinfo("split");
    truth_done();
    return 0;
}
