/* Loading policy files: defaults, every key, every error path (FILE:LINE
 * and the key named), typo suggestions. The environment on top of a file
 * is test_policy_env.c, describe test_policy_describe.c, a 100,000-rule
 * policy test_match_scale.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_policy_util.h"

START_TEST(builtin_defaults)
{
	struct bs_policy *p;
	struct bs_error err;
	ck_assert_int_eq(bs_policy_builtin(&p, &err), 0);
	ck_assert_str_eq(p->source, "built-in");
	ck_assert_uint_eq(p->n_rules, 1);
	const struct bs_rule *c = &p->rules[0];
	ck_assert_str_eq(c->name, "connect");
	ck_assert_int_eq(p->global.log_kind, BS_LOG_STDERR);
	ck_assert_uint_eq(p->global.seed, 0);
	ck_assert(!c->passthrough);
	ck_assert_uint_eq(c->attempts, 0); /* no count limit: the deadline bounds the call */
	ck_assert_uint_eq(c->backoff.base, 100 * BS_MS);
	ck_assert_double_eq(c->backoff.factor, 2.0);
	ck_assert_uint_eq(c->backoff.max_delay, 1 * BS_SEC);
	ck_assert_int_eq(c->backoff.jitter.kind, BS_JITTER_FULL);
	ck_assert_uint_eq(c->attempt_timeout, 2 * BS_SEC);
	ck_assert_uint_eq(c->deadline, 10 * BS_SEC);
	static const int retried[] = {ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ENOENT, EAGAIN};
	for (size_t i = 0; i < 6; i++)
		ck_assert(bs_errset_has(&c->retry_on, retried[i]));
	ck_assert(!bs_errset_has(&c->retry_on, ECONNRESET));
	ck_assert_int_eq(c->nonblocking, BS_NB_ASYNC);
	ck_assert_uint_eq(c->io_timeout, 0);
	ck_assert_uint_eq(c->max_conns, 0);
	ck_assert_int_eq(c->cap_scope, BS_SCOPE_DEST);
	ck_assert_int_eq(c->on_cap, BS_ONCAP_WAIT);
	ck_assert_uint_eq(c->cap_wait, 2 * BS_SEC);
	ck_assert(!p->any_caps);
	ck_assert_uint_eq(p->accept.max_per_client, 0);
	ck_assert_int_eq(p->accept.client_scope, BS_CLIENT_HOST);
	ck_assert_uint_eq(p->accept.n_exempt, 0);
	ck_assert(p->accept.fd_backoff);
	ck_assert_uint_eq(p->accept.backoff.base, 10 * BS_MS);
	ck_assert_double_eq(p->accept.backoff.factor, 2.0);
	ck_assert_uint_eq(p->accept.backoff.max_delay, BS_SEC);
	ck_assert_int_eq(p->accept.backoff.jitter.kind, BS_JITTER_FULL);
	ck_assert(p->accept.retry_transient);
	ck_assert_uint_eq(p->accept.io_timeout, 0);
	ck_assert_int_eq(p->sleep.mode, BS_SLEEP_RETRY);
	ck_assert_int_eq(p->sleep.jitter.kind, BS_JITTER_PERCENT);
	ck_assert_uint_eq(p->sleep.jitter.percent, 50);
	ck_assert(p->sleep.backoff);
	ck_assert_uint_eq(p->sleep.max_delay, 30 * BS_SEC);
	ck_assert_uint_eq(p->sleep.window, BS_SEC);
	ck_assert_uint_eq(p->sleep.floor, BS_MS);
	bs_policy_free(p);
}
END_TEST

/* Every key set away from its default, comments and odd spacing included
 * (test_policy_util.h; test_policy_describe.c reads it back too). */
