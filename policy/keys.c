/* The table of policy keys: one description per key drives the file
 * parser, the environment, inheritance by [dest] rules and describe. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/eainames.h"
#include "policy/errnames.h"
#include "policy/load_internal.h"

#define F(type, field) offsetof(type, field), sizeof(((type *)0)->field)
#define RULE(field) F(struct bs_rule, field)
#define ACC(field) F(struct bs_accept_policy, field)
#define SLP(field) F(struct bs_sleep_policy, field)
#define GLB(field) F(struct bs_global, field)
#define WRP(field) F(struct bs_wrap, field)
#define DNS(field) F(struct bs_dns_policy, field)

static const struct bs_enum_name nonblocking_names[] = {
	{"async", BS_NB_ASYNC}, {"sync", BS_NB_SYNC}, {"pass", BS_NB_PASS}, {NULL, 0}};
static const struct bs_enum_name cap_scope_names[] = {
	{"dest", BS_SCOPE_DEST}, {"host", BS_SCOPE_HOST}, {"rule", BS_SCOPE_RULE}, {NULL, 0}};
static const struct bs_enum_name on_cap_names[] = {
	{"wait", BS_ONCAP_WAIT}, {"fail", BS_ONCAP_FAIL}, {NULL, 0}};
static const struct bs_enum_name client_scope_names[] = {
	{"host", BS_CLIENT_HOST}, {"subnet", BS_CLIENT_SUBNET}, {NULL, 0}};
static const struct bs_enum_name fd_exhaustion_names[] = {
	{"backoff", 1}, {"off", 0}, {NULL, 0}};
static const struct bs_enum_name failover_names[] = {
	{"off", BS_FAILOVER_OFF}, {"next", BS_FAILOVER_NEXT}, {NULL, 0}};
static const struct bs_enum_name dns_mode_names[] = {
	{"retry", BS_DNS_RETRY}, {"off", BS_DNS_OFF}, {NULL, 0}};
static const struct bs_enum_name share_names[] = {
	{"process", BS_SHARE_PROCESS}, {"machine", BS_SHARE_MACHINE}, {NULL, 0}};
static const struct bs_enum_name on_open_names[] = {
	{"wait", BS_ONOPEN_WAIT}, {"fail", BS_ONOPEN_FAIL}, {NULL, 0}};
static const struct bs_enum_name sleep_mode_names[] = {
	{"retry", BS_SLEEP_RETRY}, {"all", BS_SLEEP_ALL}, {"off", BS_SLEEP_OFF}, {NULL, 0}};

/* Grouped by scope, in the order describe prints them. */
static const struct bs_key keys[] = {
	{BS_SC_GLOBAL, "log", BS_K_LOG, 0, 0, 0, 0, 0, NULL, false,
	 "where log lines go: stderr, fd:N, syslog, off or /absolute/path.jsonl", "stderr"},
	{BS_SC_GLOBAL, "seed", BS_K_UINT, GLB(seed), 0, 0, UINT64_MAX, NULL, false,
	 "random seed for jitter; 0 seeds from the kernel", "0"},
	{BS_SC_GLOBAL, "state", BS_K_STATE, GLB(state_path), 0, 0, 0, NULL, false,
	 "machine-wide state file for rules with share = machine: off or /absolute/path", "off"},

	{BS_SC_RULE, "match", BS_K_PATTERNS, RULE(match), offsetof(struct bs_rule, n_match), 0, 0, NULL, true,
	 "destinations this rule applies to", NULL},
	{BS_SC_RULE, "exempt", BS_K_PATTERNS, RULE(exempt), offsetof(struct bs_rule, n_exempt), 0, 0, NULL, true,
	 "destinations exempt from max_conns (still retried)", NULL},
	{BS_SC_RULE, "passthrough", BS_K_BOOL, RULE(passthrough), 0, 0, 0, NULL, false,
	 "hand calls to libc untouched", "no"},
	{BS_SC_RULE, "attempts", BS_K_UINT, RULE(attempts), 0, 0, 1000, NULL, false,
	 "attempts per call, the first included; 0: no count limit, the deadline bounds the call", "0"},
	{BS_SC_RULE, "base", BS_K_DURATION, RULE(backoff.base), 0, 0, 0, NULL, false,
	 "delay before the first retry", "100ms"},
	{BS_SC_RULE, "factor", BS_K_FACTOR, RULE(backoff.factor), 0, 0, 0, NULL, false,
	 "growth of the delay per retry", "2"},
	{BS_SC_RULE, "max_delay", BS_K_DURATION, RULE(backoff.max_delay), 0, 0, 0, NULL, false,
	 "largest delay between attempts", "1s"},
	{BS_SC_RULE, "jitter", BS_K_JITTER, RULE(backoff.jitter), 0, 0, 0, NULL, false,
	 "none, full, equal, decorrelated or N%", "full"},
	{BS_SC_RULE, "attempt_timeout", BS_K_DURATION, RULE(attempt_timeout), 0, 0, 0, NULL, false,
	 "bound on one attempt; 0: the deadline only", "2s"},
	{BS_SC_RULE, "deadline", BS_K_DURATION, RULE(deadline), 0, 1, 0, NULL, false,
	 "bound on the whole call, sleeps included", "10s"},
	{BS_SC_RULE, "retry_on", BS_K_ERRSET, RULE(retry_on), 0, 0, 0, NULL, false,
	 "errno names that are retried", "ECONNREFUSED ETIMEDOUT EHOSTUNREACH ENETUNREACH ENOENT EAGAIN"},
	{BS_SC_RULE, "nonblocking", BS_K_ENUM, RULE(nonblocking), 0, 0, 0, nonblocking_names, false,
	 "async: retried behind the program's own poll/select/epoll; sync: retried inside connect; pass: left to the program", "async"},
	{BS_SC_RULE, "io_timeout", BS_K_DURATION, RULE(io_timeout), 0, 0, 0, NULL, false,
	 "SO_RCVTIMEO/SO_SNDTIMEO on the connected socket; 0: off", "0"},
	{BS_SC_RULE, "max_conns", BS_K_UINT, RULE(max_conns), 0, 0, 1000000, NULL, false,
	 "concurrent connections per cap_scope; 0: unlimited", "0"},
	{BS_SC_RULE, "cap_scope", BS_K_ENUM, RULE(cap_scope), 0, 0, 0, cap_scope_names, false,
	 "what max_conns counts: dest (address:port), host (address), rule", "dest"},
	{BS_SC_RULE, "on_cap", BS_K_ENUM, RULE(on_cap), 0, 0, 0, on_cap_names, false,
	 "at the cap: wait (up to cap_wait) or fail", "wait"},
	{BS_SC_RULE, "cap_wait", BS_K_DURATION, RULE(cap_wait), 0, 0, 0, NULL, false,
	 "longest wait for a slot (within the deadline)", "2s"},
	{BS_SC_RULE, "failover", BS_K_ENUM, RULE(failover), 0, 0, 0, failover_names, false,
	 "next: a retry moves on to the next address the name resolved to; off", "next"},
	{BS_SC_RULE, "share", BS_K_ENUM, RULE(share), 0, 0, 0, share_names, false,
	 "where caps, budget and breaker count: process, or machine ([global] state)", "process"},
	{BS_SC_RULE, "retry_budget", BS_K_BUDGET, RULE(retry_budget), 0, 0, 0, NULL, false,
	 "retries allowed as a share of calls in the window; off: no budget", "off"},
	{BS_SC_RULE, "retry_budget_min", BS_K_UINT, RULE(retry_budget_min), 0, 0, 1000000, NULL, false,
	 "retries per second allowed on top of the share", "10"},
	{BS_SC_RULE, "retry_budget_window", BS_K_DURATION, RULE(retry_budget_window), 0, 1, 0, NULL, false,
	 "the sliding window calls and retries are counted over", "10s"},
	{BS_SC_RULE, "breaker", BS_K_UINT, RULE(breaker), 0, 0, 1000, NULL, false,
	 "consecutive failed attempts that open the circuit; 0: off", "0"},
	{BS_SC_RULE, "breaker_cooldown", BS_K_DURATION, RULE(breaker_cooldown), 0, 1, 0, NULL, false,
	 "first open period (jittered; x2, x3 ... while probes fail)", "5s"},
	{BS_SC_RULE, "breaker_cooldown_max", BS_K_DURATION, RULE(breaker_cooldown_max), 0, 0, 0, NULL, false,
	 "longest open period, however often probes fail; 0: 10 x breaker_cooldown", "0"},
	{BS_SC_RULE, "on_open", BS_K_ENUM, RULE(on_open), 0, 0, 0, on_open_names, false,
	 "circuit open: wait (within the deadline) for the half-open probe, or fail at once", "wait"},

	{BS_SC_ACCEPT, "max_per_client", BS_K_UINT, ACC(max_per_client), 0, 0, 1000000, NULL, false,
	 "open connections per client; excess ones are closed at once; 0: unlimited", "0"},
	{BS_SC_ACCEPT, "client_scope", BS_K_ENUM, ACC(client_scope), 0, 0, 0, client_scope_names, false,
	 "host (address) or subnet (/24 IPv4, /64 IPv6)", "host"},
	{BS_SC_ACCEPT, "exempt", BS_K_PATTERNS, ACC(exempt), offsetof(struct bs_accept_policy, n_exempt), 0, 0, NULL, false,
	 "clients exempt from max_per_client", NULL},
	{BS_SC_ACCEPT, "on_fd_exhaustion", BS_K_ENUM, ACC(fd_backoff), 0, 0, 0, fd_exhaustion_names, false,
	 "EMFILE/ENFILE/ENOBUFS/ENOMEM: backoff or off", "backoff"},
	{BS_SC_ACCEPT, "base", BS_K_DURATION, ACC(backoff.base), 0, 0, 0, NULL, false,
	 "first delay after fd exhaustion", "10ms"},
	{BS_SC_ACCEPT, "factor", BS_K_FACTOR, ACC(backoff.factor), 0, 0, 0, NULL, false,
	 "growth of the delay", "2"},
	{BS_SC_ACCEPT, "max_delay", BS_K_DURATION, ACC(backoff.max_delay), 0, 0, 0, NULL, false,
	 "largest delay", "1s"},
	{BS_SC_ACCEPT, "jitter", BS_K_JITTER, ACC(backoff.jitter), 0, 0, 0, NULL, false,
	 "none, full, equal, decorrelated or N%", "full"},
	{BS_SC_ACCEPT, "retry_transient", BS_K_BOOL, ACC(retry_transient), 0, 0, 0, NULL, false,
	 "retry ECONNABORTED and other transient errors in blocking accept", "on"},
	{BS_SC_ACCEPT, "io_timeout", BS_K_DURATION, ACC(io_timeout), 0, 0, 0, NULL, false,
	 "SO_RCVTIMEO/SO_SNDTIMEO on accepted blocking sockets; 0: off", "0"},

	{BS_SC_SLEEP, "mode", BS_K_ENUM, SLP(mode), 0, 0, 0, sleep_mode_names, false,
	 "retry: sleeps after a failed connect; all; off", "retry"},
	{BS_SC_SLEEP, "jitter", BS_K_SLEEP_JITTER, SLP(jitter), 0, 0, 0, NULL, false,
	 "none or N% (mean-preserving)", "50%"},
	{BS_SC_SLEEP, "backoff", BS_K_BOOL, SLP(backoff), 0, 0, 0, NULL, false,
	 "grow a retry sleep with the failure streak", "on"},
	{BS_SC_SLEEP, "max_delay", BS_K_DURATION, SLP(max_delay), 0, 0, 0, NULL, false,
	 "largest adjusted sleep", "30s"},
	{BS_SC_SLEEP, "window", BS_K_DURATION, SLP(window), 0, 0, 0, NULL, false,
	 "how recent a failed connect makes a sleep a retry sleep", "1s"},
	{BS_SC_SLEEP, "floor", BS_K_DURATION, SLP(floor), 0, 0, 0, NULL, false,
	 "mode = all: shorter sleeps are left alone", "1ms"},

	{BS_SC_DNS, "mode", BS_K_ENUM, DNS(mode), 0, 0, 0, dns_mode_names, false,
	 "retry: transient lookup failures are retried; off", "retry"},
	{BS_SC_DNS, "retry_on", BS_K_EAISET, DNS(retry_on), 0, 0, 0, NULL, false,
	 "EAI_* lookup errors that are retried", "EAI_AGAIN"},
	{BS_SC_DNS, "attempts", BS_K_UINT, DNS(attempts), 0, 0, 1000, NULL, false,
	 "lookups per call, the first included; 0: the deadline bounds them", "0"},
	{BS_SC_DNS, "base", BS_K_DURATION, DNS(backoff.base), 0, 0, 0, NULL, false,
	 "delay before the first retry", "100ms"},
	{BS_SC_DNS, "factor", BS_K_FACTOR, DNS(backoff.factor), 0, 0, 0, NULL, false,
	 "growth of the delay per retry", "2"},
	{BS_SC_DNS, "max_delay", BS_K_DURATION, DNS(backoff.max_delay), 0, 0, 0, NULL, false,
	 "largest delay between lookups", "1s"},
	{BS_SC_DNS, "jitter", BS_K_JITTER, DNS(backoff.jitter), 0, 0, 0, NULL, false,
	 "none, full, equal, decorrelated or N%", "full"},
	{BS_SC_DNS, "deadline", BS_K_DURATION, DNS(deadline), 0, 1, 0, NULL, false,
	 "no retry starts after this long (a lookup in flight is never cut)", "5s"},
	{BS_SC_WRAP, "returns", BS_K_CTYPE, WRP(returns), 0, 0, 0, NULL, false,
	 "the C return type (required): int unsigned long size_t ... pointer double void", NULL},
	{BS_SC_WRAP, "args", BS_K_CTYPES, WRP(args), offsetof(struct bs_wrap, n_args), 0, 0, NULL, false,
	 "the C parameter types, in order; empty or void: none", NULL},
	{BS_SC_WRAP, "retry_if", BS_K_RETRY_IF, WRP(retry_if), 0, 0, 0, NULL, false,
	 "when a return is a transient failure (required): return OP VALUES [and errno in NAMES]", NULL},
	{BS_SC_WRAP, "library", BS_K_STRING, WRP(library), 0, 0, 0, NULL, false,
	 "only this object's definition (soname, file name or path); empty: the first loaded one", NULL},
	{BS_SC_WRAP, "attempts", BS_K_UINT, WRP(attempts), 0, 0, 1000, NULL, false,
	 "calls per program call, the first included; 0: the deadline bounds them", "10"},
	{BS_SC_WRAP, "base", BS_K_DURATION, WRP(backoff.base), 0, 0, 0, NULL, false,
	 "delay before the first retry", "10ms"},
	{BS_SC_WRAP, "factor", BS_K_FACTOR, WRP(backoff.factor), 0, 0, 0, NULL, false,
	 "growth of the delay per retry", "2"},
	{BS_SC_WRAP, "max_delay", BS_K_DURATION, WRP(backoff.max_delay), 0, 0, 0, NULL, false,
	 "largest delay between calls", "1s"},
	{BS_SC_WRAP, "jitter", BS_K_JITTER, WRP(backoff.jitter), 0, 0, 0, NULL, false,
	 "none, full, equal, decorrelated or N%", "full"},
	{BS_SC_WRAP, "deadline", BS_K_DURATION, WRP(deadline), 0, 1, 0, NULL, false,
	 "bound on the whole call, pauses included", "5s"},
};

