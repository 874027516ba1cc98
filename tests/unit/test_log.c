/* The JSON log writer: every line read back and parsed with jansson (a
 * strict parser), escaping, timestamps, truncation, one write per line,
 * drops, SIGPIPE, the sinks' descriptors, errno preservation. */
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

static void open_log(struct bs_log *log, enum bs_log_kind kind, int fd, char *path)
{
	struct bs_global g = { .log_kind = kind, .log_fd = fd, .log_path = path };
	struct bs_error err = { "" };
	ck_assert_msg(bs_log_open(log, &g, "test-prog", &err) == 0, "%s", err.msg);
}

static void make_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
}

/* One line from a pipe or datagram socket: a single read gets it whole,
 * because the writer made it with a single write. */
static size_t read_line(int fd, char *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return (size_t)n;
}

static json_t *parse_line(const char *text)
{
	size_t len = strlen(text);
	ck_assert_msg(len > 0 && text[len - 1] == '\n', "no newline: %s", text);
	ck_assert_ptr_null(memchr(text, '\n', len - 1));
	json_error_t jerr;
	json_t *obj = json_loadb(text, len - 1, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(obj != NULL, "invalid JSON (%s): %s", jerr.text, text);
	ck_assert(json_is_object(obj));
	return obj;
}

static const char *get_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static json_int_t get_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static void emit_simple(struct bs_log *log, const char *event)
{
	struct bs_logline line;
	bs_line_begin(&line, log, event);
	bs_line_emit(&line, log);
}

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

/* A datagram socket keeps write boundaries: each line must arrive as
 * exactly one datagram, i.e. one send per line. */
START_TEST(one_write_per_line)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, sv[1], NULL);
	ck_assert_int_eq(log.io, BS_LOGIO_SEND);
	char big[1500];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 3; i++) {
		struct bs_logline line;
		bs_line_begin(&line, &log, "cap.wait");
		bs_line_str(&line, "payload", big);
		bs_line_int(&line, "i", i);
		bs_line_emit(&line, &log);
	}
	for (int i = 0; i < 3; i++) {
		char buf[BS_LOG_LINE_MAX + 1];
		read_line(sv[0], buf, sizeof(buf));
		json_t *obj = parse_line(buf);
		ck_assert_int_eq(get_int(obj, "i"), i);
		json_decref(obj);
	}
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

/* A full pipe: lines are dropped (never blocking), counted, and the count
 * is reported once on the next line that gets through. */
START_TEST(full_pipe_drops_and_reports)
{
	int p[2];
	make_pipe(p);
	ck_assert_int_ge(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, p[1], NULL);
	char pad[400];
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	int written = 0;
	for (int i = 0; i < 100; i++) {
		struct bs_logline line;
		bs_line_begin(&line, &log, "accept.shed");
		bs_line_str(&line, "pad", pad);
		bs_line_emit(&line, &log);
		written += atomic_load(&log.dropped) == 0;
	}
	unsigned long dropped = atomic_load(&log.dropped);
	ck_assert_uint_gt(dropped, 0);
	ck_assert_int_eq(written + (int)dropped, 100);
	char buf[8192];
	int lines = 0;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (ssize_t n; (n = read(p[0], buf, sizeof(buf))) > 0;)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	ck_assert_int_eq(lines, written); /* no partial line, none lost unseen */
	emit_simple(&log, "accept.shed");
	read_line(p[0], buf, sizeof(buf));
	json_t *obj = parse_line(buf);
	ck_assert_int_eq(get_int(obj, "dropped"), (json_int_t)dropped);
	json_decref(obj);
	ck_assert_uint_eq(atomic_load(&log.dropped), 0);
	emit_simple(&log, "accept.shed");
	read_line(p[0], buf, sizeof(buf));
	obj = parse_line(buf);
	ck_assert_ptr_null(json_object_get(obj, "dropped"));
	json_decref(obj);
}
END_TEST

/* No reader: the write fails with EPIPE, but the process is not killed
 * (Check would report the signal) and no SIGPIPE is left pending. */
