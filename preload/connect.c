/* The exported connect: hand over to the managed path, or to libc while
 * backstop initialises and for families it does not manage. A connect
 * repeated on a socket whose asynchronous connect is pending (hiredis and
 * others learn the outcome that way) gets what the kernel would say of
 * one slow connect: EALREADY while in progress, the final error once. */
#include <errno.h>

#include "preload/async.h"
#include "preload/outbound.h"
#include "preload/real.h"

/* Everything but the common connect: a connect while some asynchronous
 * connect is pending (one repeated on that socket is answered here),
 * before the runtime is ready, to an address whose page this thread has
 * not read yet, or of a family backstop does not manage. An address the
 * kernel would refuse (EFAULT) is the kernel's to refuse: backstop reads
 * none of it. */
static __attribute__((noinline)) int connect_other(int fd, const struct sockaddr *sa,
						   socklen_t len)
{
	int err;
	switch (bs_async_any() ? bs_async_check(fd, &err) : BS_ASYNC_NONE) {
	case BS_ASYNC_NONE: /* none, or it just connected: the kernel answers */
		break;
	case BS_ASYNC_FAILED:
		/* Like the kernel after a failed connect: the error once, and
		 * the socket unconnected, ready for a new connect. */
		bs_async_consume(fd, true);
		errno = err;
		return -1;
	default:
		errno = EALREADY;
		return -1;
	}
	struct bs_runtime *rt = bs_runtime();
	if (rt == NULL || !bs_readable(sa, len) || !bs_outbound_family(sa, len))
		return BS_REAL(connect)(fd, sa, len);
	return bs_outbound_connect(rt, fd, sa, len);
}

/* glibc declares connect with a transparent union for the address under
 * _GNU_SOURCE; __CONST_SOCKADDR_ARG matches that declaration. Only
 * loads, tests and a tail call: the common connect adds no frame here. */
BS_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	struct bs_runtime *rt = atomic_load_explicit(&bs_runtime_ready, memory_order_acquire);
	if (__builtin_expect(!bs_async_any() && rt != NULL && bs_readable_known(sa, len) &&
			     bs_outbound_family(sa, len), 1))
		return bs_outbound_connect(rt, fd, sa, len);
	return connect_other(fd, sa, len);
}