const char every_key[] =
	"\xEF\xBB\xBF; a policy that sets every key\r\n"
	"# hash comments too\n"
	"[global]\n"
	"log = /var/log/app.jsonl ; inline comment\n"
	"seed = 42\n"
	"\n"
	"[connect]\n"
	"passthrough = no\n"
	"attempts = 7\n"
	"base = 50ms\n"
	"factor = 1.5\n"
	"max_delay = 3s\n"
	"jitter = equal\n"
	"attempt_timeout = 0\n"
	"deadline = 1m\n"
	"retry_on = ECONNREFUSED\n"
	"retry_on = ECONNRESET, EPIPE\n"
	"nonblocking = sync\n"
	"io_timeout = 30s\n"
	"max_conns = 4\n"
	"cap_scope = host\n"
	"on_cap = fail\n"
	"cap_wait = 250ms\n"
	"failover = off\n"
	"   [dest \"db-main.1\"]   \n"
	"   match = 10.1.0.0/16:5432 unix:/run/postgresql/*\n"
	"match = [::1]:5432 db.internal:5432\n"
	"exempt = 10.1.9.0/24\n"
	"passthrough = yes\n"
	"jitter = decorrelated\n"
	"retry_on = ENOENT\n"
	"cap_scope = rule\n"
	"[accept]\n"
	"max_per_client = 50\n"
	"client_scope = subnet\n"
	"exempt = 127.0.0.0/8, ::1\n"
	"on_fd_exhaustion = off\n"
	"base = 1ms\n"
	"factor = 3\n"
	"max_delay = 500ms\n"
	"jitter = 10%\n"
	"retry_transient = false\n"
	"io_timeout = 1m\n"
	"[sleep]\n"
	"mode = all\n"
	"jitter = none\n"
	"backoff = off\n"
	"max_delay = 5s\n"
	"window = 2s\n"
	"floor = 10ms\n"
	"[dns]\n"
	"mode = off\n"
	"retry_on = EAI_AGAIN EAI_NONAME\n"
	"attempts = 3\n"
	"base = 20ms\n"
	"factor = 3\n"
	"max_delay = 200ms\n"
	"jitter = none\n"
	"deadline = 2s\n";

