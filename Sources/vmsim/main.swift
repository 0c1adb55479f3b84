import ArgumentParser
import VMSim

// One place turns every error into a one-line message and an exit status:
// 2 for bad input (flags, files), 1 for a scenario whose expectations failed.
VMSimCommand.main()
