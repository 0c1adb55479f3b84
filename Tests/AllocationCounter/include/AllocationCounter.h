#ifndef VMSIM_ALLOCATION_COUNTER_H
#define VMSIM_ALLOCATION_COUNTER_H

/// Starts counting heap allocations made by the calling thread.
void vmsim_allocation_counter_start(void);
/// Stops counting and returns how many allocations the calling thread made since the start,
/// or -1 where counting is not supported (anything but glibc).
long vmsim_allocation_counter_stop(void);

#endif