START_TEST(every_key_is_read)
{
	struct bs_policy *p = load_ok(every_key, NULL);
	ck_assert_int_eq(p->global.log_kind, BS_LOG_FILE);
	ck_assert_str_eq(p->global.log_path, "/var/log/app.jsonl");
	ck_assert_uint_eq(p->global.seed, 42);
	const struct bs_rule *c = &p->rules[0];
	ck_assert_uint_eq(c->attempts, 7);
	ck_assert_uint_eq(c->backoff.base, 50 * BS_MS);
	ck_assert_double_eq(c->backoff.factor, 1.5);
	ck_assert_uint_eq(c->backoff.max_delay, 3 * BS_SEC);
	ck_assert_int_eq(c->backoff.jitter.kind, BS_JITTER_EQUAL);
	ck_assert_uint_eq(c->attempt_timeout, 0);
	ck_assert_uint_eq(c->deadline, 60 * BS_SEC);
	/* A repeated list key extends; the first use replaces the default. */
	ck_assert(bs_errset_has(&c->retry_on, ECONNREFUSED));
	ck_assert(bs_errset_has(&c->retry_on, ECONNRESET));
	ck_assert(bs_errset_has(&c->retry_on, EPIPE));
	ck_assert(!bs_errset_has(&c->retry_on, ETIMEDOUT));
	ck_assert_int_eq(c->nonblocking, BS_NB_SYNC);
	ck_assert_uint_eq(c->io_timeout, 30 * BS_SEC);
	ck_assert_uint_eq(c->max_conns, 4);
	ck_assert_int_eq(c->cap_scope, BS_SCOPE_HOST);
	ck_assert_int_eq(c->on_cap, BS_ONCAP_FAIL);
	ck_assert_uint_eq(c->cap_wait, 250 * BS_MS);
	ck_assert(p->any_caps);

	ck_assert_uint_eq(p->n_rules, 2);
	const struct bs_rule *d = &p->rules[1];
	ck_assert_str_eq(d->name, "db-main.1");
	ck_assert_uint_eq(d->index, 1);
	ck_assert_uint_eq(d->n_match, 4);
	ck_assert_uint_eq(d->n_exempt, 1);
	ck_assert(d->passthrough);
	ck_assert_int_eq(d->backoff.jitter.kind, BS_JITTER_DECORRELATED);
	ck_assert(bs_errset_has(&d->retry_on, ENOENT));
	ck_assert(!bs_errset_has(&d->retry_on, ECONNREFUSED)); /* replaced, not merged */
	ck_assert_int_eq(d->cap_scope, BS_SCOPE_RULE);
	/* Inherited from [connect]. */
	ck_assert_uint_eq(d->attempts, 7);
	ck_assert_uint_eq(d->deadline, 60 * BS_SEC);
	ck_assert_uint_eq(d->max_conns, 4);
	ck_assert_int_eq(d->nonblocking, BS_NB_SYNC);

	ck_assert_uint_eq(p->accept.max_per_client, 50);
	ck_assert_int_eq(p->accept.client_scope, BS_CLIENT_SUBNET);
	ck_assert_uint_eq(p->accept.n_exempt, 2);
	ck_assert(!p->accept.fd_backoff);
	ck_assert_uint_eq(p->accept.backoff.base, BS_MS);
	ck_assert_double_eq(p->accept.backoff.factor, 3.0);
	ck_assert_uint_eq(p->accept.backoff.max_delay, 500 * BS_MS);
	ck_assert_int_eq(p->accept.backoff.jitter.kind, BS_JITTER_PERCENT);
	ck_assert_uint_eq(p->accept.backoff.jitter.percent, 10);
	ck_assert(!p->accept.retry_transient);
	ck_assert_uint_eq(p->accept.io_timeout, 60 * BS_SEC);
	ck_assert_int_eq(p->sleep.mode, BS_SLEEP_ALL);
	ck_assert_int_eq(p->sleep.jitter.kind, BS_JITTER_NONE);
	ck_assert(!p->sleep.backoff);
	ck_assert_uint_eq(p->sleep.max_delay, 5 * BS_SEC);
	ck_assert_uint_eq(p->sleep.window, 2 * BS_SEC);
	ck_assert_uint_eq(p->sleep.floor, 10 * BS_MS);
	bs_policy_free(p);
}
END_TEST

START_TEST(dest_inherits_connect_written_after_it)
{
	struct bs_policy *p = load_ok("[dest \"a\"]\nmatch = 10.0.0.0/8\nbase = 1s\n"
				      "[connect]\nattempts = 9\nmax_delay = 5s\n", NULL);
	const struct bs_rule *a = rule_named(p, "a");
	ck_assert_uint_eq(a->attempts, 9);
	ck_assert_uint_eq(a->backoff.base, BS_SEC);
	ck_assert_uint_eq(a->backoff.max_delay, 5 * BS_SEC);
	bs_policy_free(p);
}
END_TEST

