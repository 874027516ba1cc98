/* What `backstop run` needs to know about the library and the command. */
#ifndef BS_CLI_TARGET_H
#define BS_CLI_TARGET_H

#include <stddef.h>

/* The preload library belonging to this backstop binary:
 * libbackstop-preload.so next to it (build tree), else
 * ../lib/backstop/libbackstop-preload.so (installed prefix). Returns 0 with the absolute
 * path in buf, or -1 with the places looked at in buf. */
int target_find_library(char *buf, size_t cap);

/* Resolve a command name through PATH as a shell does (a name with a
 * slash is taken as is). Returns 0 with the path in buf, or an errno:
 * ENOENT when nothing was found, EACCES when only non-executable files
 * were. */
int target_resolve(const char *cmd, char *buf, size_t cap);

/* Warn on stderr when LD_PRELOAD cannot reach the program at path: a
 * statically linked ELF (no PT_INTERP), a setuid/setgid file (secure
 * execution), or a script whose interpreter is one of those. */
void target_warn_unreachable(const char *cmd, const char *path);

#endif
