/* One attempt of a managed outbound connect (see outbound.c for the
 * call): bounded by the watchdog, or by SO_SNDTIMEO where no watch can be
 * had (unix sockets), or by ppoll under `nonblocking = sync`; an attempt
 * that timed out or failed in flight is dissolved with connect(AF_UNSPEC),
 * so the descriptor can try again. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include "preload/async.h"
#include "preload/eintr.h"
#include "preload/outcall.h"

/* Rounded up: a bound is never shortened to 0, which means "forever". */
static struct timeval ns_timeval(bs_ns ns)
{
	bs_ns us = ns / 1000 + (ns % 1000 != 0);
	return (struct timeval){ .tv_sec = (time_t)(us / 1000000),
				 .tv_usec = (suseconds_t)(us % 1000000) };
}

/* Dissolve a TCP attempt still in flight: sends RST, back to CLOSED. */
static void dissolve(int fd)
{
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	BS_REAL(connect)(fd, &unspec, sizeof unspec);
}

/* Dissolve an attempt still in flight. A unix socket never stays
 * half-connected. */
static void abort_attempt(const struct outbound *o)
{
	if (o->sa->sa_family != AF_UNIX)
		dissolve(o->fd);
}

/* connect with SO_SNDTIMEO set to the bound: 0 or the raw errno. A
 * socket timeout makes connect return EINTR even after an SA_RESTART
 * handler, or after a stop and continue with no handler at all; a plain
 * blocking connect would have been restarted, so it is resumed (calling
 * connect again waits for the one in flight, and says EALREADY if the
 * bound runs out) unless the program set its own timeout (then EINTR is
 * what it would get without backstop too). Inlined into both callers: on
 * a first-try success its call and frame were a tenth of what the
 * managed connect adds. */
