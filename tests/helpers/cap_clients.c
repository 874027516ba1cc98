/* Many threads connecting to one loopback port, for the cap tests.
 *
 *   cap_clients PORT THREADS MODE [ARG]
 *
 * PORT 0: serve ourselves (a thread that accepts and closes at once).
 *
 * MODE:
 *   byte     connect, read one byte from the server, close
 *   hold     connect, keep the connection until every thread has tried
 *            (so the holders fill the cap for the others), then close
 *   nonblock as hold, on an O_NONBLOCK socket (EINPROGRESS counts as ok)
 *   churn    connect and close at once, 20 times per thread; then,
 *            with every thread done, the main thread opens CAP+1
 *            connections and keeps them: only these are counted, so a
 *            slot leaked by the churn shows as ok < CAP
 *   storm    thread 0 takes the one slot; THREADS-1 "storm" threads queue
 *            and time out; then 3 live threads queue and thread 0 lets
 *            go: every live thread must be served
 *   loop     for cap_killer (ARG = LATE_MS): every thread connects, reads
 *            one byte, closes, for ever, reporting on descriptor 3 one
 *            line per step: "w PID" before each connect (it may wait for
 *            a slot), "h PID" once connected (it holds one), and "L PID"
 *            when a connect took longer than LATE_MS (past its deadline)
 *
 * Prints one line of counts, "ok=N EAGAIN=N ETIMEDOUT=N ..." (connect
 * results by errno name, in errno order). Exit 0 unless the helper itself
 * failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256
#define CHURN_ROUNDS 20
#define STORM_LIVE 3

static struct sockaddr_in dest;
static const char *mode;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int tried;      /* threads whose connect returned */
static int n_threads;
static int counts[4096]; /* by errno; [0] = ok */

static void record(int err)
{
	pthread_mutex_lock(&lock);
	counts[err < 4096 ? err : 4095]++;
	tried++;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

static void wait_tried(int n)
{
	pthread_mutex_lock(&lock);
	while (tried < n)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
}

/* One connect; returns the fd (or -1) and the errno it ended with. */
static int dial(int nonblock, int *err)
{
	int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	if (connect(fd, (struct sockaddr *)&dest, sizeof dest) == 0 ||
	    (nonblock && errno == EINPROGRESS)) {
		*err = 0;
		return fd;
	}
	*err = errno;
	close(fd);
	return -1;
}

static pthread_barrier_t start;
static long late_ms; /* loop */

/* One line on the report pipe (one write, shorter than PIPE_BUF: whole). */
static void report(char what)
{
	char line[32];
	int n = snprintf(line, sizeof line, "%c %d\n", what, (int)getpid());
	if (write(3, line, (size_t)n) != n)
		exit(2);
}

static long elapsed_ms(const struct timespec *from)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - from->tv_sec) * 1000 + (now.tv_nsec - from->tv_nsec) / 1000000;
}

static void loop(void)
{
	for (;;) {
		struct timespec t0;
		int err;
		report('w');
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int fd = dial(0, &err);
		if (elapsed_ms(&t0) > late_ms)
			report('L');
		if (fd < 0)
			continue; /* ETIMEDOUT: its deadline passed, try again */
		report('h');
		char b;
		if (read(fd, &b, 1) != 1) /* the server answers in turn */
			exit(2);
		close(fd);
	}
}

static void *run(void *arg)
{
	(void)arg;
	int err;
	pthread_barrier_wait(&start); /* all threads dial at once */
	if (strcmp(mode, "byte") == 0) {
		int fd = dial(0, &err);
		char b;
		if (fd >= 0 && read(fd, &b, 1) != 1)
			err = EPROTO;
		if (fd >= 0)
			close(fd);
		record(err);
	} else if (strcmp(mode, "hold") == 0 || strcmp(mode, "nonblock") == 0) {
		int fd = dial(strcmp(mode, "nonblock") == 0, &err);
		record(err);
		wait_tried(n_threads);
		if (fd >= 0)
			close(fd);
	} else if (strcmp(mode, "churn") == 0) {
		for (int i = 0; i < CHURN_ROUNDS; i++) {
			int fd = dial(0, &err);
			if (fd >= 0)
				close(fd);
			record(err);
		}
	} else if (strcmp(mode, "loop") == 0) {
		loop();
	} else if (strcmp(mode, "storm") == 0) {
		/* Storm threads are 1..THREADS-1; ids beyond are live ones. */
		int fd = dial(0, &err);
		if (fd >= 0)
			close(fd);
		record(err);
	}
	return NULL;
}

/* Start threads from..to-1; they dial together once all exist. */
static void spawn(pthread_t *t, long from, long to)
{
	pthread_barrier_init(&start, NULL, (unsigned)(to - from));
	for (long i = from; i < to; i++)
		if (pthread_create(&t[i], NULL, run, (void *)i) != 0) {
			perror("pthread_create");
			exit(2);
		}
}

static void join(pthread_t *t, long from, long to)
{
	for (long i = from; i < to; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
}

/* churn's final check: CAP+1 connections kept open at once. */
static void final_check(int cap)
{
	memset(counts, 0, sizeof counts);
	int err;
	for (int i = 0; i <= cap; i++) {
		dial(0, &err); /* kept open until exit */
		counts[err < 4096 ? err : 4095]++;
	}
}

static void *serve(void *arg)
{
	int lfd = (int)(long)arg;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

/* A listener on 127.0.0.1 served by a thread; sets dest's port. */
static void serve_ourselves(void)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t len = sizeof dest;
	pthread_t t;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&dest, len) != 0 ||
	    listen(lfd, 4096) != 0 || getsockname(lfd, (struct sockaddr *)&dest, &len) != 0 ||
	    pthread_create(&t, NULL, serve, (void *)(long)lfd) != 0) {
		perror("listen");
		exit(2);
	}
}

/* storm: one holder, THREADS-1 waiters that all time out, then live
 * waiters queued behind the holder get the slot in turn. */
static void storm(pthread_t *t)
{
	int err;
	int holder = dial(0, &err);
	record(err);
	spawn(t, 1, n_threads);
	join(t, 1, n_threads);
	spawn(t, n_threads, n_threads + STORM_LIVE);
	/* The live threads are queued once they logged cap.wait; the test
	 * gives them a cap_wait long enough that queueing order does not
	 * matter: the holder's close hands the slot on either way. */
	if (holder >= 0)
		close(holder);
	join(t, n_threads, n_threads + STORM_LIVE);
}

static void print_counts(void)
{
	printf("ok=%d", counts[0]);
	for (int e = 1; e < 4096; e++)
		if (counts[e])
			printf(" %s=%d", e == 4095 ? "other" : strerrorname_np(e), counts[e]);
	printf("\n");
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5 || (n_threads = atoi(argv[2])) < 1 ||
	    n_threads > MAX_THREADS) {
		fprintf(stderr, "usage: cap_clients PORT THREADS byte|hold|nonblock|churn|storm [CAP] | loop LATE_MS\n");
		return 2;
	}
	mode = argv[3];
	late_ms = argc == 5 ? atol(argv[4]) : 0;
	dest = (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_port = htons((uint16_t)atoi(argv[1])),
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (dest.sin_port == 0)
		serve_ourselves();
	pthread_t t[MAX_THREADS + STORM_LIVE];
	if (strcmp(mode, "storm") == 0) {
		storm(t);
	} else {
		spawn(t, 0, n_threads);
		join(t, 0, n_threads);
	}
	if (strcmp(mode, "churn") == 0)
		final_check(argc == 5 ? atoi(argv[4]) : 0);
	print_counts();
	return 0;
}