#define N_KEYS (sizeof keys / sizeof keys[0])

const struct bs_key *bs_scope_keys(enum bs_scope scope, size_t *n)
{
	size_t first = 0;
	while (first < N_KEYS && keys[first].scope != scope)
		first++;
	size_t end = first;
	while (end < N_KEYS && keys[end].scope == scope)
		end++;
	*n = end - first;
	return keys + first;
}

const char *bs_scope_name(enum bs_scope scope)
{
	static const char *const names[] = {
		[BS_SC_GLOBAL] = "global", [BS_SC_RULE] = "connect", [BS_SC_ACCEPT] = "accept",
		[BS_SC_SLEEP] = "sleep", [BS_SC_DNS] = "dns", [BS_SC_WRAP] = "wrap"};
	return names[scope];
}

void bs_section_text(const struct bs_policy *p, enum bs_scope scope, size_t r,
		     char *buf, size_t cap)
{
	if (scope == BS_SC_WRAP)
		snprintf(buf, cap, "[wrap \"%s\"]", p->wraps[r].symbol);
	else if (scope == BS_SC_RULE && r > 0)
		snprintf(buf, cap, "[dest \"%s\"]", p->rules[r].name);
	else
		snprintf(buf, cap, "[%s]", bs_scope_name(scope));
}

