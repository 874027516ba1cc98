/* The managed accept path behind accept() and accept4(): per-client caps
 * with immediate shedding, backoff on descriptor exhaustion, retry of
 * transient errors in blocking accepts, and io_timeout on accepted
 * sockets. See docs/inbound.md. */
#ifndef BS_INBOUND_H
#define BS_INBOUND_H

#include <sys/socket.h>

/* accept4(2) under the [accept] policy; accept(2) is flags == 0.
 * Returns and sets errno exactly as accept4 does. */
int bs_inbound_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
		      int flags);

#endif
