/* Sleep adjustment as pure logic: which sleeps are retry sleeps, and how
 * long a sleep becomes under the [sleep] policy. The preload keeps one
 * struct bs_sleep_state per thread and calls these around the real sleep.
 *
 * A retry sleep is one that starts within `window` of a failed connect on
 * the same thread, with no successful connect since. With backoff = on it
 * grows with the failure streak:
 *     grown  = min(requested * 2^(streak-1), ceiling)
 *     actual = min(jitter(grown), ceiling)
 *     ceiling = max(max_delay, requested)
 * so backoff and jitter never push a sleep above max_delay, and a sleep the
 * program asked to be longer than max_delay is never lengthened. With
 * backoff = off, actual = jitter(requested) (mean-preserving, no cap).
 * mode = all treats every sleep of at least `floor` the same way, a sleep
 * that is not a retry sleep having streak 0 (jitter only). */
#ifndef BS_SLEEPADJ_H
#define BS_SLEEPADJ_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"
#include "engine/rng.h"

struct bs_sleep_state {
	bs_ns last_fail_at; /* CLOCK_MONOTONIC of the latest failed connect; 0: none since a success */
	uint32_t streak;    /* failed connects since the latest success */
};

/* Record how a connect ended: err 0 (or EISCONN) is a success and resets
 * the streak; EINPROGRESS and EALREADY are no outcome yet and change
 * nothing; anything else is a failure at `now`. */
void bs_sleep_state_note(struct bs_sleep_state *st, int err, bs_ns now);

/* The streak a sleep starting at `now` belongs to: > 0 for a retry sleep,
 * 0 otherwise. */
uint32_t bs_sleep_retry_streak(const struct bs_sleep_policy *p,
			       const struct bs_sleep_state *st, bs_ns now);

/* The duration a sleep of `requested` should last, given the streak it
 * belongs to (from bs_sleep_retry_streak). Returns `requested` unchanged
 * when the policy leaves this sleep alone. */
bs_ns bs_sleep_adjust(const struct bs_sleep_policy *p, bs_ns requested,
		      uint32_t streak, struct bs_rng *rng);

#endif
