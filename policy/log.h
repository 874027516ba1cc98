/* The JSON log: one line per event, built on the stack without malloc or
 * stdio, written with a single write(2). Everything here is
 * async-signal-safe once the sink is open. */
#ifndef BS_LOG_H
#define BS_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define BS_LOG_LINE_MAX 2048 /* < PIPE_BUF: one write is atomic on a pipe */

/* Where lines go. Opened once at start-up; the descriptor is private to
 * backstop (close-on-exec, moved to a high number, never shared with the
 * program's own file status flags). */
struct bs_log {
	enum bs_log_kind kind;
	int fd;                  /* -1 when off */
	char prog[64];           /* program name for the `prog` field */
	atomic_ulong dropped;    /* lines that could not be written */
};

/* Open the sink named by g (stderr, fd:N, a file, syslog or off).
 * Files are opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC|O_NOFOLLOW, 0600. */
int bs_log_open(struct bs_log *log, const struct bs_global *g, const char *prog,
		struct bs_error *err);
void bs_log_close(struct bs_log *log);

/* One line under construction. */
struct bs_logline {
	char buf[BS_LOG_LINE_MAX];
	size_t len;
	int truncated;
};

/* Start a line with the required fields ts, pid, tid, prog and event. */
void bs_line_begin(struct bs_logline *line, const struct bs_log *log,
		   const char *event);
void bs_line_str(struct bs_logline *line, const char *key, const char *value);
void bs_line_int(struct bs_logline *line, const char *key, int64_t value);
/* A duration in milliseconds, with three decimals ("12.345"). */
void bs_line_ms(struct bs_logline *line, const char *key, bs_ns value);
/* errno as its symbolic name ("ECONNREFUSED"); unknown ones as a number. */
void bs_line_errno(struct bs_logline *line, const char *key, int err);
/* Close the line and write it with one write(2); a line that cannot be
 * written is counted in log->dropped, never retried and never blocks. */
void bs_line_emit(struct bs_logline *line, struct bs_log *log);

/* JSON-escape src into dst (at most cap bytes, always NUL-terminated);
 * returns the length written. Exposed for tests and fuzzing. */
size_t bs_json_escape(char *dst, size_t cap, const char *src, size_t len);

#endif
