/* The asynchronous connect's states (engine/asyncconn.h) and the cutting
 * of a readiness call's timeout at a pending connect's due time, driven
 * by hand with a fake clock; nothing is logged. */
#include <errno.h>
#include <string.h>

#include "engine/asyncconn.h"
#include "engine/connect_retry.h"
#include "tests/runner/bs_test.h"

#define T0 (1000 * BS_SEC)

struct fixture {
	struct bs_rule rule;
	struct bs_rng rng;
	struct bs_connect_call ccall;
	struct bs_retry_call call;
	struct bs_aconn a;
};

static void setup(struct fixture *f, uint32_t attempts, bs_ns attempt_timeout, bs_ns deadline)
{
	memset(f, 0, sizeof *f);
	strcpy(f->rule.name, "connect");
	f->rule.attempts = attempts;
	f->rule.backoff = (struct bs_backoff_params){
		.base = 100 * BS_MS, .factor = 2, .max_delay = 1 * BS_SEC,
		.jitter = { .kind = BS_JITTER_NONE },
	};
	f->rule.attempt_timeout = attempt_timeout;
	f->rule.deadline = deadline;
	bs_errset_add(&f->rule.retry_on, ECONNREFUSED);
	bs_errset_add(&f->rule.retry_on, ETIMEDOUT);
	bs_rng_seed(&f->rng, 1);
	f->ccall = (struct bs_connect_call){ .rule = &f->rule, .rng = &f->rng, .fd = 5,
					     .dest = "127.0.0.1:1", .mode = BS_CONNECT_ASYNC,
					     .start = T0 };
	bs_connect_retry_call(&f->call, &f->ccall);
	bs_aconn_start(&f->a, &f->call, T0);
}

START_TEST(first_attempt_in_flight_until_its_bound)
{
	struct fixture f;
	setup(&f, 5, 2 * BS_SEC, 10 * BS_SEC);
	ck_assert_int_eq(f.a.state, BS_ACONN_IN_FLIGHT);
	ck_assert_uint_eq(f.a.due, T0 + 2 * BS_SEC);
	ck_assert_uint_eq(f.a.retry.attempt, 1);
}
END_TEST

START_TEST(refused_backs_off_then_resumes_and_connects)
{
	struct fixture f;
	setup(&f, 5, 0, 10 * BS_SEC);
	ck_assert_uint_eq(f.a.due, T0 + 10 * BS_SEC); /* no attempt_timeout: the deadline */
	ck_assert_int_eq(bs_aconn_ended(&f.a, ECONNREFUSED, T0 + BS_MS), BS_ACONN_BACKOFF);
	ck_assert_uint_eq(f.a.due, T0 + BS_MS + 100 * BS_MS); /* base, no jitter */
	ck_assert_int_eq(bs_aconn_resume(&f.a, f.a.due), BS_ACONN_IN_FLIGHT);
	ck_assert_uint_eq(f.a.retry.attempt, 2);
	ck_assert_uint_eq(f.a.due, T0 + 10 * BS_SEC);
	ck_assert_int_eq(bs_aconn_ended(&f.a, ECONNREFUSED, T0 + 102 * BS_MS), BS_ACONN_BACKOFF);
	ck_assert_uint_eq(f.a.due, T0 + 302 * BS_MS); /* doubled */
	ck_assert_int_eq(bs_aconn_resume(&f.a, f.a.due), BS_ACONN_IN_FLIGHT);
	ck_assert_int_eq(bs_aconn_ended(&f.a, 0, T0 + 303 * BS_MS), BS_ACONN_CONNECTED);
}
END_TEST

START_TEST(not_retryable_fails_with_its_error)
{
	struct fixture f;
	setup(&f, 5, 0, 10 * BS_SEC);
	ck_assert_int_eq(bs_aconn_ended(&f.a, ECONNRESET, T0 + BS_MS), BS_ACONN_FAILED);
	ck_assert_int_eq(f.a.err, ECONNRESET);
}
END_TEST

