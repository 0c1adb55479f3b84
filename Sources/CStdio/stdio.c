#include <stdio.h>
#include "vmsim_stdio.h"

void vmsim_stdout_line_buffered(void) { setvbuf(stdout, NULL, _IOLBF, 1 << 16); }
