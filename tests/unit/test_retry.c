/* The connect retry loop against fake I/O (test_retry_util.h): first-try
 * success, retries, errors that are not retried, EINTR, no log. The
 * deadline's tests are test_retry_deadline.c. */
#include <errno.h>

#include "engine/connect_retry.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_retry_util.h"

START_TEST(first_try_success_logs_nothing)
{
	struct run r;
	RUN(&r, { 0, 3 * BS_MS });
	run_go(&r, true);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.fake.attempts, 1);
	ck_assert_uint_eq(r.fake.n_pauses, 0);
	ck_assert_uint_eq(r.sink.n_lines, 0);
}
END_TEST

START_TEST(success_after_a_cap_wait_logs_ok)
{
	struct run r;
	RUN(&r, { 0, BS_MS });
	r.waited = true;
	r.start -= 250 * BS_MS; /* the wait */
	run_go(&r, true);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.sink.n_lines, 1);
	ck_assert_str_eq(line_event(&r, 0), "connect.ok");
	assert_field(r.sink.lines[0], "attempt", "1");
	assert_field(r.sink.lines[0], "elapsed_ms", "251.000");
}
END_TEST

START_TEST(retries_then_success)
{
	struct run r;
	RUN(&r, { ECONNREFUSED, BS_MS }, { ENOENT, BS_MS }, { ETIMEDOUT, 0 }, { 0, BS_MS });
	run_go(&r, true);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.fake.attempts, 4);
	ck_assert_uint_eq(r.fake.n_pauses, 3);
	ck_assert_uint_eq(r.sink.n_lines, 4);
	static const char *const errs[] = { "ECONNREFUSED", "ENOENT", "ETIMEDOUT" };
	for (size_t i = 0; i < 3; i++) {
		const char *l = r.sink.lines[i];
		char n[8];
		snprintf(n, sizeof n, "%zu", i + 1);
		ck_assert_str_eq(line_event(&r, i), "connect.retry");
		assert_field(l, "attempt", n);
		assert_field(l, "attempts", "5");
		assert_field(l, "errno", errs[i]);
		assert_field(l, "fd", "7");
		assert_field(l, "dest", "127.0.0.1:5432");
		assert_field(l, "rule", "db");
		/* the delay logged is the pause taken */
		char ms[32];
		snprintf(ms, sizeof ms, "%llu.%03llu",
			 (unsigned long long)(r.fake.pauses[i] / BS_MS),
			 (unsigned long long)(r.fake.pauses[i] % BS_MS / 1000));
		assert_field(l, "delay_ms", ms);
	}
	ck_assert_str_eq(line_event(&r, 3), "connect.ok");
	assert_field(r.sink.lines[3], "attempt", "4");
}
END_TEST

START_TEST(refused_forever_stops_after_attempts)
{
	struct run r;
	RUN(&r, { ECONNREFUSED, BS_MS });
	run_go(&r, true);
	ck_assert_int_eq(r.rc, ECONNREFUSED);
	ck_assert_uint_eq(r.fake.attempts, 5);
	ck_assert_uint_eq(r.fake.n_pauses, 4);
	ck_assert_uint_eq(r.sink.n_lines, 5);
	const char *last = r.sink.lines[4];
	ck_assert_str_eq(line_event(&r, 4), "connect.giveup");
	assert_field(last, "reason", "attempts");
	assert_field(last, "errno", "ECONNREFUSED");
	assert_field(last, "attempt", "5");
}
END_TEST

START_TEST(not_retryable_returns_at_once)
{
	static const int errs[] = { EACCES, EAFNOSUPPORT, EISCONN };
	for (size_t i = 0; i < sizeof errs / sizeof *errs; i++) {
		struct run r;
		struct step s[] = { { errs[i], BS_MS } };
		run_init(&r, s, 1);
		run_go(&r, true);
		ck_assert_int_eq(r.rc, errs[i]);
		ck_assert_uint_eq(r.fake.attempts, 1);
		ck_assert_uint_eq(r.fake.n_pauses, 0);
		ck_assert_uint_eq(r.sink.n_lines, 1);
		assert_field(r.sink.lines[0], "reason", "not_retryable");
		assert_field(r.sink.lines[0], "attempt", "1");
	}
}
END_TEST

/* An attempt cut by attempt_timeout is an ETIMEDOUT like any other:
 * retried only when retry_on lists it. */
START_TEST(attempt_timeout_needs_etimedout_in_retry_on)
{
	struct run r;
	RUN(&r, { ETIMEDOUT, 0 });
	memset(&r.rule.retry_on, 0, sizeof r.rule.retry_on);
	bs_errset_add(&r.rule.retry_on, ECONNREFUSED);
	run_go(&r, true);
	ck_assert_int_eq(r.rc, ETIMEDOUT);
	ck_assert_uint_eq(r.fake.attempts, 1);
	ck_assert_uint_eq(r.fake.bounds[0], 2 * BS_SEC);
	assert_field(r.sink.lines[0], "reason", "not_retryable");
}
END_TEST


/* The attempt before the pause was over: the program sees its error, as
 * a plain connect would have returned it (issue 10, defect 2). */
START_TEST(eintr_in_a_pause_returns_the_last_error)
{
	struct run r;
	RUN(&r, { ECONNREFUSED, BS_MS });
	r.fake.pause_result = EINTR;
	run_go(&r, true);
	ck_assert_int_eq(r.rc, ECONNREFUSED);
	ck_assert_uint_eq(r.fake.attempts, 1);
	ck_assert_uint_eq(r.sink.n_lines, 2);
	ck_assert_str_eq(line_event(&r, 0), "connect.retry");
	assert_field(r.sink.lines[1], "reason", "interrupted");
	assert_field(r.sink.lines[1], "errno", "ECONNREFUSED");
}
END_TEST

/* An attempt that ended with EINTR is an interruption, not an error
 * outside retry_on (issue 10, defect 14). */
START_TEST(eintr_from_an_attempt_is_interrupted)
{
	struct run r;
	RUN(&r, { EINTR, BS_MS });
	run_go(&r, true);
	ck_assert_int_eq(r.rc, EINTR);
	ck_assert_uint_eq(r.sink.n_lines, 1);
	assert_field(r.sink.lines[0], "reason", "interrupted");
	assert_field(r.sink.lines[0], "errno", "EINTR");
}
END_TEST

START_TEST(no_log_no_lines)
{
	struct run r;
	RUN(&r, { ECONNREFUSED, BS_MS });
	run_go(&r, false);
	ck_assert_int_eq(r.rc, ECONNREFUSED);
	ck_assert_uint_eq(r.fake.attempts, 5);
}
END_TEST

BS_SUITE(retry_suite)
{
	Suite *s = suite_create("retry");
	TCase *tc = tcase_create("loop");
	tcase_add_test(tc, first_try_success_logs_nothing);
	tcase_add_test(tc, success_after_a_cap_wait_logs_ok);
	tcase_add_test(tc, retries_then_success);
	tcase_add_test(tc, refused_forever_stops_after_attempts);
	tcase_add_test(tc, not_retryable_returns_at_once);
	tcase_add_test(tc, attempt_timeout_needs_etimedout_in_retry_on);
	tcase_add_test(tc, eintr_in_a_pause_returns_the_last_error);
	tcase_add_test(tc, eintr_from_an_attempt_is_interrupted);
	tcase_add_test(tc, no_log_no_lines);
	suite_add_tcase(s, tc);
	return s;
}
