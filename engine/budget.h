/* A retry budget: retries allowed as a share of calls over a sliding
 * window, plus a minimum rate that is always allowed (Finagle's and
 * Linkerd's shape: 20% of calls plus 10 retries/s over 10 s).
 *
 * Allowed in any window: calls * percent / 100 + min_per_sec * window.
 * The window slides in BS_BUDGET_BUCKETS steps. A retry is granted only
 * when, counted with every retry granted before it, it stays within the
 * allowance: the budget is never exceeded, even by threads or processes
 * racing for the last retry (some of them may then be refused although a
 * retry was left: the error is always on the safe side).
 *
 * The state is plain lock-free atomics with no pointers and all-zero
 * meaning empty, so it works the same in process memory and in a file
 * shared by processes (engine/shm.h), where a process killed at any
 * instruction leaves at most one unfinished count behind (never a lock).
 * Times are CLOCK_MONOTONIC ns, the same for every process. */
#ifndef BS_BUDGET_H
#define BS_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"

#define BS_BUDGET_BUCKETS 10

struct bs_budget_params {
	uint32_t percent;      /* retries per 100 calls */
	uint32_t min_per_sec;  /* retries per second allowed regardless */
	bs_ns window;          /* > 0 */
};

/* Each counter is one word: the bucket's epoch (now / bucket width,
 * truncated to 32 bits) in the high half, the count in the low half. A
 * word whose epoch is out of the window counts as zero. */
struct bs_budget {
	_Atomic uint64_t calls[BS_BUDGET_BUCKETS];
	_Atomic uint64_t retries[BS_BUDGET_BUCKETS];
	_Atomic uint64_t reported; /* 1 + the epoch of the last exhaustion report */
};

/* What a window holds at a moment. */
struct bs_budget_view {
	uint64_t calls, retries, allowed;
};

/* A call began. */
void bs_budget_call(struct bs_budget *b, const struct bs_budget_params *p, bs_ns now);

/* Ask for one retry: true when granted (and counted). *seen (may be NULL)
 * is the window as the decision saw it. */
bool bs_budget_retry(struct bs_budget *b, const struct bs_budget_params *p, bs_ns now,
		     struct bs_budget_view *seen);

/* After a refusal: true for the first refusal of a window (one report per
 * window and budget), false for the others. */
bool bs_budget_first_refusal(struct bs_budget *b, const struct bs_budget_params *p,
			     bs_ns now);

/* The window at `now`, for `backstop state`. */
void bs_budget_view(const struct bs_budget *b, const struct bs_budget_params *p,
		    bs_ns now, struct bs_budget_view *out);

#endif
