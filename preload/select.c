/* select and pselect: as poll.c, over fd_sets. A descriptor between
 * attempts is taken out of the sets the kernel sees; a pending one the
 * kernel reports is probed (select cannot tell a failed connect from a
 * finished one: both are writable) and hidden while a retry is pending.
 * select's timeout is updated with the time left, as Linux does; pselect
 * leaves it alone, as glibc does.
 *
 * A select with no descriptors is a sleep (perl's select(undef, undef,
 * undef, t)): the [sleep] policy applies to it as to nanosleep. Sets
 * larger than MANAGED_FDS are left to the kernel. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/select.h>

#include "preload/async.h"
#include "preload/real.h"
#include "preload/wait.h"

#define MANAGED_FDS 8192

typedef unsigned long word_t; /* fd_set's bits, as glibc lays them out */
#define WBITS (8 * sizeof(word_t))
#define WORDS(n) (((size_t)(n) + WBITS - 1) / WBITS)

struct select_call {
	int n;
	word_t *sets[3]; /* read, write, except: the program's (may be NULL) */
	word_t saved[3][MANAGED_FDS / WBITS];
	const sigset_t *mask;
};

static bool has(const word_t *set, int fd)
{
	return set != NULL && (set[fd / WBITS] >> (fd % WBITS)) & 1;
}

static void drop(word_t *set, int fd)
{
	if (set != NULL)
		set[fd / WBITS] &= ~((word_t)1 << (fd % WBITS));
}

static bool asked(const struct select_call *c, int fd)
{
	for (int s = 0; s < 3; s++)
		if (c->sets[s] != NULL && has(c->saved[s], fd))
			return true;
	return false;
}

static void restore(struct select_call *c)
{
	size_t bytes = WORDS(c->n) * sizeof(word_t);
	for (int s = 0; s < 3; s++)
		if (c->sets[s] != NULL)
			memcpy(c->sets[s], c->saved[s], bytes);
}

static bool prepare(struct select_call *c, bs_ns now, bs_ns *due)
{
	bool involved = false;
	*due = BS_WAIT_FOREVER;
	for (int fd = 0; fd < c->n; fd++) {
		bs_ns d = BS_WAIT_FOREVER;
		if (!asked(c, fd))
			continue;
		enum bs_async_view v = bs_async_tick(fd, now, &d);
		if (v == BS_ASYNC_NONE)
			continue;
		involved = true;
		*due = d < *due ? d : *due;
		if (v == BS_ASYNC_BACKOFF)
			for (int s = 0; s < 3; s++)
				drop(c->sets[s], fd);
	}
	return involved;
}

/* Hide what a pending connect must not show; returns the new count. */
static int filter(struct select_call *c, int ready, bs_ns now)
{
	for (int fd = 0; ready > 0 && fd < c->n; fd++) {
		int bits = has(c->sets[0], fd) + has(c->sets[1], fd) + has(c->sets[2], fd);
		if (bits == 0)
			continue;
		/* POLLERR: probe, since select's bits cannot say how it ended. */
		enum bs_async_view v = bs_async_event(fd, POLLERR, now);
		if (v == BS_ASYNC_IN_FLIGHT || v == BS_ASYNC_BACKOFF) {
			for (int s = 0; s < 3; s++)
				drop(c->sets[s], fd);
			ready -= bits;
		}
	}
	return ready;
}

static void put_timeval(struct timeval *tv, bs_ns now, bs_ns end)
{
	bs_ns left = end > now ? end - now : 0;
	tv->tv_sec = (time_t)(left / BS_SEC);
	tv->tv_usec = (suseconds_t)(left % BS_SEC / 1000);
}

static bool any_pending(const struct select_call *c)
{
	for (int fd = 0; fd < c->n; fd++)
		for (int s = 0; s < 3; s++)
			if (c->sets[s] != NULL && has(c->sets[s], fd) && bs_async_has(fd))
				return true;
	return false;
}

