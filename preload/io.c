/* read, write and the socket I/O calls on a socket whose asynchronous
 * connect is pending: EAGAIN while it is in progress (a retry included),
 * as the kernel says of a nonblocking socket still connecting; the final
 * error once when backstop gave up (as the kernel reports a failed
 * connect to the next I/O call, without SIGPIPE). A socket the program
 * made blocking meanwhile waits for the outcome, as a blocking call on a
 * connecting socket does. With nothing pending, each wrapper costs one
 * load before the real call. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>

#include "preload/async.h"
#include "preload/real.h"

/* Whether fd has a pending connect that decides the call: then *r is
 * what the call returns (errno set). */
static __attribute__((noinline)) bool pending(int fd, ssize_t *r)
{
	for (;;) {
		int err;
		switch (bs_async_check(fd, &err)) {
		case BS_ASYNC_NONE:
			return false;
		case BS_ASYNC_FAILED:
			bs_async_consume(fd, false);
			errno = err;
			*r = -1;
			return true;
		default:
			break;
		}
		int flags = BS_REAL(fcntl)(fd, F_GETFL);
		if (flags < 0 || (flags & O_NONBLOCK)) {
			errno = EAGAIN;
			*r = -1;
			return true;
		}
		/* Blocking: wait through the managed poll, which drives the
		 * retries, until the outcome is known. */
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, -1) < 0) {
			*r = -1;
			return true;
		}
	}
}

#define PENDING_GUARD(fd)                                         \
	do {                                                      \
		ssize_t r_;                                       \
		if (__builtin_expect(bs_async_any(), 0) && pending(fd, &r_)) \
			return r_;                                \
	} while (0)

BS_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	PENDING_GUARD(fd);
	return BS_REAL(read)(fd, buf, n);
}

BS_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	PENDING_GUARD(fd);
	return BS_REAL(write)(fd, buf, n);
}

BS_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	PENDING_GUARD(fd);
	return BS_REAL(recv)(fd, buf, n, flags);
}

BS_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	PENDING_GUARD(fd);
	return BS_REAL(send)(fd, buf, n, flags);
}

BS_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	PENDING_GUARD(fd);
	return BS_REAL(readv)(fd, iov, n);
}

BS_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	PENDING_GUARD(fd);
	return BS_REAL(writev)(fd, iov, n);
}

BS_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
			   socklen_t *len)
{
	PENDING_GUARD(fd);
	return BS_REAL(recvfrom)(fd, buf, n, flags, from, len);
}

BS_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			 const struct sockaddr *to, socklen_t len)
{
	PENDING_GUARD(fd);
	return BS_REAL(sendto)(fd, buf, n, flags, to, len);
}

BS_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	PENDING_GUARD(fd);
	return BS_REAL(recvmsg)(fd, msg, flags);
}

BS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	PENDING_GUARD(fd);
	return BS_REAL(sendmsg)(fd, msg, flags);
}
