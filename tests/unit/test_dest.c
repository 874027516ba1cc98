/* Destinations as text: formatting (async-signal-safe, exact bytes) and
 * parsing the same syntaxes back. */
#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "policy/dest.h"
#include "tests/runner/bs_test.h"

static const char *round_trip(const char *text, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_msg(bs_dest_parse(text, &ss, &len) == 0, "%s", text);
	ck_assert_uint_gt(bs_dest_format(buf, cap, (struct sockaddr *)&ss, len), 0);
	return buf;
}

START_TEST(format_and_parse)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"1.2.3.4:80", "1.2.3.4:80"},
		{"255.255.255.255:65535", "255.255.255.255:65535"},
		{"127.0.0.1", "127.0.0.1:0"},
		{"[::1]:6379", "[::1]:6379"},
		{"::1", "[::1]:0"},
		{"[::]:1", "[::]:1"},
		{"[2001:DB8:0:0:1:0:0:1]:8", "[2001:db8::1:0:0:1]:8"}, /* first longest zero run */
		{"[2001:db8:0:0:0:0:2:1]:8", "[2001:db8::2:1]:8"},
		{"[2001:db8:0:1:1:1:1:1]:8", "[2001:db8:0:1:1:1:1:1]:8"}, /* one zero group stays */
		{"[fe80:0:0:0:1:0:0:0]:8", "[fe80::1:0:0:0]:8"}, /* equal runs: the first */
		{"[1::]:8", "[1::]:8"},
		{"[::ffff:10.1.2.3]:5432", "[::ffff:10.1.2.3]:5432"},
		{"unix:/run/app.sock", "unix:/run/app.sock"},
		{"unix:@abstract", "unix:@abstract"},
	};
	char buf[BS_DEST_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_str_eq(round_trip(cases[i].in, buf, sizeof buf), cases[i].out);
}
END_TEST

START_TEST(unix_edge_cases)
{
	char buf[BS_DEST_MAX];
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	/* Unnamed: just the family. */
	ck_assert_uint_eq(bs_dest_format(buf, sizeof buf, (struct sockaddr *)&un, sizeof(sa_family_t)), 5);
	ck_assert_str_eq(buf, "unix:");
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(bs_dest_parse("unix:", &ss, &len), 0);
	ck_assert_uint_eq(len, sizeof(sa_family_t));
	/* A full sun_path without NUL is not overrun. */
	memset(un.sun_path, 'p', sizeof un.sun_path);
	ck_assert_uint_eq(bs_dest_format(buf, sizeof buf, (struct sockaddr *)&un, sizeof un),
			  5 + sizeof un.sun_path);
	/* The abstract name is length-delimited. */
	ck_assert_int_eq(bs_dest_parse("unix:@x", &ss, &len), 0);
	ck_assert_uint_eq(len, offsetof(struct sockaddr_un, sun_path) + 2);
	ck_assert_int_eq(bs_dest_parse("unix:relative", &ss, &len), -1);
}
END_TEST

START_TEST(small_buffers_and_odd_families)
{
	char buf[8];
	struct sockaddr_storage ss;
	socklen_t len;
	ck_assert_int_eq(bs_dest_parse("[2001:db8::1]:65535", &ss, &len), 0);
	size_t n = bs_dest_format(buf, sizeof buf, (struct sockaddr *)&ss, len);
	ck_assert_uint_eq(n, 7);
	ck_assert_str_eq(buf, "[2001:d");
	struct sockaddr sa = {.sa_family = AF_PACKET};
	ck_assert_uint_eq(bs_dest_format(buf, sizeof buf, &sa, sizeof sa), 0);
	ck_assert_str_eq(buf, "?");
	ck_assert_uint_eq(bs_dest_format(buf, sizeof buf, NULL, 0), 0);
	ck_assert_str_eq(buf, "?");
	/* Shorter than its family needs: unsupported, not read past. */
	ck_assert_uint_eq(bs_dest_format(buf, sizeof buf, (struct sockaddr *)&ss, 8), 0);
}
END_TEST

START_TEST(parse_rejects_garbage)
{
	static const char *const bad[] = {"", "x", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:8x",
					  "[::1", "[::1]x", "[::1]:", "300.0.0.1:1", "1.2.3:4", "[1.2.3.4]:5",
					  "::1:80:x", "unix:x"};
	struct sockaddr_storage ss;
	socklen_t len;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(bs_dest_parse(bad[i], &ss, &len) == -1, "'%s' accepted", bad[i]);
}
END_TEST

BS_SUITE(dest_suite)
{
	Suite *s = suite_create("dest");
	TCase *tc = tcase_create("dest");
	tcase_add_test(tc, format_and_parse);
	tcase_add_test(tc, unix_edge_cases);
	tcase_add_test(tc, small_buffers_and_odd_families);
	tcase_add_test(tc, parse_rejects_garbage);
	suite_add_tcase(s, tc);
	return s;
}
