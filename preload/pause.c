/* The pause between attempts of a retried call that blocks (connect,
 * getaddrinfo, the wrapped calls): see runtime.h. */
#include <errno.h>
#include <pthread.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "preload/real.h"
#include "preload/runtime.h"

/* The backoff pause: a read from a timerfd, because a blocking read is
 * restarted by the kernel after a handler installed with SA_RESTART and
 * ends with EINTR otherwise, where clock_nanosleep (and a futex wait with
 * a timeout) always ends with EINTR. So the program's SA_RESTART choice
 * decides, as for a plain blocking connect: a restarting handler lets the
 * retries go on, any other makes the call end (with the last real error:
 * see bs_retry_run). Without a descriptor to spare, clock_nanosleep it is.
 *
 * A delay of 0 (base = 0, or full jitter drawing 0) is no pause at all: an
 * it_value of zero would disarm the timer, and the read would never
 * return. bs_timespec is exact, so any delay > 0 arms it. */
static void close_timer(void *arg)
{
	BS_REAL(close)(*(const int *)arg);
}

int bs_pause_io(void *ctx, bs_ns delay)
{
	(void)ctx;
	if (delay == 0)
		return 0;
	struct timespec ts = bs_timespec(delay);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (tfd < 0)
		return BS_REAL(clock_nanosleep)(CLOCK_MONOTONIC, 0, &ts, NULL) == EINTR ? EINTR : 0;
	struct itimerspec timer = { .it_value = ts };
	uint64_t expirations;
	int err = 0;
	/* read is a cancellation point: a cancelled thread closes it too. */
	pthread_cleanup_push(close_timer, &tfd);
	if (timerfd_settime(tfd, 0, &timer, NULL) == 0 &&
	    BS_REAL(read)(tfd, &expirations, sizeof expirations) < 0)
		err = errno;
	pthread_cleanup_pop(1);
	return err == EINTR ? EINTR : 0;
}
