/* The cap table (see caps.h).
 *
 * Keys live in a fixed open-addressing table with linear probing, sized
 * at least twice the key capacity. A slot id is the index of its key's
 * cell, which never moves while in use. A key at count 0 that nobody
 * waits for stays LIVE (idle) until another key needs its cell; retired
 * cells are tombstones, and tombstones ending a probe run turn back into
 * empty cells at once, so keys that come and go do not clog the table.
 *
 * Waiters queue FIFO per key on an intrusive list of nodes on their own
 * stacks, each with a condition variable on CLOCK_MONOTONIC. A release
 * hands its slot straight to the oldest waiter still inside its deadline
 * (the count stays), unlinking expired ones on the way; a waiter that
 * times out unlinks itself: amortised O(1) per release. One mutex guards
 * all but two paths; nothing here allocates after bs_caps_create.
 *
 * Those two are a CAS on the count. A release when nobody waits; a
 * waiter links itself (queued++) and then looks at the count once more,
 * while such a releaser drops the count and then looks at queued, taking
 * the lock to hand the slot over if someone queued: both sequentially
 * consistent, so one sees the other. And an acquire of a key present,
 * below its limit, nobody queued: the key is read under a per-cell
 * sequence count (odd while the locked side rewrites it), checked again
 * after the CAS, and a slot taken from a cell that changed hands is given
 * back. A cell is retired only by a CAS of its count from 0 to DEAD, so
 * such an acquire either precedes that or fails. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/caps.h"

enum cell_state { CELL_EMPTY, CELL_LIVE, CELL_TOMB };

struct cap_waiter {
	struct cap_waiter *prev, *next;
	bs_ns deadline_at;
	bool linked;  /* still in its key's queue */
	bool granted; /* a release handed it a slot */
	bool queued;  /* a bs_cap_ticket: nobody blocks on `wake` */
	pthread_cond_t wake;
};

#define DEAD UINT32_MAX /* the count of a retired cell: no CAS from it succeeds */
/* A ticket's node is a waiter that nobody blocks on, stored in its bytes. */
_Static_assert(sizeof(struct cap_waiter) <= sizeof(((struct bs_cap_ticket *)0)->waiter),
	       "a ticket holds a waiter");

static struct cap_waiter *ticket_node(struct bs_cap_ticket *t)
{
	return (struct cap_waiter *)(void *)t->waiter;
}

struct cap_entry {
	_Atomic uint64_t key[3]; /* the bs_cap_key's words */
	_Atomic int state;       /* enum cell_state */
	_Atomic uint32_t gen;    /* odd while the key is rewritten */
	_Atomic uint32_t count;
	_Atomic uint32_t queued;
	uint32_t limit;          /* the latest acquirer's, for a lock-free release's hand-over */
	struct cap_waiter *head, *tail;
};

struct bs_caps {
	pthread_mutex_t lock;
	uint64_t generation; /* bumped when a forked child drops the queues */
	uint32_t mask;      /* cells - 1; cells is a power of two */
	uint32_t max_keys;
	uint32_t live;      /* CELL_LIVE entries */
	bs_ns (*clock)(void *ctx);
	void *clock_ctx;
	void (*on_release)(void *ctx, const struct bs_cap_key *key);
	void *on_release_ctx;
	struct cap_entry cells[];
};

static bs_ns monotonic_now(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (bs_ns)ts.tv_sec * BS_SEC + (bs_ns)ts.tv_nsec;
}

struct bs_caps *bs_caps_create(uint32_t capacity)
{
	if (capacity == 0 || capacity > (UINT32_C(1) << 28))
		return NULL;
	uint32_t cells = 8;
	while (cells < 2 * capacity)
		cells *= 2;
	struct bs_caps *caps =
		calloc(1, sizeof *caps + (size_t)cells * sizeof caps->cells[0]);
	if (caps == NULL)
		return NULL;
	if (pthread_mutex_init(&caps->lock, NULL) != 0) {
		free(caps);
		return NULL;
	}
	caps->mask = cells - 1;
	caps->max_keys = capacity;
	caps->clock = monotonic_now;
	return caps;
}

