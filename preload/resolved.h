/* What the program resolved, as a connect uses it: the rule for the name
 * the destination address came from (rules by name), that name for the
 * log lines, and, under `failover = next`, the name's other addresses
 * for the retries. Built on engine/names.h; looked up at most once per
 * connect, lazily, with no allocation and no lock. */
#ifndef BS_RESOLVED_H
#define BS_RESOLVED_H

#include <stdbool.h>
#include <sys/socket.h>

#include "engine/names.h"
#include "policy/policy.h"

/* One connect's view; lives on its stack. Only bs_resolved_rule
 * initialises it. */
struct bs_resolved {
	const struct sockaddr *orig;  /* the program's address */
	socklen_t orig_len;
	signed char state;            /* -1: not looked up; 0: no name; 1: known */
	signed char dual_stack;       /* AF_INET6 socket reaching v4; -1: not asked */
	bool went_v4;                 /* an AF_INET6 socket's retry went to IPv4 */
	size_t at, step;              /* the program's address in addrs; retries so far */
	size_t n;
	char name[BS_HOST_MAX];
	struct bs_ipaddr addrs[BS_NAMES_ADDRS];
	struct sockaddr_storage next; /* the address of the latest failover */
};

/* The rule for a connect to sa when the policy has rules by name: a rule
 * matching the name the program resolved sa from, else the rule by address
 * (bs_policy_match). r must be started (below). */
const struct bs_rule *bs_resolved_rule_by_name(const struct bs_policy *p,
					       const struct sockaddr *sa, socklen_t len,
					       struct bs_resolved *r);

/* Start r for a connect to sa (before bs_resolved_rule_by_name, or for a
 * policy without rules by name, whose rule is by address alone). Inline:
 * without rules by name (the built-in default) a connect pays a few stores
 * for it. */
static inline void bs_resolved_start(struct bs_resolved *r, const struct sockaddr *sa,
				     socklen_t len)
{
	r->orig = sa;
	r->orig_len = len;
	r->state = -1; /* the rest is set by the first look at the table */
}

/* The name the program's address was resolved from, or NULL. */
const char *bs_resolved_name(struct bs_resolved *r);

/* failover = next, before a retry on socket fd: the next address of the
 * name after the program's (cyclically) that this socket can connect to
 * (an AF_INET socket: IPv4; an AF_INET6 socket: IPv6, and IPv4 as
 * v4-mapped unless it is IPV6_V6ONLY; once it tried IPv4, IPv4 only:
 * a socket is not switched back and forth between the two protocols),
 * with the program's port. Sets
 * *sa and *len and returns true when that address differs from *sa. */
bool bs_resolved_next(struct bs_resolved *r, int fd, const struct sockaddr **sa,
		      socklen_t *len);

#endif
