/* Rule matching: most specific rule wins (longest prefix, then a port,
 * then the earlier rule), IPv4-mapped IPv6, unix exact paths and globs,
 * exempt lists, and the glob matcher itself. */
#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "policy/dest.h"
#include "policy/load_internal.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_policy_util.h"

/* The name of the rule that `dest` (as bs_dest_parse reads it) matches. */
static const char *match(const struct bs_policy *p, const char *dest)
{
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_msg(bs_dest_parse(dest, &ss, &len) == 0, "bad dest %s", dest);
	const struct bs_rule *r = bs_policy_match(p, (struct sockaddr *)&ss, len);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_eq(r, &p->rules[r->index]);
	return r->name;
}

static const char specific[] =
	"[dest \"wide\"]\nmatch = 10.0.0.0/8\n"
	"[dest \"net16-port\"]\nmatch = 10.1.0.0/16:5432\n"
	"[dest \"net16\"]\nmatch = 10.1.0.0/16\n"
	"[dest \"net16-again\"]\nmatch = 10.1.0.0/16\n"
	"[dest \"host\"]\nmatch = 10.1.2.3\n"
	"[dest \"host-port\"]\nmatch = 10.1.2.3:80\n"
	"[dest \"all\"]\nmatch = 0.0.0.0/0:9999\n"
	"[dest \"v6-wide\"]\nmatch = fd00::/8\n"
	"[dest \"v6-host\"]\nmatch = [fd00::1]:6379\n"
	"[dest \"v6-loop\"]\nmatch = ::1\n"
	"[dest \"mapped-v6\"]\nmatch = ::ffff:0:0/96\n";

START_TEST(ip_most_specific)
{
	struct bs_policy *p = load_ok(specific, NULL);
	ck_assert_str_eq(match(p, "10.9.9.9:1"), "wide");
	ck_assert_str_eq(match(p, "10.1.9.9:1"), "net16");        /* earlier of two equal rules */
	ck_assert_str_eq(match(p, "10.1.9.9:5432"), "net16-port"); /* a port beats none */
	ck_assert_str_eq(match(p, "10.1.2.3:5432"), "host");       /* longer prefix beats a port */
	ck_assert_str_eq(match(p, "10.1.2.3:80"), "host-port");
	ck_assert_str_eq(match(p, "11.0.0.1:80"), "connect");
	ck_assert_str_eq(match(p, "11.0.0.1:9999"), "all");
	ck_assert_str_eq(match(p, "10.1.2.3:9999"), "host");
	ck_assert_str_eq(match(p, "[fd00::1]:6379"), "v6-host");
	ck_assert_str_eq(match(p, "[fd00::1]:1"), "v6-wide");
	ck_assert_str_eq(match(p, "[fd12:3456::1]:1"), "v6-wide");
	ck_assert_str_eq(match(p, "[::1]:5"), "v6-loop");
	ck_assert_str_eq(match(p, "[fe80::1]:5"), "connect");
	/* IPv4-mapped IPv6 matches IPv4 rules first, then IPv6 rules. */
	ck_assert_str_eq(match(p, "[::ffff:10.1.2.3]:80"), "host-port");
	ck_assert_str_eq(match(p, "[::ffff:10.1.9.9]:5432"), "net16-port");
	ck_assert_str_eq(match(p, "[::ffff:12.0.0.1]:80"), "mapped-v6");
	bs_policy_free(p);
}
END_TEST

START_TEST(ties_go_to_the_earlier_rule)
{
	struct bs_policy *p = load_ok("[dest \"b\"]\nmatch = 127.0.0.1:5432 unix:/run/x.sock unix:/run/*.sock\n"
				      "[dest \"a\"]\nmatch = 127.0.0.1:5432 unix:/run/x.sock unix:/run/?.sock\n", NULL);
	ck_assert_str_eq(match(p, "127.0.0.1:5432"), "b");
	ck_assert_str_eq(match(p, "unix:/run/x.sock"), "b");
	ck_assert_str_eq(match(p, "unix:/run/y.sock"), "b"); /* globs of equal length */
	bs_policy_free(p);
}
END_TEST

START_TEST(unix_paths)
{
	struct bs_policy *p = load_ok(
		"[dest \"any-run\"]\nmatch = unix:/run/*\n"
		"[dest \"pg\"]\nmatch = unix:/run/postgresql/*\n"
		"[dest \"pg-main\"]\nmatch = unix:/run/postgresql/.s.PGSQL.5432\n"
		"[dest \"sock\"]\nmatch = unix:/run/*.sock\n"
		"[dest \"abstract\"]\nmatch = unix:@app unix:@pool-[0-9]\n", NULL);
	ck_assert_str_eq(match(p, "unix:/run/postgresql/.s.PGSQL.5432"), "pg-main"); /* exact beats glob */
	ck_assert_str_eq(match(p, "unix:/run/postgresql/.s.PGSQL.5433"), "pg");
	ck_assert_str_eq(match(p, "unix:/run/a.sock"), "sock"); /* the longer glob */
	ck_assert_str_eq(match(p, "unix:/run/a.pipe"), "any-run");
	ck_assert_str_eq(match(p, "unix:/run/deeper/a.pipe"), "connect"); /* '*' stops at '/' */
	ck_assert_str_eq(match(p, "unix:@app"), "abstract");
	ck_assert_str_eq(match(p, "unix:@pool-7"), "abstract");
	ck_assert_str_eq(match(p, "unix:@pool-x"), "connect");
	ck_assert_str_eq(match(p, "unix:/app"), "connect"); /* not the abstract name */
	ck_assert_str_eq(match(p, "unix:"), "connect");     /* unnamed */
	bs_policy_free(p);
}
END_TEST

