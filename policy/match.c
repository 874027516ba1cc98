/* Matching a destination to the most specific [dest] rule.
 *
 * Built once at load time:
 *   - IP patterns, per family, in one open-addressing hash table keyed by
 *     (prefix length, network, port), and the list of prefix lengths that
 *     occur, longest first. A lookup masks the address to each length in
 *     turn and probes (network, port) then (network, any port), skipping
 *     the probe a length has no entry for. The first hit is the longest
 *     prefix, port-specific before any port; on equal keys the earliest
 *     rule holds the slot. O(L) with L the number of distinct prefix
 *     lengths (at most 33 or 129), flat in the number of rules.
 *   - unix paths without glob characters in an array sorted by path:
 *     one binary search.
 *   - unix globs in a list sorted by length (longest first), then rule
 *     order; tried linearly after the exact paths (globs are few).
 * A policy without [dest] rules (the built-in default) skips all of it.
 * A lookup allocates nothing and takes no lock. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "policy/load_internal.h"

/* A destination in the form the tables compare. */
struct dest {
	sa_family_t family;
	bool mapped;      /* AF_INET6 holding ::ffff:a.b.c.d */
	uint8_t addr[16]; /* AF_INET: first 4 bytes */
	uint8_t v4[16];   /* mapped: the IPv4 address, first 4 bytes */
	uint16_t port;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];
	size_t plen;
};

static bool read_dest(const struct sockaddr *sa, socklen_t len, struct dest *d)
{
	if (!sa || len < sizeof(sa_family_t))
		return false;
	memset(d, 0, offsetof(struct dest, path));
	d->family = sa->sa_family;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(d->addr, &in->sin_addr, 4);
		d->port = ntohs(in->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(d->addr, &in6->sin6_addr, 16);
		d->port = ntohs(in6->sin6_port);
		d->mapped = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
		if (d->mapped)
			memcpy(d->v4, d->addr + 12, 4);
		return true;
	}
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;
		if (n > sizeof un->sun_path)
			n = sizeof un->sun_path;
		if (n > 0 && un->sun_path[0] == '\0') {
			/* Abstract: "@name", the name being every byte of len. */
			d->path[0] = '@';
			memcpy(d->path + 1, un->sun_path + 1, n - 1);
			d->plen = n;
		} else {
			d->plen = strnlen(un->sun_path, n);
			memcpy(d->path, un->sun_path, d->plen);
		}
		d->path[d->plen] = '\0';
		return true;
	}
	return false;
}

/* ---- unix path globs ---- */

/* One pattern item at *g against byte c; advances *g past the item. */
static bool match_item(const char **g, char c)
{
	const char *p = *g;
	if (*p == '?') {
		*g = p + 1;
		return c != '/';
	}
	if (*p == '\\' && p[1]) {
		*g = p + 2;
		return p[1] == c;
	}
	if (*p == '[') {
		const char *q = p + 1;
		bool negate = *q == '!' || *q == '^';
		if (negate)
			q++;
		bool hit = false;
		const char *start = q;
		for (; *q && (*q != ']' || q == start); q++) {
			if (q[1] == '-' && q[2] && q[2] != ']') {
				hit |= (unsigned char)c >= (unsigned char)q[0] &&
				       (unsigned char)c <= (unsigned char)q[2];
				q += 2;
			} else {
				hit |= *q == c;
			}
		}
		if (*q == ']') {
			*g = q + 1;
			return c != '/' && hit != negate;
		}
		/* No closing bracket: a literal '['. */
	}
	*g = p + 1;
	return *p == c;
}

bool bs_glob_match(const char *g, const char *s, size_t len)
{
	const char *star_g = NULL;
	size_t si = 0, star_s = 0;
	while (si < len) {
		if (*g == '*') {
			star_g = ++g;
			star_s = si;
			continue;
		}
		const char *next = g;
		if (*g && match_item(&next, s[si])) {
			g = next;
			si++;
			continue;
		}
		/* Let the last '*' take one more byte, but never a '/'. */
		if (star_g && s[star_s] != '/') {
			g = star_g;
			si = ++star_s;
			continue;
		}
		return false;
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[\\") != NULL;
}

/* ---- patterns, one at a time (exempt lists) ---- */

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (!bits)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));
	return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