void bs_caps_destroy(struct bs_caps *caps)
{
	if (caps != NULL)
		pthread_mutex_destroy(&caps->lock);
	free(caps);
}

void bs_caps_on_release(struct bs_caps *caps,
			void (*fn)(void *ctx, const struct bs_cap_key *key), void *ctx)
{
	caps->on_release = fn;
	caps->on_release_ctx = ctx;
}

void bs_caps_set_clock(struct bs_caps *caps, bs_ns (*clock)(void *ctx), void *ctx)
{
	caps->clock = clock ? clock : monotonic_now;
	caps->clock_ctx = ctx;
}

_Static_assert(sizeof(struct bs_cap_key) == 24, "key_hash reads three words");

/* Three words mixed by multiplication (byte-wise, ~100 instructions). */
static uint32_t key_hash(const struct bs_cap_key *key)
{
	uint64_t w[3];
	memcpy(w, key, sizeof w);
	const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t h = (w[0] ^ (w[1] >> 7 | w[1] << 57)) * k;
	h = (h ^ (h >> 29) ^ w[2]) * k;
	return (uint32_t)(h ^ (h >> 32));
}

static bool same_key(const struct cap_entry *e, const struct bs_cap_key *key)
{
	uint64_t w[3];
	memcpy(w, key, sizeof w);
	for (int i = 0; i < 3; i++)
		if (atomic_load_explicit(&e->key[i], memory_order_relaxed) != w[i])
			return false;
	return true;
}

/* One more slot of e if its count is below limit (never from DEAD):
 * the count after, or 0. Lock-free acquirers raise it concurrently. */
static uint32_t take(struct cap_entry *e, uint32_t limit)
{
	uint32_t c = atomic_load(&e->count);
	while (c < limit)
		if (atomic_compare_exchange_weak(&e->count, &c, c + 1))
			return c + 1;
	return 0;
}

/* Free an entry nobody holds or waits for. A tombstone followed by an
 * empty cell ends no probe run that matters, so it (and the tombstones
 * before it) become empty again. */
static bool entry_retire(struct bs_caps *caps, struct cap_entry *e)
{
	uint32_t zero = 0;
	if (e->head != NULL || !atomic_compare_exchange_strong(&e->count, &zero, DEAD))
		return false;
	e->state = CELL_TOMB;
	caps->live--;
	uint32_t i = (uint32_t)(e - caps->cells);
	if (caps->cells[(i + 1) & caps->mask].state != CELL_EMPTY)
		return true;
	while (caps->cells[i].state == CELL_TOMB) {
		caps->cells[i].state = CELL_EMPTY;
		i = (i - 1) & caps->mask;
	}
	return true;
}

/* LIVE at count 0, nobody waiting: its cell may serve another key (unless
 * a lock-free acquire takes a slot first: entry_retire's CAS decides). */
static bool idle(const struct cap_entry *e)
{
	return e->state == CELL_LIVE && atomic_load(&e->count) == 0 && e->head == NULL;
}

/* Retire one idle entry anywhere; false if none (max_keys keys live). */
static bool evict_idle(struct bs_caps *caps)
{
	for (uint32_t i = 0; i <= caps->mask; i++)
		if (idle(&caps->cells[i]) && entry_retire(caps, &caps->cells[i]))
			return true;
	return false;
}

/* The entry of key, created if absent; NULL when the table holds
 * max_keys live keys already, none of them idle. */