const struct bs_key *bs_key_find(enum bs_scope scope, const char *name,
				 bool in_dest)
{
	size_t n;
	const struct bs_key *k = bs_scope_keys(scope, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(k[i].name, name) == 0 && (in_dest || !k[i].dest_only))
			return &k[i];
	return NULL;
}

const char *bs_key_suggest(enum bs_scope scope, const char *name, bool in_dest)
{
	size_t n, m = 0;
	const struct bs_key *k = bs_scope_keys(scope, &n);
	const char *names[BS_SCOPE_KEYS_MAX];
	for (size_t i = 0; i < n; i++)
		if (in_dest || !k[i].dest_only)
			names[m++] = k[i].name;
	return bs_closest(name, names, m);
}

static size_t key_slot(const struct bs_key *k)
{
	size_t n;
	return (size_t)(k - bs_scope_keys(k->scope, &n));
}

uint32_t *bs_origin_slot(struct bs_policy *p, const struct bs_key *k, size_t r)
{
	if (k->scope == BS_SC_RULE && r > 0)
		return &p->origins->rule_keys[r * BS_SCOPE_KEYS_MAX + key_slot(k)];
	if (k->scope == BS_SC_WRAP && r > 0)
		return &p->origins->wrap_keys[r * BS_SCOPE_KEYS_MAX + key_slot(k)];
	return &p->origins->scope[k->scope][key_slot(k)];
}

