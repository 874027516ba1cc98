/* The managed outbound connect (see outbound.h and docs/connect.md).
 *
 * A blocking TCP attempt is bounded by the watchdog (watchdog.h): its end
 * goes into this thread's slot, in memory; only an attempt still in flight
 * at its end costs system calls. Unix sockets (whose wait for a full
 * backlog only a socket timeout or a signal ends), and attempts no watch
 * could be had for, are bounded by SO_SNDTIMEO: the program's value is
 * saved, replaced by the bound (Linux then ends the connect with
 * EINPROGRESS for TCP, EAGAIN for unix) and put back before connect
 * returns. Under `nonblocking = sync`: connect, ppoll for POLLOUT within
 * the bound, SO_ERROR. An attempt that timed out or failed in flight is
 * dissolved with connect(AF_UNSPEC), so the descriptor can try again.
 * Under `nonblocking = async` (the default) the first attempt's result on
 * a nonblocking socket, and a capped destination's slot, are handed to
 * preload/async.c, which retries behind the program's own waits. The
 * program's file status flags are never touched.
 *
 * The first attempt is made before any per-call state exists (see
 * bs_outbound_connect): a first-try success costs no system call beyond
 * the connect, no formatting, no random numbers and no loop; otherwise
 * the loop starts by replaying its result. The rest is asked only when it
 * matters: O_NONBLOCK (F_GETFL) when the first attempt did not succeed at
 * once, at a full cap, or for io_timeout; SO_SNDTIMEO only where it is
 * replaced; SO_TYPE when a cap or io_timeout applies or the first attempt
 * failed (only stream sockets are managed; a datagram connect that fails
 * is returned as it is). A nonblocking connect returns at once, so its
 * first attempt is exactly the program's own connect, and under
 * `nonblocking = pass` its result is returned as it is. */
#include "preload/outbound.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "policy/dest.h"
#include "engine/connect_retry.h"
#include "preload/async.h"
#include "preload/eintr.h"
#include "preload/outcap.h"
#include "preload/passonce.h"
#include "preload/real.h"
#include "preload/watchdog.h"
#include "preload/resolved.h"

struct outbound {
	struct bs_runtime *rt;
	const struct bs_rule *rule;
	int fd;
	const struct sockaddr *sa;    /* this attempt's: failover may change it */
	socklen_t len;
	struct bs_resolved *resolved; /* the name sa came from, its other addresses */
	signed char nonblocking;      /* the program's O_NONBLOCK; -1: not asked yet */
	signed char stream;           /* SOCK_STREAM?; -1: not asked yet */
	bool passed;                  /* nonblocking = pass: left to the program */
	bool async;                   /* nonblocking = async: handed to preload/async.c */
	bool timeout_replaced;        /* SO_SNDTIMEO holds an attempt's bound */
	bool timeout_known;           /* program_timeout has been read */
	uint32_t slot;                /* the cap slot until settled; BS_CAP_NONE */
	struct timeval program_timeout; /* the program's SO_SNDTIMEO */
	int premade;                  /* the first attempt's result, when made before
				       * this state existed (bs_outbound_connect); -1: not */
	bs_ns deadline;               /* bound on the whole call (see call_deadline) */
	bool replay;                  /* the loop's next attempt is the first one */
	int first_err;
	bs_ns clock;                  /* the latest clock reading (see now_io) */
	char dest[BS_DEST_MAX];       /* "" until needed */
};

