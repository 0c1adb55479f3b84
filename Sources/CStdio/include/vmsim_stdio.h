#ifndef VMSIM_STDIO_H
#define VMSIM_STDIO_H

/// Makes standard output line-buffered, so that whatever the program printed before it stops —
/// for any reason, a trap included — has been written. (Swift 6 cannot name C's `stdout`
/// global without an unsafe concurrency escape.)
void vmsim_stdout_line_buffered(void);

#endif
