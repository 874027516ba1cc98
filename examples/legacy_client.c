/* A "legacy" client, written the way countless real ones are: a blocking
 * connect, and when it fails, the same fixed delay before every retry. Run
 * many of them against a server that restarts and they all retry at the
 * same instant, again and again (the thundering herd backstop fixes
 * without touching this code).
 *
 *   legacy_client [--tries N] [--delay-ms MS] [--message TEXT] [--quiet]
 *                 [--wait-stdin] HOST PORT
 *
 * Default: 3 tries, sleep(1) between them. On success it sends one line,
 * prints the echoed reply and exits 0; after the last failed try it exits 1.
 * Each failure is reported as one line on stderr with a wall-clock
 * timestamp, so a demo can see when the attempts happened.
 *
 * --wait-stdin: read one line from stdin before the first connect, so a
 * demo or benchmark can start many clients at the same instant (a fleet
 * whose server just went away). */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct options {
	int tries;
	long delay_ms; /* < 0: sleep(1), the classic */
	const char *message;
	int quiet;
	int wait_stdin;
	const char *host;
	const char *port;
};

static void usage(void)
{
	fprintf(stderr, "usage: legacy_client [--tries N] [--delay-ms MS] "
			"[--message TEXT] [--quiet] [--wait-stdin] HOST PORT\n");
	exit(2);
}

static long number(const char *text, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 0) {
		fprintf(stderr, "legacy_client: %s: not a number: %s\n", what, text);
		exit(2);
	}
	return v;
}

static struct options parse(int argc, char **argv)
{
	struct options o = { .tries = 3, .delay_ms = -1, .message = "hello" };
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--quiet") == 0)
			o.quiet = 1;
		else if (strcmp(a, "--wait-stdin") == 0)
			o.wait_stdin = 1;
		else if (i + 1 >= argc)
			usage();
		else if (strcmp(a, "--tries") == 0)
			o.tries = (int)number(argv[++i], a);
		else if (strcmp(a, "--delay-ms") == 0)
			o.delay_ms = number(argv[++i], a);
		else if (strcmp(a, "--message") == 0)
			o.message = argv[++i];
		else
			usage();
	}
	if (argc - i != 2 || o.tries < 1)
		usage();
	o.host = argv[i];
	o.port = argv[i + 1];
	return o;
}

/* One line on stderr with one write(2), so lines of many clients sharing a
 * file never interleave. */
__attribute__((format(printf, 2, 3)))
static void report(const struct options *o, const char *fmt, ...)
{
	if (o->quiet)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	char msg[512];
	int n = snprintf(msg, sizeof msg, "legacy_client[%d] %lld.%06ld ",
			 (int)getpid(), (long long)now.tv_sec, now.tv_nsec / 1000);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(msg + n, sizeof msg - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof msg - 2)
		n = (int)sizeof msg - 2;
	msg[n++] = '\n';
	if (write(STDERR_FILENO, msg, (size_t)n) < 0)
		return;
}

/* One line from stdin, a byte at a time: many clients share one pipe and
 * each must take exactly one line. */
static void wait_for_line(void)
{
	char c;
	while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
		;
}

static void fixed_delay(long delay_ms)
{
	if (delay_ms < 0) {
		sleep(1);
		return;
	}
	struct timespec ts = { .tv_sec = delay_ms / 1000,
			       .tv_nsec = (delay_ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One blocking connect to the first address that answers; -1 with errno. */
static int dial(const struct addrinfo *ai)
{
	int err = EADDRNOTAVAIL;
	for (; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return fd;
		err = errno;
		close(fd);
	}
	errno = err;
	return -1;
}

/* Send the message, read one line back. */
static int exchange(int fd, const struct options *o, char *reply, size_t cap)
{
	char line[512];
	int n = snprintf(line, sizeof line, "%s\n", o->message);
	if (n >= (int)sizeof line || write(fd, line, (size_t)n) != n)
		return -1;
	size_t got = 0;
	while (got + 1 < cap) {
		ssize_t r = read(fd, reply + got, 1);
		if (r <= 0)
			return -1;
		if (reply[got] == '\n')
			break;
		got++;
	}
	reply[got] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = parse(argc, argv);
	if (o.wait_stdin)
		wait_for_line();
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	int rc = getaddrinfo(o.host, o.port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "legacy_client: %s:%s: %s\n", o.host, o.port,
			gai_strerror(rc));
		return 1;
	}
	for (int attempt = 1; attempt <= o.tries; attempt++) {
		int fd = dial(ai);
		if (fd < 0) {
			report(&o, "attempt %d/%d failed: connect %s:%s: %s", attempt,
			       o.tries, o.host, o.port, strerror(errno));
			if (attempt < o.tries)
				fixed_delay(o.delay_ms);
			continue;
		}
		char reply[512];
		int ok = exchange(fd, &o, reply, sizeof reply) == 0;
		close(fd);
		freeaddrinfo(ai);
		if (!ok) {
			report(&o, "no reply on try %d", attempt);
			return 1;
		}
		if (!o.quiet)
			printf("reply: %s (try %d)\n", reply, attempt);
		return 0;
	}
	freeaddrinfo(ai);
	report(&o, "gave up after %d tries", o.tries);
	return 1;
}
