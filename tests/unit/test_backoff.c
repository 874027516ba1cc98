/* Backoff ceilings, each jitter kind's bounds and mean over 10,000 draws
 * with a fixed seed, and deadline fitting. */
#include <stdint.h>

#include "engine/backoff.h"
#include "tests/runner/bs_test.h"

#define DRAWS 10000

static struct bs_backoff_params params(bs_ns base, double factor, bs_ns max,
				       enum bs_jitter_kind kind, uint32_t pct)
{
	struct bs_backoff_params p = {
		.base = base, .factor = factor, .max_delay = max,
		.jitter = { .kind = kind, .percent = pct },
	};
	return p;
}

START_TEST(ceiling_grows_then_caps)
{
	struct bs_backoff_params p = params(100 * BS_MS, 2, 2 * BS_SEC, BS_JITTER_NONE, 0);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 1), 100 * BS_MS);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 2), 200 * BS_MS);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 3), 400 * BS_MS);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 5), 1600 * BS_MS);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 6), 2 * BS_SEC);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 7), 2 * BS_SEC);
	p.factor = 1.5;
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 3), 225 * BS_MS);
}
END_TEST

START_TEST(ceiling_saturates_for_huge_retry_counts)
{
	struct bs_backoff_params p = params(100 * BS_MS, 2, 30 * BS_SEC, BS_JITTER_NONE, 0);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 64), 30 * BS_SEC);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 65), 30 * BS_SEC);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, UINT32_MAX), 30 * BS_SEC);
	/* No cap in practice: still no wrap-around. */
	p.max_delay = UINT64_MAX;
	ck_assert_uint_eq(bs_backoff_ceiling(&p, UINT32_MAX), UINT64_MAX);
	p.factor = 10;
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 1000), UINT64_MAX);
}
END_TEST

START_TEST(ceiling_edges)
{
	struct bs_backoff_params p = params(100 * BS_MS, 1, 2 * BS_SEC, BS_JITTER_NONE, 0);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, UINT32_MAX), 100 * BS_MS); /* factor 1: constant */
	p = params(5 * BS_SEC, 2, 2 * BS_SEC, BS_JITTER_NONE, 0);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 1), 2 * BS_SEC); /* base above max */
	p = params(0, 2, 2 * BS_SEC, BS_JITTER_NONE, 0);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 9), 0);
	p = params(100 * BS_MS, 2, 2 * BS_SEC, BS_JITTER_NONE, 0);
	ck_assert_uint_eq(bs_backoff_ceiling(&p, 0), 100 * BS_MS); /* 0 read as 1 */
}
END_TEST

/* Draw DRAWS delays for retry `retry`, check bounds on each, return mean. */
static double draw_mean(const struct bs_backoff_params *p, uint32_t retry,
			bs_ns lo, bs_ns hi)
{
	struct bs_rng rng;
	bs_rng_seed(&rng, 2024);
	double sum = 0;
	for (int i = 0; i < DRAWS; i++) {
		bs_ns prev = 0;
		bs_ns d = bs_backoff_next(p, retry, &prev, &rng);
		ck_assert_uint_ge(d, lo);
		ck_assert_uint_le(d, hi);
		ck_assert_uint_eq(prev, d);
		sum += (double)d;
	}
	return sum / DRAWS;
}

/* The retry-4 ceiling is 800ms below; means are checked to 2%: the
 * standard error of a uniform mean over 10,000 draws is ~0.3% of d. */
START_TEST(jitter_none_is_exact)
{
	struct bs_backoff_params p = params(100 * BS_MS, 2, 2 * BS_SEC, BS_JITTER_NONE, 0);
	ck_assert_double_eq(draw_mean(&p, 4, 800 * BS_MS, 800 * BS_MS), 800.0 * BS_MS);
}
END_TEST

START_TEST(jitter_full_mean_half)
{
	struct bs_backoff_params p = params(100 * BS_MS, 2, 2 * BS_SEC, BS_JITTER_FULL, 0);
	double mean = draw_mean(&p, 4, 0, 800 * BS_MS);
	ck_assert_double_eq_tol(mean, 400.0 * BS_MS, 0.02 * 800 * BS_MS);
}
END_TEST

START_TEST(jitter_equal_mean_three_quarters)
{
	struct bs_backoff_params p = params(100 * BS_MS, 2, 2 * BS_SEC, BS_JITTER_EQUAL, 0);
	double mean = draw_mean(&p, 4, 400 * BS_MS, 800 * BS_MS);
	ck_assert_double_eq_tol(mean, 600.0 * BS_MS, 0.02 * 800 * BS_MS);
}
END_TEST

START_TEST(jitter_percent_preserves_mean)
{
	struct bs_backoff_params p = params(100 * BS_MS, 2, 2 * BS_SEC, BS_JITTER_PERCENT, 25);
	double mean = draw_mean(&p, 4, 600 * BS_MS, 1000 * BS_MS);
	ck_assert_double_eq_tol(mean, 800.0 * BS_MS, 0.02 * 800 * BS_MS);
}
END_TEST

