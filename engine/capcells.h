/* The cap table's cells: the types engine/caps.c (slots and queues) and
 * engine/capcells.c (the key table) share, and the cell operations both
 * use. Internal to engine/; callers use engine/caps.h. */
#ifndef BS_CAPCELLS_H
#define BS_CAPCELLS_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

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

_Static_assert(sizeof(struct bs_cap_key) == 24, "key_hash reads three words");

/* Three words mixed by multiplication (byte-wise, ~100 instructions). */
static inline uint32_t bs_caps_key_hash(const struct bs_cap_key *key)
{
	uint64_t w[3];
	memcpy(w, key, sizeof w);
	const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t h = (w[0] ^ (w[1] >> 7 | w[1] << 57)) * k;
	h = (h ^ (h >> 29) ^ w[2]) * k;
	return (uint32_t)(h ^ (h >> 32));
}

static inline bool bs_caps_same_key(const struct cap_entry *e, const struct bs_cap_key *key)
{
	uint64_t w[3];
	memcpy(w, key, sizeof w);
	return ((atomic_load_explicit(&e->key[0], memory_order_relaxed) ^ w[0]) |
		(atomic_load_explicit(&e->key[1], memory_order_relaxed) ^ w[1]) |
		(atomic_load_explicit(&e->key[2], memory_order_relaxed) ^ w[2])) == 0;
}

/* One more slot of e if its count is below limit (never from DEAD):
 * the count after, or 0. Lock-free acquirers raise it concurrently. */
static inline uint32_t bs_caps_take(struct cap_entry *e, uint32_t limit)
{
	uint32_t c = atomic_load(&e->count);
	while (c < limit)
		if (atomic_compare_exchange_weak(&e->count, &c, c + 1))
			return c + 1;
	return 0;
}

/* Free an entry nobody holds or waits for (false: held, waited for, or a
 * lock-free acquirer took a slot first). Lock held. */
bool bs_caps_entry_retire(struct bs_caps *caps, struct cap_entry *e);
/* The entry of key, created if absent; NULL when the table holds
 * max_keys live keys already, none of them idle. Lock held. */
struct cap_entry *bs_caps_entry_get(struct bs_caps *caps, const struct bs_cap_key *key);

#endif
