/* Machine-wide caps (see mcaps.h). */
#include "engine/mcaps.h"

#include <errno.h>
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

static void wake_head(struct bs_mcap_entry *e);

static void wake(struct bs_mcap_waiter *w)
{
	atomic_fetch_add(&w->wake, 1);
	syscall(SYS_futex, &w->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
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
		wake_head(e);
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

/* Count, check, take back when over: see mcaps.h. Racing takers may all
 * see the sum over the limit and all take back: one that then finds a
 * slot free tries again (a few times), so that a free slot is not
 * refused for others' tentative counts. */
static bool try_take(struct bs_mcap_entry *e, _Atomic uint64_t *mine, uint32_t limit,
		     uint32_t *count)
{
	for (int tries = 0; tries < 4; tries++) {
		if ((atomic_load(mine) & HELD_MASK) == HELD_MASK)
			return false;
		atomic_fetch_add(mine, 1);
		*count = in_use(e);
		if (*count <= limit)
			return true;
		atomic_fetch_sub(mine, 1);
		(*count)--;
		if (in_use(e) >= limit)
			return false;
	}
	return false;
}

/* try_take, and again after reclaiming dead holders' slots (whoever
 * reclaimed them, this caller or a racing one). */
static bool take(struct bs_mcap_entry *e, _Atomic uint64_t *mine, uint32_t limit,
		 uint32_t *count)
{
	if (try_take(e, mine, limit, count))
		return true;
	reclaim_dead(e);
	return try_take(e, mine, limit, count);
}

/* Clear every entry of a process that died queued. */
static void clear_waiters_of(struct bs_mcap_entry *e, uint64_t owner)
{
	for (size_t i = 0; i < BS_MCAP_WAITERS; i++) {
		struct bs_mcap_waiter *w = &e->waiters[i];
		uint64_t ticket = atomic_load(&w->ticket);
		if (atomic_load(&w->owner) != owner)
			continue;
		/* The ticket (unique) proves the entry is still the dead one's. */
		if (ticket != 0 && atomic_compare_exchange_strong(&w->ticket, &ticket, 0))
			atomic_compare_exchange_strong(&w->owner, &owner, 0);
	}
}

/* The oldest waiter (ticket) whose deadline has not passed, or NULL.
 * Whether it still lives costs system calls (engine/procid.h): it is
 * checked only with `check` (by a releaser about to wake it, and by
 * waiters whose wait timed out), and not when it is the caller's own
 * process (`me`); a dead head is cleared with all its process's entries. */
static struct bs_mcap_waiter *oldest(struct bs_mcap_entry *e, bs_ns now, bool check,
				     uint64_t me)
{
	for (bool cleared = false;; cleared = true) {
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
		if (best == NULL || !check)
			return best;
		const uint64_t owner = atomic_load(&best->owner);
		if (owner == me || (owner != 0 && bs_procid_alive(owner))) {
			if (cleared && owner != me)
				wake(best); /* head now, and it does not know */
			return best;
		}
		if (owner != 0)
			clear_waiters_of(e, owner);
		else if (atomic_compare_exchange_strong(&best->ticket, &best_ticket, 0))
			continue; /* a stale ticket of an entry being cleared */
	}
}

/* How many waiters whose deadline has not passed are ahead of ticket. */
static uint32_t waiters_ahead(struct bs_mcap_entry *e, bs_ns now, uint64_t ticket)
{
	uint32_t n = 0;
	for (size_t i = 0; i < BS_MCAP_WAITERS; i++) {
		uint64_t t = atomic_load(&e->waiters[i].ticket);
		n += t != 0 && t < ticket && atomic_load(&e->waiters[i].deadline) > now;
	}
	return n;
}

/* Wake the oldest live waiter: a slot may be free for it. */
static void wake_head(struct bs_mcap_entry *e)
{
	struct bs_mcap_waiter *head = oldest(e, now_ns(), true, 0);
	if (head != NULL)
		wake(head);
}

/* Clear the entries of processes that died queued (or enqueuing): they
 * are otherwise cleared only on reaching the head, and a queue full of
 * them would turn live callers away. Called only when the queue is full;
 * one liveness check per run of entries of the same process. */
static void sweep_dead_waiters(struct bs_mcap_entry *e)
{
	uint64_t checked = 0;
	bool checked_alive = true;
	for (size_t i = 0; i < BS_MCAP_WAITERS; i++) {
		struct bs_mcap_waiter *w = &e->waiters[i];
		uint64_t ticket = atomic_load(&w->ticket); /* before the owner: see oldest */
		uint64_t owner = atomic_load(&w->owner);
		if (owner == 0)
			continue;
		if (owner != checked) {
			checked = owner;
			checked_alive = bs_procid_alive(owner);
		}
		if (checked_alive)
			continue;
		if (ticket != 0 && !atomic_compare_exchange_strong(&w->ticket, &ticket, 0))
			continue; /* left, and maybe taken again, meanwhile */
		atomic_compare_exchange_strong(&w->owner, &owner, 0);
	}
}

static struct bs_mcap_waiter *enqueue(struct bs_mcap_entry *e, uint64_t me, bs_ns deadline_at)
{
	for (int round = 0; round < 2; round++, sweep_dead_waiters(e)) {
		for (size_t i = 0; i < BS_MCAP_WAITERS; i++) {
			struct bs_mcap_waiter *w = &e->waiters[i];
			uint64_t owner = 0;
			if (!atomic_compare_exchange_strong(&w->owner, &owner, me))
				continue;
			atomic_store(&w->deadline, deadline_at);
			atomic_store(&w->ticket, atomic_fetch_add(&e->next_ticket, 1) + 1);
			return w;
		}
	}
	return NULL;
}

/* Leave the queue, O(1). */
static void dequeue(struct bs_mcap_waiter *w)
{
	atomic_store(&w->ticket, 0);
	atomic_store(&w->owner, 0);
}

/* Returns whether the wait timed out (rather than being woken). */
static bool futex_wait(struct bs_mcap_waiter *w, uint32_t seen, bs_ns timeout)
{
	struct timespec ts = { .tv_sec = (time_t)(timeout / BS_SEC),
			       .tv_nsec = (long)(timeout % BS_SEC) };
	return syscall(SYS_futex, &w->wake, FUTEX_WAIT, seen, &ts, NULL, 0) != 0 &&
	       errno == ETIMEDOUT;
}

/* One look at a queued waiter w at `now`: BS_CAP_WAITED (it took a slot
 * and left the queue), BS_CAP_TIMEOUT (its deadline passed: it left,
 * never served), or BS_CAP_QUEUED. `check`: make sure the head lives
 * (after a wait that no release ended). *near (unless NULL): w is among the first
 * BS_MCAP_NEAR in line, who look often (the head for dead holders' slots,
 * the others for dead heads: a process killed with many threads queued
 * leaves a run of them, and whoever is behind the run must notice). */
static enum bs_cap_status take_turn(struct bs_mcap_entry *e, struct bs_mcap_waiter *w,
				    _Atomic uint64_t *mine, uint32_t limit, uint64_t me,
				    bs_ns now, bool check, uint32_t *count, bool *near)
{
	if (now >= atomic_load(&w->deadline)) {
		dequeue(w);
		wake_head(e); /* it may have been next in line for a free slot */
		*count = in_use(e);
		return BS_CAP_TIMEOUT;
	}
	if (oldest(e, now, check, me) != w) {
		if (near != NULL)
			*near = waiters_ahead(e, now, atomic_load(&w->ticket)) < BS_MCAP_NEAR;
		return BS_CAP_QUEUED;
	}
	if (near != NULL)
		*near = true;
	if (!take(e, mine, limit, count))
		return BS_CAP_QUEUED;
	dequeue(w);
	if (*count < limit)
		wake_head(e); /* more slots free: the next one's turn too */
	return BS_CAP_WAITED;
}

static enum bs_cap_status wait_turn(struct bs_mcap_entry *e, _Atomic uint64_t *mine,
				    const struct bs_mcap_request *req, uint64_t me,
				    uint32_t *count)
{
	struct bs_mcap_waiter *w = enqueue(e, me, req->deadline_at);
	if (w == NULL)
		return BS_CAP_UNTRACKED;
	for (bool check = true;;) { /* a newcomer may queue behind a dead head */
		const uint32_t seen = atomic_load(&w->wake);
		const bs_ns now = now_ns();
		bool near;
		enum bs_cap_status st = take_turn(e, w, mine, req->limit, me, now, check, count,
						  &near);
		if (st != BS_CAP_QUEUED)
			return st;
		const bs_ns left = req->deadline_at - now, poll = near ? BS_MCAP_HEAD_POLL : BS_MCAP_POLL;
		check = futex_wait(w, seen, left < poll ? left : poll);
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
	/* Nobody (alive) queued before us: take a free slot at once. */
	if (oldest(e, now_ns(), true, me) == NULL &&
	    take(e, mine, req->limit, count))
		return BS_CAP_ACQUIRED;
	if (!req->wait)
		return BS_CAP_REJECT;
	if (req->ticket == NULL)
		return wait_turn(e, mine, req, me, count);
	struct bs_mcap_waiter *w = enqueue(e, me, req->deadline_at);
	if (w == NULL)
		return BS_CAP_UNTRACKED;
	*req->ticket = (struct bs_mcap_ticket){
		.key = req->key, .limit = req->limit, .index = (uint32_t)(w - e->waiters),
		.ticket = atomic_load(&w->ticket),
	};
	return BS_CAP_QUEUED;
}

/* The queued waiter of tk, or NULL when it is no longer this process's
 * (a forked child's copy of its parent's ticket). */
static struct bs_mcap_waiter *ticket_waiter(struct bs_mcap_table *t,
					    const struct bs_mcap_ticket *tk, uint64_t me,
					    struct bs_mcap_entry **e)
{
	*e = entry_of(t, tk->key, false, NULL);
	if (*e == NULL || tk->index >= BS_MCAP_WAITERS)
		return NULL;
	struct bs_mcap_waiter *w = &(*e)->waiters[tk->index];
	return atomic_load(&w->ticket) == tk->ticket && atomic_load(&w->owner) == me ? w : NULL;
}

enum bs_cap_status bs_mcap_poll(struct bs_mcap_table *t, struct bs_mcap_ticket *tk, bs_ns now,
				uint32_t *count)
{
	*count = 0;
	struct bs_mcap_entry *e;
	const uint64_t me = bs_procid_self();
	struct bs_mcap_waiter *w = ticket_waiter(t, tk, me, &e);
	if (w == NULL)
		return BS_CAP_TIMEOUT;
	_Atomic uint64_t *mine = my_record(e, me, true);
	if (mine == NULL) { /* no record left: not capped, as at the start */
		bs_mcap_cancel(t, tk);
		return BS_CAP_UNTRACKED;
	}
	/* Whether the head lives is asked only now and then: it costs
	 * system calls, and a release checks it anyway. */
	const bool check = now - tk->checked_at >= BS_MCAP_POLL;
	if (check)
		tk->checked_at = now;
	return take_turn(e, w, mine, tk->limit, me, now, check, count, NULL);
}

void bs_mcap_cancel(struct bs_mcap_table *t, struct bs_mcap_ticket *tk)
{
	struct bs_mcap_entry *e;
	struct bs_mcap_waiter *w = ticket_waiter(t, tk, bs_procid_self(), &e);
	if (w == NULL)
		return;
	dequeue(w);
	wake_head(e); /* it may have been next in line for a free slot */
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
				wake_head(e);
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
