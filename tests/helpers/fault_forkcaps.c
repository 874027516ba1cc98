/* fork in a thread while other threads hold cap slots, wait for one, and
 * churn through another capped destination (so the cap table's lock is
 * taken all the time, also at the moment of a fork).
 *
 *   fault_forkcaps LOG FORKS
 *
 * Run under a policy that caps 127.0.0.2 at 2 connections and 127.0.0.3 at
 * a few, on_cap = wait; LOG is backstop's log file. The process listens on
 * both addresses itself (acceptor threads). The main thread holds two
 * connections to .2 (A, B), thread C waits for a third; once the log shows
 * C's cap.wait, a fork thread forks FORKS times while a churn thread
 * connects and closes to .3. Each child must not deadlock and must find
 * its own copy of the counts: it closes its copy of A, connects to .2 and
 * to .3 under the caps at once (no wait), and exits 0. The parent's waiter
 * must still be waiting after every child is gone (no child freed a
 * parent slot); closing A then lets C in. Prints "ok forks=N" or what
 * broke (exit 1). The test checks the log: one cap.wait and one
 * cap.acquired (in_use 2), both C's. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in held_addr, churn_addr;
static atomic_bool churn_stop, c_done;
static int forks;

static _Noreturn void die(const char *what)
{
	printf("FAIL: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	_exit(1);
}

static int listen_on(const char *ip, struct sockaddr_in *addr)
{
	*addr = (struct sockaddr_in){.sin_family = AF_INET};
	inet_pton(AF_INET, ip, &addr->sin_addr);
	socklen_t len = sizeof *addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, len) != 0 || listen(fd, 1024) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0)
		die("listen");
	return fd;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(long)arg, fd;
	while ((fd = accept(lfd, NULL, NULL)) >= 0 || errno == EINTR || errno == ECONNABORTED)
		if (fd >= 0)
			close(fd);
	return NULL;
}

static int connect_to(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0)
		return -1;
	return fd;
}

/* Close with a reset: no TIME_WAIT piles up on the churned ports. */
static void close_reset(int fd)
{
	struct linger now = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
	close(fd);
}

static void *waiter(void *arg)
{
	int fd = connect_to(&held_addr);
	if (fd < 0)
		die("C's connect after waiting");
	*(int *)arg = fd;
	atomic_store(&c_done, true);
	return NULL;
}

static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&churn_stop)) {
		int fd = connect_to(&churn_addr);
		if (fd < 0)
			die("churn connect");
		close_reset(fd);
	}
	return NULL;
}

static _Noreturn void child(int inherited_a)
{
	close(inherited_a); /* the child's copy: frees the child's slot only */
	int fd = connect_to(&held_addr);
	int fd3 = connect_to(&churn_addr);
	_exit(fd >= 0 && fd3 >= 0 ? 0 : 1);
}

static void *forker(void *arg)
{
	int a = *(int *)arg;
	for (int i = 0; i < forks; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			child(a);
		int status;
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			printf("FAIL: child %d of %d: status %#x\n", i + 1, forks, (unsigned)status);
			fflush(stdout);
			_exit(1);
		}
		if (atomic_load(&c_done)) {
			printf("FAIL: the parent's waiter was served after child %d\n", i + 1);
			fflush(stdout);
			_exit(1);
		}
	}
	return NULL;
}

/* Block until the log holds a cap.wait line (inotify: no polling). */
static void await_cap_wait(const char *log)
{
	int in = inotify_init1(IN_CLOEXEC);
	if (in < 0 || inotify_add_watch(in, log, IN_MODIFY) < 0)
		die("inotify on the log");
	for (;;) {
		FILE *f = fopen(log, "r");
		char line[1024];
		bool seen = false;
		while (f && !seen && fgets(line, sizeof line, f))
			seen = strstr(line, "\"event\":\"cap.wait\"") != NULL;
		if (f)
			fclose(f);
		if (seen)
			break;
		char ev[4096];
		if (read(in, ev, sizeof ev) < 0 && errno != EINTR)
			die("inotify read");
	}
	close(in);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (forks = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: fault_forkcaps LOG FORKS\n");
		return 2;
	}
	pthread_t acc2, acc3, c, f, ch;
	int l2 = listen_on("127.0.0.2", &held_addr), l3 = listen_on("127.0.0.3", &churn_addr);
	pthread_create(&acc2, NULL, acceptor, (void *)(long)l2);
	pthread_create(&acc3, NULL, acceptor, (void *)(long)l3);

	int a = connect_to(&held_addr), b = connect_to(&held_addr), cfd = -1;
	if (a < 0 || b < 0)
		die("A and B connect");
	pthread_create(&c, NULL, waiter, &cfd);
	await_cap_wait(argv[1]);

	pthread_create(&ch, NULL, churn, NULL);
	pthread_create(&f, NULL, forker, &a);
	pthread_join(f, NULL);
	atomic_store(&churn_stop, true);
	pthread_join(ch, NULL);

	if (atomic_load(&c_done)) {
		printf("FAIL: the parent's waiter was served with A and B held\n");
		return 1;
	}
	close(a); /* now C gets A's slot */
	pthread_join(c, NULL);
	close(b);
	close(cfd);
	printf("ok forks=%d\n", forks);
	return 0;
}
