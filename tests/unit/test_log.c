/* The JSON log writer's lines: every line read back and parsed with
 * jansson (a strict parser), escaping, timestamps, the required fields,
 * truncation, errno preservation. The sinks are test_logsink.c. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/log.h"
#include "engine/rng.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_log_util.h"

START_TEST(escape_specials)
{
	char out[128];
	const char in[] = "a\"b\\c\nd\te\x01\x1f\r\b\f";
	size_t n = bs_json_escape(out, sizeof(out), in, sizeof(in) - 1);
	ck_assert_str_eq(out, "a\\\"b\\\\c\\nd\\te\\u0001\\u001f\\r\\b\\f");
	ck_assert_uint_eq(n, strlen(out));
	/* A NUL inside the given length is escaped too. */
	bs_json_escape(out, sizeof(out), "x\0y", 3);
	ck_assert_str_eq(out, "x\\u0000y");
}
END_TEST

START_TEST(escape_utf8)
{
	char out[128];
	/* Valid UTF-8 (2, 3 and 4 bytes) passes through unchanged. */
	const char ok[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f";
	bs_json_escape(out, sizeof(out), ok, sizeof(ok) - 1);
	ck_assert_str_eq(out, ok);
	/* Invalid: stray continuation, lone lead byte, overlong, surrogate,
	 * above U+10FFFF, truncated sequence at the end: each byte \u00XX. */
	const char bad[] = "\x80|\xc3|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82";
	bs_json_escape(out, sizeof(out), bad, sizeof(bad) - 1);
	ck_assert_str_eq(out, "\\u0080|\\u00c3|\\u00c0\\u00af|\\u00ed\\u00a0\\u0080|"
			      "\\u00f4\\u0090\\u0080\\u0080|\\u00e2\\u0082");
}
END_TEST

START_TEST(escape_never_splits)
{
	char out[8];
	/* "\u0001" is 6 bytes; 7 of room (cap 8 minus NUL) fits one, not two. */
	ck_assert_uint_eq(bs_json_escape(out, sizeof(out), "\x01\x01", 2), 6);
	ck_assert_str_eq(out, "\\u0001");
	/* A 4-byte character does not fit in 3 bytes of room. */
	ck_assert_uint_eq(bs_json_escape(out, 4, "\xf0\x9f\x98\x80", 4), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(bs_json_escape(out, 0, "x", 1), 0);
}
END_TEST

/* Every escaped string, put in quotes, is a JSON string that decodes to
 * the input (with invalid bytes read as U+0080..U+00FF): random bytes. */
START_TEST(escape_random_bytes_always_valid_json)
{
	struct bs_rng rng;
	bs_rng_seed(&rng, 11);
	for (int round = 0; round < 2000; round++) {
		char in[32], out[32 * 6 + 3];
		size_t len = 1 + bs_rng_below(&rng, sizeof(in));
		for (size_t i = 0; i < len; i++)
			in[i] = (char)(1 + bs_rng_below(&rng, 255)); /* no NUL: jansson */
		out[0] = '"';
		size_t n = bs_json_escape(out + 1, sizeof(out) - 2, in, len);
		out[n + 1] = '"';
		json_error_t jerr;
		json_t *s = json_loadb(out, n + 2, JSON_DECODE_ANY, &jerr);
		ck_assert_msg(s != NULL, "%s: %s", jerr.text, out);
		json_decref(s);
	}
}
END_TEST

START_TEST(rfc3339_matches_gmtime)
{
	int64_t fixed[] = { 0, 59, 86399, 86400, 951782400 /* 2000-02-29 */,
			    951868800, 4107542400 /* 2100-02-28 */, 4107628800,
			    1795525469 /* 2026-11-22T13:04:29 */, -1, -86401,
			    253402300799 /* 9999-12-31T23:59:59 */ };
	struct bs_rng rng;
	bs_rng_seed(&rng, 1);
	for (int i = 0; i < 20000; i++) {
		int64_t t = i < (int)(sizeof(fixed) / sizeof(fixed[0])) ? fixed[i] :
			    (int64_t)bs_rng_below(&rng, 253402300800ull) - 2208988800;
		char got[BS_RFC3339_LEN + 1], want[64];
		time_t tt = (time_t)t;
		struct tm tm;
		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (unsigned)(i * 37 % 1000000));
		ck_assert_uint_eq(bs_format_rfc3339(got, t, (uint32_t)(i * 37 % 1000000)),
				  BS_RFC3339_LEN);
		ck_assert_str_eq(got, want);
	}
}
END_TEST

START_TEST(line_has_required_fields)
{
	int p[2];
	make_pipe(p);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, p[1], NULL);
	struct bs_logline line;
	bs_line_begin(&line, &log, "connect.retry");
	bs_line_int(&line, "fd", 7);
	bs_line_str(&line, "dest", "127.0.0.1:5432");
	bs_line_int(&line, "min", INT64_MIN);
	bs_line_errno(&line, "errno", ECONNREFUSED);
	bs_line_errno(&line, "odd_errno", 4000);
	bs_line_ms(&line, "delay_ms", 12345678);
	bs_line_ms(&line, "zero_ms", 0);
	bs_line_ms(&line, "small_ms", 999);
	bs_line_emit(&line, &log);

	char buf[BS_LOG_LINE_MAX + 1];
	read_line(p[0], buf, sizeof(buf));
	json_t *obj = parse_line(buf);
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:"
				      "[0-6][0-9]\\.[0-9]{6}Z$", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_int_eq(regexec(&re, get_str(obj, "ts"), 0, NULL, 0), 0);
	regfree(&re);
	ck_assert_int_eq(get_int(obj, "pid"), getpid());
	ck_assert_int_eq(get_int(obj, "tid"), syscall(SYS_gettid));
	ck_assert_str_eq(get_str(obj, "prog"), "test-prog");
	ck_assert_str_eq(get_str(obj, "event"), "connect.retry");
	ck_assert_int_eq(get_int(obj, "fd"), 7);
	ck_assert_str_eq(get_str(obj, "dest"), "127.0.0.1:5432");
	ck_assert(get_int(obj, "min") == INT64_MIN);
	ck_assert_str_eq(get_str(obj, "errno"), "ECONNREFUSED");
	ck_assert_int_eq(get_int(obj, "odd_errno"), 4000);
	ck_assert_ptr_null(json_object_get(obj, "truncated"));
	ck_assert_ptr_null(json_object_get(obj, "dropped"));
	/* Durations: JSON numbers with exactly three decimals. */
	ck_assert_ptr_nonnull(strstr(buf, "\"delay_ms\":12.345,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"zero_ms\":0.000,"));
	ck_assert_ptr_nonnull(strstr(buf, "\"small_ms\":0.000}"));
	ck_assert(json_is_real(json_object_get(obj, "delay_ms")));
	/* The five required fields come first, in order. */
	ck_assert_int_eq(strncmp(buf, "{\"ts\":\"", 7), 0);
	ck_assert_ptr_nonnull(strstr(buf, "Z\",\"pid\":"));
	json_decref(obj);
	bs_log_close(&log);
}
END_TEST

