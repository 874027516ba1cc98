/* Retry-sleep detection and the adjusted duration (engine/sleepadj.c):
 * streak bookkeeping, the window, jitter bounds and mean, backoff growth,
 * the max_delay ceiling, mode = all and its floor. */
#include <errno.h>

#include "engine/sleepadj.h"
#include "tests/runner/bs_test.h"

#define DRAWS 10000

static struct bs_sleep_policy retry_policy(uint32_t pct, bool backoff)
{
	struct bs_sleep_policy p = {
		.mode = BS_SLEEP_RETRY,
		.jitter = {.kind = pct ? BS_JITTER_PERCENT : BS_JITTER_NONE, .percent = pct},
		.backoff = backoff,
		.max_delay = 30 * BS_SEC,
		.window = 5 * BS_SEC,
		.floor = 10 * BS_MS,
	};
	return p;
}

static struct bs_rng seeded(void)
{
	struct bs_rng rng;
	bs_rng_seed(&rng, 42);
	return rng;
}

START_TEST(failures_count_and_success_resets)
{
	struct bs_sleep_state st = {0};
	bs_sleep_state_note(&st, ECONNREFUSED, 100);
	bs_sleep_state_note(&st, ETIMEDOUT, 200);
	ck_assert_uint_eq(st.streak, 2);
	ck_assert_uint_eq(st.last_fail_at, 200);
	bs_sleep_state_note(&st, EINPROGRESS, 300); /* no outcome yet */
	ck_assert_uint_eq(st.streak, 2);
	ck_assert_uint_eq(st.last_fail_at, 200);
	bs_sleep_state_note(&st, 0, 400);
	ck_assert_uint_eq(st.streak, 0);
	ck_assert_uint_eq(st.last_fail_at, 0);
	bs_sleep_state_note(&st, ENOENT, 500);
	bs_sleep_state_note(&st, EISCONN, 600); /* connected after all */
	ck_assert_uint_eq(st.streak, 0);
}
END_TEST

START_TEST(retry_sleep_only_within_window)
{
	struct bs_sleep_policy p = retry_policy(0, false);
	struct bs_sleep_state st = {0};
	ck_assert_uint_eq(bs_sleep_retry_streak(&p, &st, BS_SEC), 0);
	bs_sleep_state_note(&st, ECONNREFUSED, BS_SEC);
	bs_sleep_state_note(&st, ECONNREFUSED, 2 * BS_SEC);
	ck_assert_uint_eq(bs_sleep_retry_streak(&p, &st, 2 * BS_SEC), 2);
	ck_assert_uint_eq(bs_sleep_retry_streak(&p, &st, 7 * BS_SEC), 2);
	ck_assert_uint_eq(bs_sleep_retry_streak(&p, &st, 7 * BS_SEC + 1), 0);
	p.mode = BS_SLEEP_OFF;
	ck_assert_uint_eq(bs_sleep_retry_streak(&p, &st, 2 * BS_SEC), 0);
}
END_TEST

START_TEST(non_retry_sleep_untouched_in_retry_mode)
{
	struct bs_sleep_policy p = retry_policy(50, true);
	struct bs_rng rng = seeded();
	ck_assert_uint_eq(bs_sleep_adjust(&p, BS_SEC, 0, &rng), BS_SEC);
	ck_assert_uint_eq(bs_sleep_adjust(&p, 0, 3, &rng), 0);
	p.mode = BS_SLEEP_OFF;
	ck_assert_uint_eq(bs_sleep_adjust(&p, BS_SEC, 3, &rng), BS_SEC);
}
END_TEST

START_TEST(jitter_spreads_within_bounds_around_the_mean)
{
	struct bs_sleep_policy p = retry_policy(50, false);
	struct bs_rng rng = seeded();
	bs_ns lo = UINT64_MAX, hi = 0;
	double sum = 0;
	for (int i = 0; i < DRAWS; i++) {
		bs_ns d = bs_sleep_adjust(&p, BS_SEC, 4, &rng);
		ck_assert_uint_ge(d, BS_SEC / 2);
		ck_assert_uint_le(d, BS_SEC * 3 / 2);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		sum += (double)d;
	}
	double mean = sum / DRAWS / (double)BS_SEC;
	ck_assert(mean > 0.98 && mean < 1.02);
	ck_assert_uint_lt(lo, BS_SEC * 6 / 10); /* actually spread */
	ck_assert_uint_gt(hi, BS_SEC * 14 / 10);
}
END_TEST

START_TEST(backoff_doubles_with_streak_up_to_max_delay)
{
	struct bs_sleep_policy p = retry_policy(0, true);
	p.max_delay = 5 * BS_SEC;
	struct bs_rng rng = seeded();
	ck_assert_uint_eq(bs_sleep_adjust(&p, BS_SEC, 1, &rng), BS_SEC);
	ck_assert_uint_eq(bs_sleep_adjust(&p, BS_SEC, 2, &rng), 2 * BS_SEC);
	ck_assert_uint_eq(bs_sleep_adjust(&p, BS_SEC, 3, &rng), 4 * BS_SEC);
	ck_assert_uint_eq(bs_sleep_adjust(&p, BS_SEC, 4, &rng), 5 * BS_SEC);
	ck_assert_uint_eq(bs_sleep_adjust(&p, BS_SEC, UINT32_MAX, &rng), 5 * BS_SEC);
}
END_TEST

