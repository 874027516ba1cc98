/* Matching a destination to the most specific [dest] rule.
 *
 * Built once at load time:
 *   - IP patterns (per family) in one array sorted by (prefix length
 *     descending, network, port, rule). A lookup walks only the prefix
 *     lengths that occur (at most 33 or 129), and at each does two binary
 *     searches: (network, port) then (network, any port). The first hit is
 *     the longest prefix, port-specific before any-port, earliest rule on
 *     ties: O(L log n) with L the number of distinct prefix lengths.
 *   - unix paths without glob characters in an array sorted by path:
 *     one binary search.
 *   - unix globs in a list sorted by length (longest first), then rule
 *     order; tried linearly after the exact paths (globs are few).
 * A lookup allocates nothing and takes no lock. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "policy/load_internal.h"

struct ip_entry {
	uint8_t addr[16];
	uint16_t port;
	uint8_t prefix;
	uint32_t rule;
};

struct ip_level {
	uint8_t prefix;
	size_t n;
	const struct ip_entry *e;
};

struct ip_table {
	struct ip_entry *entries;
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
	if (!read_dest(sa, len, &d))
		return false;
	for (size_t i = 0; i < n; i++)
		if (pattern_hit(&patterns[i], &d))
			return true;
	return false;
}

/* ---- the tables ---- */

static int cmp_ip(const void *a, const void *b)
{
	const struct ip_entry *x = a, *y = b;
	if (x->prefix != y->prefix)
		return x->prefix > y->prefix ? -1 : 1;
	int c = memcmp(x->addr, y->addr, 16);
	if (c)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
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

static void build_levels(struct ip_table *t, size_t n)
{
	qsort(t->entries, n, sizeof *t->entries, cmp_ip);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || t->entries[i].prefix != t->entries[i - 1].prefix)
			t->levels[t->n_levels++] = (struct ip_level){
				.prefix = t->entries[i].prefix, .e = &t->entries[i]};
		t->levels[t->n_levels - 1].n++;
	}
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
		m->v4.entries = malloc((n4 ? n4 : 1) * sizeof *m->v4.entries);
		m->v6.entries = malloc((n6 ? n6 : 1) * sizeof *m->v6.entries);
		m->exact = malloc((nu ? nu : 1) * sizeof *m->exact);
		m->globs = malloc((nu ? nu : 1) * sizeof *m->globs);
	}
	if (!m || !m->v4.entries || !m->v6.entries || !m->exact || !m->globs) {
		bs_matcher_free(m);
		snprintf(err->msg, sizeof err->msg, "out of memory");
		return -1;
	}
	size_t i4 = 0, i6 = 0;
	for (size_t r = 1; r < p->n_rules; r++) {
		const struct bs_rule *rule = &p->rules[r];
		for (size_t i = 0; i < rule->n_match; i++) {
			const struct bs_pattern *pt = &rule->match[i];
			if (pt->family == AF_UNIX) {
				struct unix_entry u = {pt->glob, strlen(pt->glob), (uint32_t)r};
				if (is_glob(pt->glob))
					m->globs[m->n_globs++] = u;
				else
					m->exact[m->n_exact++] = u;
				continue;
			}
			struct ip_entry e = {.port = pt->port, .prefix = pt->prefix, .rule = (uint32_t)r};
			memcpy(e.addr, pt->addr, 16);
			if (pt->family == AF_INET)
				m->v4.entries[i4++] = e;
			else
				m->v6.entries[i6++] = e;
		}
	}
	build_levels(&m->v4, i4);
	build_levels(&m->v6, i6);
	qsort(m->exact, m->n_exact, sizeof *m->exact, cmp_unix_exact);
	qsort(m->globs, m->n_globs, sizeof *m->globs, cmp_unix_glob);
	p->matcher = m;
	return 0;
}

void bs_matcher_free(struct bs_matcher *m)
{
	if (!m)
		return;
	free(m->v4.entries);
	free(m->v6.entries);
	free(m->exact);
	free(m->globs);
	free(m);
}

/* The earliest rule at this level holding exactly (net, port), or 0. */
static uint32_t level_find(const struct ip_level *lv, const uint8_t *net, uint16_t port)
{
	size_t lo = 0, hi = lv->n;
	while (lo < hi) { /* lower bound of (net, port) */
		size_t mid = lo + (hi - lo) / 2;
		const struct ip_entry *e = &lv->e[mid];
		int c = memcmp(e->addr, net, 16);
		if (c < 0 || (c == 0 && e->port < port))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < lv->n && memcmp(lv->e[lo].addr, net, 16) == 0 && lv->e[lo].port == port)
		return lv->e[lo].rule;
	return 0;
}

static uint32_t ip_lookup(const struct ip_table *t, const uint8_t *addr, uint16_t port)
{
	for (size_t l = 0; l < t->n_levels; l++) {
		const struct ip_level *lv = &t->levels[l];
		uint8_t net[16] = {0};
		unsigned bytes = lv->prefix / 8, bits = lv->prefix % 8;
		memcpy(net, addr, bytes);
		if (bits)
			net[bytes] = (uint8_t)(addr[bytes] & (0xff << (8 - bits)));
		uint32_t r = port ? level_find(lv, net, port) : 0;
		if (!r)
			r = level_find(lv, net, 0);
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

const struct bs_rule *bs_policy_match(const struct bs_policy *policy,
				      const struct sockaddr *sa, socklen_t len)
{
	struct dest d;
	if (!sa || len < sizeof(sa_family_t))
		return NULL;
	if (!read_dest(sa, len, &d))
		return sa->sa_family == AF_INET || sa->sa_family == AF_INET6 ||
				       sa->sa_family == AF_UNIX
			       ? &policy->rules[0]
			       : NULL;
	const struct bs_matcher *m = policy->matcher;
	uint32_t r = 0;
	if (d.family == AF_INET)
		r = ip_lookup(&m->v4, d.addr, d.port);
	else if (d.family == AF_INET6) {
		if (d.mapped)
			r = ip_lookup(&m->v4, d.v4, d.port);
		if (!r)
			r = ip_lookup(&m->v6, d.addr, d.port);
	} else {
		r = unix_lookup(m, &d);
	}
	return &policy->rules[r];
}
