/* The managed outbound connect (see outbound.h and docs/connect.md); one
 * attempt of it is preload/outattempt.c, the pause between two pause.c.
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
#include <pthread.h>

#include "engine/connect_retry.h"
#include "preload/async.h"
#include "preload/destmemo.h"
#include "preload/fdtrack.h"
#include "preload/outcall.h"
#include "preload/outcap.h"
#include "preload/passonce.h"

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
	/* Taken before the first attempt (connect_capped), or no cap. */
	if (o->slot != BS_CAP_NONE || o->rule->max_conns == 0 || !is_stream(o))
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
		.ctx = o, .attempt = bs_attempt_io, .pause = bs_pause_io, .now = now_io,
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
	err = bound != 0 ? bs_attempt_first(o, bound, start) : ETIMEDOUT;
	if (o->passed) {
		if (err != 0)
			note_pass(o);
	} else if (!o->async && ((err != 0 && is_stream(o)) || waited)) {
		err = retry_loop(o, start, waited, true, err);
	}
	settle_slot(o, err == 0 || ((o->passed || o->async) && err == EINPROGRESS));
	return err;
}

/* All but bs_outbound_connect's fast paths; premade: the first result, or
 * -1; slot: the cap slot taken for it (a stream socket's), or BS_CAP_NONE. */
