/* Cap slots for outbound connects: decide whether a destination is
 * capped, take a slot (at once, after a FIFO wait, or not at all), log the
 * decision, and hand the slot to descriptor tracking once the socket
 * exists. See outcap.h for the contract. */
#include <errno.h>

#include "engine/names.h"
#include "policy/dest.h"
#include "preload/fdtrack.h"
#include "preload/outcap.h"

/* The destination (and the name it was resolved from) is formatted here,
 * only when a line is written: a connect that gets its slot at once pays
 * nothing for it. */
static void log_cap(struct bs_runtime *rt, const char *event, const struct bs_rule *rule,
		    const struct sockaddr *sa, socklen_t len, uint32_t in_use, bs_ns waited)
{
	const bool machine = rule->share == BS_SHARE_MACHINE && rt->machine_caps != NULL;
	char dest[BS_DEST_MAX];
	bs_dest_format(dest, sizeof dest, sa, len);
	struct bs_logline line;
	bs_line_begin(&line, &rt->log, event);
	bs_line_str(&line, "dest", dest);
	struct bs_ipaddr addr;
	char name[BS_HOST_MAX];
	if (bs_ipaddr_of(sa, len, &addr) && bs_names_find(&addr, name, sizeof name, NULL, NULL))
		bs_line_str(&line, "name", name);
	bs_line_str(&line, "rule", rule->name);
	bs_line_int(&line, "in_use", in_use);
	bs_line_int(&line, "max_conns", rule->max_conns);
	bs_line_ms(&line, "waited_ms", waited);
	bs_line_str(&line, "share", machine ? "machine" : "process");
	bs_line_emit(&line, &rt->log);
}

/* When a wait for a slot ends: cap_wait from now (0: no wait at all),
 * but never past the call's own deadline. */
static bs_ns wait_until(const struct bs_rule *rule, bs_ns deadline_at)
{
	bs_ns until = bs_now() + rule->cap_wait;
	return until < deadline_at ? until : deadline_at;
}

static int acquire(struct bs_runtime *rt, const struct bs_rule *rule,
		   const struct sockaddr *sa, socklen_t len, bool (*may_wait)(void *ctx),
		   void *ctx, bs_ns deadline_at, struct bs_cap_ticket *ticket,
		   uint32_t *slot, bool *waited)
{
	struct bs_cap_request req = {
		.limit = rule->max_conns,
		.wait = false,
		.reclaim = bs_fdtrack_reclaim,
		.reclaim_ctx = rt->caps,
	};
	bs_cap_key_outbound(&req.key, rule, sa, len);
	struct bs_cap_outcome out;
	enum bs_cap_status st = bs_cap_acquire(rt->caps, &req, &out);
	if (st == BS_CAP_ACQUIRED || st == BS_CAP_UNTRACKED) {
		*slot = out.slot;
		return 0;
	}
	if (rule->on_cap == BS_ONCAP_FAIL || !may_wait(ctx)) {
		log_cap(rt, "cap.reject", rule, sa, len, out.in_use, 0);
		return EAGAIN;
	}
	log_cap(rt, "cap.wait", rule, sa, len, out.in_use, 0);
	req.wait = true;
	req.deadline_at = wait_until(rule, deadline_at);
	req.ticket = ticket;
	bs_ns start = bs_now();
	st = bs_cap_acquire(rt->caps, &req, &out);
	if (st == BS_CAP_QUEUED)
		return EINPROGRESS;
	bs_ns waited_ns = bs_now() - start;
	if (st == BS_CAP_TIMEOUT || st == BS_CAP_REJECT) {
		log_cap(rt, "cap.timeout", rule, sa, len, out.in_use, waited_ns);
		return ETIMEDOUT;
	}
	/* Acquired, possibly at once if a slot freed between the two tries;
	 * untracked (table full of other keys): fail open. */
	*slot = out.slot;
	*waited = true;
	log_cap(rt, "cap.acquired", rule, sa, len, out.in_use, waited_ns);
	return 0;
}

/* Marks the process-table mirror of a machine-wide slot. */
#define BS_CAP_RULE_MACHINE 0x40000000u

static uint64_t machine_key(const struct bs_rule *rule, const struct bs_cap_key *key)
{
	return bs_mcap_key(rule->name, key);
}

