/* Reading log files line by line, and following them as they grow. */
#ifndef BS_CLI_LOGREAD_H
#define BS_CLI_LOGREAD_H

#include <signal.h>
#include <stdbool.h>

/* Called with each complete line (without its newline); `live` is true for
 * lines that arrived while following. Returns 0, or -1 to stop. */
typedef int (*logread_fn)(void *ctx, const char *line, bool live);

/* Read every file ("-" is standard input) to its end, then, when follow is
 * set, keep reading what is appended (a truncated file is read again from
 * its start) until *stop becomes nonzero. Returns 0, or -1 after printing
 * an error (a file that cannot be opened, or the callback failing). */
int logread_run(char *const *files, int n, bool follow,
		volatile sig_atomic_t *stop, logread_fn fn, void *ctx);

#endif
