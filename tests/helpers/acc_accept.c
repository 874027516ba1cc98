/* Accept calls as a legacy server makes them, one result per call, for
 * the fault-injection tests (tests/shims/libacc_fault.c scripts the
 * errors). The program connects N clients to its own listener first, so
 * every connection is already queued: no second process, no timing.
 *
 *   acc_accept [-n] N
 *     -n  nonblocking listener: poll for it before each accept
 * Calls accept until it holds N connections, treating every error as one
 * a server would log and go on from, and prints one line per call: "ok"
 * or the errno's name. Exits 0 once N were accepted, 1 after too many
 * failed calls. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 32
#define MAX_FAILED 64

static void die(const char *what)
{
	perror(what);
	exit(2);
}

int main(int argc, char **argv)
{
	bool nonblocking = argc == 3 && strcmp(argv[1], "-n") == 0;
	int n = argc >= 2 ? atoi(argv[argc - 1]) : 0;
	if (argc != 2 + nonblocking || n < 1 || n > MAX_CONNS) {
		fprintf(stderr, "usage: acc_accept [-n] N (1..%d)\n", MAX_CONNS);
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof in;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&in, len) != 0 ||
	    listen(lfd, MAX_CONNS) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&in, &len) != 0)
		die("listen");
	for (int i = 0; i < n; i++) {
		int cfd = socket(AF_INET, SOCK_STREAM, 0);
		if (cfd < 0 || connect(cfd, (struct sockaddr *)&in, len) != 0)
			die("connect");
	}
	int accepted = 0, failed = 0;
	while (accepted < n && failed < MAX_FAILED) {
		struct pollfd pfd = {.fd = lfd, .events = POLLIN};
		if (nonblocking && poll(&pfd, 1, 10000) != 1)
			die("poll");
		int fd = accept(lfd, NULL, NULL);
		if (fd >= 0) {
			accepted++;
			puts("ok");
		} else {
			failed++;
			puts(strerrorname_np(errno));
		}
	}
	return accepted == n ? 0 : 1;
}
