/*
 * touch.c — a tiny program whose memory trace is easy to explain, for `vmsim replay`.
 *
 * No C library: the trace holds only what this file does. It writes one word in each
 * 64-byte line of a 64-page (256 KiB) array, then reads the first word of every page
 * back, twice, and exits.
 *
 * Build and trace it (see README "Replaying a real program"):
 *   gcc -O1 -static -nostdlib -fno-pie -no-pie -fno-stack-protector -o touch touch.c
 *   valgrind --tool=lackey --trace-mem=yes --log-file=touch.lackey ./touch
 */
#define PAGES 64
#define PAGE 4096

static long array[PAGES * PAGE / sizeof(long)];

void _start(void) {
    for (unsigned long i = 0; i < sizeof(array) / sizeof(long); i += 8)
        array[i] = (long)i;
    long sum = 0;
    for (int pass = 0; pass < 2; pass++)
        for (unsigned long p = 0; p < PAGES; p++)
            sum += ((volatile long *)array)[p * PAGE / sizeof(long)];
    /* exit_group(sum & 0x7f) */
    __asm__ volatile("syscall" : : "a"(231), "D"(sum & 0x7f) : "rcx", "r11", "memory");
    for (;;) {
    }
}
