/* The JSON log: one line per event, built on the stack without malloc or
 * stdio, written with a single write(2). Everything here is
 * async-signal-safe once the sink is open, and every function here leaves
 * errno as it found it. */
#ifndef BS_LOG_H
#define BS_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

#define BS_LOG_LINE_MAX 2048 /* < PIPE_BUF: one write is atomic on a pipe */

/* How a line reaches the sink (chosen at open from the descriptor type). */
enum bs_log_io {
	BS_LOGIO_WRITE,  /* write(2): files, ttys, character devices */
	BS_LOGIO_PIPE,   /* write(2) with SIGPIPE held off for this thread */
	BS_LOGIO_SEND,   /* send(2) with MSG_DONTWAIT|MSG_NOSIGNAL: sockets */
	BS_LOGIO_SYSLOG, /* one datagram "<30>prog[pid]: {json}" to /dev/log */
};

/* Where lines go. Opened once at start-up; the descriptor is private to
 * backstop (close-on-exec, moved to a high number, never shared with the
 * program's own file status flags). */
struct bs_log {
	enum bs_log_kind kind;
	int fd;                  /* the private descriptor, or -1; read it with bs_log_fd() */
	/* The stderr sink on a pipe, FIFO, terminal or character device
	 * holds no descriptor: each line reopens the program's fd 2 while it
	 * still names the file it named at start-up (via_dev/via_ino). */
	bool via;                /* false (zero): not this mode */
	int via_fd;
	uint64_t via_dev, via_ino;
	/* The file sink: its absolute path (NULL otherwise), and when its
	 * path is next checked for a rotation (CLOCK_MONOTONIC_COARSE ns). */
	char *path;
	_Atomic uint64_t rotation_due;
	char prog[64];           /* program name for the `prog` field */
	atomic_ulong dropped;    /* lines that could not be written */
	enum bs_log_io io;
};

/* Open the sink named by g (stderr, fd:N, a file, syslog or off).
 * On failure returns -1 with err filled in ("log SINK: WHAT") and leaves
 * the log off (fd -1), so it can still be used: lines go nowhere.
 *
 * Descriptors (see docs/log-format.md):
 *  - stderr / fd:N: when fd 2 is closed or open read-only the stderr sink
 *    is off (not an error: the program could not print either); a closed
 *    or read-only fd:N is an error. On stderr, a pipe, FIFO, tty or
 *    character device is never held: each line opens /proc/self/fd/2
 *    anew (O_NONBLOCK in our own open file description), writes and
 *    closes, and only while fd 2 still names the file it named at
 *    start-up, so a daemon that lets go of its launcher's pipe or
 *    terminal is not kept attached to it. For fd:N the same is reopened
 *    once and held (the operator named a descriptor for the log); a
 *    regular file is dup'ed
 *    (sharing the program's offset, so neither overwrites the other); a
 *    socket (systemd's journal) is dup'ed and written with send(2) and
 *    MSG_DONTWAIT|MSG_NOSIGNAL. Without /proc a pipe falls back to a dup,
 *    whose writes block when the program's descriptor is blocking.
 *  - a file: O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC|O_NOFOLLOW|O_NONBLOCK,
 *    0600. A symbolic link is refused; so is anything that is not a
 *    regular file, a FIFO (with a reader) or a character device. Rotation:
 *    at most once a second, on a line, the path is compared with the
 *    open file; when it names another file or none (`mv log log.1`), the
 *    path is opened (created) again into the same descriptor number.
 *  - syslog: an AF_UNIX datagram socket connected to /dev/log.
 * Every private descriptor is close-on-exec and sits at a high number
 * (>= 900, or 7/8 of RLIMIT_NOFILE when that is lower), away from the
 * lowest free numbers the program expects to get. Internally backstop
 * closes and connects through raw system calls, never through the
 * interposed wrappers. */
int bs_log_open(struct bs_log *log, const struct bs_global *g, const char *prog,
		struct bs_error *err);
void bs_log_close(struct bs_log *log);

/* Whether lines go anywhere. */
static inline bool bs_log_on(const struct bs_log *log)
{
	return __atomic_load_n(&log->fd, __ATOMIC_RELAXED) >= 0 || log->via;
}

/* The sink descriptor, or -1 (a relaxed atomic load: bs_log_move may
 * change it while other threads log). */
static inline int bs_log_fd(const struct bs_log *log)
{
	return __atomic_load_n(&log->fd, __ATOMIC_RELAXED);
}

/* Re-home the sink descriptor before the program closes or dup2()s over
 * its number (close, dup2/dup3, close_range, closefrom wrappers): dup it
 * to a new high number (bs_log_move) or to the lowest free number >=
 * min_fd (bs_log_move_to, e.g. above a close_range), then close the old
 * one. Returns the new descriptor. If no descriptor can be had the log is
 * switched off and -1 returned: a log that cannot move must not write
 * into the program's descriptor. A thread logging at that very moment may
 * still use the old number (its line is dropped, or in the worst case
 * lands in what the program just put there). */
int bs_log_move(struct bs_log *log);
int bs_log_move_to(struct bs_log *log, int min_fd);

/* Write one complete line with a single write(2)/send(2), never blocking
 * and never raising SIGPIPE. Returns 1 when all of it went out, 0 when
 * not (the caller counts the drop). Used by bs_line_emit. */
int bs_log_write(struct bs_log *log, const char *buf, size_t len);

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
/* A JSON literal already formatted by the caller: a number, true, false
 * or null (written as it is, whole or not at all). */
void bs_line_raw(struct bs_logline *line, const char *key, const char *json);
/* errno as its symbolic name ("ECONNREFUSED"); unknown ones as a number. */
void bs_line_errno(struct bs_logline *line, const char *key, int err);
/* Close the line and write it with one write(2); a line that cannot be
 * written is counted in log->dropped, never retried and never blocks.
 * A line that grew past BS_LOG_LINE_MAX had string values cut (at a
 * character boundary) or fields left out, and carries "truncated":true.
 * The first line written after drops carries "dropped":N (lines lost
 * since the last report). A line is emitted once. */
void bs_line_emit(struct bs_logline *line, struct bs_log *log);

/* JSON-escape src into dst (at most cap bytes, always NUL-terminated);
 * returns the length written. Exposed for tests and fuzzing. */
size_t bs_json_escape(char *dst, size_t cap, const char *src, size_t len);

/* Async-signal-safe number formatting (no stdio, no locale); dst needs 21
 * bytes. Returns the length; no NUL is written. */
size_t bs_fmt_u64(char *dst, uint64_t v);

/* "2026-11-22T13:04:29.123456Z" for a UTC time, without gmtime (it is
 * not async-signal-safe). dst needs BS_RFC3339_LEN + 1 bytes; NUL-ended.
 * Years outside 0000..9999 are clamped. */
#define BS_RFC3339_LEN 27
size_t bs_format_rfc3339(char *dst, int64_t sec, uint32_t usec);

#endif
