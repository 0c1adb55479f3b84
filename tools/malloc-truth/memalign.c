/* posix_memalign / memalign / aligned_alloc: _int_memalign mallocs size + alignment + MINSIZE,
 * returns the first aligned spot at least MINSIZE into the chunk, and frees the leader and the
 * tail; for an mmapped chunk only the offset (prev_size) grows. */
#include "truth.h"

int main(void) {
    truth_init();
    void *first = malloc(16);
    ptr("first", first);
    void *p = 0;
    int r = posix_memalign(&p, 4096, 100);
    put("pm_result", r);
    ptr("pm", p);
    void *q = memalign(64, 100);
    ptr("m64", q);
    void *s32 = memalign(32, 40);
    ptr("m32", s32);
    void *a = aligned_alloc(256, 1000);
    ptr("aa", a);
    void *lead = malloc(2000); /* the leader of the 4096-aligned block is free: reused? */
    ptr("after", lead);
    void *big = 0;
    r = posix_memalign(&big, 65536, 200000); /* mmapped: offset grows */
    /* The lead (prev_size) depends on where the mapping landed modulo 64 KiB; the mapping
     * itself (lead + chunk) does not. */
    put("big.mmapped", (chunk_word(big) & 2) != 0);
    put("big.mod", (long long)((uintptr_t)big % 4096));
    put("big_mapping", (long long)(((size_t *)big)[-2] + (chunk_word(big) & ~(size_t)7)));
    put("big_mod64k", (long long)((uintptr_t)big % 65536));
    r = posix_memalign(&p, 24, 100);
    put("bad_align_result", r);
    put("heap_size", (long long)(cur_brk() - brk0));
    put_mallinfo("mi");
    truth_done();
    return 0;
}
