/* What the sleep helpers (sleep_resume, sleep_signal) do first: n failed
 * connects, so that under backstop the next sleeps are retry sleeps.
 * Header-only: each helper is one program built from one .c file. */
#ifndef SLEEP_FAIL_H
#define SLEEP_FAIL_H

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

/* n connects to a loopback port that is bound but not listening. */
static void fail_connects(int n)
{
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof in;
	int quiet = socket(AF_INET, SOCK_STREAM, 0); /* bound, not listening */
	bind(quiet, (struct sockaddr *)&in, len);
	getsockname(quiet, (struct sockaddr *)&in, &len);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		connect(fd, (struct sockaddr *)&in, len);
		close(fd);
	}
	close(quiet);
}

#endif
