/* A number let go of while its asynchronous connect was parked, taken by
 * a pipe and registered in an epoll set: the pipe's events must reach the
 * program. For test_async_reuse.sh.
 *
 *   async_reuse MODE
 *
 * A nonblocking TCP socket connects to a port bound but not listening on
 * 127.0.0.1 (refused: under backstop a retry is then pending and the
 * number parked), then the program lets go of the number in one of these
 * ways (MODE):
 *
 *   close        close, the socket never registered in a set
 *   unregister   registered, EPOLL_CTL_DEL, then close (asyncio after a
 *                cancelled sock_connect)
 *   close_range  registered, then close_range over its number
 *   raw_close    registered, then a raw close system call (behind
 *                backstop's back)
 *
 * A pipe takes the number, its read end is registered for EPOLLIN and
 * written to. Prints "readable" when the wait reports it, "hidden" when
 * BOUND_S passed without (a guard only: no test depends on time).
 *
 *   raw_close_connect  (run with 2 attempts) poll until the connect has
 *                failed for good, close it with a raw system call, and
 *                connect a new socket taking the number to a listening
 *                port: prints "connected", or "connect=ENAME" when the new
 *                socket's connect failed. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BOUND_S 30

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void add(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl");
}

/* s failed for good (poll says so); a new socket on its number connects
 * to the listening `up`. */
static int failed_then_reused(int s, const struct sockaddr_in *up)
{
	time_t start = time(NULL);
	struct pollfd p = { .fd = s, .events = POLLOUT };
	while (!(p.revents & POLLERR)) {
		if (time(NULL) - start > BOUND_S) {
			printf("hang\n");
			return 1;
		}
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			die("poll");
	}
	if (syscall(SYS_close, s) != 0)
		die("raw close");
	int s2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s2 != s) {
		fprintf(stderr, "the new socket got %d, not %d\n", s2, s);
		return 2;
	}
	if (connect(s2, (const struct sockaddr *)up, sizeof *up) != 0 && errno != EINPROGRESS) {
		printf("connect=%s\n", strerrorname_np(errno));
		return 1;
	}
	p = (struct pollfd){ .fd = s2, .events = POLLOUT };
	if (poll(&p, 1, BOUND_S * 1000) != 1)
		die("poll");
	int err;
	socklen_t len = sizeof err;
	if (getsockopt(s2, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		die("getsockopt");
	printf(err == 0 ? "connected\n" : "error=%s\n", strerrorname_np(err));
	return err != 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc == 2 ? argv[1] : "";
	if (strcmp(mode, "close") != 0 && strcmp(mode, "unregister") != 0 &&
	    strcmp(mode, "close_range") != 0 && strcmp(mode, "raw_close") != 0 &&
	    strcmp(mode, "raw_close_connect") != 0) {
		fprintf(stderr, "usage: async_reuse close|unregister|close_range|raw_close|"
				"raw_close_connect\n");
		return 2;
	}
	int up = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in upsin = { .sin_family = AF_INET };
	socklen_t uplen = sizeof upsin;
	inet_pton(AF_INET, "127.0.0.1", &upsin.sin_addr);
	if (up < 0 || bind(up, (struct sockaddr *)&upsin, sizeof upsin) != 0 ||
	    listen(up, 4) != 0 || getsockname(up, (struct sockaddr *)&upsin, &uplen) != 0)
		die("listen");
	int ep = epoll_create1(0);
	int down = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof sin;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (ep < 0 || down < 0 || bind(down, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(down, (struct sockaddr *)&sin, &len) != 0)
		die("setup");
	/* A registration of its own first, as an event loop has (its
	 * wake-up pipe), so that backstop follows epoll from the start. */
	int wake[2];
	if (pipe(wake) != 0)
		die("pipe");
	add(ep, wake[0], EPOLLIN);

	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0)
		die("socket");
	if (connect(s, (struct sockaddr *)&sin, sizeof sin) == 0 ||
	    (errno != EINPROGRESS && errno != ECONNREFUSED))
		die("connect");
	if (strcmp(mode, "raw_close_connect") == 0)
		return failed_then_reused(s, &upsin);
	/* Asking for the outcome makes backstop take in the refusal: a
	 * retry is then pending, the number parked. */
	int err;
	socklen_t elen = sizeof err;
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		die("getsockopt");
	if (strcmp(mode, "close") != 0)
		add(ep, s, EPOLLOUT);
	if (strcmp(mode, "unregister") == 0 && epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL) != 0)
		die("epoll_ctl DEL");
	if (strcmp(mode, "close_range") == 0) {
		if (close_range((unsigned)s, (unsigned)s, 0) != 0)
			die("close_range");
	} else if (strcmp(mode, "raw_close") == 0) {
		if (syscall(SYS_close, s) != 0)
			die("raw close");
	} else {
		close(s);
	}

	int p[2];
	if (pipe(p) != 0)
		die("pipe");
	if (p[0] != s) {
		fprintf(stderr, "the pipe got %d, not %d\n", p[0], s);
		return 2;
	}
	add(ep, p[0], EPOLLIN);
	if (write(p[1], "x", 1) != 1)
		die("write");
	time_t start = time(NULL);
	while (time(NULL) - start < BOUND_S) {
		struct epoll_event ev;
		int r = epoll_wait(ep, &ev, 1, 100);
		if (r < 0 && errno != EINTR)
			die("epoll_wait");
		if (r == 1 && ev.data.fd == p[0] && (ev.events & EPOLLIN)) {
			printf("readable\n");
			return 0;
		}
	}
	printf("hidden\n");
	return 1;
}
