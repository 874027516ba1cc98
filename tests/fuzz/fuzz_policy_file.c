/* The policy file parser, end to end: bytes as a policy file through
 * bs_policy_load. A good policy is also matched against a few addresses
 * (and a host name) and described; a bad one must leave a message
 * saying where. */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/fuzz/fuzz.h"

static void match_some(const struct bs_policy *p)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(5432),
				 .sin_addr.s_addr = htonl(0x0a010203)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(80),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_un un = {.sun_family = AF_UNIX,
				 .sun_path = "/run/postgresql/.s.PGSQL.5432"};
	FUZZ_ASSERT(bs_policy_match(p, (struct sockaddr *)&v4, sizeof v4));
	FUZZ_ASSERT(bs_policy_match(p, (struct sockaddr *)&v6, sizeof v6));
	FUZZ_ASSERT(bs_policy_match(p, (struct sockaddr *)&un, sizeof un));
	const struct bs_rule *named = bs_policy_match_name(p, "db.internal", 5432);
	FUZZ_ASSERT(named == NULL || named == &p->rules[named->index]);
	FUZZ_ASSERT(bs_policy_match_name(p, "", 1) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	static FILE *devnull;
	if (fd < 0) {
		fd = memfd_create("policy", 0);
		/* memfds are mode 0777: as root, that is a writable policy. */
		FUZZ_ASSERT(fd >= 0 && fchmod(fd, 0600) == 0);
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		devnull = fopen("/dev/null", "w");
	}
	FUZZ_ASSERT(ftruncate(fd, 0) == 0);
	FUZZ_ASSERT(pwrite(fd, data, size, 0) == (ssize_t)size);

	struct bs_load_options opts = {.path = path};
	struct bs_policy *p = NULL;
	struct bs_error err;
	if (bs_policy_load(&opts, &p, &err) == 0) {
		match_some(p);
		bs_policy_describe(p, devnull);
		bs_policy_free(p);
	} else {
		FUZZ_ASSERT(p == NULL);
		FUZZ_ASSERT(strncmp(err.msg, path, strlen(path)) == 0);
	}
	return 0;
}
