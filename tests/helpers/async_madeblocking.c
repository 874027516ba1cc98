/* A pending connect whose socket the program makes blocking, for
 * test_async_madeblocking.sh.
 *
 *   async_madeblocking PATH
 *
 * Listens on the unix socket PATH with a backlog of 0 and never accepts,
 * fills the backlog with one connection, then connects a nonblocking
 * socket to it: EAGAIN (under backstop: EINPROGRESS, a retry pending).
 * Clears O_NONBLOCK on that socket, then polls it for POLLOUT ten times,
 * 100 ms each (backstop's retries happen inside those polls). Prints
 * "connect=ENAME" when the connect failed at once, "returned" when the
 * polls all returned, "blocked" when BOUND_S passed first (a guard only:
 * no test depends on time). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BOUND_S 30

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void blocked(int sig)
{
	(void)sig;
	static const char msg[] = "blocked\n";
	(void)!write(1, msg, sizeof msg - 1);
	_exit(3);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: async_madeblocking PATH\n");
		return 2;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", argv[1]);
	unlink(sun.sun_path);
	int server = socket(AF_UNIX, SOCK_STREAM, 0);
	if (server < 0 || bind(server, (struct sockaddr *)&sun, sizeof sun) != 0 ||
	    listen(server, 0) != 0)
		die("listen");
	int filler = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (filler < 0 || connect(filler, (struct sockaddr *)&sun, sizeof sun) != 0)
		die("filler");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0 && errno != EINPROGRESS) {
		printf("connect=%s\n", strerrorname_np(errno));
		return 0;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
		die("fcntl");
	signal(SIGALRM, blocked);
	alarm(BOUND_S);
	for (int i = 0; i < 10; i++) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			die("poll");
	}
	printf("returned\n");
	return 0;
}