static bool pattern_hit(const struct bs_pattern *p, const struct dest *d)
{
	if (p->family == BS_PATTERN_NAME)
		return false; /* names: bs_policy_match_name */
	if (p->family == AF_UNIX)
		return d->family == AF_UNIX && bs_glob_match(p->glob, d->path, d->plen);
	if (p->port && p->port != d->port)
		return false;
	if (p->family == AF_INET && d->family == AF_INET6 && d->mapped)
		return prefix_equal(p->addr, d->v4, p->prefix);
	return p->family == d->family && prefix_equal(p->addr, d->addr, p->prefix);
}

bool bs_patterns_contain(const struct bs_pattern *patterns, size_t n,
			 const struct sockaddr *sa, socklen_t len)
{
	struct dest d;
	if (n == 0 || !read_dest(sa, len, &d))
		return false;
	for (size_t i = 0; i < n; i++)
		if (pattern_hit(&patterns[i], &d))
			return true;
	return false;
}

/* ---- the tables ---- */

/* An IP address as two 64-bit words in network byte order (IPv4 in the
 * first 4 bytes, the rest zero), so masking to a prefix is two ANDs. */
struct ip_addr {
	uint64_t w[2];
};

static struct ip_addr ip_addr_of(const uint8_t *bytes, size_t n)
{
	uint8_t b[16] = {0};
	memcpy(b, bytes, n);
	struct ip_addr a;
	memcpy(a.w, b, 16);
	return a;
}

static struct ip_addr ip_mask(unsigned prefix)
{
	uint8_t b[16] = {0};
	for (unsigned i = 0; i < prefix; i++)
		b[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	return ip_addr_of(b, 16);
}

/* One (prefix, network, port) of some rule; rule 0 marks a free slot. */
struct ip_slot {
	struct ip_addr net;
	uint16_t port;
	uint8_t prefix;
	uint32_t rule;
};

/* A prefix length that occurs in the table, and which lookups it needs. */
struct ip_level {
	struct ip_addr mask;
	uint8_t prefix;
	bool with_port, any_port;
};

/* Every pattern of one family in one open-addressing hash table keyed by
 * (prefix, network, port). A lookup probes each prefix length present,
 * longest first: O(L) with L the number of distinct lengths, whatever the
 * number of rules. */
struct ip_table {
	struct ip_slot *slots;
	size_t mask;            /* slot count - 1 (a power of two) */
	struct ip_level levels[129];
	size_t n_levels;
};

struct unix_entry {
	const char *path; /* the pattern's text, owned by the rule */
	size_t len;
	uint32_t rule;
};

struct bs_matcher {
	struct ip_table v4, v6;
	struct unix_entry *exact, *globs;
	size_t n_exact, n_globs;
};

/* Each part goes through its own multiply: a plain XOR of port and
 * address would let rules whose port follows their network (10.0.N.0/24
 * port 1000+N) collide into one long probe chain. */
static size_t ip_hash(const struct ip_addr *net, uint16_t port, uint8_t prefix)
{
	uint64_t h = net->w[0] * 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 29) ^ net->w[1]) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 32) ^ ((uint64_t)port << 8 | prefix)) * 0x94d049bb133111ebull;
	return (size_t)(h ^ (h >> 29));
}

static bool ip_slot_is(const struct ip_slot *s, const struct ip_addr *net,
		       uint16_t port, uint8_t prefix)
{
	return s->net.w[0] == net->w[0] && s->net.w[1] == net->w[1] &&
	       s->port == port && s->prefix == prefix;
}

/* The slot holding (prefix, net, port), or the free slot where it goes. */
static struct ip_slot *ip_probe(const struct ip_table *t, const struct ip_addr *net,
				uint16_t port, uint8_t prefix)
{
	for (size_t i = ip_hash(net, port, prefix);; i++) {
		struct ip_slot *s = &t->slots[i & t->mask];
		if (s->rule == 0 || ip_slot_is(s, net, port, prefix))
			return s;
	}
}

