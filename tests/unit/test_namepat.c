/* Host name patterns in `match` and the [dns] section: how they are
 * written and refused, which rule a resolved name gets, and the [dns]
 * keys from the file and the environment. */
#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>

#include "policy/eainames.h"
#include "policy/load_internal.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_policy_util.h"

static const char *by_name(const struct bs_policy *p, const char *name, uint16_t port)
{
	const struct bs_rule *r = bs_policy_match_name(p, name, port);
	return r ? r->name : NULL;
}

START_TEST(most_specific_name_wins)
{
	struct bs_policy *p = load_ok(
		"[dest \"any-internal\"]\nmatch = *.internal\n"
		"[dest \"internal-pg\"]\nmatch = *.internal:5432\n"
		"[dest \"db\"]\nmatch = DB.Internal 10.1.0.0/16\n"
		"[dest \"db-pg\"]\nmatch = db.internal.:5432\n"
		"[dest \"long-glob\"]\nmatch = *.eu.internal\n"
		"[dest \"set\"]\nmatch = node[12].test:80\n", NULL);
	ck_assert_ptr_nonnull(p->names);
	ck_assert_str_eq(by_name(p, "db.internal", 5432), "db-pg");   /* exact, port */
	ck_assert_str_eq(by_name(p, "db.internal", 80), "db");        /* exact, any port */
	ck_assert_str_eq(by_name(p, "x.internal", 5432), "internal-pg");
	ck_assert_str_eq(by_name(p, "x.internal", 80), "any-internal");
	ck_assert_str_eq(by_name(p, "a.b.internal", 1), "any-internal"); /* '*' spans dots */
	ck_assert_str_eq(by_name(p, "x.eu.internal", 5432), "long-glob"); /* longer glob first */
	ck_assert_str_eq(by_name(p, "node2.test", 80), "set");
	ck_assert_ptr_null(by_name(p, "node3.test", 80));
	ck_assert_ptr_null(by_name(p, "node1.test", 81));
	ck_assert_ptr_null(by_name(p, "internal", 5432));
	ck_assert_ptr_null(by_name(p, "", 5432));
	/* Name patterns never enter the address tables. */
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(5432) };
	inet_pton(AF_INET, "10.1.2.3", &in.sin_addr);
	ck_assert_str_eq(bs_policy_match(p, (struct sockaddr *)&in, sizeof in)->name, "db");
	inet_pton(AF_INET, "10.2.2.3", &in.sin_addr);
	ck_assert_str_eq(bs_policy_match(p, (struct sockaddr *)&in, sizeof in)->name, "connect");
	bs_policy_free(p);

	p = load_ok("[dest \"a\"]\nmatch = 10.0.0.0/8\n", NULL);
	ck_assert_ptr_null(p->names); /* no name rule: nothing to look up */
	bs_policy_free(p);
}
END_TEST

START_TEST(name_patterns_parse_and_print)
{
	static const struct { const char *in, *out; } ok[] = {
		{"db.internal", "db.internal"}, {"DB.Internal.:5432", "db.internal:5432"},
		{"*.internal:5432", "*.internal:5432"}, {"localhost", "localhost"},
		{"node[12]?.test", "node[12]?.test"}, {"n[!0-]x", "n[!0-]x"}, {"*", "*"}, {"a-b_c.d:65535", "a-b_c.d:65535"},
	};
	char why[BS_WHY_MAX], buf[300];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct bs_pattern pt;
		ck_assert_msg(bs_parse_pattern(ok[i].in, &pt, why, sizeof why) == 0, "%s: %s", ok[i].in, why);
		ck_assert_int_eq(pt.family, BS_PATTERN_NAME);
		bs_format_pattern(buf, sizeof buf, &pt);
		ck_assert_str_eq(buf, ok[i].out);
		free(pt.glob);
	}
	static const char *const bad[] = {"db..internal", ".db", "db.internal:0", "db.internal:70000",
					  "db.internal:x", "db internal\x01", "d%b.x", "db.internal:5432:1",
					  "garbage!", "node[12.test", "node]1", "a^b", "unIx:26"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct bs_pattern pt;
		ck_assert_msg(bs_parse_pattern(bad[i], &pt, why, sizeof why) != 0, "%s accepted", bad[i]);
	}
	/* Still addresses, with their own messages. */
	struct bs_pattern pt;
	ck_assert_int_ne(bs_parse_pattern("10.1.0", &pt, why, sizeof why), 0);
	ck_assert_ptr_nonnull(strstr(why, "bad address pattern"));
	ck_assert_int_eq(bs_parse_pattern("fd00::/8", &pt, why, sizeof why), 0);
	ck_assert_int_eq(pt.family, AF_INET6);
	ck_assert_int_eq(bs_parse_pattern("cafe::1", &pt, why, sizeof why), 0);
	ck_assert_int_eq(pt.family, AF_INET6);
}
END_TEST

