/* The circuit breaker with a fake clock: opening on consecutive
 * failures, the jittered and growing cooldown, one half-open probe, a
 * lapsed probe replaced, and a success closing it. */
#include <errno.h>
#include <string.h>

#include "engine/breaker.h"
#include "tests/runner/bs_test.h"

static const struct bs_breaker_params three = { .threshold = 3, .cooldown = BS_SEC };

static struct bs_rng rng_for_test(void)
{
	struct bs_rng rng;
	bs_rng_seed(&rng, 42);
	return rng;
}

static enum bs_breaker_verdict admit(struct bs_breaker *b, bs_ns now)
{
	struct bs_breaker_view v;
	return bs_breaker_admit(b, now, 100 * BS_MS, &v);
}

START_TEST(opens_after_consecutive_failures)
{
	struct bs_breaker b = {0};
	struct bs_rng rng = rng_for_test();
	struct bs_breaker_view v, was;
	ck_assert(!bs_breaker_failed(&b, &three, 0, ECONNREFUSED, &rng, &v));
	ck_assert(!bs_breaker_failed(&b, &three, 0, ECONNREFUSED, &rng, &v));
	/* A success in between starts the count again. */
	ck_assert(!bs_breaker_succeeded(&b, &was));
	ck_assert(!bs_breaker_failed(&b, &three, 0, ECONNREFUSED, &rng, &v));
	ck_assert(!bs_breaker_failed(&b, &three, 0, ECONNREFUSED, &rng, &v));
	ck_assert_int_eq(admit(&b, 0), BS_BREAKER_PASS);
	ck_assert(bs_breaker_failed(&b, &three, 10 * BS_MS, ETIMEDOUT, &rng, &v));
	ck_assert_int_eq(v.state, BS_BREAKER_OPEN);
	ck_assert_uint_eq(v.failures, 3);
	ck_assert_int_eq(v.last_err, ETIMEDOUT);
	/* Jittered in [half, all] of the cooldown (ms-rounded up). */
	ck_assert_uint_ge(v.until, 10 * BS_MS + BS_SEC / 2);
	ck_assert_uint_le(v.until, 10 * BS_MS + BS_SEC);
	ck_assert_int_eq(admit(&b, v.until - 1), BS_BREAKER_BLOCK);
}
END_TEST

static bs_ns open_now(struct bs_breaker *b, struct bs_rng *rng, bs_ns now)
{
	struct bs_breaker_view v;
	for (unsigned i = 0; i < three.threshold; i++)
		bs_breaker_failed(b, &three, now, ECONNREFUSED, rng, &v);
	return v.until;
}

START_TEST(one_probe_then_close)
{
	struct bs_breaker b = {0};
	struct bs_rng rng = rng_for_test();
	bs_ns until = open_now(&b, &rng, 0);
	struct bs_breaker_view v, was;
	ck_assert_int_eq(bs_breaker_admit(&b, until, 100 * BS_MS, &v), BS_BREAKER_PROBE);
	ck_assert_int_eq(v.state, BS_BREAKER_HALF_OPEN);
	/* Everybody else waits for the probe's verdict. */
	ck_assert_int_eq(admit(&b, until + 1), BS_BREAKER_BLOCK);
	ck_assert_int_eq(admit(&b, until + 50 * BS_MS), BS_BREAKER_BLOCK);
	ck_assert(bs_breaker_succeeded(&b, &was));
	ck_assert_int_eq(was.state, BS_BREAKER_HALF_OPEN);
	ck_assert_int_eq(admit(&b, until + 60 * BS_MS), BS_BREAKER_PASS);
	/* Closed with no failures: nothing to do. */
	ck_assert(!bs_breaker_succeeded(&b, &was));
}
END_TEST

