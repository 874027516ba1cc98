/* Does a cap slot come back through every way of closing a socket?
 * Run under a policy with max_conns = 1 and on_cap = fail for 127.0.0.1.
 *
 *   cap_slots METHOD            close | close_range | closefrom | dup2 |
 *                               dup | dup_chain | fcntl_dupfd | fork |
 *                               vfork | clone_vfork | clone_vm | fclose
 *   cap_slots logfd LOGPATH     the program closing, dup2-ing over and
 *                               closefrom-ing backstop's log descriptor
 *
 * Each check connects once (must succeed), again (must fail EAGAIN: the
 * slot is held), lets go through METHOD, and connects again (must
 * succeed). Prints "ok", or the first broken expectation and exits 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

static struct sockaddr_in dest;

#define EXPECT(cond, ...)                                         \
	do {                                                      \
		if (!(cond)) {                                    \
			printf("line %d: ", __LINE__);            \
			printf(__VA_ARGS__);                      \
			printf(" (errno %s)\n", strerrorname_np(errno)); \
			exit(1);                                  \
		}                                                 \
	} while (0)

/* A listener nobody accepts on: connects complete in its backlog. */
static void listen_loopback(void)
{
	dest = (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof dest;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT(lfd >= 0 && bind(lfd, (struct sockaddr *)&dest, len) == 0 &&
		       listen(lfd, 64) == 0 &&
		       getsockname(lfd, (struct sockaddr *)&dest, &len) == 0,
	       "listen");
}

/* connect; the fd, or -1 with errno. */
static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT(fd >= 0, "socket");
	if (connect(fd, (struct sockaddr *)&dest, sizeof dest) == 0)
		return fd;
	int err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int held(void)
{
	int fd = dial();
	EXPECT(fd >= 0, "first connect");
	EXPECT(dial() < 0 && errno == EAGAIN, "connect at the cap must fail EAGAIN");
	return fd;
}

static void still_held(const char *after)
{
	EXPECT(dial() < 0 && errno == EAGAIN, "slot must still be held after %s", after);
}

static void released(const char *after)
{
	int fd = dial();
	EXPECT(fd >= 0, "slot must be back after %s", after);
	close(fd);
}

static void by_fork(int fd)
{
	pid_t pid = fork();
	EXPECT(pid >= 0, "fork");
	if (pid == 0) {
		/* The child's copy of the slot is the child's to free. */
		close(fd);
		int c = dial();
		_exit(c >= 0 ? 0 : 3);
	}
	int status;
	EXPECT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 0,
	       "child: its close must free its own copy of the slot");
	still_held("the child closed its copy");
	close(fd);
}

/* A child sharing this process's memory (vfork, clone with CLONE_VM)
 * closes its copy of the socket: the slot is the parent's, and stays held
 * until the parent closes it. */
static int close_in_child(void *fd)
{
	close(*(int *)fd);
	return 0;
}

static void by_shared_child(const char *method, int fd)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	pid_t pid;
	if (strcmp(method, "vfork") == 0) {
		pid = vfork();
		if (pid == 0) {
			close(fd);
			_exit(0);
		}
	} else {
		int flags = CLONE_VM | SIGCHLD | (method[6] == 'v' ? CLONE_VFORK : 0);
		pid = clone(close_in_child, stack + sizeof stack, flags, &fd);
	}
	int status;
	EXPECT(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status), "%s", method);
	still_held(method);
	EXPECT(close(fd) == 0, "close after the child");
}

