/* The managed outbound connect (see outbound.h and docs/connect.md).
 *
 * One attempt on a blocking socket: the program's SO_SNDTIMEO is saved and
 * replaced by the attempt's bound, because Linux bounds a blocking connect
 * by SO_SNDTIMEO (ending it with EINPROGRESS for TCP, EAGAIN for a unix
 * socket whose listener's backlog is full); the saved value is put back
 * before connect returns. On a nonblocking socket under `nonblocking =
 * sync`: connect, then ppoll for POLLOUT within the bound, then SO_ERROR.
 * An attempt that timed out or failed while in flight is dissolved with
 * connect(AF_UNSPEC), so the same descriptor can try again. Under
 * `nonblocking = async` (the default) the first attempt's result on a
 * nonblocking socket, and a capped destination's slot, are handed to
 * preload/async.c, which retries behind the program's own waits. The program's
 * file status flags are never touched.
 *
 * The first attempt is made here, before the retry loop, so that a
 * first-try success (the common case) costs no destination formatting, no
 * random numbers and no loop; when it fails, the loop starts by replaying
 * its result instead of connecting again.
 *
 * The success path costs three system calls (get, set and restore
 * SO_SNDTIMEO). The rest is asked only when it matters: the program's
 * O_NONBLOCK (F_GETFL) when the first attempt did not succeed at once, or
 * when a cap or io_timeout applies. A nonblocking socket ignores
 * SO_SNDTIMEO, so its first attempt is exactly the program's own connect,
 * and under `nonblocking = pass` its result is returned as it is. Likewise
 * only stream sockets are managed, and SO_TYPE is asked only when a cap or
 * io_timeout applies or the first attempt failed; a datagram connect that
 * fails is returned as it is. */
#include "preload/outbound.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "policy/dest.h"
#include "engine/connect_retry.h"
#include "preload/async.h"
#include "preload/outcap.h"
#include "preload/real.h"

struct outbound {
	struct bs_runtime *rt;
	const struct bs_rule *rule;
	int fd;
	const struct sockaddr *sa;
	socklen_t len;
	signed char nonblocking;      /* the program's O_NONBLOCK; -1: not asked yet */
	signed char stream;           /* SOCK_STREAM?; -1: not asked yet */
	bool passed;                  /* nonblocking = pass: left to the program */
	bool async;                   /* nonblocking = async: handed to preload/async.c */
	bool timeout_replaced;        /* SO_SNDTIMEO holds an attempt's bound */
	struct timeval program_timeout; /* the program's SO_SNDTIMEO */
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

/* Dissolve an attempt still in flight (TCP: sends RST, back to CLOSED). A
 * unix socket never stays half-connected. */
static void abort_attempt(const struct outbound *o)
{
	if (o->sa->sa_family == AF_UNIX)
		return;
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	BS_REAL(connect)(o->fd, &unspec, sizeof unspec);
}

/* Signals the thread's own faults raise: they never interrupt a blocked
 * system call, and crash handlers (and sanitizer runtimes) install them
 * without SA_RESTART. */
static bool fault_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
	       sig == SIGTRAP || sig == SIGSYS;
}

/* Whether the handler that just interrupted this thread asked for its call
 * to be restarted (SA_RESTART), as the kernel would for a plain connect.
 * Which signal it was is not known here, so: only when every signal this
 * thread can receive and catches (fault signals aside) is SA_RESTART.
 * Runs after EINTR only. */
static bool handlers_restart(void)
{
	sigset_t blocked;
	if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0)
		return false;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (fault_signal(sig) || sigismember(&blocked, sig) == 1 ||
		    sigaction(sig, NULL, &sa) != 0)
			continue;
		bool caught = (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction != NULL :
			      sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
		if (caught && !(sa.sa_flags & SA_RESTART))
			return false;
	}
	return true;
}

