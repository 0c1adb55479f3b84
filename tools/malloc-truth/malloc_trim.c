/* malloc_trim(0): consolidates, MADV_DONTNEEDs every whole page inside free chunks of the
 * unsorted bin and of bins from bin_index(4096) up, then systrim()s the top down to the pad.
 * RSS falls by those pages; the break falls only by the top's pages. */
#include "truth.h"

int main(void) {
    truth_init();
    void *keep = malloc(100);
    void *hole = malloc(100000); /* becomes a free chunk inside the heap */
    void *wall = malloc(100);    /* keeps the hole from merging into top */
    touch(hole, 100000);
    ptr("hole", hole);
    ptr("wall", wall);
    free(hole);
    put("heap_before", (long long)(cur_brk() - brk0));
    struct snap s = before();
    int r = malloc_trim(0);
    after("trim", s);
    put("trim_result", r);
    put("heap_after", (long long)(cur_brk() - brk0));
    /* The hole's pages read back as zero now, but the chunk is still free and reusable. */
    s = before();
    void *again = malloc(100000);
    after("again", s);
    put("again_is_hole", again == hole);
    s = before();
    touch(again, 100000);
    after("again_touch", s);
    /* Trim with a pad: the top keeps PAD bytes. */
    void *top_user = malloc(120000);
    touch(top_user, 120000);
    free(top_user);
    put("heap_before_pad", (long long)(cur_brk() - brk0));
    s = before();
    r = malloc_trim(65536);
    after("trim_pad", s);
    put("trim_pad_result", r);
    put("heap_after_pad", (long long)(cur_brk() - brk0));
    s = before();
    r = malloc_trim(0);
    after("trim0", s);
    put("heap_after_trim0", (long long)(cur_brk() - brk0));
    (void)keep;
    put_mallinfo("mi");
    truth_done();
    return 0;
}
