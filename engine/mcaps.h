/* Machine-wide caps: max_conns counted across every process of the
 * machine (share = machine), in the state file (engine/shm.h).
 *
 * Per key: a record per holding process (its id, engine/procid.h, and
 * how many slots it holds, in one atomic word) and a queue of waiters
 * (tickets). Nothing here is a lock, so a process killed at any
 * instruction wedges nobody:
 *  - a slot is taken by counting it in the taker's record, then checking
 *    the sum over all records against the limit, and taking it back when
 *    over: the cap is never exceeded;
 *  - the records of dead processes (their slots with them) are reclaimed
 *    by whoever finds the key full, and waiters of dead processes are
 *    skipped and cleared;
 *  - waiters are served oldest ticket first; a waiter whose deadline
 *    passed is never served and leaves by clearing its own entry (O(1)).
 * Waiting is a futex wait on the waiter's own word of the shared mapping:
 * a release wakes only the oldest live waiter (checking that it lives,
 * so that one killed while queued is skipped at once), which wakes the
 * next when slots remain free. Each waiter also looks every BS_MCAP_POLL
 * without being woken (checking that the head lives), and the first
 * BS_MCAP_NEAR in line every BS_MCAP_HEAD_POLL (the head reclaiming slots
 * of processes killed while holding them, the others checking that the
 * head lives), so nothing depends on a wake that a killed process never sent. */
#ifndef BS_MCAPS_H
#define BS_MCAPS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/caps.h"
#include "policy/dest.h"

#define BS_MCAP_KEYS 64
#define BS_MCAP_HOLDERS 256  /* processes holding slots of one key at once */
#define BS_MCAP_WAITERS 512  /* callers queued for one key at once */
#define BS_MCAP_POLL (50 * BS_MS)
#define BS_MCAP_HEAD_POLL (10 * BS_MS) /* the first BS_MCAP_NEAR waiters in line */
#define BS_MCAP_NEAR 32

struct bs_mcap_waiter {
	_Atomic uint64_t owner;    /* procid of the waiting process; 0: free */
	_Atomic uint64_t deadline; /* CLOCK_MONOTONIC ns */
	_Atomic uint64_t ticket;   /* published last; 0: not queued */
	_Atomic uint32_t wake;     /* its futex word, bumped to wake it */
};

struct bs_mcap_entry {
	_Atomic uint64_t key;      /* 0: free */
	char rule[BS_NAME_MAX];    /* for `backstop state` */
	char dest[BS_DEST_MAX];    /* the first destination counted */
	_Atomic uint32_t limit;    /* the latest max_conns asked with */
	_Atomic uint64_t next_ticket;
	_Atomic uint64_t holders[BS_MCAP_HOLDERS]; /* procid << 16 | slots held */
	struct bs_mcap_waiter waiters[BS_MCAP_WAITERS];
};

struct bs_mcap_table {
	struct bs_mcap_entry entries[BS_MCAP_KEYS];
};

/* The key of a cap across processes: the rule's name instead of its index
 * (which differs between policies), and the destination part of key. */
uint64_t bs_mcap_key(const char *rule, const struct bs_cap_key *key);

/* A place in the queue of a caller that does not block (an asynchronous
 * connect), in the caller's memory. */
struct bs_mcap_ticket {
	uint64_t key;
	uint32_t limit;
	uint32_t index;     /* of its waiter entry */
	uint64_t ticket;    /* that entry's ticket: proves it is still ours */
	bs_ns checked_at;   /* when it last checked that the head lives */
};

struct bs_mcap_request {
	uint64_t key;
	const char *rule, *dest;   /* names for `backstop state` */
	uint32_t limit;            /* > 0, at most 65535 per process */
	bool wait;
	bs_ns deadline_at;         /* CLOCK_MONOTONIC */
	struct bs_mcap_ticket *ticket; /* with wait: queue it, never block */
};

/* BS_CAP_ACQUIRED, BS_CAP_WAITED, BS_CAP_TIMEOUT, BS_CAP_REJECT,
 * BS_CAP_QUEUED (with a ticket: ask bs_mcap_poll), or BS_CAP_UNTRACKED
 * (table, holders or waiters full: not capped). *in_use is the count
 * after the decision. */
enum bs_cap_status bs_mcap_acquire(struct bs_mcap_table *t, const struct bs_mcap_request *req,
				   uint32_t *in_use);

/* Where a queued ticket stands at `now`, without blocking and, unless it
 * is the head at a full cap or has not asked for BS_MCAP_POLL, with no
 * system call but getpid (bs_procid_self): BS_CAP_WAITED (it holds a slot now), BS_CAP_QUEUED,
 * BS_CAP_TIMEOUT (its deadline passed, or a forked child asks about its
 * parent's ticket: it has left the queue, never served) or
 * BS_CAP_UNTRACKED (not capped after all). */
enum bs_cap_status bs_mcap_poll(struct bs_mcap_table *t, struct bs_mcap_ticket *tk, bs_ns now,
				uint32_t *in_use);
/* Leave the queue for good (nothing when already out). */
void bs_mcap_cancel(struct bs_mcap_table *t, struct bs_mcap_ticket *tk);

/* Give back one slot of key that this process holds (nothing when it
 * holds none: a forked child closing its parent's connection). */
void bs_mcap_release(struct bs_mcap_table *t, uint64_t key);

/* For `backstop state`: slots in use (by live processes) and live
 * waiters of an entry at `now`. */
void bs_mcap_count(struct bs_mcap_entry *e, bs_ns now, uint32_t *in_use,
		   uint32_t *waiters);

#endif