static int cmp_prefix_desc(const void *a, const void *b)
{
	const struct ip_level *x = a, *y = b;
	return (x->prefix < y->prefix) - (x->prefix > y->prefix);
}

/* Room for n patterns at most a quarter full: a probe that misses (the
 * common case at every prefix length but the matching one) ends after a
 * slot or two, and always meets a free slot. */
static int ip_table_alloc(struct ip_table *t, size_t n)
{
	size_t cap = 8;
	while (cap < 4 * n)
		cap *= 2;
	t->slots = calloc(cap, sizeof *t->slots);
	t->mask = cap - 1;
	return t->slots ? 0 : -1;
}

/* Rules are added in order, so the first rule to claim a (prefix, net,
 * port) keeps it: the earlier rule wins ties. */
static void ip_table_add(struct ip_table *t, const struct bs_pattern *pt, uint32_t rule)
{
	struct ip_level *lv = NULL;
	for (size_t l = 0; l < t->n_levels && !lv; l++)
		if (t->levels[l].prefix == pt->prefix)
			lv = &t->levels[l];
	if (!lv) {
		lv = &t->levels[t->n_levels++];
		*lv = (struct ip_level){ .mask = ip_mask(pt->prefix), .prefix = pt->prefix };
	}
	if (pt->port)
		lv->with_port = true;
	else
		lv->any_port = true;
	struct ip_addr net = ip_addr_of(pt->addr, 16);
	net.w[0] &= lv->mask.w[0];
	net.w[1] &= lv->mask.w[1];
	struct ip_slot *s = ip_probe(t, &net, pt->port, pt->prefix);
	if (s->rule == 0)
		*s = (struct ip_slot){ .net = net, .port = pt->port, .prefix = pt->prefix, .rule = rule };
}

static int cmp_unix_exact(const void *a, const void *b)
{
	const struct unix_entry *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : (x->rule < y->rule ? -1 : x->rule > y->rule);
}

