/* Raw system calls for the functions the preload interposes
 * (preload/hooks.def). Inside libbackstop-preload.so a plain close() or
 * fcntl() from engine/ or policy/ would bind to the preload's own wrapper,
 * which must only ever see the program's calls; these go straight to the
 * kernel. Everything outside preload/ uses them instead of the libc
 * names, and tests/integration/test_layers.sh proves it from the objects.
 *
 * Each returns what the system call returns (-1 with errno on failure). */
#ifndef BS_SYS_H
#define BS_SYS_H

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline int bs_sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

/* fcntl with an integer argument (F_GETFD, F_DUPFD_CLOEXEC, ...). */
static inline int bs_sys_fcntl(int fd, int cmd, long arg)
{
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

static inline ssize_t bs_sys_read(int fd, void *buf, size_t len)
{
	return syscall(SYS_read, fd, buf, len);
}

static inline ssize_t bs_sys_write(int fd, const void *buf, size_t len)
{
	return syscall(SYS_write, fd, buf, len);
}

static inline ssize_t bs_sys_send(int fd, const void *buf, size_t len, int flags)
{
	return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

/* nanosleep(2), restartable by the caller with rem. */
static inline int bs_sys_nanosleep(const struct timespec *req, struct timespec *rem)
{
	return (int)syscall(SYS_nanosleep, req, rem);
}

#endif
