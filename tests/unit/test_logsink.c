/* The log's sinks (engine/logsink.c): one write per line, drops counted
 * and reported, no SIGPIPE, private high descriptors, stderr and file
 * sinks (0600, no symlinks, shared offsets), off, syslog, and concurrent
 * lines that never interleave. */
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


BS_SUITE(logsink_suite)
{
	Suite *s = suite_create("logsink");
	TCase *tc = tcase_create("sink");
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