START_TEST(hostile_strings_round_trip)
{
	int p[2];
	make_pipe(p);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, p[1], NULL);
	const char *path = "unix:/tmp/a \"quoted\" \\ back\nslash\x01\x1b[31m caf\xc3\xa9";
	struct bs_logline line;
	bs_line_begin(&line, &log, "connect.giveup");
	bs_line_str(&line, "dest", path);
	bs_line_str(&line, "bad", "x\xff\xfey");
	bs_line_str(&line, "we\"ird", "k");
	bs_line_emit(&line, &log);
	char buf[BS_LOG_LINE_MAX + 1];
	read_line(p[0], buf, sizeof(buf));
	json_t *obj = parse_line(buf);
	ck_assert_str_eq(get_str(obj, "dest"), path);
	ck_assert_str_eq(get_str(obj, "bad"), "x\xc3\xbf\xc3\xbey"); /* U+00FF U+00FE */
	ck_assert_str_eq(get_str(obj, "we\"ird"), "k");
	json_decref(obj);
}
END_TEST

START_TEST(long_values_truncate_to_valid_json)
{
	int p[2];
	make_pipe(p);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, p[1], NULL);
	/* Control bytes expand six-fold: the cut must fall between escapes. */
	static char ctl[3000], plain[5000];
	memset(ctl, '\x02', sizeof(ctl) - 1);
	memset(plain, 'a', sizeof(plain) - 1);
	const char *values[] = { plain, ctl };
	for (int v = 0; v < 2; v++) {
		struct bs_logline line;
		bs_line_begin(&line, &log, "connect.retry");
		bs_line_str(&line, "dest", values[v]);
		bs_line_int(&line, "after", 1); /* no room left: left out */
		bs_line_emit(&line, &log);
		char buf[2 * BS_LOG_LINE_MAX];
		size_t n = read_line(p[0], buf, sizeof(buf));
		ck_assert_uint_le(n, BS_LOG_LINE_MAX);
		json_t *obj = parse_line(buf);
		ck_assert(json_is_true(json_object_get(obj, "truncated")));
		ck_assert_str_eq(get_str(obj, "event"), "connect.retry");
		const char *dest = get_str(obj, "dest");
		ck_assert_uint_gt(strlen(dest), 200);
		ck_assert_int_eq(strncmp(dest, values[v], strlen(dest)), 0);
		ck_assert_ptr_null(json_object_get(obj, "after"));
		json_decref(obj);
	}
}
END_TEST


START_TEST(errno_preserved_by_line_functions)
{
	int p[2];
	make_pipe(p);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, p[1], NULL);
	struct bs_logline line;
	char tmp[8];
	errno = 31337;
	bs_line_begin(&line, &log, "sleep.adjust");
	bs_line_str(&line, "s", "v");
	bs_line_int(&line, "i", 1);
	bs_line_ms(&line, "m", 1);
	bs_line_errno(&line, "e", EAGAIN);
	bs_json_escape(tmp, sizeof(tmp), "x", 1);
	bs_line_emit(&line, &log);
	ck_assert_int_eq(errno, 31337);
	bs_log_close(&log);
	ck_assert_int_eq(errno, 31337);
}
END_TEST


BS_SUITE(log_suite)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, escape_specials);
	tcase_add_test(tc, escape_utf8);
	tcase_add_test(tc, escape_never_splits);
	tcase_add_test(tc, escape_random_bytes_always_valid_json);
	tcase_add_test(tc, rfc3339_matches_gmtime);
	tcase_add_test(tc, line_has_required_fields);
	tcase_add_test(tc, hostile_strings_round_trip);
	tcase_add_test(tc, long_values_truncate_to_valid_json);
	tcase_add_test(tc, errno_preserved_by_line_functions);
	suite_add_tcase(s, tc);
	return s;
}
