// libedit (Debian: libedit-dev), BSD's line editor, through its readline-compatible interface:
// line editing and history recall for `vmsim shell` on a terminal.
#include <stdio.h>
#include <editline/readline.h>

// libedit's state is in C globals, which Swift 6 will not touch; these read and set them.
/// Names the program "vmsim" for ~/.editrc's per-program settings (a literal: libedit keeps
/// the pointer).
static inline void vmsim_edit_set_name(void) { rl_readline_name = "vmsim"; }
/// The line history recall would give first (the newest), or NULL when the history is empty.
static inline const char *vmsim_edit_newest(void) {
    HIST_ENTRY *entry = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    return entry ? entry->line : NULL;
}
