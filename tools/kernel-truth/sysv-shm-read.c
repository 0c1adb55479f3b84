// SysV shared memory read by a second process: how many faults does reading every page take?
// Linux 6.18: shm_vm_ops (ipc/shm.c) has no .map_pages, so do_read_fault() does no fault-around
// (should_fault_around() in mm/memory.c) and each page is its own minor fault.
// Compare: the same for a MAP_SHARED|MAP_ANONYMOUS region (shmem_vm_ops has filemap_map_pages).
// Build and run: gcc -O1 -o /tmp/sysv-shm-read sysv-shm-read.c && /tmp/sysv-shm-read
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PAGES = 1000, PAGE = 4096 };

static long minflt(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

static long read_all(volatile char *p) {
    long sum = 0, before = minflt();
    for (long i = 0; i < PAGES; i++) sum += p[i * PAGE];
    long faults = minflt() - before;
    return sum >= 0 ? faults : -1;
}

int main(void) {
    // SysV: the creator fills the segment, a child attaches it afresh and reads every page.
    int id = shmget(IPC_PRIVATE, PAGES * PAGE, IPC_CREAT | 0600);
    char *w = shmat(id, NULL, 0);
    for (long i = 0; i < PAGES; i++) w[i * PAGE] = 4;
    pid_t c = fork();
    if (c == 0) {
        volatile char *r = shmat(id, NULL, SHM_RDONLY);
        printf("sysv_shm_read_pages=%d minflt=%ld\n", PAGES, read_all(r));
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    shmdt(w);
    shmctl(id, IPC_RMID, NULL);

    // Shared anonymous: the parent fills it, a child (the mapping inherited, no PTEs copied for
    // shared memory: fork leaves them to fault) reads every page.
    char *s = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    for (long i = 0; i < PAGES; i++) s[i * PAGE] = 9;
    c = fork();
    if (c == 0) {
        printf("shared_anon_read_pages=%d minflt=%ld\n", PAGES, read_all(s));
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    return 0;
}
