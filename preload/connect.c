/* The exported connect: hand over to the managed path, or to libc while
 * backstop initialises and for families it does not manage. A connect
 * repeated on a socket whose asynchronous connect is pending (hiredis and
 * others learn the outcome that way) gets what the kernel would say of
 * one slow connect: EALREADY while in progress, the final error once. */
#include <errno.h>

#include "preload/async.h"
#include "preload/outbound.h"
#include "preload/real.h"

/* Returns whether fd had a pending connect, and then *r is the result. */
static __attribute__((noinline)) bool repeated(int fd, int *r)
{
	int err;
	switch (bs_async_check(fd, &err)) {
	case BS_ASYNC_NONE: /* none, or it just connected: the kernel answers */
		return false;
	case BS_ASYNC_FAILED:
		/* Like the kernel after a failed connect: the error once, and
		 * the socket unconnected, ready for a new connect. */
		bs_async_consume(fd, true);
		break;
	default:
		err = EALREADY;
		break;
	}
	errno = err;
	*r = -1;
	return true;
}

/* glibc declares connect with a transparent union for the address under
 * _GNU_SOURCE; __CONST_SOCKADDR_ARG matches that declaration. */
BS_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	int r;
	if (bs_async_any() && repeated(fd, &r))
		return r;
	struct bs_runtime *rt = bs_runtime();
	/* An address the kernel would refuse (EFAULT) is the kernel's to
	 * refuse: backstop reads none of it. */
	if (rt == NULL || !bs_readable(sa, len) || !bs_outbound_family(sa, len))
		return BS_REAL(connect)(fd, sa, len);
	return bs_outbound_connect(rt, fd, sa, len);
}
