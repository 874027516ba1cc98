/* A wait that was already under way when a connect became pending, for
 * test_async_waiters.sh.
 *
 *   async_waiter MODE PORT READY
 *
 * The main thread waits with no timeout (-1) on an epoll set that holds
 * no pending connect yet. A second thread, once it sees the main thread
 * blocked in that wait (/proc/self/task/TID/syscall: no sleep), connects
 * a nonblocking TCP socket to 127.0.0.1:PORT (down: refused) and
 * registers it in the set (EPOLLOUT, data.fd), then writes "waiting" to
 * the READY fifo. MODE:
 *
 *   epoll            nothing was pending in the process when the wait
 *                    began
 *   epoll_elsewhere  a connect of another socket (to the same port, in
 *                    no set) was pending already
 *
 * The main thread prints "connected FIRST-LINE-OF-REPLY" when it was
 * woken for a connected socket, "error=ENAME" for a failed one (the
 * refusal, without backstop), "unfinished events=0x..." when it was woken
 * for a socket whose connect had neither succeeded nor failed, or "hang"
 * after BOUND_S (a guard only: the test never depends on time). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "async_outcome.h"

#define BOUND_S 60

static int ep, port;
static pid_t main_tid;
static const char *ready_fifo;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void hang(int sig)
{
	(void)sig;
	static const char msg[] = "hang\n";
	(void)!write(1, msg, sizeof msg - 1);
	_exit(3);
}

/* Whether the main thread is blocked in an epoll wait right now. */
static int main_waits(void)
{
	char path[64], buf[64] = "";
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)main_tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die(path);
	if (fgets(buf, sizeof buf, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	long nr = strtol(buf, NULL, 10);
	return nr == SYS_epoll_wait || nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2;
}

/* A nonblocking socket connecting to the (down) port. */
static int start_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 && errno != EINPROGRESS &&
	    errno != ECONNREFUSED)
		die("connect");
	return fd;
}

static void *connector(void *arg)
{
	(void)arg;
	while (!main_waits())
		sched_yield();
	int fd = start_connect();
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl");
	FILE *f = fopen(ready_fifo, "w");
	if (f == NULL || fputs("waiting\n", f) < 0 || fclose(f) != 0)
		die(ready_fifo);
	return NULL;
}

static int finish(int fd, uint32_t events)
{
	if (connect_failed(fd))
		return 1;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0) {
		printf("unfinished events=0x%x\n", events);
		return 1;
	}
	static const char request[] = "GET / HTTP/1.0\r\n\r\n";
	if (write(fd, request, sizeof request - 1) != (ssize_t)sizeof request - 1)
		die("write");
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
		die("fcntl");
	char buf[256];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n <= 0)
		die("read");
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	printf("connected %s\n", buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "epoll") != 0 && strcmp(argv[1], "epoll_elsewhere") != 0)) {
		fprintf(stderr, "usage: async_waiter epoll|epoll_elsewhere PORT READY\n");
		return 2;
	}
	port = atoi(argv[2]);
	ready_fifo = argv[3];
	signal(SIGALRM, hang);
	alarm(BOUND_S);
	main_tid = (pid_t)syscall(SYS_gettid);
	if ((ep = epoll_create1(0)) < 0)
		die("epoll_create1");
	if (strcmp(argv[1], "epoll_elsewhere") == 0)
		(void)start_connect();
	pthread_t t;
	if (pthread_create(&t, NULL, connector, NULL) != 0)
		die("pthread_create");
	struct epoll_event ev;
	int r;
	while ((r = epoll_wait(ep, &ev, 1, -1)) < 0 && errno == EINTR)
		;
	if (r != 1)
		die("epoll_wait");
	pthread_join(t, NULL);
	return finish(ev.data.fd, ev.events);
}
