/* A pending asynchronous connect whose number is closed behind backstop's
 * back (a raw close system call, as a program's own syscall wrapper or a
 * library with its own close would make) and reused by a listening socket.
 *
 *   async_rawclose
 *
 * Fills the accept queue of a listen(0) socket, so that a nonblocking
 * connect to it stays in flight (its SYN is dropped); closes that socket
 * with syscall(SYS_close); opens a listening socket on the same number;
 * waits on it with poll past the attempt's due time (run it with a short
 * BACKSTOP_CONNECT_ATTEMPT_TIMEOUT); then connects to it from a second
 * socket. Prints "accepted" when the new listener took that connection,
 * "refused: WHY" when it did not (backstop dissolved the old attempt on
 * the new socket with connect(AF_UNSPEC), which stops a listener). Exit 2
 * when the setup itself went wrong. Every wait is bounded only against a
 * hang. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Longer than any attempt timeout the test sets: the poll outlives the
 * attempt's due time, whatever the machine's load. */
#define POLL_PAST_DUE_MS 600
#define BOUND_MS 10000

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int tcp_socket(int flags)
{
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
	if (fd < 0)
		die("socket");
	return fd;
}

/* A listener on 127.0.0.1, any port, with the given backlog. */
static int listener(int backlog, struct sockaddr_in *addr)
{
	int fd = tcp_socket(0);
	socklen_t len = sizeof *addr;
	memset(addr, 0, sizeof *addr);
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof *addr) != 0 || listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0)
		die("listener");
	return fd;
}

/* How many connections wait in fd's accept queue (tcpi_unacked on a
 * listening socket). */
static unsigned queued(int fd)
{
	struct tcp_info info;
	socklen_t len = sizeof info;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
		die("TCP_INFO");
	return info.tcpi_unacked;
}

int main(void)
{
	struct sockaddr_in full_addr, new_addr;
	int full = listener(0, &full_addr);

	/* listen(0) holds one connection; the queue is full once it is there. */
	int filler = tcp_socket(0);
	if (connect(filler, (struct sockaddr *)&full_addr, sizeof full_addr) != 0)
		die("connect filler");
	for (int waited = 0; queued(full) < 1; waited++) {
		if (waited * 10 > BOUND_MS)
			die("accept queue never filled");
		poll(NULL, 0, 10);
	}

	int pending = tcp_socket(SOCK_NONBLOCK);
	if (connect(pending, (struct sockaddr *)&full_addr, sizeof full_addr) == 0 ||
	    errno != EINPROGRESS)
		die("nonblocking connect did not stay in flight");
	if (syscall(SYS_close, pending) != 0)
		die("raw close");

	int reused = listener(8, &new_addr);
	if (reused != pending) {
		fprintf(stderr, "the new listener got %d, not %d\n", reused, pending);
		return 2;
	}
	struct pollfd p = { .fd = reused, .events = POLLIN };
	/* Nothing connects to it yet: 0 is the answer, but the outcome shows
	 * in the connect below (a stopped listener polls ready, with POLLHUP). */
	if (poll(&p, 1, POLL_PAST_DUE_MS) < 0)
		die("poll on the idle listener");

	int client = tcp_socket(0);
	if (connect(client, (struct sockaddr *)&new_addr, sizeof new_addr) != 0) {
		printf("refused: connect: %s\n", strerror(errno));
		return 1;
	}
	p.revents = 0;
	if (poll(&p, 1, BOUND_MS) != 1) {
		printf("refused: the listener never saw the connection\n");
		return 1;
	}
	int conn = accept(reused, NULL, NULL);
	if (conn < 0) {
		printf("refused: accept: %s\n", strerror(errno));
		return 1;
	}
	printf("accepted\n");
	close(conn);
	close(client);
	close(reused);
	close(filler);
	close(full);
	return 0;
}
