#ifndef VMSIM_PREFETCH_H
#define VMSIM_PREFETCH_H

/// Asks the CPU to start loading the cache line holding `address` (for reading and writing,
/// kept in all cache levels) without waiting for it: the replay loops call it for the page a
/// few accesses ahead. Swift has no prefetch intrinsic; a static inline C function is inlined
/// into the Swift code that calls it.
static inline void vmsim_prefetch(const void *address) { __builtin_prefetch(address, 1, 3); }

#endif
