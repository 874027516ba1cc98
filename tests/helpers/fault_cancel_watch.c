/* A thread cancelled inside a watched blocking connect must leave no armed
 * watchdog slot behind, even while the program's own cleanup handler
 * still runs (or, in other threads, the program goes on).
 *
 *   fault_cancel_watch PORT   (run where SYNs to 127.0.0.1:PORT are
 *                              dropped, under a policy whose first
 *                              attempt the watchdog bounds: no cap,
 *                              budget or breaker; attempts = 1)
 *
 * A thread connects a blocking socket (number N) and is cancelled once it
 * is blocked in connect. Its cleanup handler closes N, tells the main
 * thread, and waits. The main thread opens a new socket, which gets the
 * number N, and starts a nonblocking connect on it (SYN_SENT). Then it
 * makes a blocking connect of its own; the watchdog ends that one at its
 * bound, which is later than the cancelled attempt's and in a later slot,
 * so by then the watchdog has seen the cancelled attempt's end pass. The
 * new socket must still be connecting: a slot left armed made the
 * watchdog shut it down. Prints "reused=N state=S sndtimeo=T" (S is
 * syn_sent or the TCP state number), then "own connect errno=E". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct sockaddr_in target;
static int victim;               /* the cancelled thread's socket */
static int handler_done[2];      /* its cleanup handler -> main */
static int handler_go[2];        /* main -> its cleanup handler */
static volatile pid_t connector_tid;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* The program's own cleanup: gives the number back, then lingers. */
static void cleanup(void *arg)
{
	(void)arg;
	char c = 0;
	close(victim);
	if (write(handler_done[1], &c, 1) != 1 || read(handler_go[0], &c, 1) != 1)
		die("cleanup handler pipes");
}

static void *connector(void *arg)
{
	(void)arg;
	connector_tid = (pid_t)syscall(SYS_gettid);
	pthread_cleanup_push(cleanup, NULL);
	connect(victim, (struct sockaddr *)&target, sizeof target);
	pthread_cleanup_pop(0);
	return NULL; /* not reached: cancelled in connect */
}

/* Whether thread tid is blocked in connect now. */
static int in_connect(pid_t tid)
{
	char path[64], buf[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	int ok = fgets(buf, sizeof buf, f) != NULL && atol(buf) == SYS_connect;
	fclose(f);
	return ok;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fault_cancel_watch PORT\n");
		return 2;
	}
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)atoi(argv[1]));
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (pipe(handler_done) != 0 || pipe(handler_go) != 0)
		die("pipe");
	victim = socket(AF_INET, SOCK_STREAM, 0);
	if (victim < 0)
		die("socket");

	pthread_t t;
	if (pthread_create(&t, NULL, connector, NULL) != 0)
		die("pthread_create");
	while (connector_tid == 0 || !in_connect(connector_tid))
		; /* bounded by the test's timeout */
	pthread_cancel(t);
	char c;
	if (read(handler_done[0], &c, 1) != 1)
		die("read");

	int reused = socket(AF_INET, SOCK_STREAM, 0);
	if (reused != victim) {
		fprintf(stderr, "fault_cancel_watch: new socket %d, not %d\n", reused, victim);
		return 2;
	}
	fcntl(reused, F_SETFL, O_NONBLOCK);
	if (connect(reused, (struct sockaddr *)&target, sizeof target) == 0 || errno != EINPROGRESS)
		die("nonblocking connect");

	int own = socket(AF_INET, SOCK_STREAM, 0);
	int rc = connect(own, (struct sockaddr *)&target, sizeof target);
	int own_errno = rc == 0 ? 0 : errno;

	struct tcp_info ti;
	socklen_t len = sizeof ti;
	struct timeval tv;
	socklen_t tl = sizeof tv;
	if (getsockopt(reused, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    getsockopt(reused, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl) != 0)
		die("getsockopt");
	char state[16];
	if (ti.tcpi_state == TCP_SYN_SENT)
		snprintf(state, sizeof state, "syn_sent");
	else
		snprintf(state, sizeof state, "%u", ti.tcpi_state);
	printf("reused=%d state=%s sndtimeo=%ld.%06ld\n", reused, state, (long)tv.tv_sec,
	       (long)tv.tv_usec);
	printf("own connect errno=%s\n", own_errno ? strerrorname_np(own_errno) : "0");

	if (write(handler_go[1], &c, 1) != 1)
		die("write");
	void *res;
	pthread_join(t, &res);
	if (res != PTHREAD_CANCELED) {
		fprintf(stderr, "fault_cancel_watch: the thread was not cancelled\n");
		return 1;
	}
	return 0;
}
