/* The retry tests' harness (test_retry.c, test_retry_deadline.c): a
 * scripted list of attempt results, a fake clock that advances on every
 * attempt and pause, and a pipe as the log sink, read back and parsed
 * line by line. */
#ifndef BS_TEST_RETRY_UTIL_H
#define BS_TEST_RETRY_UTIL_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/connect_retry.h"

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

static inline int fake_attempt(void *ctx, bs_ns timeout)
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

static inline int fake_pause(void *ctx, bs_ns delay)
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

static inline bs_ns fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static inline struct bs_rule test_rule(void)
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

static inline void sink_open(struct sink *s)
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
static inline void sink_read(struct sink *s)
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
static inline const char *field(const char *line, const char *key)
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

static inline void assert_field(const char *line, const char *key, const char *want)
{
	const char *got = field(line, key);
	ck_assert_msg(got != NULL, "no \"%s\" in %s", key, line);
	if (want != NULL)
		ck_assert_msg(strcmp(got, want) == 0, "\"%s\" is %s, want %s in %s",
			      key, got, want, line);
}

/* Every field DESIGN.md requires for the line's event. */
static inline void assert_design_fields(const char *line)
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

static inline void run_init(struct run *r, const struct step *script, size_t n)
{
	memset(r, 0, sizeof *r);
	r->rule = test_rule();
	bs_rng_seed(&r->rng, 42);
	r->fake.script = script;
	r->fake.n_script = n;
	r->fake.now = 1000 * BS_SEC;
	r->start = r->fake.now;
}

static inline void run_go(struct run *r, bool log)
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

static inline const char *line_event(struct run *r, size_t i)
{
	ck_assert_uint_lt(i, r->sink.n_lines);
	return field(r->sink.lines[i], "event");
}

#endif
