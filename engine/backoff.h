/* Exponential backoff, jitter, and deadline clamping. Pure arithmetic. */
#ifndef BS_BACKOFF_H
#define BS_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"
#include "engine/rng.h"

/* The jittered delay before retry `retry` (1 = after the first failure).
 * *prev carries the previous delay between calls (decorrelated jitter);
 * start it at 0. Never above p->max_delay. */
bs_ns bs_backoff_next(const struct bs_backoff_params *p, uint32_t retry,
		      bs_ns *prev, struct bs_rng *rng);

/* The un-jittered exponential delay for `retry`, capped at max_delay. */
bs_ns bs_backoff_ceiling(const struct bs_backoff_params *p, uint32_t retry);

/* Apply a jitter to a delay d (used for sleeps too): NONE returns d, FULL
 * uniform [0,d], EQUAL d/2+[0,d/2], PERCENT d*(1 +- pct/100) with mean d.
 * DECORRELATED is treated as FULL here (it needs history). */
bs_ns bs_jitter_apply(const struct bs_jitter *j, bs_ns d, struct bs_rng *rng);

/* Whether a sleep of `delay` started at `now` ends strictly before
 * `deadline_at` (absolute, same clock). No sleep may end past a deadline. */
static inline bool bs_delay_fits(bs_ns now, bs_ns delay, bs_ns deadline_at)
{
	return now < deadline_at && delay < deadline_at - now;
}

#endif
