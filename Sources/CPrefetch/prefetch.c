// The target's code is all in include/vmsim_prefetch.h (static inline); SwiftPM wants a source file.
#include "vmsim_prefetch.h"
