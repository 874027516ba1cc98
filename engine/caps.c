/* The cap table (see caps.h).
 *
 * Keys live in a fixed open-addressing table with linear probing, sized
 * at least twice the key capacity. A slot id is the index of its key's
 * entry, so an entry never moves while it is in use. When a key's count
 * returns to 0 and nobody waits for it, its entry becomes a tombstone,
 * and tombstones that end a probe run turn back into empty cells at once,
 * so keys that come and go over a long run do not clog the table.
 *
 * Waiters queue FIFO per key on an intrusive doubly-linked list of nodes
 * that live on the waiting threads' stacks, each with its own condition
 * variable on CLOCK_MONOTONIC. A release hands its slot straight to the
 * oldest waiter still inside its deadline (the count does not change);
 * expired waiters met at the head on the way are unlinked and woken. A
 * waiter that times out unlinks itself. Every node is unlinked exactly
 * once, so the work per release is amortised O(1). One mutex guards it
 * all but one path; nothing here allocates after bs_caps_create.
 *
 * That path: a release when nobody waits for the key is one CAS on the
 * count, without the lock. Its entry then stays LIVE at count 0 (the next
 * acquire of the key finds it where it was) and becomes a free cell only
 * when another key needs one (entry_get). count and queued are atomics
 * for it: a waiter links itself (queued++), then looks at the count once
 * more before it sleeps; a lock-free releaser drops the count, then looks
 * at queued, and takes the lock to hand the freed slot over if someone
 * queued meanwhile. Both sides are sequentially consistent, so at least
 * one of them sees the other. */
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
	pthread_cond_t wake;
	bs_ns deadline_at;
	bool linked;  /* still in its key's queue */
	bool granted; /* a release handed it a slot */
};

struct cap_entry {
	struct bs_cap_key key;
	enum cell_state state;
	_Atomic uint32_t count;
	_Atomic uint32_t queued;
	uint32_t limit;       /* the latest acquirer's: what a lock-free release's hand-over honours */
	struct cap_waiter *head, *tail;
};

struct bs_caps {
	pthread_mutex_t lock;
	uint32_t mask;      /* cells - 1; cells is a power of two */
	uint32_t max_keys;
	uint32_t live;      /* CELL_LIVE entries */
	bs_ns (*clock)(void *ctx);
	void *clock_ctx;
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
	if (caps == NULL)
		return;
	pthread_mutex_destroy(&caps->lock);
	free(caps);
}

void bs_caps_set_clock(struct bs_caps *caps, bs_ns (*clock)(void *ctx), void *ctx)
{
	caps->clock = clock ? clock : monotonic_now;
	caps->clock_ctx = ctx;
}

_Static_assert(sizeof(struct bs_cap_key) == 24, "key_hash reads three words");

/* Three words mixed by multiplication: a byte-wise hash of the 24 bytes
 * cost ~100 instructions on every acquire. */
static uint32_t key_hash(const struct bs_cap_key *key)
{
	uint64_t w[3];
	memcpy(w, key, sizeof w);
	const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t h = (w[0] ^ (w[1] >> 7 | w[1] << 57)) * k;
	h = (h ^ (h >> 29) ^ w[2]) * k;
	return (uint32_t)(h ^ (h >> 32));
}

/* Left LIVE at count 0 by a lock-free release, with nobody waiting: its
 * cell may serve another key. Lock held (only lock holders raise count). */
static bool idle(const struct cap_entry *e)
{
	return e->state == CELL_LIVE && atomic_load(&e->count) == 0 && e->head == NULL;
}

static void entry_retire(struct bs_caps *caps, struct cap_entry *e);

/* Retire one idle entry anywhere in the table; false if none. Runs only
 * when max_keys keys are live, some of them possibly idle. */
static bool evict_idle(struct bs_caps *caps)
{
	for (uint32_t i = 0; i <= caps->mask; i++)
		if (idle(&caps->cells[i])) {
			entry_retire(caps, &caps->cells[i]);
			return true;
		}
	return false;
}

/* The entry of key, created if absent; NULL when the table holds
 * max_keys live keys already, none of them idle. */
static struct cap_entry *entry_get(struct bs_caps *caps, const struct bs_cap_key *key)
{
	struct cap_entry *reuse = NULL;
	for (uint32_t i = key_hash(key), n = 0; n <= caps->mask; i++, n++) {
		struct cap_entry *e = &caps->cells[i & caps->mask];
		if (e->state == CELL_LIVE && memcmp(&e->key, key, sizeof *key) == 0)
			return e;
		if ((e->state == CELL_TOMB || idle(e)) && reuse == NULL)
			reuse = e;
		if (e->state == CELL_EMPTY) {
			if (reuse == NULL)
				reuse = e;
			break;
		}
	}
	if (reuse != NULL && reuse->state == CELL_LIVE)
		entry_retire(caps, reuse); /* a TOMB now, reused below */
	if (reuse == NULL || (caps->live == caps->max_keys && !evict_idle(caps)))
		return NULL;
	/* Field by field: a lock-free releaser of the previous key may still
	 * read queued (and then take the lock for nothing). */
	reuse->key = *key;
	reuse->state = CELL_LIVE;
	atomic_store(&reuse->count, 0);
	atomic_store(&reuse->queued, 0);
	reuse->limit = 0;
	reuse->head = reuse->tail = NULL;
	caps->live++;
	return reuse;
}

/* Free an entry nobody holds or waits for. A tombstone followed by an
 * empty cell ends no probe run that matters, so it (and the tombstones
 * before it) become empty again. */
