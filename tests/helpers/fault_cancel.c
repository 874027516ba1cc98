/* Threads cancelled inside connect (issue 10, defect 6). Under a policy
 * with max_conns = 1, cap_scope = host, on_cap = fail and the log on fd 3
 * (a pipe this program reads), three threads in turn connect to TARGET
 * and are cancelled as soon as their connect.retry line arrives: inside
 * the backoff pause (TARGET refuses) or inside the next attempt (TARGET
 * never answers). Then one more connect, to LISTENER on the same host,
 * must get the slot the cancelled threads held in turn, and no timerfd or
 * other descriptor may be left behind. Prints "fds_before=N fds_after=M",
 * the program's SO_SNDTIMEO on each cancelled socket, and the outcome of
 * the last connect.
 *
 *   fault_cancel TARGET_PORT LISTENER_PORT  (3> the log pipe's write end,
 *                                            4< its read end) */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int target_port;

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return in;
}

static void *connector(void *arg)
{
	int fd = *(int *)arg;
	struct sockaddr_in in = loopback(target_port);
	connect(fd, (struct sockaddr *)&in, sizeof in);
	return NULL; /* not reached: cancelled first */
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* Read the log until a connect.retry line has come; a cap.reject first
 * means an earlier thread's slot was never given back. */
static void await_retry(FILE *log)
{
	char line[4096];
	while (fgets(line, sizeof line, log)) {
		if (strstr(line, "\"event\":\"connect.retry\""))
			return;
		if (strstr(line, "\"event\":\"cap.reject\"")) {
			fprintf(stderr, "fault_cancel: slot leaked: %s", line);
			exit(1);
		}
	}
	fprintf(stderr, "fault_cancel: the log ended before a connect.retry line\n");
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fault_cancel TARGET_PORT LISTENER_PORT\n");
		return 2;
	}
	target_port = atoi(argv[1]);
	FILE *log = fdopen(4, "r");
	int sockets[3];
	for (int i = 0; i < 3; i++)
		sockets[i] = socket(AF_INET, SOCK_STREAM, 0);
	int before = open_fds();
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		pthread_create(&t, NULL, connector, &sockets[i]);
		await_retry(log);
		pthread_cancel(t);
		void *res;
		pthread_join(t, &res);
		if (res != PTHREAD_CANCELED) {
			fprintf(stderr, "fault_cancel: thread %d was not cancelled\n", i);
			return 1;
		}
	}
	int after = open_fds();
	printf("fds_before=%d fds_after=%d\n", before, after);
	for (int i = 0; i < 3; i++) {
		struct timeval tv;
		socklen_t len = sizeof tv;
		getsockopt(sockets[i], SOL_SOCKET, SO_SNDTIMEO, &tv, &len);
		printf("sndtimeo=%ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
		close(sockets[i]);
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = loopback(atoi(argv[2]));
	int rc = connect(fd, (struct sockaddr *)&in, sizeof in);
	printf("last connect rc=%d errno=%s\n", rc, rc ? strerrorname_np(errno) : "0");
	return 0;
}
