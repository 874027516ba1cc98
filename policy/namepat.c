/* Host name patterns in `match` (`db.internal:5432`, `*.internal`): how
 * they are written, and the table that finds the rule for a name the
 * program resolved.
 *
 * A name pattern is told from an address by its text: at most one ':'
 * (IPv6 has two or more), no '/' (a CIDR), and a letter or a glob
 * character before the port. Names compare lower-case; '*' may span
 * dots (`*.internal` matches `a.b.internal`), as in unix path globs
 * (bs_glob_match). Few rules match by name, so a lookup walks one sorted
 * array: exact names first, then globs longest first, each port-specific
 * before any-port, then in rule order. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/load_internal.h"

#define NAME_LEN_MAX 253
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-_."
#define NAME_HELP "use e.g. db.internal, db.internal:5432, *.internal:5432"

bool bs_is_name_pattern(const char *tok)
{
	const char *colon = strchr(tok, ':');
	if (strchr(tok, '/') || (colon && strchr(colon + 1, ':')) || tok[0] == '[')
		return false;
	size_t host = colon ? (size_t)(colon - tok) : strlen(tok);
	for (size_t i = 0; i < host; i++)
		if (isalpha((unsigned char)tok[i]) || strchr("*?[", tok[i]))
			return true;
	return false;
}

/* Name characters, and the globs * ? and [set] ([!set], [^set]), every
 * set closed. */
static bool valid_chars(const char *name, size_t len)
{
	bool in_set = false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool set_start = in_set && name[i - 1] == '[';
		if (c != '\0' && strchr(NAME_CHARS, c))
			continue;
		if (!in_set && strchr("*?[", c))
			in_set = c == '[';
		else if (in_set && c == ']' && !set_start)
			in_set = false;
		else if (!(set_start && (c == '!' || c == '^')))
			return false;
	}
	return !in_set;
}

int bs_parse_name_pattern(const char *tok, struct bs_pattern *p, char *why,
			  size_t cap)
{
	char q[80], name[NAME_LEN_MAX + 1];
	const char *colon = strchr(tok, ':');
	size_t len = colon ? (size_t)(colon - tok) : strlen(tok);
	memset(p, 0, sizeof *p);
	bs_quote(q, sizeof q, tok);
	if (strncasecmp(tok, "unix:", 5) == 0) {
		/* "unix:N" prints as a unix socket pattern: never a name. */
		snprintf(why, cap, "bad pattern '%s' (a unix socket is unix:/path in lower case; "
			 "a host named unix cannot take a port)", q);
		return -1;
	}
	if (len == 0 || len > NAME_LEN_MAX) {
		snprintf(why, cap, "bad host name pattern '%s' (1 to %d characters; %s)",
			 q, NAME_LEN_MAX, NAME_HELP);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		name[i] = (char)tolower((unsigned char)tok[i]);
	name[len] = '\0';
	if (!valid_chars(name, len)) {
		snprintf(why, cap, "bad host name pattern '%s' (letters, digits, '-', '_', "
			 "'.' and the globs * ? [set]; %s)", q, NAME_HELP);
		return -1;
	}
	if (name[0] == '.' || strstr(name, "..")) {
		snprintf(why, cap, "bad host name pattern '%s' (an empty label; %s)", q, NAME_HELP);
		return -1;
	}
	if (len > 1 && name[len - 1] == '.')
		name[--len] = '\0'; /* a fully qualified "db.internal." */
	if (colon) {
		uint64_t port;
		char portwhy[BS_WHY_MAX];
		if (bs_parse_uint(colon + 1, 1, 65535, &port, portwhy, sizeof portwhy) != 0) {
			snprintf(why, cap, "bad port in host name pattern '%s' (1 to 65535; %s)",
				 q, NAME_HELP);
			return -1;
		}
		p->port = (uint16_t)port;
	}
	p->family = BS_PATTERN_NAME;
	p->glob = strdup(name);
	if (!p->glob) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- the table ------------------------------------------------------------ */

struct name_entry {
	const char *glob; /* owned by the rule's pattern */
	size_t len;
	uint16_t port;
	bool is_glob;
	uint32_t rule;
};

struct bs_name_matcher {
	struct name_entry *entries;
	size_t n;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct name_entry *x = a, *y = b;
	if (x->is_glob != y->is_glob)
		return x->is_glob ? 1 : -1;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	if ((x->port != 0) != (y->port != 0))
		return x->port ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

int bs_name_matcher_build(struct bs_policy *p, struct bs_error *err)
{
	size_t n = 0;
	for (size_t r = 1; r < p->n_rules; r++)
		for (size_t i = 0; i < p->rules[r].n_match; i++)
			n += p->rules[r].match[i].family == BS_PATTERN_NAME;
	if (n == 0)
		return 0;
	struct bs_name_matcher *m = calloc(1, sizeof *m);
	if (m)
		m->entries = calloc(n, sizeof *m->entries);
	if (!m || !m->entries) {
		bs_name_matcher_free(m);
		snprintf(err->msg, sizeof err->msg, "out of memory");
		return -1;
	}
	for (size_t r = 1; r < p->n_rules; r++) {
		for (size_t i = 0; i < p->rules[r].n_match; i++) {
			const struct bs_pattern *pt = &p->rules[r].match[i];
			if (pt->family != BS_PATTERN_NAME)
				continue;
			m->entries[m->n++] = (struct name_entry){
				.glob = pt->glob, .len = strlen(pt->glob), .port = pt->port,
				.is_glob = strpbrk(pt->glob, "*?[") != NULL, .rule = (uint32_t)r,
			};
		}
	}
	qsort(m->entries, m->n, sizeof *m->entries, cmp_entry);
	p->names = m;
	return 0;
}

void bs_name_matcher_free(struct bs_name_matcher *m)
{
	if (!m)
		return;
	free(m->entries);
	free(m);
}

const struct bs_rule *bs_policy_match_name(const struct bs_policy *policy,
					   const char *name, uint16_t port)
{
	const struct bs_name_matcher *m = policy->names;
	if (m == NULL || name == NULL || name[0] == '\0')
		return NULL;
	size_t len = strlen(name);
	for (size_t i = 0; i < m->n; i++) {
		const struct name_entry *e = &m->entries[i];
		if (e->port != 0 && e->port != port)
			continue;
		if (e->is_glob ? bs_glob_match(e->glob, name, len)
			       : e->len == len && memcmp(e->glob, name, len) == 0)
			return &policy->rules[e->rule];
	}
	return NULL;
}