/* Each bad policy, and the exact message (after the temp directory). */
static const struct {
	const char *text;
	const char *msg;
} bad_files[] = {
	{"[connect]\nattempts = 3\n\n\n\n\natempts = 4\n",
	 "policy.conf:7: unknown key 'atempts' in [connect] (did you mean 'attempts'?)"},
	{"[connect]\nbogus = 1\n",
	 "policy.conf:2: unknown key 'bogus' in [connect] (allowed: passthrough attempts base factor max_delay jitter "
	 "attempt_timeout deadline retry_on nonblocking io_timeout max_conns cap_scope on_cap cap_wait failover share retry_budget retry_budget_min retry_budget_window breaker breaker_cooldown breaker_cooldown_max on_open)"},
	{"[conect]\n", "policy.conf:1: unknown section [conect] (did you mean [connect]?)"},
	{"[frobnicate]\n",
	 "policy.conf:1: unknown section [frobnicate] (sections are [global], [connect], [dest \"NAME\"], [accept], [sleep], [dns], [wrap \"SYMBOL\"])"},
	{"attempts = 3\n",
	 "policy.conf:1: key 'attempts' before any section (start with [global], [connect], [dest \"NAME\"], [accept], [sleep], [dns] or [wrap \"SYMBOL\"])"},
	{"[connect]\nattempts = 3\nattempts = 4\n",
	 "policy.conf:3: duplicate key 'attempts' in [connect] (first set at line 2; only match, exempt and retry_on may repeat)"},
	{"[connect]\nretry_budget = 20\n",
	 "policy.conf:2: [connect] retry_budget: bad retry budget '20' (use off or a percentage of calls, e.g. 20%)"},
	{"[connect]\nbreaker = 1001\n", "policy.conf:2: [connect] breaker: 1001 is out of range (allowed 0..1000)"},
	{"[connect]\non_open = later\n", "policy.conf:2: [connect] on_open: bad value 'later' (use wait or fail)"},
	{"[global]\nstate = backstop.state\n",
	 "policy.conf:2: [global] state: bad state 'backstop.state' (use off or an absolute path, e.g. /dev/shm/backstop.state)"},
	{"[connect]\nbreaker = 3\n[dest \"db\"]\nmatch = 10.0.0.1\nshare = machine\n",
	 "policy.conf:5: [dest \"db\"] share = machine needs a state file: set [global] state = /dev/shm/backstop.state (or share = process)"},
	{"[connect]\nattempts = 1001\n", "policy.conf:2: [connect] attempts: 1001 is out of range (allowed 0..1000)"},
	{"[connect]\ndeadline = x\n", "policy.conf:2: [connect] deadline: bad duration 'x' (use e.g. 250ms, 2s, 1m)"},
	{"[connect]\ndeadline = 0\n", "policy.conf:2: [connect] deadline: must be greater than 0"},
	{"[connect]\nbase = 5\n",
	 "policy.conf:2: [connect] base: duration '5' needs a unit (use e.g. 250ms, 2s, 1m; units ns us ms s m h)"},
	{"[connect]\nfactor = 0.5\n", "policy.conf:2: [connect] factor: factor 0.5 is out of range (allowed 1..1000)"},
	{"[connect]\njitter = some\n",
	 "policy.conf:2: [connect] jitter: bad jitter 'some' (use none, full, equal, decorrelated or N%, e.g. 25%)"},
	{"[connect]\nnonblocking = later\n", "policy.conf:2: [connect] nonblocking: bad value 'later' (use async, sync or pass)"},
	{"[connect]\ncap_scope = world\n",
	 "policy.conf:2: [connect] cap_scope: bad value 'world' (use dest, host or rule)"},
	{"[connect]\non_cap = queue\n", "policy.conf:2: [connect] on_cap: bad value 'queue' (use wait or fail)"},
	{"[connect]\npassthrough = maybe\n",
	 "policy.conf:2: [connect] passthrough: bad boolean 'maybe' (use on/off, yes/no or true/false)"},
	{"[connect]\nretry_on = ECONREFUSED\n",
	 "policy.conf:2: [connect] retry_on: unknown errno name 'ECONREFUSED' (did you mean ECONNREFUSED?)"},
	{"[connect]\nmax_conns = -1\n", "policy.conf:2: [connect] max_conns: bad number '-1' (allowed 0..1000000)"},
	{"[connect]\nmatch = 10.0.0.0/8\n",
	 "policy.conf:2: 'match' is only allowed in [dest \"NAME\"] sections, not in [connect]"},
	{"[connect]\nbase = 3s\n",
	 "policy.conf:2: [connect] max_delay (1s) is less than base (3s); raise max_delay or lower base"},
	{"[connect]\nmax_delay = 10ms\n",
	 "policy.conf:2: [connect] max_delay (10ms) is less than base (100ms); raise max_delay or lower base"},
	{"[dest \"db\"]\nmatch = 1.2.3.4\nmax_delay = 10ms\n",
	 "policy.conf:3: [dest \"db\"] max_delay (10ms) is less than base (100ms); raise max_delay or lower base"},
	{"[accept]\nbase = 2s\n",
	 "policy.conf:2: [accept] max_delay (1s) is less than base (2s); raise max_delay or lower base"},
	{"[connect]\nbreaker_cooldown_max = 1s\n",
	 "policy.conf:2: [connect] breaker_cooldown_max (1s) is less than breaker_cooldown (5s); raise breaker_cooldown_max or lower breaker_cooldown"},
	{"[connect]\nbreaker_cooldown_max = 6s\n[dest \"db\"]\nmatch = 1.2.3.4\nbreaker_cooldown = 7s\n",
	 "policy.conf:5: [dest \"db\"] breaker_cooldown_max (6s) is less than breaker_cooldown (7s); raise breaker_cooldown_max or lower breaker_cooldown"},
	{"[dest \"db\"]\nmax_conns = 3\n",
	 "policy.conf:1: [dest \"db\"] has no 'match' (add e.g. match = 10.0.0.0/8:5432)"},
	{"[dest \"a\"]\nmatch = ::1\n[dest \"b\"]\nmatch = ::1\n[dest \"a\"]\nmatch = ::2\n",
	 "policy.conf:5: duplicate [dest \"a\"] (first at line 1); names must be unique"},
	{"[dest]\n", "policy.conf:1: a dest section needs a quoted name: [dest \"NAME\"]"},
	{"[dest db]\n", "policy.conf:1: a dest section needs a quoted name: [dest \"NAME\"]"},
	{"[dest \"a b\"]\n", "policy.conf:1: bad dest name 'a b' (1 to 63 letters, digits, '-', '_' or '.')"},
	{"[dest \"\"]\n", "policy.conf:1: bad dest name '' (1 to 63 letters, digits, '-', '_' or '.')"},
	{"[dest \"db\"]\nmatch = 10.1.2.3/16\n",
	 "policy.conf:2: [dest \"db\"] match: '10.1.2.3/16' has host bits set past /16 (did you mean 10.1.0.0/16?)"},
	{"[dest \"db\"]\nmatch = fd00::/8:80\n",
	 "policy.conf:2: [dest \"db\"] match: an IPv6 pattern with a port needs brackets, as in [fd00::]/8:80 or [::1]:6379 (got 'fd00::/8:80')"},
	{"[dest \"db\"]\nmatch = ::1\nexempt = unix:relative\n",
	 "policy.conf:3: [dest \"db\"] exempt: bad unix pattern 'unix:relative' (use unix:/absolute/path, unix:/dir/*.sock or unix:@abstract)"},
	{"[connect]\n[sleep]\n[connect]\n", "policy.conf:3: section [connect] appears twice (first at line 1)"},
	{"[connect\n", "policy.conf:1: section header without ']'"},
	{"[connect] x\n", "policy.conf:1: unexpected text after section header"},
	{"[connect]\nattempts\n", "policy.conf:2: expected 'key = value' or a [section] header"},
	{"[connect]\nattempts: 3\n", "policy.conf:2: expected 'key = value' or a [section] header"},
	{"[connect]\n= 3\n", "policy.conf:2: unknown key '' in [connect] (allowed: passthrough attempts base factor max_delay jitter "
	 "attempt_timeout deadline retry_on nonblocking io_timeout max_conns cap_scope on_cap cap_wait failover share retry_budget retry_budget_min retry_budget_window breaker breaker_cooldown breaker_cooldown_max on_open)"},
	{"[global]\nlog = relative.jsonl\n",
	 "policy.conf:2: [global] log: bad log 'relative.jsonl' (use stderr, fd:N, syslog, off or an absolute file path)"},
	{"[global]\nseed = -4\n", "policy.conf:2: [global] seed: bad number '-4' (allowed 0..18446744073709551615)"},
	{"[sleep]\njitter = full\n", "policy.conf:2: [sleep] jitter: bad jitter 'full' (use none or N%, e.g. 50%)"},
	{"[sleep]\nmode = some\n", "policy.conf:2: [sleep] mode: bad value 'some' (use retry, all or off)"},
	{"[accept]\nclient_scope = net\n", "policy.conf:2: [accept] client_scope: bad value 'net' (use host or subnet)"},
	{"[accept]\non_fd_exhaustion = spin\n",
	 "policy.conf:2: [accept] on_fd_exhaustion: bad value 'spin' (use backoff or off)"},
	{"[accept]\nmax_per_clients = 3\n",
	 "policy.conf:2: unknown key 'max_per_clients' in [accept] (did you mean 'max_per_client'?)"},
	{"[sleep]\nwindw = 1s\n", "policy.conf:2: unknown key 'windw' in [sleep] (did you mean 'window'?)"},
	{"[connect]\nattempts = 3\x01\n", "policy.conf:2: [connect] attempts: bad number '3\\x01' (allowed 0..1000)"},
	{"[connect]\nattempts = 3\n\0\n", "policy.conf:3: NUL byte in line; a policy is a text file"},
};

