/* What the program resolved, as a connect uses it (see resolved.h). */
#include "preload/resolved.h"

#include <netinet/in.h>
#include <string.h>

#include "preload/real.h"

static uint16_t port_of(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
					: ((const struct sockaddr_in6 *)sa)->sin6_port;
}

static void look_up(struct bs_resolved *r)
{
	struct bs_ipaddr self;
	r->state = 0;
	r->dual_stack = -1;
	r->went_v4 = false;
	r->at = r->step = 0;
	if (!bs_ipaddr_of(r->orig, r->orig_len, &self) ||
	    !bs_names_find(&self, r->name, sizeof r->name, r->addrs, &r->n))
		return;
	r->state = 1;
	for (size_t i = 0; i < r->n; i++)
		if (r->addrs[i].family == self.family &&
		    memcmp(r->addrs[i].bytes, self.bytes, 16) == 0)
			r->at = i;
}

const struct bs_rule *bs_resolved_rule_by_name(const struct bs_policy *p,
					       const struct sockaddr *sa, socklen_t len,
					       struct bs_resolved *r)
{
	const char *name = bs_resolved_name(r);
	const struct bs_rule *rule =
		name != NULL ? bs_policy_match_name(p, name, ntohs(port_of(sa))) : NULL;
	return rule != NULL ? rule : bs_policy_match(p, sa, len);
}

const char *bs_resolved_name(struct bs_resolved *r)
{
	if (r->state < 0)
		look_up(r);
	return r->state > 0 ? r->name : NULL;
}

/* Whether an address of the name can be tried on this socket, and how it
 * is written there. Link-local IPv6 needs a scope the lookup did not
 * keep: only the program's own address is used as it is. */
static bool usable(struct bs_resolved *r, int fd, const struct bs_ipaddr *a,
		   struct sockaddr_storage *out, socklen_t *len)
{
	sa_family_t family = r->orig->sa_family;
	in_port_t port = port_of(r->orig);
	memset(out, 0, sizeof *out);
	if (family == AF_INET) {
		if (a->family != AF_INET)
			return false;
		struct sockaddr_in *in = (struct sockaddr_in *)out;
		in->sin_family = AF_INET;
		in->sin_port = port;
		memcpy(&in->sin_addr, a->bytes, 4);
		*len = sizeof *in;
		return true;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = port;
	*len = sizeof *in6;
	if (a->family == AF_INET6) {
		memcpy(&in6->sin6_addr, a->bytes, 16);
		return !r->went_v4 && !IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr);
	}
	if (r->dual_stack < 0) {
		int only = 1;
		socklen_t olen = sizeof only;
		r->dual_stack = BS_REAL(getsockopt)(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, &olen) == 0 &&
				only == 0;
	}
	in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(in6->sin6_addr.s6_addr + 12, a->bytes, 4);
	return r->went_v4 = r->dual_stack;
}

bool bs_resolved_next(struct bs_resolved *r, int fd, const struct sockaddr **sa,
		      socklen_t *len)
{
	if (bs_resolved_name(r) == NULL || r->n < 2)
		return false;
	for (size_t tries = 0; tries < r->n; tries++) {
		size_t i = (r->at + ++r->step) % r->n;
		bool orig_v6 = r->orig->sa_family == AF_INET6 && r->addrs[r->at].family == AF_INET6;
		if (i == r->at && !(r->went_v4 && orig_v6)) {
			bool moved = *sa != r->orig;
			*sa = r->orig;
			*len = r->orig_len;
			return moved;
		}
		socklen_t next_len;
		if (i != r->at && usable(r, fd, &r->addrs[i], &r->next, &next_len)) {
			*sa = (const struct sockaddr *)&r->next;
			*len = next_len;
			return true;
		}
	}
	return false;
}
