/* Sleep adjustment: see engine/sleepadj.h for the rules and the math. */
#include <errno.h>

#include "engine/backoff.h"
#include "engine/sleepadj.h"

void bs_sleep_state_note(struct bs_sleep_state *st, int err, bs_ns now)
{
	if (err == 0 || err == EISCONN) {
		st->last_fail_at = 0;
		st->streak = 0;
		st->resume_ns = 0;
	} else if (err != EINPROGRESS && err != EALREADY) {
		st->last_fail_at = now ? now : 1; /* 0 means "none" */
		if (st->streak < UINT32_MAX)
			st->streak++;
	}
}

bool bs_sleep_resumes(struct bs_sleep_state *st, bs_ns requested)
{
	bool resumes = st->resume_ns != 0 && requested == st->resume_ns;
	st->resume_ns = 0;
	return resumes;
}

void bs_sleep_interrupted(struct bs_sleep_state *st, bs_ns left)
{
	st->resume_ns = left;
}

bool bs_sleep_abs_resumes(const struct bs_sleep_state *st, bs_ns deadline, bs_ns *given)
{
	if (st->abs_asked == 0 || deadline != st->abs_asked)
		return false;
	*given = st->abs_given;
	return true;
}

void bs_sleep_abs_note(struct bs_sleep_state *st, bs_ns asked, bs_ns given)
{
	st->abs_asked = asked;
	st->abs_given = given;
}

uint32_t bs_sleep_retry_streak(const struct bs_sleep_policy *p,
			       const struct bs_sleep_state *st, bs_ns now)
{
	if (p->mode == BS_SLEEP_OFF || st->streak == 0 || st->last_fail_at == 0)
		return 0;
	if (now < st->last_fail_at || now - st->last_fail_at > p->window)
		return 0;
	return st->streak;
}

/* requested * 2^(streak-1), saturating at `ceiling`. */
static bs_ns grow(bs_ns requested, uint32_t streak, bs_ns ceiling)
{
	bs_ns d = requested;
	for (uint32_t i = 1; i < streak && d < ceiling; i++)
		d = d > ceiling / 2 ? ceiling : d * 2;
	return d < ceiling ? d : ceiling;
}

bs_ns bs_sleep_adjust(const struct bs_sleep_policy *p, bs_ns requested,
		      uint32_t streak, struct bs_rng *rng)
{
	if (p->mode == BS_SLEEP_OFF || requested == 0)
		return requested;
	if (streak == 0 && (p->mode != BS_SLEEP_ALL || requested < p->floor))
		return requested;
	if (!p->backoff || streak == 0)
		return bs_jitter_apply(&p->jitter, requested, rng);
	bs_ns ceiling = p->max_delay > requested ? p->max_delay : requested;
	bs_ns d = bs_jitter_apply(&p->jitter, grow(requested, streak, ceiling), rng);
	return d < ceiling ? d : ceiling;
}
