/* The per-thread memo of the latest destination's rule and cap key (see
 * destmemo.h). */
#include "preload/destmemo.h"

__thread struct bs_dest_memo bs_dest_memo __attribute__((tls_model("initial-exec")));

void bs_dest_memo_fill(const struct bs_policy *p, const struct sockaddr *sa, socklen_t len,
		       struct bs_dest_info *info)
{
	info->hint = BS_CAP_NONE;
	info->rule = bs_policy_match_managed(p, sa, len);
	info->capped = info->rule != NULL && info->rule->max_conns != 0 &&
		       !bs_patterns_contain(info->rule->exempt, info->rule->n_exempt, sa, len);
	if (info->capped)
		bs_cap_key_outbound(&info->key, info->rule, sa, len);

	struct bs_dest_memo *m = &bs_dest_memo;
	uint64_t a[4];
	const unsigned seq = m->seq;
	/* A rewrite this call interrupted (a signal handler's connect) is
	 * left to finish; so is an address the memo does not take. */
	if ((seq & 1) || info->rule == NULL || !bs_dest_memo_bytes(sa, len, a))
		return;
	m->seq = seq + 1;
	atomic_signal_fence(memory_order_release);
	m->len = len;
	m->policy = p;
	memcpy(m->addr, a, sizeof a);
	m->rule = info->rule;
	m->capped = info->capped;
	if (info->capped)
		m->key = info->key;
	m->hint = BS_CAP_NONE;
	atomic_signal_fence(memory_order_release);
	m->seq = seq + 2;
}
