import ArgumentParser
import CStdio
import Foundation
import VMSim

// One place turns every error into a one-line message and an exit status:
// 2 for bad input (flags, files), 1 for a scenario whose expectations failed.
// Line-buffered standard output: whatever a run printed before it stops — for any reason —
// has reached the terminal or the file, never lost in a buffer.
vmsim_stdout_line_buffered()
VMSimCommand.main()
