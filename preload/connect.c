/* The exported connect: hand over to the managed path, or to libc while
 * backstop initialises and for families it does not manage. */
#include "preload/outbound.h"
#include "preload/real.h"

/* glibc declares connect with a transparent union for the address under
 * _GNU_SOURCE; __CONST_SOCKADDR_ARG matches that declaration. */
BS_EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	struct bs_runtime *rt = bs_runtime();
	/* An address the kernel would refuse (EFAULT) is the kernel's to
	 * refuse: backstop reads none of it. */
	if (rt == NULL || !bs_readable(sa, len) || !bs_outbound_family(sa, len))
		return BS_REAL(connect)(fd, sa, len);
	return bs_outbound_connect(rt, fd, sa, len);
}