START_TEST(bad_file_messages)
{
	struct bs_error err;
	const char *text = bad_files[_i].text;
	/* The NUL case: write the bytes past the embedded NUL too. */
	if (strstr(bad_files[_i].msg, "NUL byte")) {
		char dir[] = "/tmp/bs-policy-XXXXXX", path[64];
		ck_assert_ptr_nonnull(mkdtemp(dir));
		snprintf(path, sizeof path, "%s/policy.conf", dir);
		FILE *f = fopen(path, "w");
		fwrite("[connect]\nattempts = 3\n\0\n", 1, 25, f);
		fclose(f);
		struct bs_policy *p;
		struct bs_load_options o = {.path = path};
		ck_assert_int_eq(bs_policy_load(&o, &p, &err), -1);
		unlink(path);
		rmdir(dir);
		ck_assert_str_eq(strstr(err.msg, "policy.conf:"), bad_files[_i].msg);
		return;
	}
	ck_assert_str_eq(load_err(text, NULL, &err), bad_files[_i].msg);
	/* The message starts with the file's full path. */
	ck_assert_int_eq(strncmp(err.msg, "/tmp/bs-policy-", 15), 0);
}
END_TEST

START_TEST(long_lines_are_errors_not_split)
{
	char text[600];
	snprintf(text, sizeof text, "[connect]\nattempts = 3\n; %0*d\n", 197, 0); /* 199 chars: fine */
	bs_policy_free(load_ok(text, NULL));
	snprintf(text, sizeof text, "[connect]\nattempts = 3\n; %0*d\n", 198, 0);
	struct bs_error err;
	ck_assert_str_eq(load_err(text, NULL, &err), "policy.conf:3: line longer than 199 characters");
	snprintf(text, sizeof text, "[connect]\nretry_on = %0*d\n", 500, 0);
	ck_assert_str_eq(load_err(text, NULL, &err), "policy.conf:2: line longer than 199 characters");
}
END_TEST

