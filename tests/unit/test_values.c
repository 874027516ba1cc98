/* Every value parser, with good and bad input, and printing back. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/values.h"
#include "tests/runner/bs_test.h"

static char why[BS_WHY_MAX];

START_TEST(durations_good)
{
	static const struct {
		const char *text;
		bs_ns ns;
	} cases[] = {
		{"0", 0},           {"250ms", 250 * BS_MS}, {"2s", 2 * BS_SEC},
		{"1m", 60 * BS_SEC}, {"1h", 3600 * BS_SEC},  {"1.5s", 1500 * BS_MS},
		{"10us", 10000},     {"5ns", 5},             {"0.5ms", 500000},
		{"0s", 0},           {"1000h", 1000 * 3600 * BS_SEC},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bs_ns d = 1;
		ck_assert_msg(bs_parse_duration(cases[i].text, &d, why, sizeof why) == 0,
			      "%s: %s", cases[i].text, why);
		ck_assert_uint_eq(d, cases[i].ns);
	}
}
END_TEST

START_TEST(durations_bad)
{
	static const char *const bad[] = {"", "5", "x", "-1s", "1.s", "1.5", "2 s", "1e3ms",
					  "s", "1sec", "1001h", "99999999999999999999s",
					  "1.0000000001s", "+1s", ".5s", "1ms ", "0x10s"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bs_ns d = 77;
		ck_assert_msg(bs_parse_duration(bad[i], &d, why, sizeof why) == -1, "'%s' accepted", bad[i]);
		ck_assert_uint_eq(d, 77);
		ck_assert_ptr_nonnull(strstr(why, "duration"));
	}
	bs_parse_duration("5", &(bs_ns){0}, why, sizeof why);
	ck_assert_str_eq(why, "duration '5' needs a unit (use e.g. 250ms, 2s, 1m; units ns us ms s m h)");
	bs_parse_duration("x", &(bs_ns){0}, why, sizeof why);
	ck_assert_str_eq(why, "bad duration 'x' (use e.g. 250ms, 2s, 1m)");
}
END_TEST

START_TEST(durations_print_back)
{
	static const struct {
		bs_ns ns;
		const char *text;
	} cases[] = {{0, "0"}, {1500 * BS_MS, "1500ms"}, {2 * BS_SEC, "2s"}, {90 * BS_SEC, "90s"},
		     {120 * BS_SEC, "2m"}, {7200 * BS_SEC, "2h"}, {1001, "1001ns"}, {3000, "3us"}};
	char buf[32];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bs_format_duration(buf, sizeof buf, cases[i].ns);
		ck_assert_str_eq(buf, cases[i].text);
		bs_ns back;
		ck_assert_int_eq(bs_parse_duration(buf, &back, why, sizeof why), 0);
		ck_assert_uint_eq(back, cases[i].ns);
	}
}
END_TEST

START_TEST(integers)
{
	uint64_t v;
	ck_assert_int_eq(bs_parse_uint("5", 1, 1000, &v, why, sizeof why), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(bs_parse_uint("18446744073709551615", 0, UINT64_MAX, &v, why, sizeof why), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(bs_parse_uint("18446744073709551616", 0, UINT64_MAX, &v, why, sizeof why), -1);
	ck_assert_int_eq(bs_parse_uint("0", 1, 1000, &v, why, sizeof why), -1);
	ck_assert_str_eq(why, "0 is out of range (allowed 1..1000)");
	ck_assert_int_eq(bs_parse_uint("1001", 1, 1000, &v, why, sizeof why), -1);
	static const char *const bad[] = {"", "-1", "+1", "1.0", "1x", " 1", "0x10", "ten"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(bs_parse_uint(bad[i], 0, 100, &v, why, sizeof why) == -1, "'%s'", bad[i]);
	ck_assert_str_eq(why, "bad number 'ten' (allowed 0..100)");
}
END_TEST

START_TEST(factors)
{
	double f;
	ck_assert_int_eq(bs_parse_factor("2", &f, why, sizeof why), 0);
	ck_assert_double_eq(f, 2.0);
	ck_assert_int_eq(bs_parse_factor("1.5", &f, why, sizeof why), 0);
	ck_assert_double_eq(f, 1.5);
	ck_assert_int_eq(bs_parse_factor("1", &f, why, sizeof why), 0);
	static const char *const bad[] = {"0.5", "0", "inf", "nan", "0x2", "", "1001", "-2", "2x", "1e1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(bs_parse_factor(bad[i], &f, why, sizeof why) == -1, "'%s'", bad[i]);
}
END_TEST

START_TEST(booleans)
{
	static const char *const yes[] = {"on", "yes", "true"}, *const no[] = {"off", "no", "false"};
	bool b;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(bs_parse_bool(yes[i], &b, why, sizeof why), 0);
		ck_assert(b);
		ck_assert_int_eq(bs_parse_bool(no[i], &b, why, sizeof why), 0);
		ck_assert(!b);
	}
	ck_assert_int_eq(bs_parse_bool("1", &b, why, sizeof why), -1);
	ck_assert_str_eq(why, "bad boolean '1' (use on/off, yes/no or true/false)");
	ck_assert_int_eq(bs_parse_bool("On", &b, why, sizeof why), -1);
	ck_assert_int_eq(bs_parse_bool("", &b, why, sizeof why), -1);
}
END_TEST

START_TEST(percent_and_jitter)
{
	uint32_t pct;
	struct bs_jitter j;
	ck_assert_int_eq(bs_parse_percent("25%", &pct, why, sizeof why), 0);
	ck_assert_uint_eq(pct, 25);
	ck_assert_int_eq(bs_parse_percent("0%", &pct, why, sizeof why), 0);
	ck_assert_int_eq(bs_parse_percent("100%", &pct, why, sizeof why), 0);
	ck_assert_int_eq(bs_parse_percent("101%", &pct, why, sizeof why), -1);
	ck_assert_int_eq(bs_parse_percent("25", &pct, why, sizeof why), -1);
	ck_assert_int_eq(bs_parse_percent("2.5%", &pct, why, sizeof why), -1);
	ck_assert_int_eq(bs_parse_percent("%", &pct, why, sizeof why), -1);

	static const struct {
		const char *text;
		enum bs_jitter_kind kind;
	} kinds[] = {{"none", BS_JITTER_NONE}, {"full", BS_JITTER_FULL},
		     {"equal", BS_JITTER_EQUAL}, {"decorrelated", BS_JITTER_DECORRELATED},
		     {"30%", BS_JITTER_PERCENT}};
	char buf[32];
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(bs_parse_jitter(kinds[i].text, false, &j, why, sizeof why), 0);
		ck_assert_int_eq(j.kind, kinds[i].kind);
		bs_format_jitter(buf, sizeof buf, &j);
		ck_assert_str_eq(buf, kinds[i].text);
	}
	ck_assert_uint_eq(j.percent, 30);
	ck_assert_int_eq(bs_parse_jitter("Full", false, &j, why, sizeof why), -1);
	ck_assert_str_eq(why, "bad jitter 'Full' (use none, full, equal, decorrelated or N%, e.g. 25%)");
	ck_assert_int_eq(bs_parse_jitter("150%", false, &j, why, sizeof why), -1);
	/* [sleep] jitter: none or N% only. */
	ck_assert_int_eq(bs_parse_jitter("none", true, &j, why, sizeof why), 0);
	ck_assert_int_eq(bs_parse_jitter("50%", true, &j, why, sizeof why), 0);
	ck_assert_int_eq(bs_parse_jitter("full", true, &j, why, sizeof why), -1);
	ck_assert_str_eq(why, "bad jitter 'full' (use none or N%, e.g. 50%)");
}
END_TEST

