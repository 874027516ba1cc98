/* The connect retry loop's deadline, against fake I/O
 * (test_retry_util.h): it runs out mid-attempt, attempts shrink to the
 * time left, no pause ends past it, a cap wait can use it all, and 2000
 * random policies and failure patterns never overshoot it. */
#include <errno.h>

#include "engine/connect_retry.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_retry_util.h"

START_TEST(deadline_runs_out_mid_attempt)
{
	struct run r;
	RUN(&r, { ETIMEDOUT, 0 });
	r.rule.attempt_timeout = 0; /* bounded by the deadline only */
	r.rule.deadline = 3 * BS_SEC;
	run_go(&r, true);
	ck_assert_int_eq(r.rc, ETIMEDOUT);
	ck_assert_uint_eq(r.fake.attempts, 1);
	ck_assert_uint_eq(r.fake.bounds[0], 3 * BS_SEC);
	ck_assert_uint_eq(r.fake.now, r.start + 3 * BS_SEC);
	ck_assert_uint_eq(r.sink.n_lines, 1);
	assert_field(r.sink.lines[0], "reason", "deadline");
	assert_field(r.sink.lines[0], "errno", "ETIMEDOUT");
}
END_TEST

/* 400ms attempts and 50ms pauses in a 1s deadline: the third attempt only
 * gets the 100ms left, and its timeout ends the call. */
START_TEST(attempt_bounds_shrink_to_the_time_left)
{
	struct run r;
	RUN(&r, { ETIMEDOUT, 0 });
	r.rule.attempt_timeout = 400 * BS_MS;
	r.rule.deadline = BS_SEC;
	r.rule.backoff = (struct bs_backoff_params){ .base = 50 * BS_MS, .factor = 1,
						     .max_delay = BS_SEC };
	run_go(&r, true);
	ck_assert_int_eq(r.rc, ETIMEDOUT);
	ck_assert_uint_eq(r.fake.attempts, 3);
	ck_assert_uint_eq(r.fake.bounds[0], 400 * BS_MS);
	ck_assert_uint_eq(r.fake.bounds[1], 400 * BS_MS);
	ck_assert_uint_eq(r.fake.bounds[2], 100 * BS_MS);
	ck_assert_uint_eq(r.fake.now, r.start + BS_SEC);
	ck_assert_str_eq(line_event(&r, r.sink.n_lines - 1), "connect.giveup");
	assert_field(r.sink.lines[r.sink.n_lines - 1], "reason", "deadline");
	assert_field(r.sink.lines[1], "deadline_left_ms", "150.000");
}
END_TEST

/* A pause that would end past the deadline is never started: the call
 * ends with the refusal it saw, not ETIMEDOUT. */
START_TEST(no_pause_ends_past_the_deadline)
{
	struct run r;
	RUN(&r, { ECONNREFUSED, 10 * BS_MS });
	r.rule.attempts = 100;
	r.rule.deadline = 500 * BS_MS;
	r.rule.backoff = (struct bs_backoff_params){ .base = 100 * BS_MS, .factor = 2,
						     .max_delay = BS_SEC };
	run_go(&r, true);
	ck_assert_int_eq(r.rc, ECONNREFUSED);
	/* 10 +100 +10 +200 +10 = 330ms; the next pause (400ms) would end at 730 */
	ck_assert_uint_eq(r.fake.attempts, 3);
	ck_assert_uint_eq(r.fake.n_pauses, 2);
	ck_assert_uint_eq(r.fake.now, r.start + 330 * BS_MS);
	assert_field(r.sink.lines[r.sink.n_lines - 1], "reason", "deadline");
	assert_field(r.sink.lines[r.sink.n_lines - 1], "errno", "ECONNREFUSED");
}
END_TEST

/* A late wakeup that ran past the deadline: no further attempt. */
START_TEST(overlong_pause_ends_the_call_with_the_last_error)
{
	struct run r;
	RUN(&r, { ECONNREFUSED, BS_MS });
	r.rule.deadline = BS_SEC;
	r.rule.backoff.jitter.kind = BS_JITTER_NONE;
	r.fake.pause_overshoot = 5 * BS_SEC;
	run_go(&r, true);
	ck_assert_int_eq(r.rc, ECONNREFUSED);
	ck_assert_uint_eq(r.fake.attempts, 1);
	assert_field(r.sink.lines[1], "reason", "deadline");
	assert_field(r.sink.lines[1], "attempt", "1");
}
END_TEST

