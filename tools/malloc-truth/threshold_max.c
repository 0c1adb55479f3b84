/* The dynamic threshold's ceiling: freeing an mmapped chunk raises M_MMAP_THRESHOLD only while
 * the chunk's size word (IS_MMAPPED included) is at most 32 MiB, so a chunk of exactly 32 MiB or
 * more leaves it at 128 KiB. Usage: threshold_max 32m | 40m | 32m-4k */
#include "truth.h"

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "40m";
    size_t n = !strcmp(which, "32m")      ? (32 << 20) - 4096 - 8   /* chunk exactly 32 MiB */
               : !strcmp(which, "32m-4k") ? (32 << 20) - 4096 - 24 /* chunk 32 MiB - 4 KiB */
                                          : (40 << 20);
    truth_init();
    void *guard = malloc(16);
    ptr("guard", guard);
    void *big = malloc(n);
    ptr("big", big);
    free(big);
    struct snap s = before();
    void *probe = malloc(1 << 20); /* mmapped unless the threshold was raised */
    after("probe", s);
    ptr("probe", probe);
    truth_done();
    return 0;
}
