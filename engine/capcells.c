/* The cap table's keys (see caps.h; slots and queues are caps.c).
 *
 * Keys live in a fixed open-addressing table with linear probing, sized
 * at least twice the key capacity. A slot id is the index of its key's
 * cell, which never moves while in use. A key at count 0 that nobody
 * waits for stays LIVE (idle) until another key needs its cell; retired
 * cells are tombstones, and tombstones ending a probe run turn back into
 * empty cells at once, so keys that come and go do not clog the table.
 *
 * The fork discipline and the lock-free accessors are here too. */
#include <stdlib.h>
#include <time.h>

#include "engine/capcells.h"

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

/* Free an entry nobody holds or waits for. A tombstone followed by an
 * empty cell ends no probe run that matters, so it (and the tombstones
 * before it) become empty again. */
bool bs_caps_entry_retire(struct bs_caps *caps, struct cap_entry *e)
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
		if (idle(&caps->cells[i]) && bs_caps_entry_retire(caps, &caps->cells[i]))
			return true;
	return false;
}

/* The entry of key, created if absent; NULL when the table holds
 * max_keys live keys already, none of them idle. */
struct cap_entry *bs_caps_entry_get(struct bs_caps *caps, const struct bs_cap_key *key)
{
	struct cap_entry *reuse;
again:
	reuse = NULL;
	for (uint32_t i = bs_caps_key_hash(key), n = 0; n <= caps->mask; i++, n++) {
		struct cap_entry *e = &caps->cells[i & caps->mask];
		if (e->state == CELL_LIVE && bs_caps_same_key(e, key))
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
	if (reuse != NULL && reuse->state == CELL_LIVE && !bs_caps_entry_retire(caps, reuse))
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
			bs_caps_entry_retire(caps, &caps->cells[i]);
}

