/* dup, dup2, dup3 and fcntl(F_DUPFD*): a new number for a socket that
 * holds a cap slot shares the slot; dup2/dup3 over a tracked number lets
 * go of the socket that was there; backstop's private descriptors can be
 * neither duplicated (the program never opened them) nor overwritten
 * (they are moved away first). Every other fcntl command passes through
 * with its argument untouched. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "preload/async.h"
#include "preload/epreg.h"
#include "preload/fdtrack.h"
#include "preload/real.h"
#include "preload/runtime.h"

/* What the real call needs after the bookkeeping: a uniform shape for
 * dup, dup2, dup3 and the two fcntl entry points. */
struct dup_call {
	int kind;      /* DUP_*, below */
	int oldfd;
	int newfd;     /* dup2/dup3 target; F_DUPFD minimum */
	int flags;     /* dup3 flags; fcntl command */
	int (*fcntl_fn)(int, int, ...);
};

enum { DUP_DUP, DUP_DUP2, DUP_DUP3, DUP_FCNTL };

static int enosys(void)
{
	errno = ENOSYS;
	return -1;
}

static int dup_real(const struct dup_call *c)
{
	int (*d)(int);
	int (*d2)(int, int);
	int (*d3)(int, int, int);
	switch (c->kind) {
	case DUP_DUP:
		return (d = BS_REAL(dup)) ? d(c->oldfd) : enosys();
	case DUP_DUP2:
		return (d2 = BS_REAL(dup2)) ? d2(c->oldfd, c->newfd) : enosys();
	case DUP_DUP3:
		return (d3 = BS_REAL(dup3)) ? d3(c->oldfd, c->newfd, c->flags) : enosys();
	default:
		return c->fcntl_fn ? c->fcntl_fn(c->oldfd, c->flags, c->newfd) : enosys();
	}
}

static bool replaces(const struct dup_call *c)
{
	return c->kind == DUP_DUP2 || c->kind == DUP_DUP3;
}

/* The slow path: some descriptor involved is tracked or private. */
static __attribute__((noinline)) int dup_watched(const struct dup_call *c)
{
	if (bs_shared_child())
		return dup_real(c); /* vfork: the tables are the parent's */
	if (bs_fdtrack_is_private(c->oldfd)) {
		errno = EBADF; /* not a number the program opened */
		return -1;
	}
	/* dup2(fd, fd) changes nothing (and dup3 rejects it): no bookkeeping. */
	if (replaces(c) && c->oldfd == c->newfd)
		return dup_real(c);
	if (replaces(c))
		bs_fdtrack_vacate(c->newfd);
	uint32_t ref = bs_fdtrack_ref(c->oldfd);
	uint32_t displaced = replaces(c) ? bs_fdtrack_take(c->newfd) : 0;
	int r = dup_real(c);
	int saved = errno;
	if (r < 0) {
		if (replaces(c))
			bs_fdtrack_restore(c->newfd, displaced);
		bs_fdtrack_put(ref);
	} else {
		bs_fdtrack_put(displaced);
		bs_fdtrack_adopt(r, ref);
	}
	errno = saved;
	return r;
}

static int dup_any(const struct dup_call *c)
{
	if (replaces(c) && c->oldfd != c->newfd) {
		/* The number is the program's to reuse: no retry goes to it. */
		bs_async_forget(c->newfd);
		bs_epreg_forget(c->newfd);
	}
	if (bs_fdtrack_watched(c->oldfd) || (replaces(c) && bs_fdtrack_watched(c->newfd)))
		return dup_watched(c);
	return dup_real(c);
}

BS_EXPORT int dup(int oldfd)
{
	return dup_any(&(struct dup_call){ .kind = DUP_DUP, .oldfd = oldfd });
}

BS_EXPORT int dup2(int oldfd, int newfd)
{
	return dup_any(&(struct dup_call){ .kind = DUP_DUP2, .oldfd = oldfd, .newfd = newfd });
}

BS_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return dup_any(&(struct dup_call){
		.kind = DUP_DUP3, .oldfd = oldfd, .newfd = newfd, .flags = flags });
}

/* fcntl's third argument is an int, a pointer or absent depending on the
 * command; like glibc, read it as a pointer-sized value and hand it on
 * unchanged, so every command keeps its argument. */
static int fcntl_any(int (*fn)(int, int, ...), int fd, int cmd, void *arg)
{
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return dup_any(&(struct dup_call){ .kind = DUP_FCNTL, .oldfd = fd,
						   .newfd = (int)(intptr_t)arg,
						   .flags = cmd, .fcntl_fn = fn });
	return fn ? fn(fd, cmd, arg) : enosys();
}

BS_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_any(BS_REAL(fcntl), fd, cmd, arg);
}

BS_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_any(BS_REAL(fcntl64), fd, cmd, arg);
}