START_TEST(names_only_in_match)
{
	struct bs_error err;
	const char *msg = load_err("[dest \"a\"]\nmatch = 10.0.0.0/8\nexempt = db.internal\n", NULL, &err);
	ck_assert_msg(strstr(msg, "policy.conf:3:") && strstr(msg, "only matched by 'match'"), "%s", msg);
	msg = load_err("[accept]\nexempt = *.example\n", NULL, &err);
	ck_assert_msg(strstr(msg, "policy.conf:2:"), "%s", msg);
	msg = load_err("[dest \"a\"]\nmatch = db..internal\n", NULL, &err);
	ck_assert_msg(strstr(msg, "policy.conf:2:") && strstr(msg, "empty label"), "%s", msg);
}
END_TEST

START_TEST(failover_key)
{
	struct bs_policy *p = load_ok("[connect]\nfailover = off\n[dest \"a\"]\nmatch = x.test\n"
				      "[dest \"b\"]\nmatch = y.test\nfailover = next\n", NULL);
	ck_assert_int_eq(p->rules[0].failover, BS_FAILOVER_OFF);
	ck_assert_int_eq(p->rules[1].failover, BS_FAILOVER_OFF); /* inherited */
	ck_assert_int_eq(p->rules[2].failover, BS_FAILOVER_NEXT);
	bs_policy_free(p);
	struct bs_error err;
	const char *msg = load_err("[connect]\nfailover = first\n", NULL, &err);
	ck_assert_msg(strstr(msg, "use off or next"), "%s", msg);
}
END_TEST

START_TEST(dns_section)
{
	struct bs_policy *p;
	ck_assert_int_eq(bs_policy_builtin(&p, &(struct bs_error){0}), 0);
	ck_assert_int_eq(p->dns.mode, BS_DNS_RETRY);
	ck_assert(bs_eaiset_has(p->dns.retry_on, EAI_AGAIN));
	ck_assert(!bs_eaiset_has(p->dns.retry_on, EAI_NONAME));
	ck_assert_uint_eq(p->dns.attempts, 0);
	ck_assert_uint_eq(p->dns.deadline, 5 * BS_SEC);
	ck_assert_int_eq(p->rules[0].failover, BS_FAILOVER_NEXT);
	bs_policy_free(p);

	p = load_ok("[dns]\nmode = off\nretry_on = EAI_AGAIN, EAI_NONAME\nattempts = 4\n"
		    "base = 10ms\nmax_delay = 50ms\ndeadline = 2s\n", NULL);
	ck_assert_int_eq(p->dns.mode, BS_DNS_OFF);
	ck_assert(bs_eaiset_has(p->dns.retry_on, EAI_NONAME));
	ck_assert_uint_eq(p->dns.attempts, 4);
	ck_assert_uint_eq(p->dns.backoff.base, 10 * BS_MS);
	bs_policy_free(p);

	char *env[] = {"BACKSTOP_DNS_MODE=off", "BACKSTOP_DNS_RETRY_ON=EAI_FAIL", NULL};
	p = load_ok("[dns]\ndeadline = 1s\n", env);
	ck_assert_int_eq(p->dns.mode, BS_DNS_OFF);
	ck_assert(bs_eaiset_has(p->dns.retry_on, EAI_FAIL));
	ck_assert(!bs_eaiset_has(p->dns.retry_on, EAI_AGAIN));
	bs_policy_free(p);

	struct bs_error err;
	const char *msg = load_err("[dns]\nretry_on = EAI_AGIAN\n", NULL, &err);
	ck_assert_msg(strstr(msg, "policy.conf:2:") && strstr(msg, "did you mean EAI_AGAIN"), "%s", msg);
	msg = load_err("[dns]\nretry_on = EAI_BADFLAGS\n", NULL, &err);
	ck_assert_msg(strstr(msg, "not a transient failure"), "%s", msg);
	msg = load_err("[dns]\nbase = 2s\nmax_delay = 1s\n", NULL, &err);
	ck_assert_msg(strstr(msg, "[dns] max_delay (1s) is less than base (2s)"), "%s", msg);
	msg = load_err("[dnss]\n", NULL, &err);
	ck_assert_msg(strstr(msg, "did you mean [dns]"), "%s", msg);
	char *bad_env[] = {"BACKSTOP_DNS_DEADLINE=0", NULL};
	load_err("", bad_env, &err);
	ck_assert_msg(strstr(err.msg, "BACKSTOP_DNS_DEADLINE"), "%s", err.msg);
}
END_TEST

BS_SUITE(namepat_suite)
{
	Suite *s = suite_create("namepat");
	TCase *tc = tcase_create("namepat");
	tcase_add_test(tc, most_specific_name_wins);
	tcase_add_test(tc, name_patterns_parse_and_print);
	tcase_add_test(tc, names_only_in_match);
	tcase_add_test(tc, failover_key);
	tcase_add_test(tc, dns_section);
	suite_add_tcase(s, tc);
	return s;
}