static void let_go(const char *method, int fd)
{
	if (strcmp(method, "close") == 0) {
		EXPECT(close(fd) == 0, "close");
	} else if (strcmp(method, "close_range") == 0) {
		EXPECT(close_range((unsigned)fd, (unsigned)fd, CLOSE_RANGE_CLOEXEC) == 0,
		       "close_range cloexec");
		still_held("close_range(CLOSE_RANGE_CLOEXEC)");
		EXPECT(close_range((unsigned)fd, (unsigned)fd + 10, 0) == 0, "close_range");
	} else if (strcmp(method, "closefrom") == 0) {
		closefrom(fd);
		EXPECT(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "closefrom closed it");
	} else if (strcmp(method, "dup2") == 0) {
		int null = open("/dev/null", O_RDONLY);
		EXPECT(dup2(null, fd) == fd, "dup2 over the socket");
		close(null);
		released("dup2 over it");
		close(fd);
		return;
	} else if (strcmp(method, "dup") == 0 || strcmp(method, "fcntl_dupfd") == 0) {
		int copy = method[0] == 'd' ? dup(fd) : fcntl(fd, F_DUPFD_CLOEXEC, 100);
		EXPECT(copy >= 0 && (method[0] == 'd' || copy >= 100), "dup");
		close(fd);
		still_held("closing one of two numbers");
		close(copy);
	} else if (strcmp(method, "dup_chain") == 0) {
		/* The slot moves from the entry to a shared record at the
		 * first dup; every number counts until the last closes. */
		int a = dup(fd), b = dup2(fd, 90);
		EXPECT(a >= 0 && b == 90, "dup, dup2");
		close(fd);
		still_held("closing one of three numbers");
		int c = dup(a);
		EXPECT(c >= 0, "dup of a copy");
		close(a);
		close(b);
		still_held("closing two of three numbers");
		close(c);
	} else if (strcmp(method, "fork") == 0) {
		by_fork(fd);
	} else if (strcmp(method, "vfork") == 0 || strncmp(method, "clone_", 6) == 0) {
		by_shared_child(method, fd);
	} else if (strcmp(method, "fclose") == 0) {
		FILE *f = fdopen(fd, "r+");
		EXPECT(f != NULL, "fdopen");
		EXPECT(fclose(f) == 0, "fclose"); /* glibc closes internally */
	} else {
		EXPECT(0, "unknown method %s", method);
	}
	released(method);
}

/* The descriptor open on `path` (backstop's log), or -1. */
static int fd_of(const char *path)
{
	char want[PATH_MAX], link[PATH_MAX], name[300];
	EXPECT(realpath(path, want) != NULL, "realpath %s", path);
	DIR *d = opendir("/proc/self/fd");
	EXPECT(d != NULL, "/proc/self/fd");
	struct dirent *e;
	int found = -1;
	while ((e = readdir(d)) != NULL) {
		snprintf(name, sizeof name, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(name, link, sizeof link - 1);
		if (n > 0 && (link[n] = '\0', strcmp(link, want) == 0))
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

static void logfd(const char *logpath)
{
	int log = fd_of(logpath);
	EXPECT(log > 2, "backstop's log descriptor is open");
	EXPECT(close(log) == -1 && errno == EBADF, "close(log fd) must fail EBADF");

	int fd = held(); /* one cap.reject line */
	int null = open("/dev/null", O_RDONLY);
	struct stat want, got;
	EXPECT(dup2(null, log) == log, "dup2 over the log fd");
	EXPECT(fstat(log, &got) == 0 && fstat(null, &want) == 0 &&
		       got.st_rdev == want.st_rdev && got.st_ino == want.st_ino,
	       "the number is the program's now");
	still_held("dup2 over the log fd"); /* a second cap.reject line */

	closefrom(3);
	EXPECT(open("/dev/null", O_RDONLY) == 3, "after closefrom(3), open gives 3");
	(void)fd;
	listen_loopback();
	close(held()); /* a third cap.reject line */
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: cap_slots METHOD | cap_slots logfd LOGPATH\n");
		return 2;
	}
	listen_loopback();
	if (strcmp(argv[1], "logfd") == 0 && argc == 3)
		logfd(argv[2]);
	else
		let_go(argv[1], held());
	printf("ok\n");
	return 0;
}