static struct cap_entry *entry_get(struct bs_caps *caps, const struct bs_cap_key *key)
{
	struct cap_entry *reuse;
again:
	reuse = NULL;
	for (uint32_t i = key_hash(key), n = 0; n <= caps->mask; i++, n++) {
		struct cap_entry *e = &caps->cells[i & caps->mask];
		if (e->state == CELL_LIVE && same_key(e, key))
			return e;
		if ((e->state == CELL_TOMB || idle(e)) && reuse == NULL)
			reuse = e;
		if (e->state == CELL_EMPTY) {
			if (reuse == NULL)
				reuse = e;
			break;
		}
	}
	/* An idle entry is retired first (a TOMB, reused below), unless a
	 * lock-free acquirer took a slot of it meanwhile: then look again. */
	if (reuse != NULL && reuse->state == CELL_LIVE && !entry_retire(caps, reuse))
		goto again;
	if (reuse == NULL || (caps->live == caps->max_keys && !evict_idle(caps)))
		return NULL;
	/* Under the sequence count: lock-free callers may be looking. */
	uint64_t w[3];
	memcpy(w, key, sizeof w);
	atomic_fetch_add(&reuse->gen, 1);
	for (int i = 0; i < 3; i++)
		atomic_store_explicit(&reuse->key[i], w[i], memory_order_relaxed);
	atomic_store(&reuse->count, 0);
	atomic_store(&reuse->queued, 0);
	reuse->limit = 0;
	reuse->head = reuse->tail = NULL;
	reuse->state = CELL_LIVE;
	atomic_fetch_add(&reuse->gen, 1);
	caps->live++;
	return reuse;
}

static void waiter_link(struct cap_entry *e, struct cap_waiter *w)
{
	w->prev = e->tail;
	w->next = NULL;
	if (e->tail)
		e->tail->next = w;
	else
		e->head = w;
	e->tail = w;
	w->linked = true;
	atomic_fetch_add(&e->queued, 1);
}

static void waiter_unlink(struct cap_entry *e, struct cap_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		e->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		e->tail = w->prev;
	w->linked = false;
	atomic_fetch_sub(&e->queued, 1);
}

static struct timespec to_timespec(bs_ns t)
{
	return (struct timespec){ .tv_sec = (time_t)(t / BS_SEC),
				  .tv_nsec = (long)(t % BS_SEC) };
}

/* Unlink e's waiters from the head until one still inside its deadline
 * and grant it the slot (true), or run out (false). Lock held. */
static bool grant_oldest(struct bs_caps *caps, struct cap_entry *e)
{
	const bs_ns now = e->head ? caps->clock(caps->clock_ctx) : 0;
	while (e->head != NULL) {
		struct cap_waiter *w = e->head;
		waiter_unlink(e, w);
		if (!w->queued)
			pthread_cond_signal(&w->wake);
		if (w->deadline_at > now) {
			w->granted = true;
			return true;
		}
	}
	return false;
}

/* Give e's slot to the oldest live waiter (the count stays), or drop the
 * count when there is none. Lock held. */
static void release_locked(struct bs_caps *caps, struct cap_entry *e)
{
	if (grant_oldest(caps, e))
		return;
	atomic_fetch_sub(&e->count, 1);
	entry_retire(caps, e);
}

/* A lock-free release dropped the count, then saw a waiter: hand the
 * freed slot over if it is still free. Lock held. */
static void hand_over_locked(struct bs_caps *caps, struct cap_entry *e)
{
	while (e->state == CELL_LIVE && e->head != NULL && take(e, e->limit) != 0)
		if (!grant_oldest(caps, e)) {
			atomic_fetch_sub(&e->count, 1); /* every waiter had expired */
			break;
		}
	entry_retire(caps, e);
}

struct waiting {
	struct bs_caps *caps;
	struct cap_entry *e;
	struct cap_waiter w;
};

/* The waiter leaves: out of the queue if still in it. With `keep`, a slot
 * granted to it is its own; otherwise (cancelled) it is passed on. */
static void waiting_end(struct waiting *wt, bool keep)
{
	if (wt->w.linked) {
		waiter_unlink(wt->e, &wt->w);
		entry_retire(wt->caps, wt->e);
	} else if (wt->w.granted && !keep) {
		release_locked(wt->caps, wt->e);
	}
	pthread_cond_destroy(&wt->w.wake);
}

