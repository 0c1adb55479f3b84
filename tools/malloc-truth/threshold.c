/* The mmap threshold (M_MMAP_THRESHOLD, 128 KiB): requests whose chunk size reaches it get their
 * own mapping; freeing an mmapped chunk raises the threshold to its size (and the trim threshold
 * to twice that) unless the chunk is over 32 MiB (DEFAULT_MMAP_THRESHOLD_MAX). */
#include "truth.h"

int main(void) {
    truth_init();
    void *guard = malloc(16); /* initialise the heap first */
    ptr("guard", guard);
    struct snap s = before();
    void *below = malloc(131048); /* chunk 131056 < 131072: from the heap */
    after("below", s);
    ptr("below", below);
    s = before();
    void *at = malloc(131049); /* chunk 131072: mmapped */
    after("at", s);
    ptr("at", at);
    put("at.usable", (long long)malloc_usable_size(at));
    s = before();
    touch(at, 131049);
    after("at_touch", s);
    s = before();
    free(at); /* munmap, and the threshold becomes 0x21000 */
    after("at_free", s);
    /* Threshold is now the freed chunk's size, 135168: 131049 comes from the heap now. */
    s = before();
    void *again = malloc(131049);
    after("again", s);
    ptr("again", again);

    s = before();
    void *m1 = malloc(1 << 20); /* 1 MiB: mmapped, chunk 0x101000 */
    after("m1", s);
    ptr("m1", m1);
    free(m1); /* threshold -> 0x101000, trim threshold -> 0x202000 */
    s = before();
    void *h1 = malloc(1 << 20); /* now from the heap: brk grows */
    after("h1", s);
    ptr("h1", h1);
    s = before();
    void *edge_heap = malloc(0x101000 - 24); /* chunk 0x100ff0 < threshold */
    after("edge_heap", s);
    ptr("edge_heap", edge_heap);
    s = before();
    void *edge_mmap = malloc(0x101000 - 8); /* chunk 0x101000 = threshold: mmapped */
    after("edge_mmap", s);
    ptr("edge_mmap", edge_mmap);
    free(edge_mmap); /* same size: threshold unchanged */
    /* edge_heap borders top: freeing it leaves a top of about 1 MiB, under the raised trim
     * threshold (0x202000): no trim. Freeing h1 too makes top about 2 MiB: systrim. */
    s = before();
    free(edge_heap);
    after("edge_heap_free", s);
    s = before();
    free(h1);
    after("h1_free", s);

    /* A chunk of 32 MiB - 4 KiB raises the threshold; one of exactly 32 MiB does not. */
    void *big1 = malloc((32 << 20) - 4096 - 24);
    ptr("big1", big1);
    free(big1);
    s = before();
    void *after_big1 = malloc(16 << 20); /* threshold now 32 MiB - 4 KiB: from the heap */
    after("after_big1", s);
    ptr("after_big1", after_big1);
    free(after_big1);
    put("heap_size", (long long)(cur_brk() - brk0));
    put_mallinfo("mi");
    truth_done();
    return 0;
}
