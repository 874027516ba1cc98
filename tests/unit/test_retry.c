/* The connect retry loop against fake I/O: a scripted list of attempt
 * results, a fake clock that advances on every attempt and pause, and a
 * pipe as the log sink, read back and parsed line by line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/connect_retry.h"
#include "tests/runner/bs_test.h"

#define MAX_STEPS 64
#define MAX_LINES 64

/* One attempt's scripted outcome: its result, and how long it takes.
 * ETIMEDOUT with took == 0 means "ran until its bound". */
struct step {
	int result;
	bs_ns took;
};

struct fake {
	const struct step *script;
	size_t n_script;
	size_t attempts;
	bs_ns now;
	bs_ns bounds[MAX_STEPS];      /* the timeout each attempt got */
	bs_ns attempt_start[MAX_STEPS];
	bs_ns pauses[MAX_STEPS];
	bs_ns pause_start[MAX_STEPS];
	size_t n_pauses;
	int pause_result;             /* what every pause returns */
	bs_ns pause_overshoot;        /* added to every pause (a late wakeup) */
};

static int fake_attempt(void *ctx, bs_ns timeout)
{
	struct fake *f = ctx;
	ck_assert_uint_gt(timeout, 0);
	ck_assert_uint_lt(f->attempts, MAX_STEPS);
	struct step s = f->script[f->attempts < f->n_script ? f->attempts
							    : f->n_script - 1];
	f->bounds[f->attempts] = timeout;
	f->attempt_start[f->attempts] = f->now;
	f->attempts++;
	if (s.result == ETIMEDOUT && s.took == 0)
		s.took = timeout;
	if (s.took >= timeout) { /* the bound cut it short */
		f->now += timeout;
		return ETIMEDOUT;
	}
	f->now += s.took;
	return s.result;
}

static int fake_pause(void *ctx, bs_ns delay)
{
	struct fake *f = ctx;
	ck_assert_uint_lt(f->n_pauses, MAX_STEPS);
	f->pause_start[f->n_pauses] = f->now;
	f->pauses[f->n_pauses++] = delay;
	if (f->pause_result != 0)
		return f->pause_result;
	f->now += delay + f->pause_overshoot;
	return 0;
}

static bs_ns fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static struct bs_rule test_rule(void)
{
	struct bs_rule r = {
		.name = "db",
		.attempts = 5,
		.backoff = { .base = 100 * BS_MS, .factor = 2, .max_delay = 2 * BS_SEC,
			     .jitter = { .kind = BS_JITTER_FULL } },
		.attempt_timeout = 2 * BS_SEC,
		.deadline = 10 * BS_SEC,
	};
	bs_errset_add(&r.retry_on, ECONNREFUSED);
	bs_errset_add(&r.retry_on, ETIMEDOUT);
	bs_errset_add(&r.retry_on, ENOENT);
	return r;
}

/* A log whose lines land in a pipe the test reads back. */
struct sink {
	struct bs_log log;
	int rd;
	char text[MAX_LINES * BS_LOG_LINE_MAX];
	char *lines[MAX_LINES];
	size_t n_lines;
};

static void sink_open(struct sink *s)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_ge(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	memset(&s->log, 0, sizeof s->log);
	s->log.kind = BS_LOG_FD;
	s->log.fd = p[1];
	snprintf(s->log.prog, sizeof s->log.prog, "test_retry");
	s->rd = p[0];
	s->n_lines = 0;
}