/* pthread_cond_timedwait is a cancellation point, as connect is: a thread
 * cancelled while queued leaves the queue (lock re-acquired by then). */
static void waiting_cancelled(void *arg)
{
	struct waiting *wt = arg;
	waiting_end(wt, false);
	pthread_mutex_unlock(&wt->caps->lock);
}

/* Queue on e and wait, lock held, until granted or deadline_at. The entry
 * stays LIVE while the node is linked, and once granted (count > 0). */
static enum bs_cap_status wait_for_slot(struct bs_caps *caps, struct cap_entry *e,
					bs_ns deadline_at)
{
	struct waiting wt = { .caps = caps, .e = e, .w.deadline_at = deadline_at };
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&wt.w.wake, &attr);
	pthread_condattr_destroy(&attr);

	waiter_link(e, &wt.w);
	/* A lock-free release may have dropped the count before it could see
	 * this waiter (see the top of this file). */
	if (take(e, e->limit) != 0) {
		waiter_unlink(e, &wt.w);
		wt.w.granted = true;
	}
	const struct timespec until = to_timespec(deadline_at);
	pthread_cleanup_push(waiting_cancelled, &wt);
	/* Loops on spurious wakeups; the clock decides expiry. */
	while (wt.w.linked && !wt.w.granted &&
	       caps->clock(caps->clock_ctx) < deadline_at)
		pthread_cond_timedwait(&wt.w.wake, &caps->lock, &until);
	pthread_cleanup_pop(0);
	waiting_end(&wt, true);
	return wt.w.granted ? BS_CAP_WAITED : BS_CAP_TIMEOUT;
}

/* A key already present, below its limit, nobody queued: one CAS, no
 * lock (see the top of this file). false: take the locked path. */
static bool acquire_unlocked(struct bs_caps *caps, const struct bs_cap_request *req,
			     struct bs_cap_outcome *out)
{
	for (uint32_t i = key_hash(&req->key), n = 0; n <= caps->mask; i++, n++) {
		struct cap_entry *e = &caps->cells[i & caps->mask];
		uint32_t gen = atomic_load(&e->gen);
		int state = atomic_load(&e->state);
		if (state == CELL_EMPTY || (gen & 1))
			return false;
		if (state != CELL_LIVE || !same_key(e, &req->key))
			continue;
		uint32_t in_use = atomic_load(&e->queued) == 0 ? take(e, req->limit) : 0;
		const uint32_t slot = (uint32_t)(e - caps->cells);
		if (in_use != 0 && atomic_load(&e->gen) != gen) {
			bs_cap_release(caps, slot); /* the cell changed hands */
			in_use = 0;
		}
		*out = (struct bs_cap_outcome){ .slot = in_use ? slot : BS_CAP_NONE,
						.in_use = in_use };
		return in_use != 0;
	}
	return false;
}

enum bs_cap_status bs_cap_acquire(struct bs_caps *caps,
				  const struct bs_cap_request *req,
				  struct bs_cap_outcome *out)
{
	bool reclaimed = req->reclaim == NULL;
	if (acquire_unlocked(caps, req, out))
		return BS_CAP_ACQUIRED;
	*out = (struct bs_cap_outcome){ .slot = BS_CAP_NONE };