START_TEST(indented_line_is_not_a_continuation)
{
	/* inih would read an indented line as more of the previous value. */
	struct bs_policy *p = load_ok("[connect]\nattempts = 3\n    base = 200ms\n", NULL);
	ck_assert_uint_eq(p->rules[0].attempts, 3);
	ck_assert_uint_eq(p->rules[0].backoff.base, 200 * BS_MS);
	bs_policy_free(p);
}
END_TEST

START_TEST(missing_and_unreadable_files)
{
	struct bs_policy *p;
	struct bs_error err;
	struct bs_load_options o = {.path = "/nonexistent/policy.conf"};
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), -1);
	ck_assert_str_eq(err.msg, "/nonexistent/policy.conf: cannot open: No such file or directory");
	ck_assert_ptr_null(p);
	o.path = "/tmp";
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), -1);
	ck_assert_str_eq(err.msg, "/tmp: is a directory");
}
END_TEST

/* Hostile paths (issue 10, defect 9): a FIFO with no writer used to block
 * in fopen, /dev/zero to spin reading one endless line. Both are refused
 * at once, as is a regular file with an endless first line. */
START_TEST(hostile_policy_paths_refused_without_blocking)
{
	char dir[] = "/tmp/bs-policy-XXXXXX", fifo[64], zeros[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	struct bs_policy *p;
	struct bs_error err;
	struct bs_load_options o = {.path = fifo};
	alarm(20); /* a hang fails the test instead of stalling the suite */
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "fifo: not a regular file"));
	o.path = "/dev/zero";
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), -1);
	ck_assert_str_eq(err.msg, "/dev/zero: not a regular file (a FIFO, device or socket is refused)");
	snprintf(zeros, sizeof zeros, "%s/zeros", dir);
	FILE *f = fopen(zeros, "w");
	for (int i = 0; i < 1 << 16; i++)
		fputc('x', f);
	fclose(f);
	o.path = zeros;
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "zeros:1: line longer than 199 characters"));
	alarm(0);
	unlink(fifo);
	unlink(zeros);
	rmdir(dir);
}
END_TEST

