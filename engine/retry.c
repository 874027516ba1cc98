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
	r->held = false;
	if (call->guard != NULL)
		bs_guard_call(call->guard, call->start);
}

/* The bound the next attempt would get at `now` (< deadline_at). */
static bs_ns next_bound(const struct bs_retry *r, bs_ns now, bool *by_deadline)
{
	const bs_ns left = r->deadline_at - now;
	const bs_ns per_attempt = r->call->limits.attempt_timeout;
	*by_deadline = per_attempt == 0 || per_attempt >= left;
	return *by_deadline ? left : per_attempt;
}

enum bs_retry_gate bs_retry_gate(struct bs_retry *r, bs_ns now, bs_ns *delay)
{
	const struct bs_guard *g = r->call->guard;
	if (g == NULL || g->breaker == NULL || now >= r->deadline_at)
		return BS_RETRY_GO; /* bs_retry_bound gives up on the deadline */
	bool by_deadline;
	const bs_ns probe_bound = next_bound(r, now, &by_deadline);
	int dest_err = 0;
	switch (bs_guard_admit(g, r->call->log, now, probe_bound, r->deadline_at,
			       delay, &dest_err)) {
	case BS_GUARD_GO:
		return BS_RETRY_GO;
	case BS_GUARD_HOLD:
		r->held = true;
		return BS_RETRY_HOLD;
	case BS_GUARD_REFUSE:
		break;
	}
	/* The call's own last failure, or, when it made no attempt, the
	 * destination's (what fail-fast must return). */
	give_up(r, r->attempt == 0 && dest_err != 0 ? dest_err : r->last_err,
		BS_GIVEUP_BREAKER);
	return BS_RETRY_STOP;
}

bs_ns bs_retry_bound(struct bs_retry *r, bs_ns now)
{
	if (now >= r->deadline_at) {
		give_up(r, r->last_err, BS_GIVEUP_DEADLINE);
		return 0;
	}
	r->attempt++;
	return next_bound(r, now, &r->bound_by_deadline);
}

void bs_retry_succeeded(struct bs_retry *r, bs_ns now)
{
	struct bs_logline line;
	if (r->call->guard != NULL)
		bs_guard_succeeded(r->call->guard, r->call->log);
	if ((r->attempt > 1 || r->call->waited || r->held) &&
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
	const bool retryable = s->retryable == NULL || s->retryable(s->ctx, err);
	/* What the program would retry is what says the destination is down. */
	const bool opened_to_fail = call->guard != NULL && retryable &&
				    bs_guard_failed(call->guard, call->log, now, err, call->rng);
	if (err == ETIMEDOUT && r->bound_by_deadline)
		return give_up(r, err, BS_GIVEUP_DEADLINE);
	if (!retryable)
		return give_up(r, err, err == EINTR ? BS_GIVEUP_INTERRUPTED
						    : BS_GIVEUP_NOT_RETRYABLE);
	if (call->limits.attempts != 0 && r->attempt >= call->limits.attempts)
		return give_up(r, err, BS_GIVEUP_ATTEMPTS);
	if (opened_to_fail)
		return give_up(r, err, BS_GIVEUP_BREAKER);

	*delay = bs_backoff_next(call->limits.backoff, r->attempt, &r->prev_delay,
				 call->rng);
	if (!bs_delay_fits(now, *delay, r->deadline_at))
		return give_up(r, err, BS_GIVEUP_DEADLINE);
	if (call->guard != NULL && !bs_guard_retry(call->guard, call->log, now))
		return give_up(r, err, BS_GIVEUP_BUDGET);
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

/* A pause of the blocking loop: 0, or the interruption (the call gave up). */
static int pause_io(struct bs_retry *r, const struct bs_retry_io *io, bs_ns delay)
{
	const int paused = io->pause(io->ctx, delay);
	if (paused != 0)
		bs_retry_interrupted(r, paused);
	return paused;
}

int bs_retry_run(const struct bs_retry_call *call, const struct bs_retry_io *io)
{
	struct bs_retry r;
	bs_retry_start(&r, call);
	for (;;) {
		bs_ns hold;
		switch (bs_retry_gate(&r, io->now(io->ctx), &hold)) {
		case BS_RETRY_STOP:
			return bs_retry_error(&r);
		case BS_RETRY_HOLD:
			if (pause_io(&r, io, hold) != 0)
				return bs_retry_error(&r);
			continue;
		case BS_RETRY_GO:
			break;
		}
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
		if (pause_io(&r, io, delay) != 0)
			return bs_retry_error(&r);
	}
}