	pthread_mutex_lock(&caps->lock);
	for (;;) {
		struct cap_entry *e = entry_get(caps, &req->key);
		if (e == NULL) {
			pthread_mutex_unlock(&caps->lock);
			return BS_CAP_UNTRACKED;
		}
		const uint32_t slot = (uint32_t)(e - caps->cells);
		e->limit = req->limit;
		uint32_t in_use = atomic_load(&e->queued) == 0 ? take(e, req->limit) : 0;
		if (in_use != 0) {
			*out = (struct bs_cap_outcome){ .slot = slot, .in_use = in_use };
			pthread_mutex_unlock(&caps->lock);
			return BS_CAP_ACQUIRED;
		}
		if (!reclaimed) {
			/* The entry may be retired and reused meanwhile: look
			 * the key up again afterwards. */
			pthread_mutex_unlock(&caps->lock);
			req->reclaim(req->reclaim_ctx, slot);
			reclaimed = true;
			pthread_mutex_lock(&caps->lock);
			continue;
		}
		enum bs_cap_status status = BS_CAP_REJECT;
		if (req->wait && req->ticket != NULL) {
			struct cap_waiter *w = ticket_node(req->ticket);
			*w = (struct cap_waiter){ .deadline_at = req->deadline_at, .queued = true };
			req->ticket->generation = caps->generation;
			req->ticket->slot = slot;
			waiter_link(e, w);
			out->in_use = e->count;
			pthread_mutex_unlock(&caps->lock);
			return BS_CAP_QUEUED;
		}
		if (req->wait) {
			/* Read only here: taking a free slot needs no clock. */
			const bs_ns start = caps->clock(caps->clock_ctx);
			status = req->deadline_at > start
				 ? wait_for_slot(caps, e, req->deadline_at)
				 : BS_CAP_TIMEOUT;
			out->waited = caps->clock(caps->clock_ctx) - start;
		}
		if (status == BS_CAP_WAITED)
			out->slot = slot;
		/* A timed-out waiter's entry may have been retired (and even
		 * reused by another key) while it slept. */
		if (e->state == CELL_LIVE && same_key(e, &req->key))
			out->in_use = atomic_load(&e->count);
		pthread_mutex_unlock(&caps->lock);
		return status;
	}
}

enum bs_cap_status bs_cap_ticket_poll(struct bs_caps *caps, struct bs_cap_ticket *t,
				      bs_ns now, struct bs_cap_outcome *out)
{
	struct cap_waiter *w = ticket_node(t);
	*out = (struct bs_cap_outcome){ .slot = BS_CAP_NONE };
	pthread_mutex_lock(&caps->lock);
	enum bs_cap_status st = BS_CAP_QUEUED;
	struct cap_entry *e = &caps->cells[t->slot];
	if (t->generation != caps->generation) {
		st = BS_CAP_TIMEOUT; /* queued in the parent: the child's queues were dropped */
	} else if (w->granted) {
		st = BS_CAP_WAITED;
		out->slot = t->slot;
		out->in_use = e->count;
	} else if (!w->linked) {
		st = BS_CAP_TIMEOUT; /* a release found it expired and passed it by */
	} else if (now >= w->deadline_at) {
		waiter_unlink(e, w);
		out->in_use = e->count;
		entry_retire(caps, e);
		st = BS_CAP_TIMEOUT;
	}
	if (st != BS_CAP_QUEUED)
		w->granted = w->linked = false; /* settled: a cancel changes nothing */
	pthread_mutex_unlock(&caps->lock);
	return st;
}

void bs_cap_ticket_cancel(struct bs_caps *caps, struct bs_cap_ticket *t)
{
	struct cap_waiter *w = ticket_node(t);
	pthread_mutex_lock(&caps->lock);
	if (t->generation == caps->generation) {
		struct cap_entry *e = &caps->cells[t->slot];
		if (w->linked) {
			waiter_unlink(e, w);
			entry_retire(caps, e);
		} else if (w->granted) {
			release_locked(caps, e);
		}
		w->granted = w->linked = false;
	}
	pthread_mutex_unlock(&caps->lock);
}

/* Whether a slot was given back. */
static bool release_slot(struct bs_caps *caps, uint32_t slot)
{
	if (slot > caps->mask)
		return false;
	struct cap_entry *e = &caps->cells[slot];
	/* Nobody waits: one CAS (see the top of this file). A count of 0
	 * means not held: a double release must not corrupt counts. */
	uint32_t c = atomic_load(&e->count);
	while (c != 0 && c != DEAD && atomic_load(&e->queued) == 0) {
		if (!atomic_compare_exchange_weak(&e->count, &c, c - 1))
			continue;
		if (__builtin_expect(atomic_load(&e->queued) == 0, 1))
			return true;
		pthread_mutex_lock(&caps->lock);
		hand_over_locked(caps, e);
		pthread_mutex_unlock(&caps->lock);
		return true;
	}
	if (c == 0 || c == DEAD)
		return false;
	pthread_mutex_lock(&caps->lock);
	bool held = e->state == CELL_LIVE && atomic_load(&e->count) != 0;
	if (held)
		release_locked(caps, e);
	pthread_mutex_unlock(&caps->lock);
	return held;
}

