/* The retry engine (see retry.h). Pure logic: every system call goes
 * through the caller, so tests drive it with fakes.
 *
 * Which errno a deadline give-up returns: ETIMEDOUT when no attempt ran
 * or the last attempt was cut short by the time left; otherwise the error
 * of the last attempt (the "last real error"), e.g. ECONNREFUSED when the
 * next backoff pause would not have ended before the deadline. */
#include "engine/retry.h"

#include <errno.h>

#include "engine/backoff.h"

/* The fields every line starts with: the subject's, then attempt. Returns
 * false when the call logs nothing. */
static bool line_begin(struct bs_logline *line, const struct bs_retry *r,
		       const char *event)
{
	const struct bs_retry_call *call = r->call;
	if (call->log == NULL)
		return false;
	bs_line_begin(line, call->log, event);
	call->subject.identify(line, call->subject.ctx);
	bs_line_int(line, "attempt", r->attempt);
	return true;
}

static void line_failure(struct bs_logline *line, const struct bs_retry *r, int err)
{
	const struct bs_retry_subject *s = &r->call->subject;
	if (s->failure != NULL)
		s->failure(line, s->ctx, err);
	else
		bs_line_errno(line, "errno", err);
}

static enum bs_retry_step give_up(struct bs_retry *r, int err, const char *reason)
{
	struct bs_logline line;
	r->last_err = err;
	if (line_begin(&line, r, r->call->subject.events->giveup)) {
		line_failure(&line, r, err);
		bs_line_str(&line, "reason", reason);
		bs_line_emit(&line, r->call->log);
	}
	return BS_RETRY_GIVEUP;
}

static bs_ns add_saturating(bs_ns a, bs_ns b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void bs_retry_start(struct bs_retry *r, const struct bs_retry_call *call)
{
	r->call = call;
	r->deadline_at = add_saturating(call->start, call->limits.deadline);
	r->prev_delay = 0;
	r->attempt = 0;
	r->last_err = ETIMEDOUT; /* what "the deadline ran out" returns */
	r->bound_by_deadline = false;
}

bs_ns bs_retry_bound(struct bs_retry *r, bs_ns now)
{
	if (now >= r->deadline_at) {
		give_up(r, r->last_err, BS_GIVEUP_DEADLINE);
		return 0;
	}
	const bs_ns left = r->deadline_at - now;
	const bs_ns per_attempt = r->call->limits.attempt_timeout;
	r->attempt++;
	r->bound_by_deadline = per_attempt == 0 || per_attempt >= left;
	return r->bound_by_deadline ? left : per_attempt;
}

void bs_retry_succeeded(struct bs_retry *r, bs_ns now)
{
	struct bs_logline line;
	if ((r->attempt > 1 || r->call->waited) &&
	    line_begin(&line, r, r->call->subject.events->ok)) {
		bs_line_ms(&line, "elapsed_ms", now - r->call->start);
		bs_line_emit(&line, r->call->log);
	}
}

enum bs_retry_step bs_retry_failed(struct bs_retry *r, int err, bs_ns now,
				   bs_ns *delay)
{
	const struct bs_retry_call *call = r->call;
	const struct bs_retry_subject *s = &call->subject;
	if (err == ETIMEDOUT && r->bound_by_deadline)
		return give_up(r, err, BS_GIVEUP_DEADLINE);
	if (s->retryable != NULL && !s->retryable(s->ctx, err))
		return give_up(r, err, err == EINTR ? BS_GIVEUP_INTERRUPTED
						    : BS_GIVEUP_NOT_RETRYABLE);
	if (call->limits.attempts != 0 && r->attempt >= call->limits.attempts)
		return give_up(r, err, BS_GIVEUP_ATTEMPTS);

	*delay = bs_backoff_next(call->limits.backoff, r->attempt, &r->prev_delay,
				 call->rng);
	if (!bs_delay_fits(now, *delay, r->deadline_at))
		return give_up(r, err, BS_GIVEUP_DEADLINE);
	r->last_err = err;
	struct bs_logline line;
	if (line_begin(&line, r, s->events->retry)) {
		bs_line_int(&line, "attempts", call->limits.attempts);
		line_failure(&line, r, err);
		bs_line_ms(&line, "delay_ms", *delay);
		bs_line_ms(&line, "deadline_left_ms", r->deadline_at - now);
		bs_line_emit(&line, call->log);
	}
	return BS_RETRY_AGAIN;
}

/* The program sees the last real error, not the interruption: the
 * attempt before the pause had already ended, so a plain call would have
 * returned that error; an EINTR would tell a program that follows POSIX
 * to wait for a connection still in progress, find SO_ERROR 0 (nothing is
 * in flight) and take a refused connect for a connected one. */
void bs_retry_interrupted(struct bs_retry *r, int err)
{
	(void)err;
	give_up(r, r->last_err, BS_GIVEUP_INTERRUPTED);
}

int bs_retry_run(const struct bs_retry_call *call, const struct bs_retry_io *io)
{
	struct bs_retry r;
	bs_retry_start(&r, call);
	for (;;) {
		const bs_ns bound = bs_retry_bound(&r, io->now(io->ctx));
		if (bound == 0)
			return bs_retry_error(&r);
		const int err = io->attempt(io->ctx, bound);
		const bs_ns now = io->now(io->ctx);
		if (err == 0) {
			bs_retry_succeeded(&r, now);
			return 0;
		}
		bs_ns delay;
		if (bs_retry_failed(&r, err, now, &delay) == BS_RETRY_GIVEUP)
			return bs_retry_error(&r);
		const int paused = io->pause(io->ctx, delay);
		if (paused != 0) {
			bs_retry_interrupted(&r, paused);
			return bs_retry_error(&r);
		}
	}
}
