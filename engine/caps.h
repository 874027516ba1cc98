/* Concurrency caps: slots in use per key, and a FIFO of waiters.
 * Serves outbound max_conns (per dest, host or rule) and inbound
 * max_per_client alike.
 *
 * A freed slot goes to the oldest waiter whose deadline has not passed;
 * a waiter whose deadline passed is never handed a slot and leaves the
 * queue in O(1). The table is allocated once (bs_caps_create); acquiring
 * and releasing never allocate. Thread-safe; see bs_caps_after_fork_child. */
#ifndef BS_CAPS_H
#define BS_CAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/policy.h"

#define BS_CAP_NONE UINT32_MAX         /* "no slot": not capped */
#define BS_CAP_RULE_INBOUND UINT32_MAX /* key.rule for accept's per-client counts */

/* What a slot is counted against. For AF_UNIX, addr holds a hash of the
 * path. Unused fields are zero, so keys compare with memcmp. */
struct bs_cap_key {
	uint32_t rule;
	uint16_t family;
	uint16_t port;
	uint8_t addr[16];
};

/* The key of an outbound connection under rule->cap_scope. */
void bs_cap_key_outbound(struct bs_cap_key *key, const struct bs_rule *rule,
			 const struct sockaddr *sa, socklen_t len);
/* The key of an inbound client under the accept policy's client_scope. */
void bs_cap_key_inbound(struct bs_cap_key *key, enum bs_client_scope scope,
			const struct sockaddr *sa, socklen_t len);

struct bs_caps;

/* A waiter that does not block (an asynchronous connect): its place in
 * the queue lives in the caller's memory, and the caller asks from time
 * to time whether a slot came. Plain data owned by caps.c; zero it before
 * use. */
struct bs_cap_ticket {
	_Alignas(16) unsigned char waiter[96]; /* the queue node (caps.c) */
	uint64_t generation; /* of the table's queues (a forked child's differ) */
	uint32_t slot;
};

/* A table for up to `capacity` distinct keys. */
struct bs_caps *bs_caps_create(uint32_t capacity);
void bs_caps_destroy(struct bs_caps *caps);

struct bs_cap_request {
	struct bs_cap_key key;
	uint32_t limit;      /* > 0 */
	bool wait;           /* false: reject at once when full */
	bs_ns deadline_at;   /* absolute CLOCK_MONOTONIC; waiting ends by then */
	/* Called without the lock held when the key is full, before waiting or
	 * rejecting: lets the caller release slots whose descriptors were closed
	 * behind its back. Returns how many slots it released. May be NULL. */
	unsigned (*reclaim)(void *ctx, uint32_t slot);
	void *reclaim_ctx;
	/* With wait: queue this ticket instead of blocking (BS_CAP_QUEUED). */
	struct bs_cap_ticket *ticket;
};

enum bs_cap_status {
	BS_CAP_ACQUIRED,  /* got a slot at once */
	BS_CAP_WAITED,    /* got a slot after waiting */
	BS_CAP_TIMEOUT,   /* waited until deadline_at, no slot */
	BS_CAP_REJECT,    /* full and !wait */
	BS_CAP_UNTRACKED, /* the table is full of other keys: not capped (fail open) */
	BS_CAP_QUEUED,    /* req->ticket is in the queue: ask bs_cap_ticket_poll */
};

struct bs_cap_outcome {
	uint32_t slot;    /* pass to bs_cap_release; BS_CAP_NONE if none */
	uint32_t in_use;  /* slots in use after the decision */
	bs_ns waited;     /* time spent queued */
};

enum bs_cap_status bs_cap_acquire(struct bs_caps *caps,
				  const struct bs_cap_request *req,
				  struct bs_cap_outcome *out);
/* The lock-free part of bs_cap_acquire alone: a slot of key if it is
 * present, below limit and nobody queues for it (the slot), else
 * BS_CAP_NONE with nothing changed, for bs_cap_acquire to decide. hint:
 * the slot key had last (looked at first, and verified), or BS_CAP_NONE. */
uint32_t bs_cap_try(struct bs_caps *caps, const struct bs_cap_key *key, uint32_t limit,
		    uint32_t hint);
/* Where a queued ticket stands at `now`: BS_CAP_WAITED (a slot was
 * handed to it: out->slot), BS_CAP_QUEUED, or BS_CAP_TIMEOUT (its
 * deadline passed; it has left the queue). */
enum bs_cap_status bs_cap_ticket_poll(struct bs_caps *caps, struct bs_cap_ticket *t,
				      bs_ns now, struct bs_cap_outcome *out);
/* Leave the queue for good; a slot handed over meanwhile is passed on. */
void bs_cap_ticket_cancel(struct bs_caps *caps, struct bs_cap_ticket *t);

/* Give one slot back; it goes to the oldest live waiter, if any. Without
 * a waiter, one CAS and no lock. errno is left alone. */
void bs_cap_release(struct bs_caps *caps, uint32_t slot);
/* bs_cap_release, then returns `result`: lets a caller that must return
 * what an earlier call gave (close, after the real close) end with a tail
 * call instead of keeping a frame around the release. */
int bs_cap_release_passing(struct bs_caps *caps, uint32_t slot, int result);
uint32_t bs_cap_in_use(struct bs_caps *caps, uint32_t slot);
/* The key slot counts against; false when nothing holds or awaits it. */
bool bs_cap_key_of(struct bs_caps *caps, uint32_t slot, struct bs_cap_key *out);
/* How many callers are queued for slot's key. */
uint32_t bs_cap_queued(struct bs_caps *caps, uint32_t slot);

/* Call fn(ctx, key) after every slot given back, outside the lock (the
 * preload mirrors machine-wide slots this way: engine/mcaps.h). */
void bs_caps_on_release(struct bs_caps *caps,
			void (*fn)(void *ctx, const struct bs_cap_key *key), void *ctx);

/* Replace the clock that decides waiter expiry (default CLOCK_MONOTONIC;
 * NULL restores it). For tests: waits still end by the real deadline_at. */
void bs_caps_set_clock(struct bs_caps *caps, bs_ns (*clock)(void *ctx), void *ctx);

/* fork: bs_caps_fork_prepare takes the lock before fork (pthread_atfork
 * prepare), bs_caps_fork_parent releases it in the parent. In the child,
 * bs_caps_after_fork_child gives a fresh lock, forgets the waiters (they
 * were threads of the parent) and zeroes every count; the caller then
 * counts each slot a descriptor of the child holds with
 * bs_caps_recount_add and ends with bs_caps_recount_end, which frees the
 * keys nobody holds. A slot a thread of the parent held while inside
 * connect is thus not carried into the child, where nothing would ever
 * give it back. Single-threaded (the child, right after fork). */
void bs_caps_fork_prepare(struct bs_caps *caps);
void bs_caps_fork_parent(struct bs_caps *caps);
void bs_caps_after_fork_child(struct bs_caps *caps);
void bs_caps_recount_add(struct bs_caps *caps, uint32_t slot);
void bs_caps_recount_end(struct bs_caps *caps);

#endif
