/* The retry engine's use of a budget and a breaker, and their log lines
 * (see guard.h). */
#include "engine/guard.h"

static void line_begin(struct bs_logline *line, const struct bs_guard *g,
		       struct bs_log *log, const char *event)
{
	bs_line_begin(line, log, event);
	g->identify(line, g->ctx);
}

static void line_end(struct bs_logline *line, const struct bs_guard *g,
		     struct bs_log *log)
{
	bs_line_str(line, "share", g->share);
	bs_line_emit(line, log);
}

static void log_breaker(const struct bs_guard *g, struct bs_log *log, const char *event,
			uint32_t failures, bs_ns cooldown)
{
	if (log == NULL)
		return;
	struct bs_logline line;
	line_begin(&line, g, log, event);
	bs_line_int(&line, "failures", failures);
	bs_line_ms(&line, "cooldown_ms", cooldown);
	line_end(&line, g, log);
}

void bs_guard_call(const struct bs_guard *g, bs_ns now)
{
	if (g->budget != NULL)
		bs_budget_call(g->budget, &g->budget_params, now);
}

/* 2^64 / the golden ratio: the step of a Weyl sequence, whose every run
 * of consecutive terms covers [0, 1) evenly. */
#define GOLDEN_STEP UINT64_C(0x9e3779b97f4a7c15)

/* How long a blocked call waits before asking again: past the end of the
 * cooldown (when the probe goes out) by a part of the first cooldown, so
 * that the calls held during an outage come back spread over that much
 * time rather than all in the same instant; while a probe is out, a part
 * of it. The part is not drawn at random: the breaker's n-th wait takes
 * the fraction n x golden ratio (mod 1), so the waits of a herd, in any
 * number of processes, come back evenly spaced, without the clumps of
 * independent draws that overflow a recovering server's accept backlog. */
static bs_ns hold_delay(const struct bs_guard *g, const struct bs_breaker_view *v,
			bs_ns now)
{
	const bs_ns spread = g->breaker_params.cooldown;
	const bs_ns until = v->state == BS_BREAKER_OPEN && v->until > now ? v->until - now : 0;
	const uint64_t n = atomic_fetch_add_explicit(&g->breaker->holds, 1, memory_order_relaxed);
	const uint64_t part = (uint64_t)(((unsigned __int128)(n * GOLDEN_STEP) * spread) >> 64);
	return until + 1 + part;
}

enum bs_guard_verdict bs_guard_admit(const struct bs_guard *g, struct bs_log *log,
				     bs_ns now, bs_ns probe_bound, bs_ns deadline_at,
				     bs_ns *delay, int *err)
{
	if (g->breaker == NULL)
		return BS_GUARD_GO;
	struct bs_breaker_view v;
	switch (bs_breaker_admit(g->breaker, now, probe_bound, &v)) {
	case BS_BREAKER_PASS:
		return BS_GUARD_GO;
	case BS_BREAKER_PROBE:
		log_breaker(g, log, "breaker.half_open", v.failures,
			    bs_breaker_cooldown(&g->breaker_params, v.opens));
		return BS_GUARD_GO;
	case BS_BREAKER_BLOCK:
		break;
	}
	*err = v.last_err;
	/* Waiting is only worth it when the probe goes out before the deadline. */
	const bool probe_in_time = v.state == BS_BREAKER_HALF_OPEN || v.until < deadline_at;
	if (!g->hold || !probe_in_time || now >= deadline_at)
		return BS_GUARD_REFUSE;
	const bs_ns wanted = hold_delay(g, &v, now);
	const bs_ns left = deadline_at - now;
	*delay = wanted < left ? wanted : left - 1;
	return *delay > 0 ? BS_GUARD_HOLD : BS_GUARD_REFUSE;
}

bool bs_guard_failed(const struct bs_guard *g, struct bs_log *log, bs_ns now,
		     int err, struct bs_rng *rng)
{
	struct bs_breaker_view v;
	if (g->breaker == NULL ||
	    !bs_breaker_failed(g->breaker, &g->breaker_params, now, err, rng, &v))
		return false;
	log_breaker(g, log, "breaker.open", v.failures, v.until - now);
	return !g->hold;
}

bool bs_guard_retry(const struct bs_guard *g, struct bs_log *log, bs_ns now)
{
	struct bs_budget_view v;
	if (g->budget == NULL || bs_budget_retry(g->budget, &g->budget_params, now, &v))
		return true;
	if (log != NULL && bs_budget_first_refusal(g->budget, &g->budget_params, now)) {
		struct bs_logline line;
		line_begin(&line, g, log, "budget.exhausted");
		bs_line_int(&line, "retries", (int64_t)v.retries);
		bs_line_int(&line, "calls", (int64_t)v.calls);
		line_end(&line, g, log);
	}
	return false;
}

void bs_guard_succeeded(const struct bs_guard *g, struct bs_log *log)
{
	struct bs_breaker_view was;
	if (g->breaker != NULL && bs_breaker_succeeded(g->breaker, &was))
		log_breaker(g, log, "breaker.close", was.failures,
			    bs_breaker_cooldown(&g->breaker_params, was.opens));
}