START_TEST(errno_lists)
{
	struct bs_errset set = {{0}};
	ck_assert_int_eq(bs_parse_errnames("ECONNREFUSED,ETIMEDOUT  EAGAIN", &set, why, sizeof why), 0);
	ck_assert(bs_errset_has(&set, ECONNREFUSED));
	ck_assert(bs_errset_has(&set, ETIMEDOUT));
	ck_assert(bs_errset_has(&set, EAGAIN));
	ck_assert(!bs_errset_has(&set, ENOENT));
	ck_assert_int_eq(bs_parse_errnames("ECONREFUSED", &set, why, sizeof why), -1);
	ck_assert_str_eq(why, "unknown errno name 'ECONREFUSED' (did you mean ECONNREFUSED?)");
	ck_assert_int_eq(bs_parse_errnames("BANANA", &set, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "unknown errno name 'BANANA'"));
	ck_assert_int_eq(bs_parse_errnames("", &set, why, sizeof why), -1);
	ck_assert_int_eq(bs_parse_errnames(" , ", &set, why, sizeof why), -1);
	ck_assert_int_eq(bs_parse_errnames("111", &set, why, sizeof why), -1);
}
END_TEST

/* Every pattern syntax: what it parses to, and that it prints back the same. */
START_TEST(patterns_good)
{
	static const struct {
		const char *text;
		sa_family_t family;
		unsigned prefix, port;
		const char *addr; /* inet_pton text, or the unix glob */
	} cases[] = {
		{"10.1.0.0/16", AF_INET, 16, 0, "10.1.0.0"},
		{"10.1.0.0/16:5432", AF_INET, 16, 5432, "10.1.0.0"},
		{"127.0.0.1:5432", AF_INET, 32, 5432, "127.0.0.1"},
		{"127.0.0.1", AF_INET, 32, 0, "127.0.0.1"},
		{"0.0.0.0/0", AF_INET, 0, 0, "0.0.0.0"},
		{"::1", AF_INET6, 128, 0, "::1"},
		{"fd00::/8", AF_INET6, 8, 0, "fd00::"},
		{"[::1]:6379", AF_INET6, 128, 6379, "::1"},
		{"[fd00::]/8:80", AF_INET6, 8, 80, "fd00::"},
		{"[fd00::]/8", AF_INET6, 8, 0, "fd00::"},
		{"unix:/run/postgresql/*", AF_UNIX, 0, 0, "/run/postgresql/*"},
		{"unix:/run/app.sock", AF_UNIX, 0, 0, "/run/app.sock"},
		{"unix:@abstract", AF_UNIX, 0, 0, "@abstract"},
	};
	char buf[160];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct bs_pattern p;
		ck_assert_msg(bs_parse_pattern(cases[i].text, &p, why, sizeof why) == 0,
			      "%s: %s", cases[i].text, why);
		ck_assert_int_eq(p.family, cases[i].family);
		if (p.family == AF_UNIX) {
			ck_assert_str_eq(p.glob, cases[i].addr);
		} else {
			uint8_t want[16] = {0};
			inet_pton(p.family, cases[i].addr, want);
			ck_assert_mem_eq(p.addr, want, 16);
			ck_assert_uint_eq(p.prefix, cases[i].prefix);
			ck_assert_uint_eq(p.port, cases[i].port);
		}
		/* Printed in canonical form ("[fd00::]/8" as "fd00::/8"),
		 * which parses to the same pattern. */
		bs_format_pattern(buf, sizeof buf, &p);
		if (strcmp(cases[i].text, "[fd00::]/8") == 0)
			ck_assert_str_eq(buf, "fd00::/8");
		else
			ck_assert_str_eq(buf, cases[i].text);
		struct bs_pattern back;
		ck_assert_int_eq(bs_parse_pattern(buf, &back, why, sizeof why), 0);
		ck_assert_int_eq(back.family, p.family);
		ck_assert_mem_eq(back.addr, p.addr, 16);
		ck_assert_uint_eq(back.prefix, p.prefix);
		ck_assert_uint_eq(back.port, p.port);
		free(back.glob);
		free(p.glob);
	}
}
END_TEST

