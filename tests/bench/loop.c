/* The fast-path loop: N loopback cycles of socket -> connect -> accept ->
 * close -> close, timed with CLOCK_MONOTONIC (or counted by callgrind).
 *
 *   bench_loop [--cycles N] [--warmup N] [--hold N] [--sleep] [--allocs] [--rss]
 *
 * --hold N: first open N connections and keep the client ends (the
 *     accepted ends are closed: they hold no cap slot), so the measured
 *     calls run with N more descriptors open, tracked ones when a rule with
 *     max_conns matches 127.0.0.0/8. Raises RLIMIT_NOFILE within the hard
 *     limit, and spreads them over 127.0.0.2, 127.0.0.3, ... so that more
 *     than one ephemeral port range fits.
 * --sleep: one nanosleep of 1 ns per cycle (an "untouched" sleep: no
 *     connect failed before it), and one zero-timeout poll and epoll_wait
 *     of the listener (nothing pending: async's idle cost).
 * --allocs: print malloc calls per cycle, read from the counting shim
 *     (bench_malloc_count.so, preloaded after the library under test).
 * --rss: after the warm-up, print VmRSS in kB and stop.
 *
 * Output: one line "ns_per_cycle X" (or "allocs_per_cycle X", "rss_kb X").
 * Each call goes through its own noinline function, so callgrind's
 * inclusive cost of bench_connect is exactly what connect costs. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void die(const char *what)
{
	fprintf(stderr, "bench_loop: %s: %s\n", what, strerror(errno));
	exit(1);
}

NOINLINE int bench_connect(int fd, const struct sockaddr_in *to)
{
	return connect(fd, (const struct sockaddr *)to, sizeof *to);
}

NOINLINE int bench_accept(int lfd)
{
	return accept(lfd, NULL, NULL);
}

NOINLINE int bench_close(int fd)
{
	return close(fd);
}

NOINLINE int bench_nanosleep(void)
{
	struct timespec ts = { 0, 1 };
	return nanosleep(&ts, NULL);
}

/* A readiness check with nothing pending (poll, epoll_wait: the cost the
 * asynchronous connect's wrappers add when idle). */
NOINLINE int bench_poll(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	return poll(&p, 1, 0);
}

NOINLINE int bench_epoll_wait(int ep)
{
	struct epoll_event ev;
	return epoll_wait(ep, &ev, 1, 0);
}

static int waits_ep = -1; /* --sleep: an epoll set holding the listener */

/* The same cycle, measured or not: setup connections use plain calls so
 * that callgrind attributes nothing of them to the bench_* functions. */
static void cycle(int lfd, const struct sockaddr_in *to, int with_sleep)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0)
		die("socket");
	if (bench_connect(c, to) < 0)
		die("connect");
	int a = bench_accept(lfd);
	if (a < 0)
		die("accept");
	if (with_sleep) {
		bench_poll(lfd);
		bench_epoll_wait(waits_ep);
	}
	bench_close(a);
	bench_close(c);
	if (with_sleep)
		bench_nanosleep();
}

static int listener(struct sockaddr_in *addr)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in any = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (bind(lfd, (struct sockaddr *)&any, sizeof any) < 0 || listen(lfd, 128) < 0)
		die("bind/listen");
	socklen_t len = sizeof any;
	if (getsockname(lfd, (struct sockaddr *)&any, &len) < 0)
		die("getsockname");
	*addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = any.sin_port,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return lfd;
}

/* N held connections, 20,000 per loopback address (fewer than the
 * default ephemeral port range). Under valgrind, raise `ulimit -n` before
 * starting it: valgrind refuses to raise the limit from inside. */
static void hold(int lfd, const struct sockaddr_in *to, long n)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)(n + 256);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = need;
		if (rl.rlim_max < need)
			rl.rlim_max = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit RLIMIT_NOFILE (run as root or raise ulimit -n)");
	}
	for (long i = 0; i < n; i++) {
		struct sockaddr_in dst = *to;
		dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)(i / 20000));
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&dst, sizeof dst) < 0)
			die("hold: connect");
		int a = accept(lfd, NULL, NULL);
		if (a < 0)
			die("hold: accept");
		close(a);
	}
}

static long malloc_count(void)
{
	long (*count)(void) = (long (*)(void))dlsym(RTLD_DEFAULT, "bench_malloc_count");
	if (!count) {
		fprintf(stderr, "bench_loop: --allocs needs bench_malloc_count.so preloaded\n");
		exit(2);
	}
	return count();
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	long cycles = 10000, warmup = 100, held = 0;
	int with_sleep = 0, allocs = 0, rss = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cycles") == 0 && i + 1 < argc)
			cycles = atol(argv[++i]);
		else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
			warmup = atol(argv[++i]);
		else if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
			held = atol(argv[++i]);
		else if (strcmp(argv[i], "--sleep") == 0)
			with_sleep = 1;
		else if (strcmp(argv[i], "--allocs") == 0)
			allocs = 1;
		else if (strcmp(argv[i], "--rss") == 0)
			rss = 1;
		else {
			fprintf(stderr, "usage: bench_loop [--cycles N] [--warmup N] "
					"[--hold N] [--sleep] [--allocs] [--rss]\n");
			return 2;
		}
	}
	struct sockaddr_in to;
	int lfd = listener(&to);
	hold(lfd, &to, held);
	if (with_sleep) {
		struct epoll_event ev = { .events = EPOLLIN };
		waits_ep = epoll_create1(EPOLL_CLOEXEC);
		if (waits_ep < 0 || epoll_ctl(waits_ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
			die("epoll");
	}
	for (long i = 0; i < warmup; i++)
		cycle(lfd, &to, with_sleep);
	if (rss) {
		printf("rss_kb %ld\n", rss_kb());
		return 0;
	}
	long mallocs = allocs ? malloc_count() : 0;
	double t0 = now_ns();
	for (long i = 0; i < cycles; i++)
		cycle(lfd, &to, with_sleep);
	double t1 = now_ns();
	if (allocs)
		printf("allocs_per_cycle %.4f\n", (double)(malloc_count() - mallocs) / (double)cycles);
	else
		printf("ns_per_cycle %.1f\n", (t1 - t0) / (double)cycles);
	return 0;
}