START_TEST(pipe_without_reader_raises_no_sigpipe)
{
	int p[2];
	make_pipe(p);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, p[1], NULL);
	ck_assert_int_eq(log.io, BS_LOGIO_PIPE);
	close(p[0]);
	errno = 4242;
	emit_simple(&log, "connect.ok");
	ck_assert_int_eq(errno, 4242);
	ck_assert_uint_eq(atomic_load(&log.dropped), 1);
	sigset_t pending;
	sigpending(&pending);
	ck_assert(!sigismember(&pending, SIGPIPE));
	/* The signal mask is restored. */
	sigset_t mask;
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	ck_assert(!sigismember(&mask, SIGPIPE));
}
END_TEST

/* The sink is private: high, close-on-exec, nonblocking in its own open
 * file description, while the program's descriptor keeps its flags. */
START_TEST(private_high_descriptor)
{
	int p[2];
	make_pipe(p);
	int before = fcntl(p[1], F_GETFL);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, p[1], NULL);
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rlim_t floor = rl.rlim_cur - rl.rlim_cur / 8;
	ck_assert_int_ge(log.fd, (floor < 900 ? floor : 900));
	ck_assert_int_eq(fcntl(log.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_ne(fcntl(log.fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_eq(fcntl(p[1], F_GETFL), before);
	/* Not consumed from the low numbers: the next open gets the lowest. */
	int next = dup(0);
	ck_assert_int_lt(next, log.fd);
	close(next);
}
END_TEST

START_TEST(stderr_sink_leaves_fd2_alone)
{
	int p[2];
	make_pipe(p);
	ck_assert_int_eq(dup2(p[1], 2), 2);
	int flags = fcntl(2, F_GETFL);
	struct bs_log log;
	open_log(&log, BS_LOG_STDERR, 0, NULL);
	ck_assert_int_ne(log.fd, 2);
	ck_assert_int_eq(fcntl(2, F_GETFL), flags);
	emit_simple(&log, "policy.loaded");
	char buf[BS_LOG_LINE_MAX + 1];
	read_line(p[0], buf, sizeof(buf));
	json_t *obj = parse_line(buf);
	ck_assert_str_eq(get_str(obj, "event"), "policy.loaded");
	json_decref(obj);
	/* fd 2 closed: the stderr sink is off, not an error; a closed fd:N
	 * is an error naming it, and leaves a usable log that is off. */
	close(2);
	struct bs_log off;
	open_log(&off, BS_LOG_STDERR, 0, NULL);
	ck_assert_int_eq(off.fd, -1);
	emit_simple(&off, "policy.loaded");
	struct bs_global g = { .log_kind = BS_LOG_FD, .log_fd = 2 };
	struct bs_error err;
	ck_assert_int_eq(bs_log_open(&off, &g, "x", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "log fd:2: descriptor is not open"));
	ck_assert_int_eq(off.fd, -1);
	emit_simple(&off, "policy.loaded");
}
END_TEST

START_TEST(move_rehomes_descriptor)
{
	int p[2];
	make_pipe(p);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, p[1], NULL);
	int old = log.fd;
	errno = 77;
	int moved = bs_log_move(&log);
	ck_assert_int_eq(errno, 77);
	ck_assert_int_ge(moved, 0);
	ck_assert_int_ne(moved, old);
	ck_assert_int_eq(bs_log_fd(&log), moved);
	ck_assert_int_eq(fcntl(old, F_GETFD), -1); /* the old number is free */
	ck_assert_int_eq(fcntl(moved, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(bs_log_move_to(&log, 500), 500);
	emit_simple(&log, "cap.acquired");
	char buf[BS_LOG_LINE_MAX + 1];
	read_line(p[0], buf, sizeof(buf));
	json_decref(parse_line(buf));
}
END_TEST

static char *temp_dir(void)
{
	static char dir[] = "/tmp/bs-test-log-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

START_TEST(file_sink_creates_0600_and_appends)
{
	umask(0);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/log.jsonl", temp_dir());
	for (int round = 0; round < 2; round++) {
		struct bs_log log;
		open_log(&log, BS_LOG_FILE, 0, path);
		ck_assert_int_eq(log.io, BS_LOGIO_WRITE);
		emit_simple(&log, "policy.loaded");
		bs_log_close(&log);
		ck_assert_int_eq(log.fd, -1);
	}
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	int fd = open(path, O_RDONLY);
	char buf[2 * BS_LOG_LINE_MAX];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	char *second = strchr(buf, '\n') + 1; /* two lines: appended */
	json_decref(parse_line(second));
	second[0] = '\0';
	json_decref(parse_line(buf));
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(file_sink_refuses_symlink_and_odd_files)
{
	char *dir = temp_dir();
	char link[PATH_MAX], target[PATH_MAX];
	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(symlink(target, link), 0);
	struct bs_log log;
	struct bs_global g = { .log_kind = BS_LOG_FILE, .log_path = link };
	struct bs_error err;
	errno = 9;
	ck_assert_int_eq(bs_log_open(&log, &g, "x", &err), -1);
	ck_assert_int_eq(errno, 9);
	ck_assert_ptr_nonnull(strstr(err.msg, link));
	ck_assert_ptr_nonnull(strstr(err.msg, "symbolic link"));
	ck_assert_int_eq(access(target, F_OK), -1); /* nothing created through it */
	ck_assert_int_eq(log.fd, -1);
	g.log_path = dir;
	ck_assert_int_eq(bs_log_open(&log, &g, "x", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, dir));
	unlink(link);
	rmdir(dir);
	/* A character device is fine: log = /dev/null. */
	open_log(&log, BS_LOG_FILE, 0, "/dev/null");
	emit_simple(&log, "policy.loaded");
	ck_assert_uint_eq(atomic_load(&log.dropped), 0);
}
END_TEST

START_TEST(off_sink_is_a_noop)
{
	struct bs_log log;
	open_log(&log, BS_LOG_OFF, 0, NULL);
	ck_assert_int_eq(log.fd, -1);
	emit_simple(&log, "connect.ok");
	ck_assert_uint_eq(atomic_load(&log.dropped), 0);
	ck_assert_int_eq(bs_log_move(&log), -1);
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

/* fd 2 on a regular file without O_APPEND (`prog 2>file`): the sink
 * shares the program's offset, so neither overwrites the other. */
START_TEST(stderr_file_shares_offset)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/err.txt", temp_dir());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_eq(dup2(fd, 2), 2);
	struct bs_log log;
	open_log(&log, BS_LOG_STDERR, 0, NULL);
	ck_assert_int_eq(write(2, "A\n", 2), 2);
	emit_simple(&log, "connect.ok");
	ck_assert_int_eq(write(2, "B\n", 2), 2);
	char buf[BS_LOG_LINE_MAX + 8];
	int rd = open(path, O_RDONLY);
	ssize_t n = read(rd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 6);
	buf[n] = '\0';
	ck_assert_int_eq(strncmp(buf, "A\n{", 3), 0);
	ck_assert_str_eq(buf + n - 2, "B\n");
	buf[n - 2] = '\0';
	json_decref(parse_line(buf + 2));
	close(rd);
	close(fd);
	unlink(path);
}
END_TEST

enum { WRITERS = 4, LINES_EACH = 300 };

static void *write_lines(void *arg)
{
	struct bs_log *log = arg;
	for (int i = 0; i < LINES_EACH; i++) {
		struct bs_logline line;
		bs_line_begin(&line, log, "connect.retry");
		bs_line_str(&line, "dest", "unix:/run/a-fairly-long-socket-path/for/padding.sock");
		bs_line_int(&line, "i", i);
		bs_line_emit(&line, log);
	}
	return NULL;
}

/* Start the writers, wait for them, then close the log: the reader sees
 * end-of-file when every line is in. */
static void *write_then_close(void *arg)
{
	pthread_t t[WRITERS];
	for (int i = 0; i < WRITERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, write_lines, arg), 0);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	bs_log_close(arg);
	return NULL;
}

/* Threads logging at once into one pipe, read as it fills: every line
 * arrives whole (none interleaved), or is counted as dropped, and every
 * drop is accounted for exactly once. */
START_TEST(concurrent_lines_never_interleave)
{
	int p[2];
	make_pipe(p);
	struct bs_log log;
	open_log(&log, BS_LOG_FD, p[1], NULL);
	close(p[1]);
	pthread_t closer;
	ck_assert_int_eq(pthread_create(&closer, NULL, write_then_close, &log), 0);
	static char all[WRITERS * LINES_EACH * 256];
	size_t got = 0;
	for (ssize_t n; (n = read(p[0], all + got, sizeof(all) - 1 - got)) > 0;)
		got += (size_t)n;
	pthread_join(closer, NULL);
	all[got] = '\0';
	int lines = 0;
	json_int_t reported = 0;
	for (char *line = all, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		char save = nl[1];
		nl[1] = '\0';
		json_t *obj = parse_line(line);
		ck_assert_str_eq(get_str(obj, "event"), "connect.retry");
		if (json_object_get(obj, "dropped") != NULL)
			reported += get_int(obj, "dropped");
		json_decref(obj);
		nl[1] = save;
		lines++;
	}
	/* Every line is either read, or reported dropped, or still counted. */
	unsigned long unreported = atomic_load(&log.dropped);
	ck_assert_int_eq(lines + reported + (json_int_t)unreported, WRITERS * LINES_EACH);
}
END_TEST

/* syslog: one datagram per line to /dev/log, in a private mount
 * namespace where /dev is a tmpfs holding our own receiving socket. */
START_TEST(syslog_sink_sends_one_datagram)
{
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", "/dev", "tmpfs", 0, NULL) != 0) {
		fprintf(stderr, "syslog_sink_sends_one_datagram: skipped, no mount namespace (%s)\n",
			strerror(errno));
		return;
	}
	int rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	ck_assert_int_eq(bind(rx, (struct sockaddr *)&sun, sizeof(sun)), 0);
	struct bs_log log;
	open_log(&log, BS_LOG_SYSLOG, 0, NULL);
	ck_assert_int_eq(log.io, BS_LOGIO_SYSLOG);
	struct bs_logline line;
	bs_line_begin(&line, &log, "cap.reject");
	bs_line_str(&line, "dest", "10.0.0.1:80");
	bs_line_emit(&line, &log);
	emit_simple(&log, "cap.wait");
	char buf[BS_LOG_LINE_MAX + 128], want[64];
	for (int i = 0; i < 2; i++) {
		ssize_t n = recv(rx, buf, sizeof(buf) - 1, 0);
		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		int head = snprintf(want, sizeof(want), "<30>test-prog[%d]: {", (int)getpid());
		ck_assert_int_eq(strncmp(buf, want, (size_t)head), 0);
		ck_assert_int_ne(buf[n - 1], '\n');
		buf[n] = '\n';
		buf[n + 1] = '\0';
		json_t *obj = parse_line(buf + head - 1);
		ck_assert_str_eq(get_str(obj, "event"), i == 0 ? "cap.reject" : "cap.wait");
		json_decref(obj);
	}
	/* No listener any more: dropped, counted, no error to the program. */
	close(rx);
	emit_simple(&log, "cap.wait");
	ck_assert_uint_eq(atomic_load(&log.dropped), 1);
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
	tc = tcase_create("sink");
	tcase_add_test(tc, one_write_per_line);
	tcase_add_test(tc, full_pipe_drops_and_reports);
	tcase_add_test(tc, pipe_without_reader_raises_no_sigpipe);
	tcase_add_test(tc, private_high_descriptor);
	tcase_add_test(tc, stderr_sink_leaves_fd2_alone);
	tcase_add_test(tc, move_rehomes_descriptor);
	tcase_add_test(tc, file_sink_creates_0600_and_appends);
	tcase_add_test(tc, file_sink_refuses_symlink_and_odd_files);
	tcase_add_test(tc, off_sink_is_a_noop);
	tcase_add_test(tc, stderr_file_shares_offset);
	tcase_add_test(tc, concurrent_lines_never_interleave);
	tcase_add_test(tc, syslog_sink_sends_one_datagram);
	suite_add_tcase(s, tc);
	return s;
}