START_TEST(failed_probe_reopens_longer)
{
	struct bs_breaker b = {0};
	struct bs_rng rng = rng_for_test();
	bs_ns now = open_now(&b, &rng, 0);
	struct bs_breaker_view v;
	for (uint32_t n = 2; n <= BS_BREAKER_GROWTH_MAX + 2; n++) {
		ck_assert_int_eq(admit(&b, now), BS_BREAKER_PROBE);
		ck_assert(bs_breaker_failed(&b, &three, now, ECONNREFUSED, &rng, &v));
		const bs_ns c = bs_breaker_cooldown(&three, n);
		ck_assert_uint_eq(c, (n < BS_BREAKER_GROWTH_MAX ? n : BS_BREAKER_GROWTH_MAX) * BS_SEC);
		ck_assert_uint_ge(v.until - now, c / 2);
		ck_assert_uint_le(v.until - now, c);
		now = v.until;
	}
}
END_TEST

/* breaker_cooldown_max stops the growth: 1s, 2s, then 2.5s for good. */
START_TEST(cooldown_max_caps_the_growth)
{
	const struct bs_breaker_params capped = { .threshold = 3, .cooldown = BS_SEC,
						  .cooldown_max = 2500 * BS_MS };
	ck_assert_uint_eq(bs_breaker_cooldown(&capped, 1), BS_SEC);
	ck_assert_uint_eq(bs_breaker_cooldown(&capped, 2), 2 * BS_SEC);
	for (uint32_t n = 3; n <= BS_BREAKER_GROWTH_MAX + 5; n++)
		ck_assert_uint_eq(bs_breaker_cooldown(&capped, n), 2500 * BS_MS);
	/* Above the default 10x growth, the operator's maximum wins. */
	const struct bs_breaker_params roomy = { .threshold = 3, .cooldown = BS_SEC,
						 .cooldown_max = 12 * BS_SEC };
	ck_assert_uint_eq(bs_breaker_cooldown(&roomy, 11), 11 * BS_SEC);
	ck_assert_uint_eq(bs_breaker_cooldown(&roomy, 15), 12 * BS_SEC);

	struct bs_breaker b = {0};
	struct bs_rng rng = rng_for_test();
	bs_ns now = 0;
	struct bs_breaker_view v;
	for (int i = 0; i < 3; i++)
		bs_breaker_failed(&b, &capped, now, ECONNREFUSED, &rng, &v);
	for (uint32_t n = 2; n <= 6; n++) {
		now = v.until;
		ck_assert_int_eq(admit(&b, now), BS_BREAKER_PROBE);
		ck_assert(bs_breaker_failed(&b, &capped, now, ECONNREFUSED, &rng, &v));
		ck_assert_uint_le(v.until - now, bs_breaker_cooldown(&capped, n));
		ck_assert_uint_ge(v.until - now, bs_breaker_cooldown(&capped, n) / 2);
	}
}
END_TEST

/* A probe whose process died never reports: once its bound passed, the
 * next caller probes instead. */
START_TEST(lapsed_probe_is_replaced)
{
	struct bs_breaker b = {0};
	struct bs_rng rng = rng_for_test();
	bs_ns until = open_now(&b, &rng, 0);
	ck_assert_int_eq(admit(&b, until), BS_BREAKER_PROBE);
	ck_assert_int_eq(admit(&b, until + 99 * BS_MS), BS_BREAKER_BLOCK);
	ck_assert_int_eq(admit(&b, until + 101 * BS_MS), BS_BREAKER_PROBE);
}
END_TEST

START_TEST(late_failure_while_open_changes_nothing)
{
	struct bs_breaker b = {0};
	struct bs_rng rng = rng_for_test();
	bs_ns until = open_now(&b, &rng, 0);
	struct bs_breaker_view v;
	ck_assert(!bs_breaker_failed(&b, &three, 1, ECONNRESET, &rng, &v));
	bs_breaker_read(&b, &v);
	ck_assert_uint_eq(v.until, until);
	ck_assert_int_eq(v.last_err, ECONNREFUSED);
}
END_TEST

BS_SUITE(breaker_suite)
{
	Suite *s = suite_create("breaker");
	TCase *tc = tcase_create("breaker");
	tcase_add_test(tc, opens_after_consecutive_failures);
	tcase_add_test(tc, one_probe_then_close);
	tcase_add_test(tc, failed_probe_reopens_longer);
	tcase_add_test(tc, cooldown_max_caps_the_growth);
	tcase_add_test(tc, lapsed_probe_is_replaced);
	tcase_add_test(tc, late_failure_while_open_changes_nothing);
	suite_add_tcase(s, tc);
	return s;
}
