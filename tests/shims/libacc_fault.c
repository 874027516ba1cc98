/* Fault injection for the accept tests: an LD_PRELOAD shim that makes
 * accept4 (and accept) fail with a scripted sequence of errors before it
 * hands over to the real call. Preloaded after libbackstop-preload.so, it is what
 * backstop's dlsym(RTLD_NEXT, "accept4") finds, so backstop reacts to
 * these errors exactly as to the kernel's.
 *
 *   BACKSTOP_TEST_ACCEPT_FAULTS=STEP[,STEP]...
 *     STEP = ERRNAME[*N] | ok[*N]
 * One step per call, across every listener and thread: ERRNAME (any
 * symbolic errno, e.g. ECONNABORTED, EMFILE) fails the call with it and
 * leaves the pending connection queued; "ok" passes the call through.
 * Once the script is used up, every call passes through. A bad script
 * is reported on stderr and kills the process (exit 2): a test must not
 * run on a misread script. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_STEPS 256
#define PASS 0

static int script[MAX_STEPS]; /* an errno, or PASS */
static unsigned n_steps;
static atomic_uint next_step;

static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);

_Noreturn static void bad_script(const char *why, const char *at)
{
	fprintf(stderr, "libacc_fault: BACKSTOP_TEST_ACCEPT_FAULTS: %s at '%s'\n",
		why, at);
	exit(2);
}

static int errno_named(const char *name, size_t len)
{
	if (len == 2 && strncmp(name, "ok", 2) == 0)
		return PASS;
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);
		if (n && strlen(n) == len && strncmp(n, name, len) == 0)
			return e;
	}
	bad_script("unknown errno name", name);
}

__attribute__((constructor)) static void load_script(void)
{
	real_accept4 = (int (*)(int, struct sockaddr *, socklen_t *, int))
		dlsym(RTLD_NEXT, "accept4");
	const char *s = getenv("BACKSTOP_TEST_ACCEPT_FAULTS");
	while (s && *s) {
		size_t len = strcspn(s, "*,");
		int err = errno_named(s, len);
		unsigned long times = 1;
		const char *end = s + len;
		if (*end == '*') {
			char *num_end;
			times = strtoul(end + 1, &num_end, 10);
			if (num_end == end + 1 || times == 0)
				bad_script("bad repeat count", s);
			end = num_end;
		}
		if (*end != ',' && *end != '\0')
			bad_script("expected ','", end);
		if (times > MAX_STEPS - n_steps)
			bad_script("script too long", s);
		while (times--)
			script[n_steps++] = err;
		s = *end ? end + 1 : end;
	}
}

int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	unsigned step = atomic_fetch_add(&next_step, 1);
	if (step < n_steps && script[step] != PASS) {
		errno = script[step];
		return -1;
	}
	return real_accept4(fd, addr, addrlen, flags);
}

int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return accept4(fd, addr, addrlen, 0);
}