/* A cap wait that used up the whole deadline: no attempt at all. */
START_TEST(deadline_gone_before_the_first_attempt)
{
	struct run r;
	RUN(&r, { 0, BS_MS });
	r.start -= r.rule.deadline;
	r.waited = true;
	run_go(&r, true);
	ck_assert_int_eq(r.rc, ETIMEDOUT);
	ck_assert_uint_eq(r.fake.attempts, 0);
	assert_field(r.sink.lines[0], "reason", "deadline");
	assert_field(r.sink.lines[0], "attempt", "0");
}

/* A random number in [lo, hi]. */
static bs_ns pick(struct bs_rng *rng, bs_ns lo, bs_ns hi)
{
	return lo + bs_rng_below(rng, hi - lo + 1);
}

/* 2000 random policies and failure patterns: the whole call never passes
 * its deadline, no pause ends at or past it, every attempt is bounded by
 * attempt_timeout and by the time left, and the attempt count holds. */
START_TEST(deadline_is_never_overshot)
{
	static const int results[] = { ECONNREFUSED, ETIMEDOUT, ENOENT, 0, EACCES };
	struct bs_rng gen;
	bs_rng_seed(&gen, 20240607);
	for (int iter = 0; iter < 2000; iter++) {
		struct step script[MAX_STEPS];
		for (size_t i = 0; i < MAX_STEPS; i++) {
			/* mostly transient failures; rare success or EACCES */
			uint64_t k = bs_rng_below(&gen, 40);
			script[i].result = results[k < 16 ? 0 : k < 30 ? 1 : k < 38 ? 2
						   : k == 38 ? 3 : 4];
			script[i].took = pick(&gen, 0, 3 * BS_SEC);
		}
		struct run r;
		run_init(&r, script, MAX_STEPS);
		bs_rng_seed(&r.rng, (uint64_t)iter + 1);
		r.rule.attempts = (uint32_t)pick(&gen, 1, 40);
		r.rule.deadline = pick(&gen, BS_MS, 20 * BS_SEC);
		r.rule.attempt_timeout = bs_rng_below(&gen, 3) == 0
					 ? 0 : pick(&gen, BS_MS, 5 * BS_SEC);
		r.rule.backoff.base = pick(&gen, 0, BS_SEC);
		r.rule.backoff.factor = 1.0 + (double)bs_rng_below(&gen, 300) / 100;
		r.rule.backoff.max_delay = pick(&gen, BS_MS, 10 * BS_SEC);
		r.rule.backoff.jitter.kind = (enum bs_jitter_kind)bs_rng_below(&gen, 5);
		r.rule.backoff.jitter.percent = (uint32_t)bs_rng_below(&gen, 101);
		if (bs_rng_below(&gen, 4) == 0)
			r.start -= pick(&gen, 0, r.rule.deadline); /* after a cap wait */
		run_go(&r, false);

		const bs_ns deadline_at = r.start + r.rule.deadline;
		ck_assert_uint_le(r.fake.now, deadline_at);
		ck_assert_uint_le(r.fake.attempts, r.rule.attempts);
		for (size_t i = 0; i < r.fake.n_pauses; i++)
			ck_assert_uint_lt(r.fake.pause_start[i] + r.fake.pauses[i], deadline_at);
		for (size_t i = 0; i < r.fake.attempts; i++) {
			ck_assert_uint_eq(r.fake.bounds[i] + r.fake.attempt_start[i] >
						  deadline_at, 0);
			if (r.rule.attempt_timeout)
				ck_assert_uint_le(r.fake.bounds[i], r.rule.attempt_timeout);
		}
		ck_assert(r.rc == 0 || r.rc == ECONNREFUSED || r.rc == ETIMEDOUT ||
			  r.rc == ENOENT || r.rc == EACCES);
		if (r.fake.now == deadline_at && r.rc != 0)
			ck_assert_int_eq(r.rc, ETIMEDOUT); /* it ran out mid-attempt */
	}
}
END_TEST

BS_SUITE(retry_deadline_suite)
{
	Suite *s = suite_create("retry_deadline");
	TCase *tc = tcase_create("deadline");
	tcase_add_test(tc, deadline_runs_out_mid_attempt);
	tcase_add_test(tc, attempt_bounds_shrink_to_the_time_left);
	tcase_add_test(tc, no_pause_ends_past_the_deadline);
	tcase_add_test(tc, overlong_pause_ends_the_call_with_the_last_error);
	tcase_add_test(tc, deadline_gone_before_the_first_attempt);
	tcase_add_test(tc, deadline_is_never_overshot);
	suite_add_tcase(s, tc);
	return s;
}

