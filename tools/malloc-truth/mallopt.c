/* mallopt before the first malloc: M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_TRIM_THRESHOLD.
 * Usage: mallopt default | toppad0 | toppad1m | mmap1m | mmapmax0 | trim0 | trim1m */
#include "truth.h"

int main(int argc, char **argv) {
    const char *v = argc > 1 ? argv[1] : "default";
    truth_init();
    int r = -1;
    if (!strcmp(v, "toppad0")) r = mallopt(M_TOP_PAD, 0);
    else if (!strcmp(v, "toppad1m")) r = mallopt(M_TOP_PAD, 1 << 20);
    else if (!strcmp(v, "mmap1m")) r = mallopt(M_MMAP_THRESHOLD, 1 << 20);
    else if (!strcmp(v, "mmapmax0")) r = mallopt(M_MMAP_MAX, 0);
    else if (!strcmp(v, "trim0")) r = mallopt(M_TRIM_THRESHOLD, 0);
    else if (!strcmp(v, "trim1m")) r = mallopt(M_TRIM_THRESHOLD, 1 << 20);
    put("mallopt_result", r);
    struct snap s = before();
    void *a = malloc(100);
    after("first", s);
    ptr("a", a);
    put("heap1", (long long)(cur_brk() - brk0));
    s = before();
    void *b = malloc(500000); /* mmapped by default */
    after("b", s);
    ptr("b", b);
    put("heap2", (long long)(cur_brk() - brk0));
    void *c = malloc(100000); /* under the mmap threshold: from the heap */
    void *e = malloc(100000);
    ptr("c", c);
    ptr("e", e);
    put("heap3", (long long)(cur_brk() - brk0));
    s = before();
    free(e); /* borders top */
    after("free_e", s);
    s = before();
    free(c);
    after("free_c", s);
    put("heap4", (long long)(cur_brk() - brk0));
    s = before();
    free(b);
    after("free_b", s);
    put("heap5", (long long)(cur_brk() - brk0));
    /* After free(b): if b was mmapped the dynamic threshold would rise, but any mallopt of
     * these four parameters turns the dynamic threshold off. */
    void *d = malloc(500000);
    ptr("d", d);
    put_mallinfo("mi");
    truth_done();
    return 0;
}