/* The mirror: an uncapped slot of the process's table for fd tracking. */
static uint32_t mirror_slot(struct bs_runtime *rt, const struct bs_cap_key *key)
{
	struct bs_cap_request req = { .key = *key, .limit = UINT32_MAX };
	req.key.rule |= BS_CAP_RULE_MACHINE;
	struct bs_cap_outcome out;
	enum bs_cap_status st = bs_cap_acquire(rt->caps, &req, &out);
	return st == BS_CAP_ACQUIRED ? out.slot : BS_CAP_NONE;
}

/* A machine slot taken: its mirror, or given back when there is none
 * (nothing would give it back). */
static uint32_t mirror_or_release(struct bs_runtime *rt, const struct bs_cap_key *key,
				  uint64_t machine_key)
{
	uint32_t slot = mirror_slot(rt, key);
	if (slot == BS_CAP_NONE)
		bs_mcap_release(rt->machine_caps, machine_key);
	return slot;
}

/* ticket: queue there instead of blocking (an asynchronous connect). */
static int acquire_machine(struct bs_runtime *rt, const struct bs_rule *rule,
			   const struct sockaddr *sa, socklen_t len,
			   bool (*may_wait)(void *ctx), void *ctx, bs_ns deadline_at,
			   struct bs_outcap_ticket *ticket, uint32_t *slot, bool *waited)
{
	struct bs_cap_key key;
	bs_cap_key_outbound(&key, rule, sa, len);
	char dest[BS_DEST_MAX];
	bs_dest_format(dest, sizeof dest, sa, len);
	struct bs_mcap_request req = {
		.key = machine_key(rule, &key), .rule = rule->name, .dest = dest,
		.limit = rule->max_conns < 65535 ? rule->max_conns : 65535,
	};
	uint32_t in_use;
	enum bs_cap_status st = bs_mcap_acquire(rt->machine_caps, &req, &in_use);
	if (st == BS_CAP_UNTRACKED)
		return 0; /* the table is full: fail open, as per process */
	if (st == BS_CAP_REJECT) {
		if (rule->on_cap == BS_ONCAP_FAIL || !may_wait(ctx)) {
			log_cap(rt, "cap.reject", rule, sa, len, in_use, 0);
			return EAGAIN;
		}
		log_cap(rt, "cap.wait", rule, sa, len, in_use, 0);
		req.wait = true;
		req.deadline_at = wait_until(rule, deadline_at);
		if (ticket != NULL) {
			ticket->is_machine = true;
			ticket->key = key;
			req.ticket = &ticket->machine;
		}
		const bs_ns start = bs_now();
		st = bs_mcap_acquire(rt->machine_caps, &req, &in_use);
		if (st == BS_CAP_QUEUED)
			return EINPROGRESS;
		const bs_ns waited_ns = bs_now() - start;
		if (st == BS_CAP_TIMEOUT || st == BS_CAP_REJECT) {
			log_cap(rt, "cap.timeout", rule, sa, len, in_use, waited_ns);
			return ETIMEDOUT;
		}
		*waited = true;
		log_cap(rt, "cap.acquired", rule, sa, len, in_use, waited_ns);
		if (st == BS_CAP_UNTRACKED)
			return 0;
	}
	*slot = mirror_or_release(rt, &key, req.key);
	return 0;
}

void bs_outcap_released(void *ctx, const struct bs_cap_key *key)
{
	struct bs_runtime *rt = ctx;
	if (key->rule == BS_CAP_RULE_INBOUND || !(key->rule & BS_CAP_RULE_MACHINE) ||
	    rt->machine_caps == NULL)
		return;
	const uint32_t index = key->rule & ~BS_CAP_RULE_MACHINE;
	if (index < rt->policy->n_rules)
		bs_mcap_release(rt->machine_caps, machine_key(&rt->policy->rules[index], key));
}

/* The slot, or with a ticket the place in the queue (the machine's or
 * the process's), for the two entry points below. */