static __attribute__((noinline)) int
connect_slow(struct bs_runtime *rt, const struct bs_rule *rule, int fd,
	     const struct sockaddr *sa, socklen_t len, struct bs_resolved *resolved,
	     bs_ns start, int entry_errno, int premade, uint32_t slot)
{
	struct outbound o; /* field by field: dest is large and needs no zeroing */
	o.rt = rt;
	o.rule = rule;
	o.fd = fd;
	o.sa = sa;
	o.len = len;
	o.resolved = resolved;
	o.nonblocking = -1;
	o.stream = slot != BS_CAP_NONE ? 1 : -1;
	o.passed = false;
	o.async = false;
	o.timeout_replaced = false;
	o.timeout_known = false;
	o.premade = premade;
	o.replay = false;
	o.slot = slot;
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

/* The first attempt's bound, as connect_managed computes it without a cap
 * wait. No overflow: durations are at most 1000h (policy/values.c). */
static bs_ns first_bound(const struct bs_rule *rule)
{
	bs_ns bound = rule->deadline;
	if (rule->attempt_timeout != 0)
		bound = min_ns(bound, rule->attempt_timeout);
	return bound;
}

/* Whether a connect under rule may make its first attempt before any
 * per-call state exists: a watched TCP connect with no cap, io_timeout,
 * budget or breaker (anything else goes on from its result). */
static bool plain_rule(const struct bs_rule *rule)
{
	return !rule->passthrough && rule->max_conns == 0 && rule->io_timeout == 0 &&
	       !bs_rule_guarded(rule);
}

bs_ns bs_outbound_plain_bound(const struct bs_policy *policy)
{
	if (policy->n_rules != 1 || policy->names != NULL || !plain_rule(&policy->rules[0]))
		return 0;
	return first_bound(&policy->rules[0]);
}

/* The first attempt of a plain connect (see plain_rule), watched: its
 * result (0 or the errno), or -1 when no watch could be had and nothing
 * was tried. errno is untouched when it succeeds. */
static inline __attribute__((always_inline)) int
plain_first(int fd, const struct sockaddr *sa, socklen_t len, bs_ns start, bs_ns bound)
{
	struct bs_watch *w = bs_watch_begin(fd, start, start + bound);
	if (w == NULL)
		return -1;
	return watched_connect(w, fd, sa, len);
}

/* A cancelled first attempt gives its slot back (see cancelled()). */
static void abandon_slot(void *slot)
{
	bs_outcap_abandon(*(uint32_t *)slot);
}

/* A capped connect whose slot can be had at once, without the lock: the
 * slot first (only a stream socket takes one), then the first attempt as
 * a plain connect's, and on success the socket keeps the slot. Anything
 * else (no slot at once, the attempt did not succeed) goes on in
 * connect_slow, with the slot if one was taken. */
static int connect_capped(struct bs_runtime *rt, const struct bs_rule *rule, int fd,
			  const struct sockaddr *sa, socklen_t len, struct bs_resolved *resolved,
			  const struct bs_dest_info *dest, bs_ns start, int entry_errno)
{
	int type = 0;
	socklen_t tl = sizeof type;
	uint32_t slot = BS_CAP_NONE;
	if (BS_REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM)
		slot = bs_outcap_try(rt, rule, &dest->key, dest->hint);
	if (slot == BS_CAP_NONE)
		return connect_slow(rt, rule, fd, sa, len, resolved, start, entry_errno, -1,
				    BS_CAP_NONE);
	if (slot != dest->hint)
		bs_dest_memo_hint(slot);
	int premade;
	/* connect is a cancellation point: a -fexceptions cleanup, nothing on
	 * the way through. */
	pthread_cleanup_push(abandon_slot, &slot);
	premade = plain_first(fd, sa, len, start, first_bound(rule));
	pthread_cleanup_pop(0);
	if (__builtin_expect(premade == 0, 1)) {
		bs_fdtrack_hold(fd, rt->caps, slot); /* bs_outcap_commit's part for it */
		bs_sleep_note_connect(0);
		return 0;
	}
	return connect_slow(rt, rule, fd, sa, len, resolved, start, entry_errno, premade, slot);
}

/* Any connect but the plain one under a policy of one rule: the rule for
 * sa (remembered per thread, destmemo.h, without rules by name), then as
 * bs_outbound_connect. */
static __attribute__((noinline)) int
connect_ruled(struct bs_runtime *rt, int fd, const struct sockaddr *sa, socklen_t len)
{
	const int entry_errno = errno;
	const bs_ns start = bs_now();
	struct bs_resolved resolved;
	struct bs_dest_info dest = { .capped = false };
	bs_resolved_start(&resolved, sa, len);
	if (rt->policy->names == NULL)
		bs_dest_info_of(rt->policy, sa, len, &dest);
	else
		dest.rule = bs_resolved_rule_by_name(rt->policy, sa, len, &resolved);
	const struct bs_rule *rule = dest.rule;
	if (rule == NULL || rule->passthrough)
		return BS_REAL(connect)(fd, sa, len);
	int premade = -1;
	if (sa->sa_family != AF_UNIX) {
		if (plain_rule(rule)) {
			premade = plain_first(fd, sa, len, start, first_bound(rule));
			if (__builtin_expect(premade == 0, 1)) {
				bs_sleep_note_connect(0);
				return 0;
			}
		} else if (dest.capped && bs_outcap_fast(rt, rule) && rule->io_timeout == 0 &&
			   !bs_rule_guarded(rule)) {
			return connect_capped(rt, rule, fd, sa, len, &resolved, &dest, start,
					      entry_errno);
		}
	}
	return connect_slow(rt, rule, fd, sa, len, &resolved, start, entry_errno, premade,
			    BS_CAP_NONE);
}

/* The plain connect's first attempt did not succeed: on from its result
 * under the policy's one rule. */
static __attribute__((noinline)) int
connect_plain_failed(struct bs_runtime *rt, int fd, const struct sockaddr *sa, socklen_t len,
		     bs_ns start, int entry_errno, int premade)
{
	struct bs_resolved resolved;
	bs_resolved_start(&resolved, sa, len);
	return connect_slow(rt, &rt->policy->rules[0], fd, sa, len, &resolved, start,
			    entry_errno, premade, BS_CAP_NONE);
}

/* The common case, with no rule lookup and no per-call state: the one
 * rule of the policy is plain and the connect succeeds (errno untouched:
 * nothing here writes it). Anything else goes on from its result. */
static __attribute__((noinline)) int
connect_plain(struct bs_runtime *rt, int fd, const struct sockaddr *sa, socklen_t len,
	      bs_ns bound)
{
	const int entry_errno = errno;
	const bs_ns start = bs_now();
	int premade = plain_first(fd, sa, len, start, bound);
	if (__builtin_expect(premade == 0, 1)) {
		bs_sleep_note_connect(0);
		return 0;
	}
	return connect_plain_failed(rt, fd, sa, len, start, entry_errno, premade);
}

/* Tail calls only: neither way pays for the other's frame. */
int bs_outbound_connect(struct bs_runtime *rt, int fd, const struct sockaddr *sa,
			socklen_t len)
{
	const bs_ns bound = rt->plain_bound;
	if (__builtin_expect(bound == 0 || sa->sa_family == AF_UNIX, 0))
		return connect_ruled(rt, fd, sa, len);
	return connect_plain(rt, fd, sa, len, bound);
}
