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

/* bs_runtime.plain_bound for this policy (set once at start-up). */
bs_ns bs_outbound_plain_bound(const struct bs_policy *policy);

#endif
