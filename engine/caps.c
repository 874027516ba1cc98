/* The cap table's slots and queues (see caps.h; the key table is
 * capcells.c).
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
#include <time.h>

#include "engine/capcells.h"

static struct cap_waiter *ticket_node(struct bs_cap_ticket *t)
{
	return (struct cap_waiter *)(void *)t->waiter;
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
	bs_caps_entry_retire(caps, e);
}

/* A lock-free release dropped the count, then saw a waiter: hand the
 * freed slot over if it is still free. Lock held. */
static void hand_over_locked(struct bs_caps *caps, struct cap_entry *e)
{
	while (e->state == CELL_LIVE && e->head != NULL && bs_caps_take(e, e->limit) != 0)
		if (!grant_oldest(caps, e)) {
			atomic_fetch_sub(&e->count, 1); /* every waiter had expired */
			break;
		}
	bs_caps_entry_retire(caps, e);
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
		bs_caps_entry_retire(wt->caps, wt->e);
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
	if (bs_caps_take(e, e->limit) != 0) {
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

/* One cell's part of acquire_unlocked: 1 (a slot: *in_use), 0 (not
 * this cell: probe on), -1 (stop: take the locked path). */
static inline int try_cell(struct bs_caps *caps, struct cap_entry *e,
			   const struct bs_cap_key *key, uint32_t limit, uint32_t *in_use)
{
	uint32_t gen = atomic_load(&e->gen);
	int state = atomic_load(&e->state);
	if (state == CELL_EMPTY || (gen & 1))
		return -1;
	if (state != CELL_LIVE || !bs_caps_same_key(e, key))
		return 0;
	uint32_t n = atomic_load(&e->queued) == 0 ? bs_caps_take(e, limit) : 0;
	if (n != 0 && atomic_load(&e->gen) != gen) {
		bs_cap_release(caps, (uint32_t)(e - caps->cells)); /* the cell changed hands */
		n = 0;
	}
	*in_use = n;
	return n != 0 ? 1 : -1;
}

/* A key already present, below its limit, nobody queued: one CAS, no
 * lock (see the top of this file). false: take the locked path. */
static bool acquire_unlocked(struct bs_caps *caps, const struct bs_cap_key *key,
			     uint32_t limit, struct bs_cap_outcome *out)
{
	for (uint32_t i = bs_caps_key_hash(key), n = 0; n <= caps->mask; i++, n++) {
		struct cap_entry *e = &caps->cells[i & caps->mask];
		uint32_t in_use;
		int r = try_cell(caps, e, key, limit, &in_use);
		if (r == 0)
			continue;
		*out = (struct bs_cap_outcome){ .slot = r > 0 ? (uint32_t)(e - caps->cells)
							       : BS_CAP_NONE,
						.in_use = r > 0 ? in_use : 0 };
		return r > 0;
	}
	return false;
}

uint32_t bs_cap_try(struct bs_caps *caps, const struct bs_cap_key *key, uint32_t limit,
		    uint32_t hint)
{
	uint32_t in_use;
	if (hint <= caps->mask && try_cell(caps, &caps->cells[hint], key, limit, &in_use) > 0)
		return hint;
	struct bs_cap_outcome out;
	return acquire_unlocked(caps, key, limit, &out) ? out.slot : BS_CAP_NONE;
}

enum bs_cap_status bs_cap_acquire(struct bs_caps *caps,
				  const struct bs_cap_request *req,
				  struct bs_cap_outcome *out)
{
	bool reclaimed = req->reclaim == NULL;
	if (acquire_unlocked(caps, &req->key, req->limit, out))
		return BS_CAP_ACQUIRED;
	*out = (struct bs_cap_outcome){ .slot = BS_CAP_NONE };

	pthread_mutex_lock(&caps->lock);
	for (;;) {
		struct cap_entry *e = bs_caps_entry_get(caps, &req->key);
		if (e == NULL) {
			pthread_mutex_unlock(&caps->lock);
			return BS_CAP_UNTRACKED;
		}
		const uint32_t slot = (uint32_t)(e - caps->cells);
		e->limit = req->limit;
		uint32_t in_use = atomic_load(&e->queued) == 0 ? bs_caps_take(e, req->limit) : 0;
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
		if (e->state == CELL_LIVE && bs_caps_same_key(e, &req->key))
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
		bs_caps_entry_retire(caps, e);
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
			bs_caps_entry_retire(caps, e);
		} else if (w->granted) {
			release_locked(caps, e);
		}
		w->granted = w->linked = false;
	}
	pthread_mutex_unlock(&caps->lock);
}

/* What a lock-free release did, or left to do under the lock. */
enum release_step {
	RELEASED,  /* the count dropped, nobody waits */
	HAND_OVER, /* the count dropped, then a waiter came: hand the slot over */
	QUEUED,    /* somebody waits: the slot goes to them, under the lock */
	NOT_HELD,  /* count 0 (or retired): a double release changes nothing */
};

/* Nobody waits: one CAS (see the top of this file). A count of 0 means
 * not held: a double release must not corrupt counts. */
static inline enum release_step release_unlocked(struct cap_entry *e)
{
	uint32_t c = atomic_load(&e->count);
	while (c != 0 && c != DEAD && atomic_load(&e->queued) == 0) {
		if (!atomic_compare_exchange_weak(&e->count, &c, c - 1))
			continue;
		return __builtin_expect(atomic_load(&e->queued) == 0, 1) ? RELEASED : HAND_OVER;
	}
	return c == 0 || c == DEAD ? NOT_HELD : QUEUED;
}

/* The rest of a release after release_unlocked, under the lock; returns
 * whether a slot was given back. Out of line: the common release needs no
 * frame. */
static __attribute__((noinline)) bool release_locked_step(struct bs_caps *caps,
							  struct cap_entry *e,
							  enum release_step step)
{
	if (step == RELEASED || step == NOT_HELD)
		return step == RELEASED;
	pthread_mutex_lock(&caps->lock);
	bool held = true;
	if (step == HAND_OVER) {
		hand_over_locked(caps, e);
	} else {
		held = e->state == CELL_LIVE && atomic_load(&e->count) != 0;
		if (held)
			release_locked(caps, e);
	}
	pthread_mutex_unlock(&caps->lock);
	return held;
}

/* Whether a slot was given back. Inline: without waiters, one CAS. */
static inline bool release_slot(struct bs_caps *caps, uint32_t slot)
{
	if (slot > caps->mask)
		return false;
	enum release_step step = release_unlocked(&caps->cells[slot]);
	if (__builtin_expect(step == RELEASED, 1))
		return true;
	return release_locked_step(caps, &caps->cells[slot], step);
}

/* A release with an on_release callback: the key is read first (once
 * released, the cell may serve another). */
static __attribute__((noinline)) void release_keyed(struct bs_caps *caps, uint32_t slot)
{
	struct bs_cap_key key;
	bool keyed = bs_cap_key_of(caps, slot, &key);
	if (release_slot(caps, slot) && keyed)
		caps->on_release(caps->on_release_ctx, &key);
}

void bs_cap_release(struct bs_caps *caps, uint32_t slot)
{
	if (caps->on_release != NULL)
		release_keyed(caps, slot);
	else
		release_slot(caps, slot);
}

/* bs_cap_release_passing's paths other than a lock-free release: out of
 * line, and reached by tail calls, so that the common one needs no frame. */
static __attribute__((noinline)) int release_passing_other(struct bs_caps *caps,
							   uint32_t slot, int result)
{
	bs_cap_release(caps, slot);
	return result;
}

static __attribute__((noinline)) int release_passing_locked(struct bs_caps *caps,
							    uint32_t slot,
							    enum release_step step, int result)
{
	release_locked_step(caps, &caps->cells[slot], step);
	return result;
}

int bs_cap_release_passing(struct bs_caps *caps, uint32_t slot, int result)
{
	if (caps->on_release != NULL || slot > caps->mask)
		return release_passing_other(caps, slot, result);
	enum release_step step = release_unlocked(&caps->cells[slot]);
	if (__builtin_expect(step != RELEASED, 0))
		return release_passing_locked(caps, slot, step, result);
	return result;
}
