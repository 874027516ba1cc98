/* The retry budget with a fake clock: the allowance (share of calls plus
 * the minimum), the sliding window, one report per window, and threads
 * racing for the last retries never exceeding it. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "engine/budget.h"
#include "tests/runner/bs_test.h"

static const struct bs_budget_params twenty = {
	.percent = 20, .min_per_sec = 0, .window = 10 * BS_SEC };

static unsigned grants(struct bs_budget *b, const struct bs_budget_params *p,
		       bs_ns now, unsigned asks)
{
	unsigned n = 0;
	for (unsigned i = 0; i < asks; i++)
		n += bs_budget_retry(b, p, now, NULL);
	return n;
}

START_TEST(share_of_calls)
{
	struct bs_budget b;
	memset(&b, 0, sizeof b);
	for (int i = 0; i < 100; i++)
		bs_budget_call(&b, &twenty, 5 * BS_SEC);
	ck_assert_uint_eq(grants(&b, &twenty, 5 * BS_SEC, 50), 20);
	struct bs_budget_view v;
	bs_budget_view(&b, &twenty, 5 * BS_SEC, &v);
	ck_assert_uint_eq(v.calls, 100);
	ck_assert_uint_eq(v.retries, 20);
	ck_assert_uint_eq(v.allowed, 20);
}
END_TEST

START_TEST(minimum_per_second)
{
	struct bs_budget b;
	memset(&b, 0, sizeof b);
	const struct bs_budget_params p = { .percent = 20, .min_per_sec = 3,
					    .window = 2 * BS_SEC };
	/* No calls at all: 3/s over 2 s. */
	ck_assert_uint_eq(grants(&b, &p, BS_SEC, 10), 6);
	for (int i = 0; i < 10; i++)
		bs_budget_call(&b, &p, BS_SEC);
	ck_assert_uint_eq(grants(&b, &p, BS_SEC, 10), 2);
}
END_TEST

START_TEST(window_slides)
{
	struct bs_budget b;
	memset(&b, 0, sizeof b);
	for (int i = 0; i < 100; i++)
		bs_budget_call(&b, &twenty, 0);
	ck_assert_uint_eq(grants(&b, &twenty, 0, 30), 20);
	/* 5 s later the calls still count, and so do the retries. */
	ck_assert_uint_eq(grants(&b, &twenty, 5 * BS_SEC, 5), 0);
	/* A window later both have left it: no calls, nothing allowed. */
	ck_assert_uint_eq(grants(&b, &twenty, 10 * BS_SEC + 1, 5), 0);
	for (int i = 0; i < 10; i++)
		bs_budget_call(&b, &twenty, 11 * BS_SEC);
	ck_assert_uint_eq(grants(&b, &twenty, 11 * BS_SEC, 5), 2);
}
END_TEST

START_TEST(one_report_per_window)
{
	struct bs_budget b;
	memset(&b, 0, sizeof b);
	ck_assert(bs_budget_first_refusal(&b, &twenty, 0));
	ck_assert(!bs_budget_first_refusal(&b, &twenty, 1));
	ck_assert(!bs_budget_first_refusal(&b, &twenty, 9 * BS_SEC));
	ck_assert(bs_budget_first_refusal(&b, &twenty, 10 * BS_SEC));
	ck_assert(!bs_budget_first_refusal(&b, &twenty, 12 * BS_SEC));
}
END_TEST

#define RACERS 8

struct race {
	struct bs_budget budget;
	atomic_uint granted;
};

static void *racer(void *arg)
{
	struct race *r = arg;
	for (int i = 0; i < 2000; i++) {
		if (i % 10 == 0)
			bs_budget_call(&r->budget, &twenty, BS_SEC);
		if (bs_budget_retry(&r->budget, &twenty, BS_SEC, NULL))
			atomic_fetch_add(&r->granted, 1);
	}
	return NULL;
}

/* 8 threads, 1600 calls, 16000 asks: exactly 20% of the calls can have
 * been granted at any moment, and never more. */
START_TEST(racing_threads_never_exceed_it)
{
	static struct race r;
	memset(&r, 0, sizeof r);
	pthread_t t[RACERS];
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, racer, &r), 0);
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	struct bs_budget_view v;
	bs_budget_view(&r.budget, &twenty, BS_SEC, &v);
	ck_assert_uint_eq(v.calls, RACERS * 200);
	ck_assert_uint_eq(v.retries, atomic_load(&r.granted));
	ck_assert_uint_le(v.retries, v.allowed);
	ck_assert_uint_gt(v.retries, v.allowed / 2);
}
END_TEST

BS_SUITE(budget_suite)
{
	Suite *s = suite_create("budget");
	TCase *tc = tcase_create("budget");
	tcase_add_test(tc, share_of_calls);
	tcase_add_test(tc, minimum_per_second);
	tcase_add_test(tc, window_slides);
	tcase_add_test(tc, one_report_per_window);
	tcase_add_test(tc, racing_threads_never_exceed_it);
	suite_add_tcase(s, tc);
	return s;
}
