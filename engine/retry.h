/* The retry engine, as pure logic: what happens after each attempt of a
 * retried call (connect, blocking or asynchronous; a name lookup; a
 * declared wrapper). The caller makes the attempts and the pauses; the
 * engine says how long an attempt may take, whether to try again and after
 * which delay, when to give up and why, and writes the log lines.
 *
 * Two ways to drive it:
 *  - step by step (bs_retry_start, then per attempt bs_retry_gate and
 *    bs_retry_bound, bs_retry_failed or bs_retry_succeeded;
 *    bs_retry_interrupted): for a caller that cannot
 *    block, such as an asynchronous connect resumed from poll/epoll;
 *  - bs_retry_run: the blocking loop over an attempt/pause/clock triple,
 *    tested with fakes and used by the blocking wrappers. */
#ifndef BS_RETRY_H
#define BS_RETRY_H

#include <stdbool.h>

#include "engine/guard.h"
#include "engine/log.h"
#include "engine/rng.h"
#include "policy/policy.h"

/* Reasons a call gives up, as written in *.giveup lines. */
#define BS_GIVEUP_ATTEMPTS "attempts"
#define BS_GIVEUP_DEADLINE "deadline"
#define BS_GIVEUP_NOT_RETRYABLE "not_retryable"
#define BS_GIVEUP_INTERRUPTED "interrupted"
#define BS_GIVEUP_BUDGET "budget"
#define BS_GIVEUP_BREAKER "breaker"

/* The three events of one family ("connect.retry", "connect.ok",
 * "connect.giveup"). */
struct bs_retry_events {
	const char *retry, *ok, *giveup;
};

/* What is being retried, as the log lines name it. */
struct bs_retry_subject {
	const struct bs_retry_events *events;
	const void *ctx;
	/* The identifying fields every line starts with (fd dest rule; name;
	 * symbol), written before `attempt`. */
	void (*identify)(struct bs_logline *line, const void *ctx);
	/* The fields describing a failure `err`; NULL: "errno":"ENAME". */
	void (*failure)(struct bs_logline *line, const void *ctx, int err);
	/* Whether err may be retried at all; NULL: every failure may. */
	bool (*retryable)(const void *ctx, int err);
};

/* How far a call may go. */
struct bs_retry_limits {
	uint32_t attempts;        /* 0: no count limit (the deadline bounds the call) */
	const struct bs_backoff_params *backoff;
	bs_ns attempt_timeout;    /* 0: an attempt is bounded by the deadline only */
	bs_ns deadline;           /* > 0 */
};

struct bs_retry_call {
	struct bs_retry_subject subject;
	struct bs_retry_limits limits;
	struct bs_rng *rng;
	struct bs_log *log;   /* NULL: log nothing */
	bs_ns start;          /* when the program's call began */
	bool waited;          /* a wait preceded (a cap): log *.ok even on a first-try success */
	const struct bs_guard *guard; /* budget and breaker; NULL: none */
};

/* One call in progress. Plain data: it may live in a table slot between
 * steps (the asynchronous connect keeps one per descriptor). */
struct bs_retry {
	const struct bs_retry_call *call;
	bs_ns deadline_at;
	bs_ns prev_delay;        /* decorrelated jitter's memory */
	uint32_t attempt;        /* attempts begun so far */
	int last_err;            /* what a give-up returns */
	bool bound_by_deadline;  /* the latest bound was the time left */
	bool held;               /* the breaker held the call at least once */
};

enum bs_retry_step { BS_RETRY_AGAIN, BS_RETRY_GIVEUP };

void bs_retry_start(struct bs_retry *r, const struct bs_retry_call *call);

enum bs_retry_gate { BS_RETRY_GO, BS_RETRY_HOLD, BS_RETRY_STOP };

/* With a guard, before every attempt (before bs_retry_bound), at `now`:
 * whether the destination's circuit lets it through. BS_RETRY_GO: take
 * the bound and attempt (this attempt may be the half-open probe).
 * BS_RETRY_HOLD (on_open = wait): make no attempt; pause *delay (it ends
 * before the deadline), then ask again. BS_RETRY_STOP: the call gave up
 * with reason breaker (logged) and bs_retry_error says what to return:
 * the call's last real error, or the destination's when it made no
 * attempt. Without a guard or a breaker: always BS_RETRY_GO, no cost. */
enum bs_retry_gate bs_retry_gate(struct bs_retry *r, bs_ns now, bs_ns *delay);

/* Before an attempt, at `now`: its bound, min(attempt_timeout, time
 * left), > 0. Returns 0 when no attempt fits any more (a wait or an
 * overlong pause used up the deadline): the call has then given up with
 * reason deadline, logged, and bs_retry_error says what to return. */
bs_ns bs_retry_bound(struct bs_retry *r, bs_ns now);

/* The attempt succeeded at `now`: logs *.ok when it was not the first
 * attempt or a wait (a cap, the breaker) preceded it. A success closes the
 * guard's circuit. */
void bs_retry_succeeded(struct bs_retry *r, bs_ns now);

/* The attempt failed with err at `now`. BS_RETRY_AGAIN: pause *delay
 * (already logged as *.retry), then take the next bound. BS_RETRY_GIVEUP:
 * logged, and bs_retry_error says what to return. An attempt cut short by
 * its bound reports ETIMEDOUT; when that bound was the time left, the call
 * gives up with reason deadline. No pause is granted that would end at or
 * past the deadline. With a guard: a failure the subject would retry
 * counts against the breaker, and a retry the budget does not grant is
 * not made (reason budget, the last real error). */
enum bs_retry_step bs_retry_failed(struct bs_retry *r, int err, bs_ns now,
				   bs_ns *delay);

/* The pause was interrupted (err, normally EINTR): give up with reason
 * interrupted. The call returns the last attempt's error, which is what
 * the program's own call would have returned: the attempt was over before
 * the pause began. (An attempt that itself ends with EINTR, not retried,
 * also gives up with reason interrupted, returning EINTR.) */
void bs_retry_interrupted(struct bs_retry *r, int err);

/* What the program must see after a give-up: the last real error, or
 * ETIMEDOUT when no attempt ran or the last one was cut by the deadline. */
static inline int bs_retry_error(const struct bs_retry *r)
{
	return r->last_err;
}

/* The blocking loop. */
struct bs_retry_io {
	void *ctx;
	/* One attempt, bounded by `timeout` (always > 0): 0 on success, or an
	 * errno value (ETIMEDOUT when the bound expired). The attempt leaves
	 * the resource ready for another attempt. */
	int (*attempt)(void *ctx, bs_ns timeout);
	/* Sleep `delay`; returns 0, or EINTR when a signal handler ran that
	 * must end the call. */
	int (*pause)(void *ctx, bs_ns delay);
	/* CLOCK_MONOTONIC in ns. */
	bs_ns (*now)(void *ctx);
};

/* Attempts until success or a give-up. Returns 0 or bs_retry_error. */
int bs_retry_run(const struct bs_retry_call *call, const struct bs_retry_io *io);

#endif
