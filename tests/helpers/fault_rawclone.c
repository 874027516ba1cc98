/* A retried connect in the child of a raw clone system call.
 *
 *   fault_rawclone PORT
 *
 * The parent makes one connect to 127.0.0.1:PORT (refused: the server is
 * down), so that backstop's retry pauses start its watchdog thread. Then
 * a child is made with syscall(SYS_clone): glibc runs no fork handler, so
 * the child inherits "the watchdog runs" without the thread. The child
 * connects again; its retry pauses must end on their own. Prints
 * "parent=ERRNO child=ERRNO" (names), exit 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int try_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int err = connect(s, (struct sockaddr *)&sin, sizeof sin) == 0 ? 0 : errno;
	close(s);
	return err;
}

static const char *name(int err)
{
	return err == 0 ? "0" : err == ECONNREFUSED ? "ECONNREFUSED" : strerror(err);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fault_rawclone PORT\n");
		return 2;
	}
	int port = atoi(argv[1]);
	int parent = try_connect(port);
	long pid = syscall(SYS_clone, SIGCHLD, 0L, 0L, 0L, 0L);
	if (pid < 0) {
		perror("clone");
		return 1;
	}
	if (pid == 0)
		_exit(try_connect(port) == ECONNREFUSED ? 0 : 1);
	int status;
	if (waitpid((pid_t)pid, &status, 0) < 0) {
		perror("waitpid");
		return 1;
	}
	printf("parent=%s child=%s\n", name(parent),
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ECONNREFUSED" : "other");
	return 0;
}
