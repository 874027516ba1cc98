/* The table of pending asynchronous connects (see async.c for the why):
 * a pool of BS_ASYNC_MAX entries and an index by descriptor number, both
 * mapped on the first asynchronous connect, and the lookups, claims and
 * removals on it. Lock-free but for each entry's own spin lock. */
#include "preload/asynctab.h"

#include <pthread.h>
#include <sys/mman.h>

#include "preload/fdtrack.h"
#include "preload/outcap.h"
#include "preload/runtime.h"

_Atomic unsigned bs_async_live;

static struct {
	struct entry *pool;
	_Atomic uint32_t *_Atomic index; /* fd -> entry number + 1; 0: none */
	_Atomic uint32_t n_fds; /* atomic: bs_atab_of may load it before it knows the index is there */
	_Atomic uint32_t high_water; /* entries [0, high_water) were ever used */
	_Atomic uint32_t cursor;     /* where the next search for a free entry starts */
} g;

/* ---- locking ---------------------------------------------------------- */

/* The entry of fd, or NULL. Without the lock: a caller that acts on it
 * locks it and checks `owns`. */
struct entry *bs_atab_of(int fd)
{
	_Atomic uint32_t *index = atomic_load_explicit(&g.index, memory_order_acquire);
	if (index == NULL || fd < 0 ||
	    (uint32_t)fd >= atomic_load_explicit(&g.n_fds, memory_order_relaxed))
		return NULL;
	uint32_t id = atomic_load_explicit(&index[fd], memory_order_acquire);
	return id != 0 ? &g.pool[id - 1] : NULL;
}

static bool owns(struct entry *e, int fd)
{
	return atomic_load(&e->view) != BS_ASYNC_NONE && atomic_load(&e->fd) == fd;
}

/* Lock fd's entry, or return NULL when it has none. */
struct entry *bs_atab_lock_fd(int fd)
{
	struct entry *e = bs_atab_of(fd);
	if (e == NULL)
		return NULL;
	bs_atab_lock(e);
	if (owns(e, fd))
		return e;
	bs_atab_unlock(e);
	return NULL;
}

/* ---- set-up ----------------------------------------------------------- */

static void *map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void in_child(void)
{
	uint32_t hw = atomic_load(&g.high_water);
	for (uint32_t i = 0; i < hw; i++)
		atomic_store(&g.pool[i].lock, 0);
}

static void init_once(void)
{
	bs_fdtrack_init();
	uint32_t n = atomic_load(&bs_fdtab)->n;
	if (n == 0)
		return;
	struct entry *pool = map(BS_ASYNC_MAX * sizeof *pool);
	_Atomic uint32_t *index = map((size_t)n * sizeof *index);
	if (pool == NULL || index == NULL)
		return;
	g.pool = pool;
	atomic_store_explicit(&g.n_fds, n, memory_order_relaxed);
	pthread_atfork(NULL, NULL, in_child);
	atomic_store_explicit(&g.index, index, memory_order_release);
}

/* Whether the table exists; the acquire orders the reads of g after it. */
static bool published(void)
{
	return atomic_load_explicit(&g.index, memory_order_acquire) != NULL;
}

bool bs_atab_ready(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_once);
	return published();
}

/* A free entry, claimed (locked, view still NONE), or NULL. */
struct entry *bs_atab_claim(void)
{
	uint32_t start = atomic_fetch_add(&g.cursor, 1);
	for (uint32_t k = 0; k < BS_ASYNC_MAX; k++) {
		struct entry *e = &g.pool[(start + k) % BS_ASYNC_MAX];
		if (atomic_load(&e->view) != BS_ASYNC_NONE || atomic_load(&e->lock))
			continue;
		bs_atab_lock(e);
		if (atomic_load(&e->view) == BS_ASYNC_NONE)
			return e;
		bs_atab_unlock(e);
	}
	return NULL;
}

/* Publish a claimed entry for fd (lock held, fields filled). */
void bs_atab_publish(struct entry *e, int fd, enum bs_async_view v)
{
	uint32_t id = (uint32_t)(e - g.pool);
	uint32_t hw = atomic_load(&g.high_water);
	while (hw < id + 1 && !atomic_compare_exchange_weak(&g.high_water, &hw, id + 1))
		;
	atomic_store(&e->fd, fd);
	atomic_store(&e->due, e->conn.due);
	bs_atab_set_view(e, v);
	atomic_fetch_add(&bs_async_live, 1);
	atomic_store_explicit(&g.index[fd], id + 1, memory_order_release);
}

/* Remove e (lock held) from the table. */
void bs_atab_retire(struct entry *e)
{
	if (e->capwait) {
		bs_outcap_cancel(e->rt, &e->ticket);
		e->capwait = false;
	}
	int fd = atomic_load(&e->fd);
	uint32_t id = (uint32_t)(e - g.pool) + 1;
	atomic_compare_exchange_strong(&g.index[fd], &id, 0);
	bs_atab_set_view(e, BS_ASYNC_NONE);
	atomic_fetch_sub(&bs_async_live, 1);
}

uint32_t bs_atab_fds(void)
{
	return atomic_load_explicit(&g.n_fds, memory_order_relaxed);
}

bool bs_async_has(int fd)
{
	return bs_atab_of(fd) != NULL;
}

/* A vfork child shares the parent's memory: what it closes before exec
 * is its own business, the parent's pending connects stay. */
void bs_async_forget_slow(int fd)
{
	if (bs_shared_child())
		return;
	struct entry *e = bs_atab_lock_fd(fd);
	if (e == NULL)
		return;
	bs_atab_retire(e);
	bs_atab_unlock(e);
}

void bs_async_forget_range(unsigned lo, unsigned hi)
{
	if (!bs_async_any() || !published() || bs_shared_child())
		return;
	uint32_t hw = atomic_load(&g.high_water);
	for (uint32_t i = 0; i < hw; i++) {
		struct entry *e = &g.pool[i];
		int fd = atomic_load(&e->fd);
		if (atomic_load(&e->view) != BS_ASYNC_NONE && (unsigned)fd >= lo &&
		    (unsigned)fd <= hi)
			bs_async_forget_slow(fd);
	}
}

void bs_async_each(void (*fn)(int fd, void *ctx), void *ctx)
{
	if (!published())
		return;
	uint32_t hw = atomic_load(&g.high_water);
	for (uint32_t i = 0; i < hw; i++) {
		struct entry *e = &g.pool[i];
		int fd = atomic_load(&e->fd);
		if (atomic_load(&e->view) != BS_ASYNC_NONE)
			fn(fd, ctx);
	}
}