static int select_managed(struct select_call *c, const struct timespec *timeout,
			  struct timeval *tv)
{
	size_t bytes = WORDS(c->n) * sizeof(word_t);
	for (int s = 0; s < 3; s++)
		if (c->sets[s] != NULL)
			memcpy(c->saved[s], c->sets[s], bytes);
	bs_ns now = bs_now();
	const bs_ns end = bs_wait_end(now, bs_timeout_ns(timeout));
	struct timespec ts;
	for (;;) {
		bs_ns due;
		bool involved = prepare(c, now, &due);
		int r = BS_REAL(pselect)(c->n, (fd_set *)c->sets[0], (fd_set *)c->sets[1],
					 (fd_set *)c->sets[2],
					 bs_slice(&ts, bs_wait_slice(now, end, involved ? due : BS_WAIT_FOREVER)),
					 c->mask);
		int saved = errno;
		now = bs_now();
		if (r < 0) {
			restore(c); /* as the kernel leaves them on an error */
			errno = saved;
			return r;
		}
		if (involved)
			r = filter(c, r, now);
		errno = saved;
		if (r > 0 || now >= end || !involved) {
			if (tv != NULL)
				put_timeval(tv, now, end);
			return r;
		}
		restore(c);
	}
}

static void select_call_init(struct select_call *c, int n, fd_set *r, fd_set *w, fd_set *e,
			     const sigset_t *mask)
{
	c->n = n;
	c->sets[0] = (word_t *)r;
	c->sets[1] = (word_t *)w;
	c->sets[2] = (word_t *)e;
	c->mask = mask;
}

static bool sleep_adjusted(int n, const struct timespec *req, struct timespec *adj)
{
	return n == 0 && req != NULL && bs_sleep_adjusted(req, adj);
}

BS_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	if (__builtin_expect(!bs_async_any() && n != 0, 1))
		return BS_REAL(select)(n, r, w, e, tv);
	bool valid = tv == NULL || (tv->tv_sec >= 0 && tv->tv_usec >= 0 && tv->tv_usec < 1000000);
	struct timespec req, adj;
	if (tv != NULL)
		req = (struct timespec){ .tv_sec = tv->tv_sec, .tv_nsec = tv->tv_usec * 1000 };
	if (valid && sleep_adjusted(n, tv ? &req : NULL, &adj)) {
		/* The kernel then updates tv as for the sleep actually taken. */
		tv->tv_sec = adj.tv_sec;
		tv->tv_usec = (suseconds_t)((adj.tv_nsec + 999) / 1000);
		return BS_REAL(select)(0, r, w, e, tv);
	}
	if (!bs_async_any() || n <= 0 || n > MANAGED_FDS || !valid)
		return BS_REAL(select)(n, r, w, e, tv);
	struct select_call c; /* not zeroed: saved[] is large and filled as used */
	select_call_init(&c, n, r, w, e, NULL);
	if (!any_pending(&c))
		return BS_REAL(select)(n, r, w, e, tv);
	return select_managed(&c, tv ? &req : NULL, tv);
}

BS_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
		      const sigset_t *mask)
{
	if (__builtin_expect(!bs_async_any() && n != 0, 1))
		return BS_REAL(pselect)(n, r, w, e, ts, mask);
	struct timespec adj;
	if (bs_timeout_valid(ts) && sleep_adjusted(n, ts, &adj))
		return BS_REAL(pselect)(0, r, w, e, &adj, mask);
	if (!bs_async_any() || n <= 0 || n > MANAGED_FDS || !bs_timeout_valid(ts))
		return BS_REAL(pselect)(n, r, w, e, ts, mask);
	struct select_call c;
	select_call_init(&c, n, r, w, e, mask);
	if (!any_pending(&c))
		return BS_REAL(pselect)(n, r, w, e, ts, mask);
	return select_managed(&c, ts, NULL);
}
