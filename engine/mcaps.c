/* Machine-wide caps (see mcaps.h). */
#include "engine/mcaps.h"

#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/procid.h"

#define HELD_BITS 16
#define HELD_MASK ((UINT64_C(1) << HELD_BITS) - 1)

static bs_ns now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (bs_ns)ts.tv_sec * BS_SEC + (bs_ns)ts.tv_nsec;
}

uint64_t bs_mcap_key(const char *rule, const struct bs_cap_key *key)
{
	uint64_t h = 14695981039346656037ull;
	for (const char *s = rule; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	struct bs_cap_key k = *key;
	k.rule = 0;
	const unsigned char *p = (const unsigned char *)&k;
	for (size_t i = 0; i < sizeof k; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h | 1;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The entry of key; claimed when absent and `claim`. */
static struct bs_mcap_entry *entry_of(struct bs_mcap_table *t, uint64_t key, bool claim,
				      const struct bs_mcap_request *req)
{
	for (size_t i = 0; i < BS_MCAP_KEYS; i++) {
		struct bs_mcap_entry *e = &t->entries[(key + i) % BS_MCAP_KEYS];
		uint64_t seen = atomic_load(&e->key);
		if (seen == 0 && claim && atomic_compare_exchange_strong(&e->key, &seen, key)) {
			copy_name(e->rule, sizeof e->rule, req->rule);
			copy_name(e->dest, sizeof e->dest, req->dest);
			return e;
		}
		if (seen == key)
			return e;
		if (seen == 0 && !claim)
			return NULL;
	}
	return NULL;
}

static void wake_all(struct bs_mcap_entry *e)
{
	atomic_fetch_add(&e->wake, 1);
	syscall(SYS_futex, &e->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Free the records of processes that died holding slots; true when any
 * slot came back. */
static bool reclaim_dead(struct bs_mcap_entry *e)
{
	bool freed = false;
	for (size_t i = 0; i < BS_MCAP_HOLDERS; i++) {
		uint64_t w = atomic_load(&e->holders[i]);
		if (w != 0 && !bs_procid_alive(w >> HELD_BITS) &&
		    atomic_compare_exchange_strong(&e->holders[i], &w, 0))
			freed |= (w & HELD_MASK) != 0;
	}
	if (freed)
		wake_all(e);
	return freed;
}

/* This process's record in e, claimed if needed; NULL when all are taken. */
static _Atomic uint64_t *my_record(struct bs_mcap_entry *e, uint64_t me, bool claim)
{
	_Atomic uint64_t *free_one = NULL;
	for (size_t i = 0; i < BS_MCAP_HOLDERS; i++) {
		uint64_t w = atomic_load(&e->holders[i]);
		if (w >> HELD_BITS == me)
			return &e->holders[i];
		if (w == 0 && free_one == NULL)
			free_one = &e->holders[i];
	}
	for (; claim && free_one != NULL; free_one++) {
		if (free_one == &e->holders[BS_MCAP_HOLDERS])
			return NULL;
		uint64_t zero = 0;
		if (atomic_compare_exchange_strong(free_one, &zero, me << HELD_BITS))
			return free_one;
	}
	return NULL;
}

static uint32_t in_use(struct bs_mcap_entry *e)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < BS_MCAP_HOLDERS; i++)
		sum += (uint32_t)(atomic_load(&e->holders[i]) & HELD_MASK);
	return sum;
}

/* Count, check, take back when over: see mcaps.h. */
static bool try_take(struct bs_mcap_entry *e, _Atomic uint64_t *mine, uint32_t limit,
		     uint32_t *count)
{
	if ((atomic_load(mine) & HELD_MASK) == HELD_MASK)
		return false;
	atomic_fetch_add(mine, 1);
	*count = in_use(e);
	if (*count <= limit)
		return true;
	atomic_fetch_sub(mine, 1);
	(*count)--;
	return false;
}

/* The oldest live waiter (ticket), or NULL; waiters of dead processes
 * met on the way are cleared. */
static struct bs_mcap_waiter *oldest(struct bs_mcap_entry *e, bs_ns now)
{
	for (;;) {
		struct bs_mcap_waiter *best = NULL;
		uint64_t best_ticket = UINT64_MAX;
		for (size_t i = 0; i < BS_MCAP_WAITERS; i++) {
			struct bs_mcap_waiter *w = &e->waiters[i];
			uint64_t ticket = atomic_load(&w->ticket);
			if (ticket != 0 && ticket < best_ticket && atomic_load(&w->deadline) > now) {
				best = w;
				best_ticket = ticket;
			}
		}
		if (best == NULL || bs_procid_alive(atomic_load(&best->owner)))
			return best;
		uint64_t ticket = best_ticket; /* its process died while queued */
		if (atomic_compare_exchange_strong(&best->ticket, &ticket, 0))
			atomic_store(&best->owner, 0);
	}
}

static struct bs_mcap_waiter *enqueue(struct bs_mcap_entry *e, uint64_t me, bs_ns deadline_at)
{
	for (size_t i = 0; i < BS_MCAP_WAITERS; i++) {
		struct bs_mcap_waiter *w = &e->waiters[i];
		uint64_t owner = atomic_load(&w->owner);
		if (owner != 0 && atomic_load(&w->ticket) == 0 && !bs_procid_alive(owner))
			atomic_compare_exchange_strong(&w->owner, &owner, 0); /* died enqueuing */
		owner = 0;
		if (!atomic_compare_exchange_strong(&w->owner, &owner, me))
			continue;
		atomic_store(&w->deadline, deadline_at);
		atomic_store(&w->ticket, atomic_fetch_add(&e->next_ticket, 1) + 1);
		return w;
	}
	return NULL;
}

/* Leave the queue; the next waiter may now be the oldest. O(1) but the wake. */
static void dequeue(struct bs_mcap_entry *e, struct bs_mcap_waiter *w)
{
	atomic_store(&w->ticket, 0);
	atomic_store(&w->owner, 0);
	wake_all(e);
}

static void futex_wait(struct bs_mcap_entry *e, uint32_t seen, bs_ns timeout)
{
	struct timespec ts = { .tv_sec = (time_t)(timeout / BS_SEC),
			       .tv_nsec = (long)(timeout % BS_SEC) };
	syscall(SYS_futex, &e->wake, FUTEX_WAIT, seen, &ts, NULL, 0);
}

static enum bs_cap_status wait_turn(struct bs_mcap_entry *e, _Atomic uint64_t *mine,
				    const struct bs_mcap_request *req, uint64_t me,
				    uint32_t *count)
{
	struct bs_mcap_waiter *w = enqueue(e, me, req->deadline_at);
	if (w == NULL)
		return BS_CAP_UNTRACKED;
	for (;;) {
		const uint32_t seen = atomic_load(&e->wake);
		const bs_ns now = now_ns();
		if (now >= req->deadline_at) {
			dequeue(e, w);
			*count = in_use(e);
			return BS_CAP_TIMEOUT;
		}
		if (oldest(e, now) == w &&
		    (try_take(e, mine, req->limit, count) ||
		     (reclaim_dead(e) && try_take(e, mine, req->limit, count)))) {
			dequeue(e, w);
			return BS_CAP_WAITED;
		}
		const bs_ns left = req->deadline_at - now;
		futex_wait(e, seen, left < BS_MCAP_POLL ? left : BS_MCAP_POLL);
	}
}

enum bs_cap_status bs_mcap_acquire(struct bs_mcap_table *t, const struct bs_mcap_request *req,
				   uint32_t *count)
{
	*count = 0;
	struct bs_mcap_entry *e = entry_of(t, req->key, true, req);
	const uint64_t me = bs_procid_self();
	_Atomic uint64_t *mine = e != NULL ? my_record(e, me, true) : NULL;
	if (mine == NULL && e != NULL && reclaim_dead(e))
		mine = my_record(e, me, true);
	if (mine == NULL)
		return BS_CAP_UNTRACKED;
	atomic_store(&e->limit, req->limit);
	/* Nobody queued before us: take a free slot at once. */
	if (oldest(e, now_ns()) == NULL &&
	    (try_take(e, mine, req->limit, count) ||
	     (reclaim_dead(e) && try_take(e, mine, req->limit, count))))
		return BS_CAP_ACQUIRED;
	if (!req->wait)
		return BS_CAP_REJECT;
	return wait_turn(e, mine, req, me, count);
}

void bs_mcap_release(struct bs_mcap_table *t, uint64_t key)
{
	struct bs_mcap_entry *e = entry_of(t, key, false, NULL);
	if (e == NULL)
		return;
	/* Two threads may have claimed a record each: take from any of ours. */
	const uint64_t me = bs_procid_self();
	for (size_t i = 0; i < BS_MCAP_HOLDERS; i++) {
		uint64_t w = atomic_load(&e->holders[i]);
		while (w >> HELD_BITS == me && (w & HELD_MASK) != 0) {
			if (atomic_compare_exchange_weak(&e->holders[i], &w, w - 1)) {
				wake_all(e);
				return;
			}
		}
	}
}

void bs_mcap_count(struct bs_mcap_entry *e, bs_ns now, uint32_t *used, uint32_t *waiters)
{
	*used = 0;
	for (size_t i = 0; i < BS_MCAP_HOLDERS; i++) {
		uint64_t w = atomic_load(&e->holders[i]);
		if (w != 0 && bs_procid_alive(w >> HELD_BITS))
			*used += (uint32_t)(w & HELD_MASK);
	}
	*waiters = 0;
	for (size_t i = 0; i < BS_MCAP_WAITERS; i++)
		*waiters += atomic_load(&e->waiters[i].ticket) != 0 &&
			    atomic_load(&e->waiters[i].deadline) > now;
}