void bs_cap_release(struct bs_caps *caps, uint32_t slot)
{
	/* The key is read first: once released, the cell may serve another. */
	struct bs_cap_key key;
	bool keyed = caps->on_release != NULL && bs_cap_key_of(caps, slot, &key);
	if (release_slot(caps, slot) && keyed)
		caps->on_release(caps->on_release_ctx, &key);
}

/* For the accessors, which read atomics only: no lock. */
static const struct cap_entry *live_cell(struct bs_caps *caps, uint32_t slot)
{
	const struct cap_entry *e = slot <= caps->mask ? &caps->cells[slot] : NULL;
	return e != NULL && e->state == CELL_LIVE ? e : NULL;
}

uint32_t bs_cap_in_use(struct bs_caps *caps, uint32_t slot)
{
	const struct cap_entry *e = live_cell(caps, slot);
	uint32_t n = e ? atomic_load(&e->count) : 0;
	return n == DEAD ? 0 : n; /* DEAD: being retired */
}

bool bs_cap_key_of(struct bs_caps *caps, uint32_t slot, struct bs_cap_key *out)
{
	const struct cap_entry *e = live_cell(caps, slot);
	uint64_t w[3];
	for (int i = 0; e && i < 3; i++)
		w[i] = atomic_load_explicit(&e->key[i], memory_order_relaxed);
	if (e)
		memcpy(out, w, sizeof w);
	return e != NULL;
}

uint32_t bs_cap_queued(struct bs_caps *caps, uint32_t slot)
{
	const struct cap_entry *e = live_cell(caps, slot);
	return e ? atomic_load(&e->queued) : 0;
}

/* Fork discipline, as socket_wrapper and glibc's own allocator do it: the
 * forking thread takes the lock before fork, so that no other thread is
 * half-way through an update of the table at the moment it is copied, and
 * both processes let go of it after. */
void bs_caps_fork_prepare(struct bs_caps *caps)
{
	if (caps != NULL)
		pthread_mutex_lock(&caps->lock);
}

void bs_caps_fork_parent(struct bs_caps *caps)
{
	if (caps != NULL)
		pthread_mutex_unlock(&caps->lock);
}

/* The child's only thread is the one that took the lock: a fresh lock
 * replaces it (the old one's owner is a thread of the parent as far as
 * its internals go). The waiters were threads of the parent. The counts
 * are rebuilt by the caller (bs_caps_recount_*): slots that threads of
 * the parent held while inside connect have no owner here. */
void bs_caps_after_fork_child(struct bs_caps *caps)
{
	if (caps == NULL)
		return;
	pthread_mutex_init(&caps->lock, NULL);
	caps->generation++;
	for (uint32_t i = 0; i <= caps->mask; i++) {
		struct cap_entry *e = &caps->cells[i];
		if (e->state != CELL_LIVE)
			continue;
		e->head = e->tail = NULL;
		atomic_store(&e->queued, 0);
		atomic_store(&e->count, 0);
	}
}

void bs_caps_recount_add(struct bs_caps *caps, uint32_t slot)
{
	if (slot <= caps->mask && caps->cells[slot].state == CELL_LIVE)
		caps->cells[slot].count++;
}

void bs_caps_recount_end(struct bs_caps *caps)
{
	for (uint32_t i = 0; i <= caps->mask; i++)
		if (caps->cells[i].state == CELL_LIVE)
			entry_retire(caps, &caps->cells[i]);
}
