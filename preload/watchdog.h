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
 * the bound; the caller puts the program's value back.
 *
 * A slot armed with no socket (fd -1) is a pause (preload/pause.c): the
 * watchdog only wakes its thread at the end (bs_watch_wait). */
#ifndef BS_WATCHDOG_H
#define BS_WATCHDOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "preload/runtime.h"

/* One thread's slot. `end`: BS_WATCH_IDLE, BS_WATCH_ARMING (being filled
 * in), BS_WATCH_CLAIMED (the watchdog is aborting it), or the end of the
 * attempt in flight. The rest is private to watchdog.c; it is here so that
 * arming and disarming inline into the connect wrapper. */
struct bs_watch {
	_Atomic bs_ns end;
	_Atomic int fd;
	_Atomic uint32_t verdict;    /* futex word: pending (0, between aborts), aborted, left */
	_Atomic uint32_t arms;       /* bumped per attempt: the watchdog sees activity */
	_Atomic bs_ns bound;         /* the latest attempt's length */
	_Atomic bool owned;
	struct timeval program_timeout; /* saved by an abort */
} __attribute__((aligned(64)));

#define BS_WATCH_IDLE 0
#define BS_WATCH_ARMING 1
#define BS_WATCH_CLAIMED 2
#define BS_WATCH_RUNNING 2 /* bs_watch_state */

extern __thread struct bs_watch *bs_watch_mine __attribute__((tls_model("initial-exec")));
extern _Atomic int bs_watch_state;
extern _Atomic bs_ns bs_watch_wake_at;

struct bs_watch *bs_watch_begin_slow(int fd, bs_ns now, bs_ns end);
void bs_watch_kick(void);
bool bs_watch_settle(struct bs_watch *w, struct timeval *program_timeout);

/* Wait, with no timeout, until the watchdog has ended w, armed with no
 * socket: 0, or EINTR when a signal handler installed without SA_RESTART
 * interrupted the wait (the kernel restarts it after one with SA_RESTART,
 * as it does a blocking read). A cancellation point: a cancelled thread
 * unwinds from inside it, so the caller's cleanup handler must disarm w.
 * The caller ends the watch with bs_watch_end either way. */
int bs_watch_wait(struct bs_watch *w);
/* Whether the watchdog thread runs in this very process (a system call:
 * for waits that only it can end, not for the connect fast path). */
bool bs_watchdog_here(void);

/* Watch a connect on fd begun at `now` that must end by `end`
 * (CLOCK_MONOTONIC ns). NULL when no watch can be had: nested in a signal
 * handler that interrupted a watched connect of this thread, no thread
 * could be started, or more threads connect at once than there are slots.
 * The caller then bounds the attempt another way. */
static inline struct bs_watch *bs_watch_begin(int fd, bs_ns now, bs_ns end)
{
	struct bs_watch *w = bs_watch_mine;
	bs_ns idle = BS_WATCH_IDLE;
	if (__builtin_expect(w == NULL ||
			     atomic_load_explicit(&bs_watch_state, memory_order_acquire) !=
				     BS_WATCH_RUNNING, 0))
		return bs_watch_begin_slow(fd, now, end);
	if (!atomic_compare_exchange_strong(&w->end, &idle, BS_WATCH_ARMING))
		return NULL;
	atomic_store_explicit(&w->fd, fd, memory_order_relaxed);
	atomic_store_explicit(&w->arms, atomic_load_explicit(&w->arms, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&w->bound, end - now, memory_order_relaxed);
	atomic_store(&w->end, end > BS_WATCH_CLAIMED ? end : BS_WATCH_CLAIMED + 1);
	if (__builtin_expect(end < atomic_load(&bs_watch_wake_at), 0))
		bs_watch_kick();
	return w;
}

/* The descriptor a slot watches (or watched last). */
static inline int bs_watch_fd(struct bs_watch *w)
{
	return atomic_load_explicit(&w->fd, memory_order_relaxed);
}

/* The watched connect returned. true: the watchdog aborted it (its
 * socket was shut down and must be dissolved with connect(AF_UNSPEC));
 * *program_timeout then holds the SO_SNDTIMEO to put back. false: the
 * watchdog left the socket alone. */
static inline bool bs_watch_end(struct bs_watch *w, struct timeval *program_timeout)
{
	bs_ns v = atomic_load_explicit(&w->end, memory_order_relaxed);
	if (__builtin_expect(v != BS_WATCH_CLAIMED, 1) &&
	    atomic_compare_exchange_strong(&w->end, &v, BS_WATCH_IDLE))
		return false;
	return bs_watch_settle(w, program_timeout);
}

#endif