static void entry_retire(struct bs_caps *caps, struct cap_entry *e)
{
	if (atomic_load(&e->count) != 0 || e->head != NULL)
		return;
	e->state = CELL_TOMB;
	caps->live--;
	uint32_t i = (uint32_t)(e - caps->cells);
	if (caps->cells[(i + 1) & caps->mask].state != CELL_EMPTY)
		return;
	while (caps->cells[i].state == CELL_TOMB) {
		caps->cells[i].state = CELL_EMPTY;
		i = (i - 1) & caps->mask;
	}
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

/* Unlink e's waiters from the head until one still inside its deadline;
 * grant it a slot and return true, or false when the queue ran out.
 * Lock held. */
static bool grant_oldest(struct bs_caps *caps, struct cap_entry *e)
{
	const bs_ns now = e->head ? caps->clock(caps->clock_ctx) : 0;
	while (e->head != NULL) {
		struct cap_waiter *w = e->head;
		waiter_unlink(e, w);
		pthread_cond_signal(&w->wake);
		if (w->deadline_at > now) {
			w->granted = true;
			return true;
		}
	}
	return false;
}

/* Give e's slot to the oldest waiter still inside its deadline (the slot
 * changes hands; the count stays), or drop the count when there is none.
 * Lock held. */
static void release_locked(struct bs_caps *caps, struct cap_entry *e)
{
	if (grant_oldest(caps, e))
		return;
	atomic_fetch_sub(&e->count, 1);
	entry_retire(caps, e);
}

/* A lock-free release dropped the count, then saw a waiter: hand the
 * slot that freed over, if it is still free. Lock held. */
static void hand_over_locked(struct bs_caps *caps, struct cap_entry *e)
{
	while (e->state == CELL_LIVE && atomic_load(&e->count) < e->limit && grant_oldest(caps, e))
		atomic_fetch_add(&e->count, 1);
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
	if (atomic_load(&e->count) < e->limit) {
		waiter_unlink(e, &wt.w);
		atomic_fetch_add(&e->count, 1);
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

enum bs_cap_status bs_cap_acquire(struct bs_caps *caps,
				  const struct bs_cap_request *req,
				  struct bs_cap_outcome *out)
{
	bool reclaimed = req->reclaim == NULL;
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
		/* Others only lower the count meanwhile (lock-free releases). */
		if (atomic_load(&e->count) < req->limit) {
			uint32_t in_use = atomic_fetch_add(&e->count, 1) + 1;
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
		if (e->state == CELL_LIVE && memcmp(&e->key, &req->key, sizeof e->key) == 0)
			out->in_use = atomic_load(&e->count);
		pthread_mutex_unlock(&caps->lock);
		return status;
	}
}

void bs_cap_release(struct bs_caps *caps, uint32_t slot)
{
	if (slot > caps->mask)
		return;
	struct cap_entry *e = &caps->cells[slot];
	/* Nobody waits: one CAS (see the top of this file). A count of 0
	 * means not held: a double release must not corrupt counts. */
	uint32_t c = atomic_load(&e->count);
	while (c != 0 && atomic_load(&e->queued) == 0) {
		if (!atomic_compare_exchange_weak(&e->count, &c, c - 1))
			continue;
		if (__builtin_expect(atomic_load(&e->queued) == 0, 1))
			return;
		pthread_mutex_lock(&caps->lock);
		hand_over_locked(caps, e);
		pthread_mutex_unlock(&caps->lock);
		return;
	}
	if (c == 0)
		return;
	pthread_mutex_lock(&caps->lock);
	if (e->state == CELL_LIVE && atomic_load(&e->count) != 0)
		release_locked(caps, e);
	pthread_mutex_unlock(&caps->lock);
}

uint32_t bs_cap_in_use(struct bs_caps *caps, uint32_t slot)
{
	if (slot > caps->mask)
		return 0;
	pthread_mutex_lock(&caps->lock);
	const struct cap_entry *e = &caps->cells[slot];
	const uint32_t n = e->state == CELL_LIVE ? atomic_load(&e->count) : 0;
	pthread_mutex_unlock(&caps->lock);
	return n;
}

bool bs_cap_key_of(struct bs_caps *caps, uint32_t slot, struct bs_cap_key *out)
{
	if (slot > caps->mask)
		return false;
	pthread_mutex_lock(&caps->lock);
	const struct cap_entry *e = &caps->cells[slot];
	bool live = e->state == CELL_LIVE;
	if (live)
		*out = e->key;
	pthread_mutex_unlock(&caps->lock);
	return live;
}

uint32_t bs_cap_queued(struct bs_caps *caps, uint32_t slot)
{
	if (slot > caps->mask)
		return 0;
	pthread_mutex_lock(&caps->lock);
	const struct cap_entry *e = &caps->cells[slot];
	const uint32_t n = e->state == CELL_LIVE ? atomic_load(&e->queued) : 0;
	pthread_mutex_unlock(&caps->lock);
	return n;
}

void bs_caps_after_fork_child(struct bs_caps *caps)
{
	if (caps == NULL)
		return;
	pthread_mutex_init(&caps->lock, NULL);
	for (uint32_t i = 0; i <= caps->mask; i++) {
		struct cap_entry *e = &caps->cells[i];
		if (e->state != CELL_LIVE || e->head == NULL)
			continue;
		e->head = e->tail = NULL;
		atomic_store(&e->queued, 0);
		entry_retire(caps, e);
	}
}
