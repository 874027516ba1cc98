/* poll and ppoll: a descriptor whose asynchronous connect is pending is
 * never reported ready while a retry is pending, and the wait is cut at
 * the connect's next due time, the retry advanced, and the wait resumed
 * for the rest of the program's time (see async.h). With no pending
 * connect among the descriptors, the real call is made as it is.
 *
 * A poll with no descriptors is a sleep (nfds 0, a timeout): the [sleep]
 * policy applies to it as to nanosleep. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>

#include "engine/asyncconn.h"
#include "preload/async.h"
#include "preload/real.h"
#include "preload/wait.h"

/* Descriptors between attempts are hidden from the kernel by negating
 * them (the kernel ignores negative numbers); this many per call. */
#define HIDDEN_MAX 256

struct poll_call {
	struct pollfd *fds;
	nfds_t n;
	const sigset_t *mask;
	nfds_t hidden[HIDDEN_MAX];
	unsigned n_hidden;
};

/* Advance the pending connects of the call's descriptors; hide those
 * between attempts. Returns whether any is pending, *due the earliest
 * time one needs backstop. */
static bool prepare(struct poll_call *c, bs_ns now, bs_ns *due)
{
	bool involved = false;
	*due = BS_WAIT_FOREVER;
	c->n_hidden = 0;
	for (nfds_t i = 0; i < c->n; i++) {
		bs_ns d = BS_WAIT_FOREVER;
		enum bs_async_view v = bs_async_tick(c->fds[i].fd, now, &d);
		if (v == BS_ASYNC_NONE)
			continue;
		involved = true;
		*due = d < *due ? d : *due;
		if (v == BS_ASYNC_BACKOFF && c->n_hidden < HIDDEN_MAX) {
			c->hidden[c->n_hidden++] = i;
			c->fds[i].fd = ~c->fds[i].fd;
		}
	}
	return involved;
}

/* Undo the hiding and filter what the kernel reported; returns how many
 * descriptors the program may see as ready. */
static int filter(struct poll_call *c, int ready, bs_ns now)
{
	for (unsigned j = 0; j < c->n_hidden; j++) {
		struct pollfd *p = &c->fds[c->hidden[j]];
		p->fd = ~p->fd;
		p->revents = 0;
	}
	for (nfds_t i = 0; ready > 0 && i < c->n; i++) {
		struct pollfd *p = &c->fds[i];
		if (p->revents == 0)
			continue;
		switch (bs_async_event(p->fd, (unsigned short)p->revents, now)) {
		case BS_ASYNC_IN_FLIGHT:
		case BS_ASYNC_BACKOFF:
			p->revents = 0;
			ready--;
			break;
		case BS_ASYNC_FAILED:
			p->revents |= POLLERR;
			break;
		case BS_ASYNC_NONE:
			break;
		}
	}
	return ready;
}

/* Whether any of the descriptors has a pending connect: when none does,
 * the call is the real one with nothing added. */
static bool any_pending(const struct pollfd *fds, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		if (bs_async_has(fds[i].fd))
			return true;
	return false;
}

static int poll_managed(struct poll_call *c, const struct timespec *timeout)
{
	bs_ns now = bs_now();
	const bs_ns end = bs_wait_end(now, bs_timeout_ns(timeout));
	struct timespec ts;
	for (;;) {
		bs_ns due;
		/* None pending (any more): the rest of the wait is the kernel's. */
		if (!prepare(c, now, &due))
			return BS_REAL(ppoll)(c->fds, c->n,
					      bs_slice(&ts, bs_wait_slice(now, end, BS_WAIT_FOREVER)),
					      c->mask);
		int r = BS_REAL(ppoll)(c->fds, c->n,
				       bs_slice(&ts, bs_wait_slice(now, end, due)), c->mask);
		int saved = errno;
		now = bs_now();
		if (r < 0) {
			filter(c, 0, now);
			errno = saved;
			return r;
		}
		r = filter(c, r, now);
		errno = saved;
		if (r > 0 || now >= end)
			return r;
	}
}

/* nfds 0 with a timeout: a sleep. */
static bool sleep_adjusted(nfds_t n, const struct timespec *timeout, struct timespec *adj)
{
	return n == 0 && timeout != NULL && bs_sleep_adjusted(timeout, adj);
}

BS_EXPORT int poll(struct pollfd *fds, nfds_t n, int ms)
{
	if (__builtin_expect(!bs_async_any() && n != 0, 1))
		return BS_REAL(poll)(fds, n, ms);
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	struct timespec adj;
	if (ms >= 0 && sleep_adjusted(n, &ts, &adj))
		return BS_REAL(ppoll)(fds, n, &adj, NULL);
	if (!bs_async_any() || n == 0 || !any_pending(fds, n))
		return BS_REAL(poll)(fds, n, ms);
	struct poll_call c; /* not zeroed: hidden[] is large and filled as used */
	c.fds = fds;
	c.n = n;
	c.mask = NULL;
	return poll_managed(&c, ms >= 0 ? &ts : NULL);
}

BS_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
		    const sigset_t *mask)
{
	if (__builtin_expect(!bs_async_any() && n != 0, 1))
		return BS_REAL(ppoll)(fds, n, timeout, mask);
	struct timespec adj;
	if (sleep_adjusted(n, timeout, &adj))
		return BS_REAL(ppoll)(fds, n, &adj, mask);
	if (!bs_async_any() || n == 0 || !bs_timeout_valid(timeout) || !any_pending(fds, n))
		return BS_REAL(ppoll)(fds, n, timeout, mask);
	struct poll_call c;
	c.fds = fds;
	c.n = n;
	c.mask = mask;
	return poll_managed(&c, timeout);
}
