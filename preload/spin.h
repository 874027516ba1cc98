/* A spin lock for per-descriptor records, held only across a few
 * nonblocking system calls: no futex, nothing to initialise or destroy,
 * and reset to 0 in a forked child. */
#ifndef BS_SPIN_H
#define BS_SPIN_H

#include <sched.h>
#include <stdatomic.h>

static inline void bs_spin_lock(_Atomic int *l)
{
	while (atomic_exchange_explicit(l, 1, memory_order_acquire))
		sched_yield();
}

static inline void bs_spin_unlock(_Atomic int *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

#endif
