/* The circuit breaker (see breaker.h).
 *
 * The word, low bits first: state (2), consecutive failures (10,
 * saturating), opens since the last close (4, saturating), the latest
 * real errno (8) and `until` in milliseconds of CLOCK_MONOTONIC (40: 34
 * years of uptime), rounded up so that a wait never ends early. */
#include "engine/breaker.h"

#define STATE_BITS 2
#define FAIL_BITS 10
#define OPENS_BITS 4
#define ERR_BITS 8
#define UNTIL_BITS 40

#define FAIL_SHIFT STATE_BITS
#define OPENS_SHIFT (FAIL_SHIFT + FAIL_BITS)
#define ERR_SHIFT (OPENS_SHIFT + OPENS_BITS)
#define UNTIL_SHIFT (ERR_SHIFT + ERR_BITS)

#define MASK(bits) ((UINT64_C(1) << (bits)) - 1)

static uint64_t field(uint64_t w, unsigned shift, unsigned bits)
{
	return (w >> shift) & MASK(bits);
}

static void unpack(uint64_t w, struct bs_breaker_view *v)
{
	v->state = (enum bs_breaker_state)field(w, 0, STATE_BITS);
	v->failures = (uint32_t)field(w, FAIL_SHIFT, FAIL_BITS);
	v->opens = (uint32_t)field(w, OPENS_SHIFT, OPENS_BITS);
	v->last_err = (int)field(w, ERR_SHIFT, ERR_BITS);
	v->until = field(w, UNTIL_SHIFT, UNTIL_BITS) * BS_MS;
}

static uint64_t clamp(uint64_t v, unsigned bits)
{
	return v > MASK(bits) ? MASK(bits) : v;
}

static uint64_t pack(const struct bs_breaker_view *v)
{
	const uint64_t until_ms = v->until / BS_MS + (v->until % BS_MS != 0);
	const int err = v->last_err > 0 && v->last_err < (1 << ERR_BITS) ? v->last_err : 0;
	return (uint64_t)v->state |
	       clamp(v->failures, FAIL_BITS) << FAIL_SHIFT |
	       clamp(v->opens, OPENS_BITS) << OPENS_SHIFT |
	       (uint64_t)err << ERR_SHIFT |
	       clamp(until_ms, UNTIL_BITS) << UNTIL_SHIFT;
}

void bs_breaker_read(const struct bs_breaker *b, struct bs_breaker_view *out)
{
	unpack(atomic_load(&b->word), out);
}

bs_ns bs_breaker_cooldown(const struct bs_breaker_params *p, uint32_t opens)
{
	if (opens == 0)
		opens = 1;
	if (p->cooldown_max == 0 && opens > BS_BREAKER_GROWTH_MAX)
		opens = BS_BREAKER_GROWTH_MAX;
	const bs_ns grown = p->cooldown > UINT64_MAX / opens ? UINT64_MAX : p->cooldown * opens;
	return p->cooldown_max != 0 && grown > p->cooldown_max ? p->cooldown_max : grown;
}

enum bs_breaker_verdict bs_breaker_admit(struct bs_breaker *b, bs_ns now,
					 bs_ns probe_bound,
					 struct bs_breaker_view *seen)
{
	uint64_t w = atomic_load(&b->word);
	for (;;) {
		unpack(w, seen);
		if (seen->state == BS_BREAKER_CLOSED)
			return BS_BREAKER_PASS;
		if (now < seen->until)
			return BS_BREAKER_BLOCK;
		/* The cooldown is over, or the probe out lapsed: probe now. */
		struct bs_breaker_view next = *seen;
		next.state = BS_BREAKER_HALF_OPEN;
		next.until = now + probe_bound;
		if (atomic_compare_exchange_weak(&b->word, &w, pack(&next))) {
			unpack(pack(&next), seen);
			return BS_BREAKER_PROBE;
		}
	}
}

bool bs_breaker_failed(struct bs_breaker *b, const struct bs_breaker_params *p,
		       bs_ns now, int err, struct bs_rng *rng,
		       struct bs_breaker_view *opened)
{
	uint64_t w = atomic_load(&b->word);
	for (;;) {
		struct bs_breaker_view v;
		unpack(w, &v);
		if (v.state == BS_BREAKER_OPEN)
			return false; /* a late attempt: the circuit already knows */
		v.last_err = err;
		v.failures++;
		const bool opens = v.state == BS_BREAKER_HALF_OPEN || v.failures >= p->threshold;
		if (opens) {
			v.state = BS_BREAKER_OPEN;
			v.opens++;
			const bs_ns c = bs_breaker_cooldown(p, v.opens);
			v.until = now + c - bs_rng_below(rng, c / 2 + 1);
		}
		if (atomic_compare_exchange_weak(&b->word, &w, pack(&v))) {
			if (opens)
				unpack(pack(&v), opened);
			return opens;
		}
	}
}

bool bs_breaker_succeeded(struct bs_breaker *b, struct bs_breaker_view *was)
{
	uint64_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
	while (w != 0) {
		/* Closed, no failures and no opens: 0. The last error stays for
		 * the report only while the circuit is not closed. */
		if (atomic_compare_exchange_weak(&b->word, &w, 0)) {
			unpack(w, was);
			return was->state != BS_BREAKER_CLOSED;
		}
	}
	return false;
}
