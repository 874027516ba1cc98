/* A legacy client with a fixed retry delay: connect, and on failure sleep
 * the same short time and try again. Self-contained: it refuses itself
 * (a bound socket that does not listen answers ECONNREFUSED).
 *
 *   sleep_legacy_client FUNC FAILURES
 *     FUNC: usleep | nanosleep | clock_nanosleep (each sleeps 2 ms)
 * Order of sleeps: one before any connect (not a retry sleep), FAILURES
 * failed connects each followed by a sleep (retry sleeps, streak 1..N),
 * then a successful connect followed by a sleep (not a retry sleep). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DELAY_US 2000

static const char *func;

static void fixed_sleep(void)
{
	struct timespec ts = {0, DELAY_US * 1000L};
	if (strcmp(func, "usleep") == 0)
		usleep(DELAY_US);
	else if (strcmp(func, "nanosleep") == 0)
		nanosleep(&ts, NULL);
	else
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

/* A socket bound to 127.0.0.1:0, listening or not; its address in *in. */
static int bound(int do_listen, struct sockaddr_in *in)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	*in = (struct sockaddr_in){.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof *in;
	if (fd < 0 || bind(fd, (struct sockaddr *)in, len) != 0 ||
	    (do_listen && listen(fd, 8) != 0) ||
	    getsockname(fd, (struct sockaddr *)in, &len) != 0) {
		perror("bind");
		exit(2);
	}
	return fd;
}

static int try_connect(const struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int r = connect(fd, (const struct sockaddr *)to, sizeof *to);
	int err = r == 0 ? 0 : errno;
	close(fd);
	return err;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: sleep_legacy_client FUNC FAILURES\n");
		return 2;
	}
	func = argv[1];
	int failures = atoi(argv[2]);
	struct sockaddr_in refusing, listening;
	bound(0, &refusing);
	bound(1, &listening);

	fixed_sleep();
	for (int i = 0; i < failures; i++) {
		int err = try_connect(&refusing);
		if (err != ECONNREFUSED) {
			fprintf(stderr, "expected ECONNREFUSED, got %s\n", strerror(err));
			return 1;
		}
		fixed_sleep();
	}
	if (try_connect(&listening) != 0) {
		fprintf(stderr, "connect to the listener failed\n");
		return 1;
	}
	fixed_sleep();
	printf("done\n");
	return 0;
}
