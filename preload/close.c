/* close, close_range and closefrom: give a socket's cap slot back once
 * its last descriptor is gone, stop a pending asynchronous connect on it
 * at once (preload/async.h), and keep backstop's private descriptors
 * (the log) out of the program's reach. Every wrapper returns exactly
 * what the real call returned, with its errno. */
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/fdgaps.h"
#include "preload/async.h"
#include "preload/epreg.h"
#include "preload/fdtrack.h"
#include "preload/real.h"
#include "preload/runtime.h"

/* Before dlsym answered (a close from inside it): the system call. */
static __attribute__((noinline)) int real_close_unresolved(int fd)
{
	int (*fn)(int) = BS_REAL(close);
	return fn ? fn(fd) : (int)syscall(SYS_close, fd);
}

/* libc's close, as a tail call. */
static inline int real_close(int fd)
{
	int (*fn)(int) = BS_REAL_LOAD(close);
	if (__builtin_expect(fn != NULL, 1))
		return fn(fd);
	return real_close_unresolved(fd);
}

static int real_close_range(unsigned lo, unsigned hi, int flags)
{
	int (*fn)(unsigned, unsigned, int) = BS_REAL(close_range);
	return fn ? fn(lo, hi, flags) : (int)syscall(SYS_close_range, lo, hi, flags);
}

/* A number that holds no slot but is tracked: a private descriptor (the
 * program never opened it), or one a close_range is closing. */
static __attribute__((noinline)) int close_unowned(int fd)
{
	if (bs_fdtrack_is_private(fd)) {
		errno = EBADF;
		return -1;
	}
	return real_close(fd);
}

/* Everything close follows for fd, whose word (fdtrack.h) close has
 * read. The entry is forgotten first, so that a number reused by another
 * thread right after the real close is not mistaken for this socket; the
 * slot is given back only after, so that the peer never sees one
 * connection too many. Linux frees the number even when close fails. */
static __attribute__((noinline)) int close_followed(int fd, _Atomic uint64_t *word)
{
	bs_async_forget(fd);
	if (BS_FDT_FLAGS(atomic_load_explicit(word, memory_order_relaxed)) & BS_FDF_EPREG)
		bs_epreg_forget(fd);
	uint32_t v = bs_fdt_entry_load(word);
	if (v == 0)
		return real_close(fd);
	if (bs_shared_child())
		return real_close(fd); /* vfork: the slots are the parent's */
	while (bs_fdt_owned(v) && !bs_fdt_entry_cas(word, &v, 0))
		;
	if (!bs_fdt_owned(v))
		return close_unowned(fd);
	int r = real_close(fd);
	bs_fdtrack_put(v);
	return r;
}

/* The close of a socket that holds its slot in its entry, and nothing else
 * followed for it, while no child can share the memory: close_followed's
 * steps for that case alone (the word's compare-and-swap, the real close,
 * the slot's release), with none of its frame. A word changed meanwhile
 * goes to close_followed. */
static __attribute__((noinline)) int close_direct(int fd, _Atomic uint64_t *word, uint64_t w)
{
	if (!atomic_compare_exchange_strong(word, &w, 0))
		return close_followed(fd, word);
	return bs_fdtrack_release_direct_passing(BS_FDT_ENTRY(w), real_close(fd));
}

/* One branch for everything that follows descriptors (a pending connect
 * anywhere; for this number: epoll registrations, a cap slot, a private
 * descriptor, in one word: fdtrack.h), so that the common close makes no
 * call before libc's, and reaches it by a tail call; a second for a socket
 * holding a slot of its own, and nothing else. */
BS_EXPORT int close(int fd)
{
	struct bs_fdtab *t = atomic_load_explicit(&bs_fdtab, memory_order_acquire);
	size_t i = (uint32_t)fd < t->n ? (uint32_t)fd : t->n;
	uint64_t w = atomic_load_explicit(&t->words[i], memory_order_relaxed);
	uint64_t pending = atomic_load_explicit(&bs_async_live, memory_order_relaxed);
	if (__builtin_expect((w | pending) == 0, 1))
		return real_close(fd);
	/* No flags, no pending connect, no child sharing the memory (counts
	 * far below 2^30). */
	if (((w & (BS_FDT_FLAG_BITS | BS_FDT_CLOSING | BS_FDT_DIRECT)) | pending |
	     atomic_load_explicit(&bs_vm_children, memory_order_relaxed)) == BS_FDT_DIRECT)
		return close_direct(fd, &t->words[i], w);
	return close_followed(fd, &t->words[i]);
}

/* close_range over [lo, hi] skipping private descriptors: one real call
 * per gap around them. Returns the first failure, or 0. */
static int close_around_private(unsigned lo, unsigned hi, int flags)
{
	int priv[BS_FDT_MAX_PRIVATE];
	struct bs_fd_range gaps[BS_FDT_MAX_PRIVATE + 1];
	unsigned n = bs_fd_gaps(lo, hi, priv,
				bs_fdtrack_private_in(lo, hi, priv, BS_FDT_MAX_PRIVATE), gaps);
	int result = 0, err = 0;
	for (unsigned i = 0; i < n; i++) {
		if (real_close_range(gaps[i].lo, gaps[i].hi, flags) != 0 && result == 0) {
			result = -1;
			err = errno;
		}
	}
	if (result != 0)
		errno = err;
	return result;
}

/* Whether a close_range with these arguments closes descriptors, so that
 * their slots must follow. CLOSE_RANGE_CLOEXEC closes nothing now: the
 * slots go when exec discards the process image (and backstop's table). */
static bool closes(unsigned lo, unsigned hi, int flags)
{
	return lo <= hi && (flags & ~CLOSE_RANGE_UNSHARE) == 0;
}

BS_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
	if (!closes(lo, hi, flags) || bs_shared_child())
		return real_close_range(lo, hi, flags);
	bs_async_forget_range(lo, hi);
	bs_epreg_forget_range(lo, hi);
	bs_fdtrack_mark_range(lo, hi);
	int r = close_around_private(lo, hi, flags);
	int saved = errno;
	bs_fdtrack_settle_range(lo, hi, r == 0);
	errno = saved;
	return r;
}

/* Without a private descriptor in range this is libc's closefrom;
 * otherwise close_range around it (needs Linux 5.9). */
BS_EXPORT void closefrom(int lowfd)
{
	unsigned lo = lowfd < 0 ? 0 : (unsigned)lowfd;
	void (*fn)(int) = BS_REAL(closefrom);
	int priv[1];
	if (bs_shared_child()) {
		if (fn != NULL)
			fn(lowfd);
		else
			real_close_range(lo, UINT_MAX, 0);
		return;
	}
	bs_async_forget_range(lo, UINT_MAX);
	bs_epreg_forget_range(lo, UINT_MAX);
	bs_fdtrack_mark_range(lo, UINT_MAX);
	if (fn != NULL && bs_fdtrack_private_in(lo, UINT_MAX, priv, 1) == 0)
		fn(lowfd);
	else
		close_around_private(lo, UINT_MAX, 0);
	int saved = errno;
	bs_fdtrack_settle_range(lo, UINT_MAX, true);
	errno = saved;
}
