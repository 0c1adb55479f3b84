/* tcache reuse order: each bin holds 7 chunks, last in first out; the next frees of a fastbin
 * size go to the fastbin, and a malloc that finds the tcache empty takes one from the fastbin
 * and moves the rest of that fastbin into the tcache (so they come back in reverse).
 * Usage: tcache SIZE (24: a fastbin size; 500: above global_max_fast). */
#include "truth.h"

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], 0, 0) : 24;
    truth_init();
    void *p[10];
    for (int i = 0; i < 10; i++) p[i] = malloc(n);
    void *guard = malloc(16); /* keeps the last chunk away from top */
    (void)guard;
    put("request", (long long)n);
    ptr("p0", p[0]);
    put("stride", (long long)((char *)p[1] - (char *)p[0]));
    for (int i = 0; i < 10; i++) free(p[i]);
    put_mallinfo("freed");
    for (int i = 0; i < 10; i++) {
        void *q = malloc(n);
        int idx = -1;
        for (int j = 0; j < 10; j++)
            if (q == p[j]) idx = j;
        char key[16] = "reuse0";
        key[5] = (char)('0' + i);
        put(key, idx);
    }
    /* An 11th: a fresh chunk from top. */
    void *r = malloc(n);
    ptr("fresh", r);
    truth_done();
    return 0;
}
