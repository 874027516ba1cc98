/* The retry schedule table of `backstop explain`. */
#ifndef BS_CLI_SCHEDULE_H
#define BS_CLI_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/policy.h"

/* What a schedule is made of: a connect rule's or a declared wrapper's
 * limits. */
struct schedule_spec {
	uint32_t attempts;   /* 0: no count limit (the deadline ends the table) */
	const struct bs_backoff_params *backoff;
	bs_ns attempt_max;   /* the longest an attempt may take; 0: unknown, the
			      * table takes attempts that return at once */
	bs_ns deadline;
};

/* Sample the backoff `samples` times from `seed` and print, per attempt,
 * the delay before it (min / median / max), when it starts and ends at the
 * latest, and whether the deadline cuts it. Returns 0, or -1 when out of
 * memory. */
int schedule_print(const struct schedule_spec *spec, size_t samples, uint64_t seed,
		   FILE *out);

#endif