uint32_t bs_origin_get(const struct bs_policy *p, const struct bs_key *k, size_t r)
{
	return *bs_origin_slot((struct bs_policy *)p, k, r);
}

void *bs_key_target(struct bs_policy *p, enum bs_scope scope, size_t r)
{
	switch (scope) {
	case BS_SC_GLOBAL:
		return &p->global;
	case BS_SC_RULE:
		return &p->rules[r];
	case BS_SC_ACCEPT:
		return &p->accept;
	case BS_SC_WRAP:
		return &p->wraps[r];
	case BS_SC_DNS:
		return &p->dns;
	default:
		return &p->sleep;
	}
}

static int set_enum(const struct bs_key *k, void *field, const char *value,
		    char *why, size_t cap)
{
	char allowed[128] = "", q[80];
	for (const struct bs_enum_name *e = k->enums; e->name; e++) {
		if (strcmp(e->name, value) == 0) {
			if (k->size == sizeof(bool))
				*(bool *)field = e->value != 0;
			else
				*(int *)field = e->value;
			return 0;
		}
		size_t len = strlen(allowed);
		snprintf(allowed + len, sizeof allowed - len, "%s%s",
			 len ? (e[1].name ? ", " : " or ") : "", e->name);
	}
	bs_quote(q, sizeof q, value);
	snprintf(why, cap, "bad value '%s' (use %s)", q, allowed);
	return -1;
}

