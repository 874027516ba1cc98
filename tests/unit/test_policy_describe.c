/* bs_policy_describe: every setting with its origin (built-in, file:line,
 * environment), and text that loads back into the same policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_policy_util.h"

static char *describe(const struct bs_policy *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bs_policy_describe(p, f);
	fclose(f);
	return buf;
}

/* The line for `setting`, with its origin after "# ". */
static void assert_line(const char *text, const char *setting, const char *origin)
{
	char want[256];
	snprintf(want, sizeof want, "\n%s ", setting);
	const char *line = strstr(text, want);
	ck_assert_msg(line, "no line '%s' in:\n%s", setting, text);
	const char *end = strchr(line + 1, '\n');
	const char *hash = strstr(line, "# ");
	ck_assert_msg(hash && hash < end, "no origin on '%s'", setting);
	ck_assert_msg(strncmp(hash + 2, origin, strlen(origin)) == 0 &&
			      hash + 2 + strlen(origin) == end,
		      "'%s': origin '%.*s', want '%s'", setting, (int)(end - hash - 2), hash + 2, origin);
}

START_TEST(describe_shows_origins)
{
	char *env[] = {"BACKSTOP_CONNECT_DEADLINE=3s", "BACKSTOP_DEST_DB_CAP_WAIT=1s", "BACKSTOP_LOG=off", NULL};
	struct bs_policy *p = load_ok("[connect]\nattempts = 3\n[dest \"db\"]\nmatch = 10.1.0.0/16:5432\n"
				      "match = [::1]:5432\nmax_conns = 20\n", env);
	char *text = describe(p);
	ck_assert_ptr_nonnull(strstr(text, "policy.conf+env, 1 dest rule\n"));
	assert_line(text, "global.log = off", "BACKSTOP_LOG");
	assert_line(text, "global.seed = 0", "default");
	char file_line[96]; /* "<file>:2", its last digit changed below */
	snprintf(file_line, sizeof file_line, "%.*s:2", (int)(strstr(p->source, "+env") - p->source), p->source);
	assert_line(text, "connect.attempts = 3", file_line);
	assert_line(text, "connect.deadline = 3s", "BACKSTOP_CONNECT_DEADLINE");
	assert_line(text, "connect.base = 100ms", "default");
	file_line[strlen(file_line) - 1] = '6';
	assert_line(text, "dest \"db\".max_conns = 20", file_line);
	file_line[strlen(file_line) - 1] = '4';
	assert_line(text, "dest \"db\".match = 10.1.0.0/16:5432 [::1]:5432", file_line);
	assert_line(text, "dest \"db\".cap_wait = 1s", "BACKSTOP_DEST_DB_CAP_WAIT");
	assert_line(text, "dest \"db\".deadline = 3s", "inherited: BACKSTOP_CONNECT_DEADLINE");
	file_line[strlen(file_line) - 1] = '2';
	char inherited[128];
	snprintf(inherited, sizeof inherited, "inherited: %s", file_line);
	assert_line(text, "dest \"db\".attempts = 3", inherited);
	assert_line(text, "dest \"db\".exempt =", "default");
	assert_line(text, "connect.retry_on = ENOENT EAGAIN ENETUNREACH ETIMEDOUT ECONNREFUSED EHOSTUNREACH", "default");
	assert_line(text, "sleep.jitter = 50%", "default");
	assert_line(text, "accept.exempt =", "default");
	/* [connect] has no match/exempt lines. */
	ck_assert_ptr_null(strstr(text, "connect.match"));
	free(text);
	bs_policy_free(p);
}
END_TEST

/* Keep "section.key = value" of every line, drop "# origin". */
static void strip_origins(char *text)
{
	char *out = text;
	for (char *in = text; *in;) {
		char *end = strchr(in, '\n');
		char *hash = strstr(in, "# ");
		char *stop = hash && hash < end && hash != in ? hash : end;
		while (stop > in && stop[-1] == ' ')
			stop--;
		memmove(out, in, (size_t)(stop - in));
		out += stop - in;
		*out++ = '\n';
		in = end + 1;
	}
	*out = '\0';
}

/* What describe prints loads back to the same settings. */
START_TEST(describe_reads_back)
{
	struct bs_policy *p = load_ok(every_key, NULL);
	char *text = describe(p);
	/* Turn "section.key = value  # origin" into INI. */
	char *ini = calloc(1, strlen(text) * 2 + 64);
	char section[96] = "";
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#')
			continue;
		char *hash = strstr(line, "  # ");
		*hash = '\0';
		char *dot = strncmp(line, "dest ", 5) == 0 ? strchr(strchr(line + 6, '"'), '.')
							    : strchr(line, '.');
		*dot = '\0';
		if (strcmp(section, line) != 0) {
			snprintf(section, sizeof section, "%s", line);
			sprintf(ini + strlen(ini), "[%s]\n", line);
		}
		char *eq = strstr(dot + 1, " = ");
		if (eq[3] == ' ' || eq[3] == '\0')
			continue; /* an empty list */
		sprintf(ini + strlen(ini), "%s\n", dot + 1);
	}
	struct bs_policy *q = load_ok(ini, NULL);
	char *again = describe(q);
	char *first = describe(p);
	/* The same settings; only the origins differ. */
	strip_origins(first);
	strip_origins(again);
	ck_assert_str_eq(strchr(again, '\n'), strchr(first, '\n'));
	ck_assert_uint_eq(q->n_rules, p->n_rules);
	ck_assert_uint_eq(q->rules[1].n_match, 4);
	ck_assert_uint_eq(q->accept.n_exempt, 2);
	ck_assert_uint_eq(q->rules[0].attempts, 7);
	ck_assert_int_eq(q->rules[1].backoff.jitter.kind, BS_JITTER_DECORRELATED);
	ck_assert_int_eq(q->sleep.mode, BS_SLEEP_ALL);
	free(first);
	free(again);
	free(ini);
	free(text);
	bs_policy_free(q);
	bs_policy_free(p);
}
END_TEST

BS_SUITE(policy_describe_suite)
{
	Suite *s = suite_create("policy_describe");
	TCase *tc = tcase_create("policy_describe");
	tcase_add_test(tc, describe_shows_origins);
	tcase_add_test(tc, describe_reads_back);
	suite_add_tcase(s, tc);
	return s;
}