static bool is_stream(struct outbound *o)
{
	if (o->stream < 0) {
		int type = 0;
		socklen_t len = sizeof type;
		o->stream = BS_REAL(getsockopt)(o->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
			    type == SOCK_STREAM;
	}
	return o->stream;
}

static bool nonblocking(struct outbound *o)
{
	if (o->nonblocking < 0) {
		int flags = BS_REAL(fcntl)(o->fd, F_GETFL);
		o->nonblocking = flags >= 0 && (flags & O_NONBLOCK) != 0;
	}
	return o->nonblocking;
}

/* The program's SO_SNDTIMEO, read once where it is replaced; false: not
 * a socket. */
static bool program_timeout(struct outbound *o)
{
	if (!o->timeout_known) {
		socklen_t tl = sizeof o->program_timeout;
		if (BS_REAL(getsockopt)(o->fd, SOL_SOCKET, SO_SNDTIMEO, &o->program_timeout, &tl) != 0)
			return false;
		o->timeout_known = true;
	}
	return true;
}

static const char *dest_of(struct outbound *o)
{
	if (o->dest[0] == '\0')
		bs_dest_format(o->dest, sizeof o->dest, o->sa, o->len);
	return o->dest;
}

static bs_ns min_ns(bs_ns a, bs_ns b)
{
	return a < b ? a : b;
}

static bs_ns timeval_ns(struct timeval tv)
{
	return (bs_ns)tv.tv_sec * BS_SEC + (bs_ns)tv.tv_usec * 1000;
}

/* Rounded up: a bound is never shortened to 0, which means "forever". */
static struct timeval ns_timeval(bs_ns ns)
{
	bs_ns us = ns / 1000 + (ns % 1000 != 0);
	return (struct timeval){ .tv_sec = (time_t)(us / 1000000),
				 .tv_usec = (suseconds_t)(us % 1000000) };
}

/* ---- one attempt --------------------------------------------------------- */

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
static __attribute__((noinline, cold)) int aborted(int fd, int err, const struct timeval *own)
{
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, own, sizeof *own);
	dissolve(fd);
	bool interrupted = err == EINTR && (timeval_ns(*own) != 0 || !bs_handlers_restart());
	return interrupted ? EINTR : ETIMEDOUT;
}