/* A relative BACKSTOP_POLICY is resolved against the working directory
 * once, at load (issue 10, defect 14): the source names the absolute
 * path, which is what the preload hands on to children. */
START_TEST(relative_backstop_policy_is_made_absolute)
{
	char dir[] = "/tmp/bs-policy-XXXXXX", cwd[4096], want[128];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_int_eq(chdir(dir), 0);
	FILE *f = fopen("rel.conf", "w");
	fputs("[connect]\nattempts = 7\n", f);
	fclose(f);
	char var[] = "BACKSTOP_POLICY=rel.conf";
	char *env[] = {var, NULL};
	struct bs_policy *p;
	struct bs_error err;
	struct bs_load_options o = {.envp = env};
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), 0);
	snprintf(want, sizeof want, "%s/rel.conf", dir);
	ck_assert_str_eq(p->source, want);
	bs_policy_free(p);
	unlink("rel.conf");
	ck_assert_int_eq(chdir(cwd), 0);
	rmdir(dir);
}
END_TEST

/* 0 is the built-in default: the deadline alone ends the retries. */
START_TEST(attempts_zero_is_no_count_limit)
{
	struct bs_policy *p = load_ok("[connect]\nattempts = 4\n[dest \"db\"]\nmatch = 10.0.0.1:5432\nattempts = 0\n", NULL);
	ck_assert_uint_eq(p->rules[0].attempts, 4);
	ck_assert_uint_eq(p->rules[1].attempts, 0);
	bs_policy_free(p);
}
END_TEST

START_TEST(empty_file_is_the_builtin_policy)
{
	struct bs_policy *p = load_ok("", NULL);
	ck_assert_uint_eq(p->n_rules, 1);
	ck_assert_uint_eq(p->rules[0].attempts, 0);
	ck_assert_ptr_nonnull(strstr(p->source, "policy.conf"));
	bs_policy_free(p);
}
END_TEST

BS_SUITE(policy_suite)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("file");
	tcase_add_test(tc, builtin_defaults);
	tcase_add_test(tc, every_key_is_read);
	tcase_add_test(tc, dest_inherits_connect_written_after_it);
	tcase_add_loop_test(tc, bad_file_messages, 0, (int)(sizeof bad_files / sizeof bad_files[0]));
	tcase_add_test(tc, long_lines_are_errors_not_split);
	tcase_add_test(tc, indented_line_is_not_a_continuation);
	tcase_add_test(tc, missing_and_unreadable_files);
	tcase_add_test(tc, hostile_policy_paths_refused_without_blocking);
	tcase_add_test(tc, relative_backstop_policy_is_made_absolute);
	tcase_add_test(tc, empty_file_is_the_builtin_policy);
	tcase_add_test(tc, attempts_zero_is_no_count_limit);
	suite_add_tcase(s, tc);
	return s;
}
