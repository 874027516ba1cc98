/* accept and accept4: thin exported wrappers over preload/inbound.c. */
#include "preload/inbound.h"
#include "preload/real.h"

BS_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return bs_inbound_accept(fd, addr, addrlen, 0);
}

BS_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen,
		      int flags)
{
	return bs_inbound_accept(fd, addr, addrlen, flags);
}
