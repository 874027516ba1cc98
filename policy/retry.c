/* The connect retry loop (see retry.h). Pure logic: every system call
 * goes through the caller's bs_connect_io, so tests drive it with fakes.
 *
 * Which errno a deadline give-up returns: ETIMEDOUT when no attempt ran
 * or the last attempt was cut short by the time left; otherwise the error
 * of the last attempt (the "last real error"), e.g. ECONNREFUSED when the
 * next backoff pause would not have ended before the deadline. */
#include <errno.h>

#include "policy/backoff.h"
#include "policy/retry.h"

/* The fields every connect.* line starts with: fd dest rule attempt.
 * Returns false when the call logs nothing. */
static bool line_begin(struct bs_logline *line, const struct bs_connect_call *call,
		       const char *event, uint32_t attempt)
{
	if (call->log == NULL)
		return false;
	bs_line_begin(line, call->log, event);
	bs_line_int(line, "fd", call->fd);
	bs_line_str(line, "dest", call->dest);
	bs_line_str(line, "rule", call->rule->name);
	bs_line_int(line, "attempt", attempt);
	return true;
}

static int give_up(const struct bs_connect_call *call, uint32_t attempt, int err,
		   const char *reason)
{
	struct bs_logline line;
	if (line_begin(&line, call, "connect.giveup", attempt)) {
		bs_line_errno(&line, "errno", err);
		bs_line_str(&line, "reason", reason);
		bs_line_emit(&line, call->log);
	}
	return err;
}

static int succeed(const struct bs_connect_call *call, uint32_t attempt, bs_ns now)
{
	struct bs_logline line;
	if ((attempt > 1 || call->waited) &&
	    line_begin(&line, call, "connect.ok", attempt)) {
		bs_line_ms(&line, "elapsed_ms", now - call->start);
		bs_line_emit(&line, call->log);
	}
	return 0;
}

static void log_retry(const struct bs_connect_call *call, uint32_t attempt, int err,
		      bs_ns delay, bs_ns left)
{
	struct bs_logline line;
	if (line_begin(&line, call, "connect.retry", attempt)) {
		bs_line_int(&line, "attempts", call->rule->attempts);
		bs_line_errno(&line, "errno", err);
		bs_line_ms(&line, "delay_ms", delay);
		bs_line_ms(&line, "deadline_left_ms", left);
		bs_line_emit(&line, call->log);
	}
}

static bs_ns add_saturating(bs_ns a, bs_ns b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int bs_connect_retry(const struct bs_connect_call *call,
		     const struct bs_connect_io *io)
{
	const struct bs_rule *rule = call->rule;
	const bs_ns deadline_at = add_saturating(call->start, rule->deadline);
	int last_err = ETIMEDOUT; /* what "the deadline ran out" returns */
	bs_ns prev_delay = 0;

	for (uint32_t attempt = 1;; attempt++) {
		bs_ns now = io->now(io->ctx);
		/* Reached when a cap wait or an overlong pause ate the time. */
		if (now >= deadline_at)
			return give_up(call, attempt - 1, last_err, BS_GIVEUP_DEADLINE);
		const bs_ns left = deadline_at - now;
		const bool bound_by_deadline =
			rule->attempt_timeout == 0 || rule->attempt_timeout >= left;
		const bs_ns bound = bound_by_deadline ? left : rule->attempt_timeout;

		const int err = io->attempt(io->ctx, bound);
		now = io->now(io->ctx);
		if (err == 0)
			return succeed(call, attempt, now);
		last_err = err;
		if (err == ETIMEDOUT && bound_by_deadline)
			return give_up(call, attempt, err, BS_GIVEUP_DEADLINE);
		if (!bs_errset_has(&rule->retry_on, err))
			return give_up(call, attempt, err, BS_GIVEUP_NOT_RETRYABLE);
		if (attempt >= rule->attempts)
			return give_up(call, attempt, err, BS_GIVEUP_ATTEMPTS);

		const bs_ns delay = bs_backoff_next(&rule->backoff, attempt,
						    &prev_delay, call->rng);
		if (!bs_delay_fits(now, delay, deadline_at))
			return give_up(call, attempt, err, BS_GIVEUP_DEADLINE);
		log_retry(call, attempt, err, delay, deadline_at - now);
		const int paused = io->pause(io->ctx, delay);
		if (paused != 0)
			return give_up(call, attempt, paused, BS_GIVEUP_INTERRUPTED);
	}
}