/* connect with SO_SNDTIMEO set to the bound: 0 or the raw errno. A
 * socket timeout makes connect return EINTR even after an SA_RESTART
 * handler; a plain blocking connect would have been restarted, so it is
 * resumed (calling connect again waits for the one in flight, and says
 * EALREADY if the bound runs out) unless the program set its own timeout.
 * Inlined into both callers: on a first-try success its call and frame
 * were a tenth of what the managed connect adds. */
static inline __attribute__((always_inline)) int
connect_bounded(struct outbound *o, bs_ns bound)
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
		if (err != EINTR || own != 0 || !handlers_restart())
			return err;
		resumed = true;
	}
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
	int err = connect_bounded(o, bound);
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

static int attempt_io(void *ctx, bs_ns bound)
{
	struct outbound *o = ctx;
	if (o->replay) {
		o->replay = false;
		return o->first_err;
	}
	return nonblocking(o) ? attempt_nonblocking(o, bound)
			      : blocking_outcome(o, connect_bounded(o, bound));
}

/* The backoff pause: a read from a timerfd, because a blocking read is
 * restarted by the kernel after a handler installed with SA_RESTART and
 * ends with EINTR otherwise, where clock_nanosleep (and a futex wait with
 * a timeout) always ends with EINTR. So the program's SA_RESTART choice
 * decides, as for a plain blocking connect: a restarting handler lets the
 * retries go on, any other makes connect return -1/EINTR. Without a
 * descriptor to spare, clock_nanosleep it is. */
static int pause_io(void *ctx, bs_ns delay)
{
	(void)ctx;
	struct timespec ts = bs_timespec(delay);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (tfd < 0)
		return BS_REAL(clock_nanosleep)(CLOCK_MONOTONIC, 0, &ts, NULL) == EINTR ? EINTR : 0;
	struct itimerspec timer = { .it_value = ts };
	uint64_t expirations;
	int err = 0;
	if (timerfd_settime(tfd, 0, &timer, NULL) == 0 &&
	    BS_REAL(read)(tfd, &expirations, sizeof expirations) < 0)
		err = errno;
	BS_REAL(close)(tfd);
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

static int acquire_slot(struct outbound *o, bs_ns start, bs_ns deadline_at,
			uint32_t *slot, bool *waited)
{
	*slot = BS_CAP_NONE;
	*waited = false;
	if (o->rule->max_conns == 0 || !is_stream(o))
		return 0;
	if (o->rule->nonblocking == BS_NB_ASYNC && nonblocking(o)) {
		/* Queued without blocking: the connect is pending (async.c). */
		int err = bs_async_cap(o->rt, o->rule, o->fd, o->sa, o->len, start,
				       deadline_at, slot, waited);
		o->async = err == EINPROGRESS;
		return err;
	}
	return bs_outcap_acquire(o->rt, o->rule, o->sa, o->len, !nonblocking(o),
				 deadline_at, slot, waited);
}

/* The socket keeps the slot when it connected or is connecting. */
static void settle_slot(const struct outbound *o, uint32_t slot, bool keep)
{
	if (slot == BS_CAP_NONE)
		return;
	if (keep)
		bs_outcap_commit(o->fd, slot);
	else
		bs_outcap_abandon(slot);
}

/* ---- nonblocking = pass -------------------------------------------------- */

#define PASS_SEEN_MAX 256
/* Hashes of destinations already reported by connect.pass. Lock-free;
 * once full, further destinations are no longer reported. */
static _Atomic uint64_t pass_seen[PASS_SEEN_MAX];

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h != 0 ? h : 1; /* 0 marks a free entry */
}

static bool first_pass_to(const char *dest)
{
	uint64_t h = fnv1a(dest);
	for (unsigned i = 0; i < PASS_SEEN_MAX; i++) {
		_Atomic uint64_t *e = &pass_seen[(h + i) % PASS_SEEN_MAX];
		uint64_t seen = atomic_load_explicit(e, memory_order_relaxed);
		if (seen == 0 && atomic_compare_exchange_strong(e, &seen, h))
			return true;
		if (seen == h)
			return false;
	}
	return false;
}

