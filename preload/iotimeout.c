/* io_timeout: bound every blocking receive and send on a socket, so a
 * stalled peer cannot hold a thread forever. Each option is set only when
 * the socket does not carry a value already: a timeout the program set
 * (or that an accepted socket inherited from its listener, as Linux copies
 * socket options on accept) is never overridden. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "preload/real.h"
#include "preload/runtime.h"

static void set_timeval_if_unset(int fd, int opt, bs_ns timeout)
{
	struct timeval cur = {0, 0};
	socklen_t len = sizeof cur;
	if (BS_REAL(getsockopt)(fd, SOL_SOCKET, opt, &cur, &len) != 0)
		return;
	if (cur.tv_sec != 0 || cur.tv_usec != 0)
		return;
	struct timeval tv = {
		.tv_sec = (time_t)(timeout / BS_SEC),
		.tv_usec = (suseconds_t)(timeout % BS_SEC / 1000),
	};
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1; /* below 1us: 0 would mean "no timeout" */
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

/* TCP_USER_TIMEOUT also bounds how long sent data may stay unacknowledged
 * (a peer that vanished), which SO_SNDTIMEO alone does not. */
static void set_tcp_user_timeout_if_unset(int fd, bs_ns timeout)
{
	int proto = 0;
	socklen_t len = sizeof proto;
	if (BS_REAL(getsockopt)(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) != 0 ||
	    proto != IPPROTO_TCP)
		return;
	unsigned int cur = 0;
	len = sizeof cur;
	if (BS_REAL(getsockopt)(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &cur, &len) != 0 ||
	    cur != 0)
		return;
	bs_ns ms = timeout / BS_MS;
	unsigned int val = ms == 0 ? 1 : ms > UINT32_MAX ? UINT32_MAX : (unsigned int)ms;
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &val, sizeof val);
}

void bs_apply_io_timeout(int fd, bs_ns timeout)
{
	if (timeout == 0)
		return;
	int saved = errno;
	set_timeval_if_unset(fd, SO_RCVTIMEO, timeout);
	set_timeval_if_unset(fd, SO_SNDTIMEO, timeout);
	set_tcp_user_timeout_if_unset(fd, timeout);
	errno = saved;
}