START_TEST(odd_addresses)
{
	struct bs_policy *p = load_ok("[dest \"x\"]\nmatch = 10.0.0.0/8\n", NULL);
	struct sockaddr_in in = {.sin_family = AF_INET};
	/* Too short for its family: the [connect] rule, never a crash. */
	ck_assert_uint_eq(bs_policy_match(p, (struct sockaddr *)&in, 4)->index, 0);
	struct sockaddr sa = {.sa_family = AF_PACKET};
	ck_assert_ptr_null(bs_policy_match(p, &sa, sizeof sa));
	ck_assert_ptr_null(bs_policy_match(p, NULL, 0));
	/* A unix path filling sun_path with no NUL. */
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	memset(un.sun_path, 'a', sizeof un.sun_path);
	ck_assert_uint_eq(bs_policy_match(p, (struct sockaddr *)&un, sizeof un)->index, 0);
	bs_policy_free(p);
}
END_TEST

START_TEST(exempt_lists)
{
	struct bs_policy *p = load_ok("[dest \"db\"]\nmatch = 10.0.0.0/8\nexempt = 10.1.9.0/24 10.2.0.1:80 "
				      "fd00::/16 unix:/run/ok/*\n[accept]\nexempt = 127.0.0.0/8\n", NULL);
	const struct bs_rule *r = &p->rules[1];
	static const struct {
		const char *dest;
		bool in;
	} cases[] = {{"10.1.9.200:1", true},  {"10.1.8.1:1", false},   {"10.2.0.1:80", true},
		     {"10.2.0.1:81", false},  {"[fd00::5]:1", true},   {"[fd01::5]:1", false},
		     {"[::ffff:10.1.9.1]:1", true}, {"unix:/run/ok/a", true}, {"unix:/run/no/a", false}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		ck_assert_int_eq(bs_dest_parse(cases[i].dest, &ss, &len), 0);
		ck_assert_msg(bs_patterns_contain(r->exempt, r->n_exempt, (struct sockaddr *)&ss, len) == cases[i].in,
			      "%s", cases[i].dest);
	}
	struct sockaddr_storage ss;
	socklen_t len;
	bs_dest_parse("127.0.0.9:4", &ss, &len);
	ck_assert(bs_patterns_contain(p->accept.exempt, p->accept.n_exempt, (struct sockaddr *)&ss, len));
	ck_assert(!bs_patterns_contain(NULL, 0, (struct sockaddr *)&ss, len));
	bs_policy_free(p);
}
END_TEST

START_TEST(any_caps_follows_max_conns)
{
	struct bs_policy *p = load_ok("[dest \"x\"]\nmatch = ::1\n", NULL);
	ck_assert(!p->any_caps);
	bs_policy_free(p);
	p = load_ok("[dest \"x\"]\nmatch = ::1\nmax_conns = 1\n", NULL);
	ck_assert(p->any_caps);
	ck_assert_uint_eq(p->rules[0].max_conns, 0);
	bs_policy_free(p);
}
END_TEST

START_TEST(glob_matcher)
{
	static const struct {
		const char *glob, *path;
		bool hit;
	} cases[] = {
		{"/run/*", "/run/a", true},         {"/run/*", "/run/a/b", false},
		{"/run/*/b", "/run/a/b", true},     {"/run/*.sock", "/run/.sock", true},
		{"/run/?", "/run/a", true},         {"/run/?", "/run/ab", false},
		{"/run/?", "/run/", false},         {"/r[a-c]n", "/rbn", true},
		{"/r[!a-c]n", "/rbn", false},       {"/r[!a-c]n", "/rdn", true},
		{"/r[]]n", "/r]n", true},           {"/a\\*", "/a*", true},
		{"/a\\*", "/ab", false},            {"/a[", "/a[", true},
		{"*", "", true},                    {"", "", true},
		{"/a**b", "/axxb", true},           {"/a*b*c", "/aXbYc", true},
		{"/a*b*c", "/aXbY/c", false},       {"/exact", "/exact", true},
		{"/exact", "/exactly", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(bs_glob_match(cases[i].glob, cases[i].path, strlen(cases[i].path)) == cases[i].hit,
			      "%s ~ %s", cases[i].glob, cases[i].path);
}
END_TEST

BS_SUITE(match_suite)
{
	Suite *s = suite_create("match");
	TCase *tc = tcase_create("match");
	tcase_add_test(tc, ip_most_specific);
	tcase_add_test(tc, ties_go_to_the_earlier_rule);
	tcase_add_test(tc, unix_paths);
	tcase_add_test(tc, odd_addresses);
	tcase_add_test(tc, exempt_lists);
	tcase_add_test(tc, any_caps_follows_max_conns);
	tcase_add_test(tc, glob_matcher);
	suite_add_tcase(s, tc);
	return s;
}
