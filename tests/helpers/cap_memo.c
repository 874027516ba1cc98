/* Connects that alternate between a capped and an uncapped destination in
 * one thread get each destination's own rule: the rule a thread
 * remembers for its latest destination (preload/destmemo.h) must never
 * answer for another address. Run under a policy with max_conns = 1 and
 * on_cap = fail for 127.0.0.1 only.
 *
 *   cap_memo        prints "ok", or the first broken expectation, exit 1 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXPECT(cond, what)                                                          \
	do {                                                                        \
		if (!(cond)) {                                                      \
			printf("line %d: %s (errno %s)\n", __LINE__, what,          \
			       strerrorname_np(errno));                             \
			exit(1);                                                    \
		}                                                                   \
	} while (0)

/* A listener nobody accepts on (connects complete in its backlog). */
static struct sockaddr_in listen_on(const char *ip)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	inet_pton(AF_INET, ip, &a.sin_addr);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, len) == 0 && listen(lfd, 64) == 0 &&
		       getsockname(lfd, (struct sockaddr *)&a, &len) == 0,
	       "listen");
	return a;
}

/* connect; the fd, or -1 with errno. */
static int dial(const struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT(fd >= 0, "socket");
	if (connect(fd, (const struct sockaddr *)to, sizeof *to) == 0)
		return fd;
	int err = errno;
	close(fd);
	errno = err;
	return -1;
}

int main(void)
{
	struct sockaddr_in capped = listen_on("127.0.0.1"), uncapped = listen_on("127.0.0.2");
	int held = dial(&capped);
	EXPECT(held >= 0, "first connect to the capped destination");
	int a = dial(&uncapped), b = dial(&uncapped);
	EXPECT(a >= 0 && b >= 0, "the uncapped destination takes two connects");
	EXPECT(dial(&capped) < 0 && errno == EAGAIN,
	       "back to the capped destination: its cap must apply (EAGAIN)");
	int c = dial(&uncapped);
	EXPECT(c >= 0, "back to the uncapped destination: no cap may apply");
	close(held);
	held = dial(&capped);
	EXPECT(held >= 0, "the slot must be back after close");
	printf("ok\n");
	return 0;
}
