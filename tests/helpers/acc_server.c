/* A small server for the accept tests. Every accepted client gets
 * "hello\n"; when a client closes, the server closes its side and then
 * tells every other client "freed\n", so a client knows the slot is back
 * without any timing. Each accepted connection is reported on stdout as
 * "accepted" (the test counts them).
 *
 *   acc_server [-n] [-6 | -u PATH] READY_FIFO
 *     -n    nonblocking listener in a poll loop (accept4 until EAGAIN);
 *           default: a blocking accept loop and a thread per client
 *     -6    listen on [::1] instead of 127.0.0.1
 *     -u    listen on the unix socket PATH
 *   Writes the port (or "unix") to READY_FIFO once listening. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acc_addr.h"

#define MAX_CLIENTS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int clients[MAX_CLIENTS];
static int n_clients;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void send_line(int fd, const char *s)
{
	(void)!send(fd, s, strlen(s), MSG_NOSIGNAL);
}

static void client_added(int fd)
{
	pthread_mutex_lock(&lock);
	if (n_clients == MAX_CLIENTS) {
		fprintf(stderr, "too many clients\n");
		exit(2);
	}
	clients[n_clients++] = fd;
	pthread_mutex_unlock(&lock);
	printf("accepted\n");
	fflush(stdout);
	send_line(fd, "hello\n");
}

/* The client went away: close our side (which gives backstop's slot
 * back), and only then tell the others. */
static void client_gone(int fd)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < n_clients; i++)
		if (clients[i] == fd)
			clients[i] = clients[--n_clients];
	close(fd);
	for (int i = 0; i < n_clients; i++)
		send_line(clients[i], "freed\n");
	pthread_mutex_unlock(&lock);
}

static void *serve_client(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[256];
	while (recv(fd, buf, sizeof buf, 0) > 0)
		;
	client_gone(fd);
	return NULL;
}

static void blocking_loop(int lfd)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		client_added(fd);
		pthread_t t;
		if (pthread_create(&t, NULL, serve_client, (void *)(intptr_t)fd) != 0)
			die("pthread_create");
		pthread_detach(t);
	}
}

static void nonblocking_loop(int lfd)
{
	for (;;) {
		struct pollfd pfd[MAX_CLIENTS + 1] = {{.fd = lfd, .events = POLLIN}};
		int n = n_clients;
		for (int i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){.fd = clients[i], .events = POLLIN};
		if (poll(pfd, (nfds_t)n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (int i = 1; i <= n; i++) {
			char buf[256];
			if (pfd[i].revents && recv(pfd[i].fd, buf, sizeof buf, MSG_DONTWAIT) <= 0)
				client_gone(pfd[i].fd);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		for (;;) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof ss;
			int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
			if (fd < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				die("accept4");
			}
			client_added(fd);
		}
	}
}

int main(int argc, char **argv)
{
	bool nonblocking = false;
	struct acc_where where = {AF_INET, NULL};
	int opt;
	while ((opt = getopt(argc, argv, "n" ACC_WHERE_OPTS)) != -1) {
		if (opt == 'n')
			nonblocking = true;
		else if (!acc_where_opt(&where, opt, optarg))
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: acc_server [-n] " ACC_WHERE_USAGE " READY_FIFO\n");
		return 2;
	}
	int lfd = socket(where.family, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
	if (lfd < 0)
		die("socket");
	struct sockaddr_storage ss;
	socklen_t len = acc_where_addr(&where, 0, &ss);
	if (bind(lfd, (struct sockaddr *)&ss, len) != 0 || listen(lfd, 64) != 0)
		die("bind/listen");
	len = sizeof ss;
	getsockname(lfd, (struct sockaddr *)&ss, &len);
	FILE *ready = fopen(argv[optind], "w");
	if (!ready)
		die(argv[optind]);
	if (where.family == AF_UNIX)
		fprintf(ready, "unix\n");
	else
		fprintf(ready, "%u\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fclose(ready);
	if (nonblocking)
		nonblocking_loop(lfd);
	else
		blocking_loop(lfd);
}
