/* A setuid-root program with backstop linked in (not preloaded: ld.so
 * ignores LD_PRELOAD paths under secure execution). mk/helpers.mk links it
 * against the library; test_fault_setuid.sh installs a copy setuid root and
 * runs it as an unprivileged user.
 *
 *   fault_setuid DEST      DEST = 127.0.0.1:PORT
 *
 * Prints "secure=S ruid=R euid=E" (S: getauxval(AT_SECURE)) and, after
 * one blocking connect to DEST, "connect rc=R errno=NAME". backstop's log
 * goes where the policy in effect says. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	char host[64];
	int port;
	if (argc != 2 || sscanf(argv[1], "%63[^:]:%d", host, &port) != 2 ||
	    inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "usage: fault_setuid 127.0.0.1:PORT\n");
		return 2;
	}
	sin.sin_port = htons((uint16_t)port);
	printf("secure=%lu ruid=%u euid=%u\n", getauxval(AT_SECURE), (unsigned)getuid(),
	       (unsigned)geteuid());
	fflush(stdout);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
	int err = rc == 0 ? 0 : errno;
	printf("connect rc=%d errno=%s\n", rc, err ? strerrorname_np(err) : "0");
	close(fd);
	return 0;
}