START_TEST(jittered_backoff_never_exceeds_the_ceiling)
{
	struct bs_sleep_policy p = retry_policy(50, true);
	p.max_delay = 5 * BS_SEC;
	struct bs_rng rng = seeded();
	for (int i = 0; i < DRAWS; i++) {
		bs_ns d = bs_sleep_adjust(&p, BS_SEC, 3, &rng); /* grown: 4s */
		ck_assert_uint_ge(d, 2 * BS_SEC);
		ck_assert_uint_le(d, 5 * BS_SEC);
		d = bs_sleep_adjust(&p, BS_SEC, 20, &rng); /* grown: 5s, capped */
		ck_assert_uint_ge(d, 5 * BS_SEC / 2);
		ck_assert_uint_le(d, 5 * BS_SEC);
	}
}
END_TEST

START_TEST(long_request_is_never_lengthened_past_itself)
{
	struct bs_sleep_policy p = retry_policy(0, true);
	p.max_delay = 5 * BS_SEC;
	struct bs_rng rng = seeded();
	ck_assert_uint_eq(bs_sleep_adjust(&p, 60 * BS_SEC, 4, &rng), 60 * BS_SEC);
	p.jitter.kind = BS_JITTER_PERCENT;
	p.jitter.percent = 20;
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_le(bs_sleep_adjust(&p, 60 * BS_SEC, 4, &rng), 60 * BS_SEC);
}
END_TEST

START_TEST(mode_all_jitters_sleeps_above_the_floor)
{
	struct bs_sleep_policy p = retry_policy(50, true);
	p.mode = BS_SLEEP_ALL;
	struct bs_rng rng = seeded();
	ck_assert_uint_eq(bs_sleep_adjust(&p, 5 * BS_MS, 0, &rng), 5 * BS_MS);
	int changed = 0;
	for (int i = 0; i < 100; i++) {
		bs_ns d = bs_sleep_adjust(&p, 100 * BS_MS, 0, &rng);
		ck_assert_uint_ge(d, 50 * BS_MS);
		ck_assert_uint_le(d, 150 * BS_MS); /* streak 0: no growth */
		changed += d != 100 * BS_MS;
	}
	ck_assert_int_gt(changed, 90);
	/* A retry sleep below the floor is still a retry sleep. */
	p.jitter.kind = BS_JITTER_NONE;
	ck_assert_uint_eq(bs_sleep_adjust(&p, 5 * BS_MS, 2, &rng), 10 * BS_MS);
}
END_TEST

START_TEST(fixed_seed_reproduces_the_sequence)
{
	struct bs_sleep_policy p = retry_policy(50, true);
	struct bs_rng a = seeded(), b = seeded();
	for (uint32_t s = 1; s < 50; s++)
		ck_assert_uint_eq(bs_sleep_adjust(&p, 10 * BS_MS, s, &a),
				  bs_sleep_adjust(&p, 10 * BS_MS, s, &b));
}
END_TEST

/* The remainder an interrupted retry sleep returned, asked for next, is
 * a resumption (once); anything else is not, and clears it; a success
 * clears it too. */
START_TEST(resumption_is_recognised_once)
{
	struct bs_sleep_state st = { 0 };
	ck_assert(!bs_sleep_resumes(&st, 5 * BS_MS));
	bs_sleep_interrupted(&st, 42 * BS_MS + 17);
	ck_assert(!bs_sleep_resumes(&st, 42 * BS_MS));
	ck_assert(!bs_sleep_resumes(&st, 42 * BS_MS + 17)); /* cleared by the miss */
	bs_sleep_interrupted(&st, 42 * BS_MS + 17);
	ck_assert(bs_sleep_resumes(&st, 42 * BS_MS + 17));
	ck_assert(!bs_sleep_resumes(&st, 42 * BS_MS + 17)); /* consumed */
	bs_sleep_interrupted(&st, 7 * BS_MS);
	bs_sleep_state_note(&st, 0, 0);
	ck_assert(!bs_sleep_resumes(&st, 7 * BS_MS));
}
END_TEST

START_TEST(absolute_deadline_keeps_its_adjustment)
{
	struct bs_sleep_state st = { 0 };
	bs_ns given;
	ck_assert(!bs_sleep_abs_resumes(&st, 1000, &given));
	bs_sleep_abs_note(&st, 1000, 1234);
	ck_assert(bs_sleep_abs_resumes(&st, 1000, &given));
	ck_assert_uint_eq(given, 1234);
	ck_assert(bs_sleep_abs_resumes(&st, 1000, &given)); /* again: same answer */
	ck_assert(!bs_sleep_abs_resumes(&st, 1001, &given));
}
END_TEST

BS_SUITE(sleepadj_suite)
{
	Suite *s = suite_create("sleepadj");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, failures_count_and_success_resets);
	tcase_add_test(tc, retry_sleep_only_within_window);
	tcase_add_test(tc, non_retry_sleep_untouched_in_retry_mode);
	tcase_add_test(tc, jitter_spreads_within_bounds_around_the_mean);
	tcase_add_test(tc, backoff_doubles_with_streak_up_to_max_delay);
	tcase_add_test(tc, jittered_backoff_never_exceeds_the_ceiling);
	tcase_add_test(tc, long_request_is_never_lengthened_past_itself);
	tcase_add_test(tc, mode_all_jitters_sleeps_above_the_floor);
	tcase_add_test(tc, fixed_seed_reproduces_the_sequence);
	tcase_add_test(tc, resumption_is_recognised_once);
	tcase_add_test(tc, absolute_deadline_keeps_its_adjustment);
	suite_add_tcase(s, tc);
	return s;
}
