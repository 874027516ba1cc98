/* Timeouts of the readiness calls as backstop's wait loops see them
 * (poll.c, select.c, epoll.c): nanoseconds, BS_WAIT_FOREVER for none. */
#ifndef BS_WAIT_H
#define BS_WAIT_H

#include <stdbool.h>
#include <time.h>

#include "engine/asyncconn.h"
#include "preload/runtime.h"

/* Whether the kernel would accept this timeout (NULL: none). An invalid
 * one goes to the real call untouched, for its EINVAL. */
static inline bool bs_timeout_valid(const struct timespec *t)
{
	return t == NULL || (t->tv_sec >= 0 && t->tv_nsec >= 0 && t->tv_nsec < (long)BS_SEC);
}

static inline bs_ns bs_timeout_ns(const struct timespec *t)
{
	if (t == NULL || (uint64_t)t->tv_sec >= BS_WAIT_FOREVER / BS_SEC - 1)
		return BS_WAIT_FOREVER;
	return (bs_ns)t->tv_sec * BS_SEC + (bs_ns)t->tv_nsec;
}

/* A slice of ns as the timeout argument of a real call: NULL for none. */
static inline const struct timespec *bs_slice(struct timespec *ts, bs_ns ns)
{
	if (ns == BS_WAIT_FOREVER)
		return NULL;
	*ts = bs_timespec(ns);
	return ts;
}

/* Milliseconds for epoll_wait and poll, rounded up so that a wait cut at
 * a due time never wakes before it; -1 for none. */
static inline int bs_slice_ms(bs_ns ns)
{
	if (ns == BS_WAIT_FOREVER || ns / BS_MS >= (bs_ns)INT32_MAX)
		return -1;
	return (int)((ns + BS_MS - 1) / BS_MS);
}

#endif
