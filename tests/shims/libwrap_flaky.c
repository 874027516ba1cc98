/* A library whose calls fail the first WRAPF_FAILS times (default 3) in
 * each process, the way a busy resource does: the subject of the declared
 * wrapper tests (tests/integration/test_wrap_*.sh). Linked -z now with full
 * RELRO, like the programs that call it. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>

#define BUSY 5 /* like SQLITE_BUSY */

static int left = -1;

/* Thread-safe: the failures are shared by every caller of the process. */
static int failures_left(void)
{
	int now = __atomic_load_n(&left, __ATOMIC_ACQUIRE);
	if (now < 0) {
		const char *s = getenv("WRAPF_FAILS");
		int start = s ? atoi(s) : 3;
		__atomic_compare_exchange_n(&left, &now, start, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE);
	}
	now = __atomic_load_n(&left, __ATOMIC_ACQUIRE);
	while (now > 0 && !__atomic_compare_exchange_n(&left, &now, now - 1, false,
						     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	return now > 0;
}

/* Fail the next n calls (a forked child starts its own series). */
void wrapf_reset(int n)
{
	__atomic_store_n(&left, n, __ATOMIC_RELEASE);
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