static int take_slot(struct bs_runtime *rt, const struct bs_rule *rule,
		     const struct sockaddr *sa, socklen_t len, bool (*may_wait)(void *ctx),
		     void *ctx, bs_ns deadline_at, struct bs_outcap_ticket *ticket,
		     uint32_t *slot, bool *waited)
{
	*slot = BS_CAP_NONE;
	*waited = false;
	if (rt == NULL || rt->caps == NULL || rule->max_conns == 0 ||
	    bs_patterns_contain(rule->exempt, rule->n_exempt, sa, len))
		return 0;
	int saved = errno;
	bs_fdtrack_init();
	int err = rule->share == BS_SHARE_MACHINE && rt->machine_caps != NULL
		  ? acquire_machine(rt, rule, sa, len, may_wait, ctx, deadline_at, ticket, slot,
				    waited)
		  : acquire(rt, rule, sa, len, may_wait, ctx, deadline_at,
			    ticket != NULL ? &ticket->process : NULL, slot, waited);
	errno = saved;
	return err;
}

int bs_outcap_acquire(struct bs_runtime *rt, const struct bs_rule *rule,
		      const struct sockaddr *sa, socklen_t len, bool (*may_wait)(void *ctx),
		      void *ctx, bs_ns deadline_at, uint32_t *slot, bool *waited)
{
	return take_slot(rt, rule, sa, len, may_wait, ctx, deadline_at, NULL, slot, waited);
}

static bool always(void *ctx)
{
	(void)ctx;
	return true;
}

bool bs_outcap_no_wait(void *ctx)
{
	(void)ctx;
	return false;
}

/* An asynchronous connect never blocks: at a full cap it queues a ticket. */
int bs_outcap_queue(struct bs_runtime *rt, const struct bs_rule *rule,
		    const struct sockaddr *sa, socklen_t len, bs_ns deadline_at,
		    struct bs_outcap_ticket *ticket, uint32_t *slot, bool *waited)
{
	ticket->is_machine = false;
	return take_slot(rt, rule, sa, len, always, NULL, deadline_at, ticket, slot, waited);
}

/* The machine-wide queue's answer, as bs_cap_ticket_poll's. */
static enum bs_cap_status poll_machine(struct bs_runtime *rt, struct bs_outcap_ticket *ticket,
				       bs_ns now, struct bs_cap_outcome *out)
{
	enum bs_cap_status st = bs_mcap_poll(rt->machine_caps, &ticket->machine, now, &out->in_use);
	out->slot = BS_CAP_NONE;
	if (st == BS_CAP_WAITED)
		out->slot = mirror_or_release(rt, &ticket->key, ticket->machine.key);
	return st == BS_CAP_UNTRACKED ? BS_CAP_WAITED : st; /* not capped: go ahead */
}

int bs_outcap_poll(struct bs_runtime *rt, const struct bs_rule *rule,
		   const struct sockaddr *sa, socklen_t len, struct bs_outcap_ticket *ticket,
		   bs_ns queued_at, bs_ns now, uint32_t *slot)
{
	struct bs_cap_outcome out;
	int saved = errno;
	enum bs_cap_status st = ticket->is_machine ? poll_machine(rt, ticket, now, &out)
			      : bs_cap_ticket_poll(rt->caps, &ticket->process, now, &out);
	int err = st == BS_CAP_QUEUED ? EINPROGRESS : st == BS_CAP_WAITED ? 0 : ETIMEDOUT;
	if (err != EINPROGRESS)
		log_cap(rt, err == 0 ? "cap.acquired" : "cap.timeout", rule, sa, len, out.in_use,
			now - queued_at);
	*slot = out.slot;
	errno = saved;
	return err;
}

void bs_outcap_cancel(struct bs_runtime *rt, struct bs_outcap_ticket *ticket)
{
	int saved = errno;
	if (ticket->is_machine)
		bs_mcap_cancel(rt->machine_caps, &ticket->machine);
	else
		bs_cap_ticket_cancel(rt->caps, &ticket->process);
	errno = saved;
}

void bs_outcap_commit(int fd, uint32_t slot)
{
	struct bs_runtime *rt = bs_runtime();
	if (slot != BS_CAP_NONE && rt != NULL && rt->caps != NULL)
		bs_fdtrack_hold(fd, rt->caps, slot);
}

void bs_outcap_abandon(uint32_t slot)
{
	struct bs_runtime *rt = bs_runtime();
	if (slot == BS_CAP_NONE || rt == NULL || rt->caps == NULL)
		return;
	int saved = errno;
	bs_cap_release(rt->caps, slot);
	errno = saved;
}
