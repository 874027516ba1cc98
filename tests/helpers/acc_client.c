/* The client side of the per-client cap tests. Opens N connections, reads
 * the first line of each: "hello" means served; EOF or ECONNRESET means
 * the server (backstop) shed it. Then closes one served connection, waits
 * for the server's "freed" on another one, and opens one more.
 *
 *   acc_client [-6 | -u PATH] PORT N
 * Prints "served S shed D reset R" (R: sheds seen as ECONNRESET) and
 * "again served" or "again shed". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acc_addr.h"

#define MAX_CONNS 64

static struct acc_where where = {AF_INET, NULL};

static int open_conn(int port)
{
	struct sockaddr_storage ss;
	socklen_t len = acc_where_addr(&where, port, &ss);
	int fd = socket(where.family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
		perror("connect");
		exit(2);
	}
	return fd;
}

/* One line from fd: 0 and the line, or the errno (-1 for EOF). */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = recv(fd, buf + n, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return 0;
}

/* Whether the server served fd; counts a reset. */
static int served(int fd, int *resets)
{
	char line[64];
	int r = read_line(fd, line, sizeof line);
	if (r == ECONNRESET)
		++*resets;
	else if (r > 0)
		fprintf(stderr, "unexpected error %s\n", strerror(r));
	return r == 0 && strcmp(line, "hello") == 0;
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, ACC_WHERE_OPTS)) != -1)
		if (!acc_where_opt(&where, opt, optarg))
			return 2;
	if (optind + 2 != argc) {
		fprintf(stderr, "usage: acc_client " ACC_WHERE_USAGE " PORT N\n");
		return 2;
	}
	int port = atoi(argv[optind]), n = atoi(argv[optind + 1]);
	if (n < 1 || n > MAX_CONNS)
		return 2;
	int fds[MAX_CONNS], ok[MAX_CONNS], n_ok = 0, shed = 0, resets = 0;
	for (int i = 0; i < n; i++)
		fds[i] = open_conn(port);
	for (int i = 0; i < n; i++) {
		if (served(fds[i], &resets))
			ok[n_ok++] = fds[i];
		else
			shed++;
	}
	printf("served %d shed %d reset %d\n", n_ok, shed, resets);
	fflush(stdout);
	if (n_ok < 2)
		return 0;
	close(ok[0]);
	char line[64];
	if (read_line(ok[1], line, sizeof line) != 0 || strcmp(line, "freed") != 0) {
		fprintf(stderr, "no 'freed' from the server\n");
		return 1;
	}
	printf("again %s\n", served(open_conn(port), &resets) ? "served" : "shed");
	return 0;
}
