/* A loopback TCP server that counts concurrent connections.
 *
 *   cap_server READY_FIFO EXPECTED RELEASE_AT
 *
 * Listens on 127.0.0.1 (kernel-chosen port) and writes the port as one
 * line to READY_FIFO. A connection is open from its accept until the
 * client closes it (EOF). With RELEASE_AT > 0, whenever RELEASE_AT
 * accepted connections have not yet been answered, the oldest gets one
 * byte (the client closes after reading it); once EXPECTED connections
 * were accepted, all get their byte. With RELEASE_AT = 0 nothing is sent:
 * clients close on their own. Ends when EXPECTED connections were
 * accepted and all are closed, printing "max=M total=T". EXPECTED = 0:
 * serve until SIGTERM, then print the same.
 *
 * Before a new connection is counted, every open one is checked for EOF:
 * a client's close (FIN) precedes the connect it made room for, so a
 * connection that made way is never counted together with its successor. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 1024

struct conn {
	int fd;
	int answered;
};

static struct conn conns[MAX_CONNS];
static int n_open;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* Forget connections whose client closed. */
static void reap(void)
{
	char b;
	for (int i = 0; i < n_open;) {
		ssize_t r = recv(conns[i].fd, &b, 1, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			close(conns[i].fd);
			/* keep accept order, so "oldest" stays first */
			for (int j = i; j + 1 < n_open; j++)
				conns[j] = conns[j + 1];
			n_open--;
			continue;
		}
		i++;
	}
}

static void answer(struct conn *c)
{
	if (!c->answered && send(c->fd, "x", 1, MSG_NOSIGNAL) == 1)
		c->answered = 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: cap_server READY_FIFO EXPECTED RELEASE_AT\n");
		return 2;
	}
	int expected = atoi(argv[2]), release_at = atoi(argv[3]);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sin;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, len) != 0 ||
	    listen(lfd, 1024) != 0 || getsockname(lfd, (struct sockaddr *)&sin, &len) != 0)
		die("listen");
	FILE *ready = fopen(argv[1], "w");
	if (!ready)
		die(argv[1]);
	fprintf(ready, "%d\n", ntohs(sin.sin_port));
	fclose(ready);

	struct sigaction sa = { .sa_handler = on_term }; /* no SA_RESTART: poll ends */
	sigaction(SIGTERM, &sa, NULL);
	int total = 0, max = 0;
	struct pollfd pfd[MAX_CONNS + 1];
	while (expected == 0 ? !stop : total < expected || n_open > 0) {
		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < n_open; i++)
			pfd[i + 1] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)n_open + 1, -1) < 0 && errno != EINTR)
			die("poll");
		reap();
		int fd;
		while (n_open < MAX_CONNS && (fd = accept(lfd, NULL, NULL)) >= 0) {
			reap();
			conns[n_open++] = (struct conn){ .fd = fd };
			total++;
			if (n_open > max)
				max = n_open;
		}
		int unanswered = 0;
		for (int i = 0; i < n_open; i++)
			unanswered += !conns[i].answered;
		for (int i = 0; i < n_open; i++) {
			if (expected > 0 && total >= expected && release_at > 0)
				answer(&conns[i]);
			else if (release_at > 0 && unanswered >= release_at && !conns[i].answered) {
				answer(&conns[i]);
				unanswered--;
			}
		}
	}
	printf("max=%d total=%d\n", max, total);
	return 0;
}
