/* The table of budgets and breakers (see guardtab.h). */
#include "engine/guardtab.h"

#include <string.h>

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (h ^ 0xff) * 1099511628211ull; /* the end of a string counts */
}

#define FNV_BASIS 14695981039346656037ull

/* Find key in n entries of `stride` bytes whose first member is the key,
 * claiming a free one on the way; NULL when all are taken by others.
 * *claimed tells the caller to fill in the names. */
static void *find(void *entries, size_t n, size_t stride, uint64_t key, bool *claimed)
{
	*claimed = false;
	for (size_t i = 0; i < n; i++) {
		char *e = (char *)entries + ((key + i) % n) * stride;
		_Atomic uint64_t *k = (_Atomic uint64_t *)e;
		uint64_t seen = atomic_load(k);
		if (seen == 0 && atomic_compare_exchange_strong(k, &seen, key)) {
			*claimed = true;
			return e;
		}
		if (seen == key)
			return e;
	}
	return NULL;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

struct bs_budget *bs_guard_table_budget(struct bs_guard_table *t, const char *rule)
{
	uint64_t key = fnv1a(FNV_BASIS, rule) | 1; /* never 0 */
	bool claimed;
	struct bs_guard_budget_entry *e =
		find(t->budgets, BS_GUARD_BUDGETS, sizeof *e, key, &claimed);
	if (e == NULL)
		return NULL;
	if (claimed)
		copy_name(e->rule, sizeof e->rule, rule);
	return &e->budget;
}

struct bs_breaker *bs_guard_table_breaker(struct bs_guard_table *t, const char *rule,
					  const char *dest)
{
	uint64_t key = fnv1a(fnv1a(FNV_BASIS, rule), dest) | 1;
	bool claimed;
	struct bs_guard_breaker_entry *e =
		find(t->breakers, BS_GUARD_BREAKERS, sizeof *e, key, &claimed);
	if (e == NULL)
		return NULL;
	if (claimed) {
		copy_name(e->rule, sizeof e->rule, rule);
		copy_name(e->dest, sizeof e->dest, dest);
	}
	return &e->breaker;
}

static void identify(struct bs_logline *line, const void *ctx)
{
	const struct bs_guard_names *n = ctx;
	bs_line_str(line, "dest", n->dest);
	bs_line_str(line, "rule", n->rule);
}

const struct bs_guard *bs_guard_for(struct bs_guard *g, struct bs_guard_names *names,
				    struct bs_guard_table *t, const struct bs_rule *rule,
				    const char *dest, const char *share)
{
	if (t == NULL || !bs_rule_guarded(rule))
		return NULL;
	names->dest = dest;
	names->rule = rule->name;
	*g = (struct bs_guard){
		.budget_params = { .percent = rule->retry_budget,
				   .min_per_sec = rule->retry_budget_min,
				   .window = rule->retry_budget_window },
		.breaker_params = { .threshold = rule->breaker,
				    .cooldown = rule->breaker_cooldown,
				    .cooldown_max = rule->breaker_cooldown_max },
		.hold = rule->on_open == BS_ONOPEN_WAIT,
		.share = share,
		.identify = identify,
		.ctx = names,
	};
	if (rule->retry_budget != BS_BUDGET_OFF)
		g->budget = bs_guard_table_budget(t, rule->name);
	if (rule->breaker > 0)
		g->breaker = bs_guard_table_breaker(t, rule->name, dest);
	return g->budget != NULL || g->breaker != NULL ? g : NULL;
}
