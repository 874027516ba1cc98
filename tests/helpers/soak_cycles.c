/* Soak: THREADS threads make CYCLES loopback connect/close cycles in all
 * against an in-process server that accepts and closes, then check what
 * is left behind.
 *
 *   soak_cycles CYCLES THREADS FINAL
 *
 * The client closes with SO_LINGER 0 (RST: no TIME_WAIT on either end),
 * so a million cycles do not run out of ephemeral ports. Prints one line:
 *   failures=F fds_before=A fds_after=B rss_kib_before=X rss_kib_after=Y final_ok=K
 * fds and RSS are measured after a warm-up (lazy allocations done) and
 * after the run; final_ok counts FINAL connections held open at once at
 * the end (under max_conns = FINAL a leaked cap slot makes one wait and
 * fail). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in server = {.sin_family = AF_INET};
static long per_thread;
static atomic_long failures;

static void close_hard(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(fd);
}

/* Connections made and connections the server has accepted and closed:
 * descriptors are counted only when the two agree, so that the server's
 * own accepted descriptor (between its accept and close) is never
 * counted as a leak or as the baseline. */
static atomic_long dialed, served;

static void *serve(void *arg)
{
	int lfd = *(int *)arg;
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c >= 0) {
			close(c); /* a FIN: an RST could beat the client's connect */
			atomic_fetch_add(&served, 1);
		}
	}
	return NULL;
}

static void await_served(void)
{
	time_t give_up = time(NULL) + 30; /* only against a hang */
	while (atomic_load(&served) < atomic_load(&dialed) && time(NULL) < give_up)
		sched_yield();
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof server) != 0) {
		fprintf(stderr, "soak_cycles: connect: %s\n", strerror(errno));
		atomic_fetch_add(&failures, 1);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	atomic_fetch_add(&dialed, 1);
	return fd;
}

static void cycles(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = dial();
		if (fd >= 0)
			close_hard(fd);
	}
}

static void *client(void *arg)
{
	(void)arg;
	cycles(per_thread);
	return NULL;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: soak_cycles CYCLES THREADS FINAL\n");
		return 2;
	}
	long total = atol(argv[1]);
	int threads = atoi(argv[2]), final = atoi(argv[3]);
	per_thread = total / threads;

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t len = sizeof server;
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&server, sizeof server) != 0 ||
	    listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&server, &len) != 0) {
		perror("soak_cycles: listen");
		return 2;
	}
	pthread_t srv, th[256];
	pthread_create(&srv, NULL, serve, &lfd);

	cycles(1000); /* warm-up */
	await_served();
	int fds_before = count_fds();
	long rss_before = rss_kib();
	for (int i = 0; i < threads && i < 256; i++)
		pthread_create(&th[i], NULL, client, NULL);
	for (int i = 0; i < threads && i < 256; i++)
		pthread_join(th[i], NULL);
	await_served();
	int fds_after = count_fds();
	long rss_after = rss_kib();

	int held[256], ok = 0;
	for (int i = 0; i < final && i < 256; i++)
		if ((held[ok] = dial()) >= 0)
			ok++;
	printf("failures=%ld fds_before=%d fds_after=%d rss_kib_before=%ld rss_kib_after=%ld final_ok=%d\n",
	       atomic_load(&failures), fds_before, fds_after, rss_before, rss_after, ok);
	for (int i = 0; i < ok; i++)
		close_hard(held[i]);
	return 0;
}
