/* Splitting and coalescing of chunks above the tcache range (over 1032 bytes): free neighbours
 * merge (backward and forward) in the unsorted bin; a smaller request splits a free chunk and
 * the remainder becomes the last remainder; a free next to top merges into top. */
#include "truth.h"

int main(void) {
    truth_init();
    void *a = malloc(2000), *b = malloc(2000), *c = malloc(2000), *g = malloc(2000);
    ptr("a", a);
    ptr("g", g);
    free(a);
    free(c);
    put_mallinfo("ac_free"); /* two free chunks */
    free(b);                 /* merges with a and c */
    put_mallinfo("abc_free"); /* one free chunk of 6048 */
    void *x = malloc(6000);
    put("x_is_a", x == a);
    ptr("x", x);
    free(x);
    void *y = malloc(1200); /* split: y = a, remainder 6048 - 1216 */
    put("y_is_a", y == a);
    void *z = malloc(1200); /* from the last remainder */
    put("z_off_from_a", (long long)((char *)z - (char *)a));
    put_mallinfo("split");
    free(g); /* g borders top: merges into top; then y, z's remainder? */
    put_mallinfo("g_free");
    truth_done();
    return 0;
}
