/* free() at the top of the heap: when the top chunk reaches M_TRIM_THRESHOLD (128 KiB) after a
 * free that coalesced into it (and the freed chunk was at least 64 KiB,
 * FASTBIN_CONSOLIDATION_THRESHOLD), systrim() gives back all whole pages above
 * M_TOP_PAD (128 KiB) with a negative sbrk. */
#include "truth.h"

int main(void) {
    truth_init();
    void *a = malloc(100000);
    void *b = malloc(100000);
    void *c = malloc(100000);
    ptr("a", a);
    ptr("b", b);
    ptr("c", c);
    put("heap_after_abc", (long long)(cur_brk() - brk0));
    touch(c, 100000);
    struct snap s = before();
    free(c); /* top = c + the old top: over 128 KiB: trimmed to 128 KiB of pad */
    after("free_c", s);
    put("heap_after_free_c", (long long)(cur_brk() - brk0));
    /* A small free next to top does not trim (the freed chunk is under 64 KiB). */
    void *d = malloc(60000);
    ptr("d", d);
    s = before();
    free(d);
    after("free_d", s);
    s = before();
    free(b); /* b borders top now: merges, top > 128 KiB + pad: trimmed */
    after("free_b", s);
    put("heap_after_free_b", (long long)(cur_brk() - brk0));
    s = before();
    free(a);
    after("free_a", s);
    put("heap_after_free_a", (long long)(cur_brk() - brk0));
    put_mallinfo("mi");
    truth_done();
    return 0;
}