static void note_pass(struct outbound *o)
{
	if (!first_pass_to(dest_of(o)))
		return;
	struct bs_logline line;
	bs_line_begin(&line, &o->rt->log, "connect.pass");
	bs_line_int(&line, "fd", o->fd);
	bs_line_str(&line, "dest", o->dest);
	bs_line_str(&line, "rule", o->rule->name);
	bs_line_str(&line, "reason", "nonblocking");
	bs_line_emit(&line, &o->rt->log);
}

/* ---- managed: attempts with retries -------------------------------------- */

static int retry_loop(struct outbound *o, bs_ns start, bool waited, int first_err)
{
	const struct bs_connect_call call = {
		.rule = o->rule,
		.rng = bs_thread_rng(),
		.log = &o->rt->log,
		.fd = o->fd,
		.dest = dest_of(o),
		.mode = nonblocking(o) ? BS_CONNECT_SYNC : BS_CONNECT_BLOCKING,
		.start = start,
		.waited = waited,
	};
	const struct bs_retry_io io = {
		.ctx = o, .attempt = attempt_io, .pause = pause_io, .now = now_io,
	};
	o->replay = true;
	o->first_err = first_err;
	return bs_connect_retry(&call, &io);
}

/* Returns 0 or the errno. */
static int connect_managed(struct outbound *o, bs_ns start)
{
	const struct bs_rule *rule = o->rule;
	bs_ns deadline_at = start + rule->deadline;
	if (deadline_at < start)
		deadline_at = UINT64_MAX;

	uint32_t slot;
	bool waited;
	int err = acquire_slot(o, start, deadline_at, &slot, &waited);
	if (err != 0)
		return err;

	bs_ns now = o->clock = waited ? bs_now() : start;
	bs_ns bound = now < deadline_at ? deadline_at - now : 0;
	if (rule->attempt_timeout != 0)
		bound = min_ns(bound, rule->attempt_timeout);
	err = bound != 0 ? attempt_first(o, bound, start) : ETIMEDOUT;
	if (o->passed) {
		if (err != 0)
			note_pass(o);
	} else if (!o->async && ((err != 0 && is_stream(o)) || waited)) {
		err = retry_loop(o, start, waited, err);
	}
	settle_slot(o, slot, err == 0 || ((o->passed || o->async) && err == EINPROGRESS));
	return err;
}

int bs_outbound_connect(struct bs_runtime *rt, int fd, const struct sockaddr *sa,
			socklen_t len)
{
	const int entry_errno = errno;
	const bs_ns start = bs_now();
	const struct bs_rule *rule = bs_policy_match(rt->policy, sa, len);
	if (rule == NULL || rule->passthrough)
		return BS_REAL(connect)(fd, sa, len);

	struct outbound o; /* field by field: dest is large and needs no zeroing */
	o.rt = rt;
	o.rule = rule;
	o.fd = fd;
	o.sa = sa;
	o.len = len;
	o.nonblocking = -1;
	o.stream = -1;
	o.passed = false;
	o.async = false;
	o.timeout_replaced = false;
	o.replay = false;
	o.dest[0] = '\0';

	socklen_t tl = sizeof o.program_timeout;
	if (BS_REAL(getsockopt)(fd, SOL_SOCKET, SO_SNDTIMEO, &o.program_timeout, &tl) != 0)
		return BS_REAL(connect)(fd, sa, len); /* not a socket: libc says so */
	int err = connect_managed(&o, start);
	if (o.timeout_replaced)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &o.program_timeout,
			   sizeof o.program_timeout);
	if (err == 0 && rule->io_timeout != 0 && is_stream(&o) && !nonblocking(&o))
		bs_apply_io_timeout(fd, rule->io_timeout);
	bs_sleep_note_connect(err == EINPROGRESS ? 0 : err);
	errno = err != 0 ? err : entry_errno;
	return err != 0 ? -1 : 0;
}
