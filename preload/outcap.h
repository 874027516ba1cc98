/* Cap slots for outbound connects: the glue between the connect wrapper,
 * the cap table (engine/caps.h) and descriptor tracking (fdtrack.h).
 *
 * Usage by the connect path:
 *
 *	uint32_t slot; bool waited;
 *	int err = bs_outcap_acquire(rt, rule, sa, len, may_wait, ctx,
 *				    deadline_at, &slot, &waited);
 *	if (err) { errno = err; return -1; }      // EAGAIN or ETIMEDOUT
 *	... connect (with retries) ...
 *	if (connected, or EINPROGRESS left to the program)
 *		bs_outcap_commit(fd, slot);         // the socket now owns it
 *	else
 *		bs_outcap_abandon(slot);            // give it back at once
 *
 * Semantics: rule->max_conns == 0, or dest in rule->exempt: no cap (slot
 * is BS_CAP_NONE, commit/abandon are then no-ops). At the cap with
 * on_cap = fail, or when the caller may not wait (may_wait(ctx) false: a
 * nonblocking socket; asked only at the cap, so a slot taken at once
 * costs no fcntl):
 * logs cap.reject, returns EAGAIN. With on_cap = wait: logs cap.wait,
 * queues FIFO until a slot frees, cap_wait passes or deadline_at passes
 * (whichever is first); then cap.acquired (returns 0, *waited = true) or
 * cap.timeout (returns ETIMEDOUT). A full table of other keys fails open
 * (not capped). Before waiting or rejecting, slots of descriptors closed
 * behind backstop's back are reclaimed (bs_fdtrack_reclaim).
 *
 * share = machine (with the state file mapped): the slot is first taken
 * in the machine-wide table (engine/mcaps.h), with the same wait, reject
 * and log semantics but one queue for every process, then mirrored by an
 * uncapped slot of the process's table (key rule | BS_CAP_RULE_MACHINE),
 * which descriptor tracking releases like any other; its release gives
 * the machine slot back (bs_outcap_released).
 *
 * errno is never changed by these functions. */
#ifndef BS_OUTCAP_H
#define BS_OUTCAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/policy.h"
#include "preload/runtime.h"

/* Returns 0 with *slot set (BS_CAP_NONE when not capped) and *waited
 * telling whether the caller queued; or EAGAIN / ETIMEDOUT, the errno
 * the program's connect must fail with (no slot is then held).
 * deadline_at is the absolute CLOCK_MONOTONIC deadline of the whole call. */
/* A may_wait for bs_outcap_acquire that never lets the caller wait. */
bool bs_outcap_no_wait(void *ctx);

int bs_outcap_acquire(struct bs_runtime *rt, const struct bs_rule *rule,
		      const struct sockaddr *sa, socklen_t len, bool (*may_wait)(void *ctx),
		      void *ctx, bs_ns deadline_at, uint32_t *slot, bool *waited);

/* The same for a connect that must not block (nonblocking = async): at
 * the cap with on_cap = wait, cap.wait is logged, `ticket` (which must
 * stay put until settled) joins the queue (the process's, or with share =
 * machine the machine-wide one), and EINPROGRESS is returned.
 * Then bs_outcap_poll says 0 (a slot: *slot, cap.acquired logged),
 * EINPROGRESS (still queued) or ETIMEDOUT (cap.timeout logged; queued_at
 * is when the wait began); bs_outcap_cancel leaves the queue for good. */
struct bs_outcap_ticket {
	struct bs_cap_ticket process;  /* in the process's table */
	struct bs_mcap_ticket machine; /* share = machine: in the state file */
	struct bs_cap_key key;         /* of the machine slot's mirror */
	bool is_machine;
};
int bs_outcap_queue(struct bs_runtime *rt, const struct bs_rule *rule,
		    const struct sockaddr *sa, socklen_t len, bs_ns deadline_at,
		    struct bs_outcap_ticket *ticket, uint32_t *slot, bool *waited);
int bs_outcap_poll(struct bs_runtime *rt, const struct bs_rule *rule,
		   const struct sockaddr *sa, socklen_t len, struct bs_outcap_ticket *ticket,
		   bs_ns queued_at, bs_ns now, uint32_t *slot);
void bs_outcap_cancel(struct bs_runtime *rt, struct bs_outcap_ticket *ticket);

/* Whether bs_outcap_try can serve rule: a cap of this process's table
 * (not share = machine with the state file mapped). */
static inline bool bs_outcap_fast(const struct bs_runtime *rt, const struct bs_rule *rule)
{
	return rt->caps != NULL && (rule->share != BS_SHARE_MACHINE || rt->machine_caps == NULL);
}

/* A slot of key (rule's cap key for a destination not exempt) if one can
 * be had at once without the lock (engine/caps.h, bs_cap_try), else
 * BS_CAP_NONE: then bs_outcap_acquire decides, as if this was never
 * asked. Logs nothing (a slot taken at once never does). hint: see
 * bs_cap_try. */
static inline uint32_t bs_outcap_try(struct bs_runtime *rt, const struct bs_rule *rule,
				     const struct bs_cap_key *key, uint32_t hint)
{
	return bs_cap_try(rt->caps, key, rule->max_conns, hint);
}

/* The connect went ahead on fd: the socket holds the slot until its last
 * descriptor is closed. */
void bs_outcap_commit(int fd, uint32_t slot);

/* The connect failed: release the slot now. */
void bs_outcap_abandon(uint32_t slot);

/* A slot of the process's cap table was given back (bs_caps_on_release):
 * for a rule with share = machine, give back its machine-wide slot too. */
void bs_outcap_released(void *rt, const struct bs_cap_key *key);

#endif
