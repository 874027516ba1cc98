/* The policy object: created with every key at the default written in the
 * key table (keys.c), so the defaults, describe and docs/policy.md share
 * one source; grown one rule at a time by the parser and the environment;
 * freed. Loading it (defaults, file, environment, checks) is load.c. */
#include <stdlib.h>
#include <string.h>

#include "policy/load_internal.h"

#define INITIAL_RULES 4

long bs_policy_add_rule(struct bs_policy *p, const char *name, uint32_t line)
{
	struct bs_origin_table *o = p->origins;
	if (p->n_rules == o->cap) {
		size_t cap = o->cap * 2;
		struct bs_rule *rules = realloc(p->rules, cap * sizeof *rules);
		if (!rules)
			return -1;
		p->rules = rules;
		uint32_t *keys = realloc(o->rule_keys, cap * BS_SCOPE_KEYS_MAX * sizeof *keys);
		if (!keys)
			return -1;
		o->rule_keys = keys;
		uint32_t *lines = realloc(o->rule_line, cap * sizeof *lines);
		if (!lines)
			return -1;
		o->rule_line = lines;
		o->cap = cap;
	}
	size_t r = p->n_rules++;
	memset(&p->rules[r], 0, sizeof p->rules[r]);
	strncpy(p->rules[r].name, name, BS_NAME_MAX - 1);
	p->rules[r].index = (uint32_t)r;
	memset(&o->rule_keys[r * BS_SCOPE_KEYS_MAX], 0, BS_SCOPE_KEYS_MAX * sizeof *o->rule_keys);
	o->rule_line[r] = line;
	return (long)r;
}

/* Every default is a literal in keys.c that the parser accepts; a failure
 * here is a bug in that table, caught by the unit tests. */
static int apply_defaults(struct bs_policy *p)
{
	char why[BS_WHY_MAX];
	for (int s = 0; s < BS_SC_COUNT; s++) {
		size_t n;
		const struct bs_key *k = bs_scope_keys((enum bs_scope)s, &n);
		for (size_t i = 0; i < n; i++)
			if (k[i].def && bs_key_set(p, &k[i], 0, k[i].def, false,
						   BS_ORIGIN_DEFAULT, why, sizeof why) != 0)
				return -1;
	}
	return 0;
}

struct bs_policy *bs_policy_new_default(void)
{
	struct bs_policy *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->origins = calloc(1, sizeof *p->origins);
	if (p->origins) {
		p->origins->cap = INITIAL_RULES;
		p->rules = calloc(INITIAL_RULES, sizeof *p->rules);
		p->origins->rule_keys = calloc(INITIAL_RULES * BS_SCOPE_KEYS_MAX, sizeof(uint32_t));
		p->origins->rule_line = calloc(INITIAL_RULES, sizeof(uint32_t));
	}
	if (!p->origins || !p->rules || !p->origins->rule_keys || !p->origins->rule_line) {
		bs_policy_free(p);
		return NULL;
	}
	p->global.log_fd = -1;
	bs_policy_add_rule(p, "connect", 0);
	if (bs_policy_add_wrap(p, "", 0) < 0 || apply_defaults(p) != 0) {
		bs_policy_free(p);
		return NULL;
	}
	return p;
}

void bs_policy_free(struct bs_policy *p)
{
	if (!p)
		return;
	for (size_t r = 0; r < p->n_rules; r++) {
		bs_patterns_free(p->rules[r].match, p->rules[r].n_match);
		bs_patterns_free(p->rules[r].exempt, p->rules[r].n_exempt);
	}
	free(p->rules);
	free(p->wraps);
	bs_patterns_free(p->accept.exempt, p->accept.n_exempt);
	free(p->global.log_path);
	free(p->global.state_path);
	free(p->source);
	bs_matcher_free(p->matcher);
	bs_name_matcher_free(p->names);
	if (p->origins) {
		free(p->origins->file);
		free(p->origins->rule_keys);
		free(p->origins->rule_line);
		free(p->origins->wrap_keys);
		free(p->origins->wrap_line);
		free(p->origins);
	}
	free(p);
}
