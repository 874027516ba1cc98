/* A nonblocking client that learns the outcome of its connect through one
 * interface, for the async tests.
 *
 *   async_client MODE PORT|/PATH READY
 *
 * Connects a nonblocking TCP socket to 127.0.0.1:PORT, or a unix one to
 * PATH (connect must say
 * EINPROGRESS), writes "waiting" to the READY fifo (the test then starts
 * the server), waits for the outcome through MODE, checks SO_ERROR,
 * sends a request and reads the server's reply. Prints "connected FIRST-LINE-OF-REPLY", or
 * "error=ENAME" when the connect failed (exit 1). MODE:
 *
 *   poll ppoll select pselect           the readiness call, POLLOUT
 *   epoll_wait epoll_pwait epoll_pwait2 EPOLLOUT, data.fd
 *   oneshot   EPOLLOUT|EPOLLONESHOT, data.ptr
 *   et        EPOLLIN|EPOLLOUT|EPOLLET|EPOLLRDHUP registered before the
 *             connect (as nginx does), data.u64
 *   nested    an epoll set inside another one
 *   two_sets  the socket in two epoll sets, one waited on by a thread
 *   soerror   no readiness call: SO_ERROR and getpeername every 10 ms
 *   reconnect poll, then connect again (hiredis): EALREADY until done
 *   threads   four threads, each its own socket, waiting with poll
 *   fork      fork after connect: the child waits and reads, the parent
 *             closes its copy
 *   forkexit  fork after connect: the child exits, the parent waits
 *   reuse     close the socket while its retry is pending, take the same
 *             number for a UDP socket and wait on it: prints "untouched"
 *             when nothing connected that socket (backstop must never
 *             connect a number the program closed); reuse_dup2 and
 *             reuse_close_range let go of it with dup2 (a UDP socket onto
 *             its number) and close_range
 *
 * Every wait is bounded (WAIT_MS per call, BOUND_S in all) only against
 * a hang; the test never depends on how long anything takes. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "async_outcome.h"

#define WAIT_MS 1000
#define BOUND_S 60

static struct sockaddr_storage server;
static socklen_t server_len;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void tell(const char *fifo)
{
	FILE *f = fopen(fifo, "w");
	if (f == NULL || fputs("waiting\n", f) < 0 || fclose(f) != 0)
		die(fifo);
}

static const char *ready_fifo; /* told even when connect fails at once */

static int start_connect(int fd)
{
	if (connect(fd, (struct sockaddr *)&server, server_len) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		printf("connect=%s\n", strerrorname_np(errno));
		tell(ready_fifo);
		exit(1);
	}
	return 0;
}

static int new_socket(void)
{
	int fd = socket(server.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket");
	return fd;
}

static time_t started;
/* Counts the compiler cannot see through, so that a _FORTIFY_SOURCE build
 * (async_client_fortified.c) calls __poll_chk, __ppoll_chk, __read_chk. */
static volatile nfds_t one = 1;
static volatile size_t buf_room = 255;

static void bound(void)
{
	if (time(NULL) - started > BOUND_S) {
		printf("hang\n");
		exit(3);
	}
}

/* ---- the waits: return once the socket is reported ready ------------ */

static void wait_poll(int fd, bool ppoll_it)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		struct timespec ts = { WAIT_MS / 1000, 0 };
		int r = ppoll_it ? ppoll(&p, one, &ts, NULL) : poll(&p, one, WAIT_MS);
		if (r < 0)
			die("poll");
		if (r > 0 && p.revents)
			return;
		bound();
	}
}

static void wait_select(int fd, bool pselect_it)
{
	for (;;) {
		fd_set w;
		FD_ZERO(&w);
		FD_SET(fd, &w);
		struct timeval tv = { WAIT_MS / 1000, 0 };
		struct timespec ts = { WAIT_MS / 1000, 0 };
		int r = pselect_it ? pselect(fd + 1, NULL, &w, NULL, &ts, NULL)
				   : select(fd + 1, NULL, &w, NULL, &tv);
		if (r < 0)
			die("select");
		if (r > 0 && FD_ISSET(fd, &w))
			return;
		bound();
	}
}

static int epoll_once(int ep, const char *how, struct epoll_event *ev)
{
	struct timespec ts = { WAIT_MS / 1000, 0 };
	if (strcmp(how, "epoll_pwait") == 0)
		return epoll_pwait(ep, ev, 1, WAIT_MS, NULL);
	if (strcmp(how, "epoll_pwait2") == 0)
		return epoll_pwait2(ep, ev, 1, &ts, NULL);
	return epoll_wait(ep, ev, 1, WAIT_MS);
}