START_TEST(jitter_percent_capped_at_max_delay)
{
	/* Ceiling is max_delay itself: the upper half is cut at 2s. */
	struct bs_backoff_params p = params(100 * BS_MS, 2, 2 * BS_SEC, BS_JITTER_PERCENT, 50);
	draw_mean(&p, 10, 1 * BS_SEC, 2 * BS_SEC);
}
END_TEST

/* Decorrelated: a chain of calls, prev carried; every delay stays in
 * [base, max_delay] and the first one in [base, 3*base]. */
START_TEST(jitter_decorrelated_chain_in_bounds)
{
	struct bs_backoff_params p = params(100 * BS_MS, 2, 2 * BS_SEC, BS_JITTER_DECORRELATED, 0);
	struct bs_rng rng;
	bs_rng_seed(&rng, 99);
	int reached_cap = 0;
	for (int chain = 0; chain < DRAWS / 20; chain++) {
		bs_ns prev = 0;
		for (uint32_t retry = 1; retry <= 20; retry++) {
			bs_ns before = prev != 0 ? prev : p.base;
			bs_ns d = bs_backoff_next(&p, retry, &prev, &rng);
			ck_assert_uint_ge(d, p.base);
			ck_assert_uint_le(d, p.max_delay);
			ck_assert_uint_le(d, 3 * before);
			reached_cap += d == p.max_delay;
		}
	}
	ck_assert_int_gt(reached_cap, 0); /* it does grow to the cap */
}
END_TEST

START_TEST(jitter_apply_on_plain_delays)
{
	struct bs_rng rng;
	bs_rng_seed(&rng, 5);
	struct bs_jitter none = { BS_JITTER_NONE, 0 }, pct = { BS_JITTER_PERCENT, 50 };
	struct bs_jitter deco = { BS_JITTER_DECORRELATED, 0 };
	ck_assert_uint_eq(bs_jitter_apply(&none, 1234, &rng), 1234);
	double sum = 0;
	for (int i = 0; i < DRAWS; i++) {
		bs_ns d = bs_jitter_apply(&pct, BS_SEC, &rng);
		ck_assert_uint_ge(d, BS_SEC / 2);
		ck_assert_uint_le(d, BS_SEC + BS_SEC / 2);
		sum += (double)d;
		ck_assert_uint_le(bs_jitter_apply(&deco, BS_SEC, &rng), BS_SEC);
	}
	ck_assert_double_eq_tol(sum / DRAWS, (double)BS_SEC, 0.02 * BS_SEC);
	/* A percent jitter on a huge delay saturates instead of wrapping. */
	ck_assert_uint_ge(bs_jitter_apply(&pct, UINT64_MAX - 1, &rng), UINT64_MAX / 2);
	ck_assert_uint_eq(bs_jitter_apply(&pct, 0, &rng), 0);
}
END_TEST

START_TEST(same_seed_same_schedule)
{
	struct bs_backoff_params p = params(10 * BS_MS, 1.7, BS_SEC, BS_JITTER_DECORRELATED, 0);
	struct bs_rng a, b;
	bs_rng_seed(&a, 77);
	bs_rng_seed(&b, 77);
	bs_ns pa = 0, pb = 0;
	for (uint32_t r = 1; r < 50; r++)
		ck_assert_uint_eq(bs_backoff_next(&p, r, &pa, &a), bs_backoff_next(&p, r, &pb, &b));
}
END_TEST

START_TEST(delay_fits_deadline)
{
	ck_assert(bs_delay_fits(100, 50, 200));
	ck_assert(!bs_delay_fits(100, 100, 200)); /* would end exactly at the deadline */
	ck_assert(!bs_delay_fits(100, 150, 200));
	ck_assert(!bs_delay_fits(200, 0, 200));  /* deadline already reached */
	ck_assert(!bs_delay_fits(300, 0, 200));
	ck_assert(bs_delay_fits(0, UINT64_MAX - 1, UINT64_MAX));
	ck_assert(!bs_delay_fits(1, UINT64_MAX, UINT64_MAX)); /* no overflow */
}
END_TEST

BS_SUITE(backoff_suite)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("ceiling");
	tcase_add_test(tc, ceiling_grows_then_caps);
	tcase_add_test(tc, ceiling_saturates_for_huge_retry_counts);
	tcase_add_test(tc, ceiling_edges);
	tcase_add_test(tc, delay_fits_deadline);
	suite_add_tcase(s, tc);
	tc = tcase_create("jitter");
	tcase_add_test(tc, jitter_none_is_exact);
	tcase_add_test(tc, jitter_full_mean_half);
	tcase_add_test(tc, jitter_equal_mean_three_quarters);
	tcase_add_test(tc, jitter_percent_preserves_mean);
	tcase_add_test(tc, jitter_percent_capped_at_max_delay);
	tcase_add_test(tc, jitter_decorrelated_chain_in_bounds);
	tcase_add_test(tc, jitter_apply_on_plain_delays);
	tcase_add_test(tc, same_seed_same_schedule);
	suite_add_tcase(s, tc);
	return s;
}
