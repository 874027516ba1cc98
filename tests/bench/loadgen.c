/* Load generator for the proxy comparison: T threads share R requests;
 * each request is a fresh connection: connect, send one line, read the
 * reply, close. Prints the rate and the latency of one request.
 *
 *   bench_loadgen [--threads T] [--requests R] HOST PORT
 *
 * Output: "conns_per_s X p50_us Y p99_us Z failed F". A failed request
 * (no connection or no reply) is counted, not retried: retrying is the
 * job of what is being measured (backstop or the proxy). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in server;
static long requests;
static atomic_long next_request, failed;
static double *latency_us;

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int request(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	static const char line[] = "ping\n";
	char reply[64];
	int ok = connect(fd, (struct sockaddr *)&server, sizeof server) == 0 &&
		 write(fd, line, sizeof line - 1) == (ssize_t)(sizeof line - 1) &&
		 read(fd, reply, sizeof reply) > 0;
	close(fd);
	return ok ? 0 : -1;
}

static void *worker(void *arg)
{
	(void)arg;
	for (long i; (i = atomic_fetch_add(&next_request, 1)) < requests;) {
		double t0 = now_us();
		if (request() < 0)
			atomic_fetch_add(&failed, 1);
		latency_us[i] = now_us() - t0;
	}
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long threads = 4;
	requests = 20000;
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--threads") == 0)
			threads = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--requests") == 0)
			requests = atol(argv[i + 1]);
		else
			break;
	}
	if (argc - i != 2 || threads < 1 || requests < 1 ||
	    inet_pton(AF_INET, argv[i], &server.sin_addr) != 1) {
		fprintf(stderr, "usage: bench_loadgen [--threads T] [--requests R] IPV4 PORT\n");
		return 2;
	}
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)atoi(argv[i + 1]));
	latency_us = calloc((size_t)requests, sizeof *latency_us);
	pthread_t *t = calloc((size_t)threads, sizeof *t);
	if (!latency_us || !t)
		return 1;
	double t0 = now_us();
	for (long k = 0; k < threads; k++)
		pthread_create(&t[k], NULL, worker, NULL);
	for (long k = 0; k < threads; k++)
		pthread_join(t[k], NULL);
	double elapsed_s = (now_us() - t0) / 1e6;
	qsort(latency_us, (size_t)requests, sizeof *latency_us, by_value);
	printf("conns_per_s %.0f p50_us %.0f p99_us %.0f failed %ld\n",
	       (double)requests / elapsed_s, latency_us[requests / 2],
	       latency_us[(requests * 99) / 100], atomic_load(&failed));
	return 0;
}