/* An exempt list is checked against addresses only (caps, clients): a
 * host name there is refused, and the patterns just added dropped. */
static int names_only_in_match(const struct bs_key *k, struct bs_pattern *list,
			       size_t before, size_t *n, char *why, size_t cap)
{
	if (strcmp(k->name, "match") == 0)
		return 0;
	for (size_t i = before; i < *n; i++) {
		if (list[i].family != BS_PATTERN_NAME)
			continue;
		char q[80];
		bs_quote(q, sizeof q, list[i].glob);
		snprintf(why, cap, "host name '%s' in %s: names are only matched by 'match' "
			 "(use addresses here, e.g. 10.1.0.0/16)", q, k->name);
		for (size_t j = before; j < *n; j++)
			free(list[j].glob);
		*n = before;
		return -1;
	}
	return 0;
}

/* Parse value into the field of key k at base; the field is only changed
 * when the whole value is good. */
static int parse_into(const struct bs_key *k, char *base, const char *value,
		      bool extend, char *why, size_t cap)
{
	char *field = base + k->off;
	uint64_t u;
	switch (k->type) {
	case BS_K_DURATION: {
		bs_ns d;
		if (bs_parse_duration(value, &d, why, cap) != 0)
			return -1;
		if (d < k->min) {
			snprintf(why, cap, "must be greater than 0");
			return -1;
		}
		*(bs_ns *)field = d;
		return 0;
	}
	case BS_K_UINT:
		if (bs_parse_uint(value, k->min, k->max, &u, why, cap) != 0)
			return -1;
		if (k->size == sizeof(uint64_t))
			*(uint64_t *)field = u;
		else
			*(uint32_t *)field = (uint32_t)u;
		return 0;
	case BS_K_FACTOR:
		return bs_parse_factor(value, (double *)field, why, cap);
	case BS_K_BOOL:
		return bs_parse_bool(value, (bool *)field, why, cap);
	case BS_K_ENUM:
		return set_enum(k, field, value, why, cap);
	case BS_K_JITTER:
	case BS_K_SLEEP_JITTER:
		return bs_parse_jitter(value, k->type == BS_K_SLEEP_JITTER,
				       (struct bs_jitter *)field, why, cap);
	case BS_K_ERRSET: {
		struct bs_errset set = extend ? *(struct bs_errset *)field
					      : (struct bs_errset){{0}};
		if (bs_parse_errnames(value, &set, why, cap) != 0)
			return -1;
		*(struct bs_errset *)field = set;
		return 0;
	}
	case BS_K_PATTERNS: {
		struct bs_pattern **list = (struct bs_pattern **)field;
		size_t *n = (size_t *)(base + k->count_off);
		if (!extend) {
			bs_patterns_free(*list, *n);
			*list = NULL;
			*n = 0;
		}
		size_t before = *n;
		if (bs_parse_patterns(value, list, n, why, cap) != 0)
			return -1;
		return names_only_in_match(k, *list, before, n, why, cap);
	}
	case BS_K_LOG:
		return bs_parse_log(value, (struct bs_global *)base, why, cap);
	case BS_K_CTYPE:
	case BS_K_CTYPES:
	case BS_K_RETRY_IF:
	case BS_K_STRING:
		return bs_wrap_parse_value(k, base, value, why, cap);
	case BS_K_EAISET:
		return bs_parse_eainames(value, (bs_eaiset *)field, why, cap);
	case BS_K_BUDGET:
		return bs_parse_budget(value, (uint32_t *)field, why, cap);
	case BS_K_STATE:
		return bs_parse_state_path(value, (char **)field, why, cap);
	}
	return -1;
}