/* Wait on ep until an event carrying `want` comes. */
static void wait_epoll(int ep, const char *how, uint64_t want)
{
	for (;;) {
		struct epoll_event ev;
		int r = epoll_once(ep, how, &ev);
		if (r < 0)
			die("epoll_wait");
		if (r == 1 && ev.data.u64 == want)
			return;
		if (r == 1) {
			printf("foreign event data=%llx\n", (unsigned long long)ev.data.u64);
			exit(1);
		}
		bound();
	}
}

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl");
}

/* ---- the outcome ------------------------------------------------------ */

static int finish(int fd)
{
	if (connect_failed(fd))
		return 1;
	static const char request[] = "GET / HTTP/1.0\r\n\r\n";
	if (write(fd, request, sizeof request - 1) != (ssize_t)sizeof request - 1) {
		printf("write=%s\n", strerrorname_np(errno));
		return 1;
	}
	char buf[256];
	ssize_t n;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while ((n = read(fd, buf, buf_room)) < 0 && errno == EAGAIN) {
		poll(&p, 1, WAIT_MS);
		bound();
	}
	if (n < 0) {
		printf("read=%s\n", strerrorname_np(errno));
		return 1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	printf("connected %s\n", buf);
	return 0;
}

static void wait_soerror(int fd)
{
	for (;;) {
		int err = 0;
		socklen_t len = sizeof err;
		struct sockaddr_in peer;
		socklen_t plen = sizeof peer;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			die("getsockopt");
		if (err != 0) {
			printf("error=%s\n", strerrorname_np(err));
			exit(1);
		}
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
			return;
		struct timespec pace = { 0, 10 * 1000 * 1000 };
		nanosleep(&pace, NULL);
		bound();
	}
}

/* hiredis: wait, then ask connect again until it says done. */
static void wait_reconnect(int fd)
{
	for (;;) {
		wait_poll(fd, false);
		if (connect(fd, (struct sockaddr *)&server, server_len) == 0 || errno == EISCONN)
			return;
		if (errno != EALREADY && errno != EINPROGRESS) {
			printf("error=%s\n", strerrorname_np(errno));
			exit(1);
		}
		bound();
	}
}

struct two_sets {
	int ep;
	int fd;
};

static void *wait_second_set(void *arg)
{
	struct two_sets *t = arg;
	wait_epoll(t->ep, "epoll_wait", 2);
	return NULL;
}

static pthread_barrier_t connected;

static void *thread_client(void *arg)
{
	(void)arg;
	int fd = new_socket();
	start_connect(fd);
	pthread_barrier_wait(&connected);
	wait_poll(fd, false);
	return (void *)(intptr_t)finish(fd);
}

static int threads(const char *ready)
{
	pthread_t t[4];
	/* The first connects happen before the server starts: each thread
	 * connects, and the ready line is written once all four have. */
	pthread_barrier_init(&connected, NULL, 5);
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, thread_client, NULL) != 0)
			die("pthread_create");
	pthread_barrier_wait(&connected);
	tell(ready);
	int failed = 0;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		failed |= (int)(intptr_t)r;
	}
	return failed;
}

static int forked(int fd, bool child_waits)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (!child_waits)
			_exit(0);
		wait_poll(fd, false);
		exit(finish(fd));
	}
	int status;
	if (child_waits)
		close(fd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		die("waitpid");
	if (child_waits)
		return WEXITSTATUS(status);
	wait_poll(fd, false);
	return finish(fd);
}

