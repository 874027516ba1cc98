/* io_timeout on accepted sockets: accept one client (blocking) and recv
 * from it. With io_timeout the recv fails with EAGAIN instead of waiting
 * forever for a client that never sends.
 *
 *   acc_recv [-t MS] READY_FIFO
 *     -t MS  the program sets its own SO_RCVTIMEO on the listener (Linux
 *            copies it to accepted sockets); backstop must keep it
 * Prints "rcvtimeo_ms R sndtimeo_ms S user_timeout_ms U" as found on the
 * accepted socket, then "recv -1 ERRNAME" or "recv N". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static long timeo_ms(int fd, int opt)
{
	struct timeval tv;
	socklen_t len = sizeof tv;
	getsockopt(fd, SOL_SOCKET, opt, &tv, &len);
	return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int main(int argc, char **argv)
{
	long own_ms = 0;
	int opt;
	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			return 2;
		own_ms = atol(optarg);
	}
	if (optind + 1 != argc)
		return 2;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof in;
	if (own_ms) {
		struct timeval tv = {own_ms / 1000, own_ms % 1000 * 1000};
		setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	}
	if (bind(lfd, (struct sockaddr *)&in, len) != 0 || listen(lfd, 8) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&in, &len) != 0)
		return 2;
	FILE *ready = fopen(argv[optind], "w");
	if (!ready)
		return 2;
	fprintf(ready, "%u\n", ntohs(in.sin_port));
	fclose(ready);
	int fd;
	do
		fd = accept(lfd, NULL, NULL);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return 2;
	unsigned user = 0;
	len = sizeof user;
	getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, &len);
	printf("rcvtimeo_ms %ld sndtimeo_ms %ld user_timeout_ms %u\n",
	       timeo_ms(fd, SO_RCVTIMEO), timeo_ms(fd, SO_SNDTIMEO), user);
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof buf, 0);
	if (n < 0)
		printf("recv -1 %s\n", strerrorname_np(errno));
	else
		printf("recv %zd\n", n);
	return 0;
}
