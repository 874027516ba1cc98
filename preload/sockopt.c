/* getsockopt(SO_ERROR) on a socket whose asynchronous connect is pending:
 * 0 while it is in progress (a retry included), the final error once when
 * backstop gave up, as the kernel says of one slow connect. Every other
 * option, and every socket with nothing pending, is libc's. */
#include <errno.h>
#include <string.h>

#include "preload/async.h"
#include "preload/real.h"

/* The kernel's contract for an int option: a negative length is EINVAL;
 * min(length, sizeof(int)) bytes are written and the length updated. */
static int int_option(int value, void *val, socklen_t *len)
{
	if ((int)*len < 0) {
		errno = EINVAL;
		return -1;
	}
	if (*len > sizeof value)
		*len = sizeof value;
	memcpy(val, &value, *len);
	return 0;
}

static __attribute__((noinline)) int so_error(int fd, void *val, socklen_t *len)
{
	int err;
	switch (bs_async_check(fd, &err)) {
	case BS_ASYNC_NONE:
		return BS_REAL(getsockopt)(fd, SOL_SOCKET, SO_ERROR, val, len);
	case BS_ASYNC_FAILED:
		/* Read once, as the kernel clears the socket's error. */
		bs_async_consume(fd, false);
		return int_option(err, val, len);
	default:
		return int_option(0, val, len);
	}
}

BS_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	if (__builtin_expect(!bs_async_any(), 1) || level != SOL_SOCKET || name != SO_ERROR ||
	    val == NULL || len == NULL)
		return BS_REAL(getsockopt)(fd, level, name, val, len);
	return so_error(fd, val, len);
}
