/* Nonblocking connects queued for a cap slot (nonblocking = async with
 * max_conns = 1 for 127.0.0.1), in one process, against its own listener.
 *
 *   async_cap fifo     a blocking connect takes the slot; two nonblocking
 *                      ones queue (EINPROGRESS) and are not ready; closing
 *                      the first hands the slot to the older one only,
 *                      closing that one to the younger
 *   async_cap timeout  the queued one is reported failed, SO_ERROR
 *                      ETIMEDOUT, once cap_wait has passed
 *
 * Prints one line per step; exit 1 on the first surprise. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in addr;

static void fail(const char *what)
{
	printf("FAIL %s (%s)\n", what, strerrorname_np(errno));
	exit(1);
}

static int dial(int flags)
{
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
	if (fd < 0)
		fail("socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 &&
	    !((flags & SOCK_NONBLOCK) && errno == EINPROGRESS))
		fail("connect");
	return fd;
}

/* Whether fd is reported ready within ms. */
static int ready(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int r = poll(&p, 1, ms);
	if (r < 0)
		fail("poll");
	return r;
}

static const char *outcome(int fd)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		fail("getsockopt");
	return err == 0 ? "connected" : strerrorname_np(err);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	addr = (struct sockaddr_in){ .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	socklen_t len = sizeof addr;
	if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len) != 0)
		fail("listen");

	int holder = dial(0);
	int first = dial(SOCK_NONBLOCK);
	if (strcmp(argv[1], "timeout") == 0) {
		while (!ready(first, 1000))
			;
		printf("queued: %s\n", outcome(first));
		return 0;
	}
	int second = dial(SOCK_NONBLOCK);
	/* Nothing frees a slot here: a queued connect is never ready. */
	printf("queued: ready=%d,%d\n", ready(first, 100), ready(second, 0));
	close(holder);
	while (!ready(first, 1000))
		;
	printf("first: %s, second ready=%d\n", outcome(first), ready(second, 100));
	close(first);
	while (!ready(second, 1000))
		;
	printf("second: %s\n", outcome(second));
	return 0;
}