static int cmp_unix_glob(const void *a, const void *b)
{
	const struct unix_entry *x = a, *y = b;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

int bs_matcher_build(struct bs_policy *p, struct bs_error *err)
{
	size_t n4 = 0, n6 = 0, nu = 0;
	for (size_t r = 1; r < p->n_rules; r++) {
		for (size_t i = 0; i < p->rules[r].n_match; i++) {
			sa_family_t f = p->rules[r].match[i].family;
			n4 += f == AF_INET;
			n6 += f == AF_INET6;
			nu += f == AF_UNIX;
		}
	}
	struct bs_matcher *m = calloc(1, sizeof *m);
	if (m) {
		m->exact = malloc((nu ? nu : 1) * sizeof *m->exact);
		m->globs = malloc((nu ? nu : 1) * sizeof *m->globs);
	}
	if (!m || ip_table_alloc(&m->v4, n4) != 0 || ip_table_alloc(&m->v6, n6) != 0 ||
	    !m->exact || !m->globs) {
		bs_matcher_free(m);
		snprintf(err->msg, sizeof err->msg, "out of memory");
		return -1;
	}
	for (size_t r = 1; r < p->n_rules; r++) {
		const struct bs_rule *rule = &p->rules[r];
		for (size_t i = 0; i < rule->n_match; i++) {
			const struct bs_pattern *pt = &rule->match[i];
			if (pt->family == BS_PATTERN_NAME)
				continue; /* match_name.c */
			if (pt->family == AF_UNIX) {
				struct unix_entry u = {pt->glob, strlen(pt->glob), (uint32_t)r};
				if (is_glob(pt->glob))
					m->globs[m->n_globs++] = u;
				else
					m->exact[m->n_exact++] = u;
				continue;
			}
			ip_table_add(pt->family == AF_INET ? &m->v4 : &m->v6, pt, (uint32_t)r);
		}
	}
	qsort(m->v4.levels, m->v4.n_levels, sizeof m->v4.levels[0], cmp_prefix_desc);
	qsort(m->v6.levels, m->v6.n_levels, sizeof m->v6.levels[0], cmp_prefix_desc);
	qsort(m->exact, m->n_exact, sizeof *m->exact, cmp_unix_exact);
	qsort(m->globs, m->n_globs, sizeof *m->globs, cmp_unix_glob);
	p->matcher = m;
	return 0;
}

void bs_matcher_free(struct bs_matcher *m)
{
	if (!m)
		return;
	free(m->v4.slots);
	free(m->v6.slots);
	free(m->exact);
	free(m->globs);
	free(m);
}

/* The longest prefix holding addr, port-specific before any port. */
static uint32_t ip_lookup(const struct ip_table *t, const struct ip_addr *addr, uint16_t port)
{
	for (size_t l = 0; l < t->n_levels; l++) {
		const struct ip_level *lv = &t->levels[l];
		struct ip_addr net = {{addr->w[0] & lv->mask.w[0], addr->w[1] & lv->mask.w[1]}};
		uint32_t r = 0;
		if (lv->with_port && port)
			r = ip_probe(t, &net, port, lv->prefix)->rule;
		if (!r && lv->any_port)
			r = ip_probe(t, &net, 0, lv->prefix)->rule;
		if (r)
			return r;
	}
	return 0;
}

static uint32_t unix_lookup(const struct bs_matcher *m, const struct dest *d)
{
	size_t lo = 0, hi = m->n_exact;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct unix_entry *e = &m->exact[mid];
		size_t n = e->len < d->plen ? e->len : d->plen;
		int c = memcmp(e->path, d->path, n);
		if (c < 0 || (c == 0 && e->len < d->plen))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->n_exact && m->exact[lo].len == d->plen &&
	    memcmp(m->exact[lo].path, d->path, d->plen) == 0)
		return m->exact[lo].rule;
	for (size_t i = 0; i < m->n_globs; i++)
		if (bs_glob_match(m->globs[i].path, d->path, d->plen))
			return m->globs[i].rule;
	return 0;
}

/* AF_INET and AF_INET6 straight into the form the tables compare (no
 * struct dest to clear). Returns false for other families or a too short
 * address. */
static bool read_ip(const struct sockaddr *sa, socklen_t len, struct ip_addr *addr,
		    uint16_t *port, bool *mapped)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		*addr = (struct ip_addr){{0, 0}};
		memcpy(addr->w, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		*mapped = false;
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(addr->w, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		*mapped = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
		return true;
	}
	return false;
}

/* The [dest] rule for a managed family, or 0. Kept out of line so that
 * the shortcut below pays for none of its registers. */
static __attribute__((noinline)) uint32_t lookup(const struct bs_matcher *m,
						 const struct sockaddr *sa, socklen_t len)
{
	struct ip_addr addr;
	uint16_t port;
	bool mapped;
	uint32_t r = 0;
	if (read_ip(sa, len, &addr, &port, &mapped)) {
		if (mapped) {
			struct ip_addr v4 = ip_addr_of((const uint8_t *)&addr + 12, 4);
			r = ip_lookup(&m->v4, &v4, port);
		}
		if (!r)
			r = ip_lookup(sa->sa_family == AF_INET ? &m->v4 : &m->v6, &addr, port);
	} else if (sa->sa_family == AF_UNIX) {
		struct dest d;
		if (read_dest(sa, len, &d))
			r = unix_lookup(m, &d);
	}
	return r;
}

const struct bs_rule *bs_policy_match(const struct bs_policy *policy,
				      const struct sockaddr *sa, socklen_t len)
{
	if (!sa || len < sizeof(sa_family_t))
		return NULL;
	sa_family_t family = sa->sa_family;
	if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
		return NULL;
	/* No [dest] rule at all (the built-in default): nothing to look up. */
	if (policy->n_rules == 1)
		return &policy->rules[0];
	return &policy->rules[lookup(policy->matcher, sa, len)];
}