START_TEST(patterns_bad)
{
	static const char *const bad[] = {
		"10.1.0.0/33", "1.2.3.4:0", "1.2.3.4:70000", "[::1", "[::1]x", "unix:rel",
		"unix:", "300.1.1.1", "garbage!", "", "1.2.3.4/", "1.2.3.4:", "1.2.3/8",
		"::1/129", "[1.2.3.4]:80", "1.2.3.4/8/8", "[::1]:80:80", "10.0.0.0/-1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct bs_pattern p;
		ck_assert_msg(bs_parse_pattern(bad[i], &p, why, sizeof why) == -1, "'%s' accepted", bad[i]);
		ck_assert_ptr_null(p.glob);
	}
	struct bs_pattern p;
	ck_assert_int_eq(bs_parse_pattern("10.1.2.3/16", &p, why, sizeof why), -1);
	ck_assert_str_eq(why, "'10.1.2.3/16' has host bits set past /16 (did you mean 10.1.0.0/16?)");
	ck_assert_int_eq(bs_parse_pattern("fd00::/8:80", &p, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "needs brackets"));
	char longpath[200] = "unix:/";
	memset(longpath + 6, 'a', 150);
	ck_assert_int_eq(bs_parse_pattern(longpath, &p, why, sizeof why), -1);
}
END_TEST