/* A watched connect on fd returned err (0 or the errno): its outcome. */
static inline __attribute__((always_inline)) int
watched_outcome(int fd, int err, struct bs_watch *w)
{
	struct timeval own;
	if (__builtin_expect(!bs_watch_end(w, &own), 1))
		return err;
	return aborted(fd, err, &own);
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
	int err = BS_REAL(connect)(o->fd, o->sa, o->len) == 0 ? 0 : errno;
	return watched_outcome(o->fd, err, w);
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

/* The first attempt, made before the program's O_NONBLOCK is known (see
 * the top of this file). */
static int attempt_first(struct outbound *o, bs_ns bound, bs_ns start)
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

static int attempt_io(void *ctx, bs_ns bound)
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

/* The loop reads the clock right before each attempt and computes the
 * attempt's bound from that reading; keeping it lets the attempt know when
 * its bound ends without reading the clock again. */
static bs_ns now_io(void *ctx)
{
	struct outbound *o = ctx;
	return o->clock = bs_now();
}

/* ---- cap slot ------------------------------------------------------------ */

/* A cap wait is allowed on a blocking socket only (asked at a full cap). */
static bool may_wait(void *ctx)
{
	return !nonblocking(ctx);
}

static int acquire_slot(struct outbound *o, bs_ns start, bs_ns deadline_at, bool *waited)
{
	*waited = false;
	if (o->rule->max_conns == 0 || !is_stream(o))
		return 0;
	if (o->rule->nonblocking == BS_NB_ASYNC && nonblocking(o)) {
		/* Queued without blocking: the connect is pending (async.c). */
		int err = bs_async_cap(o->rt, o->rule, o->fd, o->sa, o->len, start,
				       deadline_at, &o->slot, waited);
		o->async = err == EINPROGRESS;
		return err;
	}
	return bs_outcap_acquire(o->rt, o->rule, o->sa, o->len, may_wait, o,
				 deadline_at, &o->slot, waited);
}

/* The socket keeps the slot when it connected or is connecting. */
static void settle_slot(struct outbound *o, bool keep)
{
	uint32_t slot = o->slot;
	o->slot = BS_CAP_NONE;
	if (slot == BS_CAP_NONE)
		return;
	if (keep)
		bs_outcap_commit(o->fd, slot);
	else
		bs_outcap_abandon(slot);
}

/* ---- nonblocking = pass -------------------------------------------------- */

static void note_pass(struct outbound *o)
{
	if (!bs_first_pass_to(dest_of(o)))
		return;
	struct bs_logline line;
	bs_line_begin(&line, &o->rt->log, "connect.pass");
	bs_line_int(&line, "fd", o->fd);
	bs_line_str(&line, "dest", o->dest);
	if (bs_resolved_name(o->resolved) != NULL)
		bs_line_str(&line, "name", bs_resolved_name(o->resolved));
	bs_line_str(&line, "rule", o->rule->name);
	bs_line_str(&line, "reason", "nonblocking");
	bs_line_emit(&line, &o->rt->log);
}

/* ---- managed: attempts with retries -------------------------------------- */

/* The rule's deadline, or a blocking socket's own SO_SNDTIMEO if shorter:
 * a program that set a send timeout asked connect to return within it, so
 * it bounds the whole call, retries included, not only each attempt.
 * O_NONBLOCK is asked only when the program set a timeout. */
static bs_ns call_deadline(struct outbound *o)
{
	if (!program_timeout(o))
		return o->rule->deadline;
	bs_ns own = timeval_ns(o->program_timeout);
	if (own != 0 && own < o->rule->deadline && !nonblocking(o))
		return own;
	return o->rule->deadline;
}

/* The loop; replay: its first attempt was made already and ended with
 * first_err. */
static int retry_loop(struct outbound *o, bs_ns start, bool waited, bool replay,
		      int first_err)
{
	const char *share;
	struct bs_guard guard;
	struct bs_guard_names names;
	struct bs_guard_table *table = bs_guard_table_of(o->rt, o->rule, &share);
	const struct bs_connect_call call = {
		.rule = o->rule,
		.rng = bs_thread_rng(),
		.log = &o->rt->log,
		.fd = o->fd,
		.dest = dest_of(o),
		.name = bs_resolved_name(o->resolved),
		.mode = nonblocking(o) ? BS_CONNECT_SYNC : BS_CONNECT_BLOCKING,
		.start = start,
		.waited = waited,
		.deadline = o->deadline,
		.guard = bs_guard_for(&guard, &names, table, o->rule, dest_of(o), share),
	};
	const struct bs_retry_io io = {
		.ctx = o, .attempt = attempt_io, .pause = bs_pause_io, .now = now_io,
	};
	o->replay = replay;
	o->first_err = first_err;
	return bs_connect_retry(&call, &io);
}

static void restore_timeout(struct outbound *o)
{
	if (o->timeout_replaced)
		setsockopt(o->fd, SOL_SOCKET, SO_SNDTIMEO, &o->program_timeout,
			   sizeof o->program_timeout);
}

/* A thread cancelled inside connect leaves nothing behind: the slot it
 * held goes back (to the next waiter), the program's SO_SNDTIMEO is put
 * back. (The pause's timerfd has its own handler; a SIGCONT held for an
 * attempt stays blocked in a thread that is ending anyway.) */
static void cancelled(void *arg)
{
	struct outbound *o = arg;
	int saved = errno;
	settle_slot(o, false);
	restore_timeout(o);
	errno = saved;
}

/* A retried connect under a budget or a breaker goes through the engine
 * from its first attempt: the call counts toward the budget and an open
 * circuit may stop it before it touches the network. Only blocking and
 * `sync` connects: one left to the program (pass) is not retried, and an
 * asynchronous one is retried by preload/async.c, which never blocks. */
static bool guarded(struct outbound *o)
{
	return bs_rule_guarded(o->rule) && is_stream(o) &&
	       (o->rule->nonblocking == BS_NB_SYNC || !nonblocking(o));
}

/* Returns 0 or the errno. */
static int connect_managed(struct outbound *o, bs_ns start)
{
	const struct bs_rule *rule = o->rule;
	o->deadline = call_deadline(o);
	bs_ns deadline_at = start + o->deadline;
	if (deadline_at < start)
		deadline_at = UINT64_MAX;

	bool waited;
	int err = acquire_slot(o, start, deadline_at, &waited);
	if (err != 0)
		return err;

	if (guarded(o)) {
		err = retry_loop(o, start, waited, false, 0);
		settle_slot(o, err == 0);
		return err;
	}
	bs_ns now = o->clock = waited ? bs_now() : start;
	bs_ns bound = now < deadline_at ? deadline_at - now : 0;
	if (rule->attempt_timeout != 0)
		bound = min_ns(bound, rule->attempt_timeout);
	err = bound != 0 ? attempt_first(o, bound, start) : ETIMEDOUT;
	if (o->passed) {
		if (err != 0)
			note_pass(o);
	} else if (!o->async && ((err != 0 && is_stream(o)) || waited)) {
		err = retry_loop(o, start, waited, true, err);
	}
	settle_slot(o, err == 0 || ((o->passed || o->async) && err == EINPROGRESS));
	return err;
}

/* All but bs_outbound_connect's fast path; premade: the first result, or -1. */
static __attribute__((noinline)) int
connect_slow(struct bs_runtime *rt, const struct bs_rule *rule, int fd,
	     const struct sockaddr *sa, socklen_t len, struct bs_resolved *resolved,
	     bs_ns start, int entry_errno, int premade)
{
	struct outbound o; /* field by field: dest is large and needs no zeroing */
	o.rt = rt;
	o.rule = rule;
	o.fd = fd;
	o.sa = sa;
	o.len = len;
	o.resolved = resolved;
	o.nonblocking = -1;
	o.stream = -1;
	o.passed = false;
	o.async = false;
	o.timeout_replaced = false;
	o.timeout_known = false;
	o.premade = premade;
	o.replay = false;
	o.slot = BS_CAP_NONE;
	o.dest[0] = '\0';

	int err;
	/* connect, ppoll and the pause's read are cancellation points. The
	 * preload is built with -fexceptions, which makes this a cleanup
	 * attribute run by the unwinder: nothing on the way through. */
	pthread_cleanup_push(cancelled, &o);
	err = connect_managed(&o, start);
	pthread_cleanup_pop(0);
	restore_timeout(&o);
	if (err == 0 && rule->io_timeout != 0 && is_stream(&o) && !nonblocking(&o))
		bs_apply_io_timeout(fd, rule->io_timeout);
	bs_sleep_note_connect(err == EINPROGRESS ? 0 : err);
	errno = err != 0 ? err : entry_errno;
	return err != 0 ? -1 : 0;
}

/* The first attempt's end, as connect_managed computes it without a cap
 * wait. No overflow: durations are at most 1000h (policy/values.c). */
static bs_ns first_end(const struct bs_rule *rule, bs_ns start)
{
	bs_ns bound = rule->deadline;
	if (rule->attempt_timeout != 0)
		bound = min_ns(bound, rule->attempt_timeout);
	return start + bound;
}

int bs_outbound_connect(struct bs_runtime *rt, int fd, const struct sockaddr *sa,
			socklen_t len)
{
	const int entry_errno = errno;
	const bs_ns start = bs_now();
	struct bs_resolved resolved;
	const struct bs_rule *rule = bs_resolved_rule(rt->policy, sa, len, &resolved);
	if (rule == NULL || rule->passthrough)
		return BS_REAL(connect)(fd, sa, len);

	/* The common case, with no per-call state: a watched TCP connect with
	 * no cap, io_timeout, budget or breaker that succeeds (errno untouched: nothing here
	 * writes it). Anything else goes on from its result. */
	int premade = -1;
	if (__builtin_expect(rule->max_conns == 0 && rule->io_timeout == 0 &&
			     sa->sa_family != AF_UNIX && !bs_rule_guarded(rule), 1)) {
		struct bs_watch *w = bs_watch_begin(fd, start, first_end(rule, start));
		if (w != NULL) {
			int err = BS_REAL(connect)(fd, sa, len) == 0 ? 0 : errno;
			premade = watched_outcome(fd, err, w);
			if (__builtin_expect(premade == 0, 1)) {
				bs_sleep_note_connect(0);
				return 0;
			}
		}
	}
	return connect_slow(rt, rule, fd, sa, len, &resolved, start, entry_errno, premade);
}
