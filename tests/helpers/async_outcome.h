/* The outcome a program reads after its nonblocking connect reported
 * ready: SO_ERROR, printed as "error=ENAME" when the connect failed.
 * Shared by the async test helpers; each defines die(). */
#ifndef BS_ASYNC_OUTCOME_H
#define BS_ASYNC_OUTCOME_H

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void die(const char *what);

/* 0 when fd connected; 1 after printing the error otherwise. */
static int connect_failed(int fd)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		die("getsockopt");
	if (err == 0)
		return 0;
	printf("error=%s\n", strerrorname_np(err));
	return 1;
}

#endif