START_TEST(attempts_exhausted_fail_with_the_last_error)
{
	struct fixture f;
	setup(&f, 2, 0, 10 * BS_SEC);
	ck_assert_int_eq(bs_aconn_ended(&f.a, ECONNREFUSED, T0), BS_ACONN_BACKOFF);
	ck_assert_int_eq(bs_aconn_resume(&f.a, f.a.due), BS_ACONN_IN_FLIGHT);
	ck_assert_int_eq(bs_aconn_ended(&f.a, ECONNREFUSED, f.a.retry.deadline_at - 5 * BS_SEC),
			 BS_ACONN_FAILED);
	ck_assert_int_eq(f.a.err, ECONNREFUSED);
}
END_TEST

START_TEST(attempt_cut_by_the_deadline_is_etimedout)
{
	struct fixture f;
	setup(&f, 0, 0, 1 * BS_SEC);
	/* The caller saw nothing by the due time (the deadline): ETIMEDOUT. */
	ck_assert_int_eq(bs_aconn_ended(&f.a, ETIMEDOUT, f.a.due), BS_ACONN_FAILED);
	ck_assert_int_eq(f.a.err, ETIMEDOUT);
}
END_TEST

START_TEST(no_pause_past_the_deadline)
{
	struct fixture f;
	setup(&f, 0, 0, 150 * BS_MS);
	ck_assert_int_eq(bs_aconn_ended(&f.a, ECONNREFUSED, T0 + 10 * BS_MS), BS_ACONN_BACKOFF);
	ck_assert_int_eq(bs_aconn_resume(&f.a, f.a.due), BS_ACONN_IN_FLIGHT);
	/* The next pause (200 ms) would end past the deadline: the real error. */
	ck_assert_int_eq(bs_aconn_ended(&f.a, ECONNREFUSED, T0 + 120 * BS_MS), BS_ACONN_FAILED);
	ck_assert_int_eq(f.a.err, ECONNREFUSED);
}
END_TEST

START_TEST(resumed_too_late_fails)
{
	struct fixture f;
	setup(&f, 0, 0, 1 * BS_SEC);
	ck_assert_int_eq(bs_aconn_ended(&f.a, ECONNREFUSED, T0), BS_ACONN_BACKOFF);
	/* Nobody waited until well after the deadline. */
	ck_assert_int_eq(bs_aconn_resume(&f.a, T0 + 5 * BS_SEC), BS_ACONN_FAILED);
	ck_assert_int_eq(f.a.err, ECONNREFUSED);
}
END_TEST

START_TEST(wait_slice_cuts_at_the_due_time)
{
	const bs_ns now = T0, F = BS_WAIT_FOREVER;
	ck_assert_uint_eq(bs_wait_slice(now, F, F), F);                    /* no end, nothing due */
	ck_assert_uint_eq(bs_wait_slice(now, F, now + 5), 5);              /* cut at due */
	ck_assert_uint_eq(bs_wait_slice(now, now + 3, now + 5), 3);        /* the program's end first */
	ck_assert_uint_eq(bs_wait_slice(now, now + 7, now + 5), 5);
	ck_assert_uint_eq(bs_wait_slice(now, now + 7, now - 1), 0);        /* overdue: do not block */
	ck_assert_uint_eq(bs_wait_slice(now, now, F), 0);                  /* a zero timeout */
	ck_assert_uint_eq(bs_wait_end(now, F), F);
	ck_assert_uint_eq(bs_wait_end(now, F - 1), F);                     /* saturates */
	ck_assert_uint_eq(bs_wait_end(now, 9), now + 9);
}
END_TEST

BS_SUITE(asyncconn_suite)
{
	Suite *s = suite_create("asyncconn");
	TCase *tc = tcase_create("states");
	tcase_add_test(tc, first_attempt_in_flight_until_its_bound);
	tcase_add_test(tc, refused_backs_off_then_resumes_and_connects);
	tcase_add_test(tc, not_retryable_fails_with_its_error);
	tcase_add_test(tc, attempts_exhausted_fail_with_the_last_error);
	tcase_add_test(tc, attempt_cut_by_the_deadline_is_etimedout);
	tcase_add_test(tc, no_pause_past_the_deadline);
	tcase_add_test(tc, resumed_too_late_fails);
	suite_add_tcase(s, tc);
	tc = tcase_create("timeouts");
	tcase_add_test(tc, wait_slice_cuts_at_the_due_time);
	suite_add_tcase(s, tc);
	return s;
}
