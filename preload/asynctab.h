/* The table behind preload/async.c: a pool of entries, one per pending
 * asynchronous connect, and an index by descriptor number (see async.c
 * for the why). Internal to the two files. */
#ifndef BS_ASYNCTAB_H
#define BS_ASYNCTAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine/asyncconn.h"
#include "engine/caps.h"
#include "engine/connect_retry.h"
#include "engine/guardtab.h"
#include "policy/dest.h"
#include "preload/async.h"
#include "preload/outcap.h"
#include "preload/spin.h"

#define BS_ASYNC_MAX 4096

struct entry {
	_Atomic int lock;
	_Atomic int view;  /* enum bs_async_view; BS_ASYNC_NONE: free */
	_Atomic int fd;
	_Atomic bs_ns due; /* mirror of conn.due for lock-free readers */
	uint64_t dev, ino;
	struct bs_runtime *rt;
	bool capwait;           /* queued for a cap slot; no attempt made yet */
	bs_ns queued_at;
	struct bs_outcap_ticket ticket;
	struct bs_aconn conn;
	struct bs_connect_call ccall;
	struct bs_retry_call rcall;
	struct bs_guard guard;             /* budget and breaker (ccall.guard) */
	struct bs_guard_names guard_names;
	struct sockaddr_storage addr;
	socklen_t len;
	char dest[BS_DEST_MAX];
};

static inline void bs_atab_lock(struct entry *e)
{
	bs_spin_lock(&e->lock);
}

static inline void bs_atab_unlock(struct entry *e)
{
	bs_spin_unlock(&e->lock);
}

static inline void bs_atab_set_view(struct entry *e, enum bs_async_view v)
{
	atomic_store_explicit(&e->view, v, memory_order_release);
}

/* Map the table on first use; false when it cannot be. */
bool bs_atab_ready(void);
/* How many descriptor numbers the index covers. */
uint32_t bs_atab_fds(void);
/* The entry of fd, or NULL, without the lock. */
struct entry *bs_atab_of(int fd);
/* fd's entry, locked, or NULL when it has none. */
struct entry *bs_atab_lock_fd(int fd);
/* A free entry, locked (view still NONE), or NULL when the pool is full. */
struct entry *bs_atab_claim(void);
/* Make a claimed, filled-in entry fd's (lock held). */
void bs_atab_publish(struct entry *e, int fd, enum bs_async_view v);
/* Take e (lock held) out of the table. */
void bs_atab_retire(struct entry *e);

#endif