int bs_key_set(struct bs_policy *p, const struct bs_key *k, size_t r,
	       const char *value, bool extend, uint32_t origin, char *why,
	       size_t cap)
{
	if (parse_into(k, bs_key_target(p, k->scope, r), value, extend, why, cap) != 0)
		return -1;
	*bs_origin_slot(p, k, r) = origin;
	return 0;
}

static void format_errset(const struct bs_errset *set, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int e = 1; e < BS_ERRNO_MAX && o < cap; e++) {
		if (!bs_errset_has(set, e))
			continue;
		const char *name = bs_errno_name(e);
		if (name)
			o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? " " : "", name);
		else
			o += (size_t)snprintf(buf + o, cap - o, "%s%d", o ? " " : "", e);
	}
}

static void format_patterns(const struct bs_pattern *list, size_t n, char *buf,
			    size_t cap)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		if (o)
			buf[o++] = ' ';
		bs_format_pattern(buf + o, cap - o, &list[i]);
		o += strlen(buf + o);
	}
}

void bs_key_format(const struct bs_policy *p, const struct bs_key *k, size_t r,
		   char *buf, size_t cap)
{
	const char *base = bs_key_target((struct bs_policy *)p, k->scope, r);
	const char *field = base + k->off;
	switch (k->type) {
	case BS_K_DURATION:
		bs_format_duration(buf, cap, *(const bs_ns *)field);
		return;
	case BS_K_UINT:
		snprintf(buf, cap, "%llu", k->size == sizeof(uint64_t)
				   ? (unsigned long long)*(const uint64_t *)field
				   : (unsigned long long)*(const uint32_t *)field);
		return;
	case BS_K_FACTOR:
		snprintf(buf, cap, "%g", *(const double *)field);
		return;
	case BS_K_BOOL:
		snprintf(buf, cap, "%s", *(const bool *)field ? "yes" : "no");
		return;
	case BS_K_ENUM: {
		int v = k->size == sizeof(bool) ? *(const bool *)field : *(const int *)field;
		for (const struct bs_enum_name *e = k->enums; e->name; e++)
			if (e->value == v)
				snprintf(buf, cap, "%s", e->name);
		return;
	}
	case BS_K_JITTER:
	case BS_K_SLEEP_JITTER:
		bs_format_jitter(buf, cap, (const struct bs_jitter *)field);
		return;
	case BS_K_ERRSET:
		format_errset((const struct bs_errset *)field, buf, cap);
		return;
	case BS_K_PATTERNS:
		format_patterns(*(struct bs_pattern *const *)field,
				*(const size_t *)(base + k->count_off), buf, cap);
		return;
	case BS_K_BUDGET:
		bs_format_budget(buf, cap, *(const uint32_t *)field);
		return;
	case BS_K_STATE:
		snprintf(buf, cap, "%s", *(char *const *)field ? *(char *const *)field : "off");
		return;
	case BS_K_LOG: {
		const struct bs_global *g = (const struct bs_global *)base;
		static const char *const kinds[] = {
			[BS_LOG_STDERR] = "stderr", [BS_LOG_SYSLOG] = "syslog", [BS_LOG_OFF] = "off"};
		if (g->log_kind == BS_LOG_FD)
			snprintf(buf, cap, "fd:%d", g->log_fd);
		else if (g->log_kind == BS_LOG_FILE)
			snprintf(buf, cap, "%s", g->log_path);
		else
			snprintf(buf, cap, "%s", kinds[g->log_kind]);
		return;
	}
	case BS_K_CTYPE:
	case BS_K_CTYPES:
	case BS_K_RETRY_IF:
	case BS_K_STRING:
		bs_wrap_format_value(k, base, buf, cap);
		return;
	case BS_K_EAISET:
		bs_format_eaiset(buf, cap, *(const bs_eaiset *)field);
		return;
	}
}
