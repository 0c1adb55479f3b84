/* realloc: in place when the chunk is big enough (shrinking splits off the tail), when it
 * borders top, or when the next chunk is free and big enough; otherwise malloc-copy-free.
 * An mmapped chunk is resized with mremap (no copy, no faults), and stays mmapped even when
 * shrunk to a few bytes. */
#include "truth.h"

int main(void) {
    truth_init();
    /* Grow into a free next chunk: b (3008 bytes, too big for the tcache) is free after a. */
    char *a = malloc(3000);
    char *b = malloc(3000);
    char *w = malloc(100);
    ptr("a", a);
    ptr("b", b);
    free(b);
    struct snap s = before();
    char *a2 = realloc(a, 5000); /* 3008 + 3008 >= 5008: in place; the 1008-byte tail is freed */
    after("grow_next", s);
    put("grow_next_same", a2 == a);
    ptr("a2", a2);
    void *tail = malloc(1000); /* chunk 1008: the tail, from the tcache */
    put("tail_off_from_a", (long long)((char *)tail - a));
    (void)w;
    char *p = malloc(100);
    ptr("p", p);
    s = before();
    char *p2 = realloc(p, 5000); /* p borders top: grows in place */
    after("grow_top", s);
    put("grow_top_same", p2 == p);
    ptr("p2", p2);
    char *g = malloc(100); /* now p2 has a neighbour in use */
    s = before();
    char *p3 = realloc(p2, 10000); /* must move: copy 4992+ bytes, free old */
    after("grow_move", s);
    put("grow_move_same", p3 == p2);
    ptr("p3", p3);
    /* p2's chunk (5008) is free; g sits after it. Shrinking keeps the pointer. */
    s = before();
    char *p4 = realloc(p3, 2000);
    after("shrink", s);
    put("shrink_same", p4 == p3);
    ptr("p4", p4);
    (void)g;
    (void)w;

    /* mmapped chunk */
    char *m = malloc(1 << 20);
    touch(m, 1 << 20);
    ptr("m", m);
    s = before();
    char *m2 = realloc(m, 2 << 20);
    after("mremap_grow", s);
    ptr("m2", m2);
    s = before();
    touch(m2, 2 << 20);
    after("mremap_grow_touch", s);
    s = before();
    char *m3 = realloc(m2, 200000);
    after("mremap_shrink", s);
    ptr("m3", m3);
    s = before();
    char *m4 = realloc(m3, 100);
    after("mremap_tiny", s);
    ptr("m4", m4);
    put("heap_size", (long long)(cur_brk() - brk0));
    put_mallinfo("mi");
    truth_done();
    return 0;
}
