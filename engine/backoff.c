/* Backoff and jitter, following "Exponential Backoff And Jitter" (AWS
 * Architecture Blog, 2015). Delays are integer nanoseconds; the only
 * floating point is the growth factor, combined by squaring with IEEE
 * doubles, so a given seed gives the same delays on every run. */
#include "engine/backoff.h"

/* Saturating helpers: delays never wrap around. */
static bs_ns sat_add(bs_ns a, bs_ns b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static bs_ns sat_mul(bs_ns a, uint64_t k)
{
	return k != 0 && a > UINT64_MAX / k ? UINT64_MAX : a * k;
}

static bs_ns min_ns(bs_ns a, bs_ns b)
{
	return a < b ? a : b;
}

/* Uniform in [lo, hi] (inclusive); lo when hi <= lo. */
static bs_ns uniform_between(struct bs_rng *rng, bs_ns lo, bs_ns hi)
{
	if (hi <= lo)
		return lo;
	bs_ns span = hi - lo;
	if (span == UINT64_MAX)
		return bs_rng_next(rng);
	return lo + bs_rng_below(rng, span + 1);
}

bs_ns bs_backoff_ceiling(const struct bs_backoff_params *p, uint32_t retry)
{
	if (p->base == 0 || p->max_delay == 0)
		return 0;
	if (p->base >= p->max_delay)
		return p->max_delay;
	double limit = (double)p->max_delay;
	double delay = (double)p->base;
	double factor = p->factor > 1.0 ? p->factor : 1.0;
	/* base * factor^(retry-1) by squaring; stop as soon as it reaches
	 * max_delay, so huge retry counts cost O(log retry) and saturate. */
	for (uint32_t e = retry > 0 ? retry - 1 : 0; e != 0 && delay < limit; e >>= 1) {
		if (e & 1)
			delay *= factor;
		factor *= factor;
	}
	if (delay >= limit)
		return p->max_delay;
	return min_ns((bs_ns)delay, p->max_delay);
}

/* d * (1 + U[-pct, +pct]) in integer arithmetic: d - s + U[0, 2s] with
 * s = d * pct / 100, so the mean stays d. */
static bs_ns percent_jitter(bs_ns d, uint32_t percent, struct bs_rng *rng)
{
	if (percent > 100)
		percent = 100;
	bs_ns spread = (bs_ns)(((__uint128_t)d * percent) / 100);
	return uniform_between(rng, d - spread, sat_add(d, spread));
}

bs_ns bs_jitter_apply(const struct bs_jitter *j, bs_ns d, struct bs_rng *rng)
{
	switch (j->kind) {
	case BS_JITTER_NONE:
		return d;
	case BS_JITTER_EQUAL:
		return uniform_between(rng, d / 2, d);
	case BS_JITTER_PERCENT:
		return percent_jitter(d, j->percent, rng);
	case BS_JITTER_FULL:
	case BS_JITTER_DECORRELATED: /* no history here: see backoff.h */
		break;
	}
	return uniform_between(rng, 0, d);
}

bs_ns bs_backoff_next(const struct bs_backoff_params *p, uint32_t retry,
		      bs_ns *prev, struct bs_rng *rng)
{
	bs_ns delay;
	if (p->jitter.kind == BS_JITTER_DECORRELATED) {
		/* sleep = min(cap, U[base, 3 * sleep]), sleep starting at base. */
		bs_ns last = *prev != 0 ? *prev : p->base;
		delay = uniform_between(rng, p->base, sat_mul(last, 3));
	} else {
		delay = bs_jitter_apply(&p->jitter, bs_backoff_ceiling(p, retry), rng);
	}
	delay = min_ns(delay, p->max_delay);
	*prev = delay;
	return delay;
}