static int reuse(int fd, const char *ready, const char *how)
{
	/* A short wait of the program's own, long enough for backstop to see
	 * the first attempt refused and schedule a retry (which it hides). */
	struct pollfd first = { .fd = fd, .events = POLLOUT };
	poll(&first, 1, WAIT_MS / 10);
	int udp;
	if (strcmp(how, "reuse_dup2") == 0) {
		int other = socket(AF_INET, SOCK_DGRAM, 0);
		udp = dup2(other, fd);
		close(other);
	} else {
		if (strcmp(how, "reuse_close_range") == 0)
			close_range(fd, fd, 0);
		else
			close(fd);
		udp = socket(AF_INET, SOCK_DGRAM, 0);
	}
	if (udp != fd) {
		printf("number not reused: %d then %d\n", fd, udp);
		return 1;
	}
	tell(ready);
	/* Long enough for many of the closed connect's due times to pass
	 * (it would be retried every few tens of ms), while the server
	 * listens. */
	struct pollfd p = { .fd = udp, .events = POLLIN };
	for (int i = 0; i < 3; i++)
		poll(&p, 1, WAIT_MS / 2);
	struct sockaddr_in peer;
	socklen_t len = sizeof peer;
	if (getpeername(udp, (struct sockaddr *)&peer, &len) == 0) {
		printf("connected by someone else\n");
		return 1;
	}
	printf("untouched\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: async_client MODE PORT READY\n");
		return 2;
	}
	const char *mode = argv[1];
	ready_fifo = argv[3];
	started = time(NULL);
	if (argv[2][0] == '/') { /* a unix socket's path */
		struct sockaddr_un *un = (struct sockaddr_un *)&server;
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof un->sun_path, "%s", argv[2]);
		server_len = sizeof *un;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&server;
		in->sin_family = AF_INET;
		in->sin_port = htons(atoi(argv[2]));
		inet_pton(AF_INET, "127.0.0.1", &in->sin_addr);
		server_len = sizeof *in;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (strcmp(mode, "threads") == 0)
		return threads(argv[3]);

	int fd = new_socket();
	int ep = -1;
	if (strcmp(mode, "et") == 0) { /* registered before the connect */
		ep = epoll_create1(EPOLL_CLOEXEC);
		add(ep, fd, EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, 0xfeedbeefcafeull);
	}
	start_connect(fd);
	if (strcmp(mode, "fork") == 0 || strcmp(mode, "forkexit") == 0) {
		tell(argv[3]);
		return forked(fd, strcmp(mode, "fork") == 0);
	}
	if (strncmp(mode, "reuse", 5) == 0)
		return reuse(fd, argv[3], mode);
	tell(argv[3]);

	static int token; /* data.ptr points here */
	if (strcmp(mode, "poll") == 0 || strcmp(mode, "ppoll") == 0) {
		wait_poll(fd, mode[0] == 'p' && mode[1] == 'p');
	} else if (strcmp(mode, "select") == 0 || strcmp(mode, "pselect") == 0) {
		wait_select(fd, mode[0] == 'p');
	} else if (strncmp(mode, "epoll_", 6) == 0) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		add(ep, fd, EPOLLOUT, (uint64_t)fd);
		wait_epoll(ep, mode, (uint64_t)fd);
	} else if (strcmp(mode, "oneshot") == 0) {
		ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLOUT | EPOLLONESHOT, .data.ptr = &token };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
			die("epoll_ctl");
		wait_epoll(ep, "epoll_wait", (uint64_t)(uintptr_t)&token);
	} else if (strcmp(mode, "et") == 0) {
		wait_epoll(ep, "epoll_wait", 0xfeedbeefcafeull);
	} else if (strcmp(mode, "nested") == 0) {
		int inner = epoll_create1(EPOLL_CLOEXEC);
		ep = epoll_create1(EPOLL_CLOEXEC);
		add(inner, fd, EPOLLOUT, 7);
		add(ep, inner, EPOLLIN, 9);
		for (;;) {
			wait_epoll(ep, "epoll_wait", 9);
			struct epoll_event ev;
			int r = epoll_wait(inner, &ev, 1, 0);
			if (r == 1 && ev.data.u64 == 7)
				break;
			bound();
		}
	} else if (strcmp(mode, "two_sets") == 0) {
		struct two_sets t = { .ep = epoll_create1(EPOLL_CLOEXEC), .fd = fd };
		ep = epoll_create1(EPOLL_CLOEXEC);
		add(ep, fd, EPOLLOUT, 1);
		add(t.ep, fd, EPOLLOUT, 2);
		pthread_t other;
		if (pthread_create(&other, NULL, wait_second_set, &t) != 0)
			die("pthread_create");
		wait_epoll(ep, "epoll_wait", 1);
		pthread_join(other, NULL);
	} else if (strcmp(mode, "soerror") == 0) {
		wait_soerror(fd);
	} else if (strcmp(mode, "reconnect") == 0) {
		wait_reconnect(fd);
	} else {
		fprintf(stderr, "async_client: unknown mode %s\n", mode);
		return 2;
	}
	return finish(fd);
}