static inline __attribute__((always_inline)) int
bounded_attempt(struct outbound *o, bs_ns bound, bool sigcont_held)
{
	/* A send timeout the program set bounds each attempt too. */
	bs_ns own = timeval_ns(o->program_timeout);
	bs_ns now = o->clock; /* what the bound was computed from: no clock read */
	bs_ns end = now + (own != 0 ? min_ns(own, bound) : bound);
	bool resumed = false;
	for (;;) {
		if (resumed && (now = bs_now()) >= end)
			return EINPROGRESS;
		struct timeval tv = ns_timeval(end > now ? end - now : 1);
		if (setsockopt(o->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
			return errno;
		o->timeout_replaced = true;
		int err = BS_REAL(connect)(o->fd, o->sa, o->len) == 0 ? 0 : errno;
		if (resumed && err == EALREADY)
			return EINPROGRESS;
		if (err != EINTR || own != 0 ||
		    !((sigcont_held && bs_sigcont_only_continued()) || bs_handlers_restart()))
			return err;
		resumed = true;
	}
}

/* A bounded attempt with a stop and continue held off the thread's
 * EINTR (preload/eintr.h) when the program has no send timeout of its
 * own. Not a socket: connect itself says so. */
static int connect_bounded(struct outbound *o, bs_ns bound)
{
	if (!program_timeout(o))
		return BS_REAL(connect)(o->fd, o->sa, o->len) == 0 ? 0 : errno;
	sigset_t before;
	bool held = timeval_ns(o->program_timeout) == 0 && bs_sigcont_hold(&before);
	int err = bounded_attempt(o, bound, held);
	if (held)
		pthread_sigmask(SIG_SETMASK, &before, NULL);
	return err;
}

/* A watched attempt the watchdog aborted: put the program's send timeout
 * back and dissolve what is left; the connect's own result (ECONNRESET,
 * or a success that came too late) no longer counts. The socket carried
 * the watchdog's short timeout meanwhile, so EINTR is decided as for a
 * socket timeout (connect_bounded). */
int bs_attempt_aborted(int fd, int err, const struct timeval *own)
{
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, own, sizeof *own);
	dissolve(fd);
	bool interrupted = err == EINTR && (timeval_ns(*own) != 0 || !bs_handlers_restart());
	return interrupted ? EINTR : ETIMEDOUT;
}

/* A thread cancelled in a watched connect: the attempt ends there, so
 * its slot is disarmed now, as on a return. Left armed until the thread
 * exits (after the program's own cleanup handlers), it let the watchdog
 * shut down a socket that reused the number meanwhile. An attempt the
 * watchdog claimed first is settled as on a return. */
void bs_attempt_cancelled(void *w)
{
	int saved = errno;
	watched_outcome(bs_watch_fd(w), 0, w);
	errno = saved;
}

/* One blocking attempt within `bound` (from o->clock): 0 or the raw errno;
 * EINPROGRESS (EAGAIN, unix) when the socket timeout ended it, ETIMEDOUT
 * (dissolved) when the watchdog did. Watched, the program's SO_SNDTIMEO
 * still bounds it too, and the kernel restarts it after an SA_RESTART
 * handler as it would a plain connect. */
static int connect_attempt(struct outbound *o, bs_ns bound)
{
	struct bs_watch *w;
	if (o->sa->sa_family == AF_UNIX ||
	    (w = bs_watch_begin(o->fd, o->clock, o->clock + bound)) == NULL)
		return connect_bounded(o, bound);
	return watched_connect(w, o->fd, o->sa, o->len);
}

/* A blocking attempt's outcome: the bound expiring is ETIMEDOUT. */
static int blocking_outcome(const struct outbound *o, int err)
{
	if (err == EINPROGRESS || (err == EAGAIN && o->sa->sa_family == AF_UNIX)) {
		abort_attempt(o);
		return ETIMEDOUT;
	}
	return err;
}

/* Wait, within the bound, for a nonblocking connect in progress. */
static int finish_nonblocking(const struct outbound *o, bs_ns bound)
{
	struct pollfd p = { .fd = o->fd, .events = POLLOUT };
	struct timespec ts = bs_timespec(bound);
	int ready = BS_REAL(ppoll)(&p, 1, &ts, NULL);
	int err = ready < 0 ? errno : ready == 0 ? ETIMEDOUT : 0;
	if (ready > 0) {
		socklen_t len = sizeof err;
		if (BS_REAL(getsockopt)(o->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
	}
	/* Also after EINTR: the program asked for a finished connect, so it
	 * must be able to call connect again on this socket. */
	if (err != 0)
		abort_attempt(o);
	return err;
}

static int attempt_nonblocking(const struct outbound *o, bs_ns bound)
{
	if (BS_REAL(connect)(o->fd, o->sa, o->len) == 0)
		return 0;
	return errno == EINPROGRESS ? finish_nonblocking(o, bound) : errno;
}

int bs_attempt_first(struct outbound *o, bs_ns bound, bs_ns start)
{
	int err = o->premade >= 0 ? o->premade : connect_attempt(o, bound);
	if (err == 0)
		return 0;
	if (!nonblocking(o))
		return blocking_outcome(o, err);
	if (o->rule->nonblocking == BS_NB_PASS) {
		o->passed = true;
		return err;
	}
	if (o->rule->nonblocking == BS_NB_ASYNC) {
		o->async = true;
		return err == EINPROGRESS || is_stream(o)
			       ? bs_async_begin(o->rt, o->rule, o->fd, o->sa, o->len, start, err)
			       : err;
	}
	return err == EINPROGRESS ? finish_nonblocking(o, bound) : err;
}

/* failover = next: a retry goes to the name's next address (resolved.h). */
static void next_address(struct outbound *o)
{
	if (o->rule->failover == BS_FAILOVER_NEXT &&
	    bs_resolved_next(o->resolved, o->fd, &o->sa, &o->len))
		bs_dest_format(o->dest, sizeof o->dest, o->sa, o->len);
}

int bs_attempt_io(void *ctx, bs_ns bound)
{
	struct outbound *o = ctx;
	if (o->replay) {
		o->replay = false;
		return o->first_err;
	}
	next_address(o);
	return nonblocking(o) ? attempt_nonblocking(o, bound)
			      : blocking_outcome(o, connect_attempt(o, bound));
}
