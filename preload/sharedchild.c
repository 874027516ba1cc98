/* Children that share this process's memory: what bs_shared_child
 * (runtime.h) needs to tell them apart without a system call on every
 * close.
 *
 * Such a child (vfork, clone with CLONE_VM) runs no pthread_atfork
 * handler, and only the kernel knows its pid differs: the tables it sees
 * are its parent's. bs_vm_children counts the calls that may have made
 * one: while it is 0, no child shares the memory, and no getpid is asked.
 * vfork (preload/vfork.S) and clone with CLONE_VFORK count up before the
 * child exists and down once the parent runs again, which is after the
 * child has exec'ed or exited; a signal handler of the parent that runs
 * in between still asks, and finds its own pid. A CLONE_VM child without
 * CLONE_VFORK runs alongside the parent for as long as it likes: its
 * count is never taken back, so that process asks from then on.
 *
 * posix_spawn, system and popen make their child with glibc's internal
 * clone; that child calls glibc's internal close and dup2, never
 * backstop's, so it needs no count. A child made by a raw clone or vfork
 * system call is not seen (nothing in memory tells it apart). */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>

#include "preload/real.h"
#include "preload/runtime.h"

#if defined(__x86_64__) || defined(__aarch64__)
#define VM_CHILDREN_UNSEEN 0 /* vfork is counted (vfork.S) */
#else
#define VM_CHILDREN_UNSEEN 1 /* no counting vfork here: always ask */
#endif

_Atomic unsigned long bs_vm_children = VM_CHILDREN_UNSEEN; /* a word: close ORs it in */

void bs_vm_children_after_fork(void)
{
	atomic_store(&bs_vm_children, VM_CHILDREN_UNSEEN);
}

/* vfork.S's failure path: the system call's error, as glibc reports it. */
__attribute__((used)) int bs_vfork_failed(int err)
{
	errno = err;
	return -1;
}

/* The three optional arguments (parent_tid, tls, child_tid) are read and
 * passed on whatever the flags, as glibc's clone reads them. */
BS_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	void *ptid = va_arg(ap, void *);
	void *tls = va_arg(ap, void *);
	void *ctid = va_arg(ap, void *);
	va_end(ap);
	int (*real)(int (*)(void *), void *, int, void *, ...) = BS_REAL(clone);
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	bool shares = (flags & CLONE_VM) && !(flags & CLONE_THREAD);
	if (shares)
		atomic_fetch_add(&bs_vm_children, 1);
	/* The child runs fn on its own stack and never returns here. */
	int r = real(fn, stack, flags, arg, ptid, tls, ctid);
	if (shares && (flags & CLONE_VFORK))
		atomic_fetch_sub(&bs_vm_children, 1);
	return r;
}
