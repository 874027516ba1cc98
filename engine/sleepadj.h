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
	/* A retry sleep cut short by a signal returns what is left (rem, or
	 * sleep()'s seconds), and a program resumes it by asking for exactly
	 * that. resume_ns is that remainder (0: none pending); abs_asked and
	 * abs_given the latest adjusted absolute sleep's deadline as asked
	 * and as changed (0: none), which a program resumes by asking for the
	 * same deadline again. */
	bs_ns resume_ns;
	bs_ns abs_asked, abs_given;
};

/* Record how a connect ended: err 0 (or EISCONN) is a success and resets
 * the streak; EINPROGRESS and EALREADY are no outcome yet and change
 * nothing; anything else is a failure at `now`. */
void bs_sleep_state_note(struct bs_sleep_state *st, int err, bs_ns now);

/* Whether a relative sleep of `requested` resumes the latest retry sleep
 * (it asks for exactly the remainder that sleep returned): it must then
 * run unchanged, not be grown and jittered again. Consumes the remainder. */
bool bs_sleep_resumes(struct bs_sleep_state *st, bs_ns requested);

/* A retry sleep (adjusted, or a resumption of one) was interrupted with
 * `left` still to go, as returned to the program. */
void bs_sleep_interrupted(struct bs_sleep_state *st, bs_ns left);

/* An absolute sleep to `deadline` (CLOCK_MONOTONIC): the deadline an
 * earlier adjustment gave the same request (*given), if it resumes that
 * sleep. bs_sleep_abs_note records an adjustment. */
bool bs_sleep_abs_resumes(const struct bs_sleep_state *st, bs_ns deadline, bs_ns *given);
void bs_sleep_abs_note(struct bs_sleep_state *st, bs_ns asked, bs_ns given);

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
