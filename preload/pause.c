/* The pause between attempts of a retried call that blocks (connect,
 * getaddrinfo, the wrapped calls): see runtime.h. */
#include <errno.h>
#include <pthread.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "preload/real.h"
#include "preload/runtime.h"
#include "preload/watchdog.h"

/* The backoff pause must end as a plain blocking call would after a
 * signal: restarted by the kernel after a handler installed with
 * SA_RESTART, ended with EINTR after any other. clock_nanosleep (and a
 * futex wait with a timeout) always ends with EINTR. So the pause is a
 * watch with no socket: the thread waits on a futex with no timeout
 * (restartable) and the watchdog wakes it at the end (watchdog.h). It
 * holds no descriptor: a pause on a timerfd read whatever the number
 * named when the read began, and a double close in another thread of the
 * program could make that a pipe nobody writes to, blocking past the
 * deadline (test_fault_pause.sh). Where no watch can be had (nested in a
 * signal handler that interrupted this thread's watch, or no watchdog),
 * it is that timerfd read; without a descriptor to spare,
 * clock_nanosleep. A handler without SA_RESTART makes the call end (with
 * the last real error: see bs_retry_run).
 *
 * A delay of 0 (base = 0, or full jitter drawing 0) is no pause at all:
 * an it_value of zero would disarm the timer, and the read would never
 * return. bs_timespec is exact, so any delay > 0 arms it. */

/* The wait is a cancellation point (as the read was): a cancelled thread
 * disarms its watch, or its timer is closed. */
static void end_watch(void *w)
{
	struct timeval unused; /* a watch with no socket is never aborted */
	bs_watch_end(w, &unused);
}

static void close_timer(void *arg)
{
	BS_REAL(close)(*(const int *)arg);
}

static int pause_timerfd(bs_ns delay)
{
	struct timespec ts = bs_timespec(delay);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (tfd < 0)
		return BS_REAL(clock_nanosleep)(CLOCK_MONOTONIC, 0, &ts, NULL) == EINTR ? EINTR : 0;
	struct itimerspec timer = { .it_value = ts };
	uint64_t expirations;
	int err = 0;
	pthread_cleanup_push(close_timer, &tfd);
	if (timerfd_settime(tfd, 0, &timer, NULL) == 0 &&
	    BS_REAL(read)(tfd, &expirations, sizeof expirations) < 0)
		err = errno;
	pthread_cleanup_pop(1);
	return err == EINTR ? EINTR : 0;
}

int bs_pause_io(void *ctx, bs_ns delay)
{
	(void)ctx;
	if (delay == 0)
		return 0;
	int saved = errno;
	bs_ns now = bs_now();
	struct bs_watch *w = bs_watch_begin(-1, now, now + delay);
	/* Only the watchdog ends this wait: in a child of a raw clone system
	 * call, which inherits "running" with no thread, it would never end. */
	if (w != NULL && !bs_watchdog_here()) {
		end_watch(w);
		w = NULL;
	}
	if (w == NULL)
		return pause_timerfd(delay);
	int err;
	pthread_cleanup_push(end_watch, w);
	err = bs_watch_wait(w);
	pthread_cleanup_pop(1);
	errno = saved;
	return err;
}
