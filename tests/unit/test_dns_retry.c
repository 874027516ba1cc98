/* A name lookup as the retry engine's subject (engine/dns_retry.h), against
 * scripted lookups, a fake clock and a pipe as the log: EAI codes retried
 * or not by retry_on, their names in the lines, the deadline, and an
 * interrupted pause. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/backoff.h"
#include "engine/dns_retry.h"
#include "policy/eainames.h"
#include "tests/runner/bs_test.h"

struct fake {
	const int *codes;   /* what each lookup returns; the last one repeats */
	size_t n_codes, lookups;
	bs_ns now, took;    /* the clock; how long each lookup takes */
	int pause_result;
};

static int lookup(void *ctx, bs_ns bound)
{
	struct fake *f = ctx;
	(void)bound;
	f->now += f->took;
	int code = f->codes[f->lookups < f->n_codes ? f->lookups : f->n_codes - 1];
	f->lookups++;
	return code;
}

static int pause_(void *ctx, bs_ns delay)
{
	struct fake *f = ctx;
	f->now += delay;
	return f->pause_result;
}

static bs_ns now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

/* Runs one call; returns its result and the log's text in buf. */
static int run(struct fake *f, const struct bs_dns_policy *policy, char *buf, size_t cap)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	struct bs_log log = { .kind = BS_LOG_FD, .fd = p[1] };
	snprintf(log.prog, sizeof log.prog, "test_dns");
	struct bs_rng rng;
	bs_rng_seed(&rng, 1);
	const struct bs_dns_call call = { .policy = policy, .rng = &rng, .log = &log,
					  .name = "db.internal", .call = "getaddrinfo" };
	const struct bs_retry_io io = { .ctx = f, .attempt = lookup, .pause = pause_, .now = now };
	int rc = bs_dns_retry(&call, &io);
	close(p[1]);
	ssize_t n = read(p[0], buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
	return rc;
}

static struct bs_dns_policy policy(void)
{
	return (struct bs_dns_policy){
		.mode = BS_DNS_RETRY, .attempts = 0, .deadline = 5 * BS_SEC,
		.backoff = { .base = 100 * BS_MS, .factor = 2, .max_delay = BS_SEC,
			     .jitter = { .kind = BS_JITTER_NONE } },
		.retry_on = 1u << -EAI_AGAIN,
	};
}

START_TEST(again_is_retried_until_an_answer)
{
	static const int codes[] = { EAI_AGAIN, EAI_AGAIN, 0 };
	struct fake f = { .codes = codes, .n_codes = 3, .took = BS_MS };
	struct bs_dns_policy p = policy();
	char log[8192];
	ck_assert_int_eq(run(&f, &p, log, sizeof log), 0);
	ck_assert_uint_eq(f.lookups, 3);
	ck_assert_ptr_nonnull(strstr(log, "\"event\":\"dns.retry\",\"name\":\"db.internal\","
					  "\"call\":\"getaddrinfo\",\"attempt\":1,\"attempts\":0,"
					  "\"error\":\"EAI_AGAIN\",\"delay_ms\":100.000,"));
	ck_assert_ptr_nonnull(strstr(log, "\"attempt\":2,\"attempts\":0,\"error\":\"EAI_AGAIN\","
					  "\"delay_ms\":200.000,"));
	ck_assert_ptr_nonnull(strstr(log, "\"event\":\"dns.ok\",\"name\":\"db.internal\","
					  "\"call\":\"getaddrinfo\",\"attempt\":3,\"elapsed_ms\":303.000}"));
	ck_assert(bs_dns_retryable(&p, EAI_AGAIN));
	ck_assert(!bs_dns_retryable(&p, EAI_NONAME));
	p.mode = BS_DNS_OFF;
	ck_assert(!bs_dns_retryable(&p, EAI_AGAIN));
}
END_TEST

START_TEST(other_codes_and_limits_give_up)
{
	char log[8192];
	struct bs_dns_policy p = policy();
	/* A later lookup fails differently: not retried. */
	static const int nodata[] = { EAI_AGAIN, EAI_NODATA };
	struct fake f = { .codes = nodata, .n_codes = 2 };
	ck_assert_int_eq(run(&f, &p, log, sizeof log), EAI_NODATA);
	ck_assert_ptr_nonnull(strstr(log, "\"event\":\"dns.giveup\",\"name\":\"db.internal\","
					  "\"call\":\"getaddrinfo\",\"attempt\":2,"
					  "\"error\":\"EAI_NODATA\",\"reason\":\"not_retryable\"}"));
	/* attempts. */
	static const int again[] = { EAI_AGAIN };
	p.attempts = 3;
	f = (struct fake){ .codes = again, .n_codes = 1 };
	ck_assert_int_eq(run(&f, &p, log, sizeof log), EAI_AGAIN);
	ck_assert_uint_eq(f.lookups, 3);
	ck_assert_ptr_nonnull(strstr(log, "\"attempt\":3,\"error\":\"EAI_AGAIN\",\"reason\":\"attempts\""));
	/* The deadline (5 s) with lookups that take 2 s: the third starts at
	 * 4.3 s (a lookup in flight is never cut), no pause fits after it. */
	p.attempts = 0;
	f = (struct fake){ .codes = again, .n_codes = 1, .took = 2 * BS_SEC };
	ck_assert_int_eq(run(&f, &p, log, sizeof log), EAI_AGAIN);
	ck_assert_uint_eq(f.lookups, 3);
	ck_assert_uint_eq(f.now, 6300 * BS_MS);
	ck_assert_ptr_nonnull(strstr(log, "\"reason\":\"deadline\""));
	/* A pause ended by a signal: the call ends with the last lookup's
	 * error, logged as interrupted. */
	f = (struct fake){ .codes = again, .n_codes = 1, .pause_result = EINTR };
	ck_assert_int_eq(run(&f, &p, log, sizeof log), EAI_AGAIN);
	ck_assert_ptr_nonnull(strstr(log, "\"event\":\"dns.giveup\",\"name\":\"db.internal\","
					  "\"call\":\"getaddrinfo\",\"attempt\":1,"
					  "\"error\":\"EAI_AGAIN\",\"reason\":\"interrupted\"}"));
}
END_TEST

BS_SUITE(dns_retry_suite)
{
	Suite *s = suite_create("dns_retry");
	TCase *tc = tcase_create("dns_retry");
	tcase_add_test(tc, again_is_retried_until_an_answer);
	tcase_add_test(tc, other_codes_and_limits_give_up);
	suite_add_tcase(s, tc);
	return s;
}
