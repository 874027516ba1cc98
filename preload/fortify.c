/* The _FORTIFY_SOURCE variants of the calls async.h follows: a program
 * built with it calls __poll_chk, __read_chk, ... which reach libc's
 * poll and read without going through the dynamic linker, so the plain
 * wrappers would never see them. Each checks its buffer as libc does
 * (handing a bad one to the real function, which aborts), then goes
 * through the plain wrapper. */
#include "preload/async.h"
#include "preload/real.h"

BS_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t fdslen)
{
	if (fdslen / sizeof *fds < n)
		return BS_REAL(__poll_chk)(fds, n, ms, fdslen);
	return poll(fds, n, ms);
}

BS_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
			  const sigset_t *mask, size_t fdslen)
{
	if (fdslen / sizeof *fds < n)
		return BS_REAL(__ppoll_chk)(fds, n, timeout, mask, fdslen);
	return ppoll(fds, n, timeout, mask);
}

BS_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		return BS_REAL(__read_chk)(fd, buf, n, buflen);
	return read(fd, buf, n);
}

BS_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		return BS_REAL(__recv_chk)(fd, buf, n, buflen, flags);
	return recv(fd, buf, n, flags);
}

BS_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *from, socklen_t *len)
{
	if (n > buflen)
		return BS_REAL(__recvfrom_chk)(fd, buf, n, buflen, flags, from, len);
	return recvfrom(fd, buf, n, flags, from, len);
}
