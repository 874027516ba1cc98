/* The managed outbound connect: rule lookup, cap slot, attempts bounded
 * in time with retries (engine/connect_retry.h), and the bookkeeping after. The
 * exported connect (preload/connect.c) is a thin shim over this. */
#ifndef BS_OUTBOUND_H
#define BS_OUTBOUND_H

#include <stdbool.h>
#include <sys/socket.h>

#include "preload/runtime.h"

/* Whether backstop manages connects to this kind of address at all
 * (AF_INET, AF_INET6, AF_UNIX); everything else goes straight to libc. */
static inline bool bs_outbound_family(const struct sockaddr *sa, socklen_t len)
{
	return sa != NULL && len >= sizeof(sa_family_t) &&
	       (sa->sa_family == AF_INET || sa->sa_family == AF_INET6 ||
		sa->sa_family == AF_UNIX);
}

/* connect(2) with the policy applied: same return value and errno
 * contract as connect; errno is left untouched on success. */
int bs_outbound_connect(struct bs_runtime *rt, int fd, const struct sockaddr *sa,
			socklen_t len);

/* The backoff pause of the connect retries, for the other blocking retry
 * loops (name lookups): 0, or EINTR when a handler installed without
 * SA_RESTART ran (a restarting one lets the pause go on). */
int bs_outbound_pause(bs_ns delay);

#endif
