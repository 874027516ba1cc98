/* fork while other threads are inside connect (issue 10, defect 7, and
 * the fork discipline). Run under max_conns = CAP, cap_scope = host,
 * on_cap = fail, the log on fd 3 (a pipe whose read end is fd 4). The
 * program listens on 127.0.0.1 itself (an acceptor thread closes what it
 * accepts).
 *
 *   fault_fork inflight REFUSED_PORT   (CAP 1)
 *       A thread connects to a refused port and backs off, holding the
 *       only slot. Once its connect.retry line arrives, fork: the child
 *       must get the slot for a connect to the listener (the parent's
 *       thread does not exist there, nor does its connect).
 *   fault_fork churn FORKS             (CAP 2)
 *       A thread connects to the listener and closes, over and over, while
 *       the main thread forks FORKS times. Each child closes its copy of
 *       the churning socket, then must connect exactly CAP times and be
 *       refused (EAGAIN) the next: no slot carried over from a connect in
 *       flight, no count half-updated at the fork, no lock left held.
 *
 * Prints "ok" or what broke (exit 1). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHURN_CAP 2

static struct sockaddr_in listener;
static atomic_int churn_fd = -1;
static atomic_bool stop;

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return in;
}

static int dial(const struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (const struct sockaddr *)to, sizeof *to) == 0)
		return fd;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static void *acceptor(void *arg)
{
	int l = *(int *)arg;
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c >= 0)
			close(c);
	}
	return NULL;
}

static void *refused_connector(void *arg)
{
	struct sockaddr_in to = loopback(*(int *)arg);
	dial(&to);
	return NULL;
}

static void *churner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		atomic_store(&churn_fd, fd);
		connect(fd, (const struct sockaddr *)&listener, sizeof listener);
		close(fd);
	}
	return NULL;
}

static void await_retry(FILE *log)
{
	char line[4096];
	while (fgets(line, sizeof line, log))
		if (strstr(line, "\"event\":\"connect.retry\""))
			return;
	printf("the log ended before a connect.retry line\n");
	exit(1);
}

/* In a child: `want` connects succeed, the next is refused with EAGAIN. */
static int child_check(int want)
{
	for (int i = 0; i < want; i++)
		if (dial(&listener) < 0)
			return 10 + i;
	return dial(&listener) < 0 && errno == EAGAIN ? 0 : 20;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	listener = loopback(0);
	socklen_t len = sizeof listener;
	bind(l, (struct sockaddr *)&listener, len);
	listen(l, 4096);
	getsockname(l, (struct sockaddr *)&listener, &len);
	pthread_t t;
	pthread_create(&t, NULL, acceptor, &l);

	if (strcmp(argv[1], "inflight") == 0) {
		int port = atoi(argv[2]);
		pthread_create(&t, NULL, refused_connector, &port);
		await_retry(fdopen(4, "r"));
		pid_t pid = fork();
		if (pid == 0)
			_exit(child_check(1));
		int status;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			printf("child: the slot of the parent's connect in flight was carried over (status %d)\n",
			       WEXITSTATUS(status));
			return 1;
		}
		printf("ok\n");
		return 0;
	}
	int forks = atoi(argv[2]);
	pthread_create(&t, NULL, churner, NULL);
	for (int i = 0; i < forks; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			close(atomic_load(&churn_fd));
			_exit(child_check(CHURN_CAP));
		}
		int status;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			printf("fork %d: child status %d (%s)\n", i, WEXITSTATUS(status),
			       WIFEXITED(status) ? "exited" : "killed");
			return 1;
		}
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	printf("ok\n");
	return 0;
}
