/* What guards a retried call beyond its own limits: a retry budget shared
 * by the calls of a rule, and a circuit breaker per destination (see
 * budget.h, breaker.h). Both optional; where they live (process memory or
 * the machine-wide state file) is the caller's business: the engine only
 * sees the objects. The retry engine consults a guard given in
 * bs_retry_call.guard (NULL: none, and nothing changes). */
#ifndef BS_GUARD_H
#define BS_GUARD_H

#include <stdbool.h>

#include "engine/breaker.h"
#include "engine/budget.h"
#include "engine/log.h"

enum bs_guard_verdict { BS_GUARD_GO, BS_GUARD_HOLD, BS_GUARD_REFUSE };

struct bs_guard {
	struct bs_budget *budget;   /* NULL: no budget */
	struct bs_budget_params budget_params;
	struct bs_breaker *breaker; /* NULL: no breaker */
	struct bs_breaker_params breaker_params;
	/* on_open = wait: a blocked call waits (inside its deadline) for the
	 * half-open probe's verdict; false: it fails at once. */
	bool hold;
	const char *share;          /* "process" or "machine", as logged */
	/* The dest and rule fields of budget.* and breaker.* lines. */
	void (*identify)(struct bs_logline *line, const void *ctx);
	const void *ctx;
};

#endif

/* The steps the retry engine (retry.c) takes; each logs its own events
 * (budget.exhausted, breaker.*) to log (NULL: none). */

/* A call began. */
void bs_guard_call(const struct bs_guard *g, bs_ns now);

/* Before an attempt that would be bounded by probe_bound: BS_GUARD_GO,
 * or BS_GUARD_HOLD with *delay (ending before deadline_at), or
 * BS_GUARD_REFUSE with *err the destination's last real error (0: none
 * known). */
enum bs_guard_verdict bs_guard_admit(const struct bs_guard *g, struct bs_log *log,
				     bs_ns now, bs_ns probe_bound, bs_ns deadline_at,
				     bs_ns *delay, int *err);

/* An attempt failed with an error that tells about the destination.
 * Returns true when that opened the circuit and calls fail while it is
 * open (on_open = fail): no retry then. */
bool bs_guard_failed(const struct bs_guard *g, struct bs_log *log, bs_ns now,
		     int err, struct bs_rng *rng);

/* A retry is about to be made: whether the budget grants it. */
bool bs_guard_retry(const struct bs_guard *g, struct bs_log *log, bs_ns now);

/* An attempt succeeded. */
void bs_guard_succeeded(const struct bs_guard *g, struct bs_log *log);
