/* The rule of the latest IP destination this thread connected to, and
 * its cap key, so that a program connecting to the same address again
 * (the common case: one backend, a pool) skips the [dest] rule lookup and
 * the key's formation. Both are pure functions of the policy (loaded
 * once) and the address bytes, so a memo matching those bytes exactly is
 * never stale. Not used when the policy has rules by name: those depend on
 * what the program resolved meanwhile.
 *
 * Per thread, no lock, no allocation. Async-signal-safe: a sequence count
 * (odd while the memo is rewritten) makes a signal handler's connect that
 * interrupts a rewrite miss and leave the memo alone, and a rewrite that a
 * handler's connect interrupted is not trusted by the reader. */
#ifndef BS_DESTMEMO_H
#define BS_DESTMEMO_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "engine/caps.h"
#include "policy/policy.h"

struct bs_dest_memo {
	unsigned seq;               /* odd while rewritten */
	socklen_t len;              /* of the address; 0: empty */
	const struct bs_policy *policy;
	uint64_t addr[4];           /* its bytes, zero-padded */
	const struct bs_rule *rule;
	bool capped;                /* max_conns applies (the address is not exempt) */
	struct bs_cap_key key;      /* when capped */
	uint32_t hint;              /* the cap slot key had last (bs_cap_try), or none */
};

extern __thread struct bs_dest_memo bs_dest_memo __attribute__((tls_model("initial-exec")));

/* What a connect to an address needs from the memo. */
struct bs_dest_info {
	const struct bs_rule *rule;
	bool capped;
	struct bs_cap_key key;
	uint32_t hint;
};

/* The bytes an AF_INET or AF_INET6 address of its exact size is
 * remembered by; false for anything else. */
static inline bool bs_dest_memo_bytes(const struct sockaddr *sa, socklen_t len, uint64_t out[4])
{
	out[2] = out[3] = 0;
	if (len == sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
		memcpy(out, sa, sizeof(struct sockaddr_in));
		return true;
	}
	if (len == sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
		memcpy(out, sa, sizeof(struct sockaddr_in6));
		return true;
	}
	return false;
}

/* Fill *info for sa from the memo: true on a hit. */
static inline bool bs_dest_memo_find(const struct bs_policy *p, const struct sockaddr *sa,
				     socklen_t len, struct bs_dest_info *info)
{
	struct bs_dest_memo *m = &bs_dest_memo;
	const unsigned seq = m->seq;
	atomic_signal_fence(memory_order_acquire);
	uint64_t a[4];
	if ((seq & 1) || m->len != len || m->policy != p || !bs_dest_memo_bytes(sa, len, a) ||
	    ((m->addr[0] ^ a[0]) | (m->addr[1] ^ a[1])) != 0 ||
	    (len > 16 && ((m->addr[2] ^ a[2]) | (m->addr[3] ^ a[3])) != 0))
		return false;
	info->rule = m->rule;
	info->capped = m->capped;
	if (m->capped) {
		info->key = m->key;
		info->hint = m->hint;
	}
	atomic_signal_fence(memory_order_acquire);
	return m->seq == seq;
}

/* Look the rule up (bs_policy_match) and, when it caps sa, the cap key,
 * and remember them. */
void bs_dest_memo_fill(const struct bs_policy *p, const struct sockaddr *sa, socklen_t len,
		       struct bs_dest_info *info);

/* The rule for sa and, when it caps sa, the cap key, through the memo.
 * Policies with rules by name never come here. */
static inline void bs_dest_info_of(const struct bs_policy *p, const struct sockaddr *sa,
				   socklen_t len, struct bs_dest_info *info)
{
	if (!bs_dest_memo_find(p, sa, len, info))
		bs_dest_memo_fill(p, sa, len, info);
}

/* The slot the latest destination's key took: where bs_cap_try looks
 * first next time. Verified there, so a memo rewritten meanwhile (by a
 * signal handler's connect) at worst makes that look miss. */
static inline void bs_dest_memo_hint(uint32_t slot)
{
	bs_dest_memo.hint = slot;
}

#endif
