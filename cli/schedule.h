/* The retry schedule table of `backstop explain`. */
#ifndef BS_CLI_SCHEDULE_H
#define BS_CLI_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/policy.h"

/* Sample the rule's backoff `samples` times from `seed` and print, per
 * attempt, the delay before it (min / median / max), when it starts and
 * ends at the latest, and whether the deadline cuts it. Returns 0, or -1
 * when out of memory. */
int schedule_print(const struct bs_rule *rule, size_t samples, uint64_t seed,
		   FILE *out);

#endif
