/* epoll_ctl, epoll_wait, epoll_pwait and epoll_pwait2. Registrations are
 * followed (epreg.h) so that an event, which carries only the program's
 * data (a pointer, a number), can be mapped back to a descriptor whose
 * asynchronous connect is pending; such events are hidden while a retry
 * is pending, and the wait is cut at the connect's due time and resumed
 * for the rest of the program's time, as in poll.c. A descriptor between
 * attempts is parked (epreg.h), so a level-triggered registration of its
 * dissolved socket does not wake the wait over and over; put back, it is
 * re-armed (EPOLLONESHOT) and, the next attempt being a new connection,
 * produces a fresh edge (EPOLLET).
 *
 * A pending descriptor in a set nested in this one (one level) cuts the
 * wait too, so that its retries advance; its events are filtered by the
 * wait on the inner set. With no pending connect involved, the real call
 * is made as it is. Two descriptors registered in one set with the same
 * data cannot be told apart: the first pending one is assumed. */
#include <errno.h>
#include <sys/epoll.h>

#include "preload/async.h"
#include "preload/epreg.h"
#include "preload/real.h"
#include "preload/wait.h"

#define INVOLVED_MAX 256

struct involved {
	int fd;
	bool direct;   /* registered in this set (else in a nested one) */
	uint64_t data; /* direct: the registration's data */
};

struct epoll_call {
	int epfd;
	struct epoll_event *events;
	int max;
	const sigset_t *mask;
	/* The program's own timeout, for a call that involves nothing pending. */
	bool pwait2;
	int ms;
	const struct timespec *ts;
	bs_ns now;
	bs_ns due;
	struct involved inv[INVOLVED_MAX];
	unsigned n_inv;
};

static void collect(int fd, void *ctx)
{
	struct epoll_call *c = ctx;
	struct involved *in = &c->inv[c->n_inv];
	if (c->n_inv == INVOLVED_MAX)
		return;
	in->fd = fd;
	in->direct = bs_epreg_find(fd, c->epfd, &in->data);
	if (!in->direct) {
		int sets[BS_EPREG_MAX];
		unsigned n = bs_epreg_sets(fd, sets, BS_EPREG_MAX);
		uint64_t ignored;
		bool nested = false;
		for (unsigned i = 0; i < n && !nested; i++)
			nested = bs_epreg_find(sets[i], c->epfd, &ignored);
		if (!nested)
			return;
	}
	c->n_inv++;
}

/* The pending descriptors this wait involves, advanced to `now`. */
static bool prepare(struct epoll_call *c)
{
	c->n_inv = 0;
	c->due = BS_WAIT_FOREVER;
	bs_async_each(collect, c);
	unsigned kept = 0;
	for (unsigned j = 0; j < c->n_inv; j++) {
		bs_ns d = BS_WAIT_FOREVER;
		if (bs_async_tick(c->inv[j].fd, c->now, &d) == BS_ASYNC_NONE)
			continue;
		c->due = d < c->due ? d : c->due;
		c->inv[kept++] = c->inv[j];
	}
	c->n_inv = kept;
	return kept != 0;
}

/* Whether any pending descriptor is in this set (or one nested in it). */
static bool involved_at_all(struct epoll_call *c)
{
	c->n_inv = 0;
	bs_async_each(collect, c);
	return c->n_inv != 0;
}

static const struct involved *owner(const struct epoll_call *c, uint64_t data)
{
	for (unsigned j = 0; j < c->n_inv; j++)
		if (c->inv[j].direct && c->inv[j].data == data)
			return &c->inv[j];
	return NULL;
}

/* Drop the events the program may not see; returns how many are left. */
static int filter(struct epoll_call *c, int ready)
{
	int kept = 0;
	for (int i = 0; i < ready; i++) {
		struct epoll_event ev = c->events[i];
		const struct involved *in = owner(c, ev.data.u64);
		if (in != NULL) {
			switch (bs_async_event(in->fd, ev.events, c->now)) {
			case BS_ASYNC_IN_FLIGHT:
				/* Stale (an attempt already handled): a one-shot
				 * registration it disarmed is armed again. */
				bs_epreg_rearm(in->fd, c->epfd);
				continue;
			case BS_ASYNC_BACKOFF:
				continue;
			case BS_ASYNC_FAILED:
				ev.events |= EPOLLERR;
				break;
			case BS_ASYNC_NONE:
				break;
			}
		}
		c->events[kept++] = ev;
	}
	return kept;
}

/* The wait, cut at the due times, until the program's end. After each
 * wait the involved descriptors are collected afresh: another thread may
 * have started a connect on a descriptor of this set, or registered a
 * pending one in it, meanwhile (its parked registration wakes the wait
 * once with the hang-up, hidden here). */
static int wait_loop(struct epoll_call *c, bs_ns end)
{
	for (;;) {
		bool involved = prepare(c);
		bs_ns slice = bs_wait_slice(c->now, end, involved ? c->due : BS_WAIT_FOREVER);
		int r = BS_REAL(epoll_pwait)(c->epfd, c->events, c->max, bs_slice_ms(slice), c->mask);
		int saved = errno;
		c->now = bs_now();
		if (r > 0 && involved_at_all(c)) {
			involved = true;
			r = filter(c, r);
		}
		errno = saved;
		if (r != 0 || !involved || c->now >= end)
			return r;
	}
}

