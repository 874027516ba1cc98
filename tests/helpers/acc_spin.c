/* A typical event loop that spins when it runs out of descriptors: a
 * nonblocking listener in a poll loop that keeps every connection open.
 * Once accept fails with EMFILE, poll keeps reporting the listener
 * readable and the loop calls accept again at once.
 *
 *   acc_spin READY_FIFO TOTAL TICKS
 * Writes the port to READY_FIFO. From the first EMFILE on, a reference
 * thread counts TICKS sleeps of 1 ms; meanwhile the loop counts its
 * failed accept calls. Then the server closes every connection it holds
 * and accepts until it has seen TOTAL connections, and prints
 *   "failed F ticks T accepted A recovered R"
 * (R: connections accepted after the descriptors were freed). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_bool ticks_done;
static long ticks;

static void *tick(void *arg)
{
	(void)arg;
	struct timespec ms = {0, 1000000};
	for (long i = 0; i < ticks; i++)
		nanosleep(&ms, NULL);
	atomic_store(&ticks_done, true);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: acc_spin READY_FIFO TOTAL TICKS\n");
		return 2;
	}
	long total = atol(argv[2]);
	ticks = atol(argv[3]);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof in;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&in, len) != 0 ||
	    listen(lfd, 1024) != 0 || getsockname(lfd, (struct sockaddr *)&in, &len) != 0) {
		perror("listen");
		return 2;
	}
	FILE *ready = fopen(argv[1], "w");
	if (!ready)
		return 2;
	fprintf(ready, "%u\n", ntohs(in.sin_port));
	fclose(ready);

	int *held = calloc((size_t)total, sizeof *held);
	long n_held = 0, accepted = 0, recovered = 0, failed = 0;
	pthread_t ticker;
	int spinning = 0, freed = 0;
	while (accepted < total) {
		struct pollfd pfd = {.fd = lfd, .events = POLLIN};
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return 2;
		int fd = accept(lfd, NULL, NULL);
		if (fd >= 0) {
			held[n_held++] = fd;
			accepted++;
			recovered += freed;
			continue;
		}
		if (errno == EAGAIN || errno == EINTR)
			continue;
		if (errno != EMFILE) {
			perror("accept");
			return 2;
		}
		if (freed) /* still out of descriptors after freeing: a bug */
			return 3;
		failed++;
		if (!spinning) {
			spinning = 1;
			pthread_create(&ticker, NULL, tick, NULL);
		}
		if (atomic_load(&ticks_done)) {
			pthread_join(ticker, NULL);
			for (long i = 0; i < n_held; i++)
				close(held[i]);
			n_held = 0;
			freed = 1;
		}
	}
	printf("failed %ld ticks %ld accepted %ld recovered %ld\n", failed,
	       spinning ? ticks : 0, accepted, recovered);
	free(held);
	return 0;
}
