/* nonblocking = async: the table of pending asynchronous connects, one
 * entry per descriptor, and the steps that advance them. The program's
 * connect returns EINPROGRESS at once; the retries happen inside the
 * program's own readiness calls (poll.c, select.c, epoll.c) and in the
 * calls that ask about the socket (sockopt.c, io.c, a repeated connect),
 * never on a thread of backstop's own. See docs/connect.md, "How async
 * works".
 *
 * Cost when nothing is pending: every wrapper first loads one atomic
 * counter (bs_async_live) and goes straight to libc when it is 0. */
#ifndef BS_ASYNC_H
#define BS_ASYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "policy/policy.h"
#include "preload/runtime.h"

/* What a readiness call may show of a descriptor. */
enum bs_async_view {
	BS_ASYNC_NONE,      /* no entry: the kernel's view is the program's */
	BS_ASYNC_IN_FLIGHT, /* an attempt is in flight: the kernel decides */
	BS_ASYNC_BACKOFF,   /* between attempts: never ready */
	BS_ASYNC_FAILED,    /* gave up: ready, with POLLERR and SO_ERROR = err */
};

/* Entries in use, process-wide. */
extern _Atomic unsigned bs_async_live;

static inline bool bs_async_any(void)
{
	return __builtin_expect(
		atomic_load_explicit(&bs_async_live, memory_order_relaxed) != 0, 0);
}

/* The program's first attempt on a nonblocking socket ended with err
 * (EINPROGRESS, or an immediate failure) under a rule whose nonblocking
 * mode is async. Returns what connect must report: EINPROGRESS when the
 * connect is now pending here, else the final errno (not retryable, no
 * entry free). start: when the program's call began. */
int bs_async_begin(struct bs_runtime *rt, const struct bs_rule *rule, int fd,
		   const struct sockaddr *sa, socklen_t len, bs_ns start, int err);

/* Before the first attempt, for a capped destination (max_conns): take a
 * slot at once (0, *slot), or queue for one without blocking and return
 * EINPROGRESS (the connect is then pending here: its first attempt is
 * made when a slot comes, oldest waiter first; cap.timeout makes it fail
 * with ETIMEDOUT through SO_ERROR), or fail (EAGAIN under on_cap = fail).
 * deadline_at: the program's call's deadline. */
int bs_async_cap(struct bs_runtime *rt, const struct bs_rule *rule, int fd,
		 const struct sockaddr *sa, socklen_t len, bs_ns start, bs_ns deadline_at,
		 uint32_t *slot, bool *waited);

/* Whether fd has a pending connect (a lookup: no clock, no lock). */
bool bs_async_has(int fd);

/* One descriptor's state as a wait sees it, after advancing it if its due
 * time has passed. *due: when backstop must act next (BS_WAIT_FOREVER:
 * not before the kernel reports an event). No entry: BS_ASYNC_NONE. */
enum bs_async_view bs_async_tick(int fd, bs_ns now, bs_ns *due);

/* A real readiness call reported `revents` (poll bits; epoll's are the
 * same values) for fd. Returns what the program may see: the view after
 * the event was taken into account (an in-flight attempt that failed and
 * is retried becomes BS_ASYNC_BACKOFF, to be hidden). */
enum bs_async_view bs_async_event(int fd, unsigned revents, bs_ns now);

/* The program asks about fd directly (SO_ERROR, a repeated connect,
 * read/write): advance it at once (a zero-timeout probe of an attempt in
 * flight). Returns the view; for BS_ASYNC_FAILED, *err holds the error. */
enum bs_async_view bs_async_check(int fd, int *err);

/* The program consumed the final outcome of fd (SO_ERROR read, connect
 * or read/write returned the error): forget the entry. With `dissolve`,
 * also leave the socket unconnected, as a failed repeated connect does. */
void bs_async_consume(int fd, bool dissolve);

/* The program lets go of fd (close, dup2 over it): forget the entry
 * before the real call, so that no connect is ever issued on a number the
 * program closed. */
void bs_async_forget_slow(int fd);
static inline void bs_async_forget(int fd)
{
	if (bs_async_any())
		bs_async_forget_slow(fd);
}
/* The same for every entry in [lo, hi] (close_range, closefrom). */
void bs_async_forget_range(unsigned lo, unsigned hi);

/* Call fn(fd, ctx) for every descriptor with an entry (a snapshot). */
void bs_async_each(void (*fn)(int fd, void *ctx), void *ctx);

#endif
