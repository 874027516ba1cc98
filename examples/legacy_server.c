/* A "legacy" line echo server, one thread per connection, with the classic
 * accept loop that treats every error as "try again": when the process runs
 * out of descriptors (EMFILE) it spins at full CPU instead of backing off,
 * the bug backstop's [accept] on_fd_exhaustion = backoff fixes.
 *
 *   legacy_server [--listen-when-ready FIFO] [--print-accepts]
 *                 [--exit-after N] [--max-fds N] HOST PORT
 *
 * PORT 0 lets the kernel choose; the server prints "listening PORT" on
 * stdout once it accepts connections.
 *
 * --listen-when-ready FIFO: bind at once (the port is reserved and printed
 *     as "bound PORT"), but start listening only after a line arrives on
 *     FIFO. Until then connects are refused: a server that "comes back
 *     late", on cue, without sleeps.
 * --print-accepts: one line per accepted connection,
 *     "accepted EPOCH.USEC PEER", for demos that measure arrival bunching.
 * --exit-after N: exit 0 once N connections have been served.
 * --max-fds N: lower RLIMIT_NOFILE, to reach EMFILE on purpose. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct options {
	const char *ready_fifo;
	int print_accepts;
	long exit_after; /* 0: serve forever */
	long max_fds;    /* 0: leave the limit alone */
	const char *host;
	const char *port;
};

static struct options opt;
static atomic_long served;

static void usage(void)
{
	fprintf(stderr, "usage: legacy_server [--listen-when-ready FIFO] "
			"[--print-accepts] [--exit-after N] [--max-fds N] HOST PORT\n");
	exit(2);
}

static long number(const char *text, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 0) {
		fprintf(stderr, "legacy_server: %s: not a number: %s\n", what, text);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--print-accepts") == 0)
			opt.print_accepts = 1;
		else if (i + 1 >= argc)
			usage();
		else if (strcmp(a, "--listen-when-ready") == 0)
			opt.ready_fifo = argv[++i];
		else if (strcmp(a, "--exit-after") == 0)
			opt.exit_after = number(argv[++i], a);
		else if (strcmp(a, "--max-fds") == 0)
			opt.max_fds = number(argv[++i], a);
		else
			usage();
	}
	if (argc - i != 2)
		usage();
	opt.host = argv[i];
	opt.port = argv[i + 1];
}

/* One line on stdout with one write(2): readable at once through a pipe
 * or a file, never interleaved between threads. */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (write(STDOUT_FILENO, line, (size_t)n) < 0)
		exit(1);
}

static void die(const char *what)
{
	fprintf(stderr, "legacy_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int bind_socket(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai;
	int rc = getaddrinfo(opt.host, opt.port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "legacy_server: %s:%s: %s\n", opt.host, opt.port,
			gai_strerror(rc));
		exit(1);
	}
	int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("bind");
	freeaddrinfo(ai);
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		die("getsockname");
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

/* Block until a line arrives on the fifo (or its writer closes it). */
static void wait_for_cue(const char *fifo)
{
	FILE *f = fopen(fifo, "r");
	if (!f)
		die(fifo);
	char line[64];
	if (!fgets(line, sizeof line, f) && ferror(f))
		die(fifo);
	fclose(f);
}

static void *echo(void *arg)
{
	int fd = (int)(long)arg;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	close(fd);
	if (opt.exit_after && atomic_fetch_add(&served, 1) + 1 >= opt.exit_after)
		exit(0);
	return NULL;
}

static void print_accept(const struct sockaddr_storage *peer)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (getnameinfo((const struct sockaddr *)peer, sizeof *peer, host, sizeof host,
			serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		strcpy(host, "?"), strcpy(serv, "?");
	say("accepted %lld.%06ld %s:%s", (long long)now.tv_sec, now.tv_nsec / 1000,
	    host, serv);
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	if (opt.max_fds) {
		struct rlimit rl = { .rlim_cur = (rlim_t)opt.max_fds,
				     .rlim_max = (rlim_t)opt.max_fds };
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit");
	}
	int lfd = bind_socket();
	if (opt.ready_fifo) {
		say("bound %d", bound_port(lfd));
		wait_for_cue(opt.ready_fifo);
	}
	if (listen(lfd, 128) < 0)
		die("listen");
	say("listening %d", bound_port(lfd));

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof peer;
		int fd = accept(lfd, (struct sockaddr *)&peer, &len);
		if (fd < 0)
			continue; /* the legacy bug: EMFILE comes back at once, forever */
		if (opt.print_accepts)
			print_accept(&peer);
		pthread_t t;
		if (pthread_create(&t, NULL, echo, (void *)(long)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