/* Whether a wait that involved nothing pending when it began must be
 * looked at again (see woken). */
static inline bool fast_woken(int r)
{
	return __builtin_expect(r > 0, 1) && bs_async_any();
}

/* A wait that began with no pending connect in its set (or in the whole
 * process: the wrappers' fast path) returned r events, and one is pending
 * now: another thread connected meanwhile, maybe on a descriptor of this
 * set. Hide what the program may not see. With nothing left, a wait
 * without a timeout goes on, cut at the due times; one with a timeout
 * returns 0, since when it began is unknown (no clock is read before a
 * wait that involves nothing) and waiting again could outlast the
 * program's timeout. */
static int woken(struct epoll_call *c, int r, bool forever)
{
	int saved = errno;
	c->now = bs_now();
	if (involved_at_all(c))
		r = filter(c, r);
	errno = saved;
	if (r != 0 || !forever)
		return r;
	return wait_loop(c, BS_WAIT_FOREVER);
}

static int wait_managed(struct epoll_call *c, bs_ns timeout)
{
	/* No pending descriptor in this set: the real call, nothing added. */
	if (!involved_at_all(c)) {
		int r = c->pwait2 ? BS_REAL(epoll_pwait2)(c->epfd, c->events, c->max, c->ts, c->mask)
				  : BS_REAL(epoll_pwait)(c->epfd, c->events, c->max, c->ms, c->mask);
		return fast_woken(r) ? woken(c, r, timeout == BS_WAIT_FOREVER) : r;
	}
	c->now = bs_now();
	return wait_loop(c, bs_wait_end(c->now, timeout));
}

static bs_ns ms_ns(int ms)
{
	return ms < 0 ? BS_WAIT_FOREVER : (bs_ns)ms * BS_MS;
}

/* Not zeroed: inv[] is large and filled as used. */
static void call_init(struct epoll_call *c, int epfd, struct epoll_event *events, int max,
		      const sigset_t *mask, int ms, const struct timespec *ts, bool pwait2)
{
	c->epfd = epfd;
	c->events = events;
	c->max = max;
	c->mask = mask;
	c->ms = ms;
	c->ts = ts;
	c->pwait2 = pwait2;
}

BS_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	return bs_epreg_ctl(BS_REAL(epoll_ctl), epfd, op, fd, ev);
}

/* The wrappers' slow paths, out of line so that the fast path's frame
 * holds no struct epoll_call (inv[] is large). */
static __attribute__((noinline)) int managed(int epfd, struct epoll_event *events, int max,
					     const sigset_t *mask, int ms,
					     const struct timespec *ts, bool pwait2, bs_ns timeout)
{
	struct epoll_call c;
	call_init(&c, epfd, events, max, mask, ms, ts, pwait2);
	return wait_managed(&c, timeout);
}

static __attribute__((noinline, cold)) int
fast_path_woken(int r, int epfd, struct epoll_event *events, int max, const sigset_t *mask,
		int ms, const struct timespec *ts, bool pwait2, bool forever)
{
	struct epoll_call c;
	call_init(&c, epfd, events, max, mask, ms, ts, pwait2);
	return woken(&c, r, forever);
}

BS_EXPORT int epoll_wait(int epfd, struct epoll_event *events, int max, int ms)
{
	if (__builtin_expect(!bs_async_any(), 1) || max <= 0) {
		int r = BS_REAL(epoll_wait)(epfd, events, max, ms);
		if (__builtin_expect(!fast_woken(r), 1))
			return r;
		return fast_path_woken(r, epfd, events, max, NULL, ms, NULL, false, ms < 0);
	}
	return managed(epfd, events, max, NULL, ms, NULL, false, ms_ns(ms));
}

BS_EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int max, int ms,
			  const sigset_t *mask)
{
	if (__builtin_expect(!bs_async_any(), 1) || max <= 0) {
		int r = BS_REAL(epoll_pwait)(epfd, events, max, ms, mask);
		if (__builtin_expect(!fast_woken(r), 1))
			return r;
		return fast_path_woken(r, epfd, events, max, mask, ms, NULL, false, ms < 0);
	}
	return managed(epfd, events, max, mask, ms, NULL, false, ms_ns(ms));
}

BS_EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int max,
			   const struct timespec *ts, const sigset_t *mask)
{
	int (*real)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *) =
		BS_REAL(epoll_pwait2);
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (__builtin_expect(!bs_async_any(), 1) || max <= 0 || !bs_timeout_valid(ts)) {
		int r = real(epfd, events, max, ts, mask);
		if (__builtin_expect(!fast_woken(r), 1))
			return r;
		return fast_path_woken(r, epfd, events, max, mask, 0, ts, true, ts == NULL);
	}
	return managed(epfd, events, max, mask, 0, ts, true, bs_timeout_ns(ts));
}
