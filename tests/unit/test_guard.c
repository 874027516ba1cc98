/* The retry engine with a guard (budget and breaker), on a fake clock:
 * fail-fast with the destination's last error, holding calls for the
 * half-open probe, the budget ending a call with reason budget, and the
 * log lines of each. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/retry.h"
#include "tests/runner/bs_test.h"

/* Attempts fail with `result` until `up_at`, then succeed. */
struct fake {
	bs_ns now, up_at;
	int result;
	unsigned attempts, pauses;
};

static int fake_attempt(void *ctx, bs_ns timeout)
{
	struct fake *f = ctx;
	(void)timeout;
	f->attempts++;
	f->now += BS_MS;
	return f->now >= f->up_at ? 0 : f->result;
}

static int fake_pause(void *ctx, bs_ns delay)
{
	struct fake *f = ctx;
	f->pauses++;
	f->now += delay;
	return 0;
}

static bs_ns fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static void identify(struct bs_logline *line, const void *ctx)
{
	(void)ctx;
	bs_line_str(line, "dest", "127.0.0.1:5432");
	bs_line_str(line, "rule", "db");
}

static bool retryable(const void *ctx, int err)
{
	(void)ctx;
	return err == ECONNREFUSED;
}

static const struct bs_retry_events events = {
	.retry = "connect.retry", .ok = "connect.ok", .giveup = "connect.giveup" };
static const struct bs_backoff_params backoff = {
	.base = 100 * BS_MS, .factor = 2, .max_delay = BS_SEC,
	.jitter = { .kind = BS_JITTER_NONE } };

struct world {
	struct fake fake;
	struct bs_budget budget;
	struct bs_breaker breaker;
	struct bs_guard guard;
	struct bs_rng rng;
	struct bs_log log;
	int rd;
	char text[16384];
};

static void world_init(struct world *w, bool hold)
{
	memset(w, 0, sizeof *w);
	w->fake = (struct fake){ .up_at = UINT64_MAX, .result = ECONNREFUSED };
	w->guard = (struct bs_guard){
		.budget = &w->budget,
		.budget_params = { .percent = 100, .min_per_sec = 100, .window = 10 * BS_SEC },
		.breaker = &w->breaker,
		.breaker_params = { .threshold = 3, .cooldown = BS_SEC },
		.hold = hold, .share = "process", .identify = identify };
	bs_rng_seed(&w->rng, 7);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	w->log.kind = BS_LOG_FD;
	w->log.fd = p[1];
	w->rd = p[0];
}

static int call(struct world *w, uint32_t attempts, bs_ns deadline)
{
	const struct bs_retry_call c = {
		.subject = { .events = &events, .identify = identify, .retryable = retryable },
		.limits = { .attempts = attempts, .backoff = &backoff, .deadline = deadline },
		.rng = &w->rng, .log = &w->log, .start = w->fake.now, .guard = &w->guard };
	const struct bs_retry_io io = {
		.ctx = &w->fake, .attempt = fake_attempt, .pause = fake_pause, .now = fake_now };
	return bs_retry_run(&c, &io);
}

/* Everything logged so far. */
static const char *logged(struct world *w)
{
	size_t len = strlen(w->text);
	ssize_t n;
	while ((n = read(w->rd, w->text + len, sizeof w->text - 1 - len)) > 0)
		len += (size_t)n;
	w->text[len] = '\0';
	return w->text;
}