START_TEST(pattern_lists_append)
{
	struct bs_pattern *list = NULL;
	size_t n = 0;
	ck_assert_int_eq(bs_parse_patterns("10.0.0.0/8, ::1 unix:/a", &list, &n, why, sizeof why), 0);
	ck_assert_uint_eq(n, 3);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(bs_parse_patterns("127.0.0.1:1 127.0.0.2:2", &list, &n, why, sizeof why), 0);
	ck_assert_uint_eq(n, 43);
	ck_assert_uint_eq(list[42].port, 2);
	ck_assert_int_eq(bs_parse_patterns("", &list, &n, why, sizeof why), -1);
	bs_patterns_free(list, n);
}
END_TEST

START_TEST(log_sinks)
{
	struct bs_global g = {.log_fd = -1};
	ck_assert_int_eq(bs_parse_log("stderr", &g, why, sizeof why), 0);
	ck_assert_int_eq(g.log_kind, BS_LOG_STDERR);
	ck_assert_int_eq(bs_parse_log("fd:3", &g, why, sizeof why), 0);
	ck_assert_int_eq(g.log_kind, BS_LOG_FD);
	ck_assert_int_eq(g.log_fd, 3);
	ck_assert_int_eq(bs_parse_log("/var/log/backstop.jsonl", &g, why, sizeof why), 0);
	ck_assert_int_eq(g.log_kind, BS_LOG_FILE);
	ck_assert_str_eq(g.log_path, "/var/log/backstop.jsonl");
	ck_assert_int_eq(bs_parse_log("syslog", &g, why, sizeof why), 0);
	ck_assert_int_eq(g.log_kind, BS_LOG_SYSLOG);
	ck_assert_ptr_null(g.log_path);
	ck_assert_int_eq(bs_parse_log("off", &g, why, sizeof why), 0);
	ck_assert_int_eq(g.log_kind, BS_LOG_OFF);
	static const char *const bad[] = {"relative.jsonl", "fd:x", "fd:", "fd:-1", "", "STDERR", "file"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(bs_parse_log(bad[i], &g, why, sizeof why) == -1, "'%s'", bad[i]);
	ck_assert_int_eq(g.log_kind, BS_LOG_OFF); /* unchanged by bad values */
}
END_TEST

START_TEST(quoting_and_suggestions)
{
	char q[80];
	bs_quote(q, sizeof q, "a\x01\xff\"b");
	ck_assert_str_eq(q, "a\\x01\\xff\"b");
	char longtext[200];
	memset(longtext, 'x', 199);
	longtext[199] = '\0';
	bs_quote(q, sizeof q, longtext);
	ck_assert_uint_eq(strlen(q), 63);
	static const char *const words[] = {"attempts", "base", "deadline", "log"};
	ck_assert_str_eq(bs_closest("atempts", words, 4), "attempts");
	ck_assert_str_eq(bs_closest("deadlien", words, 4), "deadline");
	ck_assert_str_eq(bs_closest("LOG", words, 4), "log");
	ck_assert_ptr_null(bs_closest("x", words, 4));
	ck_assert_ptr_null(bs_closest("completely", words, 4));
}
END_TEST

BS_SUITE(values_suite)
{
	Suite *s = suite_create("values");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, durations_good);
	tcase_add_test(tc, durations_bad);
	tcase_add_test(tc, durations_print_back);
	tcase_add_test(tc, integers);
	tcase_add_test(tc, factors);
	tcase_add_test(tc, booleans);
	tcase_add_test(tc, percent_and_jitter);
	tcase_add_test(tc, errno_lists);
	tcase_add_test(tc, patterns_good);
	tcase_add_test(tc, patterns_bad);
	tcase_add_test(tc, pattern_lists_append);
	tcase_add_test(tc, log_sinks);
	tcase_add_test(tc, quoting_and_suggestions);
	suite_add_tcase(s, tc);
	return s;
}
