/* A library whose calls fail the first WRAPF_FAILS times (default 3) in
 * each process, the way a busy resource does: the subject of the declared
 * wrapper tests (tests/integration/test_wrap_*.sh). Linked -z now with full
 * RELRO, like the programs that call it. */
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>

#define BUSY 5 /* like SQLITE_BUSY */

static int failures_left(void)
{
	static int left = -1;
	if (left < 0) {
		const char *s = getenv("WRAPF_FAILS");
		left = s ? atoi(s) : 3;
	}
	return left > 0 ? left-- : 0;
}

/* BUSY while failing, then 0. */
int wrapf_busy(void)
{
	return failures_left() ? BUSY : 0;
}

/* NULL while failing, then a buffer. */
void *wrapf_alloc(size_t size)
{
	static char buf[64];
	return failures_left() || size > sizeof buf ? NULL : buf;
}

/* -1 with errno err while failing, then n. */
ssize_t wrapf_take(int err, size_t n)
{
	if (failures_left()) {
		errno = err;
		return -1;
	}
	return (ssize_t)n;
}

/* Calls back into the program: a wrapped call made from inside another
 * one must reach the real function once, unretried. */
int wrapf_call(int (*fn)(void))
{
	return fn();
}