static unsigned count(const char *text, const char *what)
{
	unsigned n = 0;
	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

START_TEST(open_circuit_fails_fast_with_the_last_error)
{
	static struct world w;
	world_init(&w, false);
	ck_assert_int_eq(call(&w, 3, 10 * BS_SEC), ECONNREFUSED);
	ck_assert_uint_eq(w.fake.attempts, 3);
	ck_assert_uint_eq(count(logged(&w), "\"event\":\"breaker.open\""), 1);
	ck_assert_ptr_nonnull(strstr(w.text, "\"dest\":\"127.0.0.1:5432\",\"rule\":\"db\",\"failures\":3,"));
	ck_assert_ptr_nonnull(strstr(w.text, "\"share\":\"process\""));
	/* The next call touches nothing and returns the real error. */
	ck_assert_int_eq(call(&w, 3, 10 * BS_SEC), ECONNREFUSED);
	ck_assert_uint_eq(w.fake.attempts, 3);
	ck_assert_uint_eq(count(logged(&w), "\"reason\":\"breaker\""), 1);
}
END_TEST

START_TEST(held_call_waits_for_the_probe)
{
	static struct world w;
	world_init(&w, true);
	ck_assert_int_eq(call(&w, 3, 10 * BS_SEC), ECONNREFUSED);
	struct bs_breaker_view v;
	bs_breaker_read(&w.breaker, &v);
	ck_assert_int_eq(v.state, BS_BREAKER_OPEN);
	/* The server is back before the cooldown ends: the next call is held
	 * until then, probes once, and the success closes the circuit. */
	w.fake.up_at = w.fake.now + 10 * BS_MS;
	const bs_ns began = w.fake.now;
	ck_assert_int_eq(call(&w, 3, 10 * BS_SEC), 0);
	ck_assert_uint_eq(w.fake.attempts, 4);
	ck_assert_uint_ge(w.fake.now, v.until);
	ck_assert_uint_le(w.fake.now - began, v.until - began + BS_SEC + 2 * BS_MS);
	const char *t = logged(&w);
	ck_assert_uint_eq(count(t, "breaker.half_open"), 1);
	ck_assert_uint_eq(count(t, "breaker.close"), 1);
	ck_assert_uint_eq(count(t, "\"event\":\"connect.ok\""), 1);
	bs_breaker_read(&w.breaker, &v);
	ck_assert_int_eq(v.state, BS_BREAKER_CLOSED);
}
END_TEST

/* A hold never runs past the deadline: when the probe would come too
 * late, the call gives up at once. */
START_TEST(hold_never_passes_the_deadline)
{
	static struct world w;
	world_init(&w, true);
	ck_assert_int_eq(call(&w, 3, 10 * BS_SEC), ECONNREFUSED);
	const bs_ns began = w.fake.now;
	ck_assert_int_eq(call(&w, 3, 100 * BS_MS), ECONNREFUSED);
	ck_assert_uint_eq(w.fake.now, began);
	ck_assert_uint_eq(w.fake.attempts, 3);
	ck_assert_uint_eq(count(logged(&w), "\"reason\":\"breaker\""), 1);
}
END_TEST

/* A herd held behind one probe comes back evenly spread over the first
 * cooldown: 200 held calls, in 20 ms slices of the 1 s spread, never more
 * than 5 to a slice (4 on average; independent random draws put 6 or more
 * into the fullest nearly always). */
START_TEST(held_calls_come_back_evenly_spread)
{
	static struct world w;
	world_init(&w, true);
	ck_assert_int_eq(call(&w, 3, 10 * BS_SEC), ECONNREFUSED);
	struct bs_breaker_view v;
	bs_breaker_read(&w.breaker, &v);
	const bs_ns now = v.until; /* the probe goes out: the rest are held */
	bs_ns delay;
	int err;
	ck_assert_int_eq(bs_guard_admit(&w.guard, NULL, now, 100 * BS_MS, now + 10 * BS_SEC,
					&delay, &err), BS_GUARD_GO);
	unsigned slices[50] = {0};
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(bs_guard_admit(&w.guard, NULL, now, 100 * BS_MS,
						now + 10 * BS_SEC, &delay, &err), BS_GUARD_HOLD);
		ck_assert_int_eq(err, ECONNREFUSED);
		ck_assert_uint_ge(delay, 1);
		ck_assert_uint_le(delay, BS_SEC);
		slices[(delay - 1) / (20 * BS_MS)]++;
	}
	for (int i = 0; i < 50; i++)
		ck_assert_uint_le(slices[i], 5);
}
END_TEST

START_TEST(budget_ends_the_call)
{
	static struct world w;
	world_init(&w, false);
	w.guard.breaker = NULL;
	w.guard.budget_params = (struct bs_budget_params){ .percent = 50, .window = 10 * BS_SEC };
	ck_assert_int_eq(call(&w, 5, 10 * BS_SEC), ECONNREFUSED);
	ck_assert_uint_eq(w.fake.attempts, 1); /* 1 call: 0.5 retries */
	ck_assert_int_eq(call(&w, 5, 10 * BS_SEC), ECONNREFUSED);
	ck_assert_uint_eq(w.fake.attempts, 3); /* 2 calls: 1 retry */
	const char *t = logged(&w);
	ck_assert_uint_eq(count(t, "\"reason\":\"budget\""), 2);
	ck_assert_uint_eq(count(t, "\"errno\":\"ECONNREFUSED\",\"reason\":\"budget\""), 2);
	/* Reported once in the window, with what it saw. */
	ck_assert_uint_eq(count(t, "budget.exhausted"), 1);
	ck_assert_ptr_nonnull(strstr(t, "\"rule\":\"db\",\"retries\":0,\"calls\":1,\"share\":\"process\""));
}
END_TEST

/* Errors the rule does not retry say nothing about the destination. */
START_TEST(not_retryable_errors_do_not_open)
{
	static struct world w;
	world_init(&w, false);
	w.fake.result = EACCES;
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(call(&w, 3, 10 * BS_SEC), EACCES);
	struct bs_breaker_view v;
	bs_breaker_read(&w.breaker, &v);
	ck_assert_int_eq(v.state, BS_BREAKER_CLOSED);
	ck_assert_uint_eq(v.failures, 0);
}
END_TEST

BS_SUITE(guard_suite)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("guard");
	tcase_add_test(tc, open_circuit_fails_fast_with_the_last_error);
	tcase_add_test(tc, held_call_waits_for_the_probe);
	tcase_add_test(tc, hold_never_passes_the_deadline);
	tcase_add_test(tc, held_calls_come_back_evenly_spread);
	tcase_add_test(tc, budget_ends_the_call);
	tcase_add_test(tc, not_retryable_errors_do_not_open);
	suite_add_tcase(s, tc);
	return s;
}
