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
 * all; nothing here allocates after bs_caps_create. */
#include <errno.h>
#include <pthread.h>
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

/* A ticket's node is a waiter that nobody blocks on, stored in its bytes. */
_Static_assert(sizeof(struct cap_waiter) <= sizeof(((struct bs_cap_ticket *)0)->waiter),
	       "a ticket holds a waiter");

static struct cap_waiter *ticket_node(struct bs_cap_ticket *t)
{
	return (struct cap_waiter *)(void *)t->waiter;
}

struct cap_entry {
	struct bs_cap_key key;
	enum cell_state state;
	uint32_t count;
	uint32_t queued;
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

static uint32_t key_hash(const struct bs_cap_key *key)
{
	const uint8_t *p = (const uint8_t *)key;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < sizeof *key; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return (uint32_t)(h ^ (h >> 32));
}

/* The entry of key, created if absent; NULL when the table holds
 * max_keys live keys already. */
static struct cap_entry *entry_get(struct bs_caps *caps, const struct bs_cap_key *key)
{
	struct cap_entry *reuse = NULL;
	for (uint32_t i = key_hash(key), n = 0; n <= caps->mask; i++, n++) {
		struct cap_entry *e = &caps->cells[i & caps->mask];
		if (e->state == CELL_LIVE && memcmp(&e->key, key, sizeof *key) == 0)
			return e;
		if (e->state == CELL_TOMB && reuse == NULL)
			reuse = e;
		if (e->state == CELL_EMPTY) {
			if (reuse == NULL)
				reuse = e;
			break;
		}
	}
	if (reuse == NULL || caps->live == caps->max_keys)
		return NULL;
	memset(reuse, 0, sizeof *reuse);
	reuse->key = *key;
	reuse->state = CELL_LIVE;
	caps->live++;
	return reuse;
}

/* Free an entry nobody holds or waits for. A tombstone followed by an
 * empty cell ends no probe run that matters, so it (and the tombstones
 * before it) become empty again. */
static void entry_retire(struct bs_caps *caps, struct cap_entry *e)
{
	if (e->count != 0 || e->head != NULL)
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
	e->queued++;
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
	e->queued--;
}

static struct timespec to_timespec(bs_ns t)
{
	return (struct timespec){ .tv_sec = (time_t)(t / BS_SEC),
				  .tv_nsec = (long)(t % BS_SEC) };
}

/* Give e's slot to the oldest waiter still inside its deadline, or drop
 * the count when there is none. Lock held. */
static void release_locked(struct bs_caps *caps, struct cap_entry *e)
{
	const bs_ns now = e->head ? caps->clock(caps->clock_ctx) : 0;
	while (e->head != NULL) {
		struct cap_waiter *w = e->head;
		waiter_unlink(e, w);
		if (!w->queued)
			pthread_cond_signal(&w->wake);
		if (w->deadline_at > now) {
			w->granted = true; /* the slot changes hands; count stays */
			return;
		}
	}
	e->count--;
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
		if (e->count < req->limit) {
			e->count++;
			*out = (struct bs_cap_outcome){ .slot = slot, .in_use = e->count };
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
		if (e->state == CELL_LIVE && memcmp(&e->key, &req->key, sizeof e->key) == 0)
			out->in_use = e->count;
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

void bs_cap_release(struct bs_caps *caps, uint32_t slot)
{
	if (slot > caps->mask)
		return;
	pthread_mutex_lock(&caps->lock);
	struct cap_entry *e = &caps->cells[slot];
	if (e->state != CELL_LIVE || e->count == 0) {
		pthread_mutex_unlock(&caps->lock);
		return; /* not held: a double release must not corrupt counts */
	}
	release_locked(caps, e);
	pthread_mutex_unlock(&caps->lock);
}

uint32_t bs_cap_in_use(struct bs_caps *caps, uint32_t slot)
{
	if (slot > caps->mask)
		return 0;
	pthread_mutex_lock(&caps->lock);
	const struct cap_entry *e = &caps->cells[slot];
	const uint32_t n = e->state == CELL_LIVE ? e->count : 0;
	pthread_mutex_unlock(&caps->lock);
	return n;
}

uint32_t bs_cap_queued(struct bs_caps *caps, uint32_t slot)
{
	if (slot > caps->mask)
		return 0;
	pthread_mutex_lock(&caps->lock);
	const struct cap_entry *e = &caps->cells[slot];
	const uint32_t n = e->state == CELL_LIVE ? e->queued : 0;
	pthread_mutex_unlock(&caps->lock);
	return n;
}

void bs_caps_after_fork_child(struct bs_caps *caps)
{
	if (caps == NULL)
		return;
	pthread_mutex_init(&caps->lock, NULL);
	caps->generation++;
	for (uint32_t i = 0; i <= caps->mask; i++) {
		struct cap_entry *e = &caps->cells[i];
		if (e->state != CELL_LIVE || e->head == NULL)
			continue;
		e->head = e->tail = NULL;
		e->queued = 0;
		entry_retire(caps, e);
	}
}