/* Close the sink and split what it received into lines. */
static void sink_read(struct sink *s)
{
	close(s->log.fd);
	size_t len = 0;
	ssize_t n;
	while ((n = read(s->rd, s->text + len, sizeof s->text - 1 - len)) > 0)
		len += (size_t)n;
	close(s->rd);
	s->text[len] = '\0';
	for (char *save, *l = strtok_r(s->text, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		ck_assert_uint_lt(s->n_lines, MAX_LINES);
		s->lines[s->n_lines++] = l;
	}
}

/* The value of "key" in a JSON line (strings without their quotes), or
 * NULL when the line has no such field. */
static const char *field(const char *line, const char *key)
{
	static char value[256];
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (p == NULL)
		return NULL;
	p += strlen(pat);
	size_t n = 0;
	if (*p == '"')
		for (p++; p[n] != '"' && p[n] != '\0'; n++)
			;
	else
		n = strcspn(p, ",}");
	ck_assert_uint_lt(n, sizeof value);
	memcpy(value, p, n);
	value[n] = '\0';
	return value;
}

static void assert_field(const char *line, const char *key, const char *want)
{
	const char *got = field(line, key);
	ck_assert_msg(got != NULL, "no \"%s\" in %s", key, line);
	if (want != NULL)
		ck_assert_msg(strcmp(got, want) == 0, "\"%s\" is %s, want %s in %s",
			      key, got, want, line);
}

/* Every field DESIGN.md requires for the line's event. */
static void assert_design_fields(const char *line)
{
	static const char *const common[] = { "ts", "pid", "tid", "prog", "event",
					      "fd", "dest", "rule", "mode", "attempt" };
	for (size_t i = 0; i < sizeof common / sizeof *common; i++)
		assert_field(line, common[i], NULL);
	const char *event = field(line, "event");
	static const char *const retry[] = { "attempts", "errno", "delay_ms",
					     "deadline_left_ms" };
	static const char *const giveup[] = { "errno", "reason" };
	const char *const *extra = NULL;
	size_t n = 0;
	if (strcmp(event, "connect.retry") == 0)
		extra = retry, n = 4;
	else if (strcmp(event, "connect.giveup") == 0)
		extra = giveup, n = 2;
	else if (strcmp(event, "connect.ok") == 0)
		assert_field(line, "elapsed_ms", NULL);
	else
		ck_abort_msg("unexpected event in %s", line);
	for (size_t i = 0; i < n; i++)
		assert_field(line, extra[i], NULL);
}

struct run {
	struct bs_rule rule;
	struct bs_rng rng;
	struct fake fake;
	struct sink sink;
	bool waited;
	bs_ns start;
	int rc;
};

static void run_init(struct run *r, const struct step *script, size_t n)
{
	memset(r, 0, sizeof *r);
	r->rule = test_rule();
	bs_rng_seed(&r->rng, 42);
	r->fake.script = script;
	r->fake.n_script = n;
	r->fake.now = 1000 * BS_SEC;
	r->start = r->fake.now;
}

static void run_go(struct run *r, bool log)
{
	if (log)
		sink_open(&r->sink);
	struct bs_connect_call call = {
		.rule = &r->rule, .rng = &r->rng, .log = log ? &r->sink.log : NULL,
		.fd = 7, .dest = "127.0.0.1:5432", .mode = BS_CONNECT_BLOCKING,
		.start = r->start,
		.waited = r->waited,
	};
	struct bs_retry_io io = { .ctx = &r->fake, .attempt = fake_attempt,
				    .pause = fake_pause, .now = fake_now };
	r->rc = bs_connect_retry(&call, &io);
	if (log) {
		sink_read(&r->sink);
		for (size_t i = 0; i < r->sink.n_lines; i++)
			assert_design_fields(r->sink.lines[i]);
	}
}

#define RUN(r, ...)                                                     \
	static const struct step script_[] = { __VA_ARGS__ };          \
	run_init(r, script_, sizeof script_ / sizeof *script_)

static const char *line_event(struct run *r, size_t i)
{
	ck_assert_uint_lt(i, r->sink.n_lines);
	return field(r->sink.lines[i], "event");
}

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
	tc = tcase_create("deadline");
	tcase_add_test(tc, deadline_runs_out_mid_attempt);
	tcase_add_test(tc, attempt_bounds_shrink_to_the_time_left);
	tcase_add_test(tc, no_pause_ends_past_the_deadline);
	tcase_add_test(tc, overlong_pause_ends_the_call_with_the_last_error);
	tcase_add_test(tc, deadline_gone_before_the_first_attempt);
	tcase_add_test(tc, deadline_is_never_overshot);
	suite_add_tcase(s, tc);
	return s;
}
