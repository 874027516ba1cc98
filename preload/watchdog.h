/* The watchdog: bounds a blocking TCP connect attempt without a system
 * call on the path where it succeeds (see docs/connect.md, "Bounding a
 * blocking attempt").
 *
 * The calling thread writes the attempt's end time into its own slot
 * (memory only); one backstop thread, started on first use, sleeps until
 * the earliest end among the armed slots and aborts an attempt still in
 * flight by then with shutdown(SHUT_RDWR), which ends a connect in
 * SYN_SENT at once (ECONNRESET) and leaves the socket CLOSED, ready for
 * another connect. It also sets the socket's SO_SNDTIMEO to the shortest
 * value first, so that a connect the kernel restarts after an SA_RESTART
 * handler (a fresh attempt, since the socket is closed) cannot outlive
 * the bound; the caller puts the program's value back. */
#ifndef BS_WATCHDOG_H
#define BS_WATCHDOG_H

#include <stdbool.h>
#include <sys/time.h>

#include "preload/runtime.h"

struct bs_watch;

/* Watch a connect on fd begun at `now` that must end by `end`
 * (CLOCK_MONOTONIC ns).
 * NULL when no watch can be had: nested in a signal handler that
 * interrupted a watched connect of this thread, no thread could be
 * started, or more threads connect at once than there are slots. The
 * caller then bounds the attempt another way. */
struct bs_watch *bs_watch_begin(int fd, bs_ns now, bs_ns end);

/* The watched connect returned. true: the watchdog aborted it (its
 * socket was shut down and must be dissolved with connect(AF_UNSPEC));
 * *program_timeout then holds the SO_SNDTIMEO to put back. false: the
 * watchdog left the socket alone. */
bool bs_watch_end(struct bs_watch *w, struct timeval *program_timeout);

#endif
