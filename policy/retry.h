/* The connect retry loop, as pure logic. The caller supplies the I/O
 * (one attempt, a pause, a clock), so the loop can be tested with fakes
 * and driven by the preload with real system calls. */
#ifndef BS_RETRY_H
#define BS_RETRY_H

#include <stdbool.h>

#include "policy/log.h"
#include "policy/policy.h"
#include "policy/rng.h"

struct bs_connect_io {
	void *ctx;
	/* One attempt, bounded by `timeout` (always > 0). Returns 0 on
	 * success, or an errno value: ETIMEDOUT when the bound expired. The
	 * attempt leaves the socket ready for another attempt. */
	int (*attempt)(void *ctx, bs_ns timeout);
	/* Sleep `delay`; returns 0, or EINTR when a signal handler ran. */
	int (*pause)(void *ctx, bs_ns delay);
	/* CLOCK_MONOTONIC in ns. */
	bs_ns (*now)(void *ctx);
};

struct bs_connect_call {
	const struct bs_rule *rule;
	struct bs_rng *rng;
	struct bs_log *log;   /* NULL: log nothing */
	int fd;
	const char *dest;     /* formatted with bs_dest_format */
	bs_ns start;          /* when the program's call began */
	bool waited;          /* a cap wait preceded: log connect.ok even on a first-try success */
};

/* Reasons a call gives up, as written in connect.giveup lines. */
#define BS_GIVEUP_ATTEMPTS "attempts"
#define BS_GIVEUP_DEADLINE "deadline"
#define BS_GIVEUP_NOT_RETRYABLE "not_retryable"
#define BS_GIVEUP_INTERRUPTED "interrupted"

/* Run attempts until success, `attempts`, the deadline (start +
 * rule->deadline) or an error not in retry_on. Each attempt is bounded by
 * min(attempt_timeout, time left); no pause starts that would end past the
 * deadline. Logs connect.retry / connect.ok / connect.giveup.
 * Returns 0, or the errno the program must see: the last real error, or
 * ETIMEDOUT when the deadline ran out during an attempt, or EINTR.
 * A deadline give-up between attempts (the next pause would not end before
 * the deadline, or a pause ended past it) returns the last attempt's error;
 * ETIMEDOUT only when that attempt was cut short by the time left, or when
 * no attempt fitted at all (a cap wait used up the deadline: connect.giveup
 * then says attempt 0). `attempt` in every line is the 1-based number of the
 * attempt that just failed or succeeded. */
int bs_connect_retry(const struct bs_connect_call *call,
		     const struct bs_connect_io *io);

#endif
